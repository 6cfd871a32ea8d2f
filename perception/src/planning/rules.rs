//! The decision rules, as a pure function of one situation (table-tested).

use crate::types::{Action, Decision, Track};

use heptaview_models::classes::ObjectClass;

use super::severity;
use crate::config::PlannerConfig;

/// What the planner knows at one instant.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub t_ns: u64,
    pub ego_speed_mps: f64,
    /// Confirmed tracks, ego frame.
    pub tracks: &'a [Track],
    /// Cameras covering the drive path that delivered nothing usable.
    pub blind_path_cameras: &'a [String],
    /// Red traffic lights detected by cameras covering the path.
    pub red_lights_ahead: usize,
    /// Per track id, how hard it is braking (m/s², positive when slowing).
    pub decelerations: &'a [(u64, f64)],
    /// Stop-sign tracks the car has already stopped at.
    pub served_stop_signs: &'a [u64],
}

/// Below this age a track's velocity is not trusted.
pub const MIN_TRACK_AGE_FOR_SPEED_S: f64 = 0.5;
/// Braking harder than this to stay behind a braking lead means: stop now.
const HARD_BRAKING_MPS2: f64 = 1.0;
const EMERGENCY_BRAKING_MPS2: f64 = 6.0;
/// A lead decelerating harder than this (about 0.3 g) is braking hard; below,
/// following it at its speed is enough (and estimates of a few m/s² are noise
/// or a car easing off after cutting in).
const LEAD_BRAKING_MPS2: f64 = 3.2;
/// A vehicle ahead slower than this is stopping: the ego car stops behind it.
const STOPPING_SPEED_MPS: f64 = 2.0;
/// Gap to keep to a stopped lead, metres.
const STANDSTILL_GAP_M: f64 = 3.0;

/// The deceleration the ego car needs to stop behind a lead that is itself
/// braking (`deceleration` > 0); `None` when the lead is not braking.
fn braking_needed(speed: f64, gap: f64, lead_speed: f64, deceleration: f64) -> Option<f64> {
    if deceleration < LEAD_BRAKING_MPS2 || lead_speed < 0.0 {
        return None;
    }
    let lead_stops_at = gap + lead_speed * lead_speed / (2.0 * deceleration);
    Some(speed * speed / (2.0 * (lead_stops_at - STANDSTILL_GAP_M).max(0.5)))
}

/// Braking a passenger is comfortable with, m/s².
const COMFORT_BRAKING_MPS2: f64 = 2.5;
/// Room kept before a stop sign, metres.
const STOP_SIGN_MARGIN_M: f64 = 10.0;
/// A stop sign this far beside the corridor (m) still applies (signs stand
/// at the roadside, beyond a parking lane).
const STOP_SIGN_LATERAL_M: f64 = 8.0;

/// Signs and lights are not obstacles in the path: they have rules of their own.
pub fn is_road_furniture(class: &str) -> bool {
    ObjectClass::from_label(class).is_some_and(ObjectClass::is_traffic_control)
}

fn is_vulnerable(class: &str) -> bool {
    ObjectClass::from_label(class).is_some_and(ObjectClass::is_vulnerable)
}

fn is_stop_sign(class: &str) -> bool {
    ObjectClass::from_label(class) == Some(ObjectClass::StopSign)
}

/// The target speed that goes with an action, given what the rule proposed.
pub fn target_speed(config: &PlannerConfig, action: Action, proposed: f64) -> f64 {
    match action {
        Action::Cruise => proposed,
        Action::Follow => proposed.min(config.cruise_speed_mps.get()),
        Action::Yield => proposed.min(config.cruise_speed_mps.get() * 0.3),
        Action::Stop | Action::EmergencyBrake => 0.0,
    }
}

struct Candidate {
    action: Action,
    target_speed_mps: f64,
    reason: String,
}

/// The action the rules call for now, before hysteresis.
pub fn decide(config: &PlannerConfig, situation: &Situation<'_>) -> Decision {
    let speed = situation.ego_speed_mps.max(0.0);
    let look_ahead = config
        .min_look_ahead_m
        .get()
        .max(speed * config.look_ahead_s.get());
    let mut min_ttc_s: Option<f64> = None;
    let mut candidates = vec![Candidate {
        action: Action::Cruise,
        target_speed_mps: config.cruise_speed_mps.get(),
        reason: format!("drive path clear for {look_ahead:.0} m"),
    }];

    for track in situation.tracks {
        let [x, y] = track.position_m;
        let gap = x - config.front_offset_m.get();
        if gap <= 0.0 || gap > look_ahead {
            continue;
        }
        if is_road_furniture(&track.class) {
            let beside = y.abs() <= config.corridor_half_width_m.get() + STOP_SIGN_LATERAL_M;
            if is_stop_sign(&track.class)
                && beside
                && !situation.served_stop_signs.contains(&track.id)
            {
                // Stop when comfortable braking needs the room left; before
                // that, slow down towards it.
                let stopping_m = speed * speed / (2.0 * COMFORT_BRAKING_MPS2) + STOP_SIGN_MARGIN_M;
                let (action, what_now) = if gap <= stopping_m {
                    (Action::Stop, "stopping at it")
                } else {
                    (Action::Yield, "slowing down")
                };
                candidates.push(Candidate {
                    action,
                    target_speed_mps: target_speed(config, action, speed),
                    reason: format!("stop sign {gap:.1} m ahead: {what_now}"),
                });
            }
            continue;
        }
        let [vx, vy] = track.velocity_mps;
        // A track's velocity needs a few updates; until then assume the worst
        // only for emergencies.
        let known_speed = track.age_s >= MIN_TRACK_AGE_FOR_SPEED_S;
        let closing = if known_speed { speed - vx } else { speed };
        let ttc = if closing > 0.1 {
            gap / closing
        } else {
            f64::INFINITY
        };
        let ttc_text = if ttc.is_finite() {
            format!(", TTC {ttc:.1} s")
        } else {
            String::new()
        };
        let in_corridor = y.abs() <= config.corridor_half_width_m.get();
        if in_corridor && ttc.is_finite() {
            min_ttc_s = Some(min_ttc_s.map_or(ttc, |m: f64| m.min(ttc)));
        }
        let what = track.class.as_str();
        let deceleration = situation
            .decelerations
            .iter()
            .find(|(id, _)| *id == track.id)
            .map_or(0.0, |(_, a)| *a);
        // Emergency braking needs a position known well enough to put the
        // object in the path: a track coasting unseen, or far and vague,
        // makes the car slow down instead.
        let placed = track.sigma_m <= config.corridor_half_width_m.get();
        if in_corridor {
            if ttc < config.emergency_ttc_s.get() && !placed {
                candidates.push(Candidate {
                    action: Action::Yield,
                    target_speed_mps: target_speed(config, Action::Yield, speed),
                    reason: format!(
                        "{what} {gap:.1} m ahead in path{ttc_text}, position uncertain (±{:.1} m)",
                        track.sigma_m
                    ),
                });
            } else if ttc < config.emergency_ttc_s.get() {
                candidates.push(Candidate {
                    action: Action::EmergencyBrake,
                    target_speed_mps: 0.0,
                    reason: format!("{what} {gap:.1} m ahead in path{ttc_text}"),
                });
            } else if is_vulnerable(what) {
                let action = if gap < config.person_stop_gap_m.get() {
                    Action::Stop
                } else {
                    Action::Yield
                };
                candidates.push(Candidate {
                    action,
                    target_speed_mps: target_speed(config, action, speed),
                    reason: format!("{what} {gap:.1} m ahead in path{ttc_text}"),
                });
            } else if !known_speed {
                candidates.push(Candidate {
                    action: Action::Follow,
                    target_speed_mps: target_speed(config, Action::Follow, speed),
                    reason: format!("new {what} {gap:.1} m ahead in path, speed not yet known"),
                });
            } else if let Some(needed) = braking_needed(speed, gap, vx, deceleration)
                && needed > HARD_BRAKING_MPS2
            {
                let action = if needed > EMERGENCY_BRAKING_MPS2 {
                    Action::EmergencyBrake
                } else {
                    Action::Stop
                };
                candidates.push(Candidate {
                    action,
                    target_speed_mps: 0.0,
                    reason: format!(
                        "{what} {gap:.1} m ahead braking at {deceleration:.1} m/s²: stopping behind it needs {needed:.1} m/s²"
                    ),
                });
            } else if vx < STOPPING_SPEED_MPS {
                candidates.push(Candidate {
                    action: Action::Stop,
                    target_speed_mps: 0.0,
                    reason: format!(
                        "{what} {gap:.1} m ahead in path is stopped or stopping ({:.1} m/s)",
                        vx.max(0.0)
                    ),
                });
            } else if ttc < config.stop_ttc_s.get()
                || (vx.abs() < 1.0 && gap < speed * speed / (2.0 * 3.0) + 10.0)
            {
                candidates.push(Candidate {
                    action: Action::Stop,
                    target_speed_mps: 0.0,
                    reason: format!(
                        "{what} {gap:.1} m ahead in path, moving at {:.1} m/s{ttc_text}",
                        vx.max(0.0)
                    ),
                });
            } else {
                candidates.push(Candidate {
                    action: Action::Follow,
                    target_speed_mps: target_speed(config, Action::Follow, vx.max(0.0)),
                    reason: format!(
                        "following {what} {gap:.1} m ahead at {:.1} m/s",
                        vx.max(0.0)
                    ),
                });
            }
        } else if is_vulnerable(what)
            && y.abs() <= config.corridor_half_width_m.get() + config.approach_margin_m.get()
        {
            // Beside the path and moving towards it. A new track's velocity
            // is the noise of its first few positions (a bicycle riding
            // straight can seem to swerve at 0.8 m/s): not trusted yet, as
            // for vehicles.
            let towards = -y.signum() * vy;
            if known_speed && towards > 0.3 {
                candidates.push(Candidate {
                    action: Action::Yield,
                    target_speed_mps: target_speed(config, Action::Yield, speed),
                    reason: format!("{what} {gap:.1} m ahead, {:.1} m beside the path, moving towards it at {towards:.1} m/s", y.abs() - config.corridor_half_width_m.get()),
                });
            }
        }
    }
    if situation.red_lights_ahead > 0 {
        candidates.push(Candidate {
            action: Action::Stop,
            target_speed_mps: 0.0,
            reason: "red traffic light ahead".to_owned(),
        });
    }
    if !situation.blind_path_cameras.is_empty() {
        candidates.push(Candidate {
            action: Action::Yield,
            target_speed_mps: target_speed(config, Action::Yield, speed),
            reason: format!(
                "no image from {} (covers the drive path): slowing down",
                situation.blind_path_cameras.join(", ")
            ),
        });
    }

    // The most severe action wins; among equals the lowest target speed.
    let worst = candidates
        .iter()
        .max_by(|a, b| {
            severity(a.action)
                .cmp(&severity(b.action))
                .then(b.target_speed_mps.total_cmp(&a.target_speed_mps))
        })
        .map_or(Action::Cruise, |c| c.action);
    let chosen: Vec<&Candidate> = candidates.iter().filter(|c| c.action == worst).collect();
    let target = chosen
        .iter()
        .map(|c| c.target_speed_mps)
        .fold(f64::INFINITY, f64::min);
    let mut reasons: Vec<String> = chosen.iter().map(|c| c.reason.clone()).collect();
    // Other concerns still worth saying.
    reasons.extend(
        candidates
            .iter()
            .filter(|c| c.action != worst && c.action != Action::Cruise)
            .map(|c| c.reason.clone()),
    );
    Decision {
        t_ns: situation.t_ns,
        action: worst,
        target_speed_mps: if target.is_finite() {
            target
        } else {
            config.cruise_speed_mps.get()
        },
        reasons,
        min_ttc_s,
        ego_speed_mps: speed,
        look_ahead_m: look_ahead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::CameraId;

    fn track(class: &str, x: f64, y: f64, vx: f64, vy: f64) -> Track {
        Track {
            id: 1,
            class: class.to_owned(),
            subtype: None,
            position_m: [x, y],
            velocity_mps: [vx, vy],
            cameras: vec![CameraId(0)],
            age_s: 1.0,
            sigma_m: 0.3,
        }
    }

    /// A situation with nothing blind and no red light.
    fn situation<'a>(
        speed: f64,
        tracks: &'a [Track],
        decelerations: &'a [(u64, f64)],
    ) -> Situation<'a> {
        Situation {
            t_ns: 0,
            ego_speed_mps: speed,
            tracks,
            blind_path_cameras: &[],
            red_lights_ahead: 0,
            decelerations,
            served_stop_signs: &[],
        }
    }

    /// (what, ego speed, tracks, blind cameras, red lights, expected action, a word of the reason)
    type Case = (
        &'static str,
        f64,
        Vec<Track>,
        Vec<String>,
        usize,
        Action,
        &'static str,
    );

    #[test]
    fn decision_rules() {
        let config = PlannerConfig::default();
        let cases: Vec<Case> = vec![
            (
                "empty road",
                12.0,
                vec![],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "car far ahead beyond look-ahead",
                10.0,
                vec![track("car", 80.0, 0.0, 10.0, 0.0)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "car ahead same speed",
                9.0,
                vec![track("car", 28.0, 0.0, 9.0, 0.0)],
                vec![],
                0,
                Action::Follow,
                "following car",
            ),
            (
                "car ahead in the next lane",
                9.0,
                vec![track("car", 20.0, 3.5, 5.0, 0.0)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "car behind",
                9.0,
                vec![track("car", -12.0, 0.0, 9.0, 0.0)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "car braking hard ahead",
                12.0,
                vec![track("car", 20.0, 0.0, 3.0, 0.0)],
                vec![],
                0,
                Action::Stop,
                "TTC",
            ),
            (
                "car almost hit",
                12.0,
                vec![track("car", 14.0, 0.0, 0.0, 0.0)],
                vec![],
                0,
                Action::EmergencyBrake,
                "TTC 0.8 s",
            ),
            (
                "stopped car close ahead",
                0.5,
                vec![track("car", 12.0, 0.0, 0.0, 0.0)],
                vec![],
                0,
                Action::Stop,
                "is stopped",
            ),
            (
                "person in path, far",
                10.0,
                vec![track("person", 38.0, 0.5, 0.0, 1.4)],
                vec![],
                0,
                Action::Yield,
                "person",
            ),
            (
                "person in path, near",
                3.0,
                vec![track("person", 14.0, 0.0, 0.0, 1.4)],
                vec![],
                0,
                Action::Stop,
                "person 10.1 m ahead in path",
            ),
            (
                "person beside the path walking in",
                10.0,
                vec![track("person", 35.0, -4.0, 0.0, 1.4)],
                vec![],
                0,
                Action::Yield,
                "moving towards it",
            ),
            (
                "person beside the path walking away",
                10.0,
                vec![track("person", 35.0, -4.0, 0.0, -1.4)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "person on the sidewalk",
                10.0,
                vec![track("person", 20.0, -6.5, 1.0, 0.0)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "front camera blind",
                10.0,
                vec![],
                vec!["ring_front_center".to_owned()],
                0,
                Action::Yield,
                "ring_front_center",
            ),
            (
                "red light",
                10.0,
                vec![],
                vec![],
                1,
                Action::Stop,
                "red traffic light",
            ),
            (
                "stop sign at the roadside ahead",
                10.0,
                vec![track("stop sign", 25.0, -5.0, 0.0, 0.0)],
                vec![],
                0,
                Action::Stop,
                "stop sign",
            ),
            (
                "stop sign far ahead",
                10.0,
                vec![track("stop sign", 36.0, -5.0, 0.0, 0.0)],
                vec![],
                0,
                Action::Yield,
                "slowing down",
            ),
            (
                "a traffic light over the lane is no obstacle",
                10.0,
                vec![track("traffic light", 20.0, 0.0, 0.0, 0.0)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
            (
                "a stop sign across the junction's far side, off the road",
                10.0,
                vec![track("stop sign", 20.0, 15.0, 0.0, 0.0)],
                vec![],
                0,
                Action::Cruise,
                "clear",
            ),
        ];
        for (what, speed, tracks, blind, red, expected, word) in cases {
            let situation = Situation {
                t_ns: 0,
                ego_speed_mps: speed,
                tracks: &tracks,
                blind_path_cameras: &blind,
                red_lights_ahead: red,
                decelerations: &[],
                served_stop_signs: &[],
            };
            let decision = decide(&config, &situation);
            assert_eq!(decision.action, expected, "{what}: {decision:?}");
            assert!(
                decision.reasons.iter().any(|r| r.contains(word)),
                "{what}: {:?}",
                decision.reasons
            );
            if matches!(expected, Action::Stop | Action::EmergencyBrake) {
                assert_eq!(decision.target_speed_mps, 0.0, "{what}");
            }
        }
    }

    #[test]
    fn a_lead_braking_hard_means_stop_before_its_gap_closes() {
        let config = PlannerConfig::default();
        let lead = vec![track("car", 25.0, 0.0, 9.0, 0.0)];
        let calm = decide(&config, &situation(12.0, &lead, &[]));
        assert_eq!(calm.action, Action::Follow);
        let braking = decide(
            &config,
            &Situation {
                t_ns: 0,
                ego_speed_mps: 12.0,
                tracks: &lead,
                blind_path_cameras: &[],
                red_lights_ahead: 0,
                decelerations: &[(1, 5.0)],
                served_stop_signs: &[],
            },
        );
        assert_eq!(braking.action, Action::Stop, "{braking:?}");
        assert!(
            braking.reasons[0].contains("braking at 5.0 m/s²"),
            "{:?}",
            braking.reasons
        );
    }

    #[test]
    fn a_stop_sign_the_car_has_stopped_at_lets_it_go() {
        let config = PlannerConfig::default();
        let sign = [track("stop sign", 12.0, -4.0, 0.0, 0.0)];
        let mut situation = situation(0.0, &sign, &[]);
        assert_eq!(decide(&config, &situation).action, Action::Stop);
        situation.served_stop_signs = &[1];
        assert_eq!(decide(&config, &situation).action, Action::Cruise);
    }

    #[test]
    fn a_new_track_of_unknown_speed_is_followed_not_braked_for() {
        let config = PlannerConfig::default();
        let mut young = track("car", 22.0, 0.0, 0.0, 0.0);
        young.age_s = 0.1;
        let decision = decide(&config, &situation(12.0, &[young], &[]));
        assert_eq!(decision.action, Action::Follow, "{decision:?}");
    }

    #[test]
    fn a_new_track_beside_the_path_is_not_yielded_for_until_its_velocity_is_known() {
        let config = PlannerConfig::default();
        let mut cyclist = track("bicycle", 12.0, -3.4, 5.0, 0.8);
        cyclist.age_s = 0.1;
        let young = decide(
            &config,
            &situation(9.0, std::slice::from_ref(&cyclist), &[]),
        );
        assert_eq!(young.action, Action::Cruise, "{young:?}");
        cyclist.age_s = MIN_TRACK_AGE_FOR_SPEED_S;
        let known = decide(&config, &situation(9.0, &[cyclist], &[]));
        assert_eq!(known.action, Action::Yield, "{known:?}");
    }

    #[test]
    fn follow_matches_the_lead_speed_and_the_worst_concern_wins() {
        let config = PlannerConfig::default();
        let tracks = vec![
            track("car", 28.0, 0.0, 8.0, 0.0),
            track("person", 30.0, -3.5, 0.0, 1.2),
        ];
        let decision = decide(&config, &situation(8.5, &tracks, &[]));
        assert_eq!(decision.action, Action::Yield);
        assert!(decision.reasons.len() >= 2, "{:?}", decision.reasons);
        let follow_only = decide(&config, &situation(8.5, &tracks[..1], &[]));
        assert_eq!(follow_only.action, Action::Follow);
        assert!((follow_only.target_speed_mps - 8.0).abs() < 1e-9);
    }
}
