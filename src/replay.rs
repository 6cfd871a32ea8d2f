//! `heptaview replay`: a recorded drive (AV2, nuScenes, ROS 2 bag) through the pipeline.

use std::path::PathBuf;

use anyhow::anyhow;
use heptaview_datasets::OpenOptions;
use heptaview_io::replay::{ReplayOptions, Speed};
use heptaview_io::sinks::rerun::RerunTarget;
use heptaview_perception::config::PipelineConfig;

use crate::Failure;
use heptaview_models::units::Positive;

use crate::args::KeyframesArg;
use crate::session::{Plan, run_plan};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The drive: an Argoverse 2 log folder (sensors/cameras/, calibration/,
    /// city_SE3_egovehicle.feather), a nuScenes root (v1.0-*/ tables,
    /// samples/, sweeps/; pick the scene with --scene), or a ROS 2 bag
    /// (a .mcap file, or the folder `ros2 bag record -s mcap` writes).
    #[arg(
        value_name = "LOG_DIR",
        required_unless_present = "logs",
        conflicts_with = "logs"
    )]
    log: Option<PathBuf>,
    /// nuScenes: the scene to replay (`scene.name`, e.g. scene-0061);
    /// required when the root holds more than one.
    #[arg(long, value_name = "NAME")]
    scene: Option<String>,
    /// ROS 2 bags: a TOML file saying which topics are which cameras (and
    /// the ego/world frames, an odometry topic) [default: every
    /// sensor_msgs/msg/CompressedImage topic, named after its topic].
    #[arg(long, value_name = "FILE")]
    topics: Option<PathBuf>,
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
    #[arg(long, value_enum)]
    keyframes: Option<KeyframesArg>,
    /// Detector calls per second of stream time, all cameras together.
    #[arg(long, value_name = "CALLS_PER_S")]
    budget: Option<Positive>,
    /// Rerun output: `off`, `save:PATH.rrd`, `spawn` (a new viewer), or
    /// `connect[:URL]` (a running viewer; default rerun+http://127.0.0.1:9876/proxy).
    #[arg(long, default_value = "off", value_name = "TARGET")]
    rerun: RerunTarget,
    /// Most images per camera per second of sensor time sent to Rerun (for
    /// long runs: the viewer keeps images in memory) [default: every image].
    #[arg(long, value_name = "HZ")]
    rerun_image_rate: Option<Positive>,
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

fn open_options(args: &Args) -> OpenOptions {
    OpenOptions {
        scene: args.scene.clone(),
        topic_map: args.topics.clone(),
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

pub fn run(args: &Args) -> Result<(), Failure> {
    let mut config = match &args.config {
        Some(path) => PipelineConfig::load(path).map_err(Failure::from)?,
        None => PipelineConfig::default(),
    };
    if let Some(keyframes) = args.keyframes {
        config.compress.keyframes = keyframes.into();
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
        return crate::shard::run(list, shard, out, &options, &open_options(args), args.eval);
    }
    let Some(log) = &args.log else {
        return Err(Failure::BadInput(anyhow!(
            "give LOG_DIR or --logs LIST_FILE"
        )));
    };
    let plan = Plan {
        log: log.clone(),
        open: open_options(args),
        options,
        rerun: args.rerun.clone(),
        eval: args.eval,
        keyframe_recall_pass: true,
        report: args.report.clone(),
        detections: args.detections.clone(),
    };
    run_plan(&plan).map(|_| ())
}
