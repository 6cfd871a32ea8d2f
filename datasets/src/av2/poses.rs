//! `city_SE3_egovehicle.feather`: the vehicle's pose in the city frame over time.

use std::path::Path;

use nalgebra::Isometry3;

use super::pose_columns;

use crate::error::DatasetError;
use crate::feather::{FeatherTable, TableBuilder};

/// `city_from_ego` poses at strictly increasing timestamps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EgoPoses {
    timestamps_ns: Vec<u64>,
    city_from_ego: Vec<Isometry3<f64>>,
}

impl EgoPoses {
    /// Poses from `(timestamp_ns, city_from_ego)` pairs in any order; a
    /// timestamp given twice keeps its first pose.
    pub fn from_samples(mut samples: Vec<(u64, Isometry3<f64>)>) -> Self {
        samples.sort_by_key(|(t, _)| *t);
        samples.dedup_by_key(|(t, _)| *t);
        let (timestamps_ns, city_from_ego) = samples.into_iter().unzip();
        Self {
            timestamps_ns,
            city_from_ego,
        }
    }

    pub fn read(path: &Path) -> Result<Self, DatasetError> {
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
        Ok(Self {
            timestamps_ns,
            city_from_ego,
        })
    }

    pub fn write(&self, path: &Path) -> Result<(), DatasetError> {
        let table = TableBuilder::new().i64(
            "timestamp_ns",
            self.timestamps_ns.iter().map(|&t| t as i64).collect(),
        );
        pose_columns::write(table, self.city_from_ego.iter()).write(path)
    }

    pub fn timestamps_ns(&self) -> &[u64] {
        &self.timestamps_ns
    }

    pub fn len(&self) -> usize {
        self.timestamps_ns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timestamps_ns.is_empty()
    }

    /// The pose at exactly this timestamp, if one was recorded.
    pub fn exact(&self, timestamp_ns: u64) -> Option<Isometry3<f64>> {
        self.timestamps_ns
            .binary_search(&timestamp_ns)
            .ok()
            .map(|i| self.city_from_ego[i])
    }

    /// `city_from_ego` at any time within the recorded span: linear in
    /// translation, spherical-linear in rotation between the two nearest poses.
    pub fn at(&self, timestamp_ns: u64) -> Option<Isometry3<f64>> {
        match self.timestamps_ns.binary_search(&timestamp_ns) {
            Ok(i) => Some(self.city_from_ego[i]),
            Err(i) if i == 0 || i == self.timestamps_ns.len() => None,
            Err(i) => {
                let (t0, t1) = (self.timestamps_ns[i - 1], self.timestamps_ns[i]);
                let fraction = (timestamp_ns - t0) as f64 / (t1 - t0) as f64;
                let (a, b) = (&self.city_from_ego[i - 1], &self.city_from_ego[i]);
                Some(a.lerp_slerp(b, fraction))
            }
        }
    }
}
