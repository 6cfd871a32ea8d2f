//! Loading models: every way a model can be wrong gives one clear error, and
//! a YOLOv8-style export decodes through the `yolov8` decoder.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::Command;

use heptaview_models::detector::{Detector, DetectorConfig};
use heptaview_models::{ModelError, ModelSession, SessionConfig};
use opencv::core::{CV_8UC3, Mat, Scalar};

fn models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The shipped NanoDet manifest, edited, written into `dir` with its files
/// referenced by absolute path.
fn edited_manifest(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(models_dir().join("nanodet.toml")).unwrap();
    let absolute = text
        .replace(
            "file = \"nanodet.onnx\"",
            &format!("file = \"{}\"", models_dir().join("nanodet.onnx").display()),
        )
        .replace(
            "labels = \"coco80.txt\"",
            &format!("labels = \"{}\"", models_dir().join("coco80.txt").display()),
        );
    let path = dir.join("model.toml");
    std::fs::write(&path, edit(absolute)).unwrap();
    path
}

fn load_error(manifest: &Path) -> String {
    chain(&ModelSession::load(manifest, &SessionConfig::default()).unwrap_err())
}

#[test]
fn the_shipped_models_load_and_match_their_manifests() {
    for name in ["nanodet.toml", "efficientnet_lite0.toml"] {
        let model =
            ModelSession::load(&models_dir().join(name), &SessionConfig::default()).unwrap();
        assert!(!model.labels().is_empty());
        assert_eq!(
            model.providers().last(),
            Some(&heptaview_models::ExecutionProvider::Cpu)
        );
    }
}

#[test]
fn a_missing_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = edited_manifest(dir.path(), |t| {
        t.replace(
            &models_dir().join("nanodet.onnx").display().to_string(),
            "/no/such/nanodet.onnx",
        )
    });
    assert_eq!(
        load_error(&manifest),
        format!(
            "model file /no/such/nanodet.onnx is missing (named by {})",
            manifest.display()
        )
    );
}

#[test]
fn a_model_whose_sha256_differs_from_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = edited_manifest(dir.path(), |t| {
        t.replace("005d4496b4e7adcc", "115d4496b4e7adcc")
    });
    let error = load_error(&manifest);
    assert!(
        error.starts_with(&format!(
            "{} has sha256 005d4496b4e7adcc2d30935d8b9d3516ec1ac39728970d71562a266fd938be6a, but its manifest says 115d4496",
            models_dir().join("nanodet.onnx").display()
        )),
        "{error}"
    );
}

#[test]
fn a_graph_whose_shapes_differ_from_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = edited_manifest(dir.path(), |t| {
        t.replace("shape = [1, 169, 44]", "shape = [1, 169, 40]")
    });
    assert_eq!(
        load_error(&manifest),
        format!(
            "{}: the shape of output `Identity_5:0` is Some([1, 169, 44]), but the manifest declares [1, 169, 40]",
            models_dir().join("nanodet.onnx").display()
        )
    );
    let manifest = edited_manifest(dir.path(), |t| {
        t.replace("name = \"input_1:0\"", "name = \"images\"")
    });
    assert!(
        load_error(&manifest).contains(
            "the graph's input list is [\"input_1:0\"], but the manifest declares [images]"
        )
    );
}

#[test]
fn a_manifest_that_does_not_parse_or_fit_its_decoder() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = edited_manifest(dir.path(), |t| t.replace("reg_max = 10\n", ""));
    assert!(
        load_error(&manifest).contains("the outputs do not fit decoder NanodetGfl"),
        "{}",
        load_error(&manifest)
    );
    let manifest = edited_manifest(dir.path(), |t| {
        t.replace("colour_order = \"BGR\"", "colour_order = \"YUV\"")
    });
    let error = load_error(&manifest);
    assert!(
        error.starts_with(&format!("model manifest {}: ", manifest.display())),
        "{error}"
    );
}

#[test]
fn an_unknown_class_in_the_filter_is_refused() {
    let config = DetectorConfig {
        classes: vec!["unicorn".to_owned()],
        ..DetectorConfig::default()
    };
    let error = chain(&Detector::shipped(&SessionConfig::default(), config).unwrap_err());
    assert!(
        error.contains("the class filter names `unicorn`"),
        "{error}"
    );
}

#[test]
fn a_detector_refuses_images_that_are_not_bgr() {
    let mut detector =
        Detector::shipped(&SessionConfig::default(), DetectorConfig::default()).unwrap();
    let grey =
        Mat::new_rows_cols_with_default(10, 10, opencv::core::CV_8UC1, Scalar::all(0.0)).unwrap();
    assert!(matches!(detector.detect(&grey), Err(ModelError::Image(_))));
    assert!(matches!(
        detector.detect(&Mat::default()),
        Err(ModelError::Image(_))
    ));
    let black = Mat::new_rows_cols_with_default(50, 80, CV_8UC3, Scalar::all(0.0)).unwrap();
    assert!(detector.detect(&black).unwrap().0.is_empty());
}

/// Builds a YOLOv8-shaped ONNX graph (input `images` [1,3,64,64], output
/// `output0` [1, 4+3, 6]) whose output is a constant: known predictions.
const YOLO_GRAPH: &str = r#"
import sys, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
predictions = np.zeros((1, 7, 6), np.float32)
# columns: anchors; rows: cx, cy, w, h, score(person), score(car), score(bus)
anchors = [
    (20, 30, 10, 20, (0.9, 0.1, 0.0)),   # person
    (21, 30, 10, 20, (0.8, 0.0, 0.0)),   # same person again: NMS removes it
    (40, 32, 16, 8, (0.0, 0.2, 0.7)),    # bus
    (40, 32, 16, 8, (0.0, 0.6, 0.1)),    # a car on the same spot: another class, kept
    (10, 10, 4, 4, (0.2, 0.0, 0.0)),     # below the threshold
    (60, 20, 10, 10, (0.0, 0.0, 0.0)),   # nothing
]
for j, (cx, cy, w, h, scores) in enumerate(anchors):
    predictions[0, :, j] = [cx, cy, w, h, *scores]
nodes = [
    helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
    helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    helper.make_node("Reshape", ["nothing", "shape"], ["nothing3"]),
    helper.make_node("Add", ["predictions", "nothing3"], ["output0"]),
]
graph = helper.make_graph(
    nodes, "yolo_stub",
    [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
    [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 7, 6])],
    [numpy_helper.from_array(predictions, "predictions"), numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
     numpy_helper.from_array(np.array([1, 1, 1], np.int64), "shape")],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, sys.argv[1])
"#;

#[test]
fn a_yolov8_export_decodes_with_nms_and_letterbox_undone() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("yolo.onnx");
    let python = models_dir().join("../.deps/venv/bin/python");
    let output = Command::new(&python)
        .arg("-c")
        .arg(YOLO_GRAPH)
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(dir.path().join("labels.txt"), "person\ncar\nbus\n").unwrap();
    let sha = Command::new("sha256sum").arg(&model).output().unwrap();
    let sha = String::from_utf8(sha.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let manifest = dir.path().join("yolo.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"name = "yolo-stub"
task = "detection"
file = "yolo.onnx"
sha256 = "{sha}"
labels = "labels.txt"
decoder = "yolov8"
licence = "test"
provenance = "generated by the test"
[input]
name = "images"
layout = "NCHW"
shape = [1, 3, 64, 64]
colour_order = "RGB"
mean = [0.0, 0.0, 0.0]
std = [255.0, 255.0, 255.0]
[[output]]
name = "output0"
shape = [1, 7, 6]
role = "predictions"
"#
        ),
    )
    .unwrap();
    let config = DetectorConfig {
        score_threshold: heptaview_models::units::UnitInterval::new(0.3).unwrap(),
        classes: Vec::new(),
        ..DetectorConfig::default()
    };
    let mut detector = Detector::load(&manifest, &SessionConfig::default(), config).unwrap();
    // A 128x64 image letterboxes into 64x64 at scale 0.5 with 16 rows of padding above.
    let image = Mat::new_rows_cols_with_default(64, 128, CV_8UC3, Scalar::all(90.0)).unwrap();
    let (detections, _) = detector.detect(&image).unwrap();
    let summary: Vec<(String, f32, [f32; 4])> = detections
        .iter()
        .map(|d| (d.class.clone(), (d.score * 100.0).round() / 100.0, d.bbox))
        .collect();
    let source = |cx: f32, cy: f32, w: f32, h: f32| {
        [
            (cx - w / 2.0) * 2.0,
            (cy - h / 2.0 - 16.0) * 2.0,
            (cx + w / 2.0) * 2.0,
            (cy + h / 2.0 - 16.0) * 2.0,
        ]
    };
    assert_eq!(
        summary,
        vec![
            ("person".to_owned(), 0.9, source(20.0, 30.0, 10.0, 20.0)),
            ("bus".to_owned(), 0.7, source(40.0, 32.0, 16.0, 8.0)),
            ("car".to_owned(), 0.6, source(40.0, 32.0, 16.0, 8.0)),
        ]
    );
}
