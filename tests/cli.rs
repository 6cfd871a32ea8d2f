//! The `heptaview` binary as a user meets it: help, version, the self-check,
//! and one clear error (with the right exit code) for each kind of bad setup.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

fn heptaview(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args(args)
        .env_remove("ORT_DYLIB_PATH")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

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
    for camera in heptaview_calibration::AV2_RING_CAMERAS {
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

#[test]
fn replay_runs_a_generated_log_and_writes_a_balanced_report() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("drive");
    let generated = heptaview(&[
        "generate",
        "--scenario",
        "pedestrian_crossing",
        "--out",
        log.to_str().unwrap(),
        "--width",
        "256",
        "--seconds",
        "0.4",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let report_path = dir.path().join("report.json");
    let output = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--keyframes",
        "off",
        "--report",
        report_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = stderr(&output);
    assert!(
        summary.contains("4 framesets (4 complete, 0 partial)"),
        "{summary}"
    );
    assert!(
        summary.contains("frames: 28 in = 28 processed + 0 skipped (non-key) + 0 dropped"),
        "{summary}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["mode"], "replay");
    assert_eq!(report["frames"]["input"], 28);
    assert_eq!(report["inference"]["detector_calls"], 28);

    let missing = heptaview(&["replay", "/no/such/log"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing).trim(),
        "error: cannot read /no/such/log: no such log folder"
    );
    let bad_speed = heptaview(&["replay", log.to_str().unwrap(), "--speed", "fast"]);
    assert_eq!(bad_speed.status.code(), Some(2));
}

/// The project's Python tools (scripts/setup.sh installs them).
fn venv_tool(name: &str) -> std::path::PathBuf {
    let tool = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".deps/venv/bin")
        .join(name);
    assert!(
        tool.exists(),
        "{} is missing: run scripts/setup.sh",
        tool.display()
    );
    tool
}

#[test]
fn replay_writes_a_rerun_recording_that_rerun_reads_back_as_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("drive");
    let generated = heptaview(&[
        "generate",
        "--scenario",
        "pedestrian_crossing",
        "--out",
        log.to_str().unwrap(),
        "--width",
        "320",
        "--seconds",
        "0.6",
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    let recording = dir.path().join("run.rrd");
    let report_path = dir.path().join("report.json");
    let output = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--rerun",
        &format!("save:{}", recording.display()),
        "--report",
        report_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("open it with `rerun "),
        "{}",
        stderr(&output)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let logged = &report["rerun"];

    // Rerun's own CLI accepts the file...
    let verify = Command::new(venv_tool("rerun"))
        .args(["rrd", "verify", recording.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));

    // ...and its reader finds what the run says it logged.
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
    let entities = contents["entities"].as_object().unwrap();
    let sum = |suffix: &str, component: &str| -> u64 {
        entities
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, e)| e["instances"][component].as_u64().unwrap_or(0))
            .sum()
    };
    let cameras = [
        "ring_front_center",
        "ring_front_left",
        "ring_front_right",
        "ring_side_left",
        "ring_side_right",
        "ring_rear_left",
        "ring_rear_right",
    ];
    for camera in cameras {
        for part in ["", "/image", "/detections"] {
            let path = format!("/world/ego/cameras/{camera}{part}");
            assert!(
                entities.contains_key(&path),
                "no {path} in {:?}",
                entities.keys()
            );
        }
        // The rig: a transform and a pinhole per camera, logged once.
        assert_eq!(
            entities[&format!("/world/ego/cameras/{camera}")]["static_rows"],
            2
        );
    }
    assert_eq!(
        sum("/image", "EncodedImage:blob"),
        logged["images"].as_u64().unwrap()
    );
    assert_eq!(logged["images"], 42, "6 frame sets of 7 cameras");
    assert_eq!(
        sum("/detections", "Boxes2D:half_sizes"),
        logged["boxes_2d"].as_u64().unwrap()
    );
    assert!(logged["boxes_2d"].as_u64().unwrap() > 0);
    assert_eq!(
        entities["/world/tracks"]["instances"]["Boxes3D:half_sizes"],
        logged["tracks_3d"]
    );
    assert_eq!(
        entities["/world/ground_truth"]["instances"]["Boxes3D:half_sizes"],
        logged["ground_truth_boxes"]
    );
    assert_eq!(
        entities["/decision"]["instances"]["TextLog:text"],
        logged["decisions"]
    );
    for path in [
        "/world/ego/vehicle",
        "/world/ego/corridor",
        "/world/tracks/velocity",
        "/decision/target_speed_mps",
        "/metrics/detect/latency_ms",
        "/metrics/end_to_end_ms",
        "/metrics/queues/compress_to_detect",
    ] {
        assert!(entities.contains_key(path), "no {path}");
    }
    for timeline in ["sensor_time", "frameset"] {
        assert!(
            entities["/decision"]["timelines"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == timeline),
            "{timeline}"
        );
    }
    // The layout travels with it: seven camera views, the 3D view, the log and two plots.
    let blueprints = contents["blueprints"].as_array().unwrap();
    assert_eq!(blueprints.len(), 1);
    let views = blueprints[0]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            let p = p.as_str().unwrap();
            p.starts_with("/view/") && p.matches('/').count() == 2
        })
        .count();
    assert_eq!(views, 11, "{blueprints:?}");

    let bad_target = heptaview(&["replay", log.to_str().unwrap(), "--rerun", "save:"]);
    assert_eq!(bad_target.status.code(), Some(2));
    // A viewer that is not there: one warning, and the run goes on.
    let no_viewer = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--rerun",
        "connect:rerun+http://127.0.0.1:9/proxy",
    ]);
    assert!(no_viewer.status.success(), "{}", stderr(&no_viewer));
    assert_eq!(
        stderr(&no_viewer).matches("no Rerun viewer").count(),
        1,
        "{}",
        stderr(&no_viewer)
    );
}
