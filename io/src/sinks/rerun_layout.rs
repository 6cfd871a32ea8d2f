//! The recording's entity paths, and the viewer layout sent with every recording: the camera views as they sit
//! on the car (front row on top, sides in the middle, rears below, each row
//! left to right), beside the bird's-eye 3D view, the decision log and plots.

use heptaview_calibration::RigCamera;
use nalgebra::Vector3;
use rerun::blueprint::{
    Blueprint, ContainerLike, Horizontal, Spatial2DView, Spatial3DView, TextLogView,
    TimeSeriesView, Vertical,
};

pub const WORLD_PATH: &str = "world";
pub const DECISION_PATH: &str = "decision";
pub const METRICS_PATH: &str = "metrics";
/// Text log of cameras going missing and coming back.
pub const CAMERA_STATUS_PATH: &str = "cameras";

pub fn camera_path(camera: &str) -> String {
    format!("{WORLD_PATH}/ego/cameras/{camera}")
}

const FRONT_ROW: usize = 0;
const SIDE_ROW: usize = 1;
const REAR_ROW: usize = 2;

/// Which row a camera belongs to (0 front, 1 side, 2 rear) and its azimuth
/// (degrees, positive to the left) for ordering within the row.
fn row_and_azimuth(camera: &RigCamera) -> (usize, f64) {
    let axis = camera.ego_from_camera().rotation * Vector3::z();
    let azimuth = axis.y.atan2(axis.x).to_degrees();
    let row = match azimuth.abs() {
        a if a < 60.0 => FRONT_ROW,
        a if a <= 120.0 => SIDE_ROW,
        _ => REAR_ROW,
    };
    (row, azimuth)
}

/// Camera rows, top to bottom, each left to right (as seen from the driver's seat).
pub fn camera_rows(cameras: &[RigCamera]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<(f64, String)>> = vec![Vec::new(); 3];
    for camera in cameras {
        let (row, azimuth) = row_and_azimuth(camera);
        rows[row].push((azimuth, camera.name().to_owned()));
    }
    rows.into_iter()
        .enumerate()
        .map(|(index, mut row)| {
            // Left is the larger azimuth in the front and side rows; behind
            // the car azimuths wrap at ±180° (rear left +150°, straight back
            // ±180°, rear right -150° = 210°), so that row counts from 0 to 360°.
            if index == REAR_ROW {
                row.sort_by(|a, b| a.0.rem_euclid(360.0).total_cmp(&b.0.rem_euclid(360.0)));
            } else {
                row.sort_by(|a, b| b.0.total_cmp(&a.0));
            }
            row.into_iter().map(|(_, name)| name).collect::<Vec<_>>()
        })
        .filter(|row| !row.is_empty())
        .collect()
}

pub fn blueprint(cameras: &[RigCamera]) -> Blueprint {
    let rows: Vec<ContainerLike> = camera_rows(cameras)
        .into_iter()
        .map(|row| {
            Horizontal::new(row.into_iter().map(|name| {
                ContainerLike::from(
                    Spatial2DView::new(name.clone()).with_origin(camera_path(&name)),
                )
            }))
            .into()
        })
        .collect();
    let side = Vertical::new([
        ContainerLike::from(
            Spatial3DView::new("bird's-eye view (ego frame)").with_origin(WORLD_PATH),
        ),
        ContainerLike::from(
            TextLogView::new("decisions and cameras")
                .with_contents([DECISION_PATH.to_owned(), format!("{CAMERA_STATUS_PATH}/**")]),
        ),
        ContainerLike::from(
            TimeSeriesView::new("target speed (m/s) and TTC (s)")
                .with_contents([format!("{DECISION_PATH}/**")]),
        ),
        ContainerLike::from(
            TimeSeriesView::new("stage latency (ms) and queues")
                .with_contents([format!("{METRICS_PATH}/**")]),
        ),
    ])
    .with_row_shares([3.0, 1.0, 1.0, 1.0]);
    Blueprint::new(
        Horizontal::new([
            ContainerLike::from(Vertical::new(rows)),
            ContainerLike::from(side),
        ])
        .with_column_shares([2.0, 1.0]),
    )
}

#[cfg(test)]
mod tests {
    use heptaview_calibration::argoverse2_rig;

    use super::*;

    #[test]
    fn the_argoverse_ring_is_laid_out_as_it_sits_on_the_car() {
        let rig = argoverse2_rig().unwrap();
        assert_eq!(
            camera_rows(rig.cameras()),
            [
                vec!["ring_front_left", "ring_front_center", "ring_front_right"],
                vec!["ring_side_left", "ring_side_right"],
                vec!["ring_rear_left", "ring_rear_right"],
            ]
        );
    }

    fn rig(file: &str) -> heptaview_calibration::Rig {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../calibration/rigs")
            .join(file);
        heptaview_calibration::Rig::load(&path).unwrap()
    }

    #[test]
    fn any_rig_is_laid_out_by_where_its_cameras_look() {
        assert_eq!(
            camera_rows(rig("front3.toml").cameras()),
            [vec!["front_left_wide", "front_narrow", "front_right_wide"]]
        );
        assert_eq!(
            camera_rows(rig("nuscenes.toml").cameras()),
            [
                vec!["CAM_FRONT_LEFT", "CAM_FRONT", "CAM_FRONT_RIGHT"],
                vec!["CAM_BACK_LEFT", "CAM_BACK_RIGHT"],
                vec!["CAM_BACK"],
            ]
        );
        let surround = camera_rows(rig("surround12.toml").cameras());
        assert_eq!(
            surround,
            [
                vec!["cam_p030", "cam_000", "cam_m030"],
                vec![
                    "cam_p120", "cam_p090", "cam_p060", "cam_m060", "cam_m090", "cam_m120"
                ],
                vec!["cam_p150", "cam_p180", "cam_m150"],
            ]
        );
    }
}
