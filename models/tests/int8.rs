//! The INT8 models (models/nanodet_int8.toml, models/efficientnet_lite0_int8.toml,
//! made by scripts/quantize_models.py) through the same loader as the FP32
//! ones: the Rust detector matches ONNX Runtime in Python on the INT8 file
//! (scripts/reference_models.py --detector nanodet_int8), and stays within
//! the quantization tolerance of the FP32 detector on real photographs that
//! were not in the calibration set.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use heptaview_models::classifier::Classifier;
use heptaview_models::detector::{Detection, Detector, DetectorConfig};
use heptaview_models::units::UnitInterval;
use heptaview_models::{ModelSession, SessionConfig};
use opencv::core::Mat;
use serde_json::Value;

const FIXTURES: [&str; 4] = [
    "bus.jpg",
    "zidane.jpg",
    "darknet_dog.jpg",
    "ocv_scenetext01.jpg",
];
const THRESHOLD: f32 = 0.35;
/// The quantization tolerance (issue 19): same class, IoU and score change.
const MIN_IOU: f32 = 0.9;
const MAX_SCORE_DELTA: f32 = 0.05;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn models() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/images").join(name)
}

fn image(name: &str) -> Mat {
    opencv::imgcodecs::imread(
        fixture(name).to_str().unwrap(),
        opencv::imgcodecs::IMREAD_COLOR,
    )
    .unwrap()
}

fn session() -> SessionConfig {
    SessionConfig {
        intra_threads: 2,
        ..SessionConfig::default()
    }
}

fn detector(manifest: &str, threshold: f32) -> Detector {
    let config = DetectorConfig {
        score_threshold: UnitInterval::new(threshold).unwrap(),
        ..DetectorConfig::default()
    };
    Detector::load(&models().join(manifest), &session(), config).unwrap()
}

/// scripts/reference_models.py on the INT8 manifests, one JSON object per photo.
fn python_reference() -> Vec<Value> {
    let python = root().join(".deps/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    let output = Command::new(python)
        .arg(root().join("scripts/reference_models.py"))
        .args(["--threshold", &THRESHOLD.to_string()])
        .args(["--detector", "nanodet_int8"])
        .args(["--classifier", "efficientnet_lite0_int8"])
        .args(FIXTURES.map(fixture))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = |r: &[f32; 4]| (r[2] - r[0]) * (r[3] - r[1]);
    w * h / (area(a) + area(b) - w * h)
}

fn as_box(value: &Value) -> [f32; 4] {
    let v: Vec<f32> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    [v[0], v[1], v[2], v[3]]
}

/// Every detection of `reference` at or above THRESHOLD has its own match in
/// `candidates` (same class, IoU >= min_iou, score within max_delta).
/// `candidates` come from a detector run at THRESHOLD - MAX_SCORE_DELTA, so
/// that a 0.36 / 0.34 pair counts as the match it is (a lower threshold only
/// adds boxes below every kept one: NMS keeps the same boxes above it).
fn assert_matched(
    what: &str,
    reference: &[Detection],
    candidates: &[Detection],
    min_iou: f32,
    max_delta: f32,
) -> usize {
    let mut used = vec![false; candidates.len()];
    let mut matched = 0;
    for r in reference.iter().filter(|d| d.score >= THRESHOLD) {
        let found = candidates.iter().enumerate().position(|(i, c)| {
            !used[i]
                && c.class == r.class
                && iou(&c.bbox, &r.bbox) >= min_iou
                && (c.score - r.score).abs() <= max_delta
        });
        let index = found.unwrap_or_else(|| {
            panic!(
                "{what}: {} {:.3} {:?} has no match in {candidates:?}",
                r.class, r.score, r.bbox
            )
        });
        used[index] = true;
        matched += 1;
    }
    matched
}

#[test]
fn the_int8_manifests_load_through_the_same_loader() {
    for name in ["nanodet_int8.toml", "efficientnet_lite0_int8.toml"] {
        let model = ModelSession::load(&models().join(name), &SessionConfig::default()).unwrap();
        assert!(!model.labels().is_empty(), "{name}");
    }
}

#[test]
fn int8_detections_match_onnx_runtime_in_python_on_the_int8_model() {
    let mut int8 = detector("nanodet_int8.toml", THRESHOLD);
    let mut classifier = Classifier::load(
        &models().join("efficientnet_lite0_int8.toml"),
        &session(),
        5,
    )
    .unwrap();
    let mut compared = 0;
    for (name, expected) in FIXTURES.iter().zip(python_reference()) {
        let image = image(name);
        let (ours, _) = int8.detect(&image).unwrap();
        let theirs: Vec<Detection> = expected["detections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| Detection {
                class_id: d["class_id"].as_u64().unwrap() as usize,
                class: d["class"].as_str().unwrap().to_owned(),
                score: d["score"].as_f64().unwrap() as f32,
                bbox: as_box(&d["box"]),
            })
            .collect();
        // The same tolerances as parity.rs for the FP32 model: the same
        // graph in the same runtime, only the pre/post-processing differs.
        assert_eq!(ours.len(), theirs.len(), "{name}: {ours:?} vs {theirs:?}");
        compared += assert_matched(name, &theirs, &ours, 0.95, 0.01);
        // The classifier's top-1 on each vehicle crop, as Python has it.
        for reference in expected["detections"].as_array().unwrap() {
            let Some(top5) = reference.get("top5") else {
                continue;
            };
            let result = classifier
                .classify(&image, &[as_box(&reference["box"])])
                .unwrap();
            assert_eq!(
                result[0].top[0].label,
                top5[0]["label"].as_str().unwrap(),
                "{name}"
            );
            let score = top5[0]["score"].as_f64().unwrap() as f32;
            assert!((result[0].top[0].score - score).abs() < 0.01, "{name}");
        }
    }
    assert!(compared >= 8, "{compared} detections compared");
}

#[test]
fn int8_detections_stay_within_tolerance_of_fp32_on_held_out_photos() {
    let low = THRESHOLD - MAX_SCORE_DELTA;
    let (mut fp32, mut int8) = (
        detector("nanodet.toml", low),
        detector("nanodet_int8.toml", low),
    );
    let mut compared = 0;
    for name in FIXTURES {
        let image = image(name);
        let (a, _) = fp32.detect(&image).unwrap();
        let (b, _) = int8.detect(&image).unwrap();
        compared += assert_matched(
            &format!("{name} FP32 -> INT8"),
            &a,
            &b,
            MIN_IOU,
            MAX_SCORE_DELTA,
        );
        assert_matched(
            &format!("{name} INT8 -> FP32"),
            &b,
            &a,
            MIN_IOU,
            MAX_SCORE_DELTA,
        );
    }
    // bus.jpg 3, zidane.jpg 2, darknet_dog.jpg 3, ocv_scenetext01.jpg 2.
    assert!(compared >= 10, "{compared} detections compared");
}

#[test]
fn int8_classifier_agrees_with_fp32_on_real_vehicle_crops() {
    let mut fp32 = detector("nanodet.toml", THRESHOLD);
    let load = |manifest: &str| Classifier::load(&models().join(manifest), &session(), 5).unwrap();
    let (mut a, mut b) = (
        load("efficientnet_lite0.toml"),
        load("efficientnet_lite0_int8.toml"),
    );
    let vehicles = ["car", "truck", "bus", "motorcycle", "bicycle"];
    let mut crops = 0;
    for name in FIXTURES {
        let image = image(name);
        let (detections, _) = fp32.detect(&image).unwrap();
        let boxes: Vec<[f32; 4]> = detections
            .iter()
            .filter(|d| vehicles.contains(&d.class.as_str()))
            .map(|d| d.bbox)
            .collect();
        if boxes.is_empty() {
            continue;
        }
        for (x, y) in a
            .classify(&image, &boxes)
            .unwrap()
            .iter()
            .zip(b.classify(&image, &boxes).unwrap())
        {
            assert_eq!(x.top[0].label, y.top[0].label, "{name}");
            assert!(
                (x.top[0].score - y.top[0].score).abs() <= 0.05,
                "{name}: {x:?} vs {y:?}"
            );
            assert_eq!(x.subtype.map(|s| s.0), y.subtype.map(|s| s.0), "{name}");
            crops += 1;
        }
    }
    assert!(crops >= 5, "{crops} crops compared");
}
