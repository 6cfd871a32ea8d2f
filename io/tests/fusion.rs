//! Fusion against ground truth: detections of the real detector on a
//! generated drive, placed on the ground through the log's calibration and
//! merged across cameras, land where the annotations put the objects.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use heptaview_datasets::av2::Av2Log;
use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_io::replay::ReplayOptions;
use heptaview_io::replay::replay_log;
use heptaview_perception::config::KeyframeMode;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::planning::MIN_TRACK_AGE_FOR_SPEED_S;
use heptaview_perception::types::FrameSet;
use heptaview_runtime::threads::Control;

fn family_of_category(category: &str) -> &'static str {
    match category {
        "PEDESTRIAN" => "person",
        "BICYCLE" | "BICYCLIST" | "MOTORCYCLE" => "two_wheeler",
        _ => "vehicle",
    }
}

fn family_of_class(class: &str) -> &'static str {
    match class {
        "person" => "person",
        "bicycle" | "motorcycle" => "two_wheeler",
        _ => "vehicle",
    }
}

/// A generated urban_mixed drive of `seconds` at 640 px, replayed with every
/// frame detected: the opened log (kept alive by the temp dir) and its frame sets.
fn replayed_urban_drive(seconds: f64) -> (tempfile::TempDir, Av2Log, Vec<FrameSet>) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("log");
    let options = GenerateOptions {
        width_px: 640,
        seconds: Some(seconds),
        ..GenerateOptions::new("urban_mixed", &out)
    };
    generate(options, &mut |_, _| {}).unwrap();
    let mut config = PipelineConfig::default();
    config.compress.keyframes = KeyframeMode::Off;
    config.session.intra_threads = 1;
    let replay_options = ReplayOptions::whole_log(config);
    let mut sets: Vec<FrameSet> = Vec::new();
    replay_log(
        &out,
        &replay_options,
        Arc::new(Control::default()),
        &mut |set, _| sets.push(set.clone()),
    )
    .unwrap();
    let log = Av2Log::open(&out).unwrap();
    (dir, log, sets)
}

#[test]
fn fused_objects_within_30_m_are_where_the_annotations_say() {
    let (_dir, log, sets) = replayed_urban_drive(0.5);

    let mut relative_errors = Vec::new();
    let mut multi_camera = 0;
    for set in &sets {
        let (_, cuboids) = log.annotations_at(set.reference_ns, 20_000_000).unwrap();
        for object in &set.objects {
            let range = object.position.coords.norm();
            if range > 30.0 {
                continue;
            }
            let nearest = cuboids
                .iter()
                .filter(|c| family_of_category(&c.category) == family_of_class(&object.class))
                .map(|c| {
                    (c.ego_from_object.translation.vector.xy() - object.position.coords).norm()
                })
                .fold(f64::INFINITY, f64::min);
            relative_errors.push(nearest / range);
            if object.cameras.len() > 1 {
                multi_camera += 1;
            }
        }
    }
    relative_errors.sort_by(f64::total_cmp);
    let n = relative_errors.len();
    eprintln!(
        "{n} objects within 30 m, {multi_camera} seen by two cameras; relative errors {relative_errors:.3?}"
    );
    assert!(n >= 10, "{n} objects compared");
    let median = relative_errors[n / 2];
    assert!(median <= 0.05, "median position error {median:.3} of range");
    let within = relative_errors.iter().filter(|e| **e <= 0.10).count();
    assert!(within * 10 >= n * 8, "{within} of {n} within 10% of range");
}

#[test]
fn tracks_follow_the_objects_with_their_speed_over_the_ground() {
    let (_dir, log, sets) = replayed_urban_drive(1.2);

    let last = sets.last().unwrap();
    let (_, cuboids) = log.annotations_at(last.reference_ns, 20_000_000).unwrap();
    // The car ahead in the lane drives at 9 m/s, like the ego car.
    let lead = last
        .tracks
        .iter()
        .find(|t| t.position_m[0] > 20.0 && t.position_m[0] < 40.0 && t.position_m[1].abs() < 1.5)
        .unwrap_or_else(|| panic!("no lead track in {:?}", last.tracks));
    assert!((lead.velocity_mps[0] - 9.0).abs() < 2.0, "{lead:?}");
    assert!(lead.age_s >= 0.8, "{lead:?}");
    // Parked cars stand still over the ground although the ego car moves
    // (once a track is old enough for the planner to trust its speed).
    let parked: Vec<_> = last
        .tracks
        .iter()
        .filter(|t| t.position_m[1] < -2.0 && t.position_m[1] > -4.0 && t.class == "car")
        .filter(|t| t.age_s >= MIN_TRACK_AGE_FOR_SPEED_S)
        .collect();
    assert!(!parked.is_empty(), "{:?}", last.tracks);
    assert!(
        parked.iter().all(|t| t.velocity_mps[0].abs() < 2.0),
        "{parked:?}"
    );

    let mut relative_errors: Vec<f64> = last
        .tracks
        .iter()
        .filter(|t| t.position_m[0].hypot(t.position_m[1]) <= 30.0)
        .map(|t| {
            let range = t.position_m[0].hypot(t.position_m[1]);
            let nearest = cuboids
                .iter()
                .map(|c| {
                    (c.ego_from_object.translation.x - t.position_m[0])
                        .hypot(c.ego_from_object.translation.y - t.position_m[1])
                })
                .fold(f64::INFINITY, f64::min);
            nearest / range
        })
        .collect();
    relative_errors.sort_by(f64::total_cmp);
    eprintln!("track errors within 30 m: {relative_errors:.3?}");
    assert!(relative_errors.len() >= 4);
    assert!(
        relative_errors[relative_errors.len() / 2] <= 0.05,
        "{relative_errors:?}"
    );
}
