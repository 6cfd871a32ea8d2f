//! The contract every log format implements: [`LogReader`] (a drive, read)
//! and [`LogFormat`] (recognising and opening a layout), with the user's
//! [`OpenOptions`]. A leaf module: the formats depend on it, and the
//! registry in `log` depends on the formats.

use std::path::{Path, PathBuf};

use heptaview_calibration::{EgoPoses, Rig};

use crate::av2::GroundTruth;
use crate::error::{DatasetError, FrameError};
use crate::generator::ScenarioExpectations;

/// A recorded drive, whatever its layout.
pub trait LogReader: Send + Sync {
    /// The format that read it (`av2`, `generated`, ...).
    fn format(&self) -> &'static str;

    /// Where it was read from.
    fn root(&self) -> &Path;

    /// The cameras in the log's order, with their calibration (and trigger
    /// timing, when the format declares it).
    fn rig(&self) -> &Rig;

    /// A camera's image times, increasing; an error names the log and camera
    /// when the log has no such camera.
    fn timestamps_ns(&self, camera: &str) -> Result<&[u64], DatasetError>;

    /// The encoded image (JPEG bytes) of one frame, as stored.
    fn read_image(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError>;

    /// Where the vehicle was; `None` when the log does not know.
    fn ego_poses(&self) -> Option<&EgoPoses>;

    /// The annotated objects, to be moved to any instant; `None` without
    /// annotations.
    fn ground_truth(&self) -> Option<GroundTruth>;

    /// The decisions a generated drive expects; `None` for a recorded one.
    fn expectations(&self) -> Option<&ScenarioExpectations> {
        None
    }

    /// The camera names, in the log's order.
    fn camera_names(&self) -> Vec<String> {
        self.rig().camera_names().map(str::to_owned).collect()
    }
}

/// What a user may say about a log beyond its path: which scene of a
/// multi-scene dataset, which topics are which cameras.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The scene (nuScenes `scene.name`) to read from a dataset root that
    /// holds several; `None` reads the only one or names the choices.
    pub scene: Option<String>,
    /// A TOML file mapping message topics to camera names (ROS 2 bags);
    /// `None` derives camera names from the topics.
    pub topic_map: Option<PathBuf>,
}

/// A layout heptaview can read.
pub trait LogFormat: Send + Sync {
    fn name(&self) -> &'static str;

    /// Whether `root` (a folder, or a file for single-file formats) is laid
    /// out as this format (looks at names only).
    fn recognises(&self, root: &Path) -> bool;

    fn open(&self, root: &Path, options: &OpenOptions) -> Result<Box<dyn LogReader>, DatasetError>;
}
