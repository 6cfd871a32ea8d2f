//! A rig: named cameras, each with its model and its pose on the vehicle.
//!
//! Ego frame (as Argoverse 2): origin on the ground under the centre of the rear
//! axle, x forward, y left, z up. `p_ego = ego_from_camera * p_camera`.

use std::f64::consts::TAU;

use nalgebra::{Isometry3, Point2, Point3, Rotation3, Translation3, UnitQuaternion, Vector3};

use crate::camera_model::CameraModel;
use crate::error::{CalibrationError, CameraError};
use crate::timing::TriggerTiming;

/// The seven ring cameras of an Argoverse 2 vehicle, in the order the design uses.
pub const AV2_RING_CAMERAS: [&str; 7] = [
    "ring_front_center",
    "ring_front_left",
    "ring_front_right",
    "ring_side_left",
    "ring_side_right",
    "ring_rear_left",
    "ring_rear_right",
];

/// How far a stored quaternion may be from unit length (files keep ~16 digits).
pub const QUATERNION_NORM_TOLERANCE: f64 = 1e-6;

/// Rays closer to horizontal than this (|z| of the unit ray in ego) never meet
/// the ground within any useful range: treated as at the horizon.
const HORIZON_EPSILON: f64 = 1e-9;

/// `ego_from_camera` for a camera mounted at `translation_m` (ego frame) and
/// turned by yaw (left positive), pitch (down positive) and roll about its own
/// optical axis, all in radians. With all three zero the camera looks along ego x.
pub fn ego_from_camera_mount(
    translation_m: Vector3<f64>,
    yaw_rad: f64,
    pitch_down_rad: f64,
    roll_rad: f64,
) -> Isometry3<f64> {
    // Columns: where the camera's x (right), y (down), z (forward) axes point in ego.
    let looking_forward = Rotation3::from_matrix_unchecked(nalgebra::Matrix3::new(
        0.0, 0.0, 1.0, //
        -1.0, 0.0, 0.0, //
        0.0, -1.0, 0.0,
    ));
    let rotation = UnitQuaternion::from_axis_angle(&Vector3::z_axis(), yaw_rad)
        * UnitQuaternion::from_axis_angle(&Vector3::y_axis(), pitch_down_rad)
        * UnitQuaternion::from_rotation_matrix(&looking_forward)
        * UnitQuaternion::from_axis_angle(&Vector3::z_axis(), roll_rad);
    Isometry3::from_parts(Translation3::from(translation_m), rotation)
}

/// Builds a unit quaternion from stored (qw, qx, qy, qz), refusing ones that are
/// not unit length rather than silently normalising a corrupt calibration.
pub fn unit_quaternion(
    qw: f64,
    qx: f64,
    qy: f64,
    qz: f64,
) -> Result<UnitQuaternion<f64>, CameraError> {
    for (field, value) in [("qw", qw), ("qx", qx), ("qy", qy), ("qz", qz)] {
        if !value.is_finite() {
            return Err(CameraError::NonFinite { field, value });
        }
    }
    let q = nalgebra::Quaternion::new(qw, qx, qy, qz);
    let norm = q.norm();
    if (norm - 1.0).abs() > QUATERNION_NORM_TOLERANCE {
        return Err(CameraError::QuaternionNotUnit {
            norm,
            tolerance: QUATERNION_NORM_TOLERANCE,
        });
    }
    Ok(UnitQuaternion::from_quaternion(q))
}

/// One camera of a rig.
#[derive(Debug, Clone, PartialEq)]
pub struct RigCamera {
    name: String,
    model: CameraModel,
    ego_from_camera: Isometry3<f64>,
}

impl RigCamera {
    pub fn new(
        name: impl Into<String>,
        model: CameraModel,
        ego_from_camera: Isometry3<f64>,
    ) -> Result<Self, CalibrationError> {
        let name = name.into();
        let t = ego_from_camera.translation.vector;
        for (field, value) in [("tx_m", t.x), ("ty_m", t.y), ("tz_m", t.z)] {
            if !value.is_finite() {
                return Err(CalibrationError::camera(
                    &name,
                    CameraError::NonFinite { field, value },
                ));
            }
        }
        Ok(Self {
            name,
            model,
            ego_from_camera,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn model(&self) -> &CameraModel {
        &self.model
    }

    pub fn ego_from_camera(&self) -> &Isometry3<f64> {
        &self.ego_from_camera
    }

    pub fn camera_from_ego(&self) -> Isometry3<f64> {
        self.ego_from_camera.inverse()
    }

    /// Ego-frame point → pixel (distorted). `None` behind the camera; the pixel
    /// may be off the image (check with [`CameraModel::contains`]).
    pub fn project_ego_point(&self, p_ego: &Point3<f64>) -> Option<Point2<f64>> {
        let p_camera = self.ego_from_camera.inverse_transform_point(p_ego);
        self.model.project(&p_camera)
    }

    /// The unit ray through a pixel, expressed in the ego frame.
    pub fn pixel_ray_in_ego(&self, pixel: &Point2<f64>) -> Option<Vector3<f64>> {
        let ray = self.model.unproject(pixel)?;
        Some(self.ego_from_camera.rotation * ray.into_inner())
    }

    /// Where the ray through `pixel` meets the ground plane z = 0 (ego frame).
    /// `None` at or above the horizon, or for a camera not above the ground.
    pub fn pixel_to_ground(&self, pixel: &Point2<f64>) -> Option<Point3<f64>> {
        let direction = self.pixel_ray_in_ego(pixel)?;
        let origin = self.ego_from_camera.translation.vector;
        if direction.z > -HORIZON_EPSILON || origin.z <= 0.0 {
            return None;
        }
        let distance = -origin.z / direction.z;
        Some(Point3::from(origin + direction * distance))
    }

    /// Image row of the horizon (the ground plane's vanishing line) where it
    /// crosses the camera's heading. `None` for a camera looking straight up or
    /// down, whose heading has no horizontal direction.
    pub fn horizon_row(&self) -> Option<f64> {
        let optical_axis = self.ego_from_camera.rotation * Vector3::z();
        let heading = Vector3::new(optical_axis.x, optical_axis.y, 0.0);
        if heading.norm() < 1e-9 {
            return None;
        }
        let in_camera = self.ego_from_camera.rotation.inverse() * heading.normalize();
        self.model.project(&Point3::from(in_camera)).map(|p| p.y)
    }

    /// Horizontal field of view as an arc of ego azimuths (atan2(y, x), left
    /// positive): `(start_rad, width_rad)`, from the right image edge leftwards,
    /// measured along the horizon row.
    pub fn azimuth_arc(&self) -> Option<(f64, f64)> {
        let row = self.horizon_row().unwrap_or(self.model.intrinsics().cy_px);
        let right_edge = f64::from(self.model.width_px()) - 0.5;
        let azimuth_at = |column: f64| {
            self.pixel_ray_in_ego(&Point2::new(column, row))
                .map(|d| d.y.atan2(d.x))
        };
        let right = azimuth_at(right_edge)?;
        let left = azimuth_at(-0.5)?;
        Some((right, (left - right).rem_euclid(TAU)))
    }

    pub fn horizontal_fov_deg(&self) -> Option<f64> {
        self.azimuth_arc().map(|(_, width)| width.to_degrees())
    }
}

/// Named cameras with unique names.
#[derive(Debug, Clone, PartialEq)]
pub struct Rig {
    name: String,
    cameras: Vec<RigCamera>,
    /// When the cameras expose within a trigger cycle, if declared.
    timing: Option<TriggerTiming>,
}

impl Rig {
    pub fn new(name: impl Into<String>, cameras: Vec<RigCamera>) -> Result<Self, CalibrationError> {
        if cameras.is_empty() {
            return Err(CalibrationError::EmptyRig);
        }
        for (i, camera) in cameras.iter().enumerate() {
            if cameras[..i].iter().any(|c| c.name == camera.name) {
                return Err(CalibrationError::DuplicateCamera(camera.name.clone()));
            }
        }
        Ok(Self {
            name: name.into(),
            cameras,
            timing: None,
        })
    }

    /// The rig with its cameras' trigger timing declared (offsets in camera order).
    pub fn with_timing(self, timing: TriggerTiming) -> Result<Self, CalibrationError> {
        if timing.offsets_ns().len() != self.cameras.len() {
            return Err(CalibrationError::TimingCameras {
                offsets: timing.offsets_ns().len(),
                cameras: self.cameras.len(),
            });
        }
        Ok(Self {
            timing: Some(timing),
            ..self
        })
    }

    /// The declared trigger timing, if the rig has one.
    pub fn timing(&self) -> Option<&TriggerTiming> {
        self.timing.as_ref()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cameras(&self) -> &[RigCamera] {
        &self.cameras
    }

    pub fn camera_names(&self) -> impl Iterator<Item = &str> {
        self.cameras.iter().map(RigCamera::name)
    }

    pub fn camera(&self, name: &str) -> Result<&RigCamera, CalibrationError> {
        self.cameras.iter().find(|c| c.name == name).ok_or_else(|| {
            CalibrationError::UnknownCamera {
                camera: name.to_owned(),
                available: self.camera_names().collect::<Vec<_>>().join(", "),
            }
        })
    }

    /// Shared horizontal field of view of two cameras, in degrees (0 when
    /// their azimuth arcs do not meet).
    pub fn fov_overlap_deg(&self, a: &str, b: &str) -> Result<f64, CalibrationError> {
        let (a, b) = (self.camera(a)?, self.camera(b)?);
        Ok(match (a.azimuth_arc(), b.azimuth_arc()) {
            (Some(arc_a), Some(arc_b)) => arc_overlap(arc_a, arc_b).to_degrees(),
            _ => 0.0,
        })
    }

    /// Every pair of cameras whose fields of view overlap, with the overlap in degrees.
    pub fn overlapping_pairs(&self) -> Vec<(&str, &str, f64)> {
        let mut pairs = Vec::new();
        for (i, a) in self.cameras.iter().enumerate() {
            for b in &self.cameras[i + 1..] {
                if let (Some(arc_a), Some(arc_b)) = (a.azimuth_arc(), b.azimuth_arc()) {
                    let overlap = arc_overlap(arc_a, arc_b).to_degrees();
                    if overlap > 0.0 {
                        pairs.push((a.name(), b.name(), overlap));
                    }
                }
            }
        }
        pairs
    }

    /// The rig with every image resampled by one factor so that the widest
    /// camera becomes `width_px` wide (sides rounded to whole pixels, the
    /// intrinsics following each camera's exact per-axis factor).
    pub fn scaled_to_width(&self, width_px: u32) -> Result<Self, CalibrationError> {
        let widest = self
            .cameras
            .iter()
            .map(|c| c.model.width_px())
            .max()
            .ok_or(CalibrationError::EmptyRig)?;
        if width_px == 0 || width_px > widest {
            return Err(CalibrationError::InvalidScale {
                width_px,
                reason: "the width must be positive and at most the widest camera's",
            });
        }
        let factor = f64::from(width_px) / f64::from(widest);
        let scale_side = |side: u32| ((f64::from(side) * factor).round() as u32).max(1);
        let cameras = self
            .cameras
            .iter()
            .map(|c| {
                let model = c
                    .model
                    .resized(
                        scale_side(c.model.width_px()),
                        scale_side(c.model.height_px()),
                    )
                    .map_err(|e| CalibrationError::camera(&c.name, e))?;
                Ok(RigCamera { model, ..c.clone() })
            })
            .collect::<Result<Vec<_>, CalibrationError>>()?;
        Ok(Self {
            name: self.name.clone(),
            cameras,
            timing: self.timing.clone(),
        })
    }
}

/// Length of the intersection of two arcs on the circle, each `(start, width)`.
fn arc_overlap((start_a, width_a): (f64, f64), (start_b, width_b): (f64, f64)) -> f64 {
    let offset = (start_b - start_a).rem_euclid(TAU);
    // In a's coordinates b is [offset, offset + width_b]; its part past 2π wraps
    // round to [0, offset + width_b - 2π]. The two pieces are disjoint.
    let b_inside_a = (width_a.min(offset + width_b) - offset).max(0.0);
    let b_wrapped_into_a = width_a.min(offset + width_b - TAU).max(0.0);
    b_inside_a + b_wrapped_into_a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_overlap_handles_wrap_around() {
        let deg = f64::to_radians;
        let overlap = |a: (f64, f64), b: (f64, f64)| {
            arc_overlap((deg(a.0), deg(a.1)), (deg(b.0), deg(b.1))).to_degrees()
        };
        assert!((overlap((0.0, 60.0), (40.0, 60.0)) - 20.0).abs() < 1e-9);
        assert!((overlap((40.0, 60.0), (0.0, 60.0)) - 20.0).abs() < 1e-9);
        assert!((overlap((170.0, 30.0), (-175.0, 20.0)) - 15.0).abs() < 1e-9);
        assert!((overlap((-175.0, 20.0), (170.0, 30.0)) - 15.0).abs() < 1e-9);
        assert_eq!(overlap((0.0, 30.0), (90.0, 30.0)), 0.0);
        assert!((overlap((0.0, 90.0), (10.0, 20.0)) - 20.0).abs() < 1e-9);
    }
}
