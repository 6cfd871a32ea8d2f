//! Key-frame recall: of the detections made when every frame goes to the
//! detector, the share still there with key-frame selection, where a skipped
//! frame has the detections propagated to it from its camera's key frame.

use std::collections::BTreeMap;

use crate::boxes::{ImageBox, height, iou};
use heptaview_models::classes::Family;

use crate::classes::family_of_class;
use crate::detection::{MATCH_IOU, MIN_HEIGHT_PX};
use heptaview_perception::types::{FrameSet, SlotStatus};

type Boxes = Vec<(Family, ImageBox)>;

/// The detections that hold for each camera image of a run.
#[derive(Debug, Clone, Default)]
pub struct DetectionsByFrame {
    /// (camera slot, sensor timestamp) → boxes.
    frames: BTreeMap<(usize, u64), Boxes>,
}

impl DetectionsByFrame {
    pub fn record(&mut self, set: &FrameSet) {
        for (camera, slot) in set.slots.iter().enumerate() {
            let Some(frame) = &slot.frame else { continue };
            let boxes = match slot.status {
                SlotStatus::Processed | SlotStatus::SkippedKeyframe => slot
                    .detections
                    .iter()
                    .filter_map(|d| {
                        let family = family_of_class(&d.detection.class)?;
                        Some((family, d.detection.bbox.map(f64::from)))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            self.frames.insert((camera, frame.timestamp_ns), boxes);
        }
    }
}

/// Share of `every_frame`'s detections that `keyframes` has on the same image
/// (same family, IoU ≥ 0.5); `None` when `every_frame` detected nothing.
pub fn keyframe_recall(
    keyframes: &DetectionsByFrame,
    every_frame: &DetectionsByFrame,
) -> Option<f64> {
    let (mut total, mut kept) = (0u64, 0u64);
    for (key, reference) in &every_frame.frames {
        let candidates = keyframes.frames.get(key).map(Vec::as_slice).unwrap_or(&[]);
        // Objects too small to evaluate are not asked for, but may match.
        for (family, b) in reference.iter().filter(|(_, b)| height(b) >= MIN_HEIGHT_PX) {
            total += 1;
            if candidates
                .iter()
                .any(|(f, c)| f == family && iou(b, c) >= MATCH_IOU)
            {
                kept += 1;
            }
        }
    }
    (total > 0).then(|| kept as f64 / total as f64)
}
