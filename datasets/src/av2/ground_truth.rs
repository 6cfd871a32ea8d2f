//! Ground truth at any instant of a log. AV2 annotates lidar sweeps (10 Hz)
//! in the ego frame of the sweep, while the cameras run at 20 Hz and a frame
//! set's exposures spread over most of a 50 ms cycle: at 10 m/s the car moves
//! half a metre between a sweep and an image. The annotation nearest in time
//! is therefore moved into the ego frame of the instant asked for, with the
//! ego poses. (The objects' own motion in that time is not known.)

use nalgebra::Isometry3;

use super::{Annotations, Cuboid, EgoPoses};

/// Annotations are looked up this close to an instant (sweeps are 100 ms
/// apart, so every camera image has one within half of that plus its
/// exposure offset).
pub const ANNOTATION_TOLERANCE_NS: u64 = 55_000_000;

#[derive(Debug, Clone)]
pub struct GroundTruth {
    annotations: Annotations,
    poses: EgoPoses,
}

impl GroundTruth {
    pub fn new(annotations: Annotations, poses: EgoPoses) -> Self {
        Self { annotations, poses }
    }

    pub fn annotations(&self) -> &Annotations {
        &self.annotations
    }

    /// The annotated objects nearest in time to `timestamp_ns` (within
    /// [`ANNOTATION_TOLERANCE_NS`]), in the ego frame of `timestamp_ns`.
    /// Without a pose at either instant they stay in the annotation's frame.
    pub fn at(&self, timestamp_ns: u64) -> Option<Vec<Cuboid>> {
        let (annotated_ns, cuboids) = self
            .annotations
            .nearest(timestamp_ns, ANNOTATION_TOLERANCE_NS)?;
        let now_from_then: Isometry3<f64> =
            match (self.poses.at(timestamp_ns), self.poses.at(annotated_ns)) {
                (Some(city_from_now), Some(city_from_then)) if annotated_ns != timestamp_ns => {
                    city_from_now.inverse() * city_from_then
                }
                _ => return Some(cuboids.to_vec()),
            };
        Some(
            cuboids
                .iter()
                .map(|c| Cuboid {
                    ego_from_object: now_from_then * c.ego_from_object,
                    ..c.clone()
                })
                .collect(),
        )
    }
}
