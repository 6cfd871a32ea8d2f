//! The seven pose columns AV2 tables share (qw qx qy qz tx_m ty_m tz_m): an
//! SE(3) transform per row, read with validation and written in one place.

use heptaview_calibration::{CameraError, unit_quaternion};
use nalgebra::{Isometry3, Translation3};

use crate::error::DatasetError;
use crate::feather::{FeatherTable, TableBuilder};

pub const COLUMNS: [&str; 7] = ["qw", "qx", "qy", "qz", "tx_m", "ty_m", "tz_m"];

/// The pose columns of every row, as read (not yet validated).
pub fn read(table: &FeatherTable) -> Result<Vec<[f64; 7]>, DatasetError> {
    let columns = COLUMNS
        .iter()
        .map(|c| table.f64_column(c))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((0..table.num_rows())
        .map(|row| std::array::from_fn(|c| columns[c][row]))
        .collect())
}

/// A row's pose, refusing non-finite numbers and non-unit quaternions.
pub fn isometry([qw, qx, qy, qz, tx, ty, tz]: [f64; 7]) -> Result<Isometry3<f64>, CameraError> {
    let rotation = unit_quaternion(qw, qx, qy, qz)?;
    for (field, value) in [("tx_m", tx), ("ty_m", ty), ("tz_m", tz)] {
        if !value.is_finite() {
            return Err(CameraError::NonFinite { field, value });
        }
    }
    Ok(Isometry3::from_parts(
        Translation3::new(tx, ty, tz),
        rotation,
    ))
}

/// Appends the seven pose columns for `poses`, in order.
pub fn write<'a>(
    builder: TableBuilder,
    poses: impl Iterator<Item = &'a Isometry3<f64>> + Clone,
) -> TableBuilder {
    let column = |f: fn(&Isometry3<f64>) -> f64| poses.clone().map(f).collect::<Vec<f64>>();
    builder
        .f64("qw", column(|p| p.rotation.w))
        .f64("qx", column(|p| p.rotation.i))
        .f64("qy", column(|p| p.rotation.j))
        .f64("qz", column(|p| p.rotation.k))
        .f64("tx_m", column(|p| p.translation.x))
        .f64("ty_m", column(|p| p.translation.y))
        .f64("tz_m", column(|p| p.translation.z))
}
