//! `heptaview bench`: end-to-end throughput and latency against the bound
//! set by ONNX Runtime alone, and what key-frame selection buys at what loss
//! of recall. Every figure is measured in this one run, so that a noisy
//! machine moves both sides of each ratio together.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::bench_reference::DetectedFrames;
use crate::bench_reference::onnxruntime_alone;
use anyhow::{Context, anyhow};
use heptaview_datasets::generator::GenerateOptions;
use heptaview_datasets::{LogReader, OpenOptions, open_log_with};
use heptaview_eval::keyframes::{DetectionsByFrame, keyframe_recall};
use heptaview_io::replay::selected_cameras;
use heptaview_io::replay::{ReplayOptions, Speed};
use heptaview_perception::config::KeyframeMode;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::record::RunRecord;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::Failure;
use crate::generate::generate_with_progress;
use crate::session::replay_with_progress;
use heptaview_models::units::Positive;

/// The generated default: AV2's ring cameras run at 20 frames per second.
const DEFAULT_FPS: f64 = 20.0;
const DEFAULT_SEED: u64 = 1;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A drive as `replay` reads it (AV2 folder, nuScenes root, ROS 2 bag)
    /// [default: generate `urban_mixed` into a temporary folder, at --width
    /// and --seconds, 20 fps, seed 1].
    #[arg(value_name = "LOG")]
    log: Option<PathBuf>,
    /// nuScenes: the scene to replay (as `replay --scene`).
    #[arg(long, value_name = "NAME", requires = "log")]
    scene: Option<String>,
    /// ROS 2 bags: which topics are which cameras (as `replay --topics`).
    #[arg(long, value_name = "FILE", requires = "log")]
    topics: Option<PathBuf>,
    /// Also write the figures as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Width of the generated log's widest camera (AV2 native: 2048).
    #[arg(long, default_value_t = 640, value_name = "PX")]
    width: u32,
    /// Length of the generated log.
    #[arg(long, default_value = "6", value_name = "S")]
    seconds: Positive,
    /// Afterwards, replay with key frames `auto` back to back for this many
    /// seconds, sampling resident memory (RSS), to show whether it grows.
    #[arg(long, value_name = "S")]
    soak: Option<Positive>,
    /// Also replay with key frames `auto` at recorded pace (`replay --speed
    /// 1`), as cameras deliver: realtime_factor (max-speed frame sets/s over
    /// the log's rate; >= 1 keeps up), camera-to-decision latency p50/p99
    /// and drops.
    #[arg(long)]
    realtime: bool,
    /// Stage parameters (TOML), as `replay --config` reads them; the bench
    /// sets `keyframes` itself.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct BenchReport {
    heptaview_version: &'static str,
    unix_time_s: u64,
    machine: Machine,
    log: LogFacts,
    intra_threads: usize,
    /// The detector in use (`[detector] model`: a manifest in models/).
    detector: String,
    detector_workers: usize,
    /// The classifier in use (`classifier_model`), or `off` (`classify = false`).
    classifier: String,
    keyframes_off: ModeFigures,
    keyframes_auto: ModeFigures,
    /// Frame sets per second with key frames `auto` over `off`.
    keyframe_speedup: f64,
    /// Share of the every-frame detections still there with key frames.
    keyframe_recall: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    realtime: Option<Realtime>,
    soak: Option<Soak>,
}

/// The pipeline against the clock: can it keep up with the cameras?
#[derive(Debug, Serialize)]
struct Realtime {
    /// Frame sets per second the log was recorded at.
    log_framesets_per_s: f64,
    /// Frame sets per second sustained at max speed, key frames `auto`.
    sustained_framesets_per_s: f64,
    /// sustained ÷ log rate: at or above 1 the pipeline keeps up.
    realtime_factor: f64,
    /// Replayed at recorded pace: camera (when the frame was due) to decision.
    paced_latency_ms_p50: f64,
    paced_latency_ms_p99: f64,
    /// The same after the first second of the drive, when every camera has
    /// had its first detection and ONNX Runtime has warmed up: the latency a
    /// running car sees.
    /// `None` for a drive of a second or less.
    steady_latency_ms_p50: Option<f64>,
    steady_latency_ms_p99: Option<f64>,
    /// The first frame set's latency: from its first frame to the run's
    /// first decision (start-up: every camera detected at once).
    first_decision_ms: Option<f64>,
    /// The highest latency within the first second.
    warm_up_latency_ms_max: Option<f64>,
    paced_wall_s: f64,
    /// Frames dropped in the paced run, by reason (none expected).
    paced_dropped: u64,
}

#[derive(Debug, Serialize)]
struct Machine {
    cpus: usize,
    cpu_model: String,
}

#[derive(Debug, Serialize)]
struct LogFacts {
    path: String,
    generated: bool,
    cameras: usize,
    frames: u64,
    framesets: u64,
}

#[derive(Debug, Serialize)]
struct ModeFigures {
    framesets_per_s: f64,
    frames_per_s: f64,
    wall_s: f64,
    /// Camera-to-decision latency at max speed: mostly time waiting in the
    /// queues (Little's law), since the source runs ahead.
    latency_ms_p50: f64,
    latency_ms_p99: f64,
    /// The stages' own processing time per frame set (sum of their means):
    /// the latency with empty queues.
    stage_time_ms: f64,
    frames_processed: u64,
    frames_skipped_keyframe: u64,
    detector_calls: u64,
    classifier_calls: u64,
    /// Input frames per second if only ONNX Runtime's calls for this run
    /// took time (same calls, same inputs, same sessions' thread budget).
    onnxruntime_alone_frames_per_s: f64,
    onnxruntime_alone_s: f64,
    /// frames_per_s ÷ onnxruntime_alone_frames_per_s.
    pipeline_efficiency: f64,
    /// Peak resident memory during this run, MB.
    peak_rss_mb: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Soak {
    seconds: f64,
    passes: u32,
    /// (seconds since the soak began, RSS in MB), once a second.
    rss_mb: Vec<(f64, f64)>,
    /// RSS at the end of the first pass and of the last.
    rss_after_first_pass_mb: f64,
    rss_after_last_pass_mb: f64,
    peak_rss_mb: Option<f64>,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let base = match &args.config {
        Some(path) => PipelineConfig::load(path).map_err(Failure::from)?,
        None => PipelineConfig::default(),
    };
    let generated_dir;
    let (log_dir, generated) = match &args.log {
        Some(dir) => (dir.clone(), false),
        None => {
            generated_dir = tempfile::tempdir()
                .context("cannot create a temporary folder")
                .map_err(Failure::Runtime)?;
            let dir = generated_dir.path().join("urban_mixed");
            generate_with_progress(GenerateOptions {
                width_px: args.width,
                fps: DEFAULT_FPS,
                seconds: Some(args.seconds.get()),
                seed: DEFAULT_SEED,
                ..GenerateOptions::new("urban_mixed", &dir)
            })?;
            (dir, true)
        }
    };
    // Opened once: every pass below reads through this reader.
    let open = OpenOptions {
        scene: args.scene.clone(),
        topic_map: args.topics.clone(),
    };
    let log: Arc<dyn LogReader> = Arc::from(open_log_with(&log_dir, &open).map_err(Failure::from)?);
    let cameras = selected_cameras(&*log, None).map_err(Failure::from)?;

    let off = crate::session::every_frame_reference(&base);
    let mut auto = base.clone();
    auto.compress.keyframes = KeyframeMode::Auto;
    let (off_report, off_detections, off_frames, off_peak) =
        measured_replay(&log, &off, &cameras, "keyframes off")?;
    let (auto_report, auto_detections, auto_frames, auto_peak) =
        measured_replay(&log, &auto, &cameras, "keyframes auto")?;
    let off_alone = time_alone(&*log, &off_frames, &off, "ONNX Runtime alone, off")?;
    let auto_alone = time_alone(&*log, &auto_frames, &auto, "ONNX Runtime alone, auto")?;

    let realtime = if args.realtime {
        let (paced, latencies) = paced_replay(&log, &auto)?;
        let log_rate = log_framesets_per_s(&*log, &cameras);
        Some(Realtime {
            log_framesets_per_s: log_rate,
            sustained_framesets_per_s: auto_report.throughput.framesets_per_s,
            realtime_factor: auto_report.throughput.framesets_per_s
                / log_rate.max(f64::MIN_POSITIVE),
            paced_latency_ms_p50: paced.latency_ms.end_to_end.p50,
            paced_latency_ms_p99: paced.latency_ms.end_to_end.p99,
            steady_latency_ms_p50: percentile(&latencies.steady, 0.5),
            steady_latency_ms_p99: percentile(&latencies.steady, 0.99),
            first_decision_ms: latencies.warm_up.first().copied(),
            warm_up_latency_ms_max: latencies.warm_up.iter().copied().reduce(f64::max),
            paced_wall_s: paced.throughput.wall_s,
            paced_dropped: paced.frames.dropped.values().sum(),
        })
    } else {
        None
    };
    let soak = match args.soak {
        Some(seconds) => Some(soak(&log, &auto, seconds.get())?),
        None => None,
    };
    let report = BenchReport {
        heptaview_version: env!("CARGO_PKG_VERSION"),
        unix_time_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine: Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(),
        },
        log: LogFacts {
            path: log_dir.display().to_string(),
            generated,
            cameras: cameras.len(),
            frames: off_report.frames.input,
            framesets: off_report.framesets.total,
        },
        intra_threads: base.session.intra_threads,
        detector: base.detector.model.to_string(),
        detector_workers: base.detector_workers.get(),
        classifier: if base.classify {
            base.classifier_model.to_string()
        } else {
            "off".to_owned()
        },
        keyframe_speedup: auto_report.throughput.framesets_per_s
            / off_report.throughput.framesets_per_s.max(f64::MIN_POSITIVE),
        keyframe_recall: keyframe_recall(&auto_detections, &off_detections),
        keyframes_off: figures(&off_report, off_alone, off_peak),
        keyframes_auto: figures(&auto_report, auto_alone, auto_peak),
        realtime,
        soak,
    };
    println!("{}", table(&report));
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(Failure::Runtime)?;
        eprintln!("json: {}", path.display());
    }
    Ok(())
}

type MeasuredReplay = (RunRecord, DetectionsByFrame, DetectedFrames, Option<f64>);

/// One replay at max speed, with what it detected and its peak memory.
fn measured_replay(
    log: &Arc<dyn LogReader>,
    config: &PipelineConfig,
    cameras: &[String],
    label: &str,
) -> Result<MeasuredReplay, Failure> {
    reset_peak_rss();
    let mut detections = DetectionsByFrame::default();
    let mut frames = DetectedFrames::new(cameras.to_vec());
    let report = replay_with_progress(
        log.clone(),
        &ReplayOptions::whole_log(config.clone()),
        crate::interrupt::run_control()?,
        label,
        &mut |set, _| {
            detections.record(set);
            frames.record(set);
        },
    )?;
    if report.stopped_early {
        return Err(Failure::Runtime(anyhow!("interrupted")));
    }
    Ok((report, detections, frames, peak_rss_mb()))
}

/// The part of a drive a paced run's steady-state latency leaves out.
const WARM_UP_NS: u64 = 1_000_000_000;

/// Frame-set latencies (ms) of a paced run, split at the end of its first second.
#[derive(Debug, Default)]
struct PacedLatencies {
    warm_up: Vec<f64>,
    steady: Vec<f64>,
}

/// One replay at recorded pace (`--speed 1`), with the latency of each frame set.
fn paced_replay(
    log: &Arc<dyn LogReader>,
    config: &PipelineConfig,
) -> Result<(RunRecord, PacedLatencies), Failure> {
    let options = ReplayOptions {
        speed: Speed::Factor(1.0),
        ..ReplayOptions::whole_log(config.clone())
    };
    let mut first_ns = None;
    let mut latencies = PacedLatencies::default();
    let report = replay_with_progress(
        log.clone(),
        &options,
        crate::interrupt::run_control()?,
        "keyframes auto, real time",
        &mut |set, _| {
            // Measured where the pipeline's own end-to-end histogram is: as
            // the finished set reaches the sinks.
            let latency_ms = set.first_arrival.elapsed().as_secs_f64() * 1e3;
            let first = *first_ns.get_or_insert(set.reference_ns);
            if set.reference_ns.saturating_sub(first) >= WARM_UP_NS {
                latencies.steady.push(latency_ms);
            } else {
                latencies.warm_up.push(latency_ms);
            }
        },
    )?;
    if report.stopped_early {
        return Err(Failure::Runtime(anyhow!("interrupted")));
    }
    Ok((report, latencies))
}

/// The `q` quantile (nearest rank) of `values`; `None` when empty.
fn percentile(values: &[f64], q: f64) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len().max(1));
    sorted.get(rank - 1).copied()
}

/// The rate frame sets come at: the cameras' median frame rate.
fn log_framesets_per_s(log: &dyn LogReader, cameras: &[String]) -> f64 {
    let mut rates: Vec<f64> = cameras
        .iter()
        .filter_map(|camera| {
            let t = log.timestamps_ns(camera).ok()?;
            let span_s = (*t.last()? - *t.first()?) as f64 / 1e9;
            (t.len() > 1 && span_s > 0.0).then(|| (t.len() - 1) as f64 / span_s)
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(0.0)
}

fn time_alone(
    log: &dyn LogReader,
    frames: &DetectedFrames,
    config: &PipelineConfig,
    label: &str,
) -> Result<Duration, Failure> {
    let bar = ProgressBar::new(frames.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!("{label} [{{bar:30}}] {{pos}}/{{len}} frames"))
            .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
            .progress_chars("=> "),
    );
    let time = onnxruntime_alone(log, frames, config, &mut |done| {
        bar.set_position(done as u64);
    })
    .map_err(|e| Failure::Runtime(e.into()))?;
    bar.finish_and_clear();
    Ok(time.total())
}

fn figures(report: &RunRecord, alone: Duration, peak_rss_mb: Option<f64>) -> ModeFigures {
    let alone_s = alone.as_secs_f64();
    let alone_fps = report.frames.input as f64 / alone_s.max(f64::MIN_POSITIVE);
    ModeFigures {
        framesets_per_s: report.throughput.framesets_per_s,
        frames_per_s: report.throughput.frames_per_s,
        wall_s: report.throughput.wall_s,
        latency_ms_p50: report.latency_ms.end_to_end.p50,
        latency_ms_p99: report.latency_ms.end_to_end.p99,
        stage_time_ms: report.latency_ms.stages.values().map(|s| s.mean).sum(),
        frames_processed: report.frames.processed,
        frames_skipped_keyframe: report.frames.skipped_keyframe,
        detector_calls: report.inference.detector_calls,
        classifier_calls: report.inference.classifier_calls,
        onnxruntime_alone_frames_per_s: alone_fps,
        onnxruntime_alone_s: alone_s,
        pipeline_efficiency: report.throughput.frames_per_s / alone_fps.max(f64::MIN_POSITIVE),
        peak_rss_mb,
    }
}

/// Replays back to back for `seconds`, sampling RSS once a second.
fn soak(log: &Arc<dyn LogReader>, config: &PipelineConfig, seconds: f64) -> Result<Soak, Failure> {
    reset_peak_rss();
    let started = Instant::now();
    let done = AtomicBool::new(false);
    let bar = ProgressBar::new(seconds.ceil() as u64);
    bar.set_style(
        ProgressStyle::with_template("soak [{bar:30}] {pos}/{len} s, {msg}")
            .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
            .progress_chars("=> "),
    );
    let (samples, ends) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let mut samples = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Some(rss) = rss_mb() {
                    let t = started.elapsed().as_secs_f64();
                    samples.push((t, rss));
                    bar.set_position(t as u64);
                    bar.set_message(format!("RSS {rss:.0} MB"));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        });
        let mut ends = Vec::new();
        let mut result = Ok(());
        while started.elapsed().as_secs_f64() < seconds && !crate::interrupt::interrupted() {
            let pass = crate::interrupt::run_control().and_then(|control| {
                heptaview_io::replay::replay(
                    log.clone(),
                    &ReplayOptions::whole_log(config.clone()),
                    control,
                    &mut |_, _| {},
                )
                .map_err(Failure::from)
            });
            if let Err(e) = pass {
                result = Err(e);
                break;
            }
            ends.push(rss_mb().unwrap_or(0.0));
        }
        done.store(true, Ordering::Relaxed);
        let samples = sampler.join().unwrap_or_default();
        result.map(|()| (samples, ends))
    })?;
    bar.finish_and_clear();
    if crate::interrupt::interrupted() {
        return Err(Failure::Runtime(anyhow!("interrupted")));
    }
    Ok(Soak {
        seconds: started.elapsed().as_secs_f64(),
        passes: ends.len() as u32,
        rss_after_first_pass_mb: ends.first().copied().unwrap_or(0.0),
        rss_after_last_pass_mb: ends.last().copied().unwrap_or(0.0),
        rss_mb: samples,
        peak_rss_mb: peak_rss_mb(),
    })
}

fn table(report: &BenchReport) -> String {
    let (off, auto) = (&report.keyframes_off, &report.keyframes_auto);
    let mut lines = vec![
        format!(
            "heptaview bench: {} ({} frames, {} frame sets, {} cameras); {} CPUs ({}), {} intra-op threads; detector {} x {}, classifier {}",
            report.log.path,
            report.log.frames,
            report.log.framesets,
            report.log.cameras,
            report.machine.cpus,
            report.machine.cpu_model,
            report.intra_threads,
            report.detector,
            report.detector_workers,
            report.classifier
        ),
        format!("{:<34}{:>16}{:>16}", "", "keyframes off", "keyframes auto"),
    ];
    let mut row = |name: &str, a: String, b: String| {
        lines.push(format!("{name:<34}{a:>16}{b:>16}"));
    };
    row(
        "frame sets/s",
        format!("{:.2}", off.framesets_per_s),
        format!("{:.2}", auto.framesets_per_s),
    );
    row(
        "frames/s",
        format!("{:.1}", off.frames_per_s),
        format!("{:.1}", auto.frames_per_s),
    );
    row(
        "latency p50 / p99 ms (queued)",
        format!("{:.0} / {:.0}", off.latency_ms_p50, off.latency_ms_p99),
        format!("{:.0} / {:.0}", auto.latency_ms_p50, auto.latency_ms_p99),
    );
    row(
        "stage time per frame set ms",
        format!("{:.0}", off.stage_time_ms),
        format!("{:.0}", auto.stage_time_ms),
    );
    row(
        "frames detected / skipped",
        format!("{} / {}", off.frames_processed, off.frames_skipped_keyframe),
        format!(
            "{} / {}",
            auto.frames_processed, auto.frames_skipped_keyframe
        ),
    );
    row(
        "detector / classifier calls",
        format!("{} / {}", off.detector_calls, off.classifier_calls),
        format!("{} / {}", auto.detector_calls, auto.classifier_calls),
    );
    row(
        "ONNX Runtime alone frames/s",
        format!("{:.1}", off.onnxruntime_alone_frames_per_s),
        format!("{:.1}", auto.onnxruntime_alone_frames_per_s),
    );
    row(
        "pipeline_efficiency (>= 0.9)",
        format!("{:.3}", off.pipeline_efficiency),
        format!("{:.3}", auto.pipeline_efficiency),
    );
    let mb = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    row("peak RSS MB", mb(off.peak_rss_mb), mb(auto.peak_rss_mb));
    lines.push(format!(
        "keyframe_speedup {:.2} (>= 2), keyframe_recall {} (>= 0.95)",
        report.keyframe_speedup,
        report
            .keyframe_recall
            .map_or("- (nothing detected)".to_owned(), |r| format!("{r:.3}"))
    ));
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}"));
    if let Some(realtime) = &report.realtime {
        lines.push(format!(
            "realtime_factor {:.2} (>= 1: {:.2} frame sets/s sustained, the log has {:.2}); at recorded pace: latency camera to decision p50 {:.0} ms, p99 {:.0} ms (<= 250); after the first second p50 {} ms, p99 {} ms; first decision after {} ms, worst in the first second {} ms; {} frames dropped",
            realtime.realtime_factor,
            realtime.sustained_framesets_per_s,
            realtime.log_framesets_per_s,
            realtime.paced_latency_ms_p50,
            realtime.paced_latency_ms_p99,
            ms(realtime.steady_latency_ms_p50),
            ms(realtime.steady_latency_ms_p99),
            ms(realtime.first_decision_ms),
            ms(realtime.warm_up_latency_ms_max),
            realtime.paced_dropped
        ));
    }
    if let Some(soak) = &report.soak {
        lines.push(format!(
            "soak: {} passes in {:.0} s; RSS {:.0} MB after the first, {:.0} MB after the last (peak {})",
            soak.passes,
            soak.seconds,
            soak.rss_after_first_pass_mb,
            soak.rss_after_last_pass_mb,
            mb(soak.peak_rss_mb)
        ));
    }
    lines.join("\n")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// A `/proc/self/status` field in MB (Linux).
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn rss_mb() -> Option<f64> {
    status_mb("VmRSS:")
}

fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// Starts a new peak (Linux ≥ 4.0); elsewhere the peak is the process's.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
