//! ROS 2 bags in MCAP (what `ros2 bag record -s mcap` writes): camera images
//! as `sensor_msgs/msg/CompressedImage` (JPEG), calibration from
//! `sensor_msgs/msg/CameraInfo`, camera mounts from `/tf_static`, the
//! vehicle's motion from `/tf` (or an odometry topic). [`Ros2Bag`] replays
//! one through [`LogReader`](crate::LogReader); [`Ros2BagWriter`] records
//! one (`heptaview live --record out.mcap`).
//!
//! How it reads: `open` takes the MCAP summary (channels, chunk indexes),
//! then reads the camera, `CameraInfo` and TF topics once, a chunk at a time
//! (chunks holding none of them are skipped), and keeps of each image only
//! its stamp and place (chunk, position); `read_image` reads that chunk
//! again and keeps it for the next frames, which replay asks for in time
//! order. Memory is a chunk, not the bag. The file is read with ordinary
//! reads rather than memory-mapped: mapping needs `unsafe`, which this
//! workspace forbids, and a mapped file truncated while open would crash the
//! process instead of failing one frame. A bag needs its summary section
//! (rosbag2 and the mcap libraries write one when they finish); CDR is
//! decoded by hand (see `cdr.rs` for why).
//!
//! Conventions: cameras are placed by the `/tf_static` chain from the ego
//! frame (default `base_link`) to their `CameraInfo`'s frame, REP 103's
//! optical frame (z forward, x right, y down), which is heptaview's camera
//! frame, as `base_link` (x forward, y left, z up) is its ego frame. Frame
//! times are `header.stamp`.

mod cdr;
mod mcap_file;
pub mod messages;
mod reader;
pub mod topics;
mod transforms;
mod writer;

use std::path::Path;

pub use reader::{MAX_CAMERAS, Ros2Bag};
pub use topics::{CameraTopics, DEFAULT_EGO_FRAME, TopicMap};
pub use writer::{Ros2BagWriter, WORLD_FRAME, camera_info_topic, image_topic, optical_frame};

use crate::error::DatasetError;
use crate::log_reader::{LogFormat, LogReader, OpenOptions};

/// A ROS 2 bag: an `.mcap` file, or a rosbag2 folder (`metadata.yaml` beside
/// the `.mcap`).
pub struct Ros2BagFormat;

impl LogFormat for Ros2BagFormat {
    fn name(&self) -> &'static str {
        "ros2bag"
    }

    fn recognises(&self, root: &Path) -> bool {
        if root.is_file() {
            return reader::is_mcap_name(root);
        }
        root.join("metadata.yaml").is_file()
            && std::fs::read_dir(root).is_ok_and(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| reader::is_mcap_name(&e.path()))
            })
    }

    fn open(&self, root: &Path, options: &OpenOptions) -> Result<Box<dyn LogReader>, DatasetError> {
        Ok(Box::new(Ros2Bag::open(root, options)?))
    }
}
