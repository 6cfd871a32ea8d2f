//! Projection and undistortion against an independent reference: OpenCV's
//! `projectPoints` and `undistortPoints`, through the opencv crate.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{camera_model, mounted_camera, well_inside_fold};
use heptaview_calibration::{CameraModel, RigCamera, argoverse2_rig};
use nalgebra::{Point2, Point3, Vector2};
use opencv::core::{Mat, Point2d, Point3d, TermCriteria, TermCriteria_Type, Vector, no_array};
use proptest::prelude::*;

const TOLERANCE_PX: f64 = 1e-6;

fn opencv_camera_matrix(model: &CameraModel) -> Mat {
    Mat::from_slice_2d(&model.camera_matrix()).unwrap()
}

fn opencv_distortion(model: &CameraModel) -> Vector<f64> {
    Vector::from_slice(&model.distortion().as_opencv_array())
}

/// OpenCV's projection of ego-frame points through a mounted camera:
/// rvec/tvec are `camera_from_ego`, as `projectPoints` expects.
fn opencv_project(camera: &RigCamera, points_ego: &[Point3<f64>]) -> Vec<Point2<f64>> {
    let camera_from_ego = camera.camera_from_ego();
    let rvec = camera_from_ego.rotation.scaled_axis();
    let tvec = camera_from_ego.translation.vector;
    let object: Vector<Point3d> = points_ego
        .iter()
        .map(|p| Point3d::new(p.x, p.y, p.z))
        .collect();
    let mut image: Vector<Point2d> = Vector::new();
    opencv::calib3d::project_points_def(
        &object,
        &Vector::<f64>::from_slice(rvec.as_slice()),
        &Vector::<f64>::from_slice(tvec.as_slice()),
        &opencv_camera_matrix(camera.model()),
        &opencv_distortion(camera.model()),
        &mut image,
    )
    .unwrap();
    image.iter().map(|p| Point2::new(p.x, p.y)).collect()
}

fn opencv_undistort(model: &CameraModel, pixels: &[Point2<f64>]) -> Vec<Point2<f64>> {
    let src: Vector<Point2d> = pixels.iter().map(|p| Point2d::new(p.x, p.y)).collect();
    let mut dst: Vector<Point2d> = Vector::new();
    let k = opencv_camera_matrix(model);
    let criteria = TermCriteria::new(
        TermCriteria_Type::COUNT as i32 + TermCriteria_Type::EPS as i32,
        200,
        1e-15,
    )
    .unwrap();
    opencv::calib3d::undistort_points_iter(
        &src,
        &mut dst,
        &k,
        &opencv_distortion(model),
        &no_array(),
        &k,
        criteria,
    )
    .unwrap();
    dst.iter().map(|p| Point2::new(p.x, p.y)).collect()
}

/// Points in front of the camera within about ±45°, given in the ego frame.
fn points_in_view(camera: &RigCamera, raw: &[(f64, f64, f64)]) -> Vec<Point3<f64>> {
    raw.iter()
        .map(|&(x, y, depth)| {
            let p_camera = Point3::new(x * depth, y * depth, depth);
            camera.ego_from_camera() * p_camera
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn project_matches_opencv_project_points(
        camera in mounted_camera(),
        raw in prop::collection::vec((-1.0f64..1.0, -1.0f64..1.0, 0.2f64..150.0), 1..24),
    ) {
        prop_assume!(raw.iter().all(|&(x, y, _)| well_inside_fold(camera.model(), Vector2::new(x, y))));
        let points = points_in_view(&camera, &raw);
        let reference = opencv_project(&camera, &points);
        for (p, expected) in points.iter().zip(&reference) {
            let ours = camera.project_ego_point(p).unwrap();
            prop_assert!((ours - expected).norm() < TOLERANCE_PX,
                "{p}: ours {ours}, OpenCV {expected}");
        }
    }

    #[test]
    fn undistort_points_matches_opencv(
        model in camera_model(),
        raw in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5), 1..24),
    ) {
        // OpenCV inverts the distortion by fixed-point iteration, which slows
        // to a crawl where a lens nears its fold (d r_distorted / d r -> 0), so
        // the comparison keeps to rays within about ±27° where it contracts
        // well. Our Newton solver is checked against the exact pinhole pixel
        // over the whole field in round_trips.rs.
        let d = model.distortion();
        prop_assume!(raw.iter().all(|&(x, y)| {
            let r2 = x * x + y * y;
            well_inside_fold(&model, Vector2::new(x, y))
                && 1.0 + 3.0 * d.k1 * r2 + 5.0 * d.k2 * r2 * r2 + 7.0 * d.k3 * r2 * r2 * r2 > 0.6
        }));
        let pixels: Vec<Point2<f64>> = raw
            .iter()
            .map(|&(x, y)| model.project(&Point3::new(x, y, 1.0)).unwrap())
            .collect();
        let reference = opencv_undistort(&model, &pixels);
        let ours = model.undistort_points(&pixels);
        for ((pixel, expected), ours) in pixels.iter().zip(&reference).zip(&ours) {
            let ours = ours.unwrap();
            prop_assert!((ours - expected).norm() < TOLERANCE_PX,
                "{pixel}: ours {ours}, OpenCV {expected}");
        }
    }
}

#[test]
fn the_av2_rig_projects_like_opencv_across_each_image() {
    let rig = argoverse2_rig().unwrap();
    for camera in rig.cameras() {
        // Ground and raised points across the camera's view.
        let mut points = Vec::new();
        for i in 0..12 {
            for j in 0..6 {
                let model = camera.model();
                let pixel = Point2::new(
                    f64::from(i) / 11.0 * f64::from(model.width_px() - 1),
                    f64::from(j) / 5.0 * f64::from(model.height_px() - 1),
                );
                let ray = camera.pixel_ray_in_ego(&pixel).unwrap();
                let origin = Point3::from(camera.ego_from_camera().translation.vector);
                points.push(origin + ray * (3.0 + f64::from(i * j)));
            }
        }
        let reference = opencv_project(camera, &points);
        for (p, expected) in points.iter().zip(&reference) {
            let ours = camera.project_ego_point(p).unwrap();
            assert!(
                (ours - expected).norm() < TOLERANCE_PX,
                "{}: {p}: ours {ours}, OpenCV {expected}",
                camera.name()
            );
        }
    }
}
