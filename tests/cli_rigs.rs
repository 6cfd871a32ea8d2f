//! Rigs that are not Argoverse 2's: drives generated through the shipped
//! three- and twelve-camera rigs (and one camera of them) replay with every
//! frame accounted for and a recording Rerun reads back with every camera.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_frames_add_up, heptaview, stderr, venv_tool};
use heptaview_calibration::Rig;

fn rig_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("calibration/rigs")
        .join(name)
}

fn generate(dir: &Path, rig: &Path, seconds: &str) -> PathBuf {
    let log = dir.join("drive");
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

/// Replays `log` (optionally only `cameras`) with a recording and a report;
/// returns the report and the recording's entities as Rerun reads them.
fn replay(
    dir: &Path,
    log: &Path,
    cameras: Option<&str>,
) -> (
    serde_json::Value,
    serde_json::Map<String, serde_json::Value>,
) {
    let recording = dir.join("run.rrd");
    let report_path = dir.join("report.json");
    let mut args = vec![
        "replay".to_owned(),
        log.display().to_string(),
        "--rerun".to_owned(),
        format!("save:{}", recording.display()),
        "--report".to_owned(),
        report_path.display().to_string(),
    ];
    if let Some(cameras) = cameras {
        args.extend(["--cameras".to_owned(), cameras.to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = heptaview(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();

    let verify = Command::new(venv_tool("rerun"))
        .args(["rrd", "verify", recording.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));
    let read = Command::new(venv_tool("python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/read_rerun_recording.py"
        ))
        .arg(&recording)
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", stderr(&read));
    let contents: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let entities = contents["entities"].as_object().unwrap().clone();
    (report, entities)
}

/// Every camera named in the report, every image of it in the recording.
fn assert_every_camera_replayed_and_recorded(
    report: &serde_json::Value,
    entities: &serde_json::Map<String, serde_json::Value>,
    cameras: &[&str],
    framesets: u64,
) {
    // An AV2-layout log lists its cameras by folder name.
    let mut reported: Vec<&str> = report["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    reported.sort_unstable();
    let mut expected = cameras.to_vec();
    expected.sort_unstable();
    assert_eq!(reported, expected);
    assert_frames_add_up(&report["frames"]);
    assert_eq!(report["frames"]["input"], framesets * cameras.len() as u64);
    assert_eq!(report["framesets"]["total"], framesets);
    assert_eq!(report["framesets"]["complete"], framesets, "{report}");
    for camera in cameras {
        let image = format!("/world/ego/cameras/{camera}/image");
        let images = entities
            .get(&image)
            .unwrap_or_else(|| panic!("no {image} in {:?}", entities.keys()))["instances"]
            ["EncodedImage:blob"]
            .as_u64()
            .unwrap();
        assert_eq!(images, framesets, "{image}");
    }
    assert_eq!(
        entities["/decision"]["instances"]["TextLog:text"],
        report["rerun"]["decisions"]
    );
}

#[test]
fn a_three_camera_rig_replays_and_records_every_camera() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::load(&rig_file("front3.toml")).unwrap();
    let log = generate(dir.path(), &rig_file("front3.toml"), "1.5");
    let (report, entities) = replay(dir.path(), &log, None);
    let names: Vec<&str> = rig.camera_names().collect();
    assert_eq!(names.len(), 3);
    assert_every_camera_replayed_and_recorded(&report, &entities, &names, 15);
}

#[test]
fn a_twelve_camera_rig_and_one_camera_of_it_replay_and_record_every_camera() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::load(&rig_file("surround12.toml")).unwrap();
    let log = generate(dir.path(), &rig_file("surround12.toml"), "1.0");
    let (report, entities) = replay(dir.path(), &log, None);
    let names: Vec<&str> = rig.camera_names().collect();
    assert_eq!(names.len(), 12);
    assert_every_camera_replayed_and_recorded(&report, &entities, &names, 10);

    let one = dir.path().join("one");
    std::fs::create_dir(&one).unwrap();
    let (report, entities) = replay(&one, &log, Some("cam_p090"));
    assert_every_camera_replayed_and_recorded(&report, &entities, &["cam_p090"], 10);
    assert!(!entities.contains_key("/world/ego/cameras/cam_000/image"));
}
