//! Replay: an AV2 log through the whole pipeline, deterministic in what it
//! detects (stream-time synchronisation, lossless queues).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use heptaview_calibration::Rig;
use heptaview_datasets::av2::{Av2Log, EgoPoses};
use heptaview_models::SessionConfig;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::{Detector, DetectorConfig};
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use crate::accounting::{DropReason, Ledger};
use crate::edge::{Backpressure, EdgeHandle, EdgeSender, edge};
use crate::error::PipelineError;
use crate::fusion::{FuseStage, TrackerConfig};
use crate::metrics::LatencyHistogram;
use crate::planning::{PlanStage, PlannerConfig};
use crate::report::{
    CameraHealth, Compression, FrameSetCounts, Inference, Latencies, Report, SyncReport, Throughput,
};
use crate::runtime::{Control, join_all, spawn_stage};
use crate::sinks::rerun::RerunConfig;
use crate::stages::compress::{CompressConfig, CompressionCounters, Compressor};
use crate::stages::detect::{ClassifyStage, DetectStage, InferenceCounters};
use crate::stages::propagate::Propagator;
use crate::stages::sync::{SyncConfig, Synchroniser};
use crate::types::{CameraId, Frame, FrameSet, SlotStatus};

/// Every stage parameter, one section per stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    pub sync: SyncConfig,
    pub compress: CompressConfig,
    pub detector: DetectorConfig,
    pub tracker: TrackerConfig,
    pub planner: PlannerConfig,
    pub session: SessionConfig,
    /// Detector workers, each with its own session.
    pub detector_workers: usize,
    pub classify: bool,
    /// Items each queue between stages holds.
    pub queue_capacity: usize,
    pub backpressure: Backpressure,
    pub rerun: RerunConfig,
}

/// The defaults, commented: what `heptaview config --print-default` prints.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");

impl PipelineConfig {
    /// A configuration file; what it leaves out keeps its default.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Config(format!("cannot read {}: {e}", path.display())))?;
        let config: Self = toml::from_str(&text).map_err(|e| {
            let place = e.span().map_or(String::new(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" (line {line}, column {column})")
            });
            PipelineError::Config(format!("{}{place}: {}", path.display(), e.message().trim()))
        })?;
        config
            .validate()
            .map_err(|why| PipelineError::Config(format!("{}: {why}", path.display())))?;
        Ok(config)
    }

    /// Values that no stage can work with: rates and limits that are not
    /// positive, and anything not finite.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("sync.max_wait_ms", self.sync.max_wait_ms),
            ("compress.max_interval_ms", self.compress.max_interval_ms),
            (
                "tracker.acceleration_sigma",
                self.tracker.acceleration_sigma,
            ),
            ("tracker.gate_chi2", self.tracker.gate_chi2),
            ("tracker.max_unseen_s", self.tracker.max_unseen_s),
            (
                "planner.corridor_half_width_m",
                self.planner.corridor_half_width_m,
            ),
            ("planner.min_look_ahead_m", self.planner.min_look_ahead_m),
        ];
        let optional_non_negative = [("sync.tolerance_ms", self.sync.tolerance_ms)];
        let optional_positive = [
            (
                "compress.budget_calls_per_s",
                self.compress.budget_calls_per_s,
            ),
            ("rerun.max_images_per_s", self.rerun.max_images_per_s),
        ];
        let non_negative = [
            ("compress.change_threshold", self.compress.change_threshold),
            ("compress.min_interval_ms", self.compress.min_interval_ms),
            (
                "compress.min_interval_rear_ms",
                self.compress.min_interval_rear_ms,
            ),
            ("planner.cruise_speed_mps", self.planner.cruise_speed_mps),
            ("planner.approach_margin_m", self.planner.approach_margin_m),
            ("planner.look_ahead_s", self.planner.look_ahead_s),
            ("planner.front_offset_m", self.planner.front_offset_m),
            ("planner.emergency_ttc_s", self.planner.emergency_ttc_s),
            ("planner.stop_ttc_s", self.planner.stop_ttc_s),
            ("planner.person_stop_gap_m", self.planner.person_stop_gap_m),
            ("planner.hold_s", self.planner.hold_s),
            ("planner.default_speed_mps", self.planner.default_speed_mps),
        ];
        let set_optional = optional_positive
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        for (name, value) in positive.into_iter().chain(set_optional) {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("`{name}` must be a positive number, not {value}"));
            }
        }
        let set_optional_non_negative = optional_non_negative
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        for (name, value) in non_negative.into_iter().chain(set_optional_non_negative) {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("`{name}` must be zero or more, not {value}"));
            }
        }
        for (name, value) in [
            ("detector.score_threshold", self.detector.score_threshold),
            ("detector.nms_iou", self.detector.nms_iou),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("`{name}` must be between 0 and 1, not {value}"));
            }
        }
        if self.queue_capacity == 0 || self.detector_workers == 0 {
            return Err("`queue_capacity` and `detector_workers` must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            sync: SyncConfig::default(),
            compress: CompressConfig::default(),
            detector: DetectorConfig::default(),
            tracker: TrackerConfig::default(),
            planner: PlannerConfig::default(),
            session: SessionConfig::default(),
            detector_workers: 1,
            classify: true,
            queue_capacity: 4,
            backpressure: Backpressure::Lossless,
            rerun: RerunConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the pipeline goes.
    Max,
    /// Paced at this multiple of recorded time.
    Factor(f64),
}

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub speed: Speed,
    /// Seconds from the log's first image.
    pub start_s: Option<f64>,
    pub end_s: Option<f64>,
    /// Camera names to use; all of the log's when `None`.
    pub cameras: Option<Vec<String>>,
    pub config: PipelineConfig,
}

impl ReplayOptions {
    /// The whole log, every camera, as fast as the pipeline goes.
    pub fn whole_log(config: PipelineConfig) -> Self {
        Self {
            speed: Speed::Max,
            start_s: None,
            end_s: None,
            cameras: None,
            config,
        }
    }
}

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

/// The cameras a replay uses, in slot order: `names` (each checked to be in
/// the log), or all of the log's.
pub fn selected_cameras(
    log: &Av2Log,
    names: Option<&[String]>,
) -> Result<Vec<String>, PipelineError> {
    match names {
        Some(names) => {
            for name in names {
                log.camera(name)?;
            }
            Ok(names.to_vec())
        }
        None => Ok(log.cameras().iter().map(|c| c.name().to_owned()).collect()),
    }
}

/// The log's rig reduced to `cameras`, in that (slot) order.
pub fn selected_rig(log: &Av2Log, cameras: &[String]) -> Result<Rig, PipelineError> {
    let rig_cameras = cameras
        .iter()
        .map(|name| log.rig().camera(name).cloned())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| PipelineError::Config(e.to_string()))?;
    let rig = Rig::new(log.rig().name(), rig_cameras);
    let rig = match log.rig().timing() {
        Some(timing) => {
            let indices: Vec<usize> = cameras
                .iter()
                .filter_map(|name| log.rig().camera_names().position(|n| n == name))
                .collect();
            timing
                .select(&indices)
                .map_err(Into::into)
                .and_then(|timing| rig.and_then(|rig| rig.with_timing(timing)))
        }
        None => rig,
    };
    rig.map_err(|e| PipelineError::Config(e.to_string()))
}

/// Runs a log through sync → compress → detect → classify → fuse → plan and
/// returns the report. `on_frameset` sees each finished frame set.
pub fn replay(
    log_dir: &Path,
    options: &ReplayOptions,
    control: Arc<Control>,
    on_frameset: &mut dyn FnMut(&FrameSet, &Progress),
) -> Result<Report, PipelineError> {
    let log = Av2Log::open(log_dir)?;
    let cameras = selected_cameras(&log, options.cameras.as_deref())?;
    let rig = selected_rig(&log, &cameras)?;

    // Every frame to replay, in time order (cameras interleaved).
    let first_ns = cameras
        .iter()
        .filter_map(|name| log.camera(name).ok()?.timestamps_ns().first().copied())
        .min()
        .unwrap_or(0);
    let window = |t: u64| {
        let s = t.saturating_sub(first_ns) as f64 / 1e9;
        options.start_s.is_none_or(|start| s >= start) && options.end_s.is_none_or(|end| s <= end)
    };
    let mut schedule: Vec<(u64, usize)> = Vec::new();
    for (index, name) in cameras.iter().enumerate() {
        if let Ok(stream) = log.camera(name) {
            schedule.extend(
                stream
                    .timestamps_ns()
                    .iter()
                    .filter(|t| window(**t))
                    .map(|&t| (t, index)),
            );
        }
    }
    schedule.sort_unstable();
    let frames_total = schedule.len() as u64;

    let speed = options.speed;
    let names = cameras.clone();
    let spec = RunSpec {
        mode: "replay",
        input: log_dir.display().to_string(),
        poses: Some(log.ego_poses().clone()),
        rig,
        cameras,
        frames_total,
    };
    let source: Source = Box::new(move |out, control, ledger| {
        replay_source(&log, &names, schedule, speed, out, control, ledger)
    });
    run_pipeline(spec, &options.config, source, control, on_frameset)
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
) -> Result<Report, PipelineError> {
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
        ledger.dropped(DropReason::Shutdown, crate::edge::FrameCount::frames(&set));
    }
    let source_result = source.join().unwrap_or_else(|_| {
        Err(PipelineError::Runtime(
            heptaview_runtime::RuntimeError::Panicked {
                stage: "source",
                message: format!("the {} source panicked", spec.mode),
            },
        ))
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
    Ok(Report {
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
        eval: None,
        rerun: None,
        transport: None,
    })
}

fn replay_source(
    log: &Av2Log,
    cameras: &[String],
    schedule: Vec<(u64, usize)>,
    speed: Speed,
    out: &EdgeSender<Frame>,
    control: &Control,
    ledger: &Ledger,
) -> Result<(), PipelineError> {
    let started = Instant::now();
    let first_ns = schedule.first().map_or(0, |(t, _)| *t);
    let mut sequence = vec![0u64; cameras.len()];
    for (timestamp_ns, camera) in schedule {
        if control.stop_requested() || control.aborted() {
            break;
        }
        if let Speed::Factor(factor) = speed {
            let due = Duration::from_secs_f64((timestamp_ns - first_ns) as f64 / 1e9 / factor);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        ledger.input(1);
        let jpeg = match log.read_jpeg(&cameras[camera], timestamp_ns) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::warn!("{error}; counted as decode_error");
                ledger.dropped(DropReason::DecodeError, 1);
                continue;
            }
        };
        let frame = Frame {
            camera: CameraId(camera),
            timestamp_ns,
            arrival: Instant::now(),
            sequence: sequence[camera],
            jpeg: Arc::new(jpeg),
            image: None,
            grey: None,
            native_size: None,
        };
        sequence[camera] += 1;
        if out.send(frame).is_err() {
            ledger.dropped(DropReason::Shutdown, 1);
            return Err(heptaview_runtime::RuntimeError::DownstreamGone("source->sync").into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod config_tests {
    use super::*;

    /// Every key of a TOML table, with its section (`sync.tolerance_ms`).
    fn keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(table) = value {
            for (key, value) in table {
                let path = format!("{prefix}{key}");
                if value.is_table() {
                    keys(value, &format!("{path}."), out);
                } else {
                    out.push(path);
                }
            }
        }
    }

    #[test]
    fn the_printed_defaults_are_the_defaults_and_name_every_parameter() {
        let parsed: PipelineConfig = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, PipelineConfig::default());
        // Every parameter appears, set or as a commented example.
        let defaults = toml::Value::try_from(PipelineConfig::default()).unwrap();
        let mut names = Vec::new();
        keys(&defaults, "", &mut names);
        for name in names {
            let key = name.rsplit('.').next().unwrap();
            assert!(
                DEFAULT_CONFIG_TOML.contains(&format!("{key} = "))
                    || DEFAULT_CONFIG_TOML.contains(&format!("# {key} = ")),
                "{name} is not in default_config.toml"
            );
        }
        for optional in [
            "budget_calls_per_s",
            "max_images_per_s",
            "intra_threads",
            "tolerance_ms",
        ] {
            assert!(DEFAULT_CONFIG_TOML.contains(&format!("# {optional} = ")));
        }
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults_and_a_misspelt_key_is_refused() {
        let partial: PipelineConfig = toml::from_str(
            "[planner]\ncruise_speed_mps = 8.0\n[session]\nexecution_providers = [\"cpu\"]\n",
        )
        .unwrap();
        assert_eq!(partial.planner.cruise_speed_mps, 8.0);
        assert_eq!(partial.planner.hold_s, PlannerConfig::default().hold_s);
        assert_eq!(partial.session, SessionConfig::default());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[planner]\ncruise_speed = 8.0\n").unwrap();
        let error = PipelineConfig::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("bad.toml") && error.contains("cruise_speed"),
            "{error}"
        );
    }
}
