//! `city_SE3_egovehicle.feather`: the vehicle's pose in the city frame over time.

use std::path::Path;

use heptaview_calibration::EgoPoses;

use super::pose_columns;

use crate::error::DatasetError;
use crate::feather::{FeatherTable, TableBuilder};

/// Reads `city_SE3_egovehicle.feather`; timestamps must increase strictly.
pub fn read_poses(path: &Path) -> Result<EgoPoses, DatasetError> {
    let table = FeatherTable::read(path)?;
    let timestamps = table.i64_column("timestamp_ns")?;
    let poses = pose_columns::read(&table)?;
    let mut timestamps_ns = Vec::with_capacity(timestamps.len());
    let mut city_from_ego = Vec::with_capacity(timestamps.len());
    for (row, &timestamp) in timestamps.iter().enumerate() {
        let bad = |message: String| DatasetError::BadValue {
            path: path.to_path_buf(),
            row,
            message,
        };
        let t = u64::try_from(timestamp)
            .map_err(|_| bad(format!("timestamp_ns {timestamp} is negative")))?;
        if let Some(&previous) = timestamps_ns.last()
            && t <= previous
        {
            return Err(DatasetError::UnsortedTimestamps {
                path: path.to_path_buf(),
                row,
                previous_ns: previous as i64,
                timestamp_ns: timestamp,
            });
        }
        let pose = pose_columns::isometry(poses[row]).map_err(|e| bad(e.to_string()))?;
        timestamps_ns.push(t);
        city_from_ego.push(pose);
    }
    Ok(EgoPoses::from_sorted(timestamps_ns, city_from_ego))
}

/// Writes `city_SE3_egovehicle.feather`.
pub fn write_poses(poses: &EgoPoses, path: &Path) -> Result<(), DatasetError> {
    let (timestamps, city_from_ego): (Vec<i64>, Vec<_>) =
        poses.samples().map(|(t, pose)| (t as i64, pose)).unzip();
    let table = TableBuilder::new().i64("timestamp_ns", timestamps);
    pose_columns::write(table, city_from_ego.into_iter()).write(path)
}
