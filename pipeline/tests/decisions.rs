//! End to end on generated scenarios: the planner's decisions agree with the
//! expectations the generator wrote into `scenario.toml`.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use heptaview_datasets::generator::{GenerateOptions, generate};
use heptaview_pipeline::planning::name;
use heptaview_pipeline::replay::{PipelineConfig, ReplayOptions, Speed, replay};
use heptaview_pipeline::runtime::Control;

/// Fraction of frame sets inside the expectation windows whose decision is
/// one of the expected actions, and the decision sequence for the message.
fn agreement(scenario: &str) -> (f64, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(scenario);
    let options = GenerateOptions {
        width_px: 640,
        ..GenerateOptions::new(scenario, &out)
    };
    generate(options, &mut |_, _| {}).unwrap();
    let file: toml::Value =
        toml::from_str(&std::fs::read_to_string(out.join("scenario.toml")).unwrap()).unwrap();
    let start = file["start_timestamp_ns"].as_integer().unwrap() as u64;

    let mut config = PipelineConfig::default();
    config.session.intra_threads = 1;
    let replay_options = ReplayOptions {
        speed: Speed::Max,
        start_s: None,
        end_s: None,
        cameras: None,
        config,
    };
    let report = replay(
        &out,
        &replay_options,
        Arc::new(Control::default()),
        &mut |_, _| {},
    )
    .unwrap();

    let (mut inside, mut agreeing) = (0, 0);
    for expectation in file["expected"].as_array().unwrap() {
        let from = expectation["from_s"].as_float().unwrap();
        let to = expectation["to_s"].as_float().unwrap();
        let actions: Vec<&str> = expectation["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        for decision in &report.decisions {
            let t = (decision.t_ns as f64 - start as f64) / 1e9;
            if (from..=to).contains(&t) {
                inside += 1;
                if actions.contains(&name(decision.action)) {
                    agreeing += 1;
                }
            }
        }
    }
    let mut sequence = Vec::new();
    for decision in &report.decisions {
        let action = name(decision.action);
        if sequence.last().is_none_or(|(_, last)| *last != action) {
            sequence.push(((decision.t_ns as f64 - start as f64) / 1e9, action));
        }
    }
    assert!(inside > 0, "{scenario}: no decisions inside the windows");
    (
        f64::from(agreeing) / f64::from(inside),
        format!("{sequence:.1?}"),
    )
}

#[test]
fn a_pedestrian_crossing_makes_the_car_yield_and_stop_then_drive_on() {
    let (agreement, sequence) = agreement("pedestrian_crossing");
    assert!(agreement >= 0.95, "agreement {agreement:.2}: {sequence}");
}

#[test]
fn a_clear_road_is_cruised() {
    let (agreement, sequence) = agreement("clear_road");
    assert!(agreement >= 0.95, "agreement {agreement:.2}: {sequence}");
}

#[test]
fn a_braking_lead_vehicle_is_followed_then_stopped_for() {
    let (agreement, sequence) = agreement("lead_vehicle_braking");
    assert!(agreement >= 0.85, "agreement {agreement:.2}: {sequence}");
}
