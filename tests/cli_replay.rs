//! `heptaview replay` and `heptaview report merge`: a balanced report, a
//! Rerun recording read back by Rerun, the configuration file, errors and
//! counted drops, Ctrl-C, and sharded runs that merge to one process's totals.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use heptaview_calibration::AV2_RING_CAMERAS;

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
    // At max speed the source runs ahead: the latency is labelled as queued.
    assert_eq!(report["paced"], false);
    assert!(
        summary.contains("queued behind a max-speed source"),
        "{summary}"
    );

    // At recorded pace (here twice as fast) frames are stamped when due and
    // the latency is camera to decision; the same frames are accounted for.
    let paced_path = dir.path().join("paced.json");
    let paced = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--keyframes",
        "off",
        "--speed",
        "2",
        "--report",
        paced_path.to_str().unwrap(),
    ]);
    assert!(paced.status.success(), "{}", stderr(&paced));
    assert!(
        stderr(&paced).contains("latency camera to decision: p50"),
        "{}",
        stderr(&paced)
    );
    let paced: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paced_path).unwrap()).unwrap();
    assert_eq!(paced["paced"], true);
    assert_eq!(paced["frames"], report["frames"]);
    assert_eq!(paced["decisions"], report["decisions"]);

    let missing = heptaview(&["replay", "/no/such/log"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing).trim(),
        "error: cannot read /no/such/log: no such log file or folder"
    );
    let bad_speed = heptaview(&["replay", log.to_str().unwrap(), "--speed", "fast"]);
    assert_eq!(bad_speed.status.code(), Some(2));
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
    // Classes are named and coloured by the annotation context at the
    // world root, and every box refers to it by class id.
    assert!(
        entities["/world"]["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "AnnotationContext:context")
    );
    assert_eq!(
        sum("/detections", "Boxes2D:class_ids"),
        sum("/detections", "Boxes2D:half_sizes")
    );
    assert_eq!(
        entities["/world/tracks"]["instances"]["Boxes3D:class_ids"],
        logged["tracks_3d"]
    );
    assert!(entities.contains_key("/decision/ego_speed_mps"));
    // One box per object in each image: no track drawn twice in one camera.
    for camera in AV2_RING_CAMERAS {
        let read = Command::new(venv_tool("python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/read_rerun_recording.py"
            ))
            .arg(&recording)
            .arg("--boxes2d")
            .arg(format!("/world/ego/cameras/{camera}/detections"))
            .output()
            .unwrap();
        assert!(read.status.success(), "{}", stderr(&read));
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&read.stdout).unwrap();
        for row in rows {
            let mut tracks: Vec<&str> = row["labels"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|label| label.as_str()?.split_whitespace().next())
                .map(|first| first.trim_start_matches('~'))
                .filter(|first| first.starts_with('#'))
                .collect();
            let boxes = tracks.len();
            tracks.sort_unstable();
            tracks.dedup();
            assert_eq!(tracks.len(), boxes, "{camera}: {row}");
        }
    }
    // Every camera's health is in the log from its first frame.
    for camera in AV2_RING_CAMERAS {
        assert_eq!(
            entities[&format!("/cameras/{camera}")]["instances"]["TextLog:text"],
            1
        );
    }

    // The layout travels with it: seven camera views, the top-down view,
    // the log and five plots.
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
    assert_eq!(views, 14, "{blueprints:?}");
    let read = Command::new(venv_tool("python"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/read_rerun_recording.py"
        ))
        .arg(&recording)
        .arg("--blueprint")
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", stderr(&read));
    let blueprint: serde_json::Value = serde_json::from_slice(&read.stdout).unwrap();
    let blueprint = blueprint.as_object().unwrap();
    // Opens on frame sets, time panel collapsed (2), side panels too.
    assert_eq!(
        blueprint["/time_panel"]["TimePanelBlueprint:timeline"],
        serde_json::json!(["frameset"])
    );
    for panel in ["/time_panel", "/blueprint_panel", "/selection_panel"] {
        let state = blueprint[panel]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.ends_with(":state"))
            .unwrap()
            .1;
        assert_eq!(state, &serde_json::json!([2]), "{panel}");
    }
    let view_named = |name: &str| -> String {
        blueprint
            .iter()
            .find(|(_, c)| c["ViewBlueprint:display_name"] == serde_json::json!([name]))
            .unwrap_or_else(|| panic!("no view {name}"))
            .0
            .clone()
    };
    // Each camera view shows its own subtree: the image, the boxes, and the
    // tracks and truth drawn into it as wireframes through its lens.
    for camera in AV2_RING_CAMERAS {
        let view = view_named(camera);
        assert_eq!(
            blueprint[&view]["ViewBlueprint:space_origin"],
            serde_json::json!([format!("/world/ego/cameras/{camera}")])
        );
        let queries = &blueprint[&format!("{view}/ViewContents")]["ViewContents:query"];
        assert_eq!(queries, &serde_json::json!(["$origin/**"]), "{camera}");
        for drawn in ["tracks", "ground_truth"] {
            let path = format!("/world/ego/cameras/{camera}/{drawn}");
            assert!(
                entities[&path]["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c == "LineStrips2D:strips"),
                "{path}: {}",
                entities[&path]
            );
        }
    }
    // The top-down view has its eye above the ego frame; TTC has a y range.
    let top_down = view_named("top-down (ego frame)");
    let eye = &blueprint[&format!("{top_down}/EyeControls3D")];
    assert!(eye["EyeControls3D:position"][0][2].as_f64().unwrap() > 50.0);
    let ttc = view_named("min time to collision (s)");
    assert_eq!(
        blueprint[&format!("{ttc}/ScalarAxis")]["ScalarAxis:range"],
        serde_json::json!([[0.0, 10.0]])
    );
    // The log's queries match what was logged (`/cameras/<name>` included).
    let log_view = view_named("decisions and camera health");
    assert_eq!(
        blueprint[&format!("{log_view}/ViewContents")]["ViewContents:query"],
        serde_json::json!(["/decision", "/cameras/**"])
    );

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
        // A model is named, never a path.
        (
            "[detector]\nmodel = \"../models/nanodet\"\n",
            vec!["detector.model", "not a model name"],
        ),
        (
            "classifier_model = \"/tmp/efficientnet_lite0\"\n",
            vec!["classifier_model", "not a model name"],
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
    std::fs::write(&config, "[detector]\nmodel = \"yolo\"\n").unwrap();
    let unknown_model = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(unknown_model.status.code(), Some(2));
    assert!(
        stderr(&unknown_model).contains("no models/yolo.toml")
            && stderr(&unknown_model).contains("nanodet_int8"),
        "{}",
        stderr(&unknown_model)
    );
    std::fs::write(&config, "classifier_model = \"resnet50\"\n").unwrap();
    let unknown_classifier = heptaview(&[
        "replay",
        log.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(unknown_classifier.status.code(), Some(2));
    assert!(
        stderr(&unknown_classifier).contains("classifier_model `resnet50`")
            && stderr(&unknown_classifier).contains("efficientnet_lite0_int8"),
        "{}",
        stderr(&unknown_classifier)
    );
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

#[test]
fn a_pool_of_detector_workers_gives_the_same_detections_in_the_same_order_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_drive(dir.path(), "320", "1.0");
    let mut written = Vec::new();
    for workers in [1, 3] {
        let config = dir.path().join(format!("workers{workers}.toml"));
        std::fs::write(&config, format!("detector_workers = {workers}\n")).unwrap();
        let detections = dir.path().join(format!("workers{workers}.jsonl"));
        let run = heptaview(&[
            "replay",
            log.to_str().unwrap(),
            "--keyframes",
            "off",
            "--config",
            config.to_str().unwrap(),
            "--detections",
            detections.to_str().unwrap(),
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        written.push(std::fs::read_to_string(&detections).unwrap());
    }
    // Every frame of the drive, each a line.
    let frames: usize = AV2_RING_CAMERAS
        .iter()
        .map(|camera| {
            std::fs::read_dir(log.join("sensors/cameras").join(camera))
                .unwrap()
                .count()
        })
        .sum();
    assert!(frames >= 7 * 10, "{frames}");
    assert_eq!(written[0].lines().count(), frames, "{}", written[0]);
    assert_eq!(written[0], written[1]);
}
