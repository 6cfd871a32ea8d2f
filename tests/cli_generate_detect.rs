//! `heptaview generate` and `heptaview detect`: a drive written in the AV2
//! layout, detections on image files, and one clear error for bad options.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;

#[test]
fn generate_writes_a_log_and_refuses_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drive");
    let out_arg = out.to_str().unwrap();
    let args = [
        "generate",
        "--scenario",
        "cut_in",
        "--out",
        out_arg,
        "--width",
        "256",
        "--seconds",
        "0.3",
    ];
    let output = heptaview(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("cut_in: 3 frame sets (0.3 s at 10 fps), 21 images"),
        "{text}"
    );
    assert!(out.join("calibration/intrinsics.feather").exists());
    assert!(out.join("scenario.toml").exists());

    let again = heptaview(&args);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        stderr(&again).trim(),
        format!(
            "error: {} already exists; remove it or choose another --out",
            out.display()
        )
    );

    let narrow = heptaview(&[
        "generate",
        "--scenario",
        "cut_in",
        "--out",
        dir.path().join("n").to_str().unwrap(),
        "--width",
        "10",
    ]);
    assert_eq!(narrow.status.code(), Some(2));
    assert_eq!(
        stderr(&narrow).trim(),
        "error: --width must be 64..=2048 pixels, got 10"
    );

    let unknown = heptaview(&["generate", "--scenario", "moon_landing", "--out", out_arg]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("possible values: clear_road"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn detect_prints_json_lines_with_source_pixel_boxes() {
    let bus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images/bus.jpg");
    let dog = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/images/darknet_dog.jpg"
    );
    let output = heptaview(&["detect", bus, dog, "--json", "--threads", "2"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["image"], bus);
    assert_eq!(
        (lines[0]["width"].as_u64(), lines[0]["height"].as_u64()),
        (Some(810), Some(1080))
    );
    let detections = lines[0]["detections"].as_array().unwrap();
    let bus_detection = detections.iter().find(|d| d["class"] == "bus").unwrap();
    assert_eq!(bus_detection["class_id"], 5);
    assert_eq!(bus_detection["subtype"], "bus");
    assert!(bus_detection["state"].is_null());
    let x2 = bus_detection["box"][2].as_f64().unwrap();
    assert!(x2 > 780.0 && x2 <= 810.0, "{bus_detection}");
    for key in ["preprocess", "inference", "decode", "classify"] {
        assert!(lines[0]["timing_ms"][key].as_f64().unwrap() >= 0.0);
    }
    let classes: Vec<&str> = lines[1]["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"bicycle") && classes.contains(&"car"),
        "{classes:?}"
    );
}

#[test]
fn detect_reports_an_unreadable_image_and_goes_on() {
    let bus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images/bus.jpg");
    let output = heptaview(&["detect", "/no/such.jpg", bus]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        "error: cannot read image /no/such.jpg: No such file or directory (os error 2)"
    );
    assert!(stdout(&output).contains("bus.jpg (810x1080)"));
}

#[test]
fn detect_without_onnx_runtime_says_what_to_run() {
    let bus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images/bus.jpg");
    let output = Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args(["detect", bus])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so.1.31.1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.starts_with("error: loading the detector: cannot load ONNX Runtime from /nonexistent/libonnxruntime.so.1.31.1"), "{message}");
    assert!(message.contains("run scripts/setup.sh"), "{message}");
}

#[test]
fn detect_falls_back_to_cpu_with_a_warning_when_cuda_is_missing() {
    let bus = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/images/bus.jpg");
    let output = heptaview(&["detect", bus, "--execution-providers", "cuda,cpu"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("bus "), "{}", stdout(&output));
    let warnings = stderr(&output);
    assert!(
        warnings
            .contains("execution provider Cuda is not in this ONNX Runtime build; falling back"),
        "{warnings}"
    );
    let bad = heptaview(&["detect", bus, "--execution-providers", "tpu"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown execution provider `tpu`"));
}
