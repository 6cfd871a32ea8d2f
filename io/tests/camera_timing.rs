//! Argoverse 2's real camera timing: the seven ring cameras expose from
//! 2.9 ms before the lidar sweep to 39.6 ms after it, 20 times a second. A
//! drive generated with that timing is replayed as it comes, with nothing
//! tuned by hand: the synchroniser measures the phases and builds complete
//! frame sets, and an empty road is cruised.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use heptaview_calibration::argoverse2_rig;
use heptaview_datasets::av2::Av2Log;
use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_io::replay::ReplayOptions;
use heptaview_io::replay::replay_log;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::types::Action;
use heptaview_runtime::threads::Control;

/// The offsets quoted from the public AV2 logs, by camera name (ms after the sweep).
const AV2_OFFSETS_MS: [(&str, f64); 7] = [
    ("ring_rear_left", -2.9),
    ("ring_front_right", 2.1),
    ("ring_side_left", 12.1),
    ("ring_side_right", 17.1),
    ("ring_front_left", 27.1),
    ("ring_rear_right", 32.1),
    ("ring_front_center", 39.6),
];

#[test]
fn av2_camera_timing_gives_complete_frame_sets_and_a_clear_road_is_cruised() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clear_road");
    let options = GenerateOptions {
        width_px: 320,
        fps: 20.0,
        seconds: Some(4.0),
        ..GenerateOptions::new("clear_road", &out)
    };
    generate(options, &mut |_, _| {}).unwrap();

    // The log really has AV2's timing: each camera's first exposure against
    // the first annotated (lidar) instant.
    let log = Av2Log::open(&out).unwrap();
    let sweep = log.annotations().unwrap().timestamps_ns().next().unwrap();
    for (name, offset_ms) in AV2_OFFSETS_MS {
        let first = log.camera(name).unwrap().timestamps_ns()[0];
        let measured = (first as f64 - sweep as f64) / 1e6;
        assert!((measured - offset_ms).abs() <= 0.5, "{name}: {measured} ms");
    }
    assert!(
        argoverse2_rig().unwrap().timing().is_some(),
        "the shipped rig declares the timing the generator used"
    );

    let mut config = PipelineConfig::default();
    config.session.intra_threads = 1;
    let report = replay_log(
        &out,
        &ReplayOptions::whole_log(config),
        Arc::new(Control::default()),
        &mut |_, _| {},
    )
    .unwrap();

    let sets = report.framesets;
    assert_eq!(sets.total, 80, "{sets:?}");
    assert!(sets.complete as f64 >= 0.95 * sets.total as f64, "{sets:?}");
    let sync = report.sync.as_ref().unwrap();
    assert_eq!(sync.phase, "measured", "{sync:?}");
    // A replay knows every timestamp from the log's index: nothing is held back.
    assert_eq!(sync.measured_from.as_deref(), Some("log index"), "{sync:?}");
    assert!((sync.period_ms.unwrap() - 50.0).abs() < 0.5, "{sync:?}");
    // Measured offsets agree with AV2's up to where the cycle is cut.
    for (a, offset_a) in AV2_OFFSETS_MS {
        for (b, offset_b) in AV2_OFFSETS_MS {
            let measured = (sync.offsets_ms[a] - sync.offsets_ms[b]).rem_euclid(50.0);
            let truth = (offset_a - offset_b).rem_euclid(50.0);
            let error = (measured - truth).abs();
            assert!(
                error.min(50.0 - error) < 0.6,
                "{a} - {b}: {measured} vs {truth}"
            );
        }
    }
    let f = &report.frames;
    assert_eq!(f.dropped.values().sum::<u64>(), 0, "{f:?}");
    assert_eq!(f.input, f.processed + f.skipped_keyframe, "{f:?}");

    for decision in &report.decisions {
        assert!(
            decision
                .reasons
                .iter()
                .all(|reason| !reason.contains("no image from")),
            "{decision:?}"
        );
        assert_eq!(decision.action, Action::Cruise, "{decision:?}");
    }
}
