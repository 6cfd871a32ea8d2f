//! Random cameras shaped like real automotive ones, shared by the property tests.

use heptaview_calibration::{
    CameraModel, Distortion, Intrinsics, RigCamera, ego_from_camera_mount,
};
use nalgebra::{Point2, Vector2, Vector3};
use proptest::prelude::*;

/// Keep test rays this far inside the lens's fold, where the distortion model
/// is well conditioned (as over the image of any sound calibration).
pub const FOLD_MARGIN: f64 = 0.9;

/// The distorted radius must still grow at least this fast (relative to a
/// pinhole) everywhere up to a test point: where the radial curve flattens
/// the image is squeezed so much that no calibration is used there, and its
/// inverse turns ill-conditioned even before the fold.
pub const MIN_RADIAL_SLOPE: f64 = 0.25;

/// Whether a normalised image point (x/z, y/z) is well inside the lens's fold
/// and where its distortion is well conditioned.
pub fn well_inside_fold(model: &CameraModel, normalised: Vector2<f64>) -> bool {
    let radius = normalised.norm();
    let d = model.distortion();
    let slope = |r: f64| {
        let r2 = r * r;
        1.0 + r2 * (3.0 * d.k1 + r2 * (5.0 * d.k2 + r2 * 7.0 * d.k3))
    };
    radius < FOLD_MARGIN * model.fold_radius()
        && (0..=100).all(|i| slope(radius * f64::from(i) / 100.0) >= MIN_RADIAL_SLOPE)
}

/// Image sizes from VGA to 4K, fields of view from about 35° to 120°, the
/// principal point within 20% of the centre, distortion as in real lenses;
/// only cameras whose whole image lies well inside the lens's fold.
pub fn camera_model() -> impl Strategy<Value = CameraModel> {
    (
        (320u32..4096, 240u32..3072),
        (0.3f64..1.6, 0.9f64..1.1),
        (0.3f64..0.7, 0.3f64..0.7),
        (
            -0.3f64..0.1,
            -0.1f64..0.1,
            -0.002f64..0.002,
            -0.002f64..0.002,
            -0.02f64..0.02,
        ),
    )
        .prop_map(
            |((w, h), (f_per_px, aspect), (ucx, ucy), (k1, k2, p1, p2, k3))| {
                let f = f64::from(w.max(h)) * f_per_px;
                CameraModel::new(
                    Intrinsics {
                        width_px: w,
                        height_px: h,
                        fx_px: f,
                        fy_px: f * aspect,
                        cx_px: f64::from(w) * ucx,
                        cy_px: f64::from(h) * ucy,
                    },
                    Distortion { k1, k2, p1, p2, k3 },
                )
                .unwrap()
            },
        )
        .prop_filter("image well inside the lens's fold", |model| {
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
        })
}

/// A random camera mounted anywhere around a car, turned any way.
pub fn mounted_camera() -> impl Strategy<Value = RigCamera> {
    (
        camera_model(),
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
