//! Random cameras shaped like real automotive ones, shared by the property tests.

// Each test binary uses its own subset of the helpers.
#![allow(dead_code)]

use std::f64::consts::FRAC_PI_2;

use heptaview_calibration::{
    CameraModel, Distortion, FisheyeDistortion, Intrinsics, Lens, RigCamera, ego_from_camera_mount,
};
use nalgebra::{Point2, Vector2, Vector3};
use proptest::prelude::*;

/// Keep test rays this far inside the lens's fold, where the distortion model
/// is well conditioned (as over the image of any sound calibration).
pub const FOLD_MARGIN: f64 = 0.9;

/// The distorted radius must still grow at least this fast (relative to a
/// pinhole, or for a fisheye relative to θ) everywhere up to a test point:
/// where the radial curve flattens the image is squeezed so much that no
/// calibration is used there, and its inverse turns ill-conditioned even
/// before the fold.
pub const MIN_RADIAL_SLOPE: f64 = 0.25;

/// The smallest growth rate of the lens's radial mapping between the optical
/// axis and a normalised image point (x/z, y/z): d r_distorted / d r for a
/// radial-tangential lens (radial terms only, as tangential ones are tiny),
/// dθ_d / dθ for a fisheye. Computed by central differences so that it does
/// not repeat the library's formulas.
pub fn min_radial_slope(model: &CameraModel, normalised: Vector2<f64>) -> f64 {
    const H: f64 = 1e-7;
    let radius = normalised.norm();
    let (end, mapped): (f64, Box<dyn Fn(f64) -> f64>) = match *model.lens() {
        Lens::RadialTangential(d) => {
            let radial_only = Distortion {
                p1: 0.0,
                p2: 0.0,
                ..d
            };
            (
                radius,
                Box::new(move |r: f64| radial_only.distort(Vector2::new(r, 0.0)).x),
            )
        }
        Lens::Equidistant(d) => (
            radius.atan(),
            // θ → θ_d through the public distort: the point at angle θ has
            // normalised radius tan θ and lands at radius θ_d.
            Box::new(move |theta: f64| d.distort(Vector2::new(theta.tan(), 0.0)).x),
        ),
    };
    (0..=100)
        .map(|i| {
            let t = end * f64::from(i) / 100.0;
            (mapped(t + H) - mapped((t - H).max(0.0))) / (t + H - (t - H).max(0.0))
        })
        .fold(f64::INFINITY, f64::min)
}

/// Whether a normalised image point (x/z, y/z) is well inside the lens's fold
/// and where its distortion is well conditioned.
pub fn well_inside_fold(model: &CameraModel, normalised: Vector2<f64>) -> bool {
    let inside = match model.lens() {
        Lens::RadialTangential(_) => normalised.norm() < FOLD_MARGIN * model.fold_radius(),
        // For a fisheye the margin is on the angle: the normalised radius
        // tan θ runs to infinity at 90°.
        Lens::Equidistant(d) => {
            normalised.norm().atan() < FOLD_MARGIN * d.fold_angle().min(FRAC_PI_2)
        }
    };
    inside && min_radial_slope(model, normalised) >= MIN_RADIAL_SLOPE
}

/// Image sizes from VGA to 4K, the principal point within `centre_spread`
/// of the centre, focal lengths `focal_per_px` times the longer side.
fn intrinsics(
    focal_per_px: std::ops::Range<f64>,
    centre_spread: f64,
) -> impl Strategy<Value = Intrinsics> {
    (
        (320u32..4096, 240u32..3072),
        (focal_per_px, 0.9f64..1.1),
        (
            0.5 - centre_spread..0.5 + centre_spread,
            0.5 - centre_spread..0.5 + centre_spread,
        ),
    )
        .prop_map(|((w, h), (f_per_px, aspect), (ucx, ucy))| {
            let f = f64::from(w.max(h)) * f_per_px;
            Intrinsics {
                width_px: w,
                height_px: h,
                fx_px: f,
                fy_px: f * aspect,
                cx_px: f64::from(w) * ucx,
                cy_px: f64::from(h) * ucy,
            }
        })
}

/// Whether the image's four corners unproject well inside the lens's fold.
fn image_well_inside_fold(model: &CameraModel) -> bool {
    let (w, h) = (f64::from(model.width_px()), f64::from(model.height_px()));
    [
        (-0.5, -0.5),
        (w - 0.5, -0.5),
        (-0.5, h - 0.5),
        (w - 0.5, h - 0.5),
    ]
    .iter()
    .all(|&(u, v)| {
        model
            .unproject(&Point2::new(u, v))
            .is_some_and(|ray| well_inside_fold(model, ray.xy() / ray.z))
    })
}

/// plumb_bob cameras: fields of view from about 35° to 120°, distortion as in
/// real lenses; only cameras whose whole image lies well inside the fold.
pub fn camera_model() -> impl Strategy<Value = CameraModel> {
    (
        intrinsics(0.3..1.6, 0.2),
        (
            -0.3f64..0.1,
            -0.1f64..0.1,
            -0.002f64..0.002,
            -0.002f64..0.002,
            -0.02f64..0.02,
        ),
    )
        .prop_map(|(intrinsics, (k1, k2, p1, p2, k3))| {
            CameraModel::new(
                intrinsics,
                Distortion {
                    k1,
                    k2,
                    p1,
                    p2,
                    k3,
                    ..Distortion::NONE
                },
            )
            .unwrap()
        })
        .prop_filter("image well inside the lens's fold", image_well_inside_fold)
}

/// rational_polynomial cameras. Real rational calibrations have large
/// numerator and denominator coefficients that nearly cancel (the OAK-D's
/// factory calibration in opencv_reference.rs has k1 = -4.86, k4 = -4.94),
/// so the denominator k4 k5 k6 is drawn wide and the numerator built from it
/// times a plumb_bob-like radial factor 1 + a r² + b r⁴ + c r⁶, to third
/// order: N = D·(1 + a s + b s² + c s³) without its s⁴..s⁶ terms.
pub fn rational_camera_model() -> impl Strategy<Value = CameraModel> {
    (
        intrinsics(0.3..1.6, 0.2),
        (-0.3f64..0.1, -0.1f64..0.1, -0.02f64..0.02),
        (-5.0f64..5.0, -5.0f64..18.0, -25.0f64..5.0),
        (-0.002f64..0.002, -0.002f64..0.002),
    )
        .prop_map(|(intrinsics, (a, b, c), (k4, k5, k6), (p1, p2))| {
            CameraModel::new(
                intrinsics,
                Distortion {
                    k1: k4 + a,
                    k2: k5 + k4 * a + b,
                    k3: k6 + k5 * a + k4 * b + c,
                    k4,
                    k5,
                    k6,
                    p1,
                    p2,
                },
            )
            .unwrap()
        })
        .prop_filter("image well inside the lens's fold", image_well_inside_fold)
}

/// plumb_bob or rational_polynomial.
pub fn radial_tangential_camera_model() -> impl Strategy<Value = CameraModel> {
    prop_oneof![camera_model(), rational_camera_model()]
}

/// Fisheye (equidistant) cameras: images from VGA to 4K whose circle of 90°
/// off axis lies from well inside to well outside the image, coefficients
/// in the range of real OpenCV fisheye calibrations (a few 1e-2 at most).
/// Corners past the lens's reach are normal for a fisheye, so no filter.
pub fn fisheye_camera_model() -> impl Strategy<Value = CameraModel> {
    (
        intrinsics(0.15..0.7, 0.1),
        (
            -0.06f64..0.06,
            -0.03f64..0.03,
            -0.01f64..0.01,
            -0.005f64..0.005,
        ),
    )
        .prop_map(|(intrinsics, (k1, k2, k3, k4))| {
            CameraModel::with_lens(
                intrinsics,
                Lens::Equidistant(FisheyeDistortion { k1, k2, k3, k4 }),
            )
            .unwrap()
        })
}

/// Any of the three lens models.
pub fn any_camera_model() -> impl Strategy<Value = CameraModel> {
    prop_oneof![
        camera_model(),
        rational_camera_model(),
        fisheye_camera_model()
    ]
}

/// A camera of `models` mounted anywhere around a car, turned any way.
pub fn mounted(models: impl Strategy<Value = CameraModel>) -> impl Strategy<Value = RigCamera> {
    (
        models,
        (-180.0f64..180.0, -20.0f64..30.0, -10.0f64..10.0),
        (-3.0f64..4.0, -1.5f64..1.5, 0.3f64..3.0),
    )
        .prop_map(|(model, (yaw, pitch, roll), (x, y, z))| {
            let pose = ego_from_camera_mount(
                Vector3::new(x, y, z),
                yaw.to_radians(),
                pitch.to_radians(),
                roll.to_radians(),
            );
            RigCamera::new("random", model, pose).unwrap()
        })
}

/// A random radial-tangential camera (plumb_bob or rational) mounted anywhere.
pub fn mounted_camera() -> impl Strategy<Value = RigCamera> {
    mounted(radial_tangential_camera_model())
}
