//! Pinhole camera with OpenCV's radial-tangential distortion (k1, k2, p1, p2, k3).
//!
//! Camera frame as OpenCV and Argoverse 2: z out of the lens, x right, y down.
//! Pixel coordinates: OpenCV's, the centre of the top-left pixel is (0, 0).

use nalgebra::{Matrix2, Point2, Point3, Unit, Vector2, Vector3};

use crate::error::CameraError;

/// Pinhole intrinsics in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intrinsics {
    pub width_px: u32,
    pub height_px: u32,
    pub fx_px: f64,
    pub fy_px: f64,
    pub cx_px: f64,
    pub cy_px: f64,
}

/// OpenCV's distortion coefficients, in OpenCV's order (k1, k2, p1, p2, k3).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Distortion {
    pub k1: f64,
    pub k2: f64,
    pub p1: f64,
    pub p2: f64,
    pub k3: f64,
}

/// Newton's method on the distortion converges in a handful of steps for
/// real lenses; a point that needs more is outside the model's valid region.
const UNDISTORT_MAX_ITERATIONS: usize = 30;
const UNDISTORT_TOLERANCE: f64 = 1e-14;

impl Distortion {
    pub const NONE: Distortion = Distortion {
        k1: 0.0,
        k2: 0.0,
        p1: 0.0,
        p2: 0.0,
        k3: 0.0,
    };

    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// OpenCV's coefficient vector `[k1, k2, p1, p2, k3]`.
    pub fn as_opencv_array(&self) -> [f64; 5] {
        [self.k1, self.k2, self.p1, self.p2, self.k3]
    }

    /// Distorts normalised image coordinates (x/z, y/z).
    pub fn distort(&self, undistorted: Vector2<f64>) -> Vector2<f64> {
        self.distort_with_jacobian(undistorted).0
    }

    fn distort_with_jacobian(&self, p: Vector2<f64>) -> (Vector2<f64>, Matrix2<f64>) {
        let Distortion { k1, k2, p1, p2, k3 } = *self;
        let (x, y) = (p.x, p.y);
        let r2 = x * x + y * y;
        let radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
        let radial_d_r2 = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2);
        let distorted = Vector2::new(
            x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x),
            y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y,
        );
        let cross = 2.0 * x * y * radial_d_r2 + 2.0 * p1 * x + 2.0 * p2 * y;
        let jacobian = Matrix2::new(
            radial + 2.0 * x * x * radial_d_r2 + 2.0 * p1 * y + 6.0 * p2 * x,
            cross,
            cross,
            radial + 2.0 * y * y * radial_d_r2 + 6.0 * p1 * y + 2.0 * p2 * x,
        );
        (distorted, jacobian)
    }

    /// Smallest normalised radius at which the radial model's distorted radius
    /// r·(1 + k1 r² + k2 r⁴ + k3 r⁶) stops growing; infinite when it never does
    /// (tangential terms are too small to move it for real lenses).
    pub fn fold_radius(&self) -> f64 {
        let slope = |r: f64| {
            let r2 = r * r;
            1.0 + r2 * (3.0 * self.k1 + r2 * (5.0 * self.k2 + r2 * 7.0 * self.k3))
        };
        // Past a normalised radius of 20 (87° off axis) no pinhole lens is used.
        const SEARCH_LIMIT: f64 = 20.0;
        const STEP: f64 = 1e-3;
        let mut r = 0.0;
        while r < SEARCH_LIMIT {
            let next = r + STEP;
            if slope(next) <= 0.0 {
                let (mut low, mut high) = (r, next);
                for _ in 0..60 {
                    let mid = 0.5 * (low + high);
                    if slope(mid) > 0.0 {
                        low = mid;
                    } else {
                        high = mid;
                    }
                }
                return low;
            }
            r = next;
        }
        f64::INFINITY
    }

    /// Inverts [`Distortion::distort`] inside the lens's fold. `None` for a
    /// point no ray inside the fold distorts to.
    pub fn undistort(&self, distorted: Vector2<f64>) -> Option<Vector2<f64>> {
        self.undistort_within(distorted, self.fold_radius())
    }

    /// [`Distortion::undistort`] with the fold radius already known. The radial
    /// part is inverted first on the radius alone, where the distorted radius
    /// grows monotonically up to the fold, so that bisection-safeguarded Newton
    /// cannot miss; that start then seeds a 2D Newton for the tangential terms.
    pub(crate) fn undistort_within(
        &self,
        distorted: Vector2<f64>,
        fold_radius: f64,
    ) -> Option<Vector2<f64>> {
        if self.is_none() {
            return Some(distorted);
        }
        let distorted_radius = distorted.norm();
        let mut estimate = if distorted_radius > 0.0 {
            distorted * (self.undistort_radius(distorted_radius, fold_radius)? / distorted_radius)
        } else {
            distorted
        };
        for _ in 0..UNDISTORT_MAX_ITERATIONS {
            let (value, jacobian) = self.distort_with_jacobian(estimate);
            let residual = value - distorted;
            if residual.norm() < UNDISTORT_TOLERANCE {
                break;
            }
            estimate -= jacobian.try_inverse()? * residual;
            if !estimate.iter().all(|v| v.is_finite()) {
                return None;
            }
        }
        let converged = (self.distort(estimate) - distorted).norm() < UNDISTORT_TOLERANCE.sqrt();
        (converged && estimate.norm() < fold_radius).then_some(estimate)
    }

    /// The undistorted radius r in [0, fold) with r·radial(r) = `distorted_radius`
    /// (radial terms only).
    fn undistort_radius(&self, distorted_radius: f64, fold_radius: f64) -> Option<f64> {
        let radial_distorted = |r: f64| {
            let r2 = r * r;
            r * (1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3)))
        };
        let slope = |r: f64| {
            let r2 = r * r;
            1.0 + r2 * (3.0 * self.k1 + r2 * (5.0 * self.k2 + r2 * 7.0 * self.k3))
        };
        let mut high = if fold_radius.is_finite() {
            fold_radius
        } else {
            let mut bound = distorted_radius.max(1.0);
            while radial_distorted(bound) < distorted_radius {
                bound *= 2.0;
                if !bound.is_finite() {
                    return None;
                }
            }
            bound
        };
        if radial_distorted(high) < distorted_radius {
            return None;
        }
        let mut low = 0.0;
        let mut r = distorted_radius.min(high);
        for _ in 0..100 {
            let error = radial_distorted(r) - distorted_radius;
            if error.abs() < UNDISTORT_TOLERANCE {
                return Some(r);
            }
            if error > 0.0 {
                high = r;
            } else {
                low = r;
            }
            let newton = r - error / slope(r);
            r = if newton > low && newton < high {
                newton
            } else {
                0.5 * (low + high)
            };
        }
        Some(r)
    }
}

/// A validated camera model: intrinsics plus distortion.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraModel {
    intrinsics: Intrinsics,
    distortion: Distortion,
    /// Normalised radius where radial distortion folds back (its derivative
    /// reaches zero): rays beyond it would land on pixels that belong to
    /// other rays, so they do not project. Infinite for a monotonic lens.
    fold_radius: f64,
}

impl CameraModel {
    pub fn new(intrinsics: Intrinsics, distortion: Distortion) -> Result<Self, CameraError> {
        validate_intrinsics(&intrinsics)?;
        validate_distortion(&distortion)?;
        Ok(Self {
            intrinsics,
            distortion,
            fold_radius: distortion.fold_radius(),
        })
    }

    pub fn intrinsics(&self) -> &Intrinsics {
        &self.intrinsics
    }

    pub fn distortion(&self) -> &Distortion {
        &self.distortion
    }

    pub fn width_px(&self) -> u32 {
        self.intrinsics.width_px
    }

    pub fn height_px(&self) -> u32 {
        self.intrinsics.height_px
    }

    /// The 3x3 camera matrix K, row-major as OpenCV expects.
    pub fn camera_matrix(&self) -> [[f64; 3]; 3] {
        let k = &self.intrinsics;
        [
            [k.fx_px, 0.0, k.cx_px],
            [0.0, k.fy_px, k.cy_px],
            [0.0, 0.0, 1.0],
        ]
    }

    /// Camera frame → pixel, with distortion. `None` for points at or behind the
    /// image plane and for rays past the lens's fold (see
    /// [`CameraModel::fold_radius`]). The pixel may lie outside the image: see
    /// [`CameraModel::contains`].
    pub fn project(&self, p_camera: &Point3<f64>) -> Option<Point2<f64>> {
        if p_camera.z <= 0.0 || !p_camera.coords.iter().all(|v| v.is_finite()) {
            return None;
        }
        let normalised = Vector2::new(p_camera.x / p_camera.z, p_camera.y / p_camera.z);
        if normalised.norm() >= self.fold_radius {
            return None;
        }
        Some(self.pixel_from_normalised(self.distortion.distort(normalised)))
    }

    /// Normalised radius (tan of the angle off the optical axis) beyond which
    /// the radial distortion polynomial folds back; infinite when it never does.
    /// OpenCV projects such rays anyway, onto pixels that belong to other rays.
    pub fn fold_radius(&self) -> f64 {
        self.fold_radius
    }

    /// Whether every pixel of the image corresponds to a ray inside the fold,
    /// i.e. the calibration is usable over the whole image.
    pub fn lens_covers_image(&self) -> bool {
        let k = &self.intrinsics;
        let (w, h) = (f64::from(k.width_px), f64::from(k.height_px));
        [
            (-0.5, -0.5),
            (w - 0.5, -0.5),
            (-0.5, h - 0.5),
            (w - 0.5, h - 0.5),
        ]
        .iter()
        .all(|&(u, v)| self.unproject(&Point2::new(u, v)).is_some())
    }

    /// Pixel → unit ray in the camera frame (z > 0), undistorting iteratively.
    pub fn unproject(&self, pixel: &Point2<f64>) -> Option<Unit<Vector3<f64>>> {
        let normalised = self.undistort_normalised(pixel)?;
        Some(Unit::new_normalize(Vector3::new(
            normalised.x,
            normalised.y,
            1.0,
        )))
    }

    /// Distorted pixels → the pixels an ideal pinhole camera with the same K
    /// would see (OpenCV's `undistortPoints` with `P = K`). `None` where the
    /// distortion model cannot be inverted.
    pub fn undistort_points(&self, pixels: &[Point2<f64>]) -> Vec<Option<Point2<f64>>> {
        pixels
            .iter()
            .map(|pixel| {
                self.undistort_normalised(pixel)
                    .map(|n| self.pixel_from_normalised(n))
            })
            .collect()
    }

    /// Whether a pixel lies on the image (pixel centres span 0..size-1, so the
    /// image covers -0.5..size-0.5).
    pub fn contains(&self, pixel: &Point2<f64>) -> bool {
        let k = &self.intrinsics;
        (-0.5..f64::from(k.width_px) - 0.5).contains(&pixel.x)
            && (-0.5..f64::from(k.height_px) - 0.5).contains(&pixel.y)
    }

    /// The same lens on a resampled sensor of `width_px` x `height_px`: focal
    /// lengths scale per axis, the principal point moves with pixel centres.
    pub fn resized(&self, width_px: u32, height_px: u32) -> Result<Self, CameraError> {
        let k = &self.intrinsics;
        let sx = f64::from(width_px) / f64::from(k.width_px);
        let sy = f64::from(height_px) / f64::from(k.height_px);
        let intrinsics = Intrinsics {
            width_px,
            height_px,
            fx_px: k.fx_px * sx,
            fy_px: k.fy_px * sy,
            cx_px: (k.cx_px + 0.5) * sx - 0.5,
            cy_px: (k.cy_px + 0.5) * sy - 0.5,
        };
        Self::new(intrinsics, self.distortion)
    }

    fn pixel_from_normalised(&self, n: Vector2<f64>) -> Point2<f64> {
        let k = &self.intrinsics;
        Point2::new(k.fx_px * n.x + k.cx_px, k.fy_px * n.y + k.cy_px)
    }

    fn undistort_normalised(&self, pixel: &Point2<f64>) -> Option<Vector2<f64>> {
        if !(pixel.x.is_finite() && pixel.y.is_finite()) {
            return None;
        }
        let k = &self.intrinsics;
        let distorted = Vector2::new((pixel.x - k.cx_px) / k.fx_px, (pixel.y - k.cy_px) / k.fy_px);
        self.distortion
            .undistort_within(distorted, self.fold_radius)
    }
}

fn finite(field: &'static str, value: f64) -> Result<f64, CameraError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(CameraError::NonFinite { field, value })
    }
}

fn validate_intrinsics(k: &Intrinsics) -> Result<(), CameraError> {
    if k.width_px == 0 || k.height_px == 0 {
        return Err(CameraError::EmptyImage {
            width_px: k.width_px,
            height_px: k.height_px,
        });
    }
    for (field, value) in [("fx_px", k.fx_px), ("fy_px", k.fy_px)] {
        if finite(field, value)? <= 0.0 {
            return Err(CameraError::NonPositiveFocalLength { field, value });
        }
    }
    let cx = finite("cx_px", k.cx_px)?;
    let cy = finite("cy_px", k.cy_px)?;
    let inside_x = (0.0..=f64::from(k.width_px)).contains(&cx);
    let inside_y = (0.0..=f64::from(k.height_px)).contains(&cy);
    if !(inside_x && inside_y) {
        return Err(CameraError::PrincipalPointOutsideImage {
            cx_px: cx,
            cy_px: cy,
            width_px: k.width_px,
            height_px: k.height_px,
        });
    }
    Ok(())
}

fn validate_distortion(d: &Distortion) -> Result<(), CameraError> {
    for (field, value) in [
        ("k1", d.k1),
        ("k2", d.k2),
        ("p1", d.p1),
        ("p2", d.p2),
        ("k3", d.k3),
    ] {
        finite(field, value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(distortion: Distortion) -> CameraModel {
        CameraModel::new(
            Intrinsics {
                width_px: 2048,
                height_px: 1550,
                fx_px: 1686.0,
                fy_px: 1686.0,
                cx_px: 1024.0,
                cy_px: 775.0,
            },
            distortion,
        )
        .unwrap()
    }

    #[test]
    fn principal_axis_projects_to_principal_point() {
        let m = model(Distortion {
            k1: -0.26,
            ..Distortion::NONE
        });
        let pixel = m.project(&Point3::new(0.0, 0.0, 7.0)).unwrap();
        assert_eq!(pixel, Point2::new(1024.0, 775.0));
    }

    #[test]
    fn points_behind_the_camera_do_not_project() {
        let m = model(Distortion::NONE);
        assert!(m.project(&Point3::new(0.0, 0.0, -1.0)).is_none());
        assert!(m.project(&Point3::new(1.0, 0.0, 0.0)).is_none());
    }

    #[test]
    fn unproject_inverts_project_at_the_image_corner() {
        let m = model(Distortion {
            k1: -0.26,
            k2: 0.09,
            p1: 0.001,
            p2: -0.0005,
            k3: -0.015,
        });
        let corner = Point2::new(0.0, 0.0);
        let ray = m.unproject(&corner).unwrap();
        let back = m.project(&Point3::from(ray.into_inner() * 12.0)).unwrap();
        assert!((back - corner).norm() < 1e-9, "{back}");
    }

    #[test]
    fn resizing_keeps_the_field_of_view() {
        let m = model(Distortion::NONE);
        let half = m.resized(1024, 775).unwrap();
        let p = Point3::new(3.0, -1.0, 10.0);
        let full_px = m.project(&p).unwrap();
        let half_px = half.project(&p).unwrap();
        assert!((half_px.x - ((full_px.x + 0.5) * 0.5 - 0.5)).abs() < 1e-9);
        assert!((half_px.y - ((full_px.y + 0.5) * 0.5 - 0.5)).abs() < 1e-9);
    }
}
