//! Property tests: projection and its inverses agree on random cameras (all
//! three lens models) and points.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{any_camera_model, mounted, well_inside_fold};
use heptaview_calibration::{Rig, RigCamera, argoverse2_rig, ego_from_camera_mount};
use nalgebra::{Point2, Point3, Vector2, Vector3};
use proptest::prelude::*;

/// A point in front of the camera, within a field of view of about ±50°.
fn point_in_view() -> impl Strategy<Value = Point3<f64>> {
    (-1.2f64..1.2, -1.2f64..1.2, 0.5f64..200.0)
        .prop_map(|(x, y, z)| Point3::new(x * z * 0.9, y * z * 0.9, z))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn unproject_inverts_project(model in any_camera_model(), p in point_in_view()) {
        // Past the lens's fold no inverse exists (and project refuses the point).
        let normalised = Vector2::new(p.x / p.z, p.y / p.z);
        prop_assume!(well_inside_fold(&model, normalised));

        let pixel = model.project(&p).unwrap();
        let ray = model.unproject(&pixel).unwrap();
        let expected = p.coords.normalize();
        prop_assert!((ray.into_inner() - expected).norm() < 1e-9,
            "ray {:?} vs {:?}", ray, expected);
    }

    #[test]
    fn undistorted_points_are_pinhole_projections(model in any_camera_model(), p in point_in_view()) {
        let normalised = Vector2::new(p.x / p.z, p.y / p.z);
        prop_assume!(well_inside_fold(&model, normalised));

        let pixel = model.project(&p).unwrap();
        let undistorted = model.undistort_points(&[pixel])[0].unwrap();
        let k = model.intrinsics();
        let pinhole = Point2::new(k.fx_px * normalised.x + k.cx_px, k.fy_px * normalised.y + k.cy_px);
        prop_assert!((undistorted - pinhole).norm() < 1e-6);
    }

    #[test]
    fn pixel_to_ground_inverts_project_ego_point(
        camera in mounted(any_camera_model()),
        (u, v) in (0.0f64..1.0, 0.0f64..1.0),
    ) {
        let model = camera.model();
        let pixel = Point2::new(
            u * f64::from(model.width_px() - 1),
            v * f64::from(model.height_px() - 1),
        );
        let Some(ground) = camera.pixel_to_ground(&pixel) else {
            // At or above the horizon: the ray must not point down.
            let ray = camera.pixel_ray_in_ego(&pixel);
            prop_assert!(ray.is_none_or(|r| r.z >= -1e-9));
            return Ok(());
        };
        prop_assert!(ground.z.abs() < 1e-9);
        let back = camera.project_ego_point(&ground).unwrap();
        prop_assert!((back - pixel).norm() < 1e-6, "{} -> {} -> {}", pixel, ground, back);
    }

    #[test]
    fn project_ego_point_inverts_pixel_to_ground(
        camera in mounted(any_camera_model()),
        (range, bearing) in (2.0f64..80.0, -1.0f64..1.0),
    ) {
        // A ground point along the camera's heading, within its view.
        let axis = camera.ego_from_camera().rotation * Vector3::z();
        let heading = axis.y.atan2(axis.x) + bearing * 0.4;
        let origin = camera.ego_from_camera().translation.vector;
        let ground = Point3::new(origin.x + range * heading.cos(), origin.y + range * heading.sin(), 0.0);
        let pixel = camera.project_ego_point(&ground);
        prop_assume!(pixel.is_some_and(|p| camera.model().contains(&p)));
        let back = camera.pixel_to_ground(&pixel.unwrap()).unwrap();
        prop_assert!((back - ground).norm() < 1e-7 * range, "{} -> {}", ground, back);
    }
}

#[test]
fn the_av2_rig_sees_the_ground_below_the_horizon_and_not_above() {
    let rig = argoverse2_rig().unwrap();
    for camera in rig.cameras() {
        let horizon = camera.horizon_row().unwrap();
        let k = camera.model().intrinsics();
        // Zero-pitch mounts: the horizon crosses the heading at the principal point.
        assert!(
            (horizon - k.cy_px).abs() < 1e-9,
            "{}: {horizon}",
            camera.name()
        );
        let below = Point2::new(k.cx_px, horizon + 40.0);
        let above = Point2::new(k.cx_px, horizon - 1.0);
        let ground = camera.pixel_to_ground(&below).unwrap();
        assert!(
            ground.coords.xy().norm() > 10.0,
            "{}: {ground}",
            camera.name()
        );
        assert!(camera.pixel_to_ground(&above).is_none());
        assert!(
            camera
                .pixel_to_ground(&Point2::new(k.cx_px, horizon))
                .is_none()
        );
    }
}

#[test]
fn a_point_ahead_of_the_car_lands_in_the_front_centre_camera() {
    let rig = argoverse2_rig().unwrap();
    let front = rig.camera("ring_front_center").unwrap();
    let pixel = front
        .project_ego_point(&Point3::new(21.63, 0.0, 1.43))
        .unwrap();
    assert!(
        (pixel.x - 774.5).abs() < 1e-9 && (pixel.y - 1023.5).abs() < 1e-9,
        "{pixel}"
    );
    // ... and behind it, in neither front camera but in both rears.
    let behind = Point3::new(-15.0, 0.0, 0.0);
    for name in ["ring_front_center", "ring_front_left", "ring_front_right"] {
        let px = rig.camera(name).unwrap().project_ego_point(&behind);
        assert!(
            px.is_none_or(|p| !rig.camera(name).unwrap().model().contains(&p)),
            "{name}"
        );
    }
    for name in ["ring_rear_left", "ring_rear_right"] {
        let camera = rig.camera(name).unwrap();
        let px = camera.project_ego_point(&behind).unwrap();
        assert!(camera.model().contains(&px), "{name}: {px}");
    }
}

#[test]
fn av2_neighbours_overlap_and_the_ring_covers_all_around() {
    let rig = argoverse2_rig().unwrap();
    let ring = [
        "ring_front_center",
        "ring_front_left",
        "ring_side_left",
        "ring_rear_left",
        "ring_rear_right",
        "ring_side_right",
        "ring_front_right",
    ];
    for (i, a) in ring.iter().enumerate() {
        let b = ring[(i + 1) % ring.len()];
        let overlap = rig.fov_overlap_deg(a, b).unwrap();
        assert!(overlap > 0.5 && overlap < 30.0, "{a}/{b}: {overlap}");
        assert!((overlap - rig.fov_overlap_deg(b, a).unwrap()).abs() < 1e-9);
    }
    assert_eq!(
        rig.fov_overlap_deg("ring_front_center", "ring_rear_left")
            .unwrap(),
        0.0
    );
    assert_eq!(rig.overlapping_pairs().len(), 7);
    let total_fov: f64 = rig
        .cameras()
        .iter()
        .map(|c| c.horizontal_fov_deg().unwrap())
        .sum();
    let total_overlap: f64 = rig.overlapping_pairs().iter().map(|(_, _, o)| o).sum();
    assert!(
        total_fov - total_overlap >= 360.0 - 1e-9,
        "{total_fov} - {total_overlap}"
    );
}

#[test]
fn scaling_the_rig_keeps_every_projection_in_proportion() {
    let rig = argoverse2_rig().unwrap();
    let small = rig.scaled_to_width(512).unwrap();
    let front = small.camera("ring_front_center").unwrap().model();
    assert_eq!((front.width_px(), front.height_px()), (388, 512));
    let side = small.camera("ring_side_left").unwrap().model();
    assert_eq!((side.width_px(), side.height_px()), (512, 388));
    let p = Point3::new(12.0, 6.0, 0.0);
    for (full, scaled) in rig.cameras().iter().zip(small.cameras()) {
        let (Some(a), Some(b)) = (full.project_ego_point(&p), scaled.project_ego_point(&p)) else {
            continue;
        };
        let sx = f64::from(scaled.model().width_px()) / f64::from(full.model().width_px());
        let sy = f64::from(scaled.model().height_px()) / f64::from(full.model().height_px());
        assert!((b.x - ((a.x + 0.5) * sx - 0.5)).abs() < 1e-9);
        assert!((b.y - ((a.y + 0.5) * sy - 0.5)).abs() < 1e-9);
    }
    assert!(rig.scaled_to_width(0).is_err());
    assert!(rig.scaled_to_width(4096).is_err());
}

#[test]
fn a_rig_built_in_code_matches_its_mount_description() {
    let model = argoverse2_rig().unwrap().cameras()[1].model().clone();
    let pose = ego_from_camera_mount(Vector3::new(1.0, 0.5, 1.5), 90f64.to_radians(), 0.0, 0.0);
    let rig = Rig::new("one", vec![RigCamera::new("left", model, pose).unwrap()]).unwrap();
    let left = rig.camera("left").unwrap();
    // The optical axis of a camera turned 90° left points along ego +y.
    let axis = left.ego_from_camera().rotation * Vector3::z();
    assert!((axis - Vector3::y()).norm() < 1e-12);
    // Image right (camera +x) points forward for a left-looking camera.
    let right = left.ego_from_camera().rotation * Vector3::x();
    assert!((right - Vector3::x()).norm() < 1e-12);
}
