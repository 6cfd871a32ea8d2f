//! Pinhole cameras with the three lens models of ROS 2's
//! `sensor_msgs/CameraInfo`, each exactly as OpenCV computes it:
//!
//! - `plumb_bob`: radial-tangential k1 k2 p1 p2 k3 (`cv::projectPoints`),
//! - `rational_polynomial`: the same with the radial factor divided by
//!   1 + k4 r² + k5 r⁴ + k6 r⁶ (`cv::projectPoints` with 8 coefficients),
//! - `equidistant`: the fisheye model of `cv::fisheye`, θ_d = θ(1 + k1θ² +
//!   k2θ⁴ + k3θ⁶ + k4θ⁸), θ the angle off the optical axis.
//!
//! Camera frame as OpenCV and Argoverse 2: z out of the lens, x right, y down.
//! Pixel coordinates: OpenCV's, the centre of the top-left pixel is (0, 0).
//!
//! Every model works on normalised coordinates (x/z, y/z), so a camera sees
//! only rays with z > 0: rays at or past 90° off axis do not project, even
//! through a fisheye lens wider than 180° (OpenCV's `cv::fisheye` mirrors
//! them onto rays in front instead).

use std::f64::consts::FRAC_PI_2;

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

/// OpenCV's radial-tangential distortion, in OpenCV's order (k1, k2, p1, p2,
/// k3, k4, k5, k6). With k4 = k5 = k6 = 0 it is ROS's `plumb_bob`, otherwise
/// `rational_polynomial`:
///
/// radial = (1 + k1 r² + k2 r⁴ + k3 r⁶) / (1 + k4 r² + k5 r⁴ + k6 r⁶),
/// x_d = x·radial + 2 p1 x y + p2 (r² + 2x²), y_d = y·radial + p1 (r² + 2y²) + 2 p2 x y.
///
/// Build one with a struct literal and `..Distortion::NONE`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Distortion {
    pub k1: f64,
    pub k2: f64,
    pub p1: f64,
    pub p2: f64,
    pub k3: f64,
    pub k4: f64,
    pub k5: f64,
    pub k6: f64,
}

/// `cv::fisheye`'s coefficients (ROS's `equidistant`): the distorted angle
/// θ_d = θ (1 + k1 θ² + k2 θ⁴ + k3 θ⁶ + k4 θ⁸) lies at normalised radius θ_d.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FisheyeDistortion {
    pub k1: f64,
    pub k2: f64,
    pub k3: f64,
    pub k4: f64,
}

/// A camera's lens: the distortion models of ROS 2's `CameraInfo`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lens {
    /// `plumb_bob`, or `rational_polynomial` when any of k4, k5, k6 is non-zero
    /// (with those zero the two are the same function).
    RadialTangential(Distortion),
    /// `equidistant` (OpenCV's fisheye model).
    Equidistant(FisheyeDistortion),
}

/// Newton's method on the distortion converges in a handful of steps for
/// real lenses; a point that needs more is outside the model's valid region.
const UNDISTORT_MAX_ITERATIONS: usize = 30;
const UNDISTORT_TOLERANCE: f64 = 1e-14;

/// Past a normalised radius of 20 (87° off axis) no pinhole lens is used, so
/// the search for a radial-tangential lens's fold stops there.
const RADIAL_FOLD_SEARCH_LIMIT: f64 = 20.0;

/// A fisheye's fold is looked for up to 180° off axis: past 90° it no longer
/// limits what projects (nothing there does) but says how wide the lens is.
const FISHEYE_FOLD_SEARCH_LIMIT: f64 = std::f64::consts::PI;

impl Distortion {
    pub const NONE: Distortion = Distortion {
        k1: 0.0,
        k2: 0.0,
        p1: 0.0,
        p2: 0.0,
        k3: 0.0,
        k4: 0.0,
        k5: 0.0,
        k6: 0.0,
    };

    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// Whether the radial factor has a denominator (k4, k5 or k6 non-zero):
    /// ROS's `rational_polynomial` rather than `plumb_bob`.
    pub fn is_rational(&self) -> bool {
        self.k4 != 0.0 || self.k5 != 0.0 || self.k6 != 0.0
    }

    /// OpenCV's 8-coefficient vector `[k1, k2, p1, p2, k3, k4, k5, k6]`.
    pub fn as_opencv_array8(&self) -> [f64; 8] {
        [
            self.k1, self.k2, self.p1, self.p2, self.k3, self.k4, self.k5, self.k6,
        ]
    }

    /// The shortest OpenCV coefficient vector that holds every term: the five
    /// `[k1, k2, p1, p2, k3]` of `plumb_bob`, or all eight when the lens is
    /// rational. (A fixed five would silently drop k4..k6.)
    pub fn as_opencv_array(&self) -> Vec<f64> {
        let all = self.as_opencv_array8();
        let used = if self.is_rational() { 8 } else { 5 };
        all[..used].to_vec()
    }

    /// Distorts normalised image coordinates (x/z, y/z).
    pub fn distort(&self, undistorted: Vector2<f64>) -> Vector2<f64> {
        self.distort_with_jacobian(undistorted).0
    }

    /// The radial factor at s = r² and its derivative d/ds. Without k4..k6 the
    /// denominator is exactly 1, so plumb_bob results are those of the
    /// polynomial alone, bit for bit.
    fn radial(&self, s: f64) -> (f64, f64) {
        let Distortion {
            k1,
            k2,
            k3,
            k4,
            k5,
            k6,
            ..
        } = *self;
        let numerator = 1.0 + s * (k1 + s * (k2 + s * k3));
        let numerator_d = k1 + s * (2.0 * k2 + 3.0 * k3 * s);
        let denominator = 1.0 + s * (k4 + s * (k5 + s * k6));
        let denominator_d = k4 + s * (2.0 * k5 + 3.0 * k6 * s);
        (
            numerator / denominator,
            (numerator_d * denominator - numerator * denominator_d) / (denominator * denominator),
        )
    }

    /// The denominator 1 + k4 s + k5 s² + k6 s³ (s = r²): where it reaches 0
    /// the rational model has a pole, so the lens's valid region ends before.
    fn denominator(&self, s: f64) -> f64 {
        1.0 + s * (self.k4 + s * (self.k5 + s * self.k6))
    }

    /// Distorted radius r·radial(r²) of the radial terms alone, and its
    /// derivative in r.
    fn radial_distorted(&self, r: f64) -> (f64, f64) {
        let s = r * r;
        let (radial, radial_d_s) = self.radial(s);
        (r * radial, radial + 2.0 * s * radial_d_s)
    }

    fn distort_with_jacobian(&self, p: Vector2<f64>) -> (Vector2<f64>, Matrix2<f64>) {
        let Distortion { p1, p2, .. } = *self;
        let (x, y) = (p.x, p.y);
        let r2 = x * x + y * y;
        let (radial, radial_d_r2) = self.radial(r2);
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
    /// r·radial(r²) stops growing, or where a rational model's denominator
    /// reaches zero (its pole); infinite when neither happens within 87° off
    /// axis. Tangential terms are too small to move it for real lenses.
    pub fn fold_radius(&self) -> f64 {
        let valid = |r: f64| self.denominator(r * r) > 0.0 && self.radial_distorted(r).1 > 0.0;
        first_failure(valid, RADIAL_FOLD_SEARCH_LIMIT, 1e-3).unwrap_or(f64::INFINITY)
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

    /// The undistorted radius r in [0, fold) with r·radial(r²) =
    /// `distorted_radius` (radial terms only).
    fn undistort_radius(&self, distorted_radius: f64, fold_radius: f64) -> Option<f64> {
        let high = if fold_radius.is_finite() {
            fold_radius
        } else {
            // No fold: the distorted radius grows without bound (a rational
            // function that never turns back grows like a power of r).
            let mut bound = distorted_radius.max(1.0);
            while self.radial_distorted(bound).0 < distorted_radius {
                bound *= 2.0;
                if !bound.is_finite() {
                    return None;
                }
            }
            bound
        };
        invert_increasing(|r| self.radial_distorted(r), distorted_radius, high)
    }
}

impl FisheyeDistortion {
    pub const NONE: FisheyeDistortion = FisheyeDistortion {
        k1: 0.0,
        k2: 0.0,
        k3: 0.0,
        k4: 0.0,
    };

    pub fn is_none(&self) -> bool {
        *self == Self::NONE
    }

    /// `cv::fisheye`'s coefficient vector `[k1, k2, k3, k4]`.
    pub fn as_opencv_array(&self) -> [f64; 4] {
        [self.k1, self.k2, self.k3, self.k4]
    }

    /// θ_d(θ) and dθ_d/dθ.
    fn distorted_angle(&self, theta: f64) -> (f64, f64) {
        let FisheyeDistortion { k1, k2, k3, k4 } = *self;
        let t2 = theta * theta;
        let value = theta * (1.0 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))));
        let slope = 1.0 + t2 * (3.0 * k1 + t2 * (5.0 * k2 + t2 * (7.0 * k3 + t2 * 9.0 * k4)));
        (value, slope)
    }

    /// Distorts normalised image coordinates (x/z, y/z) as
    /// `cv::fisheye::projectPoints` does: the point moves along its radius to
    /// θ_d, with θ = atan(r).
    pub fn distort(&self, undistorted: Vector2<f64>) -> Vector2<f64> {
        let r = undistorted.norm();
        if r == 0.0 {
            return undistorted;
        }
        let (theta_d, _) = self.distorted_angle(r.atan());
        undistorted * (theta_d / r)
    }

    /// Smallest angle off the optical axis (radians) at which θ_d stops
    /// increasing: rays past it would land on pixels of rays inside it.
    /// Infinite when the lens does not fold within 180°.
    pub fn fold_angle(&self) -> f64 {
        first_failure(
            |theta| self.distorted_angle(theta).1 > 0.0,
            FISHEYE_FOLD_SEARCH_LIMIT,
            1e-4,
        )
        .unwrap_or(f64::INFINITY)
    }

    /// The largest angle off axis a ray may have and still project: before
    /// the fold and in front of the camera (θ < 90°).
    fn max_angle(&self) -> f64 {
        self.fold_angle().min(FRAC_PI_2)
    }

    /// Inverts [`FisheyeDistortion::distort`] for rays less than 90° off axis
    /// and inside the fold; `None` for a point no such ray distorts to.
    pub fn undistort(&self, distorted: Vector2<f64>) -> Option<Vector2<f64>> {
        let (theta, direction) = self.undistort_angle(distorted, self.max_angle())?;
        Some(direction * theta.tan())
    }

    /// The angle off axis θ in [0, `max_angle`) whose θ_d is the distorted
    /// point's radius, and the point's unit direction in the image (zero on
    /// the axis). θ_d is monotonic there, so bisection-safeguarded Newton on
    /// the one angle cannot miss.
    fn undistort_angle(
        &self,
        distorted: Vector2<f64>,
        max_angle: f64,
    ) -> Option<(f64, Vector2<f64>)> {
        let theta_d = distorted.norm();
        if !theta_d.is_finite() {
            return None;
        }
        if theta_d == 0.0 {
            return Some((0.0, Vector2::zeros()));
        }
        let theta = invert_increasing(|t| self.distorted_angle(t), theta_d, max_angle)?;
        (theta < max_angle).then_some((theta, distorted / theta_d))
    }
}

/// Smallest x in (0, `limit`] where `valid` turns false, scanning in `step`s
/// and refining by bisection; `None` when it holds all the way. A scan, not a
/// root finder on the polynomial, because the first sign change is what
/// matters and the polynomials may have several.
fn first_failure(valid: impl Fn(f64) -> bool, limit: f64, step: f64) -> Option<f64> {
    let mut x = 0.0;
    while x < limit {
        let next = (x + step).min(limit);
        if !valid(next) {
            let (mut low, mut high) = (x, next);
            for _ in 0..60 {
                let mid = 0.5 * (low + high);
                if valid(mid) {
                    low = mid;
                } else {
                    high = mid;
                }
            }
            return Some(low);
        }
        x = next;
    }
    None
}

/// Solves f(x) = `target` for x in [0, `high`], where f (given with its
/// derivative) increases from f(0) = 0 over that interval: Newton steps,
/// falling back to bisection whenever a step leaves the bracket. `None` when
/// f(high) < target (no such x in the interval).
fn invert_increasing(f: impl Fn(f64) -> (f64, f64), target: f64, high: f64) -> Option<f64> {
    let mut high = high;
    let top = f(high).0;
    // NaN (a pole at `high`) counts as not reaching the target.
    if top.is_nan() || top < target {
        return None;
    }
    let mut low = 0.0;
    let mut x = target.min(high);
    for _ in 0..100 {
        let (value, slope) = f(x);
        let error = value - target;
        if error.abs() < UNDISTORT_TOLERANCE {
            return Some(x);
        }
        if error > 0.0 {
            high = x;
        } else {
            low = x;
        }
        let newton = x - error / slope;
        x = if newton > low && newton < high {
            newton
        } else {
            0.5 * (low + high)
        };
    }
    Some(x)
}

impl Default for Lens {
    fn default() -> Self {
        Self::NONE
    }
}

impl From<Distortion> for Lens {
    fn from(distortion: Distortion) -> Self {
        Self::RadialTangential(distortion)
    }
}

impl From<FisheyeDistortion> for Lens {
    fn from(distortion: FisheyeDistortion) -> Self {
        Self::Equidistant(distortion)
    }
}

impl Lens {
    /// No distortion: an ideal pinhole.
    pub const NONE: Lens = Lens::RadialTangential(Distortion::NONE);

    /// ROS 2's `distortion_model` names (sensor_msgs/distortion_models.hpp).
    pub const PLUMB_BOB: &'static str = "plumb_bob";
    pub const RATIONAL_POLYNOMIAL: &'static str = "rational_polynomial";
    pub const EQUIDISTANT: &'static str = "equidistant";

    pub fn is_none(&self) -> bool {
        match self {
            Lens::RadialTangential(d) => d.is_none(),
            Lens::Equidistant(d) => d.is_none(),
        }
    }

    /// The `distortion_model` a ROS `CameraInfo` gives this lens:
    /// `plumb_bob` unless k4..k6 are used (`rational_polynomial`), or
    /// `equidistant`.
    pub fn ros_model_name(&self) -> &'static str {
        match self {
            Lens::RadialTangential(d) if d.is_rational() => Self::RATIONAL_POLYNOMIAL,
            Lens::RadialTangential(_) => Self::PLUMB_BOB,
            Lens::Equidistant(_) => Self::EQUIDISTANT,
        }
    }

    /// The lens of a ROS `CameraInfo`'s `distortion_model` and `d`:
    /// `plumb_bob` takes 5 coefficients (k1 k2 p1 p2 k3), `rational_polynomial`
    /// 8 (k1 k2 p1 p2 k3 k4 k5 k6), `equidistant` 4 (k1 k2 k3 k4). An empty
    /// `d` means no distortion, as ROS's image_geometry reads it (uncalibrated
    /// drivers publish that, often with an empty model name too).
    pub fn from_ros(model: &str, d: &[f64]) -> Result<Lens, CameraError> {
        let expected = match model {
            Self::PLUMB_BOB => 5,
            Self::RATIONAL_POLYNOMIAL => 8,
            Self::EQUIDISTANT => 4,
            "" if d.is_empty() => return Ok(Lens::NONE),
            _ => {
                return Err(CameraError::UnknownLensModel {
                    model: model.to_owned(),
                    coefficients: d.len(),
                });
            }
        };
        if d.is_empty() {
            return Ok(if model == Self::EQUIDISTANT {
                Lens::Equidistant(FisheyeDistortion::NONE)
            } else {
                Lens::NONE
            });
        }
        if d.len() != expected {
            return Err(CameraError::LensCoefficientCount {
                model: model.to_owned(),
                expected,
                coefficients: d.len(),
            });
        }
        let lens = if model == Self::EQUIDISTANT {
            Lens::Equidistant(FisheyeDistortion {
                k1: d[0],
                k2: d[1],
                k3: d[2],
                k4: d[3],
            })
        } else {
            let at = |i: usize| d.get(i).copied().unwrap_or(0.0);
            Lens::RadialTangential(Distortion {
                k1: at(0),
                k2: at(1),
                p1: at(2),
                p2: at(3),
                k3: at(4),
                k4: at(5),
                k5: at(6),
                k6: at(7),
            })
        };
        lens.validate()?;
        Ok(lens)
    }

    /// The lens as a ROS `CameraInfo`'s `distortion_model` and `d`, which
    /// [`Lens::from_ros`] reads back to an equal lens.
    pub fn to_ros(&self) -> (&'static str, Vec<f64>) {
        let coefficients = match self {
            Lens::RadialTangential(d) => d.as_opencv_array(),
            Lens::Equidistant(d) => d.as_opencv_array().to_vec(),
        };
        (self.ros_model_name(), coefficients)
    }

    /// k1, k2, k3 of a lens that is purely radial and polynomial, the only
    /// distortion Argoverse 2's `intrinsics.feather` holds. An error names the
    /// terms that would be lost, so that no writer drops them silently.
    pub fn radial_k1_k2_k3(&self) -> Result<[f64; 3], CameraError> {
        match self {
            Lens::RadialTangential(d) => {
                let lost: Vec<&'static str> = [
                    ("p1", d.p1),
                    ("p2", d.p2),
                    ("k4", d.k4),
                    ("k5", d.k5),
                    ("k6", d.k6),
                ]
                .iter()
                .filter(|(_, v)| *v != 0.0)
                .map(|(name, _)| *name)
                .collect();
                if lost.is_empty() {
                    Ok([d.k1, d.k2, d.k3])
                } else {
                    Err(CameraError::LensNotRadialPolynomial {
                        model: self.ros_model_name(),
                        terms: lost.join(", "),
                    })
                }
            }
            Lens::Equidistant(_) => Err(CameraError::LensNotRadialPolynomial {
                model: self.ros_model_name(),
                terms: "an equidistant (fisheye) projection".to_owned(),
            }),
        }
    }

    /// Distorts normalised image coordinates (x/z, y/z).
    pub fn distort(&self, undistorted: Vector2<f64>) -> Vector2<f64> {
        match self {
            Lens::RadialTangential(d) => d.distort(undistorted),
            Lens::Equidistant(d) => d.distort(undistorted),
        }
    }

    /// Normalised radius (tan of the angle off the optical axis) past which
    /// rays do not project: the lens's fold, a rational model's pole, or for
    /// a fisheye 90° off axis. Infinite when nothing limits it.
    pub fn fold_radius(&self) -> f64 {
        match self {
            Lens::RadialTangential(d) => d.fold_radius(),
            Lens::Equidistant(d) => {
                let max_angle = d.max_angle();
                if max_angle < FRAC_PI_2 {
                    max_angle.tan()
                } else {
                    f64::INFINITY
                }
            }
        }
    }

    /// Inverts [`Lens::distort`] within the fold; `None` for a point no ray
    /// inside it distorts to. Finds the fold on every call (a scan of some
    /// 10⁴ polynomial evaluations): for many points use a [`CameraModel`],
    /// which finds it once.
    pub fn undistort(&self, distorted: Vector2<f64>) -> Option<Vector2<f64>> {
        match self {
            Lens::RadialTangential(d) => d.undistort(distorted),
            Lens::Equidistant(d) => d.undistort(distorted),
        }
    }

    /// The unit ray (z > 0) that distorts to normalised image point
    /// `distorted`, within the fold. A fisheye ray is built from its angle
    /// (sin θ, cos θ) so that it stays exact towards 90°, where tan θ blows up.
    fn undistort_ray(
        &self,
        distorted: Vector2<f64>,
        fold_radius: f64,
    ) -> Option<Unit<Vector3<f64>>> {
        match self {
            Lens::RadialTangential(d) => {
                let n = d.undistort_within(distorted, fold_radius)?;
                Some(Unit::new_normalize(Vector3::new(n.x, n.y, 1.0)))
            }
            Lens::Equidistant(d) => {
                let (theta, direction) = d.undistort_angle(distorted, fold_radius.atan())?;
                let (sin, cos) = theta.sin_cos();
                Some(Unit::new_normalize(Vector3::new(
                    direction.x * sin,
                    direction.y * sin,
                    cos,
                )))
            }
        }
    }

    /// [`Lens::undistort`] with the fold radius already known.
    fn undistort_within(&self, distorted: Vector2<f64>, fold_radius: f64) -> Option<Vector2<f64>> {
        match self {
            Lens::RadialTangential(d) => d.undistort_within(distorted, fold_radius),
            Lens::Equidistant(d) => {
                let (theta, direction) = d.undistort_angle(distorted, fold_radius.atan())?;
                Some(direction * theta.tan())
            }
        }
    }

    fn validate(&self) -> Result<(), CameraError> {
        let fields: &[(&'static str, f64)] = match self {
            Lens::RadialTangential(d) => &[
                ("k1", d.k1),
                ("k2", d.k2),
                ("p1", d.p1),
                ("p2", d.p2),
                ("k3", d.k3),
                ("k4", d.k4),
                ("k5", d.k5),
                ("k6", d.k6),
            ],
            Lens::Equidistant(d) => &[("k1", d.k1), ("k2", d.k2), ("k3", d.k3), ("k4", d.k4)],
        };
        for &(field, value) in fields {
            finite(field, value)?;
        }
        Ok(())
    }
}

/// A validated camera model: intrinsics plus lens.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraModel {
    intrinsics: Intrinsics,
    lens: Lens,
    /// Normalised radius where the lens folds back (its distorted radius stops
    /// growing), a rational model reaches its pole, or a fisheye reaches 90°:
    /// rays beyond it would land on pixels that belong to other rays, or on
    /// none, so they do not project. Infinite when nothing limits it.
    fold_radius: f64,
}

impl CameraModel {
    /// A camera with OpenCV's radial-tangential distortion (plumb_bob or
    /// rational_polynomial).
    pub fn new(intrinsics: Intrinsics, distortion: Distortion) -> Result<Self, CameraError> {
        Self::with_lens(intrinsics, Lens::RadialTangential(distortion))
    }

    /// A camera with any of the lens models.
    pub fn with_lens(intrinsics: Intrinsics, lens: Lens) -> Result<Self, CameraError> {
        validate_intrinsics(&intrinsics)?;
        lens.validate()?;
        Ok(Self {
            intrinsics,
            lens,
            fold_radius: lens.fold_radius(),
        })
    }

    pub fn intrinsics(&self) -> &Intrinsics {
        &self.intrinsics
    }

    pub fn lens(&self) -> &Lens {
        &self.lens
    }

    /// The radial-tangential coefficients; `None` for a fisheye lens, whose
    /// coefficients mean something else (see [`CameraModel::lens`]).
    pub fn distortion(&self) -> Option<&Distortion> {
        match &self.lens {
            Lens::RadialTangential(d) => Some(d),
            Lens::Equidistant(_) => None,
        }
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
    /// image plane (z ≤ 0, also for a fisheye) and for rays past the lens's fold
    /// (see [`CameraModel::fold_radius`]). The pixel may lie outside the image:
    /// see [`CameraModel::contains`].
    pub fn project(&self, p_camera: &Point3<f64>) -> Option<Point2<f64>> {
        if p_camera.z <= 0.0 || !p_camera.coords.iter().all(|v| v.is_finite()) {
            return None;
        }
        let normalised = Vector2::new(p_camera.x / p_camera.z, p_camera.y / p_camera.z);
        if normalised.norm() >= self.fold_radius {
            return None;
        }
        Some(self.pixel_from_normalised(self.lens.distort(normalised)))
    }

    /// Normalised radius (tan of the angle off the optical axis) beyond which
    /// rays do not project: where the distortion folds back, a rational
    /// model's pole, or 90° for a fisheye; infinite when nothing limits it.
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
    /// `None` for a pixel no ray inside the fold reaches (a fisheye's corners
    /// past its image circle, for one).
    pub fn unproject(&self, pixel: &Point2<f64>) -> Option<Unit<Vector3<f64>>> {
        let distorted = self.distorted_normalised(pixel)?;
        self.lens.undistort_ray(distorted, self.fold_radius)
    }

    /// Distorted pixels → the pixels an ideal pinhole camera with the same K
    /// would see (OpenCV's `undistortPoints` with `P = K`, or
    /// `fisheye::undistortPoints` with `P = K`). `None` where the distortion
    /// model cannot be inverted.
    pub fn undistort_points(&self, pixels: &[Point2<f64>]) -> Vec<Option<Point2<f64>>> {
        pixels
            .iter()
            .map(|pixel| {
                let distorted = self.distorted_normalised(pixel)?;
                self.lens
                    .undistort_within(distorted, self.fold_radius)
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
        Self::with_lens(intrinsics, self.lens)
    }

    fn pixel_from_normalised(&self, n: Vector2<f64>) -> Point2<f64> {
        let k = &self.intrinsics;
        Point2::new(k.fx_px * n.x + k.cx_px, k.fy_px * n.y + k.cy_px)
    }

    fn distorted_normalised(&self, pixel: &Point2<f64>) -> Option<Vector2<f64>> {
        if !(pixel.x.is_finite() && pixel.y.is_finite()) {
            return None;
        }
        let k = &self.intrinsics;
        Some(Vector2::new(
            (pixel.x - k.cx_px) / k.fx_px,
            (pixel.y - k.cy_px) / k.fy_px,
        ))
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
            ..Distortion::NONE
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
