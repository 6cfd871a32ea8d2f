//! What every stage is built from: the run's rig, cameras and poses, the
//! shared ledger and counters its figures go into, and the configuration.
//! A stage module offers `build(context, config)`; the chain lists them.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use heptaview_calibration::{EgoPoses, Rig};
use heptaview_runtime::accounting::Ledger;
use heptaview_runtime::stage::Stage;

use crate::PipelineError;
use crate::config::PipelineConfig;
use crate::types::FrameSet;

pub struct StageContext {
    /// The run's cameras, in slot order.
    pub rig: Rig,
    pub cameras: Vec<String>,
    /// The ego poses, to track in the world frame and know the car's speed.
    pub poses: Option<EgoPoses>,
    pub ledger: Arc<Ledger>,
    pub compression: Arc<CompressionCounters>,
    pub inference: Arc<InferenceCounters>,
    /// The detector's input (width, height), which decoding scales to.
    pub detector_input: (u32, u32),
}

/// A stage between the synchroniser and the sink.
pub type SetStage = Box<dyn Stage<In = FrameSet, Out = FrameSet, Error = PipelineError>>;

/// How a stage is built.
pub type BuildStage = fn(&StageContext, &PipelineConfig) -> Result<SetStage, PipelineError>;

/// Bytes at each step of compression.
#[derive(Debug, Default)]
pub struct CompressionCounters {
    /// Raw pixels of every input frame at native resolution (3 bytes each).
    pub bytes_in: AtomicU64,
    /// Raw pixels of what reached the detector (its input, 3 bytes each).
    pub bytes_to_detector: AtomicU64,
    /// The JPEG bytes carried for Rerun and recording.
    pub bytes_jpeg: AtomicU64,
}

/// Model calls and time, for the report.
#[derive(Debug, Default)]
pub struct InferenceCounters {
    pub detector_calls: AtomicU64,
    pub detector_ns: AtomicU64,
    /// Classifier runs: one per frame set with a vehicle crop to classify.
    pub classifier_calls: AtomicU64,
    /// Vehicle crops that went through the classifier.
    pub classifier_crops: AtomicU64,
    /// Vehicle detections that kept an earlier classification of the same
    /// camera instead (`[classify_reuse]`).
    pub classifications_reused: AtomicU64,
    /// Vehicle crops left for a later key frame by
    /// `classifier_max_crops_per_set`.
    pub classifications_deferred: AtomicU64,
}
