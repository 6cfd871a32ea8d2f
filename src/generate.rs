//! `heptaview generate`: write a generated seven-camera drive.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, anyhow};
use heptaview_calibration::Rig;
use heptaview_datasets::DatasetError;
use heptaview_datasets::generator::{GenerateOptions, GenerateSummary, Generator, SCENARIOS};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario: clear_road, pedestrian_crossing, lead_vehicle_braking,
    /// cut_in, overtaking_left or urban_mixed.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(SCENARIOS))]
    scenario: String,
    /// Log folder to create (it must not exist yet).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Width in pixels of the widest camera image (AV2 native: 2048).
    #[arg(long, default_value_t = 640, value_name = "PX")]
    width: u32,
    /// Frames per second per camera.
    #[arg(long, default_value_t = 10.0, value_name = "F")]
    fps: f64,
    /// Length of the drive in seconds [default: the scenario's own].
    #[arg(long, value_name = "S")]
    seconds: Option<f64>,
    /// Seed: the same seed gives byte-identical output.
    #[arg(long, default_value_t = 1, value_name = "N")]
    seed: u64,
    /// Rig file (TOML, see calibration/rigs/) of 1 to 12 cameras to render
    /// through [default: Argoverse 2's seven ring cameras]. Shipped:
    /// argoverse2.toml, nuscenes.toml (6), front3.toml (3), surround12.toml (12).
    #[arg(long, value_name = "FILE")]
    rig: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let rig = args
        .rig
        .as_deref()
        .map(|path| {
            Rig::load(path)
                .with_context(|| format!("cannot use rig file {}", path.display()))
                .map_err(Failure::BadInput)
        })
        .transpose()?;
    let options = GenerateOptions {
        scenario: args.scenario.clone(),
        out: args.out.clone(),
        width_px: args.width,
        fps: args.fps,
        seconds: args.seconds,
        seed: args.seed,
        jpeg_quality: 90,
        rig,
    };
    generate_with_progress(options).map(|_| ())
}

/// Generates a drive with a progress bar, then prints what was written.
pub fn generate_with_progress(options: GenerateOptions) -> Result<GenerateSummary, Failure> {
    let started = Instant::now();
    let (scenario, fps, out) = (options.scenario.clone(), options.fps, options.out.clone());
    let generator = Generator::new(options).map_err(classify)?;
    let bar = ProgressBar::new(generator.frame_count() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} frame sets {per_sec} eta {eta}",
        )
        .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?
        .progress_chars("=> "),
    );
    bar.set_prefix(scenario);
    let summary = generator
        .write(&mut |done, _| bar.set_position(done as u64))
        .map_err(classify)?;
    bar.finish_and_clear();
    println!(
        "{}: {} frame sets ({:.1} s at {} fps), {} images ({:.1} MB), {} annotations -> {} in {:.1} s",
        summary.scenario,
        summary.framesets,
        summary.seconds,
        fps,
        summary.images,
        summary.image_bytes as f64 / 1e6,
        summary.annotations,
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(summary)
}

/// Bad options are the user's to fix (exit 2); the rest are runtime failures.
fn classify(error: DatasetError) -> Failure {
    match error {
        DatasetError::Scenario { .. } => Failure::BadInput(error.into()),
        other => Failure::Runtime(other.into()),
    }
}
