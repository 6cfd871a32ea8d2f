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
/// A gap between two cameras' phases narrower than this share of the
/// period never separates two cycles...
const MIN_CYCLE_GAP_SHARE: f64 = 0.02;
/// ...nor one narrower than this many times the timestamps' jitter (RMS):
/// two cameras' frames then swap order too often.
const CYCLE_GAP_JITTERS: f64 = 6.0;
/// Cameras whose frame intervals differ from the rig's by more than this
/// fraction are not triggered together.
const RATE_TOLERANCE: f64 = 0.1;

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
    /// its timestamps modulo the period.
    ///
    /// Where the cycle starts: with the camera that delivered the first
    /// frame, so that the log's first frames make one complete cycle rather
    /// than the ends of two, unless the gap before it is one the frames'
    /// jitter could cross: then with the nearest camera before it that
    /// follows a wide enough gap (the widest gap when none is). A cycle's
    /// last camera a hair ahead of the next cycle's first, its frames
    /// jittered, would otherwise be read after the next cycle's first frames
    /// and arrive for a set already gone (free-running cameras, stamped on
    /// arrival, put one 2.4 ms ahead of the first in a live recording).
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
        // Each camera's phase: the circular mean of its frames' angles.
        let phases: Vec<Option<f64>> = timestamps_ns
            .iter()
            .map(|times| {
                if times.is_empty() {
                    return None;
                }
                let (sin, cos) = times.iter().fold((0.0, 0.0), |(s, c), &t| {
                    let angle = cycle_angle(t, origin, period);
                    (s + angle.sin(), c + angle.cos())
                });
                Some(sin.atan2(cos).rem_euclid(TAU))
            })
            .collect();
        let jitter = timestamp_jitter(timestamps_ns, &phases, origin, period);
        let min_gap = (MIN_CYCLE_GAP_SHARE * TAU).max(CYCLE_GAP_JITTERS * jitter / period * TAU);
        let first_camera = timestamps_ns
            .iter()
            .position(|times| times.contains(&origin))
            .unwrap_or(0);
        let start = cycle_start(&phases, first_camera, min_gap);
        let offsets_ns = phases
            .iter()
            .map(|phase| {
                phase.map_or(0, |p| {
                    ((p - start).rem_euclid(TAU) / TAU * period).round() as i64
                })
            })
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

/// Where in the cycle (angle in `[0, TAU)`) a timestamp falls; counted from
/// the first frame so that an error in the period does not grow with the
/// timestamps' magnitude.
fn cycle_angle(t: u64, origin: u64, period: f64) -> f64 {
    TAU * ((t - origin) as f64 / period).fract()
}

/// The root mean square of the timestamps' distances from their camera's
/// phase, in nanoseconds (exposure and stamping jitter, and what an error in
/// the period adds over the measured frames).
fn timestamp_jitter(
    timestamps_ns: &[Vec<u64>],
    phases: &[Option<f64>],
    origin: u64,
    period: f64,
) -> f64 {
    let (sum, count) = timestamps_ns
        .iter()
        .zip(phases)
        .filter_map(|(times, phase)| phase.map(|phase| (times, phase)))
        .flat_map(|(times, phase)| {
            times.iter().map(move |&t| {
                let off = (cycle_angle(t, origin, period) - phase + TAU / 2.0).rem_euclid(TAU)
                    - TAU / 2.0;
                off / TAU * period
            })
        })
        .fold((0.0, 0usize), |(sum, n), d| (sum + d * d, n + 1));
    if count == 0 {
        0.0
    } else {
        (sum / count as f64).sqrt()
    }
}

/// The phase (angle in `[0, TAU)`) the cycle starts at: `first_camera`'s, or
/// walking back from it, the first camera's whose gap to the camera before
/// it is at least `min_gap`; when no gap is (a single camera's is 0), the
/// one after the widest gap.
fn cycle_start(phases: &[Option<f64>], first_camera: usize, min_gap: f64) -> f64 {
    let mut sorted: Vec<f64> = phases.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let count = sorted.len();
    if count == 0 {
        return 0.0;
    }
    let gap_before = |i: usize| {
        let previous = sorted[(i + count - 1) % count];
        (sorted[i] - previous).rem_euclid(TAU)
    };
    let first_phase = phases
        .get(first_camera)
        .copied()
        .flatten()
        .unwrap_or(sorted[0]);
    // The last of the cameras in phase with the first camera (sorted), so
    // that the walk back passes over them all.
    let first = sorted.iter().rposition(|&p| p == first_phase).unwrap_or(0);
    if let Some(step) =
        (0..count).find(|&step| gap_before((first + count - step) % count) >= min_gap)
    {
        return sorted[(first + count - step) % count];
    }
    let widest = (0..count)
        .max_by(|&a, &b| gap_before(a).total_cmp(&gap_before(b)))
        .unwrap_or(0);
    sorted[widest]
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

    /// Like [`frames`], with the jitter drawn from a deterministic hash of
    /// frame and camera rather than a cycle, so that intervals keep their
    /// median.
    fn noisy_frames(
        offsets_ms: &[f64],
        period_ms: f64,
        cycles: usize,
        jitter_ms: f64,
    ) -> Vec<Vec<u64>> {
        let mut times = frames(offsets_ms, period_ms, cycles, 0.0);
        for (camera, camera_times) in times.iter_mut().enumerate() {
            for (k, t) in camera_times.iter_mut().enumerate() {
                let noise = jitter_ms * (k as f64 * 12.9898 + camera as f64 * 78.233).sin();
                *t = t.saturating_add_signed((noise * MS).round() as i64);
            }
        }
        times
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
        // The cycle starts with the rear left camera, after the 7.5 ms in
        // which no camera exposes, as AV2's cycle does, and spans 42.5 ms.
        assert!(timing.offset_ns(5) == 0, "{timing:?}");
        assert!(
            (timing.spread_ns() as f64 / MS - 42.5).abs() < 1.5,
            "{timing:?}"
        );
        assert!(timing.offsets_ns().iter().all(|&o| o >= 0));
    }

    #[test]
    fn the_cycle_starts_at_the_first_camera_unless_jitter_could_cross_the_gap_before_it() {
        // Free-running cameras as a live recording had them: camera 1 runs
        // 1.7 ms ahead of camera 0, which delivered the log's first frame.
        let mut times = frames(&[0.0, -1.7, 5.6, 13.0, 17.9, 0.7, 22.2], 100.0, 6, 0.0);
        times[1].remove(0);
        let timing = TriggerTiming::measure(&times).unwrap();
        assert_eq!(timing.offset_ns(1), 0, "{timing:?}");
        assert!(
            (timing.spread_ns() as f64 / MS - 23.9).abs() < 0.5,
            "{timing:?}"
        );

        // 4 ms ahead: steady timestamps leave that gap as the boundary...
        let mut steady = frames(&[0.0, -4.0, 20.0], 100.0, 5, 0.0);
        steady[1].remove(0);
        let timing = TriggerTiming::measure(&steady).unwrap();
        assert_eq!(timing.offsets_ns(), &[0, 96_000_000, 20_000_000]);
        // ...timestamps jittered by up to ±3 ms do not.
        let mut jittered = noisy_frames(&[0.0, -4.0, 20.0], 100.0, 10, 3.0);
        jittered[1].remove(0);
        let timing = TriggerTiming::measure(&jittered).unwrap();
        assert_eq!(timing.offset_ns(1), 0, "{timing:?}");
        assert!(timing.spread_ns() < 30 * MS as u64, "{timing:?}");
    }

    #[test]
    fn with_no_gap_wider_than_the_jitter_the_cycle_starts_after_the_widest() {
        // Timestamps jittered by up to ±6 ms (4.2 ms RMS): no gap is the
        // 25 ms that takes, the 18 ms one before camera 7 is the widest.
        let offsets = [0.0, 12.0, 24.0, 36.0, 48.0, 60.0, 72.0, 90.0];
        let timing = TriggerTiming::measure(&noisy_frames(&offsets, 100.0, 40, 6.0)).unwrap();
        assert_eq!(timing.offset_ns(7), 0, "{timing:?}");
        assert!(
            (timing.spread_ns() as f64 / MS - 82.0).abs() < 3.0,
            "{timing:?}"
        );
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
