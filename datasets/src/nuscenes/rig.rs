//! A camera's calibrated_sensor record as a heptaview rig camera.
//!
//! nuScenes and heptaview share their frames: the ego frame has x forward,
//! y left, z up (origin at the rear axle, on the ground), the camera frame
//! z out of the lens, x right, y down, and calibrated_sensor holds
//! `ego_from_camera` (the front camera's rotation is close to
//! (w, x, y, z) = (0.5, -0.5, 0.5, -0.5), the same as heptaview's
//! forward-looking mount). nuScenes images are rectified: a pinhole, no
//! distortion.

use std::path::Path;

use heptaview_calibration::{
    CalibrationError, CameraError, CameraModel, Distortion, Intrinsics, RigCamera, unit_quaternion,
};
use nalgebra::{Isometry3, Translation3, Vector3};

use super::tables::CalibratedSensor;
use crate::error::DatasetError;

/// The rig camera `channel` with the mounting and intrinsics of `sensor` and
/// images `width` × `height`. `table` is calibrated_sensor.json, for errors.
pub fn rig_camera(
    channel: &str,
    sensor: &CalibratedSensor,
    width_px: u32,
    height_px: u32,
    table: &Path,
) -> Result<RigCamera, DatasetError> {
    let bad = |message: String| DatasetError::Layout {
        path: table.to_path_buf(),
        message: format!("calibrated_sensor {} of {channel}: {message}", sensor.token),
    };
    let in_calibration = |source: CameraError| DatasetError::Calibration {
        path: table.to_path_buf(),
        source: CalibrationError::Camera {
            camera: channel.to_owned(),
            source,
        },
    };
    let k = &sensor.camera_intrinsic;
    if k.len() != 3 || k.iter().any(|row| row.len() != 3) {
        return Err(bad(format!("camera_intrinsic is not 3×3: {k:?}")));
    }
    // A pinhole with square pixels: skew or a non-standard last row cannot be
    // represented by fx fy cx cy, and dropping them would misplace points.
    if k[0][1] != 0.0 || k[1][0] != 0.0 || k[2] != [0.0, 0.0, 1.0] {
        return Err(bad(format!(
            "camera_intrinsic is not [[fx 0 cx] [0 fy cy] [0 0 1]]: {k:?}"
        )));
    }
    if width_px == 0 || height_px == 0 {
        return Err(bad(format!("image size {width_px}×{height_px}")));
    }
    let model = CameraModel::new(
        Intrinsics {
            width_px,
            height_px,
            fx_px: k[0][0],
            fy_px: k[1][1],
            cx_px: k[0][2],
            cy_px: k[1][2],
        },
        Distortion::default(),
    )
    .map_err(in_calibration)?;
    let [qw, qx, qy, qz] = sensor.rotation;
    let rotation = unit_quaternion(qw, qx, qy, qz).map_err(in_calibration)?;
    let translation = Translation3::from(Vector3::from(sensor.translation));
    RigCamera::new(channel, model, Isometry3::from_parts(translation, rotation)).map_err(|source| {
        DatasetError::Calibration {
            path: table.to_path_buf(),
            source,
        }
    })
}
