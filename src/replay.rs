//! `heptaview replay`: a recorded seven-camera log through the pipeline.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use heptaview_pipeline::PipelineError;
use heptaview_pipeline::replay::{PipelineConfig, ReplayOptions, Speed, replay};
use heptaview_pipeline::runtime::Control;
use heptaview_pipeline::stages::compress::KeyframeMode;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An Argoverse 2 log folder (sensors/cameras/, calibration/, city_SE3_egovehicle.feather).
    #[arg(value_name = "LOG_DIR")]
    log: PathBuf,
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
    /// `auto`: detect only frames that changed (or every 500 ms); `off`: every frame.
    #[arg(long, default_value = "auto", value_parser = ["auto", "off"])]
    keyframes: String,
    /// Detector calls per second of stream time, all cameras together.
    #[arg(long, value_name = "CALLS_PER_S")]
    budget: Option<f64>,
    /// Rerun output: only `off` until the Rerun sink lands.
    #[arg(long, default_value = "off", value_parser = ["off"])]
    rerun: String,
    /// Write the JSON run report here.
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
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
    let mut config = PipelineConfig::default();
    config.compress.keyframes = if args.keyframes == "off" {
        KeyframeMode::Off
    } else {
        KeyframeMode::Auto
    };
    config.compress.budget_calls_per_s = args.budget;
    let options = ReplayOptions {
        speed: args.speed.0,
        start_s: args.start,
        end_s: args.end,
        cameras: args.cameras.clone(),
        config,
    };
    let control = Arc::new(Control::default());
    let on_interrupt = control.clone();
    // A second Ctrl-C while draining is left to the default handler's absence: the run still finishes.
    ctrlc::set_handler(move || on_interrupt.request_stop())
        .map_err(|e| Failure::Runtime(anyhow!("cannot install the Ctrl-C handler: {e}")))?;

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("replay [{bar:30}] {pos}/{len} frames {per_sec} eta {eta}")
            .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
            .progress_chars("=> "),
    );
    let result = replay(&args.log, &options, control, &mut |_, progress| {
        bar.set_length(progress.frames_total);
        bar.set_position(progress.frames_done);
    });
    bar.finish_and_clear();
    let report = result.map_err(|error| match error {
        PipelineError::Dataset(_) | PipelineError::Config(_) => Failure::BadInput(error.into()),
        other => Failure::Runtime(other.into()),
    })?;
    eprintln!("{}", report.summary());
    if let Some(path) = &args.report {
        let json = serde_json::to_string_pretty(&report).map_err(|e| Failure::Runtime(e.into()))?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write report {}", path.display()))
            .map_err(Failure::Runtime)?;
        eprintln!("report: {}", path.display());
    }
    Ok(())
}
