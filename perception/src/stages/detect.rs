//! Detection on key frames with N detector workers (each its own ONNX
//! Runtime session and intra-op threads).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use heptaview_models::SessionConfig;
use heptaview_models::detector::Detector;

use crate::config::PipelineConfig;
use crate::error::PipelineError;
use crate::stage_context::{InferenceCounters, SetStage, StageContext};
use crate::types::{CameraId, Detection, FrameSet, SlotStatus};
use heptaview_runtime::stage::{Output, Stage};

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
                            let (sx, sy) = frame.native_scale(image);
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

/// Loads the detector workers (a missing model fails here, before any
/// thread starts), sharing the session's intra-op threads among them.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    let workers = config.detector_workers.get();
    let per_worker = SessionConfig {
        intra_threads: (config.session.intra_threads / workers).max(1),
        ..config.session.clone()
    };
    let detectors = (0..workers)
        .map(|_| Detector::shipped(&per_worker, config.detector.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PipelineError::stage("detect", e))?;
    Ok(Box::new(DetectStage::new(
        detectors,
        context.inference.clone(),
    )?))
}
