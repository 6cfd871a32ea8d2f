//! `heptaview bench`: both key-frame modes against ONNX Runtime alone, and a
//! clear error for a folder that is not a log.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;

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
fn bench_realtime_replays_at_recorded_pace_with_a_shipped_preset() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let preset = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/realtime-2core-int8.toml"
    );
    let output = heptaview(&[
        "bench",
        "--seconds",
        "2",
        "--realtime",
        "--config",
        preset,
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("realtime_factor"),
        "{}",
        stdout(&output)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // The preset's detector and workers are the ones measured.
    assert_eq!(report["detector"], "nanodet_int8");
    assert_eq!(report["detector_workers"], 2);
    assert_eq!(report["classifier"], "efficientnet_lite0_int8");
    // The preset's detector-call budget limits the key-frame run only: the
    // every-frame reference that keyframe_recall is measured against
    // detects every frame.
    assert_eq!(
        report["keyframes_off"]["detector_calls"],
        report["log"]["frames"]
    );
    assert!(
        report["keyframes_auto"]["detector_calls"].as_u64().unwrap()
            < report["log"]["frames"].as_u64().unwrap()
    );
    let realtime = &report["realtime"];
    // The generated default runs its cameras at 20 frames/s.
    let rate = realtime["log_framesets_per_s"].as_f64().unwrap();
    assert!((rate - 20.0).abs() < 0.2, "{realtime}");
    let sustained = realtime["sustained_framesets_per_s"].as_f64().unwrap();
    assert_eq!(
        sustained,
        report["keyframes_auto"]["framesets_per_s"]
            .as_f64()
            .unwrap()
    );
    let factor = realtime["realtime_factor"].as_f64().unwrap();
    assert!((factor - sustained / rate).abs() < 1e-9, "{realtime}");
    for field in [
        "paced_latency_ms_p50",
        "paced_latency_ms_p99",
        "steady_latency_ms_p99",
        "first_decision_ms",
        "warm_up_latency_ms_max",
    ] {
        let value = realtime[field].as_f64().unwrap();
        assert!(value.is_finite() && value > 0.0, "{field} {value}");
    }
    assert!(
        realtime["paced_latency_ms_p50"].as_f64().unwrap()
            <= realtime["paced_latency_ms_p99"].as_f64().unwrap()
    );
    // The first decision is one of the first second's latencies.
    assert!(
        realtime["first_decision_ms"].as_f64().unwrap()
            <= realtime["warm_up_latency_ms_max"].as_f64().unwrap()
    );
    // Paced replay is still lossless: every frame accounted, none dropped.
    assert_eq!(realtime["paced_dropped"], 0);
    // Recorded pace: the two-second drive takes about two seconds, not less.
    assert!(
        realtime["paced_wall_s"].as_f64().unwrap() >= 1.9,
        "{realtime}"
    );
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
