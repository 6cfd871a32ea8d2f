//! Rig files in TOML. The fields follow Argoverse 2's calibration tables
//! (`intrinsics.feather`, `egovehicle_SE3_sensor.feather`) so that the two
//! convert one to one:
//!
//! ```toml
//! name = "argoverse2"
//!
//! [[cameras]]
//! name = "ring_front_center"
//! width_px = 1550
//! height_px = 2048
//! fx_px = 1773.0
//! fy_px = 1773.0
//! cx_px = 774.5
//! cy_px = 1023.5
//! k1 = -0.26   # distortion: k1 k2 p1 p2 k3, each 0 when absent
//! [cameras.ego_from_camera]   # the camera's pose in the ego frame
//! qw = 0.5
//! qx = -0.5
//! qy = 0.5
//! qz = -0.5
//! tx_m = 1.63
//! ty_m = 0.0
//! tz_m = 1.43
//! ```
//!
//! The lens is OpenCV's plumb_bob (k1 k2 p1 p2 k3) unless the camera says
//! otherwise, with ROS's names for its distortion models:
//! `lens = "rational_polynomial"` adds k4 k5 k6 (the radial factor's
//! denominator); `lens = "equidistant"` is OpenCV's fisheye model, whose
//! coefficients are k1 k2 k3 k4 (of θ_d = θ(1 + k1θ² + k2θ⁴ + k3θ⁶ + k4θ⁸)).
//! A coefficient the lens model does not have is an error rather than being
//! ignored: fisheye k1..k4 read as plumb_bob would be a different lens.
//!
//! Optionally, when the cameras are triggered in a fixed order within a
//! repeating cycle (an AV2 car's are, by the lidar's rotation), the rig
//! declares the cycle (`trigger_period_ms = 50.0` at the top) and each
//! camera's exposure offset within it (`trigger_offset_ms = 39.6`), all
//! cameras or none.

use std::path::Path;

use nalgebra::{Isometry3, Translation3};
use serde::{Deserialize, Serialize};

use crate::camera_model::{CameraModel, Distortion, FisheyeDistortion, Intrinsics, Lens};
use crate::error::{CalibrationError, CameraError, TimingError};
use crate::rig::{Rig, RigCamera, unit_quaternion};
use crate::timing::TriggerTiming;

/// Every field optional so that a missing one is reported with its camera's
/// name, which serde's own "missing field" message cannot do.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RigDocument {
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger_period_ms: Option<f64>,
    #[serde(default, rename = "cameras")]
    cameras: Vec<CameraDocument>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CameraDocument {
    name: Option<String>,
    width_px: Option<u32>,
    height_px: Option<u32>,
    fx_px: Option<f64>,
    fy_px: Option<f64>,
    cx_px: Option<f64>,
    cy_px: Option<f64>,
    /// Absent means plumb_bob, which is also how plumb_bob is written.
    #[serde(skip_serializing_if = "Option::is_none")]
    lens: Option<LensName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k1: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p1: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    p2: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k3: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k4: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k5: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k6: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trigger_offset_ms: Option<f64>,
    ego_from_camera: Option<PoseDocument>,
}

/// ROS's distortion model names. An enum, so that the TOML parser reports
/// an unknown name with its line and the names it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
enum LensName {
    PlumbBob,
    RationalPolynomial,
    Equidistant,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PoseDocument {
    qw: Option<f64>,
    qx: Option<f64>,
    qy: Option<f64>,
    qz: Option<f64>,
    tx_m: Option<f64>,
    ty_m: Option<f64>,
    tz_m: Option<f64>,
}

fn required<T>(value: Option<T>, field: &'static str) -> Result<T, CameraError> {
    value.ok_or(CameraError::MissingField(field))
}

impl CameraDocument {
    fn into_camera(self, index: usize) -> Result<RigCamera, CalibrationError> {
        let name = self
            .name
            .clone()
            .ok_or(CalibrationError::UnnamedCamera { index: index + 1 })?;
        let (model, ego_from_camera) = self
            .into_parts()
            .map_err(|e| CalibrationError::camera(&name, e))?;
        RigCamera::new(name, model, ego_from_camera)
    }

    fn into_parts(self) -> Result<(CameraModel, Isometry3<f64>), CameraError> {
        let intrinsics = Intrinsics {
            width_px: required(self.width_px, "width_px")?,
            height_px: required(self.height_px, "height_px")?,
            fx_px: required(self.fx_px, "fx_px")?,
            fy_px: required(self.fy_px, "fy_px")?,
            cx_px: required(self.cx_px, "cx_px")?,
            cy_px: required(self.cy_px, "cy_px")?,
        };
        let model = CameraModel::with_lens(intrinsics, self.lens()?)?;
        let pose = required(self.ego_from_camera, "ego_from_camera")?;
        let rotation = unit_quaternion(
            required(pose.qw, "ego_from_camera.qw")?,
            required(pose.qx, "ego_from_camera.qx")?,
            required(pose.qy, "ego_from_camera.qy")?,
            required(pose.qz, "ego_from_camera.qz")?,
        )?;
        let translation = Translation3::new(
            required(pose.tx_m, "ego_from_camera.tx_m")?,
            required(pose.ty_m, "ego_from_camera.ty_m")?,
            required(pose.tz_m, "ego_from_camera.tz_m")?,
        );
        Ok((model, Isometry3::from_parts(translation, rotation)))
    }

    /// The lens its `lens` and coefficient fields describe, refusing a
    /// coefficient its model does not have.
    fn lens(&self) -> Result<Lens, CameraError> {
        let name = self.lens.unwrap_or(LensName::PlumbBob);
        let (lens, allowed, foreign): (_, _, &[(&'static str, Option<f64>)]) = match name {
            LensName::PlumbBob => (
                Lens::PLUMB_BOB,
                "k1, k2, p1, p2, k3; k4, k5, k6 need lens = \"rational_polynomial\"",
                &[("k4", self.k4), ("k5", self.k5), ("k6", self.k6)],
            ),
            LensName::RationalPolynomial => (
                Lens::RATIONAL_POLYNOMIAL,
                "k1, k2, p1, p2, k3, k4, k5, k6",
                &[],
            ),
            LensName::Equidistant => (
                Lens::EQUIDISTANT,
                "k1, k2, k3, k4",
                &[
                    ("p1", self.p1),
                    ("p2", self.p2),
                    ("k5", self.k5),
                    ("k6", self.k6),
                ],
            ),
        };
        if let Some(&(field, _)) = foreign.iter().find(|(_, value)| value.is_some()) {
            return Err(CameraError::CoefficientNotInLens {
                field,
                lens,
                allowed,
            });
        }
        let coefficient = |value: Option<f64>| value.unwrap_or(0.0);
        Ok(match name {
            LensName::PlumbBob | LensName::RationalPolynomial => {
                Lens::RadialTangential(Distortion {
                    k1: coefficient(self.k1),
                    k2: coefficient(self.k2),
                    p1: coefficient(self.p1),
                    p2: coefficient(self.p2),
                    k3: coefficient(self.k3),
                    k4: coefficient(self.k4),
                    k5: coefficient(self.k5),
                    k6: coefficient(self.k6),
                })
            }
            LensName::Equidistant => Lens::Equidistant(FisheyeDistortion {
                k1: coefficient(self.k1),
                k2: coefficient(self.k2),
                k3: coefficient(self.k3),
                k4: coefficient(self.k4),
            }),
        })
    }

    fn from_camera(camera: &RigCamera, trigger_offset_ms: Option<f64>) -> Self {
        let k = camera.model().intrinsics();
        let pose = camera.ego_from_camera();
        let q = pose.rotation.quaternion();
        let t = pose.translation.vector;
        let nonzero = |v: f64| (v != 0.0).then_some(v);
        // plumb_bob is the default and is written without `lens`, so that
        // existing rig files read and write back unchanged.
        let (lens, [k1, k2, p1, p2, k3, k4, k5, k6]) = match camera.model().lens() {
            Lens::RadialTangential(d) if d.is_rational() => {
                (Some(LensName::RationalPolynomial), d.as_opencv_array8())
            }
            Lens::RadialTangential(d) => (None, d.as_opencv_array8()),
            Lens::Equidistant(d) => (
                Some(LensName::Equidistant),
                [d.k1, d.k2, 0.0, 0.0, d.k3, d.k4, 0.0, 0.0],
            ),
        };
        Self {
            name: Some(camera.name().to_owned()),
            width_px: Some(k.width_px),
            height_px: Some(k.height_px),
            fx_px: Some(k.fx_px),
            fy_px: Some(k.fy_px),
            cx_px: Some(k.cx_px),
            cy_px: Some(k.cy_px),
            lens,
            k1: nonzero(k1),
            k2: nonzero(k2),
            p1: nonzero(p1),
            p2: nonzero(p2),
            k3: nonzero(k3),
            k4: nonzero(k4),
            k5: nonzero(k5),
            k6: nonzero(k6),
            trigger_offset_ms,
            ego_from_camera: Some(PoseDocument {
                qw: Some(q.w),
                qx: Some(q.i),
                qy: Some(q.j),
                qz: Some(q.k),
                tx_m: Some(t.x),
                ty_m: Some(t.y),
                tz_m: Some(t.z),
            }),
        }
    }
}

impl Rig {
    /// Parses and validates a rig from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, CalibrationError> {
        let document: RigDocument =
            toml::from_str(text).map_err(|e| CalibrationError::Toml(e.to_string()))?;
        let offsets_ms: Vec<f64> = document
            .cameras
            .iter()
            .filter_map(|c| c.trigger_offset_ms)
            .collect();
        let cameras = document
            .cameras
            .into_iter()
            .enumerate()
            .map(|(index, camera)| camera.into_camera(index))
            .collect::<Result<Vec<_>, _>>()?;
        let rig = Rig::new(document.name.unwrap_or_default(), cameras)?;
        let declared = offsets_ms.len();
        match document.trigger_period_ms {
            None if declared == 0 => Ok(rig),
            Some(period_ms) if declared == rig.cameras().len() => {
                rig.with_timing(TriggerTiming::from_ms(period_ms, &offsets_ms)?)
            }
            _ => Err(TimingError::PartlyDeclared {
                declared,
                cameras: rig.cameras().len(),
            }
            .into()),
        }
    }

    /// TOML text that [`Rig::from_toml_str`] reads back to an equal rig
    /// (floats are written with enough digits to round-trip exactly).
    pub fn to_toml_string(&self) -> Result<String, CalibrationError> {
        let timing = self.timing();
        let document = RigDocument {
            name: Some(self.name().to_owned()),
            trigger_period_ms: timing.map(|t| t.period_ns() as f64 / 1e6),
            cameras: self
                .cameras()
                .iter()
                .enumerate()
                .map(|(i, camera)| {
                    let offset_ms = timing.map(|t| t.offset_ns(i) as f64 / 1e6);
                    CameraDocument::from_camera(camera, offset_ms)
                })
                .collect(),
        };
        toml::to_string_pretty(&document).map_err(|e| CalibrationError::Toml(e.to_string()))
    }

    /// Loads a rig file; every error names the file.
    pub fn load(path: &Path) -> Result<Self, CalibrationError> {
        let text = std::fs::read_to_string(path).map_err(|source| CalibrationError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text).map_err(|e| e.in_file(path))
    }

    pub fn save(&self, path: &Path) -> Result<(), CalibrationError> {
        let text = self.to_toml_string()?;
        std::fs::write(path, text).map_err(|source| CalibrationError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}
