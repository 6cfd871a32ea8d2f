//! One contract for writing a drive, whatever the format: live mode records
//! through it. `create_log_writer` picks the format from the path: a
//! `.mcap` file is a ROS 2 bag, anything else a new Argoverse 2 log folder.

use std::path::Path;

use heptaview_calibration::Rig;
use nalgebra::Isometry3;

use crate::av2::Av2LogWriter;
use crate::error::DatasetError;
use crate::ros2bag::Ros2BagWriter;

/// A drive being written: JPEG frames as they come, ego poses, then `finish`.
pub trait LogWriter: Send {
    /// The format being written (`av2`, `ros2bag`), as its reader names it.
    fn format(&self) -> &'static str;

    /// Stores one camera frame's JPEG bytes as they are (no re-encoding).
    fn write_jpeg(
        &mut self,
        camera: &str,
        timestamp_ns: u64,
        jpeg: &[u8],
    ) -> Result<(), DatasetError>;

    /// Where the vehicle was at `timestamp_ns`.
    fn add_pose(&mut self, timestamp_ns: u64, city_from_ego: Isometry3<f64>);

    /// Completes the files (tables, indexes); nothing is readable before.
    fn finish(self: Box<Self>) -> Result<(), DatasetError>;
}

impl LogWriter for Av2LogWriter {
    fn format(&self) -> &'static str {
        "av2"
    }

    fn write_jpeg(
        &mut self,
        camera: &str,
        timestamp_ns: u64,
        jpeg: &[u8],
    ) -> Result<(), DatasetError> {
        Av2LogWriter::write_jpeg(self, camera, timestamp_ns, jpeg)
    }

    fn add_pose(&mut self, timestamp_ns: u64, city_from_ego: Isometry3<f64>) {
        Av2LogWriter::add_pose(self, timestamp_ns, city_from_ego);
    }

    fn finish(self: Box<Self>) -> Result<(), DatasetError> {
        Av2LogWriter::finish(*self)
    }
}

impl LogWriter for Ros2BagWriter {
    fn format(&self) -> &'static str {
        "ros2bag"
    }

    fn write_jpeg(
        &mut self,
        camera: &str,
        timestamp_ns: u64,
        jpeg: &[u8],
    ) -> Result<(), DatasetError> {
        Ros2BagWriter::write_jpeg(self, camera, timestamp_ns, jpeg)
    }

    fn add_pose(&mut self, timestamp_ns: u64, city_from_ego: Isometry3<f64>) {
        Ros2BagWriter::add_pose(self, timestamp_ns, city_from_ego);
    }

    fn finish(self: Box<Self>) -> Result<(), DatasetError> {
        Ros2BagWriter::finish(*self)
    }
}

/// Whether `path` names a ROS 2 bag to write (by its `.mcap` extension).
pub fn is_mcap_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mcap"))
}

/// A writer for a new drive at `path` (which must not exist yet): a ROS 2
/// bag for `*.mcap`, else an Argoverse 2 log folder.
pub fn create_log_writer(path: &Path, rig: &Rig) -> Result<Box<dyn LogWriter>, DatasetError> {
    if path.exists() {
        return Err(DatasetError::Layout {
            path: path.to_path_buf(),
            message: "exists already: a recording goes into a new file or folder".to_owned(),
        });
    }
    if is_mcap_path(path) {
        return Ok(Box::new(Ros2BagWriter::create(path, rig)?));
    }
    Ok(Box::new(Av2LogWriter::create(path, rig)?))
}
