//! Detection on key frames with N detector workers (each its own ONNX
//! Runtime session and intra-op threads), then classification of vehicle
//! crops and traffic-light states.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use heptaview_models::attributes::attributes;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::Detector;
use opencv::core::Mat;
use opencv::prelude::*;

use crate::error::PipelineError;
use crate::types::{CameraId, Detection, FrameSet, SlotStatus};
use heptaview_runtime::stage::{Output, Stage};

/// Model calls and time, for the report.
#[derive(Debug, Default)]
pub struct InferenceCounters {
    pub detector_calls: AtomicU64,
    pub detector_ns: AtomicU64,
    pub classifier_calls: AtomicU64,
}

pub struct DetectStage {
    workers: Vec<Detector>,
    counters: Arc<InferenceCounters>,
}

impl DetectStage {
    pub fn new(
        workers: Vec<Detector>,
        counters: Arc<InferenceCounters>,
    ) -> Result<Self, PipelineError> {
        if workers.is_empty() {
            return Err(PipelineError::Config(
                "detect: at least one detector worker is needed".to_owned(),
            ));
        }
        Ok(Self { workers, counters })
    }
}

impl Stage for DetectStage {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "detect"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        let workers = self.workers.len();
        let mut shares: Vec<Vec<&mut crate::types::Slot>> =
            (0..workers).map(|_| Vec::new()).collect();
        let key_slots = set.slots.iter_mut().filter(|s| s.status == SlotStatus::Key);
        for (i, slot) in key_slots.enumerate() {
            shares[i % workers].push(slot);
        }
        let counters = &self.counters;
        let results: Vec<Result<(), PipelineError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .workers
                .iter_mut()
                .zip(shares)
                .filter(|(_, share)| !share.is_empty())
                .map(|(detector, share)| {
                    scope.spawn(move || {
                        for slot in share {
                            let Some(frame) = &slot.frame else { continue };
                            let Some(image) = &frame.image else { continue };
                            let camera: CameraId = frame.camera;
                            let (found, timings) = detector
                                .detect(image)
                                .map_err(|e| PipelineError::stage("detect", e))?;
                            counters.detector_calls.fetch_add(1, Ordering::Relaxed);
                            counters
                                .detector_ns
                                .fetch_add(timings.inference.as_nanos() as u64, Ordering::Relaxed);
                            // Boxes leave this stage in native source pixels, whatever
                            // DCT scale the image was decoded at.
                            let (sx, sy) = native_scale(frame.native_size, image);
                            slot.detections = found
                                .into_iter()
                                .map(|mut detection| {
                                    let [x1, y1, x2, y2] = detection.bbox;
                                    detection.bbox = [x1 * sx, y1 * sy, x2 * sx, y2 * sy];
                                    Detection {
                                        camera,
                                        detection,
                                        attributes: Default::default(),
                                        track_id: None,
                                        propagated: false,
                                    }
                                })
                                .collect();
                            slot.status = SlotStatus::Processed;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(PipelineError::Runtime(
                            heptaview_runtime::RuntimeError::Panicked {
                                stage: "detect",
                                message: "a detector worker panicked".to_owned(),
                            },
                        ))
                    })
                })
                .collect()
        });
        for result in results {
            result?;
        }
        Ok(out.send(set)?)
    }
}

pub struct ClassifyStage {
    classifier: Option<Classifier>,
    counters: Arc<InferenceCounters>,
}

impl ClassifyStage {
    /// `None`: detections pass without subtypes (classification disabled).
    pub fn new(classifier: Option<Classifier>, counters: Arc<InferenceCounters>) -> Self {
        Self {
            classifier,
            counters,
        }
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
        for slot in &mut set.slots {
            let Some(frame) = &mut slot.frame else {
                continue;
            };
            if let (Some(classifier), Some(image)) = (&mut self.classifier, &frame.image)
                && !slot.detections.is_empty()
            {
                // Boxes are in native pixels; crops come from the decoded image.
                let (sx, sy) = native_scale(frame.native_size, image);
                let found = attributes(classifier, image, &slot.detections, [1.0 / sx, 1.0 / sy])
                    .map_err(|e| PipelineError::stage("classify", e))?;
                if found
                    .iter()
                    .any(|a| a.subtype.is_some() || !a.top.is_empty())
                {
                    self.counters
                        .classifier_calls
                        .fetch_add(1, Ordering::Relaxed);
                }
                for (detection, attributes) in slot.detections.iter_mut().zip(found) {
                    detection.attributes = attributes;
                }
            }
            // The decoded image is not needed past here: free it early.
            frame.image = None;
        }
        Ok(out.send(set)?)
    }
}

/// Native pixels per decoded pixel, along x and y (1 when the size is unknown).
fn native_scale(native_size: Option<(u32, u32)>, image: &Mat) -> (f32, f32) {
    match native_size {
        Some((width, height)) if image.cols() > 0 && image.rows() > 0 => (
            width as f32 / image.cols() as f32,
            height as f32 / image.rows() as f32,
        ),
        _ => (1.0, 1.0),
    }
}
