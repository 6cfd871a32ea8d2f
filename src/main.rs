//! `heptaview`: the command-line front end of the seven-camera pipeline.

mod args;
mod bench;
mod bench_reference;
mod camera_node;
mod config;
mod demo;
mod detect;
mod generate;
mod interrupt;
mod live;
mod replay;
mod report_merge;
mod self_check;
mod session;
mod shard;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Seven synchronised camera streams, compressed, detected, fused and decided on.
///
/// heptaview runs the seven ring cameras of an Argoverse 2 car through
/// spatial and temporal compression, ONNX detection and classification,
/// calibration-aware fusion and tracking, and a planning decision, all logged
/// to the Rerun visual debugger.
///
/// ONNX Runtime is loaded at run time from ORT_DYLIB_PATH or the project's
/// .deps/onnxruntime/ (scripts/setup.sh installs it). Logging: HEPTAVIEW_LOG
/// (e.g. HEPTAVIEW_LOG=debug).
#[derive(Debug, Parser)]
#[command(name = "heptaview", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check this installation: load and validate a camera rig, report its
    /// geometry (fields of view, overlaps, horizon, ground projection), and
    /// find and load ONNX Runtime, OpenCV and the Rerun SDK.
    SelfCheck {
        /// Rig file (TOML) to check instead of the built-in Argoverse 2 rig.
        #[arg(long, value_name = "FILE")]
        rig: Option<PathBuf>,
        /// Also check the rig scaled so that its widest camera is this many pixels wide.
        #[arg(long, value_name = "PX")]
        width: Option<u32>,
    },
    /// Generate a seven-camera drive with ground truth, in the Argoverse 2
    /// layout: the AV2 ring cameras (scaled to --width) look at one world of
    /// road, buildings and real-photo objects (cars, a bus, a van, a bicycle,
    /// pedestrians). Writes JPEGs, calibration, ego poses, annotation cuboids
    /// and scenario.toml (the expected planning decisions over time).
    Generate(generate::Args),
    /// Detect and classify objects in image files with the shipped models
    /// (NanoDet-m, then EfficientNet-Lite0 on vehicle crops for the subtype;
    /// traffic lights get a lamp state from colour). Boxes are in source pixels.
    Detect(detect::Args),
    /// Replay a recorded drive (an Argoverse 2 log, a nuScenes scene or a
    /// ROS 2 bag; 1 to 12 cameras) through the pipeline: sync, compression (key frames), detection, classification,
    /// fusion and tracking, planning; prints a summary, and writes a JSON
    /// report, a Rerun recording and an evaluation against ground truth as asked.
    Replay(replay::Args),
    /// Live cameras through the pipeline: one capture thread per camera
    /// (anything OpenCV's VideoCapture opens), latest-wins queues, partial
    /// frame sets at the deadline, cameras that fail marked down and reopened;
    /// prints a summary and writes a JSON report.
    Live(live::Args),
    /// A camera computer: open cameras as live mode does and publish every
    /// frame's JPEG bytes on Zenoh (heptaview/<vehicle>/cams/<camera>/jpeg),
    /// with sensor timestamp and sequence number, for `live --source zenoh`.
    CameraNode(camera_node::Args),
    /// The main job on the embedded default: generate the urban_mixed drive
    /// (once, into demo/), replay it with evaluation, write demo/demo.rrd and
    /// demo/report.json, and say how to open the recording.
    Demo(demo::Args),
    /// Print the configuration: every stage parameter with its default and
    /// what it does (a starting point for `replay --config FILE`).
    Config(config::Args),
    /// Measure throughput and latency with key frames off and auto, against
    /// ONNX Runtime alone running the same model calls (pipeline_efficiency),
    /// the key-frame speed-up and recall, and peak memory; on a generated
    /// urban_mixed drive unless a log is given.
    Bench(bench::Args),
    /// Work with run reports: `report merge DIR` combines the reports of
    /// many runs (e.g. the shards of `replay --logs`) into one.
    #[command(subcommand)]
    Report(report_merge::Command),
}

/// Exit codes of the design: 0 success, 1 runtime failure, 2 bad usage or bad input.
#[derive(Debug)]
pub enum Failure {
    Runtime(anyhow::Error),
    BadInput(anyhow::Error),
    /// Already reported on stderr; exit with this code.
    Reported(u8),
}

impl From<heptaview_perception::PipelineError> for Failure {
    fn from(error: heptaview_perception::PipelineError) -> Self {
        match error {
            heptaview_perception::PipelineError::Config(_) => Failure::BadInput(error.into()),
            other => Failure::Runtime(other.into()),
        }
    }
}

impl From<heptaview_datasets::DatasetError> for Failure {
    fn from(error: heptaview_datasets::DatasetError) -> Self {
        Failure::BadInput(error.into())
    }
}

impl From<heptaview_io::IoError> for Failure {
    fn from(error: heptaview_io::IoError) -> Self {
        match error {
            heptaview_io::IoError::Pipeline(e) => e.into(),
            heptaview_io::IoError::Dataset(e) => e.into(),
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("HEPTAVIEW_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::SelfCheck { rig, width } => self_check::run(rig.as_deref(), width),
        Command::Generate(args) => generate::run(&args),
        Command::Detect(args) => detect::run(&args),
        Command::Replay(args) => replay::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Live(args) => live::run(&args),
        Command::CameraNode(args) => camera_node::run(&args),
        Command::Config(args) => config::run(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Report(command) => report_merge::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
        Err(Failure::Reported(code)) => ExitCode::from(code),
    }
}
