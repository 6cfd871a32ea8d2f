//! `heptaview replay`: a recorded seven-camera log through the pipeline.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use heptaview_datasets::av2::Av2Log;
use heptaview_eval::Evaluator;
use heptaview_eval::keyframes::{DetectionsByFrame, keyframe_recall};
use heptaview_eval::report::Report;
use heptaview_io::replay::ReplayOptions;
use heptaview_io::replay::Speed;
use heptaview_io::replay::replay;
use heptaview_io::replay::selected_cameras;
use heptaview_io::replay::selected_rig;
use heptaview_io::sinks::detections::DetectionsFile;
use heptaview_io::sinks::rerun::{RerunSink, RerunTarget};
use heptaview_perception::chain::Progress;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::stages::compress::KeyframeMode;
use heptaview_perception::types::FrameSet;
use heptaview_runtime::threads::Control;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An Argoverse 2 log folder (sensors/cameras/, calibration/, city_SE3_egovehicle.feather).
    #[arg(
        value_name = "LOG_DIR",
        required_unless_present = "logs",
        conflicts_with = "logs"
    )]
    log: Option<PathBuf>,
    /// Many logs: a file naming one log folder per line (relative to the
    /// file's folder; blank lines and `#` comments skipped). Each log of this
    /// process's share (--shard) is replayed on its own, as LOG_DIR would be,
    /// with its report in --out.
    #[arg(
        long,
        value_name = "LIST_FILE",
        requires = "out",
        conflicts_with_all = ["report", "detections"]
    )]
    logs: Option<PathBuf>,
    /// I/N: replay the logs at positions I, I+N, I+2N, ... of the list
    /// (0-based; a Kubernetes Indexed Job's completion index is I) [default: 0/1].
    #[arg(long, value_name = "I/N", requires = "logs", value_parser = crate::shard::parse_shard)]
    shard: Option<crate::shard::Shard>,
    /// Folder for the reports of --logs, one per log (created if missing);
    /// `heptaview report merge DIR` combines them.
    #[arg(long, value_name = "DIR", requires = "logs")]
    out: Option<PathBuf>,
    /// `max`, or a multiple of recorded time (1 = real time).
    #[arg(long, default_value = "max", value_parser = parse_speed)]
    speed: SpeedArg,
    /// Start this many seconds after the log's first image.
    #[arg(long, value_name = "S")]
    start: Option<f64>,
    /// Stop this many seconds after the log's first image.
    #[arg(long, value_name = "S")]
    end: Option<f64>,
    /// Comma-separated camera names [default: all of the log's].
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    cameras: Option<Vec<String>>,
    /// `auto`: detect only frames that changed (or every 500 ms); `off`:
    /// every frame [default: auto, or the configuration's].
    #[arg(long, value_parser = ["auto", "off"])]
    keyframes: Option<String>,
    /// Detector calls per second of stream time, all cameras together.
    #[arg(long, value_name = "CALLS_PER_S", value_parser = positive)]
    budget: Option<f64>,
    /// Rerun output: `off`, `save:PATH.rrd`, `spawn` (a new viewer), or
    /// `connect[:URL]` (a running viewer; default rerun+http://127.0.0.1:9876/proxy).
    #[arg(long, default_value = "off", value_name = "TARGET")]
    rerun: RerunTarget,
    /// Most images per camera per second of sensor time sent to Rerun (for
    /// long runs: the viewer keeps images in memory) [default: every image].
    #[arg(long, value_name = "HZ", value_parser = positive)]
    rerun_image_rate: Option<f64>,
    /// Write the JSON run report here.
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Write every detected frame's detections here, one JSON line per frame
    /// (camera, timestamp_ns, boxes, classes, scores, attributes).
    #[arg(long, value_name = "PATH")]
    detections: Option<PathBuf>,
    /// Compare with the log's ground truth (annotations.feather, and the
    /// expected decisions of a generated drive's scenario.toml); with
    /// `--keyframes auto`, a second every-frame pass measures key-frame recall.
    #[arg(long)]
    eval: bool,
    /// Stage parameters (TOML; `heptaview config --print-default` shows them
    /// all); flags given here override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() && value > 0.0 => Ok(value),
        _ => Err(format!("`{text}` is not a positive number")),
    }
}

#[derive(Debug, Clone, Copy)]
struct SpeedArg(Speed);

fn parse_speed(text: &str) -> Result<SpeedArg, String> {
    if text == "max" {
        return Ok(SpeedArg(Speed::Max));
    }
    match text.parse::<f64>() {
        Ok(factor) if factor.is_finite() && factor > 0.0 => Ok(SpeedArg(Speed::Factor(factor))),
        _ => Err(format!("`{text}` is neither `max` nor a positive number")),
    }
}

/// One replay as the CLI runs it: the pipeline plus its sinks.
pub struct Plan {
    pub log: PathBuf,
    pub options: ReplayOptions,
    pub rerun: RerunTarget,
    pub eval: bool,
    /// With `eval` and key frames on: a second every-frame pass for key-frame recall.
    pub keyframe_recall_pass: bool,
    pub report: Option<PathBuf>,
    pub detections: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let mut config = match &args.config {
        Some(path) => PipelineConfig::load(path).map_err(bad_input)?,
        None => PipelineConfig::default(),
    };
    if let Some(keyframes) = &args.keyframes {
        config.compress.keyframes = if keyframes == "off" {
            KeyframeMode::Off
        } else {
            KeyframeMode::Auto
        };
    }
    if args.budget.is_some() {
        config.compress.budget_calls_per_s = args.budget;
    }
    if args.rerun_image_rate.is_some() {
        config.rerun.max_images_per_s = args.rerun_image_rate;
    }
    let options = ReplayOptions {
        speed: args.speed.0,
        start_s: args.start,
        end_s: args.end,
        cameras: args.cameras.clone(),
        config,
    };
    if let (Some(list), Some(out)) = (&args.logs, &args.out) {
        if args.rerun != RerunTarget::Off {
            return Err(Failure::BadInput(anyhow!(
                "--rerun cannot be used with --logs: replay a log on its own to record it"
            )));
        }
        let shard = args.shard.unwrap_or_default();
        return crate::shard::run(list, shard, out, &options, args.eval);
    }
    let Some(log) = &args.log else {
        return Err(Failure::BadInput(anyhow!(
            "give LOG_DIR or --logs LIST_FILE"
        )));
    };
    let plan = Plan {
        log: log.clone(),
        options,
        rerun: args.rerun.clone(),
        eval: args.eval,
        keyframe_recall_pass: true,
        report: args.report.clone(),
        detections: args.detections.clone(),
    };
    run_plan(&plan).map(|_| ())
}

/// Runs a plan: replay with a progress bar, the summary on stderr, then the
/// evaluation, the recording and the report as asked.
pub fn run_plan(plan: &Plan) -> Result<Report, Failure> {
    let options = &plan.options;
    // Ctrl-C stops the source; what is in flight drains, and the report and
    // recording are written for the part replayed.
    let control = crate::interrupt::run_control()?;

    let mut evaluator = if plan.eval {
        let log = Av2Log::open(&plan.log).map_err(|e| Failure::BadInput(e.into()))?;
        let cameras = selected_cameras(&log, options.cameras.as_deref()).map_err(bad_input)?;
        let evaluator = Evaluator::new(&log, &cameras).map_err(bad_input)?;
        if !evaluator.has_ground_truth() {
            eprintln!(
                "warning: {} has neither annotations.feather nor scenario.toml: nothing to evaluate",
                plan.log.display()
            );
        }
        Some(evaluator)
    } else {
        None
    };
    let mut sink = open_rerun(plan)?;
    let mut detections = match &plan.detections {
        Some(path) => {
            let log = Av2Log::open(&plan.log).map_err(|e| Failure::BadInput(e.into()))?;
            let cameras = selected_cameras(&log, options.cameras.as_deref()).map_err(bad_input)?;
            Some(DetectionsFile::create(path, cameras).map_err(bad_input)?)
        }
        None => None,
    };
    let mut detections_error = None;
    let mut with_keyframes = DetectionsByFrame::default();
    let mut report = replay_with_progress(
        &plan.log,
        options,
        control.clone(),
        "replay",
        &mut |set, progress| {
            if let Some(sink) = &mut sink {
                sink.log(set, progress);
            }
            if let Some(file) = &mut detections
                && detections_error.is_none()
            {
                detections_error = file.write(set).err();
            }
            if let Some(evaluator) = &mut evaluator {
                evaluator.observe(set);
                with_keyframes.record(set);
            }
        },
    )?;
    report.rerun = sink.map(RerunSink::finish);
    if let Some(error) = detections_error {
        return Err(Failure::Runtime(error.into()));
    }
    if let Some(file) = detections {
        file.finish().map_err(|e| Failure::Runtime(e.into()))?;
    }
    eprintln!("{}", report.summary());
    if let (Some(counts), RerunTarget::Save(path)) = (&report.rerun, &plan.rerun) {
        eprintln!(
            "rerun: {} images, {} boxes, {} tracks -> {} (open it with `rerun {}`)",
            counts.images,
            counts.boxes_2d,
            counts.tracks_3d,
            path.display(),
            path.display()
        );
    }

    if let Some(evaluator) = evaluator {
        let mut evaluation = evaluator.finish();
        let keyframes_on = options.config.compress.keyframes == KeyframeMode::Auto;
        if plan.keyframe_recall_pass && keyframes_on && !report.run.stopped_early {
            let mut every_frame_options = options.clone();
            every_frame_options.config.compress.keyframes = KeyframeMode::Off;
            let mut every_frame = DetectionsByFrame::default();
            replay_with_progress(
                &plan.log,
                &every_frame_options,
                control,
                "every-frame pass for key-frame recall",
                &mut |set, _| every_frame.record(set),
            )?;
            evaluation.keyframe_recall = keyframe_recall(&with_keyframes, &every_frame);
        }
        eprintln!("{}", evaluation.summary());
        report.eval = Some(evaluation);
    }
    if let Some(path) = &plan.report {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write report {}", path.display()))
            .map_err(Failure::Runtime)?;
        eprintln!("report: {}", path.display());
    }
    Ok(report)
}

/// The Rerun sink `--rerun` asks for, with the replayed cameras.
fn open_rerun(plan: &Plan) -> Result<Option<RerunSink>, Failure> {
    if plan.rerun == RerunTarget::Off {
        return Ok(None);
    }
    let log = Av2Log::open(&plan.log).map_err(|e| Failure::BadInput(e.into()))?;
    let cameras = selected_cameras(&log, plan.options.cameras.as_deref()).map_err(bad_input)?;
    let rig = selected_rig(&log, &cameras).map_err(bad_input)?;
    RerunSink::open(
        &plan.rerun,
        &rig,
        log.ground_truth(),
        plan.options.config.planner.clone(),
        &plan.options.config.rerun,
    )
    .map_err(bad_input)
}

/// A bad log or configuration exits with 2, anything else with 1.
pub fn bad_input(error: impl Into<Failure>) -> Failure {
    error.into()
}

/// One replay with a progress bar (rate and ETA) on stderr.
pub fn replay_with_progress(
    log: &Path,
    options: &ReplayOptions,
    control: Arc<Control>,
    label: &str,
    on_frameset: &mut dyn FnMut(&FrameSet, &Progress),
) -> Result<Report, Failure> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{label} [{{bar:30}}] {{pos}}/{{len}} frames {{per_sec}} eta {{eta}}"
        ))
        .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
        .progress_chars("=> "),
    );
    let result = replay(log, options, control, &mut |set, progress| {
        on_frameset(set, progress);
        bar.set_length(progress.frames_total);
        bar.set_position(progress.frames_done);
    });
    bar.finish_and_clear();
    result.map(Report::new).map_err(bad_input)
}
