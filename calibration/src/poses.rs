//! The vehicle's pose over time: `city_from_ego` at timestamps, interpolated
//! between them. Every log format has one (AV2's `city_SE3_egovehicle`,
//! nuScenes' `ego_pose`, a bag's `/tf`); fusion and planning use it without
//! knowing the format.

use nalgebra::Isometry3;

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

    /// Poses already sorted by strictly increasing timestamp (checked by
    /// the format's reader).
    pub fn from_sorted(timestamps_ns: Vec<u64>, city_from_ego: Vec<Isometry3<f64>>) -> Self {
        Self {
            timestamps_ns,
            city_from_ego,
        }
    }

    /// Every pose with its timestamp, in time order.
    pub fn samples(&self) -> impl Iterator<Item = (u64, &Isometry3<f64>)> {
        self.timestamps_ns.iter().copied().zip(&self.city_from_ego)
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
