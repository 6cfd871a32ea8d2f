//! Camera geometry for heptaview: pinhole cameras with OpenCV distortion
//! (ROS's plumb_bob, rational_polynomial and equidistant lens models),
//! seven-camera rigs with `ego_from_camera` poses, projection between pixels,
//! the ego frame and the ground plane, and rig files in TOML.
//!
//! Frames (as Argoverse 2 and OpenCV): ego x forward, y left, z up, origin on
//! the ground under the rear axle; camera z out of the lens, x right, y down.

mod camera_model;
mod error;
mod jpeg;
mod poses;
mod rig;
mod rig_file;
mod timing;

pub use camera_model::{CameraModel, Distortion, FisheyeDistortion, Intrinsics, Lens};
pub use error::{CalibrationError, CameraError, TimingError};
pub use jpeg::is_complete_jpeg;
pub use poses::EgoPoses;
pub use rig::{
    AV2_RING_CAMERAS, QUATERNION_NORM_TOLERANCE, Rig, RigCamera, ego_from_camera_mount,
    unit_quaternion,
};
pub use timing::TriggerTiming;

/// The Argoverse 2 ring-camera rig shipped in `calibration/rigs/argoverse2.toml`.
pub const ARGOVERSE2_RIG_TOML: &str = include_str!("../rigs/argoverse2.toml");

/// The shipped Argoverse 2 rig, parsed and validated.
pub fn argoverse2_rig() -> Result<Rig, CalibrationError> {
    Rig::from_toml_str(ARGOVERSE2_RIG_TOML)
}
