//! Detection recall and precision per family and per camera: ground-truth
//! cuboids projected into each camera that the detector looked at, matched
//! to its boxes at IoU ≥ 0.5.

use std::collections::BTreeMap;

use heptaview_calibration::RigCamera;
use heptaview_datasets::av2::Cuboid;
use serde::{Deserialize, Serialize};

use crate::boxes::{ImageBox, height, intersection, iou};
use heptaview_models::classes::Family;

use crate::classes::{family_of_category, family_of_class};
use heptaview_perception::types::Detection;

/// Boxes must overlap this much to match.
pub const MATCH_IOU: f64 = 0.5;
/// Objects shorter than this in the image are neither counted as missed nor
/// as false detections.
pub const MIN_HEIGHT_PX: f64 = 40.0;
/// A box this much covered by a nearer object's box is occluded: not counted.
const OCCLUDED_FRACTION: f64 = 0.6;

/// Hits, misses and false detections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub true_positives: u64,
    pub false_negatives: u64,
    pub false_positives: u64,
    /// A second box of one family on an object already found (the detector
    /// boxes some pickups as car and as truck): neither a hit nor false.
    pub duplicates: u64,
}

impl Tally {
    pub fn add(&mut self, other: Tally) {
        self.true_positives += other.true_positives;
        self.false_negatives += other.false_negatives;
        self.false_positives += other.false_positives;
        self.duplicates += other.duplicates;
    }

    /// `None` when there was nothing to find.
    pub fn recall(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// `None` when nothing was detected.
    pub fn precision(&self) -> Option<f64> {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }
}

fn ratio(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A ground-truth object as one camera sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedBox {
    pub family: Family,
    pub image_box: ImageBox,
    /// Too small, cut by the camera's field of view behind it, or occluded:
    /// a detection on it is neither a hit nor a false detection.
    pub ignored: bool,
}

/// The annotated objects of `cuboids` (in the ego frame) as boxes in `camera`'s image.
pub fn expected_boxes(camera: &RigCamera, cuboids: &[Cuboid]) -> Vec<ExpectedBox> {
    let model = camera.model();
    let (width, height_px) = (f64::from(model.width_px()), f64::from(model.height_px()));
    let camera_from_ego = camera.camera_from_ego();
    let mut visible: Vec<(f64, ExpectedBox)> = Vec::new();
    for cuboid in cuboids {
        let Some(family) = family_of_category(&cuboid.category) else {
            continue;
        };
        if cuboid.num_interior_pts == 0 {
            // Annotated but seen by no sensor.
            continue;
        }
        let corners: Vec<_> = cuboid
            .corners_ego()
            .iter()
            .map(|p| camera_from_ego * p)
            .collect();
        if corners.iter().all(|p| p.z <= 0.0) {
            continue;
        }
        let whole = corners.iter().all(|p| p.z > 0.1);
        let pixels: Vec<_> = corners
            .iter()
            .filter(|p| p.z > 0.1)
            .filter_map(|p| model.project(p))
            .collect();
        if pixels.is_empty() {
            continue;
        }
        let fold = |init: f64, f: fn(f64, f64) -> f64, pick: fn(&nalgebra::Point2<f64>) -> f64| {
            pixels.iter().map(pick).fold(init, f)
        };
        let image_box = [
            fold(f64::INFINITY, f64::min, |p| p.x).max(0.0),
            fold(f64::INFINITY, f64::min, |p| p.y).max(0.0),
            fold(f64::NEG_INFINITY, f64::max, |p| p.x).min(width),
            fold(f64::NEG_INFINITY, f64::max, |p| p.y).min(height_px),
        ];
        if image_box[2] <= image_box[0] || image_box[3] <= image_box[1] {
            continue;
        }
        let centre = nalgebra::Point3::from(cuboid.ego_from_object.translation.vector);
        let centre_depth = (camera_from_ego * centre).z;
        visible.push((
            centre_depth,
            ExpectedBox {
                family,
                image_box,
                ignored: !whole || height(&image_box) < MIN_HEIGHT_PX,
            },
        ));
    }
    visible.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut boxes: Vec<ExpectedBox> = Vec::with_capacity(visible.len());
    for (_, mut expected) in visible {
        let own = crate::boxes::area(&expected.image_box);
        let covered = boxes
            .iter()
            .map(|nearer| intersection(&nearer.image_box, &expected.image_box))
            .fold(0.0, f64::max);
        if own > 0.0 && covered / own >= OCCLUDED_FRACTION {
            expected.ignored = true;
        }
        boxes.push(expected);
    }
    boxes
}

/// Greedy matching, best overlap first, within a family: tallies per family.
pub fn match_frame(expected: &[ExpectedBox], detections: &[Detection]) -> BTreeMap<Family, Tally> {
    let detected: Vec<(Family, ImageBox)> = detections
        .iter()
        .filter_map(|d| {
            let family = family_of_class(&d.detection.class)?;
            let b = d.detection.bbox.map(f64::from);
            Some((family, b))
        })
        .collect();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (e, exp) in expected.iter().enumerate() {
        for (d, (family, b)) in detected.iter().enumerate() {
            if *family == exp.family {
                let overlap = iou(&exp.image_box, b);
                if overlap >= MATCH_IOU {
                    pairs.push((overlap, e, d));
                }
            }
        }
    }
    // Objects that count are matched first (as COCO does), so that an
    // occluded object behind a visible one cannot take its detection.
    pairs.sort_by(|a, b| {
        expected[a.1]
            .ignored
            .cmp(&expected[b.1].ignored)
            .then(b.0.total_cmp(&a.0))
    });
    let mut expected_taken = vec![false; expected.len()];
    let mut detection_taken = vec![false; detected.len()];
    let mut tallies: BTreeMap<Family, Tally> = BTreeMap::new();
    for (_, e, d) in pairs {
        if expected_taken[e] || detection_taken[d] {
            continue;
        }
        expected_taken[e] = true;
        detection_taken[d] = true;
        if !expected[e].ignored {
            tallies
                .entry(expected[e].family)
                .or_default()
                .true_positives += 1;
        }
    }
    for (exp, taken) in expected.iter().zip(&expected_taken) {
        if !taken && !exp.ignored {
            tallies.entry(exp.family).or_default().false_negatives += 1;
        }
    }
    for ((family, b), taken) in detected.iter().zip(&detection_taken) {
        if *taken || height(b) < MIN_HEIGHT_PX {
            continue;
        }
        let on_found_object = expected.iter().zip(&expected_taken).any(|(exp, found)| {
            *found && exp.family == *family && iou(&exp.image_box, b) >= MATCH_IOU
        });
        if on_found_object {
            tallies.entry(*family).or_default().duplicates += 1;
        } else {
            tallies.entry(*family).or_default().false_positives += 1;
        }
    }
    tallies
}

/// Tallies over a run.
#[derive(Debug, Clone, Default)]
pub struct DetectionTallies {
    pub frames: u64,
    pub by_family: BTreeMap<Family, Tally>,
    pub by_camera: BTreeMap<String, Tally>,
}

impl DetectionTallies {
    pub fn add_frame(&mut self, camera: &str, tallies: &BTreeMap<Family, Tally>) {
        self.frames += 1;
        for (family, tally) in tallies {
            self.by_family.entry(*family).or_default().add(*tally);
            self.by_camera
                .entry(camera.to_owned())
                .or_default()
                .add(*tally);
        }
    }

    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for tally in self.by_family.values() {
            total.add(*tally);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use heptaview_calibration::argoverse2_rig;
    use heptaview_models::attributes::Attributes;
    use heptaview_models::detector::Detection as ModelDetection;
    use nalgebra::{Isometry3, Point3};

    use super::*;
    use heptaview_perception::types::CameraId;

    fn cuboid(category: &str, x: f64, y: f64, size: (f64, f64, f64)) -> Cuboid {
        Cuboid {
            track_uuid: format!("{category}-{x}"),
            category: category.to_owned(),
            length_m: size.0,
            width_m: size.1,
            height_m: size.2,
            ego_from_object: Isometry3::translation(x, y, size.2 / 2.0),
            num_interior_pts: 500,
        }
    }

    fn detection(class: &str, bbox: [f64; 4]) -> Detection {
        Detection {
            camera: CameraId(0),
            detection: ModelDetection {
                class_id: 0,
                class: class.to_owned(),
                score: 0.8,
                bbox: bbox.map(|v| v as f32),
            },
            attributes: Attributes::default(),
            track_id: None,
            propagated: false,
        }
    }

    #[test]
    fn projected_cuboids_match_boxes_of_their_family_and_small_or_hidden_ones_do_not_count() {
        let rig = argoverse2_rig().unwrap();
        let camera = rig.camera("ring_front_center").unwrap();
        let car = cuboid("REGULAR_VEHICLE", 15.0, 0.0, (4.6, 1.85, 1.5));
        // Straight behind the car, smaller in the image: occluded.
        let hidden = cuboid("PEDESTRIAN", 25.0, 0.0, (0.6, 0.6, 1.75));
        // Far away: a few pixels tall.
        let far = cuboid("PEDESTRIAN", 150.0, 10.0, (0.6, 0.6, 1.75));
        let cone = cuboid("CONSTRUCTION_CONE", 10.0, 2.0, (0.4, 0.4, 0.7));
        let expected = expected_boxes(camera, &[car.clone(), hidden, far, cone]);
        assert_eq!(expected.len(), 3, "{expected:?}");
        let car_box = expected
            .iter()
            .find(|e| e.family == Family::Vehicle)
            .unwrap();
        assert!(!car_box.ignored);
        // The box spans the projections of the cuboid's corners.
        for corner in car.corners_ego() {
            let pixel = camera
                .project_ego_point(&Point3::from(corner.coords))
                .unwrap();
            assert!(
                pixel.x >= car_box.image_box[0] - 1e-6 && pixel.x <= car_box.image_box[2] + 1e-6
            );
        }
        assert!(
            expected
                .iter()
                .filter(|e| e.family == Family::Person)
                .all(|e| e.ignored)
        );

        let b = car_box.image_box;
        let shifted = [b[0] + 2.0, b[1], b[2] + 2.0, b[3]];
        let tallies = match_frame(
            &expected,
            &[
                detection("truck", shifted),
                // The same car boxed again as a car: a duplicate, not a false detection.
                detection("car", b),
                // A person where nothing is annotated.
                detection("person", [10.0, 10.0, 40.0, 120.0]),
                // A traffic light is not evaluated.
                detection("traffic light", [100.0, 10.0, 120.0, 80.0]),
            ],
        );
        let vehicle = tallies[&Family::Vehicle];
        assert_eq!(
            (
                vehicle.true_positives,
                vehicle.false_negatives,
                vehicle.false_positives,
                vehicle.duplicates
            ),
            (1, 0, 0, 1)
        );
        assert_eq!(tallies[&Family::Person].false_positives, 1);
        assert_eq!(
            tallies[&Family::Person].false_negatives,
            0,
            "the hidden and the far person are not missed"
        );

        let missed = match_frame(&expected, &[]);
        assert_eq!(missed[&Family::Vehicle].false_negatives, 1);
        assert_eq!(missed[&Family::Vehicle].recall(), Some(0.0));
    }
}
