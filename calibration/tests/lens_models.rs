//! The three ROS lens models as values: reading and writing ROS
//! `CameraInfo` distortion, the errors for what ROS would not publish, what
//! Argoverse 2 can hold, and the edges of each model's valid region.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::f64::consts::{FRAC_PI_2, PI};

use common::fisheye_camera_model;
use heptaview_calibration::{
    CameraError, CameraModel, Distortion, FisheyeDistortion, Intrinsics, Lens,
};
use nalgebra::{Point2, Point3, Vector2};
use proptest::prelude::*;

fn intrinsics() -> Intrinsics {
    Intrinsics {
        width_px: 1280,
        height_px: 800,
        fx_px: 500.0,
        fy_px: 500.0,
        cx_px: 640.0,
        cy_px: 400.0,
    }
}

#[test]
fn each_ros_model_reads_its_coefficients_in_opencv_order() {
    let plumb = Lens::from_ros("plumb_bob", &[-0.3, 0.1, 0.001, -0.002, -0.02]).unwrap();
    assert_eq!(
        plumb,
        Lens::RadialTangential(Distortion {
            k1: -0.3,
            k2: 0.1,
            p1: 0.001,
            p2: -0.002,
            k3: -0.02,
            ..Distortion::NONE
        })
    );
    let rational = Lens::from_ros(
        "rational_polynomial",
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
    )
    .unwrap();
    let Lens::RadialTangential(d) = rational else {
        panic!("{rational:?}")
    };
    assert_eq!(
        d.as_opencv_array8(),
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    );
    assert_eq!(
        (d.k1, d.k2, d.p1, d.p2, d.k3, d.k4, d.k5, d.k6),
        (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    );
    assert_eq!(
        Lens::from_ros("equidistant", &[0.1, 0.2, 0.3, 0.4]).unwrap(),
        Lens::Equidistant(FisheyeDistortion {
            k1: 0.1,
            k2: 0.2,
            k3: 0.3,
            k4: 0.4
        })
    );
}

#[test]
fn an_empty_d_means_no_distortion() {
    for model in ["plumb_bob", "rational_polynomial", ""] {
        assert_eq!(Lens::from_ros(model, &[]).unwrap(), Lens::NONE, "{model}");
    }
    let fisheye = Lens::from_ros("equidistant", &[]).unwrap();
    assert_eq!(fisheye, Lens::Equidistant(FisheyeDistortion::NONE));
    assert!(fisheye.is_none());
}

#[test]
fn wrong_counts_and_unknown_models_name_the_model_and_count() {
    let e = Lens::from_ros("plumb_bob", &[0.1; 8]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "distortion model `plumb_bob` takes 5 coefficients (or none), got 8"
    );
    let e = Lens::from_ros("rational_polynomial", &[0.1; 5]).unwrap_err();
    assert_eq!(
        e,
        CameraError::LensCoefficientCount {
            model: "rational_polynomial".into(),
            expected: 8,
            coefficients: 5
        }
    );
    let e = Lens::from_ros("equidistant", &[0.1; 5]).unwrap_err();
    assert!(e.to_string().contains("takes 4 coefficients"), "{e}");
    let e = Lens::from_ros("fisheye", &[0.1; 4]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown distortion model `fisheye` (with 4 coefficients): expected plumb_bob, rational_polynomial or equidistant"
    );
    assert!(matches!(
        Lens::from_ros("", &[0.1; 5]),
        Err(CameraError::UnknownLensModel { .. })
    ));
    let e = Lens::from_ros("plumb_bob", &[0.1, f64::NAN, 0.0, 0.0, 0.0]).unwrap_err();
    assert_eq!(e.to_string(), "`k2` is not a finite number (NaN)");
}

#[test]
fn to_ros_reads_back_to_the_same_lens() {
    let lenses = [
        Lens::NONE,
        Lens::RadialTangential(Distortion {
            k1: -0.26,
            p2: 0.001,
            ..Distortion::NONE
        }),
        Lens::RadialTangential(Distortion {
            k1: 2.0,
            k6: 0.1,
            ..Distortion::NONE
        }),
        Lens::Equidistant(FisheyeDistortion {
            k1: -0.04,
            k4: 0.002,
            ..FisheyeDistortion::NONE
        }),
    ];
    let names = [
        "plumb_bob",
        "plumb_bob",
        "rational_polynomial",
        "equidistant",
    ];
    let counts = [5, 5, 8, 4];
    for ((lens, name), count) in lenses.iter().zip(names).zip(counts) {
        let (model, d) = lens.to_ros();
        assert_eq!((model, d.len()), (name, count), "{lens:?}");
        assert_eq!(lens.ros_model_name(), name);
        assert_eq!(Lens::from_ros(model, &d).unwrap(), *lens);
    }
}

#[test]
fn av2_intrinsics_take_only_radial_polynomial_lenses() {
    let radial = Lens::RadialTangential(Distortion {
        k1: -0.26,
        k2: 0.09,
        k3: -0.01,
        ..Distortion::NONE
    });
    assert_eq!(radial.radial_k1_k2_k3().unwrap(), [-0.26, 0.09, -0.01]);
    let tangential_rational = Lens::RadialTangential(Distortion {
        k1: -0.26,
        p1: 0.001,
        k5: 0.2,
        ..Distortion::NONE
    });
    assert_eq!(
        tangential_rational
            .radial_k1_k2_k3()
            .unwrap_err()
            .to_string(),
        "the rational_polynomial lens has p1, k5, which a radial k1 k2 k3 polynomial (as in Argoverse 2's intrinsics) cannot hold"
    );
    let fisheye = Lens::Equidistant(FisheyeDistortion::NONE);
    assert!(matches!(
        fisheye.radial_k1_k2_k3(),
        Err(CameraError::LensNotRadialPolynomial {
            model: "equidistant",
            ..
        })
    ));
}

#[test]
fn distortion_accessor_is_for_radial_tangential_lenses_only() {
    let fisheye =
        CameraModel::with_lens(intrinsics(), Lens::Equidistant(FisheyeDistortion::NONE)).unwrap();
    assert!(fisheye.distortion().is_none());
    let plumb = CameraModel::new(intrinsics(), Distortion::NONE).unwrap();
    assert_eq!(plumb.distortion(), Some(&Distortion::NONE));
    assert_eq!(plumb.lens(), &Lens::NONE);
    assert_eq!(Distortion::NONE.as_opencv_array().len(), 5);
    let rational = Distortion {
        k4: 0.1,
        ..Distortion::NONE
    };
    assert_eq!(rational.as_opencv_array().len(), 8);
}

#[test]
fn an_undistorted_fisheye_is_the_equidistant_projection() {
    // r_pixels = f θ: the ideal fisheye, with θ measured from the optical axis.
    let model =
        CameraModel::with_lens(intrinsics(), Lens::Equidistant(FisheyeDistortion::NONE)).unwrap();
    for degrees in [0.0f64, 10.0, 45.0, 80.0, 89.9] {
        let theta = degrees.to_radians();
        let pixel = model
            .project(&Point3::new(theta.sin(), 0.0, theta.cos()))
            .unwrap();
        assert!(
            (pixel.x - (640.0 + 500.0 * theta)).abs() < 1e-9,
            "{degrees}°: {pixel}"
        );
        let ray = model.unproject(&pixel).unwrap();
        assert!((ray.x.atan2(ray.z) - theta).abs() < 1e-12, "{degrees}°");
    }
}

#[test]
fn fisheye_rays_at_or_behind_90_degrees_do_not_project() {
    let model =
        CameraModel::with_lens(intrinsics(), Lens::Equidistant(FisheyeDistortion::NONE)).unwrap();
    assert_eq!(model.fold_radius(), f64::INFINITY);
    // OpenCV's fisheye would mirror these onto rays in front (θ = atan(r)
    // ignores the sign of z); the model refuses them instead.
    assert!(model.project(&Point3::new(1.0, 0.0, 0.0)).is_none());
    assert!(model.project(&Point3::new(1.0, 0.5, -0.1)).is_none());
    assert!(model.project(&Point3::new(0.0, 0.0, -1.0)).is_none());
    // And the pixels where they would land (θ_d ≥ 90°) have no ray.
    assert!(
        model
            .unproject(&Point2::new(640.0 + 500.0 * FRAC_PI_2 + 1e-6, 400.0))
            .is_none()
    );
    assert!(
        model
            .unproject(&Point2::new(640.0 + 500.0 * 2.0, 400.0))
            .is_none()
    );
    assert!(model.undistort_points(&[Point2::new(640.0 + 500.0 * 1.6, 400.0)])[0].is_none());
}

#[test]
fn a_fisheye_that_folds_before_90_degrees_refuses_rays_past_the_fold() {
    // θ_d = θ (1 - 0.2 θ²) stops growing at θ = 1/√0.6 (74.5°).
    let lens = FisheyeDistortion {
        k1: -0.2,
        ..FisheyeDistortion::NONE
    };
    let fold = 1.0 / 0.6f64.sqrt();
    assert!(
        (lens.fold_angle() - fold).abs() < 1e-12,
        "{}",
        lens.fold_angle()
    );
    let model = CameraModel::with_lens(intrinsics(), Lens::Equidistant(lens)).unwrap();
    assert!((model.fold_radius() - fold.tan()).abs() < 1e-9);
    let at = |theta: f64| Point3::new(theta.sin(), 0.0, theta.cos());
    assert!(model.project(&at(fold - 1e-3)).is_some());
    assert!(model.project(&at(fold + 1e-3)).is_none());
    // Past the fold's distorted radius no ray lands at all.
    let edge = fold * (1.0 - 0.2 * fold * fold);
    assert!(
        model
            .unproject(&Point2::new(640.0 + 500.0 * (edge + 1e-6), 400.0))
            .is_none()
    );
    assert!(
        model
            .unproject(&Point2::new(640.0 + 500.0 * (edge - 1e-3), 400.0))
            .is_some()
    );
}

#[test]
fn a_rational_pole_ends_the_valid_region() {
    // Denominator 1 - r²: a pole at r = 1 with a numerator that does not
    // cancel it. Rays at and past it do not project.
    let d = Distortion {
        k4: -1.0,
        ..Distortion::NONE
    };
    assert!((d.fold_radius() - 1.0).abs() < 1e-9, "{}", d.fold_radius());
    let model = CameraModel::new(intrinsics(), d).unwrap();
    assert!(model.project(&Point3::new(0.99, 0.0, 1.0)).is_some());
    assert!(model.project(&Point3::new(1.01, 0.0, 1.0)).is_none());
    // Below the pole, r / (1 - r²) grows to infinity: every pixel has its ray.
    let ray = model
        .unproject(&Point2::new(640.0 + 500.0 * 50.0, 400.0))
        .unwrap();
    assert!(ray.x / ray.z < 1.0 && ray.x / ray.z > 0.98, "{ray:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Out to 89° off axis, where tan θ is 57 and a pinhole lens has long
    /// given up: pixel → ray → pixel and ray → pixel → ray.
    #[test]
    fn fisheye_round_trips_out_to_wide_angles(
        model in fisheye_camera_model(),
        (u, azimuth, distance) in (0.0f64..1.0, -PI..PI, 0.1f64..100.0),
    ) {
        let Lens::Equidistant(lens) = *model.lens() else { unreachable!() };
        let reach = lens.fold_angle().min(89f64.to_radians());
        let theta = u * reach;
        let p = Point3::new(azimuth.cos() * theta.sin(), azimuth.sin() * theta.sin(), theta.cos()) * distance;
        prop_assume!(common::min_radial_slope(&model, Vector2::new(p.x / p.z, p.y / p.z)) > 0.1);
        let pixel = model.project(&p).unwrap();
        let ray = model.unproject(&pixel).unwrap();
        prop_assert!((ray.into_inner() - p.coords.normalize()).norm() < 1e-9,
            "{theta}: {ray:?} vs {}", p.coords.normalize());
        let back = model.project(&Point3::from(ray.into_inner())).unwrap();
        prop_assert!((back - pixel).norm() < 1e-9, "{pixel} -> {back}");
    }
}
