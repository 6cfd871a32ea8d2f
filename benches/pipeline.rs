//! Pipeline efficiency (issue 5): the pipeline's throughput at max speed with
//! every frame detected, against ONNX Runtime alone running the same model
//! calls (detector on every frame, classifier on the same vehicle crops)
//! on the same inputs with the same thread budget, both measured in this run.
//!
//!     cargo bench --bench pipeline [-- --width PX --seconds S --json PATH]
//!
//! Prints `pipeline_efficiency` = pipeline frames/s ÷ ONNX-Runtime-alone
//! frames/s (target ≥ 0.9) and writes it to a JSON file when asked.

#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use heptaview_datasets::av2::Av2Log;
use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_models::attributes::attributes;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::Detector;
use heptaview_pipeline::replay::{PipelineConfig, ReplayOptions, replay};
use heptaview_pipeline::runtime::Control;
use heptaview_pipeline::stages::compress::{KeyframeMode, jpeg_dimensions, reduced_decode_flag};

fn argument(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let width: u32 = argument("--width").map_or(640, |w| w.parse().expect("--width"));
    let seconds: f64 = argument("--seconds").map_or(3.0, |s| s.parse().expect("--seconds"));
    let dir = tempfile::tempdir().expect("temp dir");
    let log_dir = dir.path().join("urban_mixed");
    let options = GenerateOptions {
        width_px: width,
        seconds: Some(seconds),
        ..GenerateOptions::new("urban_mixed", &log_dir)
    };
    generate(options, &mut |_, _| {}).expect("generate");

    let mut config = PipelineConfig::default();
    config.compress.keyframes = KeyframeMode::Off;
    let session = config.session.clone();

    // The pipeline, every frame detected.
    let replay_options = ReplayOptions::whole_log(config.clone());
    let report = replay(
        &log_dir,
        &replay_options,
        Arc::new(Control::default()),
        &mut |_, _| {},
    )
    .expect("replay");
    let pipeline_fps = report.throughput.frames_per_s;

    // ONNX Runtime alone: the same frames, decoded and letterboxed outside the
    // clock, then only the model calls timed, one after another.
    let log = Av2Log::open(&log_dir).expect("open log");
    let mut detector = Detector::shipped(&session, config.detector.clone()).expect("detector");
    let mut classifier = Classifier::shipped(&session, 5).expect("classifier");
    let mut model_time = Duration::ZERO;
    let mut frames = 0u64;
    for camera in log.cameras() {
        for &t in camera.timestamps_ns() {
            let jpeg = log.read_jpeg(camera.name(), t).expect("jpeg");
            let native_width = jpeg_dimensions(&jpeg).map_or(0, |(w, _)| w);
            let input_width = detector.model().manifest().input.width() as u32;
            let flag = reduced_decode_flag(native_width, input_width);
            let image = log.decode(camera.name(), t, flag).expect("decode");
            let (detections, timings) = detector.detect(&image).expect("detect");
            let started = Instant::now();
            attributes(&mut classifier, &image, &detections, [1.0, 1.0]).expect("classify");
            model_time += timings.inference + started.elapsed();
            frames += 1;
        }
    }
    let alone_fps = frames as f64 / model_time.as_secs_f64();
    let efficiency = pipeline_fps / alone_fps;
    println!(
        "{} frames of a generated urban_mixed log ({width} px, {seconds} s), keyframes off, {} intra-op threads:\n\
         pipeline              {:7.2} frames/s ({:.2} framesets/s, wall {:.1} s)\n\
         ONNX Runtime alone    {:7.2} frames/s (detector + classifier calls only)\n\
         pipeline_efficiency   {:7.3} (target >= 0.9)",
        report.frames.input,
        session.intra_threads,
        pipeline_fps,
        report.throughput.framesets_per_s,
        report.throughput.wall_s,
        alone_fps,
        efficiency
    );
    if let Some(path) = argument("--json") {
        let json = serde_json::json!({
            "pipeline_frames_per_s": pipeline_fps,
            "onnxruntime_alone_frames_per_s": alone_fps,
            "pipeline_efficiency": efficiency,
            "frames": report.frames.input,
            "width_px": width,
            "intra_threads": session.intra_threads,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&json).expect("json"))
            .expect("write json");
    }
}
