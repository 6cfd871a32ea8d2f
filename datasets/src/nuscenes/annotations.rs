//! sample_annotation records as heptaview cuboids. nuScenes annotates objects
//! in the global frame at each sample (2 Hz); heptaview's [`Annotations`] hold
//! them in the ego frame of their timestamp, as AV2 does, and
//! [`GroundTruth`](crate::av2::GroundTruth) moves them to any image's time.

use std::collections::HashMap;

use heptaview_calibration::{EgoPoses, unit_quaternion};
use nalgebra::{Isometry3, Translation3, Vector3};

use super::tables::{Sample, Tables};
use super::timestamp_ns;
use crate::av2::{Annotations, Cuboid};
use crate::error::DatasetError;

/// The scene's annotations in the ego frame of each sample, keyed by the
/// sample's timestamp. The ego pose is `poses` at that timestamp: the reader
/// puts each sample's LIDAR_TOP key frame (recorded at the sample's time, the
/// instant the boxes were drawn for) first there, so that is the pose used
/// when there is one, and `GroundTruth` later undoes exactly the pose that was
/// applied here. A sample with no pose at its time (before the first or after
/// the last sample_data) cannot be placed and is left out.
pub fn scene_annotations(
    tables: &Tables,
    samples: &[&Sample],
    poses: &EgoPoses,
) -> Result<Annotations, DatasetError> {
    let path = tables.sample_annotation.path();
    let mut by_sample: HashMap<&str, Vec<_>> = HashMap::new();
    for annotation in tables.sample_annotation.values() {
        by_sample
            .entry(annotation.sample_token.as_str())
            .or_default()
            .push(annotation);
    }
    let mut annotations = Annotations::default();
    for sample in samples {
        let Some(records) = by_sample.get_mut(sample.token.as_str()) else {
            continue;
        };
        let t = timestamp_ns(sample.timestamp, tables.sample.path(), &sample.token)?;
        let Some(global_from_ego) = poses.at(t) else {
            continue;
        };
        let ego_from_global = global_from_ego.inverse();
        // Hash-map order would make the cuboid order vary from run to run.
        records.sort_by(|a, b| a.token.cmp(&b.token));
        for record in records.iter() {
            let bad = |message: String| DatasetError::Layout {
                path: path.to_path_buf(),
                message: format!("sample_annotation {}: {message}", record.token),
            };
            let referred = format!("sample_annotation {}", record.token);
            let instance = tables.instance.get(&record.instance_token, &referred)?;
            let category = tables.category.get(
                &instance.category_token,
                &format!("instance {}", instance.token),
            )?;
            let [width, length, height] = record.size;
            if ![width, length, height]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
            {
                return Err(bad(format!(
                    "size {:?} is not finite and non-negative",
                    record.size
                )));
            }
            let [qw, qx, qy, qz] = record.rotation;
            let rotation = unit_quaternion(qw, qx, qy, qz).map_err(|e| bad(e.to_string()))?;
            if !record.translation.iter().all(|v| v.is_finite()) {
                return Err(bad(format!(
                    "translation {:?} is not finite",
                    record.translation
                )));
            }
            let global_from_object = Isometry3::from_parts(
                Translation3::from(Vector3::from(record.translation)),
                rotation,
            );
            annotations.insert(
                t,
                Cuboid {
                    track_uuid: record.instance_token.clone(),
                    category: category.name.clone(),
                    length_m: length,
                    width_m: width,
                    height_m: height,
                    ego_from_object: ego_from_global * global_from_object,
                    num_interior_pts: record.num_lidar_pts,
                },
            );
        }
    }
    Ok(annotations)
}
