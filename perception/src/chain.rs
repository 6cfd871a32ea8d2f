//! The chain: frames from a source through the synchroniser and the stages
//! of [`STAGES`] (compress → detect → classify → propagate → fuse → plan),
//! one thread per stage, to the caller's sink; returns the run's record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use heptaview_calibration::{EgoPoses, Rig};
use heptaview_models::detector::Detector;
use heptaview_models::manifest::ModelName;
use heptaview_runtime::RuntimeError;
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::{EdgeHandle, EdgeSender, FrameCount, edge};
use heptaview_runtime::metrics::LatencyHistogram;
use heptaview_runtime::stage::Stage;
use heptaview_runtime::threads::{Control, join_all, spawn_stage};

use crate::config::PipelineConfig;
use crate::error::PipelineError;
use crate::record::{
    CameraHealth, Compression, FrameSetCounts, Inference, Latencies, RunRecord, SyncReport,
    Throughput,
};
use crate::stage_context::{BuildStage, CompressionCounters, InferenceCounters, StageContext};
use crate::stages::{classify, compress, detect, propagate, sync};
use crate::types::{Frame, FrameSet, SlotStatus};
use crate::{fusion, planning};

/// The stages after the synchroniser, in data-flow order. A new stage is its
/// module (with a `build`) and one line here; its edges are named after it.
pub const STAGES: [BuildStage; 6] = [
    compress::build,
    detect::build,
    classify::build,
    propagate::build,
    fusion::build,
    planning::build,
];

/// Progress of a run, for a progress bar, and the queues' lengths now.
#[derive(Debug, Clone)]
pub struct Progress {
    pub frames_total: u64,
    pub frames_done: u64,
    /// (edge name, items queued after its latest send).
    pub queues: Vec<(Arc<str>, u64)>,
}

/// What a run is over: its cameras (the rig, in slot order), where the
/// frames come from, and what is known in advance.
pub struct RunSpec {
    /// `replay` or `live`, as the report says.
    pub mode: &'static str,
    pub input: String,
    pub rig: Rig,
    pub cameras: Vec<String>,
    /// The ego poses, to track in the world frame and know the car's speed.
    pub poses: Option<EgoPoses>,
    /// For the progress bar; 0 when not known (live).
    pub frames_total: u64,
    /// Frames arrive at the pace they were recorded (cameras, `replay
    /// --speed 1`), stamped with when they were due: the end-to-end latency
    /// is then camera to decision. Without pacing the source runs ahead and
    /// the latency is mostly time spent queueing.
    pub paced: bool,
    /// Per camera (slot order), the timestamps the log lists for the run,
    /// when the source knows them ahead (a recorded log's index): the synchroniser
    /// measures the trigger phases from them instead of holding the first
    /// frames back. `None` for live cameras.
    pub upcoming_timestamps_ns: Option<Vec<Vec<u64>>>,
}

/// One line per frame set (`HEPTAVIEW_LOG=heptaview_perception=debug`):
/// where its latency went, and how many of its frames were detected, to
/// tell a slow set's cause (a burst of key frames, a queue, the machine).
fn trace_set_latency(set: &FrameSet, arrived: Instant, detected: u64) {
    let stages: Vec<String> = set
        .stage_latencies(arrived)
        .iter()
        .map(|(stage, latency)| format!("{stage} {:.1}", latency.as_secs_f64() * 1e3))
        .collect();
    tracing::debug!(
        "frame set {}: {:.1} ms to the sink ({} ms), {detected} of {} frames detected",
        set.index,
        arrived
            .saturating_duration_since(set.first_arrival)
            .as_secs_f64()
            * 1e3,
        stages.join(", "),
        set.present(),
    );
}

/// Feeds frames into the pipeline until done or asked to stop, on its own thread.
pub type Source =
    Box<dyn FnOnce(&EdgeSender<Frame>, &Control, &Ledger) -> Result<(), PipelineError> + Send>;

/// Runs frames from `source` through the synchroniser and [`STAGES`] and
/// returns the run's record. `on_frameset` sees each finished frame set.
pub fn run_pipeline(
    mut spec: RunSpec,
    config: &PipelineConfig,
    source: Source,
    control: Arc<Control>,
    on_frameset: &mut dyn FnMut(&FrameSet, &Progress),
) -> Result<RunRecord, PipelineError> {
    let RunSpec {
        rig,
        cameras,
        frames_total,
        ..
    } = &spec;
    let (rig, cameras, frames_total) = (rig.clone(), cameras.clone(), *frames_total);
    let context = StageContext {
        rig: rig.clone(),
        cameras: cameras.clone(),
        poses: spec.poses.clone(),
        ledger: Arc::new(Ledger::default()),
        compression: Arc::new(CompressionCounters::default()),
        inference: Arc::new(InferenceCounters::default()),
        detector_input: detector_input_size(&config.detector.model)?,
    };
    if config.classify {
        ensure_shipped("classifier_model", &config.classifier_model)?;
    }
    let ledger = context.ledger.clone();

    // Every stage is built (models loaded, configuration checked) before any
    // thread starts, so that a missing model fails the run at once.
    // Only the synchroniser reads the index, once: taken, a long log's is
    // not kept for the whole run.
    let synchroniser = sync::build(&context, config, spec.upcoming_timestamps_ns.take())?;
    let sync_timing = synchroniser.timing();
    let stages = STAGES
        .iter()
        .map(|build| build(&context, config))
        .collect::<Result<Vec<_>, _>>()?;

    // Edges named after the stages they join.
    let capacity = config.queue_capacity.get();
    let policy = config.backpressure;
    let names: Vec<&str> = std::iter::once("source")
        .chain(std::iter::once(synchroniser.name()))
        .chain(stages.iter().map(|stage| stage.name()))
        .chain(std::iter::once("sink"))
        .collect();
    let edge_name = |i: usize| format!("{}->{}", names[i], names[i + 1]);
    let (source_tx, sync_rx, source_edge) = edge::<Frame>(
        &edge_name(0),
        capacity * rig.cameras().len(),
        policy,
        ledger.clone(),
    );
    let (sync_tx, mut next_rx, sync_edge) =
        edge::<FrameSet>(&edge_name(1), capacity, policy, ledger.clone());
    let mut edges: Vec<EdgeHandle> = vec![source_edge, sync_edge];
    let started = Instant::now();
    let mut handles = vec![spawn_stage(
        synchroniser,
        sync_rx,
        sync_tx,
        control.clone(),
    )?];
    for (i, stage) in stages.into_iter().enumerate() {
        let (tx, rx, handle) =
            edge::<FrameSet>(&edge_name(i + 2), capacity, policy, ledger.clone());
        handles.push(spawn_stage(stage, next_rx, tx, control.clone())?);
        edges.push(handle);
        next_rx = rx;
    }
    let sink_rx = next_rx;

    // The source (files, cameras) runs on its own thread; decoding is compression's job.
    let source_control = control.clone();
    let source_ledger = ledger.clone();
    let source = std::thread::Builder::new()
        .name(format!("source-{}", spec.mode))
        .spawn(move || source(&source_tx, &source_control, &source_ledger))
        .map_err(|e| PipelineError::stage("source", e))?;

    // The sink: this thread.
    let mut end_to_end = LatencyHistogram::default();
    let mut counts = FrameSetCounts::default();
    let mut health: BTreeMap<String, CameraHealth> = cameras
        .iter()
        .map(|c| (c.clone(), CameraHealth::default()))
        .collect();
    let mut decisions = Vec::new();
    let mut frames_done = 0;
    while let Ok(set) = sink_rx.recv() {
        let arrived = Instant::now();
        end_to_end.record(arrived.saturating_duration_since(set.first_arrival));
        counts.total += 1;
        if set.is_complete() {
            counts.complete += 1;
        } else {
            counts.partial += 1;
        }
        let processed = set
            .slots
            .iter()
            .filter(|s| s.status == SlotStatus::Processed)
            .count() as u64;
        if tracing::enabled!(tracing::Level::DEBUG) {
            trace_set_latency(&set, arrived, processed);
        }
        ledger.processed(processed);
        for (slot, name) in set.slots.iter().zip(&cameras) {
            if let Some(entry) = health.get_mut(name) {
                if slot.frame.is_some() {
                    entry.frames += 1;
                } else {
                    entry.missing_in_framesets += 1;
                }
            }
        }
        frames_done += set.present() as u64;
        if let Some(decision) = &set.decision {
            decisions.push(decision.clone());
        }
        on_frameset(
            &set,
            &Progress {
                frames_total,
                frames_done,
                queues: edges
                    .iter()
                    .map(|e| (e.shared_name(), e.queue_len()))
                    .collect(),
            },
        );
        if control.aborted() {
            break;
        }
    }
    // Anything left in flight after an abort is accounted as dropped by shutdown.
    for set in sink_rx.drain() {
        ledger.dropped(DropReason::Shutdown, FrameCount::frames(&set));
    }
    let source_result = source.join().unwrap_or_else(|_| {
        Err(PipelineError::Runtime(RuntimeError::Panicked {
            stage: "source",
            message: format!("the {} source panicked", spec.mode),
        }))
    });
    let runs = join_all(handles)?;
    source_result?;
    let wall = started.elapsed();

    let mut stages = BTreeMap::new();
    for run in &runs {
        stages.insert(run.name.to_owned(), run.processing.summary());
    }
    let ledger_counts = ledger.counts();
    let detector_calls = context.inference.detector_calls.load(Ordering::Relaxed);
    let wall_s = wall.as_secs_f64().max(1e-9);
    let sync = sync_timing
        .get()
        .map(|timing| SyncReport::new(timing, &cameras));
    Ok(RunRecord {
        heptaview_version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: spec.mode.to_owned(),
        input: spec.input.clone(),
        paced: spec.paced,
        cameras,
        framesets: counts,
        sync,
        frames: ledger_counts.into(),
        throughput: Throughput {
            framesets_per_s: counts.total as f64 / wall_s,
            frames_per_s: ledger_counts.input as f64 / wall_s,
            wall_s,
        },
        latency_ms: Latencies {
            end_to_end: end_to_end.summary(),
            end_to_end_histogram: end_to_end.encoded(),
            stages,
        },
        inference: Inference {
            detector_calls,
            classifier_calls: context.inference.classifier_calls.load(Ordering::Relaxed),
            classifier_crops: context.inference.classifier_crops.load(Ordering::Relaxed),
            classifications_reused: context
                .inference
                .classifications_reused
                .load(Ordering::Relaxed),
            classifications_deferred: context
                .inference
                .classifications_deferred
                .load(Ordering::Relaxed),
            detector_ms_mean: if detector_calls == 0 {
                0.0
            } else {
                context.inference.detector_ns.load(Ordering::Relaxed) as f64
                    / 1e6
                    / detector_calls as f64
            },
        },
        compression: Compression {
            bytes_in: context.compression.bytes_in.load(Ordering::Relaxed),
            bytes_to_detector: context
                .compression
                .bytes_to_detector
                .load(Ordering::Relaxed),
            bytes_jpeg: context.compression.bytes_jpeg.load(Ordering::Relaxed),
        },
        decisions,
        cameras_health: health,
        queues: edges.iter().map(EdgeHandle::report).collect(),
        stopped_early: control.stop_requested(),
    })
}

/// The configured detector's input size; a model that is not shipped is the
/// configuration's fault (bad input), not the run's.
fn detector_input_size(model: &ModelName) -> Result<(u32, u32), PipelineError> {
    ensure_shipped("[detector] model", model)?;
    Detector::shipped_input_size(model).map_err(|e| PipelineError::stage("detect", e))
}

/// A model named by the configuration (`key`) must be one of the shipped manifests.
fn ensure_shipped(key: &str, model: &ModelName) -> Result<(), PipelineError> {
    if model.manifest_path().is_file() {
        return Ok(());
    }
    Err(PipelineError::Config(format!(
        "{key} `{model}`: there is no models/{model}.toml (shipped: {})",
        ModelName::shipped_names().join(", ")
    )))
}
