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
                p1: 0.0,
                p2: 0.0,
                k3: k3[i],
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

/// Writes a rig as AV2 calibration files. AV2 has no tangential distortion
/// columns, so a rig with p1/p2 cannot be written faithfully and is refused.
pub fn write_rig(log: &Path, rig: &Rig) -> Result<(), DatasetError> {
    let intrinsics_path = log.join(layout::INTRINSICS);
    if let Some(dir) = intrinsics_path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DatasetError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let cameras = rig.cameras();
    if let Some(camera) = cameras.iter().find(|c| {
        let d = c.model().distortion();
        d.p1 != 0.0 || d.p2 != 0.0
    }) {
        return Err(DatasetError::BadValue {
            path: intrinsics_path,
            row: 0,
            message: format!(
                "camera `{}` has tangential distortion (p1, p2), which AV2 calibration cannot hold",
                camera.name()
            ),
        });
    }
    let names: Vec<String> = cameras.iter().map(|c| c.name().to_owned()).collect();
    let intrinsic = |f: fn(&RigCamera) -> f64| cameras.iter().map(f).collect::<Vec<f64>>();
    TableBuilder::new()
        .string("sensor_name", names.clone())
        .f64("fx_px", intrinsic(|c| c.model().intrinsics().fx_px))
        .f64("fy_px", intrinsic(|c| c.model().intrinsics().fy_px))
        .f64("cx_px", intrinsic(|c| c.model().intrinsics().cx_px))
        .f64("cy_px", intrinsic(|c| c.model().intrinsics().cy_px))
        .f64("k1", intrinsic(|c| c.model().distortion().k1))
        .f64("k2", intrinsic(|c| c.model().distortion().k2))
        .f64("k3", intrinsic(|c| c.model().distortion().k3))
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
