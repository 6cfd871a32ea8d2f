//! Classification of what was detected: vehicle subtypes and traffic-light
//! lamp states.
//!
//! The classifier is the second most expensive model after the detector, so
//! the stage spends it sparingly, without changing what it decides:
//!
//! - one batched run per frame set, over the vehicle crops of all its key
//!   frames (the EfficientNet export has a dynamic batch), rather than one
//!   run per image;
//! - a vehicle already classified in an earlier key frame of the same camera
//!   keeps that classification ([`ClassificationMemory`], `[classify_reuse]`):
//!   this stage runs before tracking, so the memory is per camera and matches
//!   boxes by overlap;
//! - frames that are not key frames are never classified: they carry no
//!   decoded image and their (propagated) boxes come later, in `propagate`;
//! - with `classifier_max_crops_per_set`, a set classifies at most that many
//!   crops, the largest (nearest) first; the others wait for their camera's
//!   next key frame. Planning does not read subtypes, so this only bounds
//!   the stage's time when many vehicles are new at once (the first frame
//!   set sees every vehicle for the first time), which would otherwise
//!   delay that set's decision and every set queued behind it.
//!
//! Lamp states come from colour on every key frame: cheap, and a lamp changes
//! while the light stays where it was.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use heptaview_models::attributes::{Attributes, light_state_of, scaled_box, wants_subtype};
use heptaview_models::classifier::Classifier;
use heptaview_models::iou;
use heptaview_runtime::stage::{Output, Stage};
use opencv::core::Mat;
use opencv::prelude::*;

use crate::config::{ClassifyReuseConfig, PipelineConfig};
use crate::error::PipelineError;
use crate::stage_context::{InferenceCounters, SetStage, StageContext};
use crate::types::{CameraId, FrameSet, Slot, SlotStatus};

/// When a remembered classification may stand for a new detection; the
/// `[classify_reuse]` section in the units the memory compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReuseRule {
    /// Least IoU with the box last seen in the camera.
    pub iou: f32,
    /// Longest time since the remembered box was last seen.
    pub max_gap_ns: u64,
    /// A classification is reused only while younger than this (0: never).
    pub max_age_ns: u64,
    /// Area, over the area when classified, at which to classify again.
    pub max_growth: f32,
}

impl From<&ClassifyReuseConfig> for ReuseRule {
    fn from(config: &ClassifyReuseConfig) -> Self {
        let ns = |ms: f64| (ms * 1e6).round() as u64;
        Self {
            iou: config.iou.get(),
            max_gap_ns: ns(config.max_gap_ms.get()),
            max_age_ns: ns(config.max_age_ms.get()),
            max_growth: config.max_growth.get() as f32,
        }
    }
}

/// A vehicle a camera classified.
#[derive(Debug, Clone)]
struct Remembered {
    class: String,
    /// Where it was last seen (native pixels): the memory follows the box,
    /// so that a vehicle moving across the image keeps matching.
    bbox: [f32; 4],
    seen_ns: u64,
    classified_ns: u64,
    classified_area: f32,
    attributes: Attributes,
}

/// Per camera, the vehicles classified lately, so that a detection of the
/// same object in a later key frame reuses the classification instead of a
/// new classifier run. Works in sensor time, so replay stays deterministic.
#[derive(Debug, Clone)]
pub struct ClassificationMemory {
    rule: ReuseRule,
    cameras: Vec<Vec<Remembered>>,
}

impl ClassificationMemory {
    pub fn new(rule: ReuseRule) -> Self {
        Self {
            rule,
            cameras: Vec::new(),
        }
    }

    fn camera(&mut self, camera: CameraId) -> &mut Vec<Remembered> {
        if self.cameras.len() <= camera.0 {
            self.cameras.resize_with(camera.0 + 1, Vec::new);
        }
        &mut self.cameras[camera.0]
    }

    /// For each of a camera's vehicle detections at `t_ns` (class, box in
    /// native pixels), the classification it keeps, or `None`: classify it.
    /// A detection reuses a memory of the same class whose last box it
    /// overlaps by at least the rule's IoU, last seen within `max_gap`,
    /// classified less than `max_age` ago, and not grown to `max_growth`
    /// times its classified area. Each memory serves one detection, the
    /// best-overlapping first; a reused memory moves to the new box.
    pub fn recall(
        &mut self,
        camera: CameraId,
        t_ns: u64,
        detections: &[(&str, [f32; 4])],
    ) -> Vec<Option<Attributes>> {
        let rule = self.rule;
        let remembered = self.camera(camera);
        remembered.retain(|r| t_ns.saturating_sub(r.seen_ns) <= rule.max_gap_ns);
        let mut candidates: Vec<(f32, usize, usize)> = Vec::new();
        for (d, (class, bbox)) in detections.iter().enumerate() {
            for (m, memory) in remembered.iter().enumerate() {
                if memory.class != *class
                    || t_ns.saturating_sub(memory.classified_ns) >= rule.max_age_ns
                    || area(bbox) >= rule.max_growth * memory.classified_area
                {
                    continue;
                }
                let overlap = iou(bbox, &memory.bbox);
                if overlap >= rule.iou {
                    candidates.push((overlap, d, m));
                }
            }
        }
        // Best overlap first; ties by position, so the answer does not
        // depend on anything but the boxes.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut result = vec![None; detections.len()];
        let mut used = vec![false; remembered.len()];
        for (_, d, m) in candidates {
            if result[d].is_some() || used[m] {
                continue;
            }
            used[m] = true;
            let memory = &mut remembered[m];
            memory.bbox = detections[d].1;
            memory.seen_ns = t_ns;
            result[d] = Some(memory.attributes.clone());
        }
        result
    }

    /// A new classification of a camera's vehicle at `t_ns`. It replaces
    /// what the camera remembered of the same object (same class, the
    /// rule's overlap): that memory was too old or the box grew.
    pub fn remember(
        &mut self,
        camera: CameraId,
        t_ns: u64,
        class: &str,
        bbox: [f32; 4],
        attributes: Attributes,
    ) {
        let rule = self.rule;
        let remembered = self.camera(camera);
        remembered.retain(|r| r.class != class || iou(&r.bbox, &bbox) < rule.iou);
        remembered.push(Remembered {
            class: class.to_owned(),
            bbox,
            seen_ns: t_ns,
            classified_ns: t_ns,
            classified_area: area(&bbox),
            attributes,
        });
    }
}

fn area(b: &[f32; 4]) -> f32 {
    (b[2] - b[0]).max(0.0) * (b[3] - b[1]).max(0.0)
}

/// A vehicle crop waiting for the set's classifier run.
#[derive(Debug, Clone, Copy)]
struct Pending {
    slot: usize,
    detection: usize,
    camera: CameraId,
    t_ns: u64,
    /// The box in the decoded image's pixels.
    crop: [f32; 4],
}

pub struct ClassifyStage {
    classifier: Option<Classifier>,
    counters: Arc<InferenceCounters>,
    memory: ClassificationMemory,
    /// Kept between sets (as the classifier keeps its crop tensor).
    pending: Vec<Pending>,
    max_crops_per_set: Option<NonZeroUsize>,
}

impl ClassifyStage {
    /// `None`: detections pass without subtypes (classification disabled).
    pub fn new(
        classifier: Option<Classifier>,
        counters: Arc<InferenceCounters>,
        reuse: ReuseRule,
    ) -> Self {
        Self {
            classifier,
            counters,
            memory: ClassificationMemory::new(reuse),
            pending: Vec::new(),
            max_crops_per_set: None,
        }
    }

    /// At most this many crops per frame set, the largest first; `None`: all.
    pub fn with_max_crops_per_set(mut self, max: Option<NonZeroUsize>) -> Self {
        self.max_crops_per_set = max;
        self
    }

    /// Keeps the largest crops within the per-set cap (a stable sort: the
    /// choice is deterministic); the rest are counted as deferred.
    fn defer_over_cap(&mut self) {
        let Some(max) = self.max_crops_per_set else {
            return;
        };
        if self.pending.len() <= max.get() {
            return;
        }
        self.pending
            .sort_by(|a, b| area(&b.crop).total_cmp(&area(&a.crop)));
        let deferred = self.pending.len() - max.get();
        self.pending.truncate(max.get());
        self.counters
            .classifications_deferred
            .fetch_add(deferred as u64, Ordering::Relaxed);
    }
}

/// The decoded image of a slot the detector processed: only those are
/// classified (a non-key frame has no image and no detections of its own).
fn detected_image(slot: &Slot) -> Option<&Mat> {
    if slot.status != SlotStatus::Processed {
        return None;
    }
    slot.frame.as_ref()?.image.as_ref()
}

impl ClassifyStage {
    fn classify(
        &mut self,
        classifier: &mut Classifier,
        set: &mut FrameSet,
    ) -> Result<(), PipelineError> {
        let stage_error = |e| PipelineError::stage("classify", e);
        self.pending.clear();
        // Lamp states, reused classifications, and the crops left to classify.
        for (s, slot) in set.slots.iter_mut().enumerate() {
            if slot.detections.is_empty() {
                continue;
            }
            let Some(image) = detected_image(slot) else {
                continue;
            };
            let Some(frame) = &slot.frame else {
                continue;
            };
            // Boxes are in native pixels; crops come from the decoded image.
            let (sx, sy) = frame.native_scale(image);
            let to_image = [1.0 / sx, 1.0 / sy];
            let (camera, t_ns) = (frame.camera, frame.timestamp_ns);
            let mut states = Vec::with_capacity(slot.detections.len());
            for detection in &slot.detections {
                states.push(
                    light_state_of(image, &detection.detection, to_image).map_err(stage_error)?,
                );
            }
            let vehicles: Vec<usize> = slot
                .detections
                .iter()
                .enumerate()
                .filter(|(_, d)| !d.propagated && wants_subtype(&d.detection))
                .map(|(i, _)| i)
                .collect();
            let boxes: Vec<(&str, [f32; 4])> = vehicles
                .iter()
                .map(|&i| {
                    let d = &slot.detections[i].detection;
                    (d.class.as_str(), d.bbox)
                })
                .collect();
            let recalled = self.memory.recall(camera, t_ns, &boxes);
            for (&i, recalled) in vehicles.iter().zip(recalled) {
                match recalled {
                    Some(attributes) => {
                        slot.detections[i].attributes = attributes;
                        self.counters
                            .classifications_reused
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    None => self.pending.push(Pending {
                        slot: s,
                        detection: i,
                        camera,
                        t_ns,
                        crop: scaled_box(slot.detections[i].detection.bbox, to_image),
                    }),
                }
            }
            for (detection, state) in slot.detections.iter_mut().zip(states) {
                detection.attributes.state = state;
            }
        }
        self.defer_over_cap();
        if self.pending.is_empty() {
            return Ok(());
        }
        // One run for the whole set.
        let crops: Vec<(&Mat, [f32; 4])> = self
            .pending
            .iter()
            .filter_map(|p| detected_image(&set.slots[p.slot]).map(|image| (image, p.crop)))
            .collect();
        if crops.len() != self.pending.len() {
            return Err(PipelineError::stage(
                "classify",
                heptaview_models::ModelError::Image("a crop's image went missing".to_owned()),
            ));
        }
        let runs_before = classifier.runs();
        let classified = classifier.classify_crops(&crops).map_err(stage_error)?;
        drop(crops);
        self.counters
            .classifier_calls
            .fetch_add(classifier.runs() - runs_before, Ordering::Relaxed);
        for (pending, classification) in self.pending.iter().zip(classified) {
            if classification.top.is_empty() {
                // Nothing left of the box in the image: no answer to keep.
                continue;
            }
            self.counters
                .classifier_crops
                .fetch_add(1, Ordering::Relaxed);
            let detection = &mut set.slots[pending.slot].detections[pending.detection];
            let state = detection.attributes.state;
            let attributes = Attributes {
                state,
                ..Attributes::from_classification(classification)
            };
            self.memory.remember(
                pending.camera,
                pending.t_ns,
                &detection.detection.class,
                detection.detection.bbox,
                attributes.clone(),
            );
            detection.attributes = attributes;
        }
        Ok(())
    }
}

impl Stage for ClassifyStage {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "classify"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        if let Some(mut classifier) = self.classifier.take() {
            let result = self.classify(&mut classifier, &mut set);
            self.classifier = Some(classifier);
            result?;
        }
        // The decoded images are not needed past here: free them early.
        for frame in set.slots.iter_mut().filter_map(|s| s.frame.as_mut()) {
            frame.image = None;
        }
        Ok(out.send(set)?)
    }
}

/// Loads the classifier when the configuration asks for classification.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    let classifier = if config.classify {
        let mut classifier = Classifier::named(&config.classifier_model, &config.session, 5)
            .map_err(|e| PipelineError::stage("classify", e))?;
        // ONNX Runtime's first run allocates and plans: done here, before the
        // source starts (the stage counts runs from the first frame set on).
        let side = 224;
        let blank = Mat::zeros(side, side, opencv::core::CV_8UC3)
            .and_then(|m| m.to_mat())
            .map_err(|e| PipelineError::stage("classify", e))?;
        classifier
            .classify(&blank, &[[0.0, 0.0, side as f32, side as f32]])
            .map_err(|e| PipelineError::stage("classify", e))?;
        Some(classifier)
    } else {
        None
    };
    Ok(Box::new(
        ClassifyStage::new(
            classifier,
            context.inference.clone(),
            ReuseRule::from(&config.classify_reuse),
        )
        .with_max_crops_per_set(config.classifier_max_crops_per_set),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    use heptaview_models::SessionConfig;
    use heptaview_models::detector::Detection as ModelDetection;
    use heptaview_models::taxonomy::VehicleSubtype;
    use heptaview_runtime::accounting::Ledger;
    use heptaview_runtime::edge::{Backpressure, EdgeReceiver, EdgeSender, edge};
    use opencv::imgcodecs;

    use super::*;
    use crate::types::{Detection, Frame};

    const MS: u64 = 1_000_000;

    fn rule() -> ReuseRule {
        ReuseRule::from(&ClassifyReuseConfig::default())
    }

    fn van(score: f32) -> Attributes {
        Attributes {
            subtype: Some(VehicleSubtype::Van),
            subtype_score: Some(score),
            ..Attributes::default()
        }
    }

    /// Memory with one car classified as a van in camera 0 at t = 0.
    fn remembering(bbox: [f32; 4]) -> ClassificationMemory {
        let mut memory = ClassificationMemory::new(rule());
        memory.remember(CameraId(0), 0, "car", bbox, van(0.8));
        memory
    }

    const CAR: [f32; 4] = [100.0, 100.0, 200.0, 180.0];

    #[test]
    fn the_same_box_keeps_its_classification() {
        let mut memory = remembering(CAR);
        assert_eq!(
            memory.recall(CameraId(0), 100 * MS, &[("car", CAR)]),
            [Some(van(0.8))]
        );
        // Slightly moved (IoU 0.82) and a little larger: still the same car.
        let moved = [110.0, 100.0, 212.0, 182.0];
        assert_eq!(
            memory.recall(CameraId(0), 200 * MS, &[("car", moved)]),
            [Some(van(0.8))]
        );
    }

    #[test]
    fn a_memory_follows_its_box_across_key_frames() {
        let mut memory = remembering(CAR);
        // 30 px per key frame: 0.54 IoU with the box before, none with the
        // first one after four steps; every step still matches.
        for step in 1..=4u64 {
            let dx = 30.0 * step as f32;
            let bbox = [CAR[0] + dx, CAR[1], CAR[2] + dx, CAR[3]];
            assert!(
                memory.recall(CameraId(0), step * 100 * MS, &[("car", bbox)])[0].is_some(),
                "step {step}"
            );
        }
    }

    #[test]
    fn a_box_moved_far_is_classified_anew() {
        let mut memory = remembering(CAR);
        // Half a box to the right: IoU 1/3.
        let moved = [150.0, 100.0, 250.0, 180.0];
        assert!(iou(&CAR, &moved) < rule().iou);
        assert_eq!(
            memory.recall(CameraId(0), 100 * MS, &[("car", moved)]),
            [None]
        );
    }

    #[test]
    fn a_box_grown_by_the_factor_is_classified_anew() {
        let mut memory = remembering(CAR);
        // Sides x1.2 (area x1.44, IoU 0.69): reused.
        let near = [90.0, 92.0, 210.0, 188.0];
        assert!(memory.recall(CameraId(0), 100 * MS, &[("car", near)])[0].is_some());
        // Sides x1.23 more than classified (area x1.51 >= 1.5), still IoU
        // 0.95 with the last box: classified again.
        let nearer = [89.0, 91.0, 212.0, 189.5];
        assert!(iou(&near, &nearer) > 0.9);
        assert!(area(&nearer) >= 1.5 * area(&CAR));
        assert_eq!(
            memory.recall(CameraId(0), 200 * MS, &[("car", nearer)]),
            [None]
        );
        // Once classified there, it is reused from the new size on.
        memory.remember(CameraId(0), 200 * MS, "car", nearer, van(0.9));
        assert_eq!(
            memory.recall(CameraId(0), 300 * MS, &[("car", nearer)]),
            [Some(van(0.9))]
        );
        // The old memory was replaced, not kept beside the new one.
        assert_eq!(memory.cameras[0].len(), 1);
    }

    #[test]
    fn a_classification_too_old_or_unseen_too_long_is_made_again() {
        let mut memory = remembering(CAR);
        // Seen every 500 ms: within the gap, but 1 s after classification it is too old.
        assert!(memory.recall(CameraId(0), 500 * MS, &[("car", CAR)])[0].is_some());
        assert_eq!(
            memory.recall(CameraId(0), 1000 * MS, &[("car", CAR)]),
            [None]
        );
        // Unseen for longer than the gap (600 ms): forgotten.
        let mut memory = remembering(CAR);
        assert_eq!(
            memory.recall(CameraId(0), 700 * MS, &[("car", CAR)]),
            [None]
        );
        assert!(memory.cameras[0].is_empty());
        // max_age_ms = 0: reuse is off.
        let mut off = ClassificationMemory::new(ReuseRule {
            max_age_ns: 0,
            ..rule()
        });
        off.remember(CameraId(0), 0, "car", CAR, van(0.8));
        assert_eq!(off.recall(CameraId(0), 0, &[("car", CAR)]), [None]);
    }

    #[test]
    fn another_camera_or_another_class_is_classified_anew() {
        let mut memory = remembering(CAR);
        assert_eq!(
            memory.recall(CameraId(1), 100 * MS, &[("car", CAR)]),
            [None]
        );
        assert_eq!(
            memory.recall(CameraId(0), 100 * MS, &[("truck", CAR)]),
            [None]
        );
        assert!(memory.recall(CameraId(0), 100 * MS, &[("car", CAR)])[0].is_some());
    }

    #[test]
    fn one_memory_serves_one_detection_the_best_overlapping() {
        let mut memory = remembering(CAR);
        let beside = [120.0, 100.0, 220.0, 180.0];
        assert_eq!(
            memory.recall(CameraId(0), 100 * MS, &[("car", beside), ("car", CAR)]),
            [None, Some(van(0.8))]
        );
    }

    fn vehicle(class: &str, bbox: [f32; 4], propagated: bool) -> Detection {
        Detection {
            camera: CameraId(0),
            detection: ModelDetection {
                class_id: 2,
                class: class.to_owned(),
                score: 0.9,
                bbox,
            },
            attributes: Attributes::default(),
            track_id: None,
            propagated,
        }
    }

    /// Three detected cameras with the bus photo and vehicles in it, a
    /// person, and a camera whose frame was not a key frame.
    fn frame_set(t_ns: u64, image: &Mat) -> FrameSet {
        let bus = [17.0, 230.0, 802.0, 768.0];
        let van = [0.0, 550.0, 80.0, 870.0];
        let slot = |camera: usize, status: SlotStatus, detections: Vec<Detection>| Slot {
            frame: Some(Frame {
                camera: CameraId(camera),
                timestamp_ns: t_ns,
                arrival: Instant::now(),
                sequence: 0,
                jpeg: Arc::new(Vec::new()),
                image: Some(image.clone()),
                grey: None,
                native_size: None,
            }),
            status,
            detections,
        };
        FrameSet {
            index: 0,
            reference_ns: t_ns,
            slots: vec![
                slot(
                    0,
                    SlotStatus::Processed,
                    vec![vehicle("bus", bus, false), vehicle("car", van, false)],
                ),
                slot(1, SlotStatus::Processed, vec![vehicle("truck", bus, false)]),
                slot(
                    2,
                    SlotStatus::Processed,
                    vec![vehicle("person", van, false), vehicle("car", van, false)],
                ),
                // Not a key frame: even with an image and boxes, no crop.
                slot(
                    3,
                    SlotStatus::SkippedKeyframe,
                    vec![vehicle("car", bus, true)],
                ),
            ],
            first_arrival: Instant::now(),
            objects: Vec::new(),
            tracks: Vec::new(),
            decision: None,
            stage_entries: Vec::new(),
        }
    }

    fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// The bus fixture photo and a stage with the shipped classifier, its
    /// counters and the queue it sends to.
    struct Harness {
        image: Mat,
        stage: ClassifyStage,
        counters: Arc<InferenceCounters>,
        tx: EdgeSender<FrameSet>,
        rx: EdgeReceiver<FrameSet>,
    }

    fn harness(max_crops_per_set: Option<NonZeroUsize>) -> Harness {
        let path = format!(
            "{}/../tests/fixtures/images/bus.jpg",
            env!("CARGO_MANIFEST_DIR")
        );
        let image = imgcodecs::imread(&path, imgcodecs::IMREAD_COLOR).unwrap();
        let session = SessionConfig {
            intra_threads: 1,
            ..SessionConfig::default()
        };
        let classifier = Classifier::shipped(&session, 5).unwrap();
        let counters = Arc::new(InferenceCounters::default());
        let stage = ClassifyStage::new(Some(classifier), counters.clone(), rule())
            .with_max_crops_per_set(max_crops_per_set);
        let (tx, rx, _) = edge(
            "classify->test",
            10,
            Backpressure::Lossless,
            Arc::new(Ledger::default()),
        );
        Harness {
            image,
            stage,
            counters,
            tx,
            rx,
        }
    }

    #[test]
    fn a_frame_sets_crops_go_in_one_classifier_run_and_known_vehicles_reuse_it() {
        let mut h = harness(None);
        let mut out = Output::new(&h.tx);

        h.stage.process(frame_set(0, &h.image), &mut out).unwrap();
        let first = h.rx.recv().unwrap();
        assert_eq!(
            count(&h.counters.classifier_calls),
            1,
            "one run for the set"
        );
        assert_eq!(
            count(&h.counters.classifier_crops),
            4,
            "bus, car, truck, car"
        );
        assert_eq!(count(&h.counters.classifications_reused), 0);
        for (s, slot) in first.slots.iter().enumerate() {
            for detection in &slot.detections {
                let classified = !detection.attributes.top.is_empty();
                let vehicle = detection.detection.class != "person";
                assert_eq!(classified, vehicle && s < 3, "slot {s}: {detection:?}");
            }
            assert!(slot.frame.as_ref().unwrap().image.is_none(), "image freed");
        }

        // 100 ms later, the same boxes: every vehicle keeps its classification.
        h.stage
            .process(frame_set(100 * MS, &h.image), &mut out)
            .unwrap();
        let second = h.rx.recv().unwrap();
        assert_eq!(count(&h.counters.classifier_calls), 1);
        assert_eq!(count(&h.counters.classifications_reused), 4);
        for (a, b) in first.slots.iter().zip(&second.slots) {
            for (a, b) in a.detections.iter().zip(&b.detections) {
                assert_eq!(a.attributes, b.attributes);
            }
        }

        // A second later they are too old: one run again, for all four.
        h.stage
            .process(frame_set(1000 * MS, &h.image), &mut out)
            .unwrap();
        h.rx.recv().unwrap();
        assert_eq!(count(&h.counters.classifier_calls), 2);
        assert_eq!(count(&h.counters.classifier_crops), 8);
    }

    #[test]
    fn over_the_per_set_cap_the_largest_crops_go_first_and_the_rest_at_the_next_key_frame() {
        let mut h = harness(NonZeroUsize::new(2));
        let mut out = Output::new(&h.tx);
        let classified = |set: &FrameSet| -> Vec<(usize, String)> {
            set.slots
                .iter()
                .enumerate()
                .flat_map(|(s, slot)| {
                    slot.detections
                        .iter()
                        .filter(|d| !d.attributes.top.is_empty())
                        .map(move |d| (s, d.detection.class.clone()))
                })
                .collect()
        };

        // Four vehicle crops, two allowed: the two bus-sized boxes.
        h.stage.process(frame_set(0, &h.image), &mut out).unwrap();
        let first = h.rx.recv().unwrap();
        assert_eq!(count(&h.counters.classifier_crops), 2);
        assert_eq!(count(&h.counters.classifications_deferred), 2);
        assert_eq!(
            classified(&first),
            [(0, "bus".to_owned()), (1, "truck".to_owned())]
        );

        // The next key frames: the buses keep theirs, the two small ones
        // are classified now.
        h.stage
            .process(frame_set(100 * MS, &h.image), &mut out)
            .unwrap();
        let second = h.rx.recv().unwrap();
        assert_eq!(count(&h.counters.classifier_calls), 2);
        assert_eq!(count(&h.counters.classifier_crops), 4);
        assert_eq!(count(&h.counters.classifications_reused), 2);
        assert_eq!(count(&h.counters.classifications_deferred), 2);
        assert_eq!(classified(&second).len(), 4);
    }
}
