//! The rig ⇄ AV2's `intrinsics.feather` and `egovehicle_SE3_sensor.feather`.

use std::collections::HashMap;
use std::path::Path;

use heptaview_calibration::{
    CalibrationError, CameraModel, Distortion, Intrinsics, Rig, RigCamera,
};

use super::{layout, pose_columns};
use crate::error::DatasetError;
use crate::feather::{FeatherTable, TableBuilder};

/// Builds the rig of `cameras` (in that order) from a log's calibration files.
/// Rows for other sensors (lidars, stereo cameras) are ignored.
pub fn read_rig(log: &Path, rig_name: &str, cameras: &[String]) -> Result<Rig, DatasetError> {
    let intrinsics_path = log.join(layout::INTRINSICS);
    let extrinsics_path = log.join(layout::EXTRINSICS);
    let intrinsics = FeatherTable::read(&intrinsics_path)?;
    let extrinsics = FeatherTable::read(&extrinsics_path)?;

    let index = |table: &FeatherTable| -> Result<HashMap<String, usize>, DatasetError> {
        Ok(table
            .string_column("sensor_name")?
            .into_iter()
            .enumerate()
            .map(|(row, name)| (name, row))
            .collect())
    };
    let intrinsic_rows = index(&intrinsics)?;
    let extrinsic_rows = index(&extrinsics)?;
    let [fx, fy, cx, cy, k1, k2, k3] =
        ["fx_px", "fy_px", "cx_px", "cy_px", "k1", "k2", "k3"].map(|c| intrinsics.f64_column(c));
    let (fx, fy, cx, cy, k1, k2, k3) = (fx?, fy?, cx?, cy?, k1?, k2?, k3?);
    let width = intrinsics.i64_column("width_px")?;
    let height = intrinsics.i64_column("height_px")?;
    let poses = pose_columns::read(&extrinsics)?;

    let mut rig_cameras = Vec::with_capacity(cameras.len());
    for camera in cameras {
        let missing = |path: &Path| DatasetError::CalibrationMissingCamera {
            path: path.to_path_buf(),
            camera: camera.clone(),
        };
        let i = *intrinsic_rows
            .get(camera)
            .ok_or_else(|| missing(&intrinsics_path))?;
        let e = *extrinsic_rows
            .get(camera)
            .ok_or_else(|| missing(&extrinsics_path))?;
        let size = |value: i64, field: &str| {
            u32::try_from(value).map_err(|_| DatasetError::BadValue {
                path: intrinsics_path.clone(),
                row: i,
                message: format!("`{field}` of camera `{camera}` is {value}"),
            })
        };
        let in_intrinsics = |source| DatasetError::Calibration {
            path: intrinsics_path.clone(),
            source: CalibrationError::Camera {
                camera: camera.clone(),
                source,
            },
        };
        let model = CameraModel::new(
            Intrinsics {
                width_px: size(width[i], "width_px")?,
                height_px: size(height[i], "height_px")?,
                fx_px: fx[i],
                fy_px: fy[i],
                cx_px: cx[i],
                cy_px: cy[i],
            },
            Distortion {
                k1: k1[i],
                k2: k2[i],
                k3: k3[i],
                ..Distortion::NONE
            },
        )
        .map_err(in_intrinsics)?;
        let pose =
            pose_columns::isometry(poses[e]).map_err(|source| DatasetError::Calibration {
                path: extrinsics_path.clone(),
                source: CalibrationError::Camera {
                    camera: camera.clone(),
                    source,
                },
            })?;
        let rig_camera = RigCamera::new(camera.clone(), model, pose).map_err(|source| {
            DatasetError::Calibration {
                path: extrinsics_path.clone(),
                source,
            }
        })?;
        rig_cameras.push(rig_camera);
    }
    Rig::new(rig_name, rig_cameras).map_err(|source| DatasetError::Calibration {
        path: intrinsics_path,
        source,
    })
}

/// Writes a rig as AV2 calibration files. AV2's intrinsics hold radial
/// distortion k1 k2 k3 only, so a camera with any other term (p1, p2, a
/// rational k4..k6, a fisheye lens) cannot be written faithfully and is
/// refused with the camera and the terms named, rather than losing them.
pub fn write_rig(log: &Path, rig: &Rig) -> Result<(), DatasetError> {
    let intrinsics_path = log.join(layout::INTRINSICS);
    let cameras = rig.cameras();
    let radial = cameras
        .iter()
        .map(|c| {
            c.model()
                .lens()
                .radial_k1_k2_k3()
                .map_err(|source| DatasetError::Calibration {
                    path: intrinsics_path.clone(),
                    source: CalibrationError::Camera {
                        camera: c.name().to_owned(),
                        source,
                    },
                })
        })
        .collect::<Result<Vec<[f64; 3]>, _>>()?;
    if let Some(dir) = intrinsics_path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DatasetError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let names: Vec<String> = cameras.iter().map(|c| c.name().to_owned()).collect();
    let intrinsic = |f: fn(&RigCamera) -> f64| cameras.iter().map(f).collect::<Vec<f64>>();
    TableBuilder::new()
        .string("sensor_name", names.clone())
        .f64("fx_px", intrinsic(|c| c.model().intrinsics().fx_px))
        .f64("fy_px", intrinsic(|c| c.model().intrinsics().fy_px))
        .f64("cx_px", intrinsic(|c| c.model().intrinsics().cx_px))
        .f64("cy_px", intrinsic(|c| c.model().intrinsics().cy_px))
        .f64("k1", radial.iter().map(|k| k[0]).collect())
        .f64("k2", radial.iter().map(|k| k[1]).collect())
        .f64("k3", radial.iter().map(|k| k[2]).collect())
        .i64(
            "height_px",
            cameras
                .iter()
                .map(|c| i64::from(c.model().height_px()))
                .collect(),
        )
        .i64(
            "width_px",
            cameras
                .iter()
                .map(|c| i64::from(c.model().width_px()))
                .collect(),
        )
        .write(&intrinsics_path)?;
    let table = TableBuilder::new().string("sensor_name", names);
    pose_columns::write(table, cameras.iter().map(RigCamera::ego_from_camera))
        .write(&log.join(layout::EXTRINSICS))
}

#[cfg(test)]
mod tests {
    use heptaview_calibration::{CameraError, FisheyeDistortion, Lens, argoverse2_rig};

    use super::*;

    /// The AV2 rig with its first camera's lens replaced.
    fn rig_with_lens(lens: Lens) -> Rig {
        let rig = argoverse2_rig().unwrap();
        let mut cameras = rig.cameras().to_vec();
        let first = &cameras[0];
        let model = CameraModel::with_lens(*first.model().intrinsics(), lens).unwrap();
        cameras[0] = RigCamera::new(first.name(), model, *first.ego_from_camera()).unwrap();
        Rig::new(rig.name(), cameras).unwrap()
    }

    #[test]
    fn lenses_av2_cannot_hold_are_refused_before_anything_is_written() {
        let refused = [
            Lens::Equidistant(FisheyeDistortion {
                k1: -0.04,
                ..FisheyeDistortion::NONE
            }),
            Lens::RadialTangential(Distortion {
                k1: -0.26,
                k4: 0.1,
                ..Distortion::NONE
            }),
            Lens::RadialTangential(Distortion {
                k1: -0.26,
                p2: 0.001,
                ..Distortion::NONE
            }),
        ];
        for lens in refused {
            let dir = tempfile::tempdir().unwrap();
            let error = write_rig(dir.path(), &rig_with_lens(lens)).unwrap_err();
            let DatasetError::Calibration {
                source: CalibrationError::Camera { camera, source },
                ..
            } = &error
            else {
                panic!("{error:?}");
            };
            assert_eq!(camera, "ring_front_center");
            assert!(
                matches!(source, CameraError::LensNotRadialPolynomial { .. }),
                "{source:?}"
            );
            assert!(!dir.path().join(layout::INTRINSICS).exists());
        }
    }

    #[test]
    fn radial_lenses_round_trip_through_av2_calibration() {
        let rig = rig_with_lens(Lens::RadialTangential(Distortion {
            k1: -0.3,
            k2: 0.1,
            k3: -0.02,
            ..Distortion::NONE
        }));
        let dir = tempfile::tempdir().unwrap();
        write_rig(dir.path(), &rig).unwrap();
        let names: Vec<String> = rig.camera_names().map(str::to_owned).collect();
        assert_eq!(read_rig(dir.path(), rig.name(), &names).unwrap(), rig);
    }
}
