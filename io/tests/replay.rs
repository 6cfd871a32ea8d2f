//! Replays of generated seven-camera logs: every frame accounted for in
//! every mode, deterministic detections, clean early stop.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_io::replay::ReplayOptions;
use heptaview_io::replay::replay_log;
use heptaview_perception::config::KeyframeMode;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::record::RunRecord;
use heptaview_perception::types::FrameSet;
use heptaview_perception::types::SlotStatus;
use heptaview_runtime::edge::Backpressure;
use heptaview_runtime::threads::Control;

fn small_log(dir: &Path, seconds: f64) -> PathBuf {
    let out = dir.join("log");
    let options = GenerateOptions {
        width_px: 256,
        seconds: Some(seconds),
        ..GenerateOptions::new("urban_mixed", &out)
    };
    generate(options, &mut |_, _| {}).unwrap();
    out
}

fn options(keyframes: KeyframeMode) -> ReplayOptions {
    let mut config = PipelineConfig::default();
    config.compress.keyframes = keyframes;
    config.session.intra_threads = 1;
    ReplayOptions::whole_log(config)
}

/// Per frame set: per camera, (status, detections as class + rounded box).
type Outcome = Vec<Vec<(SlotStatus, Vec<(String, [i32; 4])>)>>;

fn run(log: &Path, options: &ReplayOptions) -> (RunRecord, Outcome) {
    let mut outcome = Vec::new();
    let report = replay_log(
        log,
        options,
        Arc::new(Control::default()),
        &mut |set: &FrameSet, _| {
            outcome.push(
                set.slots
                    .iter()
                    .map(|s| {
                        let found = s
                            .detections
                            .iter()
                            .map(|d| {
                                (
                                    d.detection.class.clone(),
                                    d.detection.bbox.map(|v| v.round() as i32),
                                )
                            })
                            .collect();
                        (s.status, found)
                    })
                    .collect(),
            );
        },
    )
    .unwrap();
    (report, outcome)
}

fn assert_balanced(report: &RunRecord) {
    let f = &report.frames;
    assert_eq!(
        f.input,
        f.processed + f.skipped_keyframe + f.dropped.values().sum::<u64>(),
        "{f:?}"
    );
}

#[test]
fn every_frame_detected_with_keyframes_off_and_the_report_adds_up() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path(), 0.5);
    let (report, outcome) = run(&log, &options(KeyframeMode::Off));
    assert_balanced(&report);
    assert_eq!(report.frames.input, 35);
    assert_eq!(report.frames.processed, 35);
    assert_eq!(report.inference.detector_calls, 35);
    assert_eq!((report.framesets.total, report.framesets.complete), (5, 5));
    assert_eq!(outcome.len(), 5);
    let detections: usize = outcome.iter().flatten().map(|(_, d)| d.len()).sum();
    assert!(
        detections > 20,
        "the real detector fires on the photo sprites: {detections}"
    );
    assert!(
        outcome
            .iter()
            .flatten()
            .flat_map(|(_, d)| d)
            .any(|(class, _)| class == "car")
    );
    assert!(report.compression.bytes_to_detector > 0 && report.compression.bytes_jpeg > 0);
    assert_eq!(report.cameras_health["ring_front_center"].frames, 5);

    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "heptaview_version",
        "mode",
        "input",
        "cameras",
        "framesets",
        "frames",
        "throughput",
        "latency_ms",
        "inference",
        "compression",
        "decisions",
        "cameras_health",
    ] {
        assert!(json.get(key).is_some(), "report lacks `{key}`");
    }
    for stage in ["sync", "compress", "detect", "classify", "fuse", "plan"] {
        assert!(
            json["latency_ms"]["stages"].get(stage).is_some(),
            "no latency for stage {stage}"
        );
    }
    for reason in ["late", "duplicate", "decode_error", "queue_full"] {
        assert_eq!(json["frames"]["dropped"][reason], 0);
    }
}

#[test]
fn replays_are_deterministic_and_key_frames_skip_some_frames() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path(), 1.0);
    let (first, a) = run(&log, &options(KeyframeMode::Auto));
    let (second, b) = run(&log, &options(KeyframeMode::Auto));
    assert_eq!(a, b, "same log, same flags: same statuses and detections");
    assert_balanced(&first);
    assert_eq!(
        first.frames.skipped_keyframe,
        second.frames.skipped_keyframe
    );
    assert_eq!(first.frames.processed + first.frames.skipped_keyframe, 70);
    assert_eq!(first.inference.detector_calls, first.frames.processed);
}

#[test]
fn latest_backpressure_still_accounts_for_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path(), 1.0);
    let mut options = options(KeyframeMode::Off);
    options.config.backpressure = Backpressure::Latest;
    options.config.queue_capacity = std::num::NonZeroUsize::MIN;
    let (report, _) = run(&log, &options);
    assert_balanced(&report);
    assert_eq!(report.frames.input, 70);
    // The source outruns the detector: the queues shed load instead of growing.
    assert!(
        report.frames.dropped["queue_full"] > 0,
        "{:?}",
        report.frames
    );
}

#[test]
fn a_stop_request_ends_the_run_cleanly_with_everything_accounted() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path(), 2.0);
    let control = Arc::new(Control::default());
    let stopper = control.clone();
    let report = replay_log(&log, &options(KeyframeMode::Off), control, &mut |_, _| {
        stopper.request_stop()
    })
    .unwrap();
    assert!(report.stopped_early);
    assert_balanced(&report);
    assert!(report.frames.input < 140, "{:?}", report.frames);
    assert!(report.framesets.total >= 1);
}

#[test]
fn a_time_window_and_a_camera_subset() {
    let dir = tempfile::tempdir().unwrap();
    let log = small_log(dir.path(), 1.0);
    let mut options = options(KeyframeMode::Off);
    options.start_s = Some(0.25);
    options.end_s = Some(0.65);
    options.cameras = Some(vec![
        "ring_front_center".to_owned(),
        "ring_rear_left".to_owned(),
    ]);
    let (report, outcome) = run(&log, &options);
    assert_eq!(report.cameras, ["ring_front_center", "ring_rear_left"]);
    assert_eq!(report.framesets.total, 4);
    assert!(outcome.iter().all(|set| set.len() == 2));
    assert_balanced(&report);

    options.cameras = Some(vec!["ring_roof".to_owned()]);
    let error =
        replay_log(&log, &options, Arc::new(Control::default()), &mut |_, _| {}).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("camera folder `ring_roof` is missing"),
        "{error}"
    );
}

#[test]
fn boxes_are_reported_in_native_pixels_when_frames_are_decoded_at_reduced_scale() {
    use heptaview_datasets::av2::Av2Log;
    use heptaview_models::SessionConfig;
    use heptaview_models::detector::{Detector, DetectorConfig};

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("log");
    let generate_options = GenerateOptions {
        width_px: 1024,
        // Two frames per camera: the synchroniser measures the cameras'
        // phases from them (one frame tells no period).
        seconds: Some(0.2),
        ..GenerateOptions::new("urban_mixed", &out)
    };
    generate(generate_options, &mut |_, _| {}).unwrap();
    let mut sets = Vec::new();
    replay_log(
        &out,
        &options(KeyframeMode::Off),
        Arc::new(Control::default()),
        &mut |set: &FrameSet, _| sets.push(set.clone()),
    )
    .unwrap();
    assert_eq!(sets.len(), 2);
    assert!(sets[0].is_complete());

    // The side cameras are 1024 px wide: decoded at half scale (512 >= 416).
    let log = Av2Log::open(&out).unwrap();
    let mut detector = Detector::shipped(
        &SessionConfig {
            intra_threads: 1,
            ..SessionConfig::default()
        },
        DetectorConfig::default(),
    )
    .unwrap();
    let mut compared = 0;
    for (index, camera) in log.cameras().iter().enumerate() {
        let t = camera.timestamps_ns()[0];
        let half = log
            .decode(camera.name(), t, opencv::imgcodecs::IMREAD_REDUCED_COLOR_2)
            .unwrap();
        if opencv::prelude::MatTraitConst::cols(&half) < 416 {
            continue;
        }
        let (direct, _) = detector.detect(&half).unwrap();
        // libjpeg rounds reduced sizes up (775 rows → 388): scale by the true ratio.
        let model = log.rig().camera(camera.name()).unwrap().model();
        let sx = model.width_px() as f32 / opencv::prelude::MatTraitConst::cols(&half) as f32;
        let sy = model.height_px() as f32 / opencv::prelude::MatTraitConst::rows(&half) as f32;
        assert!((sx - 2.0).abs() < 0.01 && (sy - 2.0).abs() < 0.01);
        let piped = &sets[0].slots[index].detections;
        assert_eq!(piped.len(), direct.len(), "{}", camera.name());
        for (p, d) in piped.iter().zip(&direct) {
            let expected = [
                d.bbox[0] * sx,
                d.bbox[1] * sy,
                d.bbox[2] * sx,
                d.bbox[3] * sy,
            ];
            for k in 0..4 {
                assert!(
                    (p.detection.bbox[k] - expected[k]).abs() < 0.01,
                    "{}: {:?} vs {expected:?}",
                    camera.name(),
                    p.detection.bbox
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 0, "some detections were compared");
}
