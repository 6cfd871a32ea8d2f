//! nuScenes, read in the official layout, one scene at a time:
//!
//! ```text
//! <root>/v1.0-mini/{scene,sample,sample_data,calibrated_sensor,sensor,ego_pose,
//!                   sample_annotation,instance,category,log}.json
//! <root>/samples/<CHANNEL>/<...>.jpg     key frames (2 Hz, annotated)
//! <root>/sweeps/<CHANNEL>/<...>.jpg      the images between them
//! ```
//!
//! `<root>` is the dataset root (the devkit's `dataroot`): the folder that
//! holds the version folder, since image filenames are relative to it. The
//! version folder itself is recognised only to say so. Timestamps are
//! microseconds in the tables and nanoseconds in heptaview.

mod annotations;
mod reader;
mod rig;
mod scene;
mod tables;

use std::path::Path;

pub use reader::NuScenesLog;

use crate::error::DatasetError;
use crate::log_reader::{LogFormat, LogReader, OpenOptions};

/// nuScenes' six cameras in the order the dataset lists them.
pub const CAMERA_ORDER: [&str; 6] = [
    "CAM_FRONT",
    "CAM_FRONT_LEFT",
    "CAM_FRONT_RIGHT",
    "CAM_BACK_LEFT",
    "CAM_BACK_RIGHT",
    "CAM_BACK",
];

/// The lidar whose key frames define the samples' instants.
pub const LIDAR_CHANNEL: &str = "LIDAR_TOP";

/// A dataset root with a `v1.0-*` folder holding `scene.json`; the scene is
/// `OpenOptions::scene`.
pub struct NuScenesFormat;

impl LogFormat for NuScenesFormat {
    fn name(&self) -> &'static str {
        "nuscenes"
    }

    fn recognises(&self, root: &Path) -> bool {
        !scene::version_dirs(root).is_empty() || scene::is_version_dir(root)
    }

    fn open(&self, root: &Path, options: &OpenOptions) -> Result<Box<dyn LogReader>, DatasetError> {
        Ok(Box::new(NuScenesLog::open(root, options.scene.as_deref())?))
    }
}

/// A table's microseconds as nanoseconds; `token` names the record in the error.
fn timestamp_ns(micros: u64, table: &Path, token: &str) -> Result<u64, DatasetError> {
    micros
        .checked_mul(1000)
        .ok_or_else(|| DatasetError::Layout {
            path: table.to_path_buf(),
            message: format!("{token}: timestamp {micros} µs is out of range"),
        })
}
