//! Replay: a recorded log through the whole pipeline, deterministic in what
//! it detects (stream-time synchronisation, lossless queues).

use std::sync::Arc;
use std::time::{Duration, Instant};

use heptaview_calibration::Rig;
use heptaview_datasets::LogReader;
use heptaview_perception::PipelineError;
use heptaview_perception::chain::{Progress, RunSpec, Source, run_pipeline};
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::record::RunRecord;
use heptaview_perception::types::{CameraId, Frame, FrameSet};
use heptaview_runtime::RuntimeError;
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::EdgeSender;
use heptaview_runtime::threads::Control;

use crate::IoError;

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

/// The cameras a replay uses, in slot order: `names` (each checked to be in
/// the log), or all of the log's.
pub fn selected_cameras(
    log: &dyn LogReader,
    names: Option<&[String]>,
) -> Result<Vec<String>, IoError> {
    match names {
        Some(names) => {
            for name in names {
                log.timestamps_ns(name)?;
            }
            Ok(names.to_vec())
        }
        None => Ok(log.camera_names()),
    }
}

/// The log's rig reduced to `cameras`, in that (slot) order.
pub fn selected_rig(log: &dyn LogReader, cameras: &[String]) -> Result<Rig, IoError> {
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
    Ok(rig.map_err(|e| PipelineError::Config(e.to_string()))?)
}

/// Opens the log at `root` (the built-in formats) and replays it.
pub fn replay_log(
    root: &std::path::Path,
    options: &ReplayOptions,
    control: Arc<Control>,
    on_frameset: &mut dyn FnMut(&FrameSet, &Progress),
) -> Result<RunRecord, IoError> {
    let log: Arc<dyn LogReader> = Arc::from(heptaview_datasets::open_log(root)?);
    replay(log, options, control, on_frameset)
}

/// Runs a log through the chain and returns the run's record.
/// `on_frameset` sees each finished frame set.
pub fn replay(
    log: Arc<dyn LogReader>,
    options: &ReplayOptions,
    control: Arc<Control>,
    on_frameset: &mut dyn FnMut(&FrameSet, &Progress),
) -> Result<RunRecord, IoError> {
    let cameras = selected_cameras(&*log, options.cameras.as_deref())?;
    let rig = selected_rig(&*log, &cameras)?;

    // Every frame to replay, in time order (cameras interleaved).
    let first_ns = cameras
        .iter()
        .filter_map(|name| log.timestamps_ns(name).ok()?.first().copied())
        .min()
        .unwrap_or(0);
    let window = |t: u64| {
        let s = t.saturating_sub(first_ns) as f64 / 1e9;
        options.start_s.is_none_or(|start| s >= start) && options.end_s.is_none_or(|end| s <= end)
    };
    let upcoming: Vec<Vec<u64>> = cameras
        .iter()
        .map(|name| {
            log.timestamps_ns(name).map_or_else(
                |_| Vec::new(),
                |timestamps| timestamps.iter().copied().filter(|&t| window(t)).collect(),
            )
        })
        .collect();
    let mut schedule: Vec<(u64, usize)> = upcoming
        .iter()
        .enumerate()
        .flat_map(|(index, timestamps)| timestamps.iter().map(move |&t| (t, index)))
        .collect();
    schedule.sort_unstable();
    let frames_total = schedule.len() as u64;

    let speed = options.speed;
    let names = cameras.clone();
    let spec = RunSpec {
        mode: "replay",
        input: log.root().display().to_string(),
        poses: log.ego_poses().cloned(),
        rig,
        cameras,
        frames_total,
        paced: matches!(speed, Speed::Factor(_)),
        // A recorded log's index: the trigger phases are known before the
        // first frame is read.
        upcoming_timestamps_ns: Some(upcoming),
    };
    let source: Source = Box::new(move |out, control, ledger| {
        replay_source(&*log, &names, schedule, speed, out, control, ledger)
    });
    Ok(run_pipeline(
        spec,
        &options.config,
        source,
        control,
        on_frameset,
    )?)
}

fn replay_source(
    log: &dyn LogReader,
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
        // Paced, a frame "arrives" when its camera would have delivered it:
        // a source held back by a full queue does not hide the lag.
        let due_at = match speed {
            Speed::Factor(factor) => {
                let due = Duration::from_secs_f64((timestamp_ns - first_ns) as f64 / 1e9 / factor);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
                Some(started + due)
            }
            Speed::Max => None,
        };
        ledger.input(1);
        let jpeg = match log.read_image(&cameras[camera], timestamp_ns) {
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
            arrival: due_at.map_or_else(Instant::now, |due| due.min(Instant::now())),
            sequence: sequence[camera],
            jpeg: Arc::new(jpeg),
            image: None,
            grey: None,
            native_size: None,
        };
        sequence[camera] += 1;
        if out.send(frame).is_err() {
            ledger.dropped(DropReason::Shutdown, 1);
            return Err(RuntimeError::DownstreamGone("source->sync".to_owned()).into());
        }
    }
    Ok(())
}
