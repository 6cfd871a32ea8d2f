//! One contract for every log format. Replay, evaluation, the Rerun sink and
//! the bench see a drive through [`LogReader`]: the rig, each camera's frame
//! times and image bytes, the ego poses, ground truth, and a generated
//! drive's expected decisions. [`LogRegistry`] picks the reader by the
//! folder's layout; a format is one [`LogFormat`] and one line in
//! [`LogRegistry::builtin`].

use std::path::Path;

use heptaview_calibration::{EgoPoses, Rig};

use crate::av2::{Av2Log, GroundTruth, layout};
use crate::error::{DatasetError, FrameError};
use crate::generator::{SCENARIO_FILE, ScenarioExpectations, read_expectations};
pub use crate::log_reader::{LogFormat, LogReader, OpenOptions};

/// The formats a log may be in, asked in order.
pub struct LogRegistry {
    formats: Vec<Box<dyn LogFormat>>,
}

impl LogRegistry {
    /// No formats yet.
    pub fn empty() -> Self {
        Self {
            formats: Vec::new(),
        }
    }

    /// The formats heptaview reads: its generated drives (AV2 plus the
    /// expected decisions), nuScenes, ROS 2 bags, then Argoverse 2 sensor logs (last: its
    /// error is the one an unknown folder gets).
    pub fn builtin() -> Self {
        Self::empty()
            .with(GeneratedFormat)
            .with(crate::nuscenes::NuScenesFormat)
            .with(crate::ros2bag::Ros2BagFormat)
            .with(Av2Format)
    }

    /// The registry with one more format, asked after those before it.
    pub fn with(mut self, format: impl LogFormat + 'static) -> Self {
        self.formats.push(Box::new(format));
        self
    }

    pub fn format_names(&self) -> Vec<&'static str> {
        self.formats.iter().map(|f| f.name()).collect()
    }

    /// Opens `root` with the first format that recognises it. A folder none
    /// recognises is read as the last format, whose error says what is missing.
    pub fn open(&self, root: &Path) -> Result<Box<dyn LogReader>, DatasetError> {
        self.open_with(root, &OpenOptions::default())
    }

    /// As [`LogRegistry::open`], with the user's scene and topic choices.
    pub fn open_with(
        &self,
        root: &Path,
        options: &OpenOptions,
    ) -> Result<Box<dyn LogReader>, DatasetError> {
        if !root.exists() {
            return Err(DatasetError::Read {
                path: root.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such log file or folder",
                ),
            });
        }
        let format = self
            .formats
            .iter()
            .find(|f| f.recognises(root))
            .or(self.formats.last())
            .ok_or_else(|| DatasetError::Scenario {
                message: "no log formats are registered".to_owned(),
            })?;
        format.open(root, options)
    }
}

/// Opens a log with the built-in formats.
pub fn open_log(root: &Path) -> Result<Box<dyn LogReader>, DatasetError> {
    LogRegistry::builtin().open(root)
}

/// Opens a log with the built-in formats and the user's choices.
pub fn open_log_with(
    root: &Path,
    options: &OpenOptions,
) -> Result<Box<dyn LogReader>, DatasetError> {
    LogRegistry::builtin().open_with(root, options)
}

/// Argoverse 2 sensor logs (`sensors/cameras/<camera>/<t>.jpg`, calibration,
/// `city_SE3_egovehicle.feather`, `annotations.feather`).
pub struct Av2Format;

impl LogFormat for Av2Format {
    fn name(&self) -> &'static str {
        "av2"
    }

    fn recognises(&self, root: &Path) -> bool {
        root.join(layout::CAMERAS_DIR).is_dir()
    }

    fn open(&self, root: &Path, _: &OpenOptions) -> Result<Box<dyn LogReader>, DatasetError> {
        Ok(Box::new(Av2Log::open(root)?))
    }
}

/// A drive `heptaview generate` wrote: an AV2 log with `scenario.toml`.
pub struct GeneratedFormat;

impl LogFormat for GeneratedFormat {
    fn name(&self) -> &'static str {
        "generated"
    }

    fn recognises(&self, root: &Path) -> bool {
        Av2Format.recognises(root) && root.join(SCENARIO_FILE).is_file()
    }

    fn open(&self, root: &Path, _: &OpenOptions) -> Result<Box<dyn LogReader>, DatasetError> {
        let log = Av2Log::open(root)?;
        let expectations = read_expectations(root)?.ok_or_else(|| DatasetError::Scenario {
            message: format!("{}: no {SCENARIO_FILE}", root.display()),
        })?;
        Ok(Box::new(GeneratedLog { log, expectations }))
    }
}

/// A generated drive: its AV2 log and what a planner should decide on it.
pub struct GeneratedLog {
    log: Av2Log,
    expectations: ScenarioExpectations,
}

impl LogReader for Av2Log {
    fn format(&self) -> &'static str {
        "av2"
    }

    fn root(&self) -> &Path {
        Av2Log::root(self)
    }

    fn rig(&self) -> &Rig {
        Av2Log::rig(self)
    }

    fn timestamps_ns(&self, camera: &str) -> Result<&[u64], DatasetError> {
        Ok(self.camera(camera)?.timestamps_ns())
    }

    fn read_image(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        self.read_jpeg(camera, timestamp_ns)
    }

    fn ego_poses(&self) -> Option<&EgoPoses> {
        Some(Av2Log::ego_poses(self))
    }

    fn ground_truth(&self) -> Option<GroundTruth> {
        Av2Log::ground_truth(self)
    }
}

impl LogReader for GeneratedLog {
    fn format(&self) -> &'static str {
        "generated"
    }

    fn root(&self) -> &Path {
        self.log.root()
    }

    fn rig(&self) -> &Rig {
        self.log.rig()
    }

    fn timestamps_ns(&self, camera: &str) -> Result<&[u64], DatasetError> {
        LogReader::timestamps_ns(&self.log, camera)
    }

    fn read_image(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        self.log.read_jpeg(camera, timestamp_ns)
    }

    fn ego_poses(&self) -> Option<&EgoPoses> {
        Some(self.log.ego_poses())
    }

    fn ground_truth(&self) -> Option<GroundTruth> {
        self.log.ground_truth()
    }

    fn expectations(&self) -> Option<&ScenarioExpectations> {
        Some(&self.expectations)
    }
}
