//! `heptaview demo`: the main job on the embedded default data.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow};
use heptaview_datasets::OpenOptions;
use heptaview_datasets::generator::{GenerateOptions, Generator};
use heptaview_io::replay::ReplayOptions;
use heptaview_io::sinks::rerun::RerunTarget;
use heptaview_perception::config::PipelineConfig;
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;
use crate::session::{Plan, run_plan};

const SCENARIO: &str = "urban_mixed";
/// Modest enough to replay in well under two minutes on two cores.
const WIDTH_PX: u32 = 640;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the generated drive, the recording and the report.
    #[arg(long, default_value = "demo", value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))
        .map_err(Failure::Runtime)?;
    let log = args.out.join(SCENARIO);
    if !log.join("scenario.toml").exists() {
        generate(&log)?;
    } else {
        eprintln!(
            "demo: replaying {} (delete it to generate it again)",
            log.display()
        );
    }
    let recording = args.out.join("demo.rrd");
    let report_path = args.out.join("report.json");
    let plan = Plan {
        log,
        open: OpenOptions::default(),
        options: ReplayOptions::whole_log(PipelineConfig::default()),
        rerun: RerunTarget::Save(recording.clone()),
        eval: true,
        // The every-frame pass for key-frame recall would double the run.
        keyframe_recall_pass: false,
        report: Some(report_path),
        detections: None,
    };
    run_plan(&plan)?;
    let viewer = Path::new(".deps/venv/bin/rerun");
    let rerun = if viewer.exists() {
        viewer.display().to_string()
    } else {
        "rerun".to_owned()
    };
    eprintln!(
        "\nopen the recording: {rerun} {}   (the Rerun viewer, pip package rerun-sdk==0.36.3)",
        recording.display()
    );
    Ok(())
}

/// Writes the drive into a scratch folder first, so that an interrupted
/// generation is never mistaken for a finished one.
fn generate(log: &Path) -> Result<(), Failure> {
    let scratch = log.with_extension("partial");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("cannot remove {}", scratch.display()))
            .map_err(Failure::Runtime)?;
    }
    let options = GenerateOptions {
        width_px: WIDTH_PX,
        ..GenerateOptions::new(SCENARIO, &scratch)
    };
    let started = Instant::now();
    let generator = Generator::new(options).map_err(|e| Failure::Runtime(e.into()))?;
    let bar = ProgressBar::new(generator.frame_count() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "demo: generating urban_mixed [{bar:30}] {pos}/{len} frame sets eta {eta}",
        )
        .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
        .progress_chars("=> "),
    );
    generator
        .write(&mut |done, _| bar.set_position(done as u64))
        .map_err(|e| Failure::Runtime(e.into()))?;
    bar.finish_and_clear();
    std::fs::rename(&scratch, log)
        .with_context(|| format!("cannot rename {} to {}", scratch.display(), log.display()))
        .map_err(Failure::Runtime)?;
    eprintln!(
        "demo: generated {} ({} px wide) in {:.1} s",
        log.display(),
        WIDTH_PX,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
