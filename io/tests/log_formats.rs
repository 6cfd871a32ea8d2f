//! A second log format plugs in with one registry line: a toy layout (a rig
//! file and a folder of JPEGs per camera) read through `LogReader`, picked by
//! the registry, replayed with every frame accounted for.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use heptaview_calibration::{EgoPoses, Rig};
use heptaview_datasets::av2::{Av2Log, GroundTruth};
use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_datasets::{DatasetError, FrameError, LogFormat, LogReader, LogRegistry};
use heptaview_io::replay::{ReplayOptions, replay};
use heptaview_perception::config::PipelineConfig;
use heptaview_runtime::threads::Control;

/// `rig.toml` and `frames/<camera>/<timestamp_ns>.jpg`: no poses, no truth.
struct ToyFormat;

struct ToyLog {
    root: PathBuf,
    rig: Rig,
    frames: BTreeMap<String, Vec<u64>>,
}

impl LogFormat for ToyFormat {
    fn name(&self) -> &'static str {
        "toy"
    }

    fn recognises(&self, root: &Path) -> bool {
        root.join("rig.toml").is_file() && root.join("frames").is_dir()
    }

    fn open(
        &self,
        root: &Path,
        _: &heptaview_datasets::OpenOptions,
    ) -> Result<Box<dyn LogReader>, DatasetError> {
        let rig =
            Rig::load(&root.join("rig.toml")).map_err(|source| DatasetError::Calibration {
                path: root.join("rig.toml"),
                source,
            })?;
        let mut frames = BTreeMap::new();
        for name in rig.camera_names() {
            let mut times: Vec<u64> = std::fs::read_dir(root.join("frames").join(name))
                .unwrap()
                .map(|e| {
                    let file = e.unwrap().file_name().into_string().unwrap();
                    file.trim_end_matches(".jpg").parse().unwrap()
                })
                .collect();
            times.sort_unstable();
            frames.insert(name.to_owned(), times);
        }
        Ok(Box::new(ToyLog {
            root: root.to_path_buf(),
            rig,
            frames,
        }))
    }
}

impl LogReader for ToyLog {
    fn format(&self) -> &'static str {
        "toy"
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn rig(&self) -> &Rig {
        &self.rig
    }

    fn timestamps_ns(&self, camera: &str) -> Result<&[u64], DatasetError> {
        self.frames
            .get(camera)
            .map(Vec::as_slice)
            .ok_or_else(|| DatasetError::MissingCamera {
                path: self.root.clone(),
                camera: camera.to_owned(),
            })
    }

    fn read_image(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        let path = self
            .root
            .join("frames")
            .join(camera)
            .join(format!("{timestamp_ns}.jpg"));
        std::fs::read(&path).map_err(|source| FrameError::Read { path, source })
    }

    fn ego_poses(&self) -> Option<&EgoPoses> {
        None
    }

    fn ground_truth(&self) -> Option<GroundTruth> {
        None
    }
}

/// A toy log made of a generated drive's images and rig.
fn toy_log(dir: &Path) -> PathBuf {
    let drive = dir.join("drive");
    let options = GenerateOptions {
        width_px: 256,
        seconds: Some(0.5),
        ..GenerateOptions::new("clear_road", &drive)
    };
    generate(options, &mut |_, _| {}).unwrap();
    let av2 = Av2Log::open(&drive).unwrap();
    let toy = dir.join("toy");
    std::fs::create_dir_all(&toy).unwrap();
    av2.rig().save(&toy.join("rig.toml")).unwrap();
    for camera in av2.cameras() {
        let folder = toy.join("frames").join(camera.name());
        std::fs::create_dir_all(&folder).unwrap();
        for &t in camera.timestamps_ns() {
            std::fs::write(
                folder.join(format!("{t}.jpg")),
                av2.read_jpeg(camera.name(), t).unwrap(),
            )
            .unwrap();
        }
    }
    toy
}

#[test]
fn a_second_format_plugs_in_with_one_registry_line_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let toy = toy_log(dir.path());

    // The built-in formats do not know it (read as AV2: no camera folders).
    assert!(LogRegistry::builtin().open(&toy).is_err());
    let registry = LogRegistry::builtin().with(ToyFormat);
    // Asked after the built-in ones, AV2 (the fallback) last among those.
    let names = registry.format_names();
    assert_eq!(names.first(), Some(&"generated"));
    assert_eq!(names[names.len() - 2..], ["av2", "toy"]);
    let log: Arc<dyn LogReader> = Arc::from(registry.open(&toy).unwrap());
    assert_eq!(log.format(), "toy");
    // The generated drive it came from is still read as what it is.
    assert_eq!(
        registry.open(&dir.path().join("drive")).unwrap().format(),
        "generated"
    );

    let mut config = PipelineConfig::default();
    config.session.intra_threads = 1;
    let report = replay(
        log,
        &ReplayOptions::whole_log(config),
        Arc::new(Control::default()),
        &mut |_, _| {},
    )
    .unwrap();
    let frames = &report.frames;
    assert_eq!(frames.input, 35, "5 instants of 7 cameras");
    assert_eq!(
        frames.input,
        frames.processed + frames.skipped_keyframe + frames.dropped.values().sum::<u64>()
    );
    assert_eq!(report.framesets.complete, 5, "{:?}", report.framesets);
}
