//! Projection and undistortion against an independent reference: OpenCV's
//! `projectPoints` and `undistortPoints` (plumb_bob and rational_polynomial)
//! and `cv::fisheye::projectPoints` / `cv::fisheye::undistortPoints`
//! (equidistant), through the opencv crate.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::f64::consts::{FRAC_PI_2, PI};

use common::{
    FOLD_MARGIN, fisheye_camera_model, mounted, mounted_camera, radial_tangential_camera_model,
    well_inside_fold,
};
use heptaview_calibration::{
    CameraModel, Distortion, FisheyeDistortion, Intrinsics, Lens, RigCamera, argoverse2_rig,
};
use nalgebra::{Isometry3, Point2, Point3, Vector2};
use opencv::core::{Mat, Point2d, Point3d, TermCriteria, TermCriteria_Type, Vector, no_array};
use proptest::prelude::*;

const TOLERANCE_PX: f64 = 1e-6;

fn opencv_camera_matrix(model: &CameraModel) -> Mat {
    Mat::from_slice_2d(&model.camera_matrix()).unwrap()
}

/// The coefficient vector OpenCV takes for the model's lens: 5 or 8 for
/// radial-tangential, 4 for `cv::fisheye`.
fn opencv_distortion(model: &CameraModel) -> Vector<f64> {
    match model.lens() {
        Lens::RadialTangential(d) => Vector::from_slice(&d.as_opencv_array()),
        Lens::Equidistant(d) => Vector::from_slice(&d.as_opencv_array()),
    }
}

fn termination() -> TermCriteria {
    TermCriteria::new(
        TermCriteria_Type::COUNT as i32 + TermCriteria_Type::EPS as i32,
        200,
        1e-15,
    )
    .unwrap()
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
    let (rvec, tvec) = (
        Vector::<f64>::from_slice(rvec.as_slice()),
        Vector::<f64>::from_slice(tvec.as_slice()),
    );
    let (k, d) = (
        opencv_camera_matrix(camera.model()),
        opencv_distortion(camera.model()),
    );
    match camera.model().lens() {
        Lens::RadialTangential(_) => {
            opencv::calib3d::project_points_def(&object, &rvec, &tvec, &k, &d, &mut image)
        }
        Lens::Equidistant(_) => opencv::calib3d::fisheye_project_points_vec_def(
            &object, &mut image, &rvec, &tvec, &k, &d,
        ),
    }
    .unwrap();
    image.iter().map(|p| Point2::new(p.x, p.y)).collect()
}

fn opencv_undistort(model: &CameraModel, pixels: &[Point2<f64>]) -> Vec<Point2<f64>> {
    let src: Vector<Point2d> = pixels.iter().map(|p| Point2d::new(p.x, p.y)).collect();
    let mut dst: Vector<Point2d> = Vector::new();
    let k = opencv_camera_matrix(model);
    let d = opencv_distortion(model);
    match model.lens() {
        Lens::RadialTangential(_) => opencv::calib3d::undistort_points_iter(
            &src,
            &mut dst,
            &k,
            &d,
            &no_array(),
            &k,
            termination(),
        ),
        // cv::fisheye stops when a Newton step on θ is below epsilon; 1e-15
        // is under θ's rounding step for wide angles and would never be met
        // (OpenCV then reports the point as failed), so 1e-14 here: Newton
        // converges quadratically, so the result is exact to rounding anyway.
        Lens::Equidistant(_) => opencv::calib3d::fisheye_undistort_points(
            &src,
            &mut dst,
            &k,
            &d,
            &no_array(),
            &k,
            TermCriteria::new(
                TermCriteria_Type::COUNT as i32 + TermCriteria_Type::EPS as i32,
                200,
                1e-14,
            )
            .unwrap(),
        ),
    }
    .unwrap();
    dst.iter().map(|p| Point2::new(p.x, p.y)).collect()
}

/// Whether OpenCV's undistortPoints converges from the optical axis out to
/// normalised point `n`. It iterates r ← r_d / radial(r), a fixed-point
/// iteration whose rate is |r·radial'(r) / radial(r)| = |g'(r) / radial(r) - 1|
/// (g(r) = r·radial(r), the distorted radius): where that nears 1, because
/// the lens flattens towards its fold or a rational lens's radial factor
/// swings, OpenCV crawls or cycles and its answer no longer reprojects to
/// the pixel. 0.4 keeps it to a few dozen iterations for 1e-15.
fn opencv_iteration_contracts(model: &CameraModel, n: Vector2<f64>) -> bool {
    const H: f64 = 1e-7;
    let Lens::RadialTangential(d) = *model.lens() else {
        return true;
    };
    let radial_only = Distortion {
        p1: 0.0,
        p2: 0.0,
        ..d
    };
    let g = |r: f64| radial_only.distort(Vector2::new(r, 0.0)).x;
    (1..=100).all(|i| {
        let r = n.norm() * f64::from(i) / 100.0;
        let rate = ((g(r + H) - g(r - H)) / (2.0 * H)) / (g(r) / r) - 1.0;
        r < H || rate.abs() < 0.4
    })
}

/// How far off axis a fisheye camera's rays project: its fold or 90°.
fn fisheye_reach(model: &CameraModel) -> f64 {
    match model.lens() {
        Lens::Equidistant(d) => d.fold_angle().min(FRAC_PI_2),
        Lens::RadialTangential(_) => panic!("not a fisheye: {model:?}"),
    }
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
        model in radial_tangential_camera_model(),
        raw in prop::collection::vec((-0.5f64..0.5, -0.5f64..0.5), 1..24),
    ) {
        // OpenCV inverts the distortion by fixed-point iteration, which slows
        // to a crawl or cycles where the radial factor changes fast, so the
        // comparison keeps to where that iteration contracts well. Our
        // Newton solver is checked against the exact pinhole pixel over the
        // whole field in round_trips.rs.
        prop_assume!(raw.iter().all(|&(x, y)| {
            well_inside_fold(&model, Vector2::new(x, y))
                && opencv_iteration_contracts(&model, Vector2::new(x, y))
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

    #[test]
    fn fisheye_project_matches_opencv_fisheye_project_points(
        camera in mounted(fisheye_camera_model()),
        raw in prop::collection::vec((0.0f64..1.0, -PI..PI, 0.2f64..150.0), 1..24),
    ) {
        // Rays by their angle off axis, out to 90% of the lens's reach (its
        // fold or 90°): up to 81° for most lenses, where tan θ is 6.3.
        let reach = fisheye_reach(camera.model());
        let points: Vec<Point3<f64>> = raw
            .iter()
            .map(|&(u, azimuth, distance)| {
                let theta = u * FOLD_MARGIN * reach;
                let p_camera = Point3::new(
                    azimuth.cos() * theta.sin(),
                    azimuth.sin() * theta.sin(),
                    theta.cos(),
                ) * distance;
                camera.ego_from_camera() * p_camera
            })
            .collect();
        let reference = opencv_project(&camera, &points);
        for (p, expected) in points.iter().zip(&reference) {
            let ours = camera.project_ego_point(p).unwrap();
            prop_assert!((ours - expected).norm() < TOLERANCE_PX,
                "{p}: ours {ours}, OpenCV {expected}");
        }
    }

    #[test]
    fn fisheye_undistort_points_matches_opencv(
        model in fisheye_camera_model(),
        raw in prop::collection::vec((0.0f64..1.0, -PI..PI), 1..24),
    ) {
        let reach = fisheye_reach(&model);
        let pixels: Vec<Point2<f64>> = raw
            .iter()
            .map(|&(u, azimuth)| {
                let radius = (u * FOLD_MARGIN * reach).tan();
                model.project(&Point3::new(azimuth.cos() * radius, azimuth.sin() * radius, 1.0)).unwrap()
            })
            .collect();
        // cv::fisheye::undistortPoints clamps θ_d to 90°, so pixels past that
        // distorted radius (lenses with positive k's reach it before θ does)
        // are outside what it can be compared on.
        let k = model.intrinsics();
        prop_assume!(pixels.iter().all(|p| {
            Vector2::new((p.x - k.cx_px) / k.fx_px, (p.y - k.cy_px) / k.fy_px).norm() < FRAC_PI_2 - 1e-6
        }));
        let reference = opencv_undistort(&model, &pixels);
        let ours = model.undistort_points(&pixels);
        for ((pixel, expected), ours) in pixels.iter().zip(&reference).zip(&ours) {
            let ours = ours.unwrap();
            // Undistorted pixels run out to f·tan 81° (6.3 f), so the bound
            // is relative to their distance from the principal point.
            let scale = 1.0 + (expected - Point2::new(k.cx_px, k.cy_px)).norm() / k.fx_px;
            prop_assert!((ours - expected).norm() < TOLERANCE_PX * scale,
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

/// Pixels on a grid over the image, corners and edges included.
fn image_grid(model: &CameraModel, columns: u32, rows: u32) -> Vec<Point2<f64>> {
    let (w, h) = (f64::from(model.width_px()), f64::from(model.height_px()));
    (0..=rows)
        .flat_map(|j| {
            (0..=columns).map(move |i| {
                Point2::new(
                    f64::from(i) / f64::from(columns) * w - 0.5,
                    f64::from(j) / f64::from(rows) * h - 0.5,
                )
            })
        })
        .collect()
}

/// Projects the rays through `pixels` (those that unproject) at several
/// depths with ours and OpenCV's, checks the round trip pixel → ray → pixel
/// and returns the largest difference from OpenCV, in pixels.
fn compare_projection_over(model: &CameraModel, pixels: &[Point2<f64>]) -> (f64, usize) {
    let camera = RigCamera::new("reference", model.clone(), Isometry3::identity()).unwrap();
    let mut points = Vec::new();
    for (n, pixel) in pixels.iter().enumerate() {
        let Some(ray) = model.unproject(pixel) else {
            continue;
        };
        let back = model.project(&Point3::from(ray.into_inner())).unwrap();
        assert!((back - pixel).norm() < 1e-9, "{pixel} -> {back}");
        points.push(Point3::from(
            ray.into_inner() * (0.5 + n as f64 % 7.0 * 11.0),
        ));
    }
    let reference = opencv_project(&camera, &points);
    let worst = points
        .iter()
        .zip(&reference)
        .map(|(p, expected)| (model.project(p).unwrap() - expected).norm())
        .fold(0.0, f64::max);
    (worst, points.len())
}

/// The largest difference from OpenCV's undistortPoints over `pixels`.
fn compare_undistortion_over(model: &CameraModel, pixels: &[Point2<f64>]) -> f64 {
    let reference = opencv_undistort(model, pixels);
    let ours = model.undistort_points(pixels);
    pixels
        .iter()
        .zip(&reference)
        .zip(&ours)
        .map(|((pixel, expected), ours)| {
            let ours = ours.unwrap_or_else(|| panic!("{pixel} does not undistort"));
            (ours - expected).norm()
        })
        .fold(0.0, f64::max)
}

/// A real rational_polynomial calibration: the `/oakd/rgb/preview/camera_info`
/// of a TurtleBot 4's OAK-D (Luxonis depthai-ros, 250x250 preview), quoted in
/// a public ROS 2 AprilTag node. Factory calibrations like it have large
/// coefficients whose numerator and denominator nearly cancel; this one's
/// denominator reaches zero 34° off axis (normalised radius 0.6736), just
/// before the numerator does, so past that pole the model is not a lens.
fn oak_d_preview() -> CameraModel {
    let lens = Lens::from_ros(
        "rational_polynomial",
        &[
            -4.860828876495361,
            17.2819766998291,
            0.00020376102474983782,
            0.0010251018684357405,
            -25.172250747680664,
            -4.943647384643555,
            17.51442527770996,
            -25.290760040283203,
        ],
    )
    .unwrap();
    CameraModel::with_lens(
        Intrinsics {
            width_px: 250,
            height_px: 250,
            fx_px: 196.50531005859375,
            fy_px: 196.50531005859375,
            cx_px: 126.86713409423828,
            cy_px: 125.84786987304688,
        },
        lens,
    )
    .unwrap()
}

/// OpenCV's own fisheye test camera (modules/calib3d/test/test_fisheye.cpp,
/// `fisheyeTest::K` and `fisheyeTest::D`, calibrated from its fisheye
/// sample images): 1280x800 at f = 558 px, its corners 75° off axis.
fn opencv_fisheye_test_camera() -> CameraModel {
    CameraModel::with_lens(
        Intrinsics {
            width_px: 1280,
            height_px: 800,
            fx_px: 558.478087865323,
            fy_px: 560.506767351568,
            cx_px: 620.458515360843,
            cy_px: 381.939424848348,
        },
        Lens::Equidistant(FisheyeDistortion {
            k1: -0.0014613319981768,
            k2: -0.00329861110580401,
            k3: 0.00605760088590183,
            k4: -0.00374209380722371,
        }),
    )
    .unwrap()
}

#[test]
fn a_real_rational_calibration_projects_and_undistorts_like_opencv() {
    let model = oak_d_preview();
    assert!(
        (model.fold_radius() - 0.67363).abs() < 1e-4,
        "the pole: {}",
        model.fold_radius()
    );
    let grid = image_grid(&model, 50, 50);
    // Where the model is a sound lens: well inside the pole and the
    // distorted radius growing (near the pole it shoots off to infinity).
    let sound: Vec<Point2<f64>> = grid
        .iter()
        .copied()
        .filter(|pixel| {
            model.unproject(pixel).is_some_and(|ray| {
                let n = ray.xy() / ray.z;
                well_inside_fold(&model, n) && opencv_iteration_contracts(&model, n)
            })
        })
        .collect();
    assert!(
        sound.len() > grid.len() / 2,
        "{} of {}",
        sound.len(),
        grid.len()
    );
    let (projection, points) = compare_projection_over(&model, &sound);
    let undistortion = compare_undistortion_over(&model, &sound);
    eprintln!(
        "OAK-D rational: {points} points, projection max {projection:.2e} px, \
         undistortion max {undistortion:.2e} px"
    );
    assert!(projection < TOLERANCE_PX, "{projection}");
    assert!(undistortion < TOLERANCE_PX, "{undistortion}");
}

#[test]
fn opencv_s_fisheye_test_camera_projects_and_undistorts_like_opencv() {
    let model = opencv_fisheye_test_camera();
    let grid = image_grid(&model, 64, 40);
    let (projection, points) = compare_projection_over(&model, &grid);
    assert_eq!(points, grid.len());
    assert!(model.lens_covers_image());
    // This lens folds past 90°, where its θ_d is 1.458: pixels beyond that
    // distorted radius (off this image) belong to rays behind the camera,
    // which the model refuses rather than mirroring them to the front.
    let k = model.intrinsics();
    let ray = model
        .unproject(&Point2::new(k.cx_px + 1.45 * k.fx_px, k.cy_px))
        .unwrap();
    assert!(ray.z > 0.0 && ray.z < 0.03, "{ray:?}");
    assert!(
        model
            .unproject(&Point2::new(k.cx_px + 1.47 * k.fx_px, k.cy_px))
            .is_none()
    );
    // cv::fisheye::undistortPoints clamps θ_d at 90°; compare inside it.
    let inside: Vec<Point2<f64>> = grid
        .iter()
        .copied()
        .filter(|p| {
            Vector2::new((p.x - k.cx_px) / k.fx_px, (p.y - k.cy_px) / k.fy_px).norm()
                < FRAC_PI_2 - 1e-6
        })
        .collect();
    let undistortion = compare_undistortion_over(&model, &inside);
    eprintln!(
        "OpenCV fisheye test camera: {points} points, projection max {projection:.2e} px, \
         {} pixels undistorted, max {undistortion:.2e} px",
        inside.len()
    );
    assert!(projection < TOLERANCE_PX, "{projection}");
    assert!(undistortion < TOLERANCE_PX, "{undistortion}");
}

#[test]
fn rational_coefficients_all_reach_opencv() {
    // Each of k4, k5, k6 alone must change the projection as OpenCV's does,
    // so that a coefficient read into the wrong slot cannot pass.
    for slot in 0..3 {
        let mut d = Distortion {
            k1: 0.1,
            k2: 0.01,
            k3: 0.001,
            ..Distortion::NONE
        };
        *[&mut d.k4, &mut d.k5, &mut d.k6][slot] = 0.05;
        let model = CameraModel::new(
            Intrinsics {
                width_px: 1920,
                height_px: 1080,
                fx_px: 1000.0,
                fy_px: 1000.0,
                cx_px: 960.0,
                cy_px: 540.0,
            },
            d,
        )
        .unwrap();
        assert_eq!(opencv_distortion(&model).len(), 8);
        let grid = image_grid(&model, 16, 9);
        let (projection, _) = compare_projection_over(&model, &grid);
        assert!(projection < TOLERANCE_PX, "k{}: {projection}", slot + 4);
    }
}
