//! The bound a benchmark compares the pipeline with: ONNX Runtime alone
//! running the same model calls on the same inputs, with the same session
//! configuration (thread budget), and nothing else on the clock.

use std::time::Duration;

use heptaview_datasets::LogReader;
use heptaview_models::attributes::attributes;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::Detector;

use heptaview_perception::PipelineError;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::stages::compress::{jpeg_dimensions, reduced_decode_flag};
use heptaview_perception::types::{FrameSet, SlotStatus};

/// The frames a run sent to the detector, as (camera name, sensor time).
#[derive(Debug, Clone, Default)]
pub struct DetectedFrames {
    cameras: Vec<String>,
    frames: Vec<(usize, u64)>,
}

impl DetectedFrames {
    /// `cameras`: the run's camera names in slot order.
    pub fn new(cameras: Vec<String>) -> Self {
        Self {
            cameras,
            frames: Vec::new(),
        }
    }

    pub fn record(&mut self, set: &FrameSet) {
        for (camera, slot) in set.slots.iter().enumerate() {
            if let (SlotStatus::Processed, Some(frame)) = (slot.status, &slot.frame) {
                self.frames.push((camera, frame.timestamp_ns));
            }
        }
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }
}

/// Time ONNX Runtime alone spends on the model calls of `frames`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelCallsTime {
    pub detector_calls: u64,
    pub classifier_calls: u64,
    pub detector: Duration,
    pub classifier: Duration,
}

impl ModelCallsTime {
    pub fn total(&self) -> Duration {
        self.detector + self.classifier
    }
}

/// Runs the detector on every frame of `frames` and the classifier on the
/// same crops the pipeline classifies, one call after another, and times
/// only ONNX Runtime's `run` calls: reading, decoding (at the scale the
/// pipeline decodes), letterboxing, cropping and decoding outputs are
/// outside the clock.
pub fn onnxruntime_alone(
    log: &dyn LogReader,
    frames: &DetectedFrames,
    config: &PipelineConfig,
    on_progress: &mut dyn FnMut(usize),
) -> Result<ModelCallsTime, PipelineError> {
    let mut detector = Detector::shipped(&config.session, config.detector.clone())
        .map_err(|e| PipelineError::stage("detect", e))?;
    let mut classifier = if config.classify {
        Some(
            Classifier::named(&config.classifier_model, &config.session, 5)
                .map_err(|e| PipelineError::stage("classify", e))?,
        )
    } else {
        None
    };
    let input_width = detector.model().manifest().input.width() as u32;
    let mut time = ModelCallsTime {
        detector_calls: 0,
        classifier_calls: 0,
        detector: Duration::ZERO,
        classifier: Duration::ZERO,
    };
    for (done, &(camera, timestamp_ns)) in frames.frames.iter().enumerate() {
        let Some(name) = frames.cameras.get(camera) else {
            continue;
        };
        let jpeg = log
            .read_image(name, timestamp_ns)
            .map_err(|e| PipelineError::stage("source", e))?;
        let native_width = jpeg_dimensions(&jpeg).map_or(0, |(w, _)| w);
        let flag = reduced_decode_flag(native_width, input_width);
        let image =
            opencv::imgcodecs::imdecode(&opencv::core::Vector::<u8>::from_slice(&jpeg), flag)
                .map_err(|e| PipelineError::stage("source", e))?;
        let (detections, timings) = detector
            .detect(&image)
            .map_err(|e| PipelineError::stage("detect", e))?;
        time.detector += timings.inference;
        time.detector_calls += 1;
        if let Some(classifier) = &mut classifier
            && !detections.is_empty()
        {
            let before = classifier.inference_time();
            let found = attributes(classifier, &image, &detections, [1.0, 1.0])
                .map_err(|e| PipelineError::stage("classify", e))?;
            time.classifier += classifier.inference_time().saturating_sub(before);
            if found
                .iter()
                .any(|a| a.subtype.is_some() || !a.top.is_empty())
            {
                time.classifier_calls += 1;
            }
        }
        on_progress(done + 1);
    }
    Ok(time)
}
