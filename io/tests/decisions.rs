//! End to end on generated scenarios, measured by the evaluation `replay
//! --eval` reports: the planner's decisions agree with the expectations the
//! generator wrote into `scenario.toml`, and tracks are where the annotations
//! put the objects.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_eval::Evaluation;
use heptaview_eval::Evaluator;
use heptaview_io::replay::ReplayOptions;
use heptaview_io::replay::replay_log;
use heptaview_io::replay::selected_cameras;
use heptaview_perception::config::PipelineConfig;
use heptaview_runtime::threads::Control;

/// The evaluation of a replay of a generated `scenario` at 640 px, and the
/// decision windows for a failure message.
fn evaluated(scenario: &str) -> (Evaluation, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(scenario);
    let options = GenerateOptions {
        width_px: 640,
        ..GenerateOptions::new(scenario, &out)
    };
    generate(options, &mut |_, _| {}).unwrap();

    let mut config = PipelineConfig::default();
    config.session.intra_threads = 1;
    let replay_options = ReplayOptions::whole_log(config);
    let reader = heptaview_datasets::open_log(&out).unwrap();
    let cameras = selected_cameras(&*reader, None).unwrap();
    let mut evaluator = Evaluator::new(&*reader, &cameras).unwrap();
    assert!(evaluator.has_ground_truth());
    replay_log(
        &out,
        &replay_options,
        Arc::new(Control::default()),
        &mut |set, _| evaluator.observe(set),
    )
    .unwrap();
    let evaluation = evaluator.finish();
    let windows = evaluation.summary();
    (evaluation, windows)
}

/// Decisions agree with the expectations at least `agreement`, and fused
/// tracks within 30 m are within 5% of their range (median).
fn assert_scenario(scenario: &str, agreement: f64) {
    let (evaluation, summary) = evaluated(scenario);
    let measured = evaluation.decision_agreement.unwrap();
    assert!(measured >= agreement, "{scenario}: {summary}");
    let position = evaluation.bev_error_m.as_ref().unwrap();
    let within_30 = position.tracks_median_relative_within_30m.unwrap();
    assert!(within_30 <= 0.05, "{scenario}: {summary}");
    // Every image the detector saw was compared with the projected annotations.
    let detection = evaluation.detection.as_ref().unwrap();
    assert!(detection.frames > 0, "{scenario}: {summary}");
    eprintln!("{scenario}:\n{summary}");
}

#[test]
fn a_pedestrian_crossing_makes_the_car_yield_and_stop_then_drive_on() {
    assert_scenario("pedestrian_crossing", 0.95);
}

#[test]
fn a_clear_road_is_cruised() {
    assert_scenario("clear_road", 0.95);
}

#[test]
fn a_braking_lead_vehicle_is_followed_then_stopped_for() {
    assert_scenario("lead_vehicle_braking", 0.95);
}

#[test]
fn a_car_overtaking_on_the_left_is_no_reason_to_brake() {
    assert_scenario("overtaking_left", 0.95);
}

#[test]
fn a_car_cutting_in_is_followed() {
    assert_scenario("cut_in", 0.95);
}

#[test]
fn urban_traffic_is_followed_past_parked_cars_without_phantom_braking() {
    assert_scenario("urban_mixed", 0.95);
}
