//! The `heptaview` binary as a user meets it: help, version, the self-check,
//! generate, detect, replay (report, Rerun recording, configuration), demo
//! and live mode, and one clear error (with the right exit code) for each
//! kind of bad setup or input.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};

use heptaview_calibration::AV2_RING_CAMERAS;

/// Every input frame is accounted for once: processed, skipped as a
/// non-key frame, or dropped with a reason.
fn assert_frames_add_up(frames: &serde_json::Value) {
    let count = |v: &serde_json::Value| v.as_u64().unwrap();
    let dropped: u64 = frames["dropped"]
        .as_object()
        .unwrap()
        .values()
        .map(count)
        .sum();
    assert_eq!(
        count(&frames["input"]),
        count(&frames["processed"]) + count(&frames["skipped_keyframe"]) + dropped,
        "{frames}"
    );
}

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
    let log = small_drive(dir.path(), "256", "0.4");
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
    // The summary ends with a table of the cameras.
    let table: Vec<&str> = summary
        .lines()
        .skip_while(|l| !l.starts_with("camera "))
        .skip(1)
        .take_while(|l| l.starts_with("ring_"))
        .collect();
    assert_eq!(table.len(), 7, "{summary}");
    assert!(
        table[0].starts_with("ring_front_center") && table[0].contains(" 4 "),
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
    let log = small_drive(dir.path(), "320", "0.6");
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
    for camera in AV2_RING_CAMERAS {
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
    // Boxes of confirmed tracks carry the track id (`#7 car 0.81`).
    let with_track: u64 = entities
        .iter()
        .filter(|(path, _)| path.ends_with("/detections"))
        .map(|(_, e)| e["labels_with_track"].as_u64().unwrap_or(0))
        .sum();
    assert!(with_track > 0 && with_track <= logged["boxes_2d"].as_u64().unwrap());
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

/// A generated pedestrian_crossing drive of `seconds` at `width` px in `dir`.
fn small_drive(dir: &std::path::Path, width: &str, seconds: &str) -> std::path::PathBuf {
    let log = dir.join("drive");
    let generated = heptaview(&[
        "generate",
        "--scenario",
        "pedestrian_crossing",
        "--out",
        log.to_str().unwrap(),
        "--width",
        width,
        "--seconds",
        seconds,
    ]);
    assert!(generated.status.success(), "{}", stderr(&generated));
    log
}

#[test]
fn the_printed_default_configuration_runs_and_a_bad_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_drive(dir.path(), "256", "0.3");
    let printed = heptaview(&["config", "--print-default"]);
    assert!(printed.status.success());
    let defaults = stdout(&printed);
    assert!(defaults.contains("[planner]") && defaults.contains("# budget_calls_per_s"));
    // Every-frame detection set by the file, not by a flag.
    let config = dir.path().join("heptaview.toml");
    std::fs::write(
        &config,
        defaults.replace("keyframes = \"auto\"", "keyframes = \"off\""),
    )
    .unwrap();
    let report_path = dir.path().join("report.json");
    let output = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["frames"]["skipped_keyframe"], 0);
    assert_eq!(
        report["inference"]["detector_calls"],
        report["frames"]["input"]
    );

    for (text, words) in [
        (
            "[planner]\ncruise_speed = 3.0\n",
            vec!["cruise_speed", "line 2"],
        ),
        (
            "[planner]\ncruise_speed_mps = \"fast\"\n",
            vec!["line 2", "f64"],
        ),
        (
            "[planner]\ncruise_speed_mps = -3.0\n",
            vec!["planner.cruise_speed_mps"],
        ),
        (
            "[rerun]\nmax_images_per_s = 0.0\n",
            vec!["rerun.max_images_per_s"],
        ),
    ] {
        std::fs::write(&config, text).unwrap();
        let bad = heptaview(&[
            "replay",
            log.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(bad.status.code(), Some(2), "{text}");
        let message = stderr(&bad);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains("heptaview.toml"), "{message}");
        for word in words {
            assert!(message.contains(word), "{word}: {message}");
        }
    }
    let zero_rate = heptaview(&["replay", log.to_str().unwrap(), "--rerun-image-rate", "0"]);
    assert_eq!(zero_rate.status.code(), Some(2));
}

#[test]
fn replay_errors_are_one_line_and_a_corrupt_image_is_a_counted_drop() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_drive(dir.path(), "256", "0.3");

    let not_a_log = dir.path().join("empty");
    std::fs::create_dir(&not_a_log).unwrap();
    let output = heptaview(&["replay", not_a_log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(stderr(&output).contains("empty"), "{}", stderr(&output));

    let unknown_camera = heptaview(&["replay", log.to_str().unwrap(), "--cameras", "ring_roof"]);
    assert_eq!(unknown_camera.status.code(), Some(2));
    assert!(
        stderr(&unknown_camera).contains("ring_roof"),
        "{}",
        stderr(&unknown_camera)
    );

    // One image cut short in the middle of the log.
    let camera = log.join("sensors/cameras/ring_front_center");
    let mut images: Vec<_> = std::fs::read_dir(&camera)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    images.sort();
    let bytes = std::fs::read(&images[1]).unwrap();
    std::fs::write(&images[1], &bytes[..bytes.len() / 2]).unwrap();
    let report_path = dir.path().join("report.json");
    let output = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--report",
        report_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["frames"]["dropped"]["decode_error"], 1);
    assert_eq!(report["frames"]["input"], 21);

    // Unreadable calibration.
    std::fs::write(log.join("calibration/intrinsics.feather"), b"not arrow").unwrap();
    let output = heptaview(&["replay", log.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stderr(&output).lines().count(), 1, "{}", stderr(&output));
    assert!(
        stderr(&output).contains("intrinsics.feather"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn ctrl_c_ends_a_replay_with_a_partial_report_and_a_valid_recording() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_drive(dir.path(), "256", "6");
    let recording = dir.path().join("run.rrd");
    let report_path = dir.path().join("report.json");
    let child = Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args([
            "replay",
            log.to_str().unwrap(),
            "--speed",
            "1",
            "--rerun",
            &format!("save:{}", recording.display()),
            "--report",
            report_path.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once frames flow (the recording grows), wherever the models
    // are in loading on a busy machine.
    let flowing = std::time::Instant::now();
    while std::fs::metadata(&recording).map_or(0, |m| m.len()) < 200_000 {
        assert!(
            flowing.elapsed().as_secs() < 120,
            "no frames after 2 minutes"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["stopped_early"], true);
    let frames = &report["frames"];
    let input = frames["input"].as_u64().unwrap();
    assert!(input > 0 && input < 420, "{frames}");
    assert_frames_add_up(frames);
    let verify = Command::new(venv_tool("rerun"))
        .args(["rrd", "verify", recording.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", stderr(&verify));
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

/// The fixture street clip (384x288, 10 fps, 5 s) and a rig scaled to its width.
fn video_and_rig(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let video = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/videos/vtest_clip.avi");
    let rig = dir.join("rig.toml");
    heptaview_calibration::argoverse2_rig()
        .unwrap()
        .scaled_to_width(384)
        .unwrap()
        .save(&rig)
        .unwrap();
    (video, rig)
}

#[test]
fn live_runs_seven_video_cameras_and_reports_a_camera_that_never_comes() {
    let dir = tempfile::tempdir().unwrap();
    let (video, rig) = video_and_rig(dir.path());
    let report_path = dir.path().join("live.json");
    let recording = dir.path().join("live.rrd");
    let video = video.to_str().unwrap();
    let mut args = vec![
        "live".to_owned(),
        "--rig".to_owned(),
        rig.to_str().unwrap().to_owned(),
        "--duration".to_owned(),
        "4".to_owned(),
        "--rerun".to_owned(),
        format!("save:{}", recording.display()),
        "--report".to_owned(),
        report_path.to_str().unwrap().to_owned(),
    ];
    for camera in AV2_RING_CAMERAS
        .iter()
        .filter(|c| **c != "ring_front_center")
    {
        args.push("--camera".to_owned());
        args.push(format!("{camera}={video}"));
    }
    // The camera ahead points at a stream that is not there.
    args.push("--camera".to_owned());
    args.push("ring_front_center=http://127.0.0.1:9/none.mjpg".to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = heptaview(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_eq!(report["mode"], "live");
    let frames = &report["frames"];
    let input = frames["input"].as_u64().unwrap();
    assert_frames_add_up(frames);
    // Six cameras at 10 fps for about 4 s (capture does not wait for the
    // pipeline, whatever the machine's load).
    assert!(input > 100, "{frames}");
    let health = &report["cameras_health"];
    // How many of them made it into frame sets depends on the machine's
    // speed (latest-wins queues): some did.
    assert!(
        health["ring_front_left"]["frames"].as_u64().unwrap() > 0,
        "{health}"
    );
    assert_eq!(health["ring_front_left"]["down_events"], 0, "{health}");
    assert_eq!(health["ring_front_center"]["frames"], 0, "{health}");
    assert!(
        health["ring_front_center"]["down_events"].as_u64().unwrap() >= 1,
        "{health}"
    );
    assert!(
        health["ring_front_center"]["down_s"].as_f64().unwrap() > 3.0,
        "{health}"
    );
    // Without the camera ahead the car slows down and says why.
    let decisions = report["decisions"].as_array().unwrap();
    assert!(!decisions.is_empty());
    assert!(
        decisions
            .iter()
            .all(|d| d["action"] != "CRUISE"
                && d["reasons"].to_string().contains("ring_front_center")),
        "{decisions:?}"
    );
    assert!(report["latency_ms"]["end_to_end"]["p99"].as_f64().unwrap() > 0.0);
    // The viewer's text log says which camera is missing.
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
    let status = &contents["entities"]["/cameras/ring_front_center"];
    assert_eq!(status["instances"]["TextLog:text"], 1, "{status}");
    assert!(
        contents["entities"]
            .get("/cameras/ring_front_left")
            .is_none()
    );

    let missing = heptaview(&[
        "live",
        "--rig",
        rig.to_str().unwrap(),
        "--camera",
        &format!("ring_front_left={video}"),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("no source for rig camera"),
        "{}",
        stderr(&missing)
    );
}

/// An IP camera on loopback: scripts/mjpeg_server.py serving the fixture
/// video as HTTP MJPEG. Killed when dropped.
struct MjpegCamera {
    child: std::process::Child,
    port: u16,
}

impl MjpegCamera {
    /// `save_frames`: where the server writes the JPEG files it serves.
    fn start(video: &std::path::Path, port: u16, save_frames: Option<&std::path::Path>) -> Self {
        use std::io::BufRead;
        let mut server = Command::new(venv_tool("python"));
        server
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/mjpeg_server.py"
            ))
            .arg(video)
            .arg(port.to_string());
        if let Some(dir) = save_frames {
            server.arg("--save-frames").arg(dir);
        }
        let mut child = server.stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split(':')
            .nth(2)
            .and_then(|rest| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in `{line}`"));
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }
}

impl Drop for MjpegCamera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn live_over_seven_loopback_mjpeg_cameras_survives_one_going_away_and_its_recording_replays() {
    let dir = tempfile::tempdir().unwrap();
    let (video, rig) = video_and_rig(dir.path());
    let names = AV2_RING_CAMERAS;
    // Every server serves the same JPEG files (the same encoder on the same video).
    let served = dir.path().join("served");
    let mut cameras: Vec<MjpegCamera> = names
        .iter()
        .enumerate()
        .map(|(i, _)| MjpegCamera::start(&video, 0, (i == 0).then_some(served.as_path())))
        .collect();
    let report_path = dir.path().join("live.json");
    let recording = dir.path().join("recorded");
    let live_detections = dir.path().join("live.jsonl");
    let mut args = vec![
        "live".to_owned(),
        "--rig".to_owned(),
        rig.to_str().unwrap().to_owned(),
        "--duration".to_owned(),
        "10".to_owned(),
        "--record".to_owned(),
        recording.to_str().unwrap().to_owned(),
        "--report".to_owned(),
        report_path.to_str().unwrap().to_owned(),
        "--detections".to_owned(),
        live_detections.to_str().unwrap().to_owned(),
    ];
    for (name, camera) in names.iter().zip(&cameras) {
        args.push("--camera".to_owned());
        args.push(format!("{name}={}", camera.url()));
    }
    let live = Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once frames are being recorded, one camera goes away for 2 s.
    let side_left = recording.join("sensors/cameras/ring_side_left");
    let waiting = std::time::Instant::now();
    while std::fs::read_dir(&side_left).map_or(0, |d| d.count()) < 10 {
        assert!(waiting.elapsed().as_secs() < 120, "no frames recorded");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let port = cameras[3].port;
    drop(cameras.remove(3));
    std::thread::sleep(std::time::Duration::from_secs(2));
    cameras.insert(3, MjpegCamera::start(&video, port, None));

    let output = live.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let health = &report["cameras_health"];
    let side = &health["ring_side_left"];
    assert!(side["down_events"].as_u64().unwrap() >= 1, "{health}");
    assert!(side["down_s"].as_f64().unwrap() >= 1.0, "{health}");
    assert_eq!(health["ring_front_center"]["down_events"], 0, "{health}");
    let frames = &report["frames"];
    let input = frames["input"].as_u64().unwrap();
    assert_frames_add_up(frames);
    let p99 = report["latency_ms"]["end_to_end"]["p99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 10_000.0, "p99 {p99} ms");
    // The camera came back well before the end of the 10 s run.
    assert!(side["down_s"].as_f64().unwrap() < 7.0, "{health}");

    // Every frame that came in was recorded, and the recording replays.
    let recorded: usize = names
        .iter()
        .map(|n| {
            std::fs::read_dir(recording.join("sensors/cameras").join(n))
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(recorded as u64, input, "recorded {recorded} of {input}");
    // MJPEG passes through: the recording holds the cameras' own bytes.
    let served: std::collections::HashSet<Vec<u8>> = std::fs::read_dir(&served)
        .unwrap()
        .map(|f| std::fs::read(f.unwrap().path()).unwrap())
        .collect();
    for name in names {
        for file in std::fs::read_dir(recording.join("sensors/cameras").join(name)).unwrap() {
            let path = file.unwrap().path();
            assert!(
                served.contains(&std::fs::read(&path).unwrap()),
                "{} is not a JPEG the camera served",
                path.display()
            );
        }
    }

    // The recording replays, and every frame live mode detected gets the
    // same detections in the replay.
    let replay_report = dir.path().join("replay.json");
    let replay_detections = dir.path().join("replay.jsonl");
    let replayed = heptaview(&[
        "replay",
        recording.to_str().unwrap(),
        "--keyframes",
        "off",
        "--report",
        replay_report.to_str().unwrap(),
        "--detections",
        replay_detections.to_str().unwrap(),
    ]);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
    let replay: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&replay_report).unwrap()).unwrap();
    assert_eq!(replay["frames"]["input"], input);
    let live = detections_by_frame(&live_detections);
    let replay = detections_by_frame(&replay_detections);
    assert!(live.len() > 10, "only {} frames detected live", live.len());
    let mut boxes = 0;
    for (frame, live_boxes) in &live {
        let replay_boxes = replay
            .get(frame)
            .unwrap_or_else(|| panic!("{frame:?} was detected live, not in the replay"));
        assert_same_detections(frame, live_boxes, replay_boxes);
        boxes += live_boxes.len();
    }
    assert!(boxes > 0, "live mode detected nothing to compare");
}

/// `--detections` JSON lines by (camera, timestamp_ns).
fn detections_by_frame(
    path: &std::path::Path,
) -> std::collections::BTreeMap<(String, u64), Vec<serde_json::Value>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let frame: serde_json::Value = serde_json::from_str(line).unwrap();
            let key = (
                frame["camera"].as_str().unwrap().to_owned(),
                frame["timestamp_ns"].as_u64().unwrap(),
            );
            (key, frame["detections"].as_array().unwrap().clone())
        })
        .collect()
}

/// Same classes and attributes; scores and boxes equal up to the rounding
/// that a different batch of crops or thread schedule can cause.
fn assert_same_detections(
    frame: &(String, u64),
    live: &[serde_json::Value],
    replay: &[serde_json::Value],
) {
    assert_eq!(
        live.len(),
        replay.len(),
        "{frame:?}: {live:?} vs {replay:?}"
    );
    for (a, b) in live.iter().zip(replay) {
        assert_eq!(a["class"], b["class"], "{frame:?}");
        assert_eq!(
            a["attributes"]["subtype"], b["attributes"]["subtype"],
            "{frame:?}"
        );
        let close = |x: &serde_json::Value, y: &serde_json::Value, tolerance: f64| {
            (x.as_f64().unwrap() - y.as_f64().unwrap()).abs() <= tolerance
        };
        assert!(
            close(&a["score"], &b["score"], 1e-3),
            "{frame:?}: {a} vs {b}"
        );
        for i in 0..4 {
            assert!(
                close(&a["box"][i], &b["box"][i], 0.05),
                "{frame:?}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn bench_measures_both_key_frame_modes_against_onnxruntime_alone() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    // The generated default, shortened: one second of urban_mixed at 20 fps.
    let output = heptaview(&["bench", "--seconds", "1", "--json", json.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    for row in [
        "frame sets/s",
        "pipeline_efficiency",
        "keyframe_speedup",
        "peak RSS MB",
    ] {
        assert!(table.contains(row), "{row} missing from\n{table}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["log"]["cameras"], 7);
    let frames = report["log"]["frames"].as_u64().unwrap();
    assert_eq!(frames, 7 * 20, "{report}");
    let (off, auto) = (&report["keyframes_off"], &report["keyframes_auto"]);
    // Every frame detected without key frames, fewer with; each detected
    // frame is one detector call, in the pipeline and in the reference.
    assert_eq!(off["frames_processed"].as_u64().unwrap(), frames);
    let auto_processed = auto["frames_processed"].as_u64().unwrap();
    assert!(auto_processed < frames, "{auto}");
    assert_eq!(
        auto_processed + auto["frames_skipped_keyframe"].as_u64().unwrap(),
        frames
    );
    for mode in [off, auto] {
        assert_eq!(mode["detector_calls"], mode["frames_processed"], "{mode}");
        for field in [
            "framesets_per_s",
            "onnxruntime_alone_frames_per_s",
            "pipeline_efficiency",
            "latency_ms_p99",
        ] {
            let value = mode[field].as_f64().unwrap();
            assert!(value.is_finite() && value > 0.0, "{field} {value}");
        }
    }
    let recall = report["keyframe_recall"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&recall), "{recall}");
    assert!(report["keyframe_speedup"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_names_a_log_folder_that_is_not_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = heptaview(&["bench", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(dir.path().to_str().unwrap()),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sharded_replay_of_several_logs_merges_to_the_same_totals_as_one_process() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let scenarios = ["clear_road", "pedestrian_crossing", "cut_in"];
    for scenario in scenarios {
        let generated = heptaview(&[
            "generate",
            "--scenario",
            scenario,
            "--out",
            logs.join(scenario).to_str().unwrap(),
            "--width",
            "320",
            "--seconds",
            "1.5",
        ]);
        assert!(generated.status.success(), "{}", stderr(&generated));
    }
    // Paths relative to the list's folder, with a comment and a blank line.
    let list = logs.join("list.txt");
    std::fs::write(
        &list,
        "# three drives\nclear_road\n\npedestrian_crossing\ncut_in\n",
    )
    .unwrap();
    let replay_args = |out: &std::path::Path, shard: &str| -> Vec<String> {
        [
            "replay",
            "--logs",
            list.to_str().unwrap(),
            "--shard",
            shard,
            "--out",
            out.to_str().unwrap(),
            "--keyframes",
            "off",
            "--eval",
        ]
        .map(str::to_owned)
        .to_vec()
    };

    // One process over every log.
    let single = dir.path().join("single");
    let output = heptaview(
        &replay_args(&single, "0/1")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(&single).unwrap().count(), 3);

    // Two processes side by side, each with its own folder.
    let sharded = dir.path().join("sharded");
    let shards: Vec<std::process::Child> = (0..2)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_heptaview"))
                .args(replay_args(
                    &sharded.join(format!("shard-{i}")),
                    &format!("{i}/2"),
                ))
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for shard in shards {
        let output = shard.wait_with_output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert_eq!(
        std::fs::read_dir(sharded.join("shard-0")).unwrap().count(),
        2
    );
    assert_eq!(
        std::fs::read_dir(sharded.join("shard-1")).unwrap().count(),
        1
    );

    let merge = |reports: &std::path::Path| -> serde_json::Value {
        let out = dir.path().join(format!(
            "{}.json",
            reports.file_name().unwrap().to_string_lossy()
        ));
        let output = heptaview(&[
            "report",
            "merge",
            reports.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
    };
    let (one, many) = (merge(&single), merge(&sharded));
    assert_eq!(one["merged_reports"], 3);
    assert_frames_add_up(&one["frames"]);
    for field in [
        "/inputs",
        "/framesets",
        "/frames",
        "/inference",
        "/compression",
        "/decisions",
        "/cameras_health",
        "/latency_ms/end_to_end/count",
        "/eval/detection",
        "/eval/decision_agreement",
        "/eval/bev_error_m",
    ] {
        assert_eq!(one.pointer(field), many.pointer(field), "{field}");
        assert!(
            one.pointer(field).is_some_and(|v| !v.is_null()),
            "{field} missing"
        );
    }
    let frames = one["frames"]["input"].as_u64().unwrap();
    assert_eq!(frames, 3 * 15 * 7, "three 1.5 s drives at 10 fps");
    // The merged detection tallies are the sum of the runs' own.
    let runs: Vec<serde_json::Value> = std::fs::read_dir(&single)
        .unwrap()
        .map(|entry| {
            serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap()
        })
        .collect();
    for field in ["true_positives", "false_negatives", "false_positives"] {
        let summed: u64 = runs
            .iter()
            .map(|r| r["eval"]["detection"][field].as_u64().unwrap())
            .sum();
        assert_eq!(one["eval"]["detection"]["total"][field], summed, "{field}");
    }
    assert!(
        one["eval"]["detection"]["total"]["true_positives"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn a_bad_shard_or_log_list_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.txt");
    std::fs::write(&list, "# nothing\n").unwrap();
    let out = dir.path().join("out");
    let (list, out) = (list.to_str().unwrap(), out.to_str().unwrap());
    let bad_shard = heptaview(&["replay", "--logs", list, "--out", out, "--shard", "2/2"]);
    assert_eq!(bad_shard.status.code(), Some(2));
    assert!(
        stderr(&bad_shard).contains("0 <= I < N"),
        "{}",
        stderr(&bad_shard)
    );
    let empty = heptaview(&["replay", "--logs", list, "--out", out]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(
        stderr(&empty).contains("lists no logs"),
        "{}",
        stderr(&empty)
    );
    assert!(stderr(&empty).contains(list), "{}", stderr(&empty));
}

/// A free TCP port on loopback (bound and released; the OS hands ports out
/// in turn, so it stays free for the moment the test needs it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `heptaview camera-node` publishing `cameras` from the fixture video.
fn camera_node(video: &std::path::Path, endpoint: &str, cameras: &[&str]) -> std::process::Child {
    let mut args = vec![
        "camera-node".to_owned(),
        "--endpoint".to_owned(),
        endpoint.to_owned(),
        "--vehicle".to_owned(),
        "testcar".to_owned(),
    ];
    for camera in cameras {
        args.push("--camera".to_owned());
        args.push(format!("{camera}={}", video.display()));
    }
    Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn live_over_zenoh_camera_nodes_survives_a_node_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (video, rig) = video_and_rig(dir.path());
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let report_path = dir.path().join("live.json");
    let recording = dir.path().join("recorded");
    let perception = Command::new(env!("CARGO_BIN_EXE_heptaview"))
        .args([
            "live",
            "--source",
            "zenoh",
            "--endpoint",
            &endpoint,
            "--vehicle",
            "testcar",
            "--rig",
            rig.to_str().unwrap(),
            "--duration",
            "12",
            "--record",
            recording.to_str().unwrap(),
            "--report",
            report_path.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Two camera computers: the front four cameras, and the other three.
    let (front, back) = AV2_RING_CAMERAS.split_at(4);
    let mut front_node = camera_node(&video, &endpoint, front);
    let back_node = camera_node(&video, &endpoint, back);
    // Once frames flow, the back node goes away for 2 s and comes back.
    let rear = recording.join("sensors/cameras").join(back[0]);
    let waiting = std::time::Instant::now();
    while std::fs::read_dir(&rear).map_or(0, |d| d.count()) < 10 {
        assert!(
            waiting.elapsed().as_secs() < 60,
            "no frames from the back node"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut back_node = back_node;
    back_node.kill().unwrap();
    back_node.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let mut back_node = camera_node(&video, &endpoint, back);

    let output = perception.wait_with_output().unwrap();
    for node in [&mut front_node, &mut back_node] {
        let _ = node.kill();
        let _ = node.wait();
    }
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    let health = &report["cameras_health"];
    for camera in back {
        assert!(
            health[camera]["down_events"].as_u64().unwrap() >= 1,
            "{health}"
        );
        let down = health[camera]["down_s"].as_f64().unwrap();
        assert!(
            (1.0..8.0).contains(&down),
            "{camera} down {down} s: {health}"
        );
    }
    for camera in front {
        assert_eq!(health[camera]["down_events"], 0, "{health}");
    }
    // Every frame that arrived is accounted for; gaps are counted as drops.
    let frames = &report["frames"];
    assert_frames_add_up(frames);
    assert!(frames["dropped"]["transport_gap"].is_u64(), "{frames}");
    let transport = &report["transport"];
    assert_eq!(transport["kind"], "zenoh");
    for camera in back {
        assert!(
            transport["restarts"][camera].as_u64().unwrap() >= 1,
            "{transport}"
        );
    }
    let received: u64 = transport["received"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let gaps: u64 = transport["gaps"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        frames["input"].as_u64().unwrap(),
        received + gaps,
        "{frames} {transport}"
    );
    // What arrived was recorded, and the recording replays.
    let recorded: u64 = AV2_RING_CAMERAS
        .iter()
        .map(|n| {
            std::fs::read_dir(recording.join("sensors/cameras").join(n))
                .unwrap()
                .count() as u64
        })
        .sum();
    assert_eq!(recorded, received);
    let replayed = heptaview(&["replay", recording.to_str().unwrap()]);
    assert!(replayed.status.success(), "{}", stderr(&replayed));
}

/// Two network namespaces joined by a veth pair, removed when dropped.
struct Namespaces {
    names: [String; 2],
}

impl Namespaces {
    /// `None` (and why) where this test may not create them.
    fn create() -> Result<Self, String> {
        let run = |args: &[&str]| -> Result<(), String> {
            let output = Command::new("ip")
                .args(args)
                .output()
                .map_err(|e| format!("ip: {e}"))?;
            if output.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&output.stderr).trim()
                ))
            }
        };
        let id = std::process::id() % 100_000;
        let names = [format!("hv-cam-{id}"), format!("hv-perc-{id}")];
        run(&["netns", "add", &names[0]])?;
        let spaces = Self { names };
        run(&["netns", "add", &spaces.names[1]])?;
        let (cam_if, perc_if) = (format!("hvc{id}"), format!("hvp{id}"));
        run(&[
            "link", "add", &cam_if, "type", "veth", "peer", "name", &perc_if,
        ])?;
        for (space, interface, address) in [
            (&spaces.names[0], &cam_if, "10.77.0.1/24"),
            (&spaces.names[1], &perc_if, "10.77.0.2/24"),
        ] {
            run(&["link", "set", interface, "netns", space])?;
            run(&["-n", space, "addr", "add", address, "dev", interface])?;
            run(&["-n", space, "link", "set", interface, "up"])?;
            run(&["-n", space, "link", "set", "lo", "up"])?;
        }
        Ok(spaces)
    }

    /// `heptaview ARGS` inside namespace `index`.
    fn heptaview(&self, index: usize, args: &[String]) -> Command {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.names[index]])
            .arg(env!("CARGO_BIN_EXE_heptaview"))
            .args(args);
        command
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.names {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

#[test]
fn zenoh_carries_the_cameras_between_two_network_namespaces() {
    let spaces = match Namespaces::create() {
        Ok(spaces) => spaces,
        Err(why) => {
            // Creating namespaces needs root (CAP_SYS_ADMIN); say why not.
            eprintln!("skipped: cannot create network namespaces here ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (video, rig) = video_and_rig(dir.path());
    let report_path = dir.path().join("live.json");
    let endpoint = "tcp/10.77.0.2:7447".to_owned();
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let perception = spaces
        .heptaview(
            1,
            &owned(&[
                "live",
                "--source",
                "zenoh",
                "--endpoint",
                &endpoint,
                "--rig",
                rig.to_str().unwrap(),
                "--duration",
                "8",
                "--report",
                report_path.to_str().unwrap(),
            ]),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut node_args = owned(&["camera-node", "--endpoint", &endpoint, "--duration", "10"]);
    for camera in AV2_RING_CAMERAS {
        node_args.push("--camera".to_owned());
        node_args.push(format!("{camera}={}", video.display()));
    }
    let mut node = spaces
        .heptaview(0, &node_args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let output = perception.wait_with_output().unwrap();
    let _ = node.kill();
    let _ = node.wait();
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    assert_frames_add_up(&report["frames"]);
    for camera in AV2_RING_CAMERAS {
        let received = report["transport"]["received"][camera]
            .as_u64()
            .unwrap_or(0);
        assert!(received > 10, "{camera}: {}", report["transport"]);
    }
}
