//! The named scenarios: who moves where, what the ego vehicle does, and which
//! planning decisions a sound planner should make over time.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::sprites::Sprite;
use super::world::{Crosswalk, ObjectKind, Path, SceneObject, SpeedProfile, layout, track_uuid};
use crate::error::DatasetError;

pub const SCENARIOS: [&str; 6] = [
    "clear_road",
    "pedestrian_crossing",
    "lead_vehicle_braking",
    "cut_in",
    "overtaking_left",
    "urban_mixed",
];

/// A time window in which the planner's decision should be one of `actions`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Expectation {
    pub from_s: f64,
    pub to_s: f64,
    pub actions: Vec<String>,
    pub why: String,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    pub default_seconds: f64,
    pub ego: SpeedProfile,
    pub crosswalk: Option<Crosswalk>,
    pub objects: Vec<SceneObject>,
    pub expectations: Vec<Expectation>,
}

struct Builder<'a> {
    rng: ChaCha8Rng,
    seed: u64,
    sprites: &'a [Sprite],
    objects: Vec<SceneObject>,
    /// Paths are laid out this far ahead in time.
    horizon_s: f64,
}

impl<'a> Builder<'a> {
    fn jitter(&mut self, amount: f64) -> f64 {
        if amount > 0.0 {
            self.rng.random_range(-amount..amount)
        } else {
            0.0
        }
    }

    fn sprite(&mut self, kind: ObjectKind) -> Result<usize, DatasetError> {
        let choices: Vec<usize> = self
            .sprites
            .iter()
            .enumerate()
            .filter(|(_, s)| s.kind == kind)
            .map(|(i, _)| i)
            .collect();
        if choices.is_empty() {
            return Err(DatasetError::Scenario {
                message: format!("no sprite of kind {} is embedded", kind.name()),
            });
        }
        Ok(choices[self.rng.random_range(0..choices.len())])
    }

    fn add(&mut self, kind: ObjectKind, path: Path) -> Result<(), DatasetError> {
        let sprite = self.sprite(kind)?;
        let index = self.objects.len();
        self.objects.push(SceneObject {
            track_uuid: track_uuid(self.seed, index),
            kind,
            sprite,
            path,
        });
        Ok(())
    }

    /// An object moving at constant speed along the road (negative: oncoming).
    fn moving(
        &mut self,
        kind: ObjectKind,
        s0: f64,
        d: f64,
        speed: f64,
    ) -> Result<(), DatasetError> {
        let path = Path::straight(s0, d, speed, 0.0, self.horizon_s);
        self.add(kind, path)
    }

    fn parked(&mut self, kind: ObjectKind, s: f64, d: f64) -> Result<(), DatasetError> {
        self.add(kind, Path::new(vec![(0.0, s, d)], 0.0))
    }

    /// A path sampled from a function of time, every 0.1 s.
    fn sampled(&self, position: impl Fn(f64) -> (f64, f64), resting_heading: f64) -> Path {
        let steps = (self.horizon_s / 0.1).ceil() as usize;
        let keys = (0..=steps)
            .map(|i| {
                let t = i as f64 * 0.1;
                let (s, d) = position(t);
                (t, s, d)
            })
            .collect();
        Path::new(keys, resting_heading)
    }
}

fn expect(from_s: f64, to_s: f64, actions: &[&str], why: &str) -> Expectation {
    Expectation {
        from_s,
        to_s,
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        why: why.to_owned(),
    }
}

/// Builds a scenario. `seed` varies sprites, speeds and positions within
/// bounds that keep each scenario's story (and its expectations) intact.
pub fn build(
    name: &str,
    seed: u64,
    seconds: Option<f64>,
    sprites: &[Sprite],
) -> Result<Scenario, DatasetError> {
    use ObjectKind::*;
    use layout::*;
    let known = SCENARIOS
        .iter()
        .find(|s| **s == name)
        .ok_or_else(|| DatasetError::Scenario {
            message: format!("unknown scenario `{name}`; known: {}", SCENARIOS.join(", ")),
        })?;
    let mut b = Builder {
        rng: ChaCha8Rng::seed_from_u64(seed),
        seed,
        sprites,
        objects: Vec::new(),
        horizon_s: seconds.unwrap_or(0.0).max(20.0) + 1.0,
    };
    let scenario = match *known {
        "clear_road" => {
            let speed = 12.0 + b.jitter(1.0);
            for s in [30.0, 55.0, 95.0] {
                let s = s + b.jitter(3.0);
                b.parked(Car, s, RIGHT_PARKING)?;
            }
            let s = 40.0 + b.jitter(5.0);
            b.moving(Pedestrian, s, RIGHT_SIDEWALK, 1.3)?;
            let s = 70.0 + b.jitter(5.0);
            b.moving(Pedestrian, s, LEFT_SIDEWALK, -1.2)?;
            Scenario {
                name: "clear_road",
                description: "An empty lane ahead; parked cars and pedestrians stay off the road.",
                default_seconds: 8.0,
                ego: SpeedProfile::constant(speed),
                crosswalk: None,
                objects: Vec::new(),
                expectations: vec![expect(0.0, 1e9, &["CRUISE"], "nothing in the drive path")],
            }
        }
        "pedestrian_crossing" => {
            let crosswalk_s = 42.0;
            let start = 1.0 + b.jitter(0.2);
            let pace = 1.4 + b.jitter(0.1);
            let ped = b.sampled(
                move |t| {
                    let walked =
                        ((t - start).max(0.0) * pace).min(RIGHT_SIDEWALK.abs() + LEFT_SIDEWALK);
                    (crosswalk_s + 0.5, RIGHT_SIDEWALK + walked)
                },
                std::f64::consts::FRAC_PI_2,
            );
            b.add(Pedestrian, ped)?;
            let s = 20.0 + b.jitter(2.0);
            b.parked(Car, s, RIGHT_PARKING)?;
            let s = 60.0 + b.jitter(4.0);
            b.moving(Pedestrian, s, LEFT_SIDEWALK, -1.1)?;
            Scenario {
                name: "pedestrian_crossing",
                description: "A pedestrian crosses at a zebra crossing 42 m ahead; the car slows, stops short of it, waits, and drives on.",
                default_seconds: 12.0,
                ego: SpeedProfile::new(vec![
                    (0.0, 10.0),
                    (1.0, 10.0),
                    (6.0, 0.0),
                    (8.5, 0.0),
                    (15.2, 10.0),
                ]),
                crosswalk: Some(Crosswalk {
                    s: crosswalk_s,
                    width_m: 3.0,
                }),
                objects: Vec::new(),
                expectations: vec![
                    expect(
                        0.0,
                        0.8,
                        &["CRUISE"],
                        "the pedestrian is still on the sidewalk",
                    ),
                    expect(
                        2.0,
                        7.0,
                        &["YIELD", "STOP"],
                        "a pedestrian is on or entering the crossing ahead",
                    ),
                    expect(
                        11.0,
                        1e9,
                        &["CRUISE", "YIELD"],
                        "the pedestrian has left the drive path",
                    ),
                ],
            }
        }
        "lead_vehicle_braking" => {
            let gap = 25.0 + b.jitter(2.0);
            let lead = b.sampled(
                move |t| {
                    let s = if t <= 3.0 {
                        gap + 12.0 * t
                    } else {
                        let braking = (t - 3.0).min(2.0);
                        gap + 36.0 + 12.0 * braking - 3.0 * braking * braking
                    };
                    (s, EGO_LANE)
                },
                0.0,
            );
            b.add(Car, lead)?;
            for s in [15.0, 50.0] {
                let s = s + b.jitter(3.0);
                b.parked(Car, s, RIGHT_PARKING)?;
            }
            let s = 30.0 + b.jitter(5.0);
            b.moving(Pedestrian, s, RIGHT_SIDEWALK, 1.2)?;
            Scenario {
                name: "lead_vehicle_braking",
                description: "A car 25 m ahead at the same speed brakes hard to a stop at 3 s; the ego car brakes after it and stops behind.",
                default_seconds: 8.0,
                ego: SpeedProfile::new(vec![(0.0, 12.0), (3.6, 12.0), (6.0, 0.0)]),
                crosswalk: None,
                objects: Vec::new(),
                expectations: vec![
                    expect(
                        0.5,
                        2.8,
                        &["FOLLOW"],
                        "a car ahead in the lane at the same speed",
                    ),
                    expect(
                        3.3,
                        6.0,
                        &["STOP", "EMERGENCY_BRAKE"],
                        "the car ahead brakes hard",
                    ),
                    expect(
                        6.5,
                        1e9,
                        &["STOP", "FOLLOW"],
                        "stopped behind the stopped car",
                    ),
                ],
            }
        }
        "cut_in" => {
            let car = b.sampled(
                |t| {
                    if t <= 3.0 {
                        (-8.0 + 18.0 * t, LEFT_LANE)
                    } else if t <= 5.0 {
                        let f = (t - 3.0) / 2.0;
                        let smooth = f * f * (3.0 - 2.0 * f);
                        (46.0 + 15.0 * (t - 3.0), LEFT_LANE * (1.0 - smooth))
                    } else {
                        // Then eases from 15 to 10.5 m/s over 3 s (1.5 m/s²).
                        let easing = (t - 5.0).min(3.0);
                        let s = 76.0 + 15.0 * easing - 0.75 * easing * easing
                            + 10.5 * (t - 8.0).max(0.0);
                        (s, EGO_LANE)
                    }
                },
                0.0,
            );
            b.add(Car, car)?;
            let s = 35.0 + b.jitter(4.0);
            b.parked(Van, s, RIGHT_PARKING)?;
            let s = 80.0 + b.jitter(5.0);
            b.moving(Pedestrian, s, RIGHT_SIDEWALK, -1.3)?;
            Scenario {
                name: "cut_in",
                description: "A faster car overtakes in the left lane and cuts in 10 m ahead, then drives on slower; the ego car eases off.",
                default_seconds: 9.0,
                ego: SpeedProfile::new(vec![(0.0, 12.0), (4.0, 12.0), (5.5, 10.0)]),
                crosswalk: None,
                objects: Vec::new(),
                expectations: vec![
                    expect(
                        0.0,
                        1.5,
                        &["CRUISE"],
                        "the other car is behind, in the left lane",
                    ),
                    expect(
                        5.2,
                        1e9,
                        &["FOLLOW", "YIELD"],
                        "a car has cut in ahead in the lane",
                    ),
                ],
            }
        }
        "overtaking_left" => {
            let speed = 17.0 + b.jitter(1.0);
            b.moving(Car, -30.0, LEFT_LANE, speed)?;
            let s = 130.0 + b.jitter(10.0);
            b.moving(Bus, s, ONCOMING_FAR, -9.0)?;
            for s in [25.0, 60.0] {
                let s = s + b.jitter(3.0);
                b.parked(Car, s, RIGHT_PARKING)?;
            }
            Scenario {
                name: "overtaking_left",
                description: "A faster car passes in the left lane, seen by the rear, side and front cameras in turn; the lane ahead stays clear.",
                default_seconds: 8.0,
                ego: SpeedProfile::constant(11.0),
                crosswalk: None,
                objects: Vec::new(),
                expectations: vec![expect(
                    0.0,
                    1e9,
                    &["CRUISE"],
                    "the passing car stays in its own lane",
                )],
            }
        }
        _ => {
            // urban_mixed: every camera has something to see.
            let speed = 9.0;
            let lead_gap = 28.0 + b.jitter(2.0);
            b.moving(Car, lead_gap, EGO_LANE, speed)?;
            let s = -14.0 + b.jitter(1.0);
            b.moving(Car, s, EGO_LANE, speed)?;
            let s = -25.0 + b.jitter(2.0);
            b.moving(Car, s, LEFT_LANE, 13.0)?;
            let s = 100.0 + b.jitter(6.0);
            b.moving(Bus, s, ONCOMING_NEAR, -8.0)?;
            let s = 90.0 + b.jitter(5.0);
            b.moving(Car, s, ONCOMING_FAR, -11.0)?;
            let s = 22.0 + b.jitter(2.0);
            b.parked(Van, s, RIGHT_PARKING)?;
            let s = 46.0 + b.jitter(2.0);
            b.parked(Pickup, s, RIGHT_PARKING)?;
            let s = 125.0 + b.jitter(4.0);
            b.parked(Car, s, RIGHT_PARKING)?;
            let s = -6.0 + b.jitter(1.0);
            b.parked(Car, s, RIGHT_PARKING)?;
            let s = 54.0 + b.jitter(2.0);
            b.moving(Bicycle, s, RIGHT_PARKING, 5.0)?;
            for (s, d, v) in [
                (15.0, RIGHT_SIDEWALK, 1.4),
                (60.0, RIGHT_SIDEWALK, -1.3),
                (35.0, LEFT_SIDEWALK, 1.2),
                (-2.0, LEFT_SIDEWALK, 1.5),
                (1.5, RIGHT_SIDEWALK, 0.0),
            ] {
                let s = s + b.jitter(2.0);
                b.moving(Pedestrian, s, d, v)?;
            }
            Scenario {
                name: "urban_mixed",
                description: "A busy street: a car ahead and one behind, one overtaking, oncoming traffic with a bus, parked vehicles, a cyclist and pedestrians on both sidewalks.",
                default_seconds: 10.0,
                ego: SpeedProfile::constant(speed),
                crosswalk: None,
                objects: Vec::new(),
                expectations: vec![expect(
                    1.0,
                    1e9,
                    &["FOLLOW"],
                    "a car ahead in the lane at the same speed",
                )],
            }
        }
    };
    Ok(Scenario {
        objects: b.objects,
        ..scenario
    })
}
