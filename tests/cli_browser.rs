//! The Rerun recording as a user opens it: Rerun's web viewer in headless
//! Chromium (`scripts/browser_check.py`), at a frame set in the middle of a
//! drive. Every camera panel and the top-down view must show content, and
//! the browser console must stay free of errors; a recording without one
//! camera's images must fail, naming that camera's panel, and so must a
//! console with errors.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::*;
use heptaview_calibration::AV2_RING_CAMERAS;

/// The camera whose images the negative case removes.
const DROPPED_CAMERA: &str = "ring_side_left";
/// A short drive: 15 frame sets at 10 fps, the last numbered 14.
const SECONDS: &str = "1.5";
const LAST_FRAMESET: &str = "14";

/// Where the screenshots stay after the test (target/tmp/browser-check), for
/// a person or a CI artifact to look at.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-check");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs scripts/browser_check.py on `recording` (with `extra` flags): its
/// exit code, JSON result and wall time.
fn browser_check(
    recording: &Path,
    name: &str,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value, f64) {
    let started = Instant::now();
    let output = Command::new(venv_tool("python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/browser_check.py"
        ))
        .arg(recording)
        .arg("--screenshot")
        .arg(screenshot_dir().join(format!("{name}.png")))
        .args(["--timeout", "180", "--last-frameset", LAST_FRAMESET])
        .args(extra)
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let result: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "browser_check.py printed no JSON ({e}): {}\n{}",
            stdout(&output),
            stderr(&output)
        )
    });
    eprintln!("browser check of {name}: {seconds:.0} s, {result}");
    (output.status.code(), result, seconds)
}

fn panel_ok(result: &serde_json::Value, panel: &str) -> bool {
    result["panels"][panel]["ok"]
        .as_bool()
        .unwrap_or_else(|| panic!("no panel {panel}: {result:#}"))
}

fn only_failure(result: &serde_json::Value) -> &str {
    let failures = result["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{result:#}");
    failures[0].as_str().unwrap()
}

#[test]
fn the_recording_shows_every_camera_and_the_top_down_view_in_a_browser() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let log = small_drive(dir.path(), "320", SECONDS);
    let recording = dir.path().join("drive.rrd");
    let replay = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--rerun",
        &format!("save:{}", recording.display()),
    ]);
    assert!(replay.status.success(), "{}", stderr(&replay));
    let recorded = started.elapsed().as_secs_f64();

    // The whole recording: every panel shows content, the console is clean.
    let (code, result, full_s) = browser_check(&recording, "full", &[]);
    assert_eq!(code, Some(0), "{result:#}");
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(
        result["console_errors"],
        serde_json::json!([]),
        "{result:#}"
    );
    // Mid-drive: 15 frame sets, the cursor half-way.
    assert_eq!(result["frameset_range"], serde_json::json!([0, 14]));
    assert_eq!(result["frameset"], 7);
    for camera in AV2_RING_CAMERAS {
        assert!(panel_ok(&result, camera), "{camera}: {result:#}");
    }
    assert!(panel_ok(&result, "top_down"), "{result:#}");

    // The same recording without one camera's images: that panel, and only
    // that one, fails.
    let dropped = dir.path().join("dropped.rrd");
    let filter = Command::new(venv_tool("rerun"))
        .args(["rrd", "filter", "--drop-entity"])
        .arg(format!("world/ego/cameras/{DROPPED_CAMERA}/image"))
        .arg("--output")
        .arg(&dropped)
        .arg(&recording)
        .output()
        .unwrap();
    assert!(filter.status.success(), "{}", stderr(&filter));
    let (code, result, dropped_s) = browser_check(&dropped, "without-one-camera", &[]);
    assert_eq!(code, Some(1), "{result:#}");
    assert_eq!(result["ok"], false, "{result:#}");
    assert!(
        only_failure(&result).starts_with(&format!("panel {DROPPED_CAMERA} ")),
        "{result:#}"
    );
    for camera in AV2_RING_CAMERAS {
        assert_eq!(
            panel_ok(&result, camera),
            camera != DROPPED_CAMERA,
            "{camera}: {result:#}"
        );
    }
    assert!(panel_ok(&result, "top_down"), "{result:#}");

    // Errors in the console fail the check too: here the page's requests to
    // other hosts (fonts, analytics) are left to fail, as without network.
    let (code, result, console_s) =
        browser_check(&recording, "requests-failing", &["--let-requests-fail"]);
    assert_eq!(code, Some(1), "{result:#}");
    assert!(
        only_failure(&result).starts_with("the browser console has"),
        "{result:#}"
    );
    for camera in AV2_RING_CAMERAS {
        assert!(panel_ok(&result, camera), "{camera}: {result:#}");
    }

    eprintln!(
        "recording {recorded:.0} s, full recording {full_s:.0} s, \
         without {DROPPED_CAMERA} {dropped_s:.0} s, console errors {console_s:.0} s, \
         total {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
