//! `annotations.feather`: ground-truth cuboids, in the ego frame of their timestamp.

use std::collections::BTreeMap;
use std::path::Path;

use nalgebra::{Isometry3, Point3};

use super::pose_columns;

use crate::error::DatasetError;
use crate::feather::{FeatherTable, TableBuilder};

/// One annotated object at one timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Cuboid {
    pub track_uuid: String,
    /// AV2 category name: REGULAR_VEHICLE, PEDESTRIAN, BICYCLIST, BUS, BOX_TRUCK, ...
    pub category: String,
    pub length_m: f64,
    pub width_m: f64,
    pub height_m: f64,
    /// The cuboid's centre and heading (x along its length) in the ego frame.
    pub ego_from_object: Isometry3<f64>,
    pub num_interior_pts: i64,
}

impl Cuboid {
    /// The eight corners in the ego frame.
    pub fn corners_ego(&self) -> [Point3<f64>; 8] {
        let (l, w, h) = (self.length_m / 2.0, self.width_m / 2.0, self.height_m / 2.0);
        let signs = [
            (1.0, 1.0, 1.0),
            (1.0, -1.0, 1.0),
            (-1.0, -1.0, 1.0),
            (-1.0, 1.0, 1.0),
            (1.0, 1.0, -1.0),
            (1.0, -1.0, -1.0),
            (-1.0, -1.0, -1.0),
            (-1.0, 1.0, -1.0),
        ];
        signs.map(|(sx, sy, sz)| self.ego_from_object * Point3::new(sx * l, sy * w, sz * h))
    }
}

/// Cuboids grouped by annotation timestamp (AV2 annotates lidar sweeps, which
/// need not coincide with camera timestamps).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Annotations {
    by_timestamp: BTreeMap<u64, Vec<Cuboid>>,
}

impl Annotations {
    pub fn insert(&mut self, timestamp_ns: u64, cuboid: Cuboid) {
        self.by_timestamp
            .entry(timestamp_ns)
            .or_default()
            .push(cuboid);
    }

    pub fn timestamps_ns(&self) -> impl Iterator<Item = u64> + '_ {
        self.by_timestamp.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.by_timestamp.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_timestamp.is_empty()
    }

    /// The annotated timestamp nearest to `timestamp_ns`, if within `tolerance_ns`,
    /// with its cuboids.
    pub fn nearest(&self, timestamp_ns: u64, tolerance_ns: u64) -> Option<(u64, &[Cuboid])> {
        let before = self.by_timestamp.range(..=timestamp_ns).next_back();
        let after = self.by_timestamp.range(timestamp_ns..).next();
        [before, after]
            .into_iter()
            .flatten()
            .min_by_key(|(t, _)| t.abs_diff(timestamp_ns))
            .filter(|(t, _)| t.abs_diff(timestamp_ns) <= tolerance_ns)
            .map(|(t, cuboids)| (*t, cuboids.as_slice()))
    }

    pub fn read(path: &Path) -> Result<Self, DatasetError> {
        let table = FeatherTable::read(path)?;
        let timestamps = table.i64_column("timestamp_ns")?;
        let uuids = table.string_column("track_uuid")?;
        let categories = table.string_column("category")?;
        let [length, width, height] =
            ["length_m", "width_m", "height_m"].map(|c| table.f64_column(c));
        let (length, width, height) = (length?, width?, height?);
        let poses = pose_columns::read(&table)?;
        let interior = table.i64_column("num_interior_pts")?;

        let mut annotations = Self::default();
        let mut previous: Option<i64> = None;
        for (row, &timestamp) in timestamps.iter().enumerate() {
            let bad = |message: String| DatasetError::BadValue {
                path: path.to_path_buf(),
                row,
                message,
            };
            if let Some(previous) = previous
                && timestamp < previous
            {
                return Err(DatasetError::UnsortedTimestamps {
                    path: path.to_path_buf(),
                    row,
                    previous_ns: previous,
                    timestamp_ns: timestamp,
                });
            }
            previous = Some(timestamp);
            let t = u64::try_from(timestamp)
                .map_err(|_| bad(format!("timestamp_ns {timestamp} is negative")))?;
            let ego_from_object =
                pose_columns::isometry(poses[row]).map_err(|e| bad(e.to_string()))?;
            let size_ok = [length[row], width[row], height[row]]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0);
            if !size_ok {
                return Err(bad(
                    "cuboid size is not a finite, non-negative number".to_owned()
                ));
            }
            annotations.insert(
                t,
                Cuboid {
                    track_uuid: uuids[row].clone(),
                    category: categories[row].clone(),
                    length_m: length[row],
                    width_m: width[row],
                    height_m: height[row],
                    ego_from_object,
                    num_interior_pts: interior[row],
                },
            );
        }
        Ok(annotations)
    }

    pub fn write(&self, path: &Path) -> Result<(), DatasetError> {
        let rows: Vec<(u64, &Cuboid)> = self
            .by_timestamp
            .iter()
            .flat_map(|(t, cuboids)| cuboids.iter().map(move |c| (*t, c)))
            .collect();
        let column = |f: fn(&Cuboid) -> f64| rows.iter().map(|(_, c)| f(c)).collect::<Vec<f64>>();
        let table = TableBuilder::new()
            .i64(
                "timestamp_ns",
                rows.iter().map(|(t, _)| *t as i64).collect(),
            )
            .string(
                "track_uuid",
                rows.iter().map(|(_, c)| c.track_uuid.clone()).collect(),
            )
            .string(
                "category",
                rows.iter().map(|(_, c)| c.category.clone()).collect(),
            )
            .f64("length_m", column(|c| c.length_m))
            .f64("width_m", column(|c| c.width_m))
            .f64("height_m", column(|c| c.height_m));
        pose_columns::write(table, rows.iter().map(|(_, c)| &c.ego_from_object))
            .i64(
                "num_interior_pts",
                rows.iter().map(|(_, c)| c.num_interior_pts).collect(),
            )
            .write(path)
    }
}
