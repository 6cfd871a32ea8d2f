//! From a detection box to a position on the ground around the car.
//!
//! The box's bottom centre is where the object touches the road; through the
//! camera's calibration it lands on the ground plane (`pixel_to_ground`).
//! When that point is unusable — the box is cut by the bottom of the image,
//! or its bottom is at or above the horizon — the object's typical height
//! and the box's height in pixels give the range instead.

use heptaview_calibration::RigCamera;
use heptaview_models::classes::{ObjectClass, typical_size};
use heptaview_models::taxonomy::VehicleSubtype;
use nalgebra::{Point2, Vector2};
use serde::Serialize;

use crate::types::{CameraId, Detection};

/// How a position was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The box's bottom centre on the ground plane.
    GroundContact,
    /// Range from the class's typical height (box cut by the image bottom, or
    /// its bottom at or above the horizon); for a box cut by the bottom, no
    /// farther than the ground at the image's bottom row.
    KnownHeight,
}

/// One detection placed in the ego frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundObservation {
    pub camera: CameraId,
    /// Index of its detection in the camera's slot (set by the caller).
    pub detection: usize,
    pub class: String,
    /// The classifier's vehicle subtype (car, van, pickup, ...), when it ran.
    pub subtype: Option<&'static str>,
    pub score: f32,
    /// Ego frame, metres (x forward, y left).
    pub position: Point2<f64>,
    /// One standard deviation of the position, metres.
    pub sigma_m: f64,
    pub method: Method,
    /// The box touches the image border.
    pub truncated: bool,
    /// The box is cut by the image's left or right side (not both): its
    /// position is of a part of the object only, perhaps beside it. (A box
    /// cut by both sides is an object filling the view: surely there.)
    pub cut_one_side: bool,
}

/// A box edge this close to the image border (a share of the image width)
/// counts as cut by it: the detector's boxes of objects running out of the
/// image often stop a few pixels short of the edge.
const BORDER_FRACTION: f32 = 0.015;
/// Row uncertainty of a box's bottom edge, pixels.
const BOTTOM_ROW_SIGMA_PX: f64 = 2.0;
/// Relative range error of the known-height estimate (people and cars vary).
const KNOWN_HEIGHT_RELATIVE_SIGMA: f64 = 0.15;

/// Places a detection (box in the camera's native pixels) on the ground.
pub fn observe(
    camera_id: CameraId,
    camera: &RigCamera,
    detection: &Detection,
) -> Option<GroundObservation> {
    let k = camera.model().intrinsics();
    let [x1, y1, x2, y2] = detection.detection.bbox;
    let (width, height) = (k.width_px as f32, k.height_px as f32);
    let border = (BORDER_FRACTION * width).max(2.0);
    let cut_bottom = y2 >= height - 1.0 - border;
    let (cut_left, cut_right) = (x1 <= border, x2 >= width - 1.0 - border);
    let cut_side = cut_left || cut_right;
    let cut_one_side = cut_left != cut_right;
    let truncated = cut_bottom || cut_side || y1 <= border;
    // A box cut by a side of the image holds only part of the object: its
    // bottom centre lies off the object's centre towards the image's middle,
    // by up to half the object's length.
    let side_cut_sigma = if cut_side {
        typical_size(&detection.detection.class).map_or(1.0, |size| size.length_m) / 2.0
    } else {
        0.0
    };
    let class = detection.detection.class.clone();
    let subtype = detection
        .attributes
        .subtype
        .filter(|s| *s != VehicleSubtype::Unknown)
        .map(|s| s.name());
    let origin = camera.ego_from_camera().translation.vector;
    let camera_height = origin.z;

    let contact = Point2::new(f64::from(x1 + x2) / 2.0, f64::from(y2));
    // Signs and lights hang above the road: their box's bottom is not on it.
    let stands_on_road =
        !ObjectClass::from_label(&class).is_some_and(ObjectClass::is_traffic_control);
    let on_ground = (!cut_bottom && stands_on_road)
        .then(|| camera.pixel_to_ground(&contact))
        .flatten();
    if let Some(ground) = on_ground {
        let range = (ground.coords.xy() - origin.xy()).norm();
        // d(range)/d(row) ≈ range² / (f · camera height): one pixel matters more far away.
        let sigma = 0.2
            + range * range * BOTTOM_ROW_SIGMA_PX / (k.fy_px * camera_height.max(0.1))
            + side_cut_sigma;
        return Some(GroundObservation {
            camera: camera_id,
            detection: 0,
            class,
            subtype,
            score: detection.detection.score,
            position: Point2::new(ground.x, ground.y),
            sigma_m: sigma,
            method: Method::GroundContact,
            truncated,
            cut_one_side,
        });
    }

    let object_height = typical_size(&detection.detection.class)?.height_m;
    let box_height = f64::from(y2 - y1);
    if box_height < 1.0 {
        return None;
    }
    let depth = k.fy_px * object_height / box_height;
    let centre = Point2::new(f64::from(x1 + x2) / 2.0, f64::from(y1 + y2) / 2.0);
    let ray = camera.pixel_ray_in_ego(&centre)?;
    let horizontal = Vector2::new(ray.x, ray.y);
    if horizontal.norm() < 1e-6 {
        return None;
    }
    // `depth` is along the optical axis; spread it along the ray's horizontal direction.
    let axis = camera.ego_from_camera().rotation * nalgebra::Vector3::z();
    let along_axis = ray.dot(&axis).max(1e-3);
    let mut range = depth / along_axis * horizontal.norm();
    if cut_bottom {
        // The visible part is shorter than the object, so the known-height
        // range is too long; the object also stands nearer than the ground
        // seen at the image's bottom row. Both bound it: take the nearer.
        let bottom_row = Point2::new(contact.x, f64::from(height) - 1.0);
        if let Some(ground) = camera.pixel_to_ground(&bottom_row) {
            range = range.min((ground.coords.xy() - origin.xy()).norm());
        }
    }
    let position = origin.xy() + horizontal.normalize() * range;
    Some(GroundObservation {
        camera: camera_id,
        detection: 0,
        class,
        subtype,
        score: detection.detection.score,
        position: Point2::from(position),
        sigma_m: 0.3 + KNOWN_HEIGHT_RELATIVE_SIGMA * range + side_cut_sigma,
        method: Method::KnownHeight,
        truncated,
        cut_one_side,
    })
}

#[cfg(test)]
mod tests {
    use heptaview_calibration::argoverse2_rig;
    use heptaview_models::attributes::Attributes;
    use heptaview_models::detector::Detection as ModelDetection;
    use nalgebra::Point3;

    use super::*;

    fn detection(class: &str, bbox: [f32; 4]) -> Detection {
        Detection {
            camera: CameraId(0),
            detection: ModelDetection {
                class_id: 0,
                class: class.to_owned(),
                score: 0.9,
                bbox,
            },
            attributes: Attributes::default(),
            track_id: None,
            propagated: false,
        }
    }

    /// The box a `height` m tall upright object at ego (x, y) makes in the camera.
    fn box_of(camera: &RigCamera, x: f64, y: f64, height: f64) -> [f32; 4] {
        let foot = camera.project_ego_point(&Point3::new(x, y, 0.0)).unwrap();
        let head = camera
            .project_ego_point(&Point3::new(x, y, height))
            .unwrap();
        let half_width = ((foot.y - head.y) * 0.2) as f32;
        [
            foot.x as f32 - half_width,
            head.y as f32,
            foot.x as f32 + half_width,
            foot.y as f32,
        ]
    }

    #[test]
    fn the_bottom_centre_lands_on_the_ground_where_the_object_stands() {
        let rig = argoverse2_rig().unwrap();
        let camera = rig.camera("ring_front_left").unwrap();
        let found = observe(
            CameraId(1),
            camera,
            &detection("person", box_of(camera, 14.0, 9.0, 1.7)),
        )
        .unwrap();
        assert_eq!(found.method, Method::GroundContact);
        assert!(
            (found.position - Point2::new(14.0, 9.0)).norm() < 1e-3,
            "{}",
            found.position
        );
        assert!(!found.truncated);
        let near = observe(
            CameraId(1),
            camera,
            &detection("person", box_of(camera, 6.0, 4.0, 1.7)),
        )
        .unwrap();
        assert!(near.sigma_m < found.sigma_m, "uncertainty grows with range");
    }

    #[test]
    fn a_box_cut_by_the_image_bottom_falls_back_to_the_known_height() {
        let rig = argoverse2_rig().unwrap();
        let camera = rig.camera("ring_front_center").unwrap();
        let full = box_of(camera, 3.2, 0.0, 1.7);
        let height = camera.model().height_px() as f32;
        assert!(full[3] > height, "the feet are below the image");
        let cut = [full[0], full[1], full[2], height - 1.0];
        let found = observe(CameraId(0), camera, &detection("person", cut)).unwrap();
        assert_eq!(found.method, Method::KnownHeight);
        assert!(found.truncated);
        // Only the visible part's height is known, so the known-height range
        // is too long; the ground seen at the bottom row bounds it.
        let centre_column = f64::from(cut[0] + cut[2]) / 2.0;
        let bottom_ground = camera
            .pixel_to_ground(&Point2::new(centre_column, f64::from(height) - 1.0))
            .unwrap();
        let origin = camera.ego_from_camera().translation.vector.xy();
        let bound = (bottom_ground.coords.xy() - origin).norm();
        let range = (found.position.coords - origin).norm();
        assert!(
            range > 3.0 - origin.x && range <= bound + 1e-9,
            "{range} vs bound {bound}"
        );
        assert!(found.position.y.abs() < 0.5);
    }

    #[test]
    fn a_stop_sign_on_its_pole_is_placed_by_its_size_not_by_its_bottom_edge() {
        let rig = argoverse2_rig().unwrap();
        let camera = rig.camera("ring_front_center").unwrap();
        // A 0.75 m sign whose panel spans 1.5..2.25 m above the road, 20 m ahead.
        let bottom = camera
            .project_ego_point(&Point3::new(20.0, -3.0, 1.5))
            .unwrap();
        let top = camera
            .project_ego_point(&Point3::new(20.0, -3.0, 2.25))
            .unwrap();
        let half = ((bottom.y - top.y) / 2.0) as f32;
        let sign = [
            bottom.x as f32 - half,
            top.y as f32,
            bottom.x as f32 + half,
            bottom.y as f32,
        ];
        let found = observe(CameraId(0), camera, &detection("stop sign", sign)).unwrap();
        assert_eq!(found.method, Method::KnownHeight);
        assert!((found.position.x - 20.0).abs() < 2.0, "{}", found.position);
    }

    #[test]
    fn a_box_cut_by_one_side_is_a_partial_view_and_one_filling_the_image_is_not() {
        let rig = argoverse2_rig().unwrap();
        let camera = rig.camera("ring_front_center").unwrap();
        let k = camera.model().intrinsics();
        let (w, h) = (k.width_px as f32, k.height_px as f32);
        let bottom = h * 0.8;
        let right = observe(
            CameraId(0),
            camera,
            &detection("car", [w * 0.7, h * 0.5, w - 3.0, bottom]),
        )
        .unwrap();
        assert!(right.cut_one_side && right.truncated);
        let whole = observe(
            CameraId(0),
            camera,
            &detection("car", [w * 0.4, h * 0.5, w * 0.6, bottom]),
        )
        .unwrap();
        assert!(!whole.cut_one_side);
        assert!(
            right.sigma_m > whole.sigma_m + 1.0,
            "{} vs {}",
            right.sigma_m,
            whole.sigma_m
        );
        let filling = observe(
            CameraId(0),
            camera,
            &detection("bus", [1.0, h * 0.2, w - 1.0, bottom]),
        )
        .unwrap();
        assert!(!filling.cut_one_side && filling.truncated);
    }

    #[test]
    fn a_box_whose_bottom_is_above_the_horizon_uses_the_known_height() {
        let rig = argoverse2_rig().unwrap();
        let camera = rig.camera("ring_front_center").unwrap();
        let horizon = camera.horizon_row().unwrap() as f32;
        let k = camera.model().intrinsics();
        // A car-sized box 40 m ahead, drawn above the horizon (e.g. on a crest).
        let box_height = (k.fy_px * 1.5 / 40.0) as f32;
        let cx = k.cx_px as f32;
        let floating = [
            cx - box_height,
            horizon - 2.0 * box_height,
            cx + box_height,
            horizon - box_height,
        ];
        let found = observe(CameraId(0), camera, &detection("car", floating)).unwrap();
        assert_eq!(found.method, Method::KnownHeight);
        assert!((found.position.x - 40.0).abs() < 4.0, "{}", found.position);
        assert!(
            observe(CameraId(0), camera, &detection("kite", floating)).is_none(),
            "no height known"
        );
    }
}
