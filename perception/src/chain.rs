//! The chain: frames from a source through sync → compress → detect →
//! classify → propagate → fuse → plan, one thread per stage, to the caller's
//! sink; returns the run's record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use heptaview_calibration::{EgoPoses, Rig};
use heptaview_models::SessionConfig;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::Detector;
use heptaview_runtime::RuntimeError;
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::{EdgeHandle, EdgeSender, FrameCount, edge};
use heptaview_runtime::metrics::LatencyHistogram;
use heptaview_runtime::threads::{Control, join_all, spawn_stage};
use nalgebra::Vector3;

use crate::config::PipelineConfig;
use crate::error::PipelineError;
use crate::fusion::FuseStage;
use crate::planning::PlanStage;
use crate::record::{
    CameraHealth, Compression, FrameSetCounts, Inference, Latencies, RunRecord, SyncReport,
    Throughput,
};
use crate::stages::compress::{CompressConfig, CompressionCounters, Compressor};
use crate::stages::detect::{ClassifyStage, DetectStage, InferenceCounters};
use crate::stages::propagate::Propagator;
use crate::stages::sync::Synchroniser;
use crate::types::{Frame, FrameSet, SlotStatus};

/// Progress of a run, for a progress bar, and the queues' lengths now.
#[derive(Debug, Clone)]
pub struct Progress {
    pub frames_total: u64,
    pub frames_done: u64,
    /// (edge name, items queued after its latest send).
    pub queues: Vec<(&'static str, u64)>,
}

/// Drive-path priority of each camera for the inference budget: 0 for
/// cameras looking within 30° of straight ahead, then 1, 2, 3 further round.
pub fn path_priority(rig: &Rig) -> Vec<u8> {
    rig.cameras()
        .iter()
        .map(|camera| {
            let axis = camera.ego_from_camera().rotation * Vector3::z();
            let yaw = axis.y.atan2(axis.x).to_degrees().abs();
            match yaw {
                y if y < 30.0 => 0,
                y if y < 60.0 => 1,
                y if y < 120.0 => 2,
                _ => 3,
            }
        })
        .collect()
}

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
}

/// Feeds frames into the pipeline until done or asked to stop, on its own thread.
pub type Source =
    Box<dyn FnOnce(&EdgeSender<Frame>, &Control, &Ledger) -> Result<(), PipelineError> + Send>;

/// Runs frames from `source` through sync → compress → detect → classify →
/// fuse → plan and returns the report. `on_frameset` sees each finished frame set.
pub fn run_pipeline(
    spec: RunSpec,
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
    let ledger = Arc::new(Ledger::default());
    let compression = Arc::new(CompressionCounters::default());
    let inference = Arc::new(InferenceCounters::default());

    // Models first: a missing model fails before any thread starts.
    let workers = config.detector_workers.max(1);
    let per_worker = SessionConfig {
        intra_threads: (config.session.intra_threads / workers).max(1),
        ..config.session.clone()
    };
    let detectors = (0..workers)
        .map(|_| Detector::shipped(&per_worker, config.detector.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PipelineError::stage("detect", e))?;
    let detector_input = {
        let spec = &detectors[0].model().manifest().input;
        (spec.width() as u32, spec.height() as u32)
    };
    let classifier = if config.classify {
        Some(
            Classifier::shipped(&config.session, 5)
                .map_err(|e| PipelineError::stage("classify", e))?,
        )
    } else {
        None
    };
    let compress_config = CompressConfig {
        detector_width: detector_input.0,
        ..config.compress.clone()
    };

    let capacity = config.queue_capacity;
    let policy = config.backpressure;
    let (source_tx, sync_rx, source_edge) = edge::<Frame>(
        "source->sync",
        capacity * rig.cameras().len(),
        policy,
        ledger.clone(),
    );
    let (sync_tx, compress_rx, e1) =
        edge::<FrameSet>("sync->compress", capacity, policy, ledger.clone());
    let (compress_tx, detect_rx, e2) =
        edge::<FrameSet>("compress->detect", capacity, policy, ledger.clone());
    let (detect_tx, classify_rx, e3) =
        edge::<FrameSet>("detect->classify", capacity, policy, ledger.clone());
    let (classify_tx, propagate_rx, e4) =
        edge::<FrameSet>("classify->propagate", capacity, policy, ledger.clone());
    let (propagate_tx, fuse_rx, e5) =
        edge::<FrameSet>("propagate->fuse", capacity, policy, ledger.clone());
    let (fuse_tx, plan_rx, e6) = edge::<FrameSet>("fuse->plan", capacity, policy, ledger.clone());
    let (plan_tx, sink_rx, e7) = edge::<FrameSet>("plan->sink", capacity, policy, ledger.clone());
    let edges: Vec<EdgeHandle> = vec![source_edge, e1, e2, e3, e4, e5, e6, e7];

    let synchroniser = Synchroniser::new(
        config.sync.clone(),
        rig.cameras().len(),
        rig.timing().cloned(),
        ledger.clone(),
    )?;
    let sync_timing = synchroniser.timing();
    let started = Instant::now();
    let handles = vec![
        spawn_stage(synchroniser, sync_rx, sync_tx, control.clone())?,
        spawn_stage(
            Compressor::new(
                compress_config,
                detector_input,
                path_priority(&rig),
                ledger.clone(),
                compression.clone(),
            )?,
            compress_rx,
            compress_tx,
            control.clone(),
        )?,
        spawn_stage(
            DetectStage::new(detectors, inference.clone())?,
            detect_rx,
            detect_tx,
            control.clone(),
        )?,
        spawn_stage(
            ClassifyStage::new(classifier, inference.clone()),
            classify_rx,
            classify_tx,
            control.clone(),
        )?,
        spawn_stage(
            Propagator::new(rig.cameras().len()),
            propagate_rx,
            propagate_tx,
            control.clone(),
        )?,
        spawn_stage(
            FuseStage::new(rig.clone(), config.tracker.clone(), spec.poses.clone()),
            fuse_rx,
            fuse_tx,
            control.clone(),
        )?,
        spawn_stage(
            PlanStage::new(
                config.planner.clone(),
                spec.poses.clone(),
                path_priority(&rig).iter().map(|rank| *rank == 0).collect(),
                cameras.clone(),
            ),
            plan_rx,
            plan_tx,
            control.clone(),
        )?,
    ];

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
        end_to_end.record(set.first_arrival.elapsed());
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
                queues: edges.iter().map(|e| (e.name(), e.queue_len())).collect(),
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
    let detector_calls = inference.detector_calls.load(Ordering::Relaxed);
    let wall_s = wall.as_secs_f64().max(1e-9);
    let sync = sync_timing
        .get()
        .map(|timing| SyncReport::new(timing, &cameras));
    Ok(RunRecord {
        heptaview_version: env!("CARGO_PKG_VERSION").to_owned(),
        mode: spec.mode.to_owned(),
        input: spec.input.clone(),
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
            classifier_calls: inference.classifier_calls.load(Ordering::Relaxed),
            detector_ms_mean: if detector_calls == 0 {
                0.0
            } else {
                inference.detector_ns.load(Ordering::Relaxed) as f64 / 1e6 / detector_calls as f64
            },
        },
        compression: Compression {
            bytes_in: compression.bytes_in.load(Ordering::Relaxed),
            bytes_to_detector: compression.bytes_to_detector.load(Ordering::Relaxed),
            bytes_jpeg: compression.bytes_jpeg.load(Ordering::Relaxed),
        },
        decisions,
        cameras_health: health,
        queues: edges.iter().map(EdgeHandle::report).collect(),
        stopped_early: control.stop_requested(),
    })
}
