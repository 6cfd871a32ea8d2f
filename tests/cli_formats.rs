//! The drive formats from the command line: a nuScenes dataset and ROS 2
//! bags (written by the official Python tools from generated drives) replay
//! with every frame accounted for and a recording Rerun reads back; live
//! mode records a bag that replays; bad input is one error naming the file
//! or topic, exit 2.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_frames_add_up, heptaview, stderr, venv_tool, video_and_rig};
use heptaview_calibration::{Rig, argoverse2_rig};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn python(args: &[&dyn AsRef<std::ffi::OsStr>]) {
    let mut command = Command::new(venv_tool("python"));
    for arg in args {
        command.arg(arg);
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

/// A short generated drive through `rig` (a file under calibration/rigs).
fn generate(dir: &Path, rig: &str, seconds: &str) -> PathBuf {
    let log = dir.join("drive");
    let rig = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("calibration/rigs")
        .join(rig);
    let output = heptaview(&[
        "generate",
        "--scenario",
        "urban_mixed",
        "--rig",
        rig.to_str().unwrap(),
        "--out",
        log.to_str().unwrap(),
        "--width",
        "320",
        "--seconds",
        seconds,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    log
}

/// Replays with a recording and a report (plus `extra` flags); checks the
/// accounting and that Rerun verifies the recording and finds an image
/// entity for each camera; returns the report.
fn replay_recorded(dir: &Path, log: &Path, extra: &[&str]) -> serde_json::Value {
    let recording = dir.join("run.rrd");
    let report_path = dir.join("report.json");
    let rerun = format!("save:{}", recording.display());
    let mut args = vec![
        "replay",
        log.to_str().unwrap(),
        "--rerun",
        &rerun,
        "--report",
        report_path.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = heptaview(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_frames_add_up(&report["frames"]);
    assert_eq!(report["frames"]["dropped"]["decode_error"], 0, "{report}");

    let verify = Command::new(venv_tool("rerun"))
        .args(["rrd", "verify", recording.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));
    let read = Command::new(venv_tool("python"))
        .arg(script("read_rerun_recording.py"))
        .arg(&recording)
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", stderr(&read));
    let contents: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let images: u64 = report["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|camera| {
            let path = format!("/world/ego/cameras/{}/image", camera.as_str().unwrap());
            contents["entities"][&path]["instances"]["EncodedImage:blob"]
                .as_u64()
                .unwrap_or_else(|| panic!("no images at {path}"))
        })
        .sum();
    assert_eq!(images, report["rerun"]["images"].as_u64().unwrap());
    report
}

fn assert_bad_input(output: &std::process::Output, needles: &[&str]) {
    assert_eq!(output.status.code(), Some(2), "{}", stderr(output));
    let text = stderr(output);
    assert_eq!(text.matches("error:").count(), 1, "{text}");
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` not in: {text}");
    }
}

#[test]
fn a_nuscenes_scene_replays_with_evaluation_and_bad_tables_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let drive = generate(dir.path(), "nuscenes.toml", "2.0");
    let root = dir.path().join("nuscenes");
    python(&[
        &script("write_nuscenes_log.py"),
        &drive,
        &root,
        &"--scene-name",
        &"scene-0001",
    ]);

    let report = replay_recorded(
        dir.path(),
        &root,
        &["--scene", "scene-0001", "--eval", "--keyframes", "off"],
    );
    let cameras: Vec<&str> = report["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cameras,
        [
            "CAM_FRONT",
            "CAM_FRONT_LEFT",
            "CAM_FRONT_RIGHT",
            "CAM_BACK_LEFT",
            "CAM_BACK_RIGHT",
            "CAM_BACK"
        ]
    );
    // Key frames and sweeps: every image of the drive.
    assert_eq!(report["frames"]["input"], 6 * 20);
    assert_eq!(report["framesets"]["complete"], 20, "{report}");
    // Ground truth from sample_annotation reaches the evaluation: people
    // and vehicles are found in the key frames (nuScenes category names).
    let detection = &report["eval"]["detection"];
    assert!(detection["recall"].as_f64().unwrap() > 0.5, "{detection}");

    // An unknown scene names the ones there are.
    let unknown = heptaview(&["replay", root.to_str().unwrap(), "--scene", "scene-9999"]);
    assert_bad_input(&unknown, &["scene-9999", "scene-0001"]);
    // A missing table is named.
    let table = root.join("v1.0-mini/sample_data.json");
    std::fs::remove_file(&table).unwrap();
    let missing = heptaview(&["replay", root.to_str().unwrap()]);
    assert_bad_input(&missing, &["sample_data.json"]);
}

#[test]
fn ros2_bags_replay_and_bad_topics_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let drive = generate(dir.path(), "front3.toml", "1.5");
    let bag = dir.path().join("drive.mcap");
    python(&[
        &script("write_ros2_bag.py"),
        &drive,
        &bag,
        &"--lens",
        &"rational_polynomial",
    ]);
    let report = replay_recorded(dir.path(), &bag, &[]);
    assert_eq!(report["frames"]["input"], 3 * 15);
    assert_eq!(report["framesets"]["complete"], 15, "{report}");

    // A camera without CameraInfo, PNG images, and a file that is no bag.
    let no_info = dir.path().join("no_info.mcap");
    python(&[
        &script("write_ros2_bag.py"),
        &drive,
        &no_info,
        &"--drop-camera-info",
        &"front_narrow",
    ]);
    let output = heptaview(&["replay", no_info.to_str().unwrap()]);
    assert_bad_input(&output, &["no_info.mcap", "front_narrow", "CameraInfo"]);

    let png = dir.path().join("png.mcap");
    python(&[
        &script("write_ros2_bag.py"),
        &drive,
        &png,
        &"--format",
        &"png",
    ]);
    let output = heptaview(&["replay", png.to_str().unwrap()]);
    assert_bad_input(&output, &["png.mcap", "png", "JPEG"]);

    let not_a_bag = dir.path().join("notes.mcap");
    std::fs::write(&not_a_bag, b"not an mcap file").unwrap();
    let output = heptaview(&["replay", not_a_bag.to_str().unwrap()]);
    assert_bad_input(&output, &["notes.mcap"]);
}

#[test]
fn live_records_a_ros2_bag_that_replays() {
    let dir = tempfile::tempdir().unwrap();
    // Three cameras of the AV2 ring at the fixture video's width.
    let (video, _) = video_and_rig(dir.path());
    let full = argoverse2_rig().unwrap().scaled_to_width(384).unwrap();
    let names = ["ring_front_center", "ring_front_left", "ring_front_right"];
    let cameras = names
        .iter()
        .map(|n| full.camera(n).unwrap().clone())
        .collect();
    let rig = Rig::new("three", cameras).unwrap();
    let rig_path = dir.path().join("three.toml");
    rig.save(&rig_path).unwrap();

    let bag = dir.path().join("live.mcap");
    let report_path = dir.path().join("live.json");
    let mut args = vec![
        "live".to_owned(),
        "--rig".to_owned(),
        rig_path.display().to_string(),
        "--duration".to_owned(),
        "2".to_owned(),
        "--record".to_owned(),
        bag.display().to_string(),
        "--report".to_owned(),
        report_path.display().to_string(),
    ];
    for name in names {
        args.push("--camera".to_owned());
        args.push(format!("{name}={}", video.display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = heptaview(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let live: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let recorded = live["frames"]["input"].as_u64().unwrap()
        - live["frames"]["not_recorded"].as_u64().unwrap_or(0);
    assert!(recorded > 0, "{live}");

    // The official reader sees one image topic per camera with CameraInfo.
    let summary = Command::new(venv_tool("python"))
        .arg(script("read_ros2_bag.py"))
        .arg(&bag)
        .arg("--summary-json")
        .output()
        .unwrap();
    assert!(summary.status.success(), "{}", stderr(&summary));
    let summary = String::from_utf8_lossy(&summary.stdout);
    for name in names {
        assert!(
            summary.contains(&format!("/{name}/image_raw/compressed")),
            "{summary}"
        );
        assert!(
            summary.contains(&format!("/{name}/camera_info")),
            "{summary}"
        );
    }

    // heptaview replays what it recorded, every frame.
    let report = replay_recorded(dir.path(), &bag, &["--keyframes", "off"]);
    assert_eq!(report["frames"]["input"].as_u64().unwrap(), recorded);
}
