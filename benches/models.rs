//! Detector stages per image on the fixture photos: preprocess (letterbox +
//! normalisation), inference (ONNX Runtime), decode + NMS; and the classifier
//! on a frame's vehicle crops. Each stage is timed inside one full detection
//! (`iter_custom`), so the three add up to a real call.
//!
//! Target (issue 4): preprocess + decode + NMS ≤ 10% of inference. The ratio
//! is printed at the end, measured in this run.

// A benchmark that cannot load its models has nothing to measure: fail loudly.
#![allow(clippy::expect_used, clippy::panic)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use heptaview_models::SessionConfig;
use heptaview_models::attributes::attributes;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::{DetectTimings, Detector, DetectorConfig};
use opencv::core::Mat;

const FIXTURES: [&str; 4] = [
    "bus.jpg",
    "zidane.jpg",
    "darknet_dog.jpg",
    "ocv_scenetext01.jpg",
];

fn images() -> Vec<(String, Mat)> {
    FIXTURES
        .iter()
        .map(|name| {
            let path = format!(
                "{}/tests/fixtures/images/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let image = opencv::imgcodecs::imread(&path, opencv::imgcodecs::IMREAD_COLOR)
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            ((*name).to_owned(), image)
        })
        .collect()
}

fn stage_bench(c: &mut Criterion) {
    let session = SessionConfig::default();
    let mut detector = Detector::shipped(&session, DetectorConfig::default()).expect("detector");
    let mut classifier = Classifier::shipped(&session, 5).expect("classifier");
    let images = images();
    let mut totals = DetectTimings::default();
    let mut calls = 0u32;

    type Stage = fn(&DetectTimings) -> Duration;
    let stages: [(&str, Stage); 3] = [
        ("preprocess", |t| t.preprocess),
        ("inference", |t| t.inference),
        ("decode_nms", |t| t.decode),
    ];
    for (stage, pick) in stages {
        let mut group = c.benchmark_group(format!("detector/{stage}"));
        group
            .sample_size(10)
            .measurement_time(Duration::from_secs(4));
        for (name, image) in &images {
            group.bench_function(name.as_str(), |b| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    for _ in 0..iters {
                        let (_, timings) = detector.detect(image).expect("detect");
                        spent += pick(&timings);
                        totals.preprocess += timings.preprocess;
                        totals.inference += timings.inference;
                        totals.decode += timings.decode;
                        calls += 1;
                    }
                    spent
                });
            });
        }
        group.finish();
    }

    let mut group = c.benchmark_group("classifier");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for (name, image) in &images {
        let (detections, _) = detector.detect(image).expect("detect");
        group.bench_function(name.as_str(), |b| {
            b.iter(|| {
                attributes(&mut classifier, image, &detections, [1.0, 1.0]).expect("classify")
            });
        });
    }
    group.finish();

    let overhead = (totals.preprocess + totals.decode).as_secs_f64();
    let inference = totals.inference.as_secs_f64();
    println!(
        "\nover {calls} detections: preprocess {:.2} ms, inference {:.2} ms, decode+NMS {:.2} ms per image; \
         (preprocess + decode + NMS) / inference = {:.3} (target <= 0.10)",
        totals.preprocess.as_secs_f64() * 1e3 / f64::from(calls),
        inference * 1e3 / f64::from(calls),
        totals.decode.as_secs_f64() * 1e3 / f64::from(calls),
        overhead / inference
    );
}

criterion_group!(benches, stage_bench);
criterion_main!(benches);
