//! The recording's entity paths, and the viewer layout sent with every
//! recording: the camera views as they sit on the car (front row on top and
//! tallest, the front-centre camera widest; sides in the middle, rears below,
//! each row left to right), beside a top-down view of the ego frame; below
//! them the decision log and one plot per unit. The time panel is collapsed
//! on the `frameset` timeline, the blueprint and selection panels collapsed.

use heptaview_calibration::RigCamera;
use nalgebra::Vector3;
use rerun::external::re_sdk_types::blueprint::archetypes::{
    EyeControls3D, ScalarAxis, TextLogColumns,
};
use rerun::external::re_sdk_types::blueprint::components::{Eye3DKind, PanelState, TextLogColumn};
use rerun::external::re_sdk_types::blueprint::datatypes::{
    TextLogColumn as Column, TextLogColumnKind,
};

use super::rerun_blueprint::{Container, Layout, Node, Split, View, ViewKind};

pub const WORLD_PATH: &str = "world";
pub const DECISION_PATH: &str = "decision";
pub const METRICS_PATH: &str = "metrics";
/// Text log of cameras starting, going missing and coming back.
pub const CAMERA_STATUS_PATH: &str = "cameras";
pub const TRACKS_PATH: &str = "world/tracks";
pub const GROUND_TRUTH_PATH: &str = "world/ground_truth";
/// The timeline the viewer opens on.
pub const MAIN_TIMELINE: &str = "frameset";

/// What the top-down view shows: from this far behind the rear axle to this
/// far ahead (metres), the span the planner and the cameras care about.
pub const TOP_DOWN_BEHIND_M: f32 = 30.0;
pub const TOP_DOWN_AHEAD_M: f32 = 60.0;
/// The viewer's default vertical field of view (55 degrees).
const VIEWER_FOV_Y_RAD: f32 = 55.0 * std::f32::consts::PI / 180.0;
/// The top-down eye leans back by this much: an orbit eye looking exactly
/// along its up axis (+z) is singular and the viewer then turns the picture
/// sideways; a few degrees keep forward at the top of the screen.
const TOP_DOWN_TILT_RAD: f32 = 3.0 * std::f32::consts::PI / 180.0;
/// Time to collision above this is no threat the plot needs to resolve.
pub const TTC_PLOT_MAX_S: f64 = 10.0;

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

/// The eye of the top-down view (position, look target): above the middle
/// of the span, high enough for the span to fill the view's height.
fn top_down_eye_at() -> ([f32; 3], [f32; 3]) {
    let centre_x = (TOP_DOWN_AHEAD_M - TOP_DOWN_BEHIND_M) / 2.0;
    let half_span = (TOP_DOWN_AHEAD_M + TOP_DOWN_BEHIND_M) / 2.0;
    let height = half_span / (VIEWER_FOV_Y_RAD / 2.0).tan();
    (
        [centre_x - height * TOP_DOWN_TILT_RAD.tan(), 0.0, height],
        [centre_x, 0.0, 0.0],
    )
}

fn top_down_eye() -> EyeControls3D {
    let (position, target) = top_down_eye_at();
    EyeControls3D::new()
        .with_kind(Eye3DKind::Orbital)
        .with_look_target(target)
        .with_position(position)
        .with_eye_up([0.0, 0.0, 1.0])
}

fn plot(name: &str, contents: &[&str]) -> View {
    View::new(ViewKind::TimeSeries, name, "/").with_contents(contents.iter().copied())
}

pub fn blueprint(cameras: &[RigCamera]) -> Layout {
    let rows = camera_rows(cameras);
    let front_centre = front_centre(cameras);
    let row_shares: Vec<f32> = rows
        .iter()
        .enumerate()
        .map(|(index, _)| if index == 0 { 2.0 } else { 1.0 })
        .collect();
    let camera_grid = Container::new(
        Split::Vertical,
        rows.iter().map(|row| {
            let shares: Vec<f32> = row
                .iter()
                .map(|name| {
                    if Some(name) == front_centre.as_ref() {
                        1.4
                    } else {
                        1.0
                    }
                })
                .collect();
            Node::from(
                Container::new(
                    Split::Horizontal,
                    row.iter().map(|name| Node::from(camera_view(name))),
                )
                .with_shares(shares),
            )
        }),
    )
    .with_shares(row_shares);

    // The top-down view leaves out the camera images and their 2D boxes,
    // which in 3D are small quads at the lens that hide the ego car.
    let mut top_down_contents = vec!["+ $origin/**".to_owned()];
    for camera in cameras {
        let path = camera_path(camera.name());
        top_down_contents.push(format!("- /{path}/image"));
        top_down_contents.push(format!("- /{path}/detections"));
    }
    let top_down = View::new(
        ViewKind::Spatial3D,
        "top-down (ego frame)",
        format!("/{WORLD_PATH}"),
    )
    .with_contents(top_down_contents)
    .with_property("EyeControls3D", top_down_eye());

    let decisions = View::new(ViewKind::TextLog, "decisions and camera health", "/")
        .with_contents([
            format!("/{DECISION_PATH}"),
            format!("/{CAMERA_STATUS_PATH}/**"),
        ])
        // The width goes to the message (each says what it is about).
        .with_property(
            "TextLogColumns",
            TextLogColumns::new().with_text_log_columns(
                [
                    (TextLogColumnKind::EntityPath, false),
                    (TextLogColumnKind::LogLevel, true),
                    (TextLogColumnKind::Body, true),
                ]
                .map(|(kind, visible)| {
                    TextLogColumn(Column {
                        visible: visible.into(),
                        kind,
                    })
                }),
            ),
        );
    let speeds = plot(
        "speed (m/s): target, ego",
        &["/decision/target_speed_mps", "/decision/ego_speed_mps"],
    );
    let ttc = plot("min time to collision (s)", &["/decision/min_ttc_s"]).with_property(
        "ScalarAxis",
        ScalarAxis::new().with_range([0.0, TTC_PLOT_MAX_S]),
    );
    let latency = Container::new(
        Split::Tabs,
        [
            Node::from(plot(
                "stage latency (ms)",
                &[
                    "+ /metrics/**",
                    "- /metrics/queues/**",
                    "- /metrics/end_to_end_ms",
                ],
            )),
            Node::from(plot("end to end (ms)", &["/metrics/end_to_end_ms"])),
        ],
    );
    let queues = plot("queue depth (frame sets)", &["/metrics/queues/**"]);

    let top = Container::new(
        Split::Horizontal,
        [Node::from(camera_grid), Node::from(top_down)],
    )
    .with_shares([1.15, 1.0]);
    let bottom = Container::new(
        Split::Horizontal,
        [
            Node::from(decisions),
            Node::from(speeds),
            Node::from(ttc),
            Node::from(latency),
            Node::from(queues),
        ],
    )
    .with_shares([1.6, 1.0, 1.0, 1.0, 1.0]);
    Layout {
        root: Container::new(Split::Vertical, [Node::from(top), Node::from(bottom)])
            .with_shares([3.0, 1.0]),
        timeline: Some(MAIN_TIMELINE.to_owned()),
        time_panel: Some(PanelState::Collapsed),
        blueprint_panel: Some(PanelState::Collapsed),
        selection_panel: Some(PanelState::Collapsed),
    }
}

/// A camera's image with its detected boxes, and the tracks and ground
/// truth drawn into it as wireframes through its lens (projected_boxes.rs:
/// Rerun's own projection through the pinhole neither clips at the camera
/// plane nor knows distortion).
fn camera_view(name: &str) -> View {
    View::new(ViewKind::Spatial2D, name, format!("/{}", camera_path(name)))
        .with_contents(["$origin/**".to_owned()])
}

/// The camera looking most nearly straight ahead (the one the planner
/// leans on most).
fn front_centre(cameras: &[RigCamera]) -> Option<String> {
    cameras
        .iter()
        .map(|camera| (row_and_azimuth(camera), camera.name()))
        .filter(|((row, _), _)| *row == FRONT_ROW)
        .min_by(|((_, a), _), ((_, b), _)| a.abs().total_cmp(&b.abs()))
        .map(|(_, name)| name.to_owned())
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

    fn shares_of<'a>(container: &'a Container, name: &str) -> Option<(&'a Container, usize)> {
        for (index, child) in container.children.iter().enumerate() {
            match child {
                Node::View(view) if view.name == name => return Some((container, index)),
                Node::Container(inner) => {
                    if let Some(found) = shares_of(inner, name) {
                        return Some(found);
                    }
                }
                Node::View(_) => {}
            }
        }
        None
    }

    #[test]
    fn the_front_centre_camera_gets_the_largest_cell() {
        let rig = argoverse2_rig().unwrap();
        let layout = blueprint(rig.cameras());
        let (row, index) = shares_of(&layout.root, "ring_front_center").unwrap();
        assert_eq!(row.split, Split::Horizontal);
        let widest = row.shares.iter().copied().fold(0.0, f32::max);
        assert_eq!(row.shares[index], widest);
        assert!(row.shares.iter().filter(|s| **s == widest).count() == 1);
        // The front row is the tallest of the camera grid.
        let Node::Container(top) = &layout.root.children[0] else {
            panic!("top row")
        };
        let Node::Container(grid) = &top.children[0] else {
            panic!("camera grid")
        };
        assert_eq!(grid.shares, [2.0, 1.0, 1.0]);
    }

    #[test]
    fn the_layout_opens_on_frame_sets_with_panels_collapsed() {
        let rig = argoverse2_rig().unwrap();
        let layout = blueprint(rig.cameras());
        assert_eq!(layout.timeline.as_deref(), Some("frameset"));
        assert_eq!(layout.time_panel, Some(PanelState::Collapsed));
        assert_eq!(layout.blueprint_panel, Some(PanelState::Collapsed));
        assert_eq!(layout.selection_panel, Some(PanelState::Collapsed));
        let views = layout.views();
        // Seven cameras, the top-down view, the log and five plots.
        assert_eq!(views.len(), 14);
        for camera in rig.cameras() {
            let view = views.iter().find(|v| v.name == camera.name()).unwrap();
            assert_eq!(view.kind, ViewKind::Spatial2D);
            assert_eq!(view.origin, format!("/{}", camera_path(camera.name())));
            // Its own subtree only: tracks and ground truth are logged into
            // it as wireframes, not projected by the viewer.
            assert_eq!(view.contents, ["$origin/**"]);
        }
        let top_down = views
            .iter()
            .find(|v| v.kind == ViewKind::Spatial3D)
            .unwrap();
        assert_eq!(top_down.origin, "/world");
        assert_eq!(
            top_down
                .properties
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>(),
            ["EyeControls3D"]
        );
        let log = views.iter().find(|v| v.kind == ViewKind::TextLog).unwrap();
        assert_eq!(log.contents, ["/decision", "/cameras/**"]);
        // No plot mixes units: latency without end to end, queues apart.
        let plot = |name: &str| views.iter().find(|v| v.name == name).unwrap();
        assert_eq!(
            plot("stage latency (ms)").contents,
            [
                "+ /metrics/**",
                "- /metrics/queues/**",
                "- /metrics/end_to_end_ms"
            ]
        );
        assert_eq!(
            plot("speed (m/s): target, ego").contents,
            ["/decision/target_speed_mps", "/decision/ego_speed_mps"]
        );
    }

    #[test]
    fn the_top_down_eye_sees_the_span_from_above_with_forward_up() {
        let (position, target) = top_down_eye_at();
        let height = position[2] - target[2];
        // Nearly straight down, leaning back (forward stays at the top).
        let lean = (target[0] - position[0]) / height;
        assert!(lean > 0.0 && lean < 0.1, "{lean}");
        assert_eq!(position[1], 0.0);
        // The picture's height covers 30 m behind the rear axle to 60 m ahead.
        let half_view = height * (VIEWER_FOV_Y_RAD / 2.0).tan();
        assert!((target[0] - half_view - -30.0).abs() < 0.01);
        assert!((target[0] + half_view - 60.0).abs() < 0.01);
    }
}
