//! Position error on the ground (bird's-eye view) of tracks and fused
//! objects against the annotations, by range bucket.

use std::collections::BTreeMap;

use heptaview_datasets::av2::Cuboid;
use nalgebra::Vector2;
use serde::{Deserialize, Serialize};

use crate::classes::{family_of_category, family_of_class};

/// Upper ends of the range buckets, metres.
pub const BUCKETS_M: [f64; 5] = [10.0, 20.0, 30.0, 50.0, f64::INFINITY];

/// An estimate farther than this from every annotated object of its family
/// is a false one, not a large error: 2 m, or a quarter of its range.
fn match_gate_m(range_m: f64) -> f64 {
    (0.25 * range_m).max(2.0)
}

fn bucket_name(index: usize) -> String {
    let low = if index == 0 {
        0.0
    } else {
        BUCKETS_M[index - 1]
    };
    let high = BUCKETS_M[index];
    if high.is_finite() {
        format!("{low:.0}-{high:.0}m")
    } else {
        format!("{low:.0}m+")
    }
}

/// Errors of one range bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BucketError {
    /// Estimates matched to an annotated object.
    pub matched: u64,
    /// Estimates with no annotated object of their family near them.
    pub unmatched: u64,
    pub median_m: Option<f64>,
    pub p90_m: Option<f64>,
    /// Median of error / range.
    pub median_relative: Option<f64>,
}

/// Collects errors of one kind of estimate (tracks, or fused objects).
#[derive(Debug, Clone, Default)]
pub struct PositionErrors {
    /// Per bucket: (error m, error / range) of matched estimates.
    errors: Vec<Vec<(f64, f64)>>,
    unmatched: Vec<u64>,
}

impl PositionErrors {
    /// One estimate of class `class` at `position` (ego frame, metres),
    /// against the annotated objects of the same instant.
    pub fn add(&mut self, class: &str, position: Vector2<f64>, cuboids: &[Cuboid]) {
        if self.errors.is_empty() {
            self.errors = vec![Vec::new(); BUCKETS_M.len()];
            self.unmatched = vec![0; BUCKETS_M.len()];
        }
        let Some(family) = family_of_class(class) else {
            return;
        };
        let range = position.norm();
        let bucket = BUCKETS_M.iter().position(|b| range < *b).unwrap_or(0);
        let nearest = cuboids
            .iter()
            .filter(|c| family_of_category(&c.category) == Some(family))
            .map(|c| (c.ego_from_object.translation.vector.xy() - position).norm())
            .fold(f64::INFINITY, f64::min);
        if nearest <= match_gate_m(range) {
            self.errors[bucket].push((nearest, nearest / range.max(1.0)));
        } else {
            self.unmatched[bucket] += 1;
        }
    }

    pub fn summary(&self) -> BTreeMap<String, BucketError> {
        let mut summary = BTreeMap::new();
        for (index, (errors, unmatched)) in self.errors.iter().zip(&self.unmatched).enumerate() {
            if errors.is_empty() && *unmatched == 0 {
                continue;
            }
            let metres: Vec<f64> = errors.iter().map(|e| e.0).collect();
            let relative: Vec<f64> = errors.iter().map(|e| e.1).collect();
            summary.insert(
                bucket_name(index),
                BucketError {
                    matched: errors.len() as u64,
                    unmatched: *unmatched,
                    median_m: quantile(metres.clone(), 0.5),
                    p90_m: quantile(metres, 0.9),
                    median_relative: quantile(relative, 0.5),
                },
            );
        }
        summary
    }

    /// Median of error / range over every matched estimate within `range_m`.
    pub fn median_relative_within(&self, range_m: f64) -> Option<f64> {
        let relative: Vec<f64> = BUCKETS_M
            .iter()
            .zip(&self.errors)
            .filter(|(high, _)| **high <= range_m)
            .flat_map(|(_, errors)| errors.iter().map(|e| e.1))
            .collect();
        quantile(relative, 0.5)
    }
}

/// Nearest-rank quantile.
fn quantile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Isometry3;

    fn car_at(x: f64, y: f64) -> Cuboid {
        Cuboid {
            track_uuid: "car".to_owned(),
            category: "REGULAR_VEHICLE".to_owned(),
            length_m: 4.5,
            width_m: 1.8,
            height_m: 1.5,
            ego_from_object: Isometry3::translation(x, y, 0.75),
            num_interior_pts: 100,
        }
    }

    #[test]
    fn errors_land_in_their_range_bucket_and_far_misses_are_unmatched() {
        let cuboids = [car_at(15.0, 0.0), car_at(40.0, 3.0)];
        let mut errors = PositionErrors::default();
        errors.add("car", Vector2::new(15.6, 0.0), &cuboids);
        errors.add("truck", Vector2::new(41.0, 3.0), &cuboids);
        // No car near: a false track, not a 20 m error.
        errors.add("car", Vector2::new(5.0, -8.0), &cuboids);
        // Not a family that is evaluated.
        errors.add("traffic light", Vector2::new(15.0, 0.0), &cuboids);
        let summary = errors.summary();
        let near = &summary["10-20m"];
        assert_eq!((near.matched, near.unmatched), (1, 0));
        assert!((near.median_m.unwrap() - 0.6).abs() < 1e-9);
        assert_eq!(summary["30-50m"].matched, 1);
        assert_eq!(summary["0-10m"].unmatched, 1);
        let within_30 = errors.median_relative_within(30.0).unwrap();
        assert!((within_30 - 0.6 / 15.6).abs() < 1e-9);
    }
}
