//! `heptaview live` and `heptaview camera-node`: video files and loopback
//! MJPEG cameras, a camera that never comes or goes away, recordings that
//! replay to the same detections, camera nodes over Zenoh (restarted, and
//! across network namespaces).

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::*;
use heptaview_calibration::AV2_RING_CAMERAS;

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
    let status_log = |camera: &str| -> Vec<serde_json::Value> {
        let read = Command::new(venv_tool("python"))
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/read_rerun_recording.py"
            ))
            .arg(&recording)
            .arg("--text")
            .arg(format!("/cameras/{camera}"))
            .output()
            .unwrap();
        assert!(read.status.success(), "{}", stderr(&read));
        serde_json::from_slice(&read.stdout).unwrap()
    };
    let missing_camera = status_log("ring_front_center");
    assert_eq!(missing_camera.len(), 1, "{missing_camera:?}");
    assert_eq!(
        missing_camera[0]["text"],
        "ring_front_center: camera missing from frame sets"
    );
    assert_eq!(missing_camera[0]["level"], "WARN");
    // A camera that delivers says so with its first frame set. (Live mode
    // runs on wall time: a loaded machine may also see it late at times.)
    let healthy = status_log("ring_front_left");
    assert_eq!(healthy[0]["text"], "ring_front_left: camera delivering");
    assert_eq!(healthy[0]["level"], "INFO");
    assert_eq!(
        contents["entities"]["/cameras/ring_front_center"]["instances"]["TextLog:text"],
        1
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
    let replay_record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&replay_report).unwrap()).unwrap();
    assert_eq!(replay_record["frames"]["input"], input);
    let live = detections_by_frame(&live_detections);
    let replay = detections_by_frame(&replay_detections);
    assert!(live.len() > 10, "only {} frames detected live", live.len());
    let mut boxes = 0;
    for (frame, live_boxes) in &live {
        let replay_boxes = replay
            .get(frame)
            .unwrap_or_else(|| {
                // The replay's drops and grouping tell why, e.g. a camera's
                // two frames read back to back after a stall (stamped on
                // arrival) fall in one cycle and the second is a duplicate.
                panic!(
                    "{frame:?} was detected live, not in the replay; replay frames {}, sync {}; live frames {}",
                    replay_record["frames"], replay_record["sync"], report["frames"]
                )
            });
        assert_same_detections(frame, live_boxes, replay_boxes);
        boxes += live_boxes.len();
    }
    assert!(boxes > 0, "live mode detected nothing to compare");
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
