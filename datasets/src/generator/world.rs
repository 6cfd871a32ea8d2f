//! The generated world, in road coordinates: `s` metres along a straight road,
//! `d` metres to its left, z up. The ego vehicle drives in the lane centred
//! on d = 0; the city frame holds the road at an angle (see `city_from_road`).

use nalgebra::{Isometry3, Point3, Translation3, UnitQuaternion, Vector3};

use super::texture::{Bgr, fractal_noise, hash, mix, scale, value_noise};

/// Lateral layout of the road (d, left positive).
pub mod layout {
    /// Right sidewalk, from the building line to the kerb.
    pub const RIGHT_BUILDINGS: f64 = -11.0;
    pub const RIGHT_KERB: f64 = -4.25;
    /// Right edge of the ego lane (solid white); the parking lane lies beyond.
    pub const RIGHT_EDGE: f64 = -1.75;
    /// Between the ego lane and the left lane in the same direction (dashed white).
    pub const SAME_DIRECTION_DIVIDER: f64 = 1.75;
    /// Double yellow centre line.
    pub const CENTRE_LINE: f64 = 5.25;
    /// Between the two oncoming lanes (dashed white).
    pub const ONCOMING_DIVIDER: f64 = 8.75;
    pub const LEFT_EDGE: f64 = 12.25;
    pub const LEFT_KERB: f64 = 12.25;
    pub const LEFT_BUILDINGS: f64 = 19.0;
    pub const BUILDING_HEIGHT: f64 = 14.0;

    /// Lane centres.
    pub const EGO_LANE: f64 = 0.0;
    pub const LEFT_LANE: f64 = 3.5;
    pub const ONCOMING_NEAR: f64 = 7.0;
    pub const ONCOMING_FAR: f64 = 10.5;
    pub const RIGHT_PARKING: f64 = -3.0;
    pub const RIGHT_SIDEWALK: f64 = -6.5;
    pub const LEFT_SIDEWALK: f64 = 14.5;
}

/// The road's pose in the city frame: not axis-aligned, so that consumers
/// of the log must really apply `city_from_ego`.
pub fn city_from_road() -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(2415.3, -873.9, 12.4),
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), 0.61),
    )
}

/// A pedestrian crossing painted across the road at `s`.
#[derive(Debug, Clone, Copy)]
pub struct Crosswalk {
    pub s: f64,
    pub width_m: f64,
}

/// Colour of the ground at a road position.
pub fn ground(seed: u32, s: f32, d: f32, crosswalk: Option<Crosswalk>) -> Bgr {
    use layout::*;
    let grain = fractal_noise(seed, s * 1.7, d * 1.7);
    let on_road = d > RIGHT_KERB as f32 && d < LEFT_KERB as f32;
    if !on_road {
        let sidewalk = d > RIGHT_BUILDINGS as f32 && d < LEFT_BUILDINGS as f32;
        if sidewalk {
            // Concrete slabs with joints every 1.5 m.
            let joint = s.rem_euclid(1.5) < 0.04 || (d - RIGHT_KERB as f32).rem_euclid(1.5) < 0.04;
            let slab =
                0.93 + 0.1 * value_noise(seed ^ 0x51ab, (s / 1.5).floor(), (d / 1.5).floor());
            let concrete = scale([165.0, 172.0, 176.0], slab * (0.92 + 0.12 * grain));
            return if joint {
                scale(concrete, 0.75)
            } else {
                concrete
            };
        }
        return scale([80.0, 105.0, 95.0], 0.85 + 0.3 * grain);
    }
    let mut colour = scale([92.0, 94.0, 96.0], 0.82 + 0.32 * grain);
    // Patches of darker repaired asphalt.
    if value_noise(seed ^ 0x0000_7a7c, s * 0.08, d * 0.15) > 0.72 {
        colour = scale(colour, 0.8);
    }
    let white: Bgr = [225.0, 230.0, 232.0];
    let yellow: Bgr = [40.0, 190.0, 225.0];
    let worn = 0.85 + 0.15 * grain;
    let line = |centre: f64, half_width: f32| (d - centre as f32).abs() < half_width;
    let dashed = s.rem_euclid(12.0) < 3.0;
    if let Some(crosswalk) = crosswalk
        && (s - crosswalk.s as f32).abs() < crosswalk.width_m as f32 / 2.0
        && d > RIGHT_EDGE as f32
        && d < LEFT_EDGE as f32
    {
        if d.rem_euclid(1.2) < 0.6 {
            return mix(colour, white, worn);
        }
        return colour;
    }
    let painted = line(RIGHT_EDGE, 0.08)
        || line(LEFT_EDGE, 0.08)
        || (dashed && line(SAME_DIRECTION_DIVIDER, 0.07))
        || (dashed && line(ONCOMING_DIVIDER, 0.07));
    if painted {
        return mix(colour, white, worn);
    }
    if line(CENTRE_LINE - 0.12, 0.06) || line(CENTRE_LINE + 0.12, 0.06) {
        return mix(colour, yellow, worn);
    }
    // Parking bays: short white ticks every 6 m.
    if d < RIGHT_EDGE as f32 && s.rem_euclid(6.0) < 0.12 {
        return mix(colour, white, 0.7 * worn);
    }
    colour
}

/// A path through road coordinates: (time s, along m, lateral m) key points,
/// linear between them, held before the first and after the last.
#[derive(Debug, Clone)]
pub struct Path {
    keys: Vec<(f64, f64, f64)>,
    /// Heading (radians from the road direction) while standing still.
    resting_heading: f64,
}

impl Path {
    pub fn new(keys: Vec<(f64, f64, f64)>, resting_heading: f64) -> Self {
        Self {
            keys,
            resting_heading,
        }
    }

    /// Constant velocity from `(s0, d0)` over `[0, seconds]`.
    pub fn straight(s0: f64, d0: f64, speed_s: f64, speed_d: f64, seconds: f64) -> Self {
        let heading = speed_d.atan2(speed_s);
        Self::new(
            vec![
                (0.0, s0, d0),
                (seconds, s0 + speed_s * seconds, d0 + speed_d * seconds),
            ],
            if speed_s.abs() + speed_d.abs() > 0.0 {
                heading
            } else {
                0.0
            },
        )
    }

    pub fn position(&self, t: f64) -> (f64, f64) {
        let Some(first) = self.keys.first() else {
            return (0.0, 0.0);
        };
        if t <= first.0 {
            return (first.1, first.2);
        }
        for pair in self.keys.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if t <= b.0 {
                let f = if b.0 > a.0 {
                    (t - a.0) / (b.0 - a.0)
                } else {
                    1.0
                };
                return (a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f);
            }
        }
        self.keys.last().map_or((0.0, 0.0), |last| (last.1, last.2))
    }

    /// Heading from the direction of travel, or the resting heading when still.
    pub fn heading(&self, t: f64) -> f64 {
        let dt = 0.05;
        let (a, b) = (self.position(t - dt), self.position(t + dt));
        let (ds, dd) = (b.0 - a.0, b.1 - a.1);
        if (ds * ds + dd * dd).sqrt() < 0.02 {
            self.resting_heading
        } else {
            dd.atan2(ds)
        }
    }
}

/// Ego motion along the ego lane: (time, along) key points with the speed
/// linear in time between them (so acceleration is piecewise constant).
#[derive(Debug, Clone)]
pub struct SpeedProfile {
    /// (time s, speed m/s) points; speed is linear between them.
    points: Vec<(f64, f64)>,
}

impl SpeedProfile {
    pub fn new(points: Vec<(f64, f64)>) -> Self {
        Self { points }
    }

    pub fn constant(speed: f64) -> Self {
        Self::new(vec![(0.0, speed)])
    }

    pub fn speed(&self, t: f64) -> f64 {
        let Some(first) = self.points.first() else {
            return 0.0;
        };
        if t <= first.0 {
            return first.1;
        }
        for pair in self.points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if t <= b.0 {
                return a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0);
            }
        }
        self.points.last().map_or(0.0, |p| p.1)
    }

    /// Distance travelled since t = 0 (exact for piecewise-linear speed).
    pub fn distance(&self, t: f64) -> f64 {
        let mut travelled = 0.0;
        let mut previous = (0.0, self.speed(0.0));
        let mut breakpoints: Vec<f64> = self
            .points
            .iter()
            .map(|p| p.0)
            .filter(|&pt| pt > 0.0 && pt < t)
            .collect();
        breakpoints.push(t);
        for time in breakpoints {
            let speed = self.speed(time);
            travelled += (time - previous.0) * (speed + previous.1) / 2.0;
            previous = (time, speed);
        }
        travelled
    }
}

/// A kind of object, with its AV2 category and typical size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Pedestrian,
    Car,
    Van,
    Pickup,
    Bus,
    Bicycle,
}

impl ObjectKind {
    /// AV2 annotation category.
    pub fn category(self) -> &'static str {
        match self {
            ObjectKind::Pedestrian => "PEDESTRIAN",
            // AV2's REGULAR_VEHICLE includes vans and pickups.
            ObjectKind::Car | ObjectKind::Pickup | ObjectKind::Van => "REGULAR_VEHICLE",
            ObjectKind::Bus => "BUS",
            ObjectKind::Bicycle => "BICYCLE",
        }
    }

    /// (length, width, height) in metres.
    pub fn size_m(self) -> (f64, f64, f64) {
        match self {
            ObjectKind::Pedestrian => (0.6, 0.6, 1.75),
            ObjectKind::Car => (4.6, 1.85, 1.5),
            ObjectKind::Van => (5.4, 2.0, 2.3),
            ObjectKind::Pickup => (5.6, 2.0, 1.9),
            ObjectKind::Bus => (12.0, 2.55, 3.2),
            ObjectKind::Bicycle => (1.8, 0.6, 1.1),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Pedestrian => "pedestrian",
            ObjectKind::Car => "car",
            ObjectKind::Van => "van",
            ObjectKind::Pickup => "pickup",
            ObjectKind::Bus => "bus",
            ObjectKind::Bicycle => "bicycle",
        }
    }
}

/// An object of the scenario: what it is, which photo shows it, where it goes.
#[derive(Debug, Clone)]
pub struct SceneObject {
    pub track_uuid: String,
    pub kind: ObjectKind,
    pub sprite: usize,
    pub path: Path,
}

/// Road-frame pose of a point at (s, d, z) facing `heading` (radians from the road).
pub fn road_pose(s: f64, d: f64, z: f64, heading: f64) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(s, d, z),
        UnitQuaternion::from_axis_angle(&Vector3::z_axis(), heading),
    )
}

/// A UUID-shaped, seed-determined track id (AV2 uses UUIDs).
pub fn track_uuid(seed: u64, index: usize) -> String {
    let word =
        |k: u32| hash((seed as u32) ^ hash((seed >> 32) as u32 ^ hash(index as u32 * 4 + k)));
    let (a, b, c, d) = (word(0), word(1), word(2), word(3));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:04x}{:08x}",
        a,
        b >> 16,
        b & 0x0fff,
        (c >> 16) & 0x3fff | 0x8000,
        c & 0xffff,
        d
    )
}

/// A point on the ground plane in road coordinates.
pub fn road_point(s: f64, d: f64) -> Point3<f64> {
    Point3::new(s, d, 0.0)
}
