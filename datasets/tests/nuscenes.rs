//! The nuScenes reader on real files: a generated drive converted to the
//! nuScenes layout by scripts/write_nuscenes_log.py, read through the log
//! registry, and its boxes projected into every camera key frame compared
//! with the official nuscenes-devkit (scripts/check_nuscenes.py).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use heptaview_calibration::{Rig, TriggerTiming};
use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_datasets::{DatasetError, LogRegistry, OpenOptions, open_log, open_log_with};
use nalgebra::Isometry3;
use serde_json::{Value, json};

use common::{copy_dir, python};

const SCENE: &str = "scene-0042";
const VEHICLE: &str = "n042";
const CAMERAS: [&str; 6] = [
    "CAM_FRONT",
    "CAM_FRONT_LEFT",
    "CAM_FRONT_RIGHT",
    "CAM_BACK_LEFT",
    "CAM_BACK_RIGHT",
    "CAM_BACK",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A drive generated through the shipped nuScenes rig and its conversion,
/// made once for all tests of this file (they only read it or copy it).
struct Dataset {
    _dir: tempfile::TempDir,
    drive: PathBuf,
    root: PathBuf,
}

fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let drive = dir.path().join("drive");
        // Cameras exposed up to 40 ms from the lidar sweep that annotations
        // are made at, as on a nuScenes car (each camera fires as the lidar
        // passes it): ground truth must be moved to each image's own ego pose.
        let timing =
            TriggerTiming::from_ms(100.0, &[0.0, -12.0, 12.0, -30.0, 30.0, -40.0]).unwrap();
        let rig = Rig::load(&repo().join("calibration/rigs/nuscenes.toml"))
            .unwrap()
            .with_timing(timing)
            .unwrap();
        let options = GenerateOptions {
            width_px: 320,
            seconds: Some(3.0),
            seed: 7,
            fps: 10.0,
            rig: Some(rig),
            ..GenerateOptions::new("urban_mixed", &drive)
        };
        generate(options, &mut |_, _| {}).unwrap();
        let root = dir.path().join("nuscenes");
        let output = convert(&drive, &root);
        assert!(
            output.status.success(),
            "write_nuscenes_log.py failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Dataset {
            _dir: dir,
            drive,
            root,
        }
    })
}

fn convert(drive: &Path, root: &Path) -> std::process::Output {
    Command::new(python())
        .arg(repo().join("scripts/write_nuscenes_log.py"))
        .arg(drive)
        .arg(root)
        .args(["--scene-name", SCENE, "--vehicle", VEHICLE])
        .output()
        .unwrap()
}

fn scene(name: &str) -> OpenOptions {
    OpenOptions {
        scene: Some(name.to_owned()),
        ..OpenOptions::default()
    }
}

fn open_error(root: &Path, options: &OpenOptions) -> String {
    match open_log_with(root, options) {
        Ok(_) => panic!("{} opened", root.display()),
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message += &format!(": {cause}");
                source = cause.source();
            }
            message
        }
    }
}

fn assert_isometry_eq(a: &Isometry3<f64>, b: &Isometry3<f64>, what: &str) {
    let translation = (a.translation.vector - b.translation.vector).norm();
    let rotation = a.rotation.angle_to(&b.rotation);
    assert!(
        translation < 1e-9 && rotation < 1e-9,
        "{what}: {a:?} vs {b:?}"
    );
}

#[test]
fn reads_the_scene_with_the_source_rig_frames_and_poses() {
    let data = dataset();
    let log = open_log_with(&data.root, &scene(SCENE)).unwrap();
    let source = open_log(&data.drive).unwrap();
    assert_eq!(log.format(), "nuscenes");
    assert_eq!(log.camera_names(), CAMERAS);
    assert_eq!(log.rig().name(), VEHICLE);
    assert!(log.rig().timing().is_none());

    for camera in CAMERAS {
        let ours = log.rig().camera(camera).unwrap();
        let theirs = source.rig().camera(camera).unwrap();
        let (a, b) = (ours.model().intrinsics(), theirs.model().intrinsics());
        assert_eq!((a.width_px, a.height_px), (b.width_px, b.height_px));
        for (x, y) in [
            (a.fx_px, b.fx_px),
            (a.fy_px, b.fy_px),
            (a.cx_px, b.cx_px),
            (a.cy_px, b.cy_px),
        ] {
            assert!((x - y).abs() < 1e-9, "{camera}: {a:?} vs {b:?}");
        }
        assert!(
            ours.model().lens().is_none(),
            "{camera}: nuScenes has no distortion"
        );
        assert_isometry_eq(ours.ego_from_camera(), theirs.ego_from_camera(), camera);

        // Every image, key frame or sweep, at its time in whole microseconds
        // (nuScenes' resolution), with the source's bytes and ego pose.
        let source_times = source.timestamps_ns(camera).unwrap();
        let expected: Vec<u64> = source_times.iter().map(|t| t / 1000 * 1000).collect();
        assert_eq!(log.timestamps_ns(camera).unwrap(), expected, "{camera}");
        let poses = log.ego_poses().unwrap();
        for (&t, &t_source) in expected.iter().zip(source_times) {
            assert_eq!(
                log.read_image(camera, t).unwrap(),
                source.read_image(camera, t_source).unwrap()
            );
            let pose = poses.exact(t).unwrap();
            let source_pose = source.ego_poses().unwrap().exact(t_source).unwrap();
            assert_isometry_eq(&pose, &source_pose, &format!("{camera} pose at {t}"));
        }
    }
    // 3 s at 10 fps, key frames at 2 Hz: six samples, each with one key frame
    // per camera; the rest are sweeps.
    let key_frames = std::fs::read_dir(data.root.join("samples/CAM_FRONT"))
        .unwrap()
        .count();
    let sweeps = std::fs::read_dir(data.root.join("sweeps/CAM_FRONT"))
        .unwrap()
        .count();
    assert_eq!((key_frames, sweeps), (6, 24));
    assert_eq!(log.timestamps_ns("CAM_FRONT").unwrap().len(), 30);
    assert!(log.read_image("CAM_FRONT", 1).is_err());
    assert!(log.timestamps_ns("ring_front_center").is_err());
}

#[test]
fn ground_truth_projects_as_the_nuscenes_devkit_does() {
    let data = dataset();
    let log = open_log_with(&data.root, &scene(SCENE)).unwrap();
    let truth = log.ground_truth().unwrap();
    let rig = log.rig();
    let out = tempfile::tempdir().unwrap();
    let projections = out.path().join("projections.jsonl");
    let mut file = std::fs::File::create(&projections).unwrap();
    let mut images_with_truth = 0;
    for camera in rig.cameras() {
        let camera_from_ego = camera.ego_from_camera().inverse();
        for &t in log.timestamps_ns(camera.name()).unwrap() {
            // Sweeps more than 55 ms from a sample get none; the check
            // compares key frames only.
            let Some(cuboids) = truth.at(t) else { continue };
            images_with_truth += 1;
            let boxes: Vec<Value> = cuboids
                .iter()
                .map(|cuboid| {
                    let in_camera: Vec<_> = cuboid
                        .corners_ego()
                        .iter()
                        .map(|corner| camera_from_ego * corner)
                        .collect();
                    json!({
                        "instance": cuboid.track_uuid,
                        "category": cuboid.category,
                        "corners_cam_m": in_camera.iter().map(|p| [p.x, p.y, p.z]).collect::<Vec<_>>(),
                        "corners_px": in_camera
                            .iter()
                            .map(|p| camera.model().project(p).map(|px| [px.x, px.y]))
                            .collect::<Vec<_>>(),
                    })
                })
                .collect();
            let line = json!({"camera": camera.name(), "timestamp_ns": t, "boxes": boxes});
            writeln!(file, "{line}").unwrap();
        }
    }
    drop(file);
    // At least every camera's key frame of each of the six samples.
    assert!(images_with_truth >= 36, "{images_with_truth}");

    let output = Command::new(python())
        .arg(repo().join("scripts/check_nuscenes.py"))
        .arg(&data.root)
        .args(["--version", "v1.0-mini", "--scene", SCENE, "--projections"])
        .arg(&projections)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}");
    assert!(
        output.status.success(),
        "check_nuscenes.py failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("36 camera key frames"), "{report}");
}

#[test]
fn ground_truth_is_in_the_ego_frame_of_the_sample_with_nuscenes_categories() {
    let data = dataset();
    let log = open_log_with(&data.root, &OpenOptions::default()).unwrap();
    let source = open_log(&data.drive).unwrap();
    let ours = log.ground_truth().unwrap();
    let theirs = source.ground_truth().unwrap();
    let samples: Vec<u64> = ours.annotations().timestamps_ns().collect();
    assert_eq!(samples.len(), 6);
    let source_samples: Vec<u64> = theirs.annotations().timestamps_ns().collect();
    for t in samples {
        let ours = ours.at(t).unwrap();
        // The source annotates at the sample's exact nanosecond.
        let t_source = *source_samples
            .iter()
            .find(|s| *s / 1000 * 1000 == t)
            .unwrap();
        let theirs = theirs.at(t_source).unwrap();
        assert!(!ours.is_empty());
        assert_eq!(ours.len(), theirs.len(), "at {t}");
        for cuboid in &ours {
            assert!(
                ["vehicle.", "human.pedestrian."]
                    .iter()
                    .any(|p| cuboid.category.starts_with(p)),
                "{}",
                cuboid.category
            );
            // The same object: same size, same pose in the ego frame.
            let twin = theirs
                .iter()
                .find(|c| {
                    (c.length_m - cuboid.length_m).abs() < 1e-9
                        && (c.width_m - cuboid.width_m).abs() < 1e-9
                        && (c.height_m - cuboid.height_m).abs() < 1e-9
                        && (c.ego_from_object.translation.vector
                            - cuboid.ego_from_object.translation.vector)
                            .norm()
                            < 1e-6
                })
                .unwrap_or_else(|| panic!("no source cuboid like {cuboid:?}"));
            assert!(
                twin.ego_from_object
                    .rotation
                    .angle_to(&cuboid.ego_from_object.rotation)
                    < 1e-6
            );
            assert_eq!(twin.num_interior_pts, cuboid.num_interior_pts);
        }
    }
}

#[test]
fn a_missing_or_broken_table_is_named() {
    let data = dataset();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nuscenes");
    copy_dir(&data.root, &root);
    let tables = root.join("v1.0-mini");

    std::fs::remove_file(tables.join("sample_data.json")).unwrap();
    let error = open_error(&root, &scene(SCENE));
    assert!(error.contains("sample_data.json"), "{error}");
    assert!(error.contains("missing"), "{error}");

    std::fs::write(tables.join("sample_data.json"), "[{\"token\": ").unwrap();
    let error = open_error(&root, &scene(SCENE));
    assert!(
        error.contains("sample_data.json is not valid JSON"),
        "{error}"
    );

    std::fs::write(tables.join("sample_data.json"), "[{\"token\": \"a\"}]").unwrap();
    let error = open_error(&root, &scene(SCENE));
    assert!(
        error.contains("sample_data.json is not valid JSON"),
        "{error}"
    );
    assert!(error.contains("missing field"), "{error}");
}

#[test]
fn an_unknown_scene_names_the_scenes() {
    let data = dataset();
    let error = open_error(&data.root, &scene("scene-9999"));
    assert!(error.contains("scene-9999"), "{error}");
    assert!(error.contains(SCENE), "{error}");
    assert!(error.contains("scene.json"), "{error}");
}

#[test]
fn the_version_folder_itself_points_at_its_parent() {
    let data = dataset();
    let error = open_error(&data.root.join("v1.0-mini"), &OpenOptions::default());
    assert!(error.contains("dataset root"), "{error}");
    assert!(error.contains(&data.root.display().to_string()), "{error}");
}

/// Rewrites one table of a copy of the dataset.
fn edit_table(root: &Path, table: &str, edit: impl FnOnce(&mut Vec<Value>)) {
    let path = root.join("v1.0-mini").join(format!("{table}.json"));
    let mut records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut records);
    std::fs::write(&path, serde_json::to_string(&records).unwrap()).unwrap();
}

fn copy_of_dataset(dir: &Path) -> PathBuf {
    let root = dir.join("nuscenes");
    copy_dir(&dataset().root, &root);
    root
}

fn front_camera_frames(root: &Path) -> Vec<Value> {
    let path = root.join("v1.0-mini/sample_data.json");
    let records: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut front: Vec<Value> = records
        .into_iter()
        .filter(|r| r["filename"].as_str().unwrap().contains("/CAM_FRONT/"))
        .collect();
    front.sort_by_key(|r| r["timestamp"].as_u64().unwrap());
    front
}

#[test]
fn a_camera_whose_calibration_changes_within_the_scene_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = copy_of_dataset(dir.path());
    let front = front_camera_frames(&root);
    let moved_frame = front[3]["token"].clone();
    let old = front[3]["calibrated_sensor_token"].clone();
    edit_table(&root, "calibrated_sensor", |records| {
        let mut moved = records.iter().find(|r| r["token"] == old).unwrap().clone();
        moved["token"] = json!("moved-front-camera");
        moved["translation"][0] = json!(moved["translation"][0].as_f64().unwrap() + 0.1);
        records.push(moved);
    });
    edit_table(&root, "sample_data", |records| {
        for r in records.iter_mut().filter(|r| r["token"] == moved_frame) {
            r["calibrated_sensor_token"] = json!("moved-front-camera");
        }
    });
    let error = open_error(&root, &scene(SCENE));
    assert!(error.contains("calibrated_sensor.json"), "{error}");
    assert!(error.contains("CAM_FRONT changes calibration"), "{error}");
}

#[test]
fn two_images_of_a_camera_at_one_time_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = copy_of_dataset(dir.path());
    let front = front_camera_frames(&root);
    let (first, second) = (front[1]["token"].clone(), front[2]["timestamp"].clone());
    edit_table(&root, "sample_data", |records| {
        for r in records.iter_mut().filter(|r| r["token"] == first) {
            r["timestamp"] = second.clone();
        }
    });
    let error = open_error(&root, &scene(SCENE));
    assert!(error.contains("sample_data.json"), "{error}");
    assert!(error.contains("CAM_FRONT has two images"), "{error}");
}

#[test]
fn the_converter_refuses_a_distorted_rig() {
    let dir = tempfile::tempdir().unwrap();
    // The default rig, Argoverse 2's, has radial distortion.
    let drive = common::small_log(dir.path(), "clear_road", 0.3, 1);
    let output = convert(&drive, &dir.path().join("nuscenes"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("lens distortion"), "{stderr}");
    assert!(!dir.path().join("nuscenes/v1.0-mini").exists());
}

#[test]
fn the_registry_asks_for_nuscenes_before_the_av2_fallback() {
    let names = LogRegistry::builtin().format_names();
    let nuscenes = names.iter().position(|n| *n == "nuscenes").unwrap();
    assert_eq!(names.last(), Some(&"av2"));
    assert!(nuscenes < names.len() - 1);
}

#[test]
fn the_registry_still_falls_back_to_av2_for_other_folders() {
    let dir = tempfile::tempdir().unwrap();
    match open_log(dir.path()) {
        Err(DatasetError::NoCameras { .. }) => {}
        Err(other) => panic!("{other}"),
        Ok(log) => panic!("opened as {}", log.format()),
    }
}
