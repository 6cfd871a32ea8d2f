//! The binary as a user first meets it: help, version, the self-check of
//! an installation, one clear error for a bad rig or a missing ONNX Runtime,
//! and `heptaview demo`.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use heptaview_calibration::AV2_RING_CAMERAS;

#[test]
fn help_lists_the_subcommands() {
    let output = heptaview(&["--help"]);
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("Seven synchronised camera streams"), "{text}");
    assert!(text.contains("self-check"), "{text}");
}

#[test]
fn version_is_the_crate_version() {
    let output = heptaview(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).trim(),
        format!("heptaview {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn unknown_subcommands_are_usage_errors() {
    let output = heptaview(&["fly"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unrecognized subcommand 'fly'"));
}

#[test]
fn self_check_passes_on_the_built_in_rig_and_finds_onnx_runtime() {
    let output = heptaview(&["self-check", "--width", "640"]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));
    for camera in AV2_RING_CAMERAS {
        assert!(
            text.matches(camera).count() >= 2,
            "{camera} in
{text}"
        );
    }
    assert!(
        text.contains("Coverage: all 360° around the car."),
        "{text}"
    );
    assert!(
        text.contains("484x640"),
        "scaled front centre camera:\n{text}"
    );
    let runtime_line = text
        .lines()
        .find(|line| line.starts_with("ONNX Runtime"))
        .unwrap();
    assert!(runtime_line.contains("1.31."), "{runtime_line}");
    assert!(text.contains("OpenCV         4."), "{text}");
    assert!(text.contains("Rerun SDK      0.36.3"), "{text}");
    assert!(text.trim_end().ends_with("self-check passed"));
}

#[test]
fn a_bad_rig_file_is_one_line_naming_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rig.toml");
    let broken =
        heptaview_calibration::ARGOVERSE2_RIG_TOML.replacen("fx_px = 1686.0", "fx_px = -1686.0", 1);
    std::fs::write(&path, broken).unwrap();
    let output = heptaview(&["self-check", "--rig", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        format!(
            "error: rig file {}: camera `ring_front_left`: focal length `fx_px` must be positive, got -1686",
            path.display()
        )
    );

    let output = heptaview(&["self-check", "--rig", "/no/such/rig.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: cannot read /no/such/rig.toml: "),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_unusable_onnx_runtime_says_where_and_what_to_run() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .arg("self-check")
        .env("ORT_DYLIB_PATH", &fake)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.starts_with(&format!(
            "error: cannot load ONNX Runtime from {}",
            fake.display()
        )),
        "{message}"
    );
    assert!(message.contains("run scripts/setup.sh"), "{message}");
    assert_eq!(message.trim_end().lines().count(), 1, "{message}");
}

#[test]
fn demo_generates_once_replays_and_leaves_a_recording_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let output = heptaview(&["demo", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let said = stderr(&output);
    assert!(said.contains("demo: generated"), "{said}");
    assert!(said.contains("eval decisions: agreement"), "{said}");
    assert!(said.contains("open the recording:"), "{said}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["framesets"]["total"], 100);
    assert_eq!(report["frames"]["input"], 700);
    assert!(report["eval"]["decision_agreement"].as_f64().unwrap() > 0.5);
    assert_eq!(report["rerun"]["images"], 700);
    let verify = Command::new(venv_tool("rerun"))
        .args(["rrd", "verify", out.join("demo.rrd").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(!out.join("urban_mixed.partial").exists());

    // The second time the drive is there already.
    let again = heptaview(&["demo", "--out", out.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("demo: replaying"),
        "{}",
        stderr(&again)
    );
}
