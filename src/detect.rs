//! `heptaview detect`: detection and classification of image files.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, anyhow};
use heptaview_models::attributes::{Attributes, attributes};
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::{Detector, DetectorConfig, image_size};
use heptaview_models::{ExecutionProvider, SessionConfig};
use opencv::imgcodecs;
use opencv::prelude::*;
use serde_json::json;

use heptaview_models::units::UnitInterval;

use crate::Failure;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Image files (anything OpenCV decodes: JPEG, PNG, ...).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
    /// One JSON object per line per image instead of a table.
    #[arg(long)]
    json: bool,
    /// Minimum detection score.
    #[arg(long, default_value_t = DetectorConfig::default().score_threshold, value_name = "S")]
    threshold: UnitInterval,
    /// Keep every COCO class, not only the driving ones.
    #[arg(long)]
    all_classes: bool,
    /// ONNX Runtime intra-op threads [default: all cores].
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Execution providers to try in order (cpu, cuda, tensorrt); those the
    /// ONNX Runtime library lacks are skipped with a warning, CPU is always last.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "LIST",
        default_value = "cpu"
    )]
    execution_providers: Vec<String>,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let mut session = SessionConfig::default();
    if let Some(threads) = args.threads {
        session.intra_threads = threads;
    }
    session.execution_providers = args
        .execution_providers
        .iter()
        .map(|name| match name.as_str() {
            "cpu" => Ok(ExecutionProvider::Cpu),
            "cuda" => Ok(ExecutionProvider::Cuda),
            "tensorrt" => Ok(ExecutionProvider::Tensorrt),
            other => Err(Failure::BadInput(anyhow!(
                "unknown execution provider `{other}` (known: cpu, cuda, tensorrt)"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let config = DetectorConfig {
        score_threshold: args.threshold,
        classes: if args.all_classes {
            Vec::new()
        } else {
            DetectorConfig::default().classes
        },
        ..DetectorConfig::default()
    };
    let mut detector = Detector::shipped(&session, config)
        .context("loading the detector")
        .map_err(Failure::Runtime)?;
    let mut classifier = Classifier::shipped(&session, 5)
        .context("loading the classifier")
        .map_err(Failure::Runtime)?;

    let mut failed = 0;
    for path in &args.images {
        match detect_one(&mut detector, &mut classifier, path, args.json) {
            Ok(()) => {}
            Err(error) => {
                failed += 1;
                eprintln!("error: {error:#}");
            }
        }
    }
    if failed > 0 {
        return Err(Failure::Reported(2));
    }
    Ok(())
}

fn detect_one(
    detector: &mut Detector,
    classifier: &mut Classifier,
    path: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let path_text = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read image {path_text}"))?;
    let image = imgcodecs::imdecode(
        &opencv::core::Vector::<u8>::from_slice(&bytes),
        imgcodecs::IMREAD_COLOR,
    )
    .with_context(|| format!("cannot decode image {path_text}"))?;
    if image.empty() {
        return Err(anyhow!(
            "cannot decode image {path_text}: not an image format OpenCV reads"
        ));
    }
    let (detections, timings) = detector
        .detect(&image)
        .with_context(|| format!("detecting in {path_text}"))?;
    let started = Instant::now();
    let attributes = attributes(classifier, &image, &detections, [1.0, 1.0])
        .with_context(|| format!("classifying crops of {path_text}"))?;
    let classify = started.elapsed();
    let (width, height) = image_size(&image);
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    if json {
        let objects: Vec<_> = detections
            .iter()
            .zip(&attributes)
            .map(|(d, a)| {
                json!({
                    "class": d.class,
                    "class_id": d.class_id,
                    "score": round(d.score, 4),
                    "box": d.bbox.map(|v| round(v, 1)),
                    "subtype": a.subtype.map(|s| s.name()),
                    "subtype_score": a.subtype_score.map(|s| round(s, 4)),
                    "state": a.state,
                    "top_labels": a.top.iter().map(|l| json!({"label": l.label, "score": round(l.score, 4)})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let line = json!({
            "image": path_text,
            "width": width,
            "height": height,
            "detections": objects,
            "timing_ms": {
                "preprocess": ms(timings.preprocess),
                "inference": ms(timings.inference),
                "decode": ms(timings.decode),
                "classify": ms(classify),
            },
        });
        println!("{line}");
    } else {
        print_table(&path_text, width, height, &detections, &attributes);
        println!(
            "  time: preprocess {:.1} ms, inference {:.1} ms, decode+NMS {:.1} ms, classify {:.1} ms",
            ms(timings.preprocess),
            ms(timings.inference),
            ms(timings.decode),
            ms(classify)
        );
    }
    Ok(())
}

fn round(value: f32, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (f64::from(value) * k).round() / k
}

fn print_table(
    path: &str,
    width: usize,
    height: usize,
    detections: &[heptaview_models::detector::Detection],
    attributes: &[Attributes],
) {
    println!("{path} ({width}x{height}): {} objects", detections.len());
    if detections.is_empty() {
        return;
    }
    println!(
        "  {:<14} {:>5}  {:<26} {:<24}",
        "class", "score", "box x1,y1,x2,y2", "subtype / state"
    );
    for (d, a) in detections.iter().zip(attributes) {
        let detail = match (a.subtype, a.subtype_score, a.state) {
            (Some(subtype), Some(score), _) => format!("{} {:.2}", subtype.name(), score),
            (_, _, Some(state)) => format!("{state:?}").to_lowercase(),
            _ => String::new(),
        };
        println!(
            "  {:<14} {:>5.2}  {:<26} {:<24}",
            d.class,
            d.score,
            format!(
                "{:.0},{:.0},{:.0},{:.0}",
                d.bbox[0], d.bbox[1], d.bbox[2], d.bbox[3]
            ),
            detail
        );
    }
}
