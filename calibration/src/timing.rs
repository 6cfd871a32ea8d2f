//! When a rig's cameras expose. The cameras of a car are triggered in a fixed
//! order within a repeating cycle: an Argoverse 2 car's seven ring cameras run
//! at 20 Hz and are triggered as the lidar sweeps past them, so one cycle's
//! exposures spread over about 42 ms of its 50 ms. Grouping frames by raw
//! timestamp with a few milliseconds of tolerance cannot put such a cycle
//! together; removing each camera's offset within the cycle first can.
//!
//! A rig file may declare the timing (`trigger_period_ms` and each camera's
//! `trigger_offset_ms`), or it is measured from the cameras' first timestamps.

use std::f64::consts::TAU;

use crate::error::TimingError;

/// Fewer frames than this per camera leave its rate unknown.
const MIN_FRAMES_FOR_RATE: usize = 2;
/// Cameras whose frame intervals differ from the rig's by more than this
/// fraction are not triggered together.
const RATE_TOLERANCE: f64 = 0.1;
/// A camera this share of the period earlier in phase than the one that
/// delivered the first frame still starts the cycle (exposure jitter).
const START_JITTER: f64 = 0.02;

/// Each camera's exposure offset within a repeating trigger cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerTiming {
    period_ns: u64,
    /// Per camera, in rig order: when it exposes relative to the cycle's
    /// reference instant (declared offsets may be negative: an AV2 camera
    /// can expose a few milliseconds before the lidar sweep it belongs to).
    offsets_ns: Vec<i64>,
}

impl TriggerTiming {
    /// Declared timing: the cycle period and each camera's offset (rig order).
    pub fn new(period_ns: u64, offsets_ns: Vec<i64>) -> Result<Self, TimingError> {
        if period_ns == 0 {
            return Err(TimingError::NonPositivePeriod);
        }
        if offsets_ns.is_empty() {
            return Err(TimingError::NoCameras);
        }
        let (min, max) = offsets_ns
            .iter()
            .fold((i64::MAX, i64::MIN), |(lo, hi), &o| (lo.min(o), hi.max(o)));
        if max.abs_diff(min) >= period_ns {
            return Err(TimingError::SpreadNotWithinPeriod {
                spread_ns: max.abs_diff(min),
                period_ns,
            });
        }
        Ok(Self {
            period_ns,
            offsets_ns,
        })
    }

    /// Timing from milliseconds as rig files write them.
    pub fn from_ms(period_ms: f64, offsets_ms: &[f64]) -> Result<Self, TimingError> {
        let to_ns = |ms: f64| (ms * 1e6).round();
        if !(period_ms.is_finite() && period_ms > 0.0) {
            return Err(TimingError::NonPositivePeriod);
        }
        if let Some(&bad) = offsets_ms.iter().find(|o| !o.is_finite()) {
            return Err(TimingError::NonFiniteOffset(bad));
        }
        Self::new(
            to_ns(period_ms) as u64,
            offsets_ms.iter().map(|&o| to_ns(o) as i64).collect(),
        )
    }

    /// Measures the timing from each camera's first timestamps (rig order;
    /// a camera may have none, its offset is then 0). The period is the
    /// median frame interval; each camera's phase is the circular mean of
    /// its timestamps modulo the period. The cycle starts with the camera
    /// that delivered the first frame, so that the log's first frames make
    /// one complete cycle rather than the ends of two (cameras a hair
    /// earlier in phase, by jitter, start it too).
    pub fn measure(timestamps_ns: &[Vec<u64>]) -> Result<Self, TimingError> {
        let intervals: Vec<Option<f64>> = timestamps_ns
            .iter()
            .map(|t| median(&mut frame_intervals(t)))
            .collect();
        // All cameras' intervals together: a steadier period than any one's.
        let mut pooled: Vec<u64> = timestamps_ns
            .iter()
            .flat_map(|t| frame_intervals(t))
            .collect();
        let Some(period) = median(&mut pooled) else {
            return Err(TimingError::TooFewFrames {
                needed: MIN_FRAMES_FOR_RATE,
            });
        };
        if let Some((camera, interval)) = intervals
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .find(|(_, v)| (v - period).abs() > RATE_TOLERANCE * period)
        {
            return Err(TimingError::DifferentRates {
                camera,
                interval_ms: interval / 1e6,
                period_ms: period / 1e6,
            });
        }
        let Some(origin) = timestamps_ns.iter().flatten().copied().min() else {
            return Err(TimingError::TooFewFrames {
                needed: MIN_FRAMES_FOR_RATE,
            });
        };
        // Phase of each camera as an angle on the cycle; relative to the
        // first frame so that an error in the period does not grow with the
        // timestamps' magnitude.
        let phases: Vec<Option<f64>> = timestamps_ns
            .iter()
            .map(|times| {
                if times.is_empty() {
                    return None;
                }
                let (sin, cos) = times.iter().fold((0.0, 0.0), |(s, c), &t| {
                    let angle = TAU * ((t - origin) as f64 / period).fract();
                    (s + angle.sin(), c + angle.cos())
                });
                Some(sin.atan2(cos).rem_euclid(TAU))
            })
            .collect();
        let first_camera = timestamps_ns
            .iter()
            .position(|times| times.contains(&origin))
            .unwrap_or(0);
        let start = phases[first_camera].unwrap_or(0.0) - TAU * START_JITTER;
        let offsets_ns: Vec<Option<i64>> = phases
            .iter()
            .map(|phase| phase.map(|p| ((p - start).rem_euclid(TAU) / TAU * period).round() as i64))
            .collect();
        // The earliest camera of the cycle exposes at its start.
        let earliest = offsets_ns.iter().flatten().copied().min().unwrap_or(0);
        let offsets_ns = offsets_ns
            .iter()
            .map(|offset| offset.map_or(0, |o| o - earliest))
            .collect();
        Self::new(period.round() as u64, offsets_ns)
    }

    pub fn period_ns(&self) -> u64 {
        self.period_ns
    }

    /// The camera's offset within the cycle (0 for a camera index the timing
    /// does not know).
    pub fn offset_ns(&self, camera: usize) -> i64 {
        self.offsets_ns.get(camera).copied().unwrap_or(0)
    }

    pub fn offsets_ns(&self) -> &[i64] {
        &self.offsets_ns
    }

    /// From the first camera's exposure to the last's within a cycle.
    pub fn spread_ns(&self) -> u64 {
        let min = self.offsets_ns.iter().copied().min().unwrap_or(0);
        let max = self.offsets_ns.iter().copied().max().unwrap_or(0);
        max.abs_diff(min)
    }

    /// The cycle reference time of a frame of `camera` exposed at `timestamp_ns`.
    pub fn cycle_time_ns(&self, camera: usize, timestamp_ns: u64) -> u64 {
        timestamp_ns.saturating_add_signed(-self.offset_ns(camera))
    }

    /// The same timing for a rig of the given cameras (indices into this one).
    pub fn select(&self, cameras: &[usize]) -> Result<Self, TimingError> {
        Self::new(
            self.period_ns,
            cameras.iter().map(|&c| self.offset_ns(c)).collect(),
        )
    }
}

/// A camera's intervals between successive frames (none below two frames).
fn frame_intervals(times: &[u64]) -> Vec<u64> {
    if times.len() < MIN_FRAMES_FOR_RATE {
        return Vec::new();
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|&d| d > 0)
        .collect()
}

fn median(values: &mut [u64]) -> Option<f64> {
    values.sort_unstable();
    values.get(values.len() / 2).map(|&v| v as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1e6;

    /// AV2's ring cameras relative to the lidar sweep (rig order of
    /// `AV2_RING_CAMERAS`): front centre, front left, front right, side
    /// left, side right, rear left, rear right.
    const AV2_OFFSETS_MS: [f64; 7] = [39.6, 27.1, 2.1, 12.1, 17.1, -2.9, 32.1];

    fn frames(offsets_ms: &[f64], period_ms: f64, cycles: usize, jitter_ms: f64) -> Vec<Vec<u64>> {
        let base = 315_969_629_000_000_000u64;
        offsets_ms
            .iter()
            .enumerate()
            .map(|(camera, offset)| {
                (0..cycles)
                    .map(|k| {
                        // A deterministic pseudo-jitter in [-jitter, jitter].
                        let wobble = ((k * 7 + camera * 3) % 5) as f64 / 2.0 - 1.0;
                        let t = k as f64 * period_ms + offset + wobble * jitter_ms;
                        base.saturating_add_signed((t * MS).round() as i64)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn measured_av2_timing_recovers_the_offsets_from_the_first_camera_on() {
        let timing = TriggerTiming::measure(&frames(&AV2_OFFSETS_MS, 50.0, 6, 0.4)).unwrap();
        assert!((timing.period_ns() as f64 - 50.0 * MS).abs() < 0.5 * MS);
        // Differences between cameras are what a measurement can know.
        for (a, truth_a) in AV2_OFFSETS_MS.iter().enumerate() {
            for (b, truth_b) in AV2_OFFSETS_MS.iter().enumerate() {
                let measured = (timing.offset_ns(a) - timing.offset_ns(b)) as f64 / MS;
                let truth = (truth_a - truth_b).rem_euclid(50.0);
                let measured = measured.rem_euclid(50.0);
                let error = (measured - truth)
                    .abs()
                    .min(50.0 - (measured - truth).abs());
                assert!(error < 0.5, "cameras {a}, {b}: {measured} vs {truth}");
            }
        }
        // The rear left camera delivered first: the cycle starts with it,
        // as AV2's cycle does, and spans 42.5 ms.
        assert!(timing.offset_ns(5) == 0, "{timing:?}");
        assert!(
            (timing.spread_ns() as f64 / MS - 42.5).abs() < 1.5,
            "{timing:?}"
        );
        assert!(timing.offsets_ns().iter().all(|&o| o >= 0));
    }

    #[test]
    fn cameras_at_different_rates_are_not_one_trigger_cycle() {
        let mut times = frames(&[0.0, 10.0, 20.0], 50.0, 6, 0.0);
        times[1] = times[1].iter().step_by(2).copied().collect();
        assert!(matches!(
            TriggerTiming::measure(&times),
            Err(TimingError::DifferentRates { camera: 1, .. })
        ));
    }

    #[test]
    fn a_camera_without_frames_gets_offset_zero() {
        let mut times = frames(&[5.0, 20.0, 30.0], 100.0, 3, 0.0);
        times[2].clear();
        let timing = TriggerTiming::measure(&times).unwrap();
        assert_eq!(timing.offset_ns(0), 0);
        assert_eq!(timing.offset_ns(1), 15_000_000);
        assert_eq!(timing.offset_ns(2), 0);
    }

    #[test]
    fn declared_timing_is_checked() {
        assert!(TriggerTiming::from_ms(50.0, &AV2_OFFSETS_MS).is_ok());
        assert!(matches!(
            TriggerTiming::from_ms(0.0, &[1.0]),
            Err(TimingError::NonPositivePeriod)
        ));
        assert!(matches!(
            TriggerTiming::from_ms(40.0, &AV2_OFFSETS_MS),
            Err(TimingError::SpreadNotWithinPeriod { .. })
        ));
        assert!(matches!(
            TriggerTiming::from_ms(50.0, &[f64::NAN]),
            Err(TimingError::NonFiniteOffset(_))
        ));
    }

    #[test]
    fn a_frame_s_cycle_time_removes_its_camera_s_offset() {
        let timing = TriggerTiming::from_ms(50.0, &[-2.9, 39.6]).unwrap();
        assert_eq!(timing.cycle_time_ns(0, 1_000_000_000), 1_002_900_000);
        assert_eq!(timing.cycle_time_ns(1, 1_039_600_000), 1_000_000_000);
        assert_eq!(timing.select(&[1]).unwrap().offsets_ns(), &[39_600_000]);
    }
}
