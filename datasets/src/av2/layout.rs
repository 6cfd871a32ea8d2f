//! Where each part of an AV2 log lives.

use std::path::{Path, PathBuf};

pub const CAMERAS_DIR: &str = "sensors/cameras";
pub const INTRINSICS: &str = "calibration/intrinsics.feather";
pub const EXTRINSICS: &str = "calibration/egovehicle_SE3_sensor.feather";
pub const EGO_POSES: &str = "city_SE3_egovehicle.feather";
pub const ANNOTATIONS: &str = "annotations.feather";
pub const IMAGE_EXTENSION: &str = "jpg";

pub fn camera_dir(log: &Path, camera: &str) -> PathBuf {
    log.join(CAMERAS_DIR).join(camera)
}

pub fn image_path(log: &Path, camera: &str, timestamp_ns: u64) -> PathBuf {
    camera_dir(log, camera).join(format!("{timestamp_ns}.{IMAGE_EXTENSION}"))
}
