//! Which of a camera's boxes the viewer draws: one per object.
//!
//! The detector suppresses overlaps within a class only, so one vehicle can
//! come out as `car` and `truck` (and fusion puts both into one track). The
//! pipeline keeps them all: suppressing across classes in the detector was
//! measured to delay a stop for a braking lead vehicle (ARCHITECTURE.md).
//! The viewer shows the best-scoring box of each object: of boxes given to
//! the same track, and of overlapping boxes of one family (vehicle,
//! two-wheeler, person) that no track tells apart.

use heptaview_models::classes::Family;
use heptaview_models::iou;
use heptaview_perception::types::Detection;

/// Overlap above which two untracked boxes of one family are one object:
/// the detector's default same-class suppression threshold.
const SAME_OBJECT_IOU: f32 = 0.5;

/// The detections to draw, best score first.
pub fn one_box_per_object(detections: &[Detection]) -> Vec<&Detection> {
    let mut by_score: Vec<&Detection> = detections.iter().collect();
    by_score.sort_by(|a, b| b.detection.score.total_cmp(&a.detection.score));
    let mut shown: Vec<&Detection> = Vec::with_capacity(by_score.len());
    for candidate in by_score {
        if !shown.iter().any(|kept| same_object(kept, candidate)) {
            shown.push(candidate);
        }
    }
    shown
}

fn same_object(a: &Detection, b: &Detection) -> bool {
    match (a.track_id, b.track_id) {
        (Some(x), Some(y)) => x == y,
        _ => {
            let family = Family::of_label(&a.detection.class);
            family.is_some()
                && family == Family::of_label(&b.detection.class)
                && iou(&a.detection.bbox, &b.detection.bbox) > SAME_OBJECT_IOU
        }
    }
}

#[cfg(test)]
mod tests {
    use heptaview_models::detector::Detection as ModelDetection;
    use heptaview_perception::types::CameraId;

    use super::*;

    fn detection(class: &str, score: f32, bbox: [f32; 4], track: Option<u64>) -> Detection {
        Detection {
            camera: CameraId(0),
            detection: ModelDetection {
                class_id: 0,
                class: class.to_owned(),
                score,
                bbox,
            },
            attributes: Default::default(),
            track_id: track,
            propagated: false,
        }
    }

    fn classes(shown: &[&Detection]) -> Vec<String> {
        shown.iter().map(|d| d.detection.class.clone()).collect()
    }

    #[test]
    fn boxes_of_one_track_are_drawn_once_with_the_best_score() {
        let detections = [
            detection("truck", 0.38, [10.0, 10.0, 50.0, 40.0], Some(18)),
            detection("bus", 0.43, [12.0, 8.0, 52.0, 42.0], Some(18)),
            detection("car", 0.6, [100.0, 10.0, 140.0, 40.0], Some(19)),
        ];
        assert_eq!(classes(&one_box_per_object(&detections)), ["car", "bus"]);
    }

    #[test]
    fn overlapping_untracked_boxes_of_one_family_are_one_object() {
        let detections = [
            detection("car", 0.5, [10.0, 10.0, 50.0, 40.0], None),
            detection("truck", 0.4, [11.0, 10.0, 51.0, 41.0], None),
            // A rider on a bicycle: two families, both kept.
            detection("person", 0.7, [200.0, 0.0, 230.0, 60.0], None),
            detection("bicycle", 0.6, [198.0, 20.0, 232.0, 62.0], None),
            // Two cars side by side: little overlap, both kept.
            detection("car", 0.45, [45.0, 10.0, 85.0, 40.0], None),
        ];
        assert_eq!(
            classes(&one_box_per_object(&detections)),
            ["person", "bicycle", "car", "car"]
        );
    }

    #[test]
    fn different_tracks_are_kept_however_much_they_overlap() {
        let detections = [
            detection("car", 0.5, [10.0, 10.0, 50.0, 40.0], Some(1)),
            detection("car", 0.4, [10.0, 10.0, 50.0, 40.0], Some(2)),
        ];
        assert_eq!(one_box_per_object(&detections).len(), 2);
    }
}
