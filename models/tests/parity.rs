//! The Rust detector and classifier against an independent reference: the
//! same ONNX models run by ONNX Runtime in Python (scripts/reference_models.py),
//! on real photographs.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use heptaview_models::SessionConfig;
use heptaview_models::attributes::attributes;
use heptaview_models::classifier::Classifier;
use heptaview_models::detector::{Detection, Detector, DetectorConfig};
use heptaview_models::taxonomy::VehicleSubtype;
use serde_json::Value;

const FIXTURES: [&str; 4] = [
    "bus.jpg",
    "zidane.jpg",
    "darknet_dog.jpg",
    "ocv_scenetext01.jpg",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/images").join(name)
}

fn python() -> PathBuf {
    let python = root().join(".deps/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    python
}

fn reference(threshold: f32, all_classes: bool) -> Vec<Value> {
    let mut command = Command::new(python());
    command
        .arg(root().join("scripts/reference_models.py"))
        .arg("--threshold")
        .arg(threshold.to_string());
    if all_classes {
        command.arg("--all-classes");
    }
    let output = command.args(FIXTURES.map(fixture)).output().unwrap();
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

fn session() -> SessionConfig {
    SessionConfig {
        intra_threads: 2,
        ..SessionConfig::default()
    }
}

fn compare(threshold: f32, all_classes: bool) -> usize {
    let config = DetectorConfig {
        score_threshold: heptaview_models::units::UnitInterval::new(threshold).unwrap(),
        classes: if all_classes {
            Vec::new()
        } else {
            DetectorConfig::default().classes
        },
        ..DetectorConfig::default()
    };
    let mut detector = Detector::shipped(&session(), config).unwrap();
    let mut classifier = Classifier::shipped(&session(), 5).unwrap();
    let mut matched = 0;
    for (name, expected) in FIXTURES.iter().zip(reference(threshold, all_classes)) {
        let image = opencv::imgcodecs::imread(
            fixture(name).to_str().unwrap(),
            opencv::imgcodecs::IMREAD_COLOR,
        )
        .unwrap();
        let (ours, _) = detector.detect(&image).unwrap();
        let ours_attributes = attributes(&mut classifier, &image, &ours, [1.0, 1.0]).unwrap();
        let theirs = expected["detections"].as_array().unwrap();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{name}: ours {:?}\nreference {theirs:?}",
            ours.iter().map(|d| (&d.class, d.score)).collect::<Vec<_>>()
        );
        let mut used = vec![false; ours.len()];
        for reference in theirs {
            let class = reference["class"].as_str().unwrap();
            let score = reference["score"].as_f64().unwrap() as f32;
            let bbox = as_box(&reference["box"]);
            let found = ours
                .iter()
                .enumerate()
                .find(|(i, d): &(usize, &Detection)| {
                    !used[*i]
                        && d.class == class
                        && iou(&d.bbox, &bbox) >= 0.95
                        && (d.score - score).abs() <= 0.01
                });
            let (index, detection) = found.unwrap_or_else(|| {
                panic!("{name}: reference {class} {score:.3} {bbox:?} has no match in {ours:?}")
            });
            used[index] = true;
            matched += 1;
            if let Some(top5) = reference.get("top5") {
                let top1 = top5[0]["label"].as_str().unwrap();
                let ours_top1 = &ours_attributes[index].top[0];
                assert_eq!(
                    ours_top1.label, top1,
                    "{name}: {class} at {:?}",
                    detection.bbox
                );
                assert!(
                    (f64::from(ours_top1.score) - top5[0]["score"].as_f64().unwrap()).abs() < 0.01
                );
            }
        }
    }
    matched
}

#[test]
fn detections_and_crop_classes_match_onnx_runtime_in_python() {
    let matched = compare(0.35, false);
    assert!(matched >= 8, "{matched} detections compared");
}

#[test]
fn low_threshold_all_classes_detections_match_too() {
    let matched = compare(0.2, true);
    assert!(matched >= 25, "{matched} detections compared");
}

#[test]
fn the_bus_photo_gives_the_bus_and_people_with_tight_boxes() {
    let mut detector = Detector::shipped(&session(), DetectorConfig::default()).unwrap();
    let image = opencv::imgcodecs::imread(
        fixture("bus.jpg").to_str().unwrap(),
        opencv::imgcodecs::IMREAD_COLOR,
    )
    .unwrap();
    let (detections, _) = detector.detect(&image).unwrap();
    let bus = detections.iter().find(|d| d.class == "bus").unwrap();
    // Hand-checked extent of the bus in the photo: x 15..795, y 215..760.
    assert!(
        iou(&bus.bbox, &[15.0, 216.0, 793.0, 758.0]) > 0.9,
        "{:?}",
        bus.bbox
    );
    let people = detections.iter().filter(|d| d.class == "person").count();
    assert!(people >= 2, "{detections:?}");
}

#[test]
fn a_subtype_is_given_only_above_the_calibrated_score_as_the_python_reference_scores_it() {
    // The calibration script's crops of the committed photos: its own
    // detector and classifier (ONNX Runtime in Python), boxes and scores.
    let output = Command::new(python())
        .arg(root().join("scripts/calibrate_subtypes.py"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let crops: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let manifest =
        heptaview_models::manifest::Manifest::load(&root().join("models/efficientnet_lite0.toml"))
            .unwrap();
    let min_score = manifest.subtype_min_score.unwrap();
    let mut classifier = Classifier::shipped(&session(), 5).unwrap();
    let (mut given, mut withheld) = (0, 0);
    for crop in &crops {
        let path = fixture(crop["image"].as_str().unwrap());
        let image =
            opencv::imgcodecs::imread(path.to_str().unwrap(), opencv::imgcodecs::IMREAD_COLOR)
                .unwrap();
        let result = classifier
            .classify(&image, &[as_box(&crop["box"])])
            .unwrap();
        let (subtype, score) = result[0].subtype.unwrap();
        let reference = crop["score"].as_f64().unwrap() as f32;
        assert!((score - reference).abs() < 1e-3, "{crop}: {score}");
        if reference >= min_score {
            assert_eq!(subtype.name(), crop["subtype"].as_str().unwrap(), "{crop}");
            given += 1;
        } else {
            assert_eq!(subtype, VehicleSubtype::Unknown, "{crop}");
            withheld += 1;
        }
    }
    // The bus is a bus; the pickup truck, which the classifier takes for a
    // bus at 0.30, and the bicycle behind the dog get no subtype.
    assert!(
        given >= 1 && withheld >= 2,
        "{given} given, {withheld} withheld"
    );
}
