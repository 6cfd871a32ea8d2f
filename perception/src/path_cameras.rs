//! Which cameras look along the drive path: they are served first by the
//! inference budget, and the planner slows down when one of them is blind.

use heptaview_calibration::Rig;
use nalgebra::Vector3;

/// Drive-path priority of each camera for the inference budget: 0 for
/// cameras looking within 30° of straight ahead, then 1, 2, 3 further round.
pub fn path_priority(rig: &Rig) -> Vec<u8> {
    rig.cameras()
        .iter()
        .map(|camera| {
            let axis = camera.ego_from_camera().rotation * Vector3::z();
            let yaw = axis.y.atan2(axis.x).to_degrees().abs();
            match yaw {
                y if y < 30.0 => 0,
                y if y < 60.0 => 1,
                y if y < 120.0 => 2,
                _ => 3,
            }
        })
        .collect()
}

/// Per camera: whether it covers the drive path (priority 0).
pub fn covers_drive_path(rig: &Rig) -> Vec<bool> {
    path_priority(rig).iter().map(|rank| *rank == 0).collect()
}
