//! The synchroniser: frames of the rig's cameras → frame sets.
//!
//! A rig's cameras are triggered in a fixed order within a repeating cycle
//! (an AV2 car's seven ring cameras expose over ~42 ms of each 50 ms), so
//! each frame is first moved back by its camera's offset within the cycle
//! (declared by the rig, or measured from the cameras' timestamps: from a
//! recorded log's index before the first frame, else from the first frames,
//! held back until measured): the frames of one cycle then share one cycle
//! time. The earliest pending cycle time opens a set; frames within
//! ±tolerance of it join. A set leaves when every camera is in, when every
//! missing camera has already moved past it, or when max-wait has passed
//! (stream time in replay, wall time in live) — then as a partial set. A
//! frame for a set already gone is dropped as `late`; a second frame of a
//! camera for the same set, or the same frame again, as `duplicate`. Sets
//! leave in time order.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use heptaview_calibration::TriggerTiming;

use crate::config::{PhaseSource, PipelineConfig, SyncClock, SyncConfig};
use crate::error::PipelineError;
use crate::stage_context::StageContext;
use crate::types::{Frame, FrameSet, Slot, SlotStatus};
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::stage::{Output, Stage};

/// The tolerance when frames are grouped by raw timestamp.
pub const UNTIMED_TOLERANCE_MS: f64 = 10.0;
/// Phases are measured once every camera has delivered this many frames...
/// Two give each camera an interval and a phase (the cycle is the median of
/// all cameras' intervals); every further frame waited for here delays the
/// first frame set, and so the drive's first decision, by a whole cycle.
const LEARN_FRAMES: usize = 2;
/// ...or this much stream time has passed since the first frame.
const LEARN_WINDOW_NS: u64 = 1_000_000_000;

/// How the synchroniser ended up grouping frames, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncTiming {
    /// `declared`, `measured` or `none`.
    pub phase: &'static str,
    /// The cameras' offsets within the trigger cycle, when there are phases.
    pub timing: Option<TriggerTiming>,
    pub tolerance_ns: u64,
    /// Why measuring the phases failed, when it did.
    pub note: Option<String>,
    /// What the phases were measured from (or measuring them failed on):
    /// [`FROM_LOG_INDEX`] or [`FROM_FIRST_FRAMES`].
    pub measured_from: Option<&'static str>,
}

/// Phases measured from a recorded log's index, before the first frame.
pub const FROM_LOG_INDEX: &str = "log index";
/// Phases measured from the first frames, held back until measured.
pub const FROM_FIRST_FRAMES: &str = "first frames";

struct Pending {
    reference_ns: u64,
    frames: Vec<Option<Frame>>,
    opened: Instant,
    /// Wall-clock wait beyond max-wait: the cameras still due in this cycle
    /// after the one that opened it.
    still_due: Duration,
}

enum Phases {
    /// Frames wait here until the cameras' phases are measured.
    Learning(Vec<Frame>),
    Known(TriggerTiming),
    Untimed,
}

/// How many emitted references are remembered to recognise late frames.
const REMEMBERED_SETS: usize = 64;

pub struct Synchroniser {
    config: SyncConfig,
    cameras: usize,
    ledger: Arc<Ledger>,
    phases: Phases,
    published: Arc<OnceLock<SyncTiming>>,
    pending: VecDeque<Pending>,
    last_seen_ns: Vec<Option<u64>>,
    /// Per camera, the latest cycle time it delivered.
    last_cycle_ns: Vec<Option<u64>>,
    emitted_ns: VecDeque<u64>,
    stream_now_ns: u64,
    next_index: u64,
}

impl Synchroniser {
    /// `declared`: the rig's trigger timing, if it declares one (camera order).
    pub fn new(
        config: SyncConfig,
        cameras: usize,
        declared: Option<TriggerTiming>,
        ledger: Arc<Ledger>,
    ) -> Result<Self, PipelineError> {
        if cameras == 0 {
            return Err(PipelineError::Config(
                "sync: a frame set needs at least one camera".to_owned(),
            ));
        }
        let published = Arc::new(OnceLock::new());
        let mut sync = Self {
            config,
            cameras,
            ledger,
            phases: Phases::Untimed,
            published,
            pending: VecDeque::new(),
            last_seen_ns: vec![None; cameras],
            last_cycle_ns: vec![None; cameras],
            emitted_ns: VecDeque::new(),
            stream_now_ns: 0,
            next_index: 0,
        };
        match (sync.config.phase, declared) {
            (PhaseSource::None, _) => sync.settle(Phases::Untimed, "none", None, None),
            (PhaseSource::Auto, Some(timing)) => {
                if timing.offsets_ns().len() != cameras {
                    return Err(PipelineError::Config(format!(
                        "sync: the rig declares trigger offsets for {} cameras, the run has {cameras}",
                        timing.offsets_ns().len()
                    )));
                }
                sync.settle(Phases::Known(timing), "declared", None, None);
            }
            _ => sync.phases = Phases::Learning(Vec::new()),
        }
        Ok(sync)
    }

    /// How frames are grouped, once known (at once when declared or
    /// measured ahead, after the first frames when learnt from them).
    pub fn timing(&self) -> Arc<OnceLock<SyncTiming>> {
        self.published.clone()
    }

    fn settle(
        &mut self,
        phases: Phases,
        phase: &'static str,
        note: Option<String>,
        measured_from: Option<&'static str>,
    ) {
        self.phases = phases;
        let timing = match &self.phases {
            Phases::Known(timing) => Some(timing.clone()),
            _ => None,
        };
        let _ = self.published.set(SyncTiming {
            phase,
            timing,
            tolerance_ns: self.tolerance_ns(),
            note,
            measured_from,
        });
    }

    fn tolerance_ns(&self) -> u64 {
        match (self.config.tolerance_ms, &self.phases) {
            (Some(ms), _) => (ms.get() * 1e6) as u64,
            (None, Phases::Known(timing)) => timing.period_ns() / 4,
            (None, _) => (UNTIMED_TOLERANCE_MS * 1e6) as u64,
        }
    }

    fn max_wait_ns(&self) -> u64 {
        (self.config.max_wait_ms.get() * 1e6) as u64
    }

    fn drop_frame(&self, reason: DropReason) {
        self.ledger.dropped(reason, 1);
    }

    /// The time a frame is grouped by: its cycle time when phases are known.
    fn cycle_time_ns(&self, frame: &Frame) -> u64 {
        match &self.phases {
            Phases::Known(timing) => timing.cycle_time_ns(frame.camera.0, frame.timestamp_ns),
            _ => frame.timestamp_ns,
        }
    }

    /// Buffers a frame while the phases are being measured; measures them
    /// once enough frames are in (or `now`), then places what was buffered.
    fn learn(&mut self, frame: Option<Frame>, now: bool) {
        let Phases::Learning(buffer) = &mut self.phases else {
            if let Some(frame) = frame {
                self.place(frame);
            }
            return;
        };
        buffer.extend(frame);
        let mut per_camera = vec![Vec::new(); self.cameras];
        for f in buffer.iter() {
            per_camera[f.camera.0].push(f.timestamp_ns);
        }
        let first = buffer.iter().map(|f| f.timestamp_ns).min().unwrap_or(0);
        let latest = buffer.iter().map(|f| f.timestamp_ns).max().unwrap_or(0);
        let enough = per_camera.iter().all(|t| t.len() >= LEARN_FRAMES)
            || latest.saturating_sub(first) >= LEARN_WINDOW_NS;
        if !(enough || now) {
            return;
        }
        let buffered = std::mem::take(buffer);
        self.settle_measured(&per_camera, FROM_FIRST_FRAMES);
        for frame in buffered {
            self.place(frame);
        }
    }

    /// Measures the phases from the timestamps a recorded log lists
    /// (per camera, slot order, increasing), instead of holding the first
    /// frames back until they are measured: the first frame set then leaves
    /// as soon as its cameras are in, a whole cycle sooner. Uses the
    /// learning window's worth from the first timestamp (at least
    /// [`LEARN_FRAMES`] per camera, so that a slow camera still has a rate).
    /// Frames the source later fails to read still count here: the phases
    /// belong to the rig, not to the frames that decode. Phases already
    /// settled (declared, or not to be measured) stay, and so does learning
    /// once frames have arrived.
    pub fn measure_ahead(&mut self, upcoming_ns: &[Vec<u64>]) {
        let Phases::Learning(buffer) = &self.phases else {
            return;
        };
        if !buffer.is_empty() || upcoming_ns.iter().all(Vec::is_empty) {
            return;
        }
        let first = upcoming_ns.iter().flatten().copied().min().unwrap_or(0);
        let window: Vec<Vec<u64>> = (0..self.cameras)
            .map(|camera| {
                upcoming_ns.get(camera).map_or_else(Vec::new, |times| {
                    times
                        .iter()
                        .enumerate()
                        .take_while(|&(i, t)| {
                            i < LEARN_FRAMES || t.saturating_sub(first) < LEARN_WINDOW_NS
                        })
                        .map(|(_, &t)| t)
                        .collect()
                })
            })
            .collect();
        self.settle_measured(&window, FROM_LOG_INDEX);
    }

    fn settle_measured(&mut self, per_camera: &[Vec<u64>], from: &'static str) {
        match TriggerTiming::measure(per_camera) {
            Ok(timing) => self.settle(Phases::Known(timing), "measured", None, Some(from)),
            Err(why) => {
                tracing::warn!(
                    "sync: cannot measure the cameras' trigger phases ({why}); grouping frames by their timestamps"
                );
                self.settle(Phases::Untimed, "none", Some(why.to_string()), Some(from));
            }
        }
    }

    fn place(&mut self, frame: Frame) {
        let camera = frame.camera.0;
        let t = frame.timestamp_ns;
        let cycle_ns = self.cycle_time_ns(&frame);
        let tolerance = self.tolerance_ns();
        self.stream_now_ns = self.stream_now_ns.max(cycle_ns);
        if self.last_seen_ns[camera] == Some(t) {
            return self.drop_frame(DropReason::Duplicate);
        }
        self.last_seen_ns[camera] = Some(self.last_seen_ns[camera].map_or(t, |seen| seen.max(t)));
        self.last_cycle_ns[camera] =
            Some(self.last_cycle_ns[camera].map_or(cycle_ns, |seen| seen.max(cycle_ns)));

        let closest = self
            .pending
            .iter_mut()
            .filter(|p| p.reference_ns.abs_diff(cycle_ns) <= tolerance)
            .min_by_key(|p| p.reference_ns.abs_diff(cycle_ns));
        if let Some(set) = closest {
            if set.frames[camera].is_some() {
                return self.drop_frame(DropReason::Duplicate);
            }
            set.frames[camera] = Some(frame);
            return;
        }
        let newest_emitted = self.emitted_ns.back().copied();
        let belongs_to_emitted = self
            .emitted_ns
            .iter()
            .any(|r| r.abs_diff(cycle_ns) <= tolerance);
        if belongs_to_emitted || newest_emitted.is_some_and(|r| cycle_ns < r) {
            return self.drop_frame(DropReason::Late);
        }
        let still_due = match &self.phases {
            Phases::Known(timing) => {
                let latest = timing.offsets_ns().iter().copied().max().unwrap_or(0);
                Duration::from_nanos(latest.abs_diff(timing.offset_ns(camera)))
            }
            _ => Duration::ZERO,
        };
        let mut frames = vec![None; self.cameras];
        frames[camera] = Some(frame);
        let position = self.pending.partition_point(|p| p.reference_ns < cycle_ns);
        self.pending.insert(
            position,
            Pending {
                reference_ns: cycle_ns,
                frames,
                opened: Instant::now(),
                still_due,
            },
        );
    }

    /// Whether the oldest pending set may leave now.
    fn ready(&self, set: &Pending) -> bool {
        let tolerance = self.tolerance_ns();
        let settled = set.frames.iter().enumerate().all(|(camera, frame)| {
            frame.is_some()
                || self.last_cycle_ns[camera]
                    .is_some_and(|seen| seen > set.reference_ns + tolerance)
        });
        let waited = match self.config.clock {
            SyncClock::Stream => self.stream_now_ns > set.reference_ns + self.max_wait_ns(),
            SyncClock::Wall => {
                set.opened.elapsed() >= Duration::from_nanos(self.max_wait_ns()) + set.still_due
            }
        };
        settled || waited
    }

    fn emit_ready(
        &mut self,
        out: &mut Output<'_, FrameSet>,
        everything: bool,
    ) -> Result<(), PipelineError> {
        while let Some(front) = self.pending.front() {
            if !everything && !self.ready(front) {
                break;
            }
            let Some(set) = self.pending.pop_front() else {
                break;
            };
            self.emitted_ns.push_back(set.reference_ns);
            if self.emitted_ns.len() > REMEMBERED_SETS {
                self.emitted_ns.pop_front();
            }
            let first_arrival = set
                .frames
                .iter()
                .flatten()
                .map(|f| f.arrival)
                .min()
                .unwrap_or_else(Instant::now);
            let slots = set
                .frames
                .into_iter()
                .map(|frame| match frame {
                    Some(frame) => Slot {
                        frame: Some(frame),
                        status: SlotStatus::Arrived,
                        detections: Vec::new(),
                    },
                    None => Slot::missing(),
                })
                .collect();
            out.send(FrameSet {
                index: self.next_index,
                reference_ns: set.reference_ns,
                slots,
                first_arrival,
                objects: Vec::new(),
                tracks: Vec::new(),
                decision: None,
                stage_entries: Vec::new(),
            })?;
            self.next_index += 1;
        }
        Ok(())
    }
}

impl Stage for Synchroniser {
    type In = Frame;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "sync"
    }

    fn process(
        &mut self,
        frame: Frame,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        if frame.camera.0 >= self.cameras {
            return Err(PipelineError::Config(format!(
                "sync: frame from camera index {} but the rig has {} cameras",
                frame.camera.0, self.cameras
            )));
        }
        self.learn(Some(frame), false);
        self.emit_ready(out, false)
    }

    fn finish(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        self.learn(None, true);
        self.emit_ready(out, true)
    }

    fn tick_interval(&self) -> Option<Duration> {
        (self.config.clock == SyncClock::Wall).then_some(Duration::from_millis(5))
    }

    fn tick(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        self.emit_ready(out, false)
    }
}

/// The synchroniser of the run: its cameras, and the phases its rig declares
/// or `upcoming_ns` (the run's timestamps per camera, when the source knows
/// them ahead) tells.
pub fn build(
    context: &StageContext,
    config: &PipelineConfig,
    upcoming_ns: Option<Vec<Vec<u64>>>,
) -> Result<Synchroniser, PipelineError> {
    let mut synchroniser = Synchroniser::new(
        config.sync.clone(),
        context.rig.cameras().len(),
        context.rig.timing().cloned(),
        context.ledger.clone(),
    )?;
    if let Some(upcoming) = upcoming_ns {
        synchroniser.measure_ahead(&upcoming);
    }
    Ok(synchroniser)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::types::CameraId;
    use heptaview_models::units::Positive;
    use heptaview_runtime::edge::{Backpressure, EdgeReceiver, edge};

    const MS: u64 = 1_000_000;

    fn frame(camera: usize, timestamp_ns: u64) -> Frame {
        Frame {
            camera: CameraId(camera),
            timestamp_ns,
            arrival: Instant::now(),
            sequence: 0,
            jpeg: Arc::new(Vec::new()),
            image: None,
            grey: None,
            native_size: None,
        }
    }

    struct Harness {
        sync: Synchroniser,
        ledger: Arc<Ledger>,
        tx: heptaview_runtime::edge::EdgeSender<FrameSet>,
        rx: EdgeReceiver<FrameSet>,
    }

    impl Harness {
        fn new(config: SyncConfig) -> Self {
            Self::timed(config, None)
        }

        fn timed(config: SyncConfig, declared: Option<TriggerTiming>) -> Self {
            let ledger = Arc::new(Ledger::default());
            let (tx, rx, _) = edge("sync->test", 1000, Backpressure::Lossless, ledger.clone());
            Self {
                sync: Synchroniser::new(config, 7, declared, ledger.clone()).unwrap(),
                ledger,
                tx,
                rx,
            }
        }

        fn push(&mut self, camera: usize, t: u64) -> Vec<FrameSet> {
            let mut out = Output::new(&self.tx);
            self.sync.process(frame(camera, t), &mut out).unwrap();
            self.rx.drain()
        }

        fn finish(&mut self) -> Vec<FrameSet> {
            let mut out = Output::new(&self.tx);
            self.sync.finish(&mut out).unwrap();
            self.rx.drain()
        }
    }

    /// Frames grouped by raw timestamp, as before phases were known.
    fn untimed() -> SyncConfig {
        SyncConfig {
            phase: PhaseSource::None,
            ..SyncConfig::default()
        }
    }

    fn cameras_of(set: &FrameSet) -> Vec<usize> {
        set.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.frame.is_some())
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn seven_frames_within_tolerance_make_one_complete_set_as_soon_as_all_are_in() {
        let mut h = Harness::new(untimed());
        for camera in 0..6 {
            assert!(h.push(camera, 1000 * MS + camera as u64 * MS).is_empty());
        }
        let sets = h.push(6, 1000 * MS - 4 * MS);
        assert_eq!(sets.len(), 1);
        assert!(sets[0].is_complete());
        assert_eq!(sets[0].reference_ns, 1000 * MS);
        assert!(
            sets[0]
                .slots
                .iter()
                .all(|s| s.status == SlotStatus::Arrived)
        );
    }

    #[test]
    fn a_frame_beyond_the_tolerance_opens_the_next_set() {
        let mut h = Harness::new(untimed());
        h.push(0, 1000 * MS);
        h.push(1, 1009 * MS);
        h.push(2, 1011 * MS);
        let sets = h.finish();
        assert_eq!(sets.len(), 2);
        assert_eq!(cameras_of(&sets[0]), [0, 1]);
        assert_eq!(cameras_of(&sets[1]), [2]);
        assert_eq!(sets[1].reference_ns, 1011 * MS);
        assert_eq!((sets[0].index, sets[1].index), (0, 1));
    }

    #[test]
    fn a_camera_that_never_delivers_gives_partial_sets_after_max_wait_in_stream_time() {
        let mut h = Harness::new(untimed());
        let mut emitted = Vec::new();
        for k in 0..5u64 {
            for camera in 0..6 {
                emitted.extend(h.push(camera, (1000 + 100 * k) * MS + camera as u64 * MS));
            }
        }
        // Each set leaves once stream time passes its reference + 50 ms.
        assert_eq!(emitted.len(), 4);
        emitted.extend(h.finish());
        assert_eq!(emitted.len(), 5);
        for set in &emitted {
            assert_eq!(cameras_of(set), [0, 1, 2, 3, 4, 5]);
            assert_eq!(set.slots[6].status, SlotStatus::Missing);
        }
        assert_eq!(h.ledger.counts().dropped_total(), 0);
    }

    #[test]
    fn a_set_leaves_early_when_its_missing_cameras_have_moved_past_it() {
        let mut h = Harness::new(SyncConfig {
            max_wait_ms: Positive::of(1000.0),
            ..untimed()
        });
        for camera in 0..7 {
            if camera != 3 {
                assert!(h.push(camera, 1000 * MS).is_empty());
            }
        }
        // Camera 3's next frame is for the next instant: the first set cannot get it.
        let sets = h.push(3, 1100 * MS);
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].present(), 6);
    }

    #[test]
    fn frames_for_an_emitted_set_are_late_and_repeats_are_duplicates() {
        let mut h = Harness::new(untimed());
        for camera in 0..7 {
            h.push(camera, 1000 * MS + camera as u64 * MS);
        }
        // A second frame of camera 2 within the first set's window, after it left.
        assert!(h.push(2, 1004 * MS).is_empty());
        assert_eq!(h.ledger.counts().dropped(DropReason::Late), 1);
        // The same frame twice: duplicate.
        h.push(0, 1100 * MS);
        h.push(0, 1100 * MS);
        // Another frame of camera 0 inside the same pending set: duplicate.
        h.push(0, 1103 * MS);
        assert_eq!(h.ledger.counts().dropped(DropReason::Duplicate), 2);
        // Older than everything emitted: late.
        h.push(5, 900 * MS);
        assert_eq!(h.ledger.counts().dropped(DropReason::Late), 2);
        let rest = h.finish();
        assert_eq!(rest.len(), 1);
        assert_eq!(cameras_of(&rest[0]), [0]);
    }

    #[test]
    fn wall_clock_max_wait_emits_a_partial_set_on_tick() {
        let mut h = Harness::new(SyncConfig {
            clock: SyncClock::Wall,
            max_wait_ms: Positive::of(20.0),
            ..untimed()
        });
        assert_eq!(h.sync.tick_interval(), Some(Duration::from_millis(5)));
        assert!(h.push(0, 1000 * MS).is_empty());
        let mut out = Output::new(&h.tx);
        h.sync.tick(&mut out).unwrap();
        assert!(h.rx.drain().is_empty(), "not before max-wait");
        std::thread::sleep(Duration::from_millis(30));
        h.sync.tick(&mut out).unwrap();
        let sets = h.rx.drain();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].present(), 1);
    }

    /// AV2's ring cameras relative to the lidar sweep, in the rig order of
    /// `AV2_RING_CAMERAS` (front centre, front left, front right, side left,
    /// side right, rear left, rear right).
    const AV2_OFFSETS_MS: [f64; 7] = [39.6, 27.1, 2.1, 12.1, 17.1, -2.9, 32.1];

    /// `cycles` of AV2 timing at 20 Hz, in arrival (time) order, with up to
    /// ±0.5 ms of jitter; `skip` leaves out (cycle, camera) pairs.
    fn av2_frames(cycles: u64, skip: &[(u64, usize)]) -> Vec<(usize, u64)> {
        let mut frames = Vec::new();
        for k in 0..cycles {
            for (camera, offset) in AV2_OFFSETS_MS.iter().enumerate() {
                if skip.contains(&(k, camera)) {
                    continue;
                }
                // Deterministic, uncorrelated from frame to frame.
                let jitter = 0.5 * (k as f64 * 12.9898 + camera as f64 * 78.233).sin();
                let t = 1000.0 + 50.0 * k as f64 + offset + jitter;
                frames.push((camera, (t * 1e6).round() as u64));
            }
        }
        frames.sort_by_key(|&(_, t)| t);
        frames
    }

    fn run(h: &mut Harness, frames: &[(usize, u64)]) -> Vec<FrameSet> {
        let mut sets = Vec::new();
        for &(camera, t) in frames {
            sets.extend(h.push(camera, t));
        }
        sets.extend(h.finish());
        sets
    }

    #[test]
    fn measured_phases_put_every_av2_cycle_in_one_complete_set() {
        let mut h = Harness::new(SyncConfig::default());
        let sets = run(&mut h, &av2_frames(40, &[]));
        // The measured cycle starts with the camera that delivered first
        // (AV2's rear left, 7.5 ms after the camera before it).
        assert_eq!(sets.len(), 40);
        assert!(sets.iter().all(FrameSet::is_complete));
        assert_eq!(h.ledger.counts().dropped_total(), 0);
        let timing = h.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "measured");
        assert_eq!(timing.measured_from, Some(FROM_FIRST_FRAMES));
        let measured = timing.timing.unwrap();
        assert!(measured.period_ns().abs_diff(50 * MS) < MS / 2);
        assert_eq!(timing.tolerance_ns, measured.period_ns() / 4);
        // Cycle times go up by the period.
        for pair in sets.windows(2) {
            let step = pair[1].reference_ns - pair[0].reference_ns;
            assert!(step.abs_diff(50 * MS) < 2 * MS, "{step}");
        }
    }

    /// Per camera, the timestamps of `frames`: what a log's index tells.
    fn index_of(frames: &[(usize, u64)]) -> Vec<Vec<u64>> {
        let mut index = vec![Vec::new(); 7];
        for &(camera, t) in frames {
            index[camera].push(t);
        }
        index
    }

    #[test]
    fn phases_measured_ahead_let_the_first_set_leave_with_its_last_camera() {
        let frames = av2_frames(40, &[(3, 2)]);
        let mut learning = Harness::new(SyncConfig::default());
        let mut ahead = Harness::new(SyncConfig::default());
        ahead.sync.measure_ahead(&index_of(&frames));
        let timing = ahead.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "measured");
        assert_eq!(timing.measured_from, Some(FROM_LOG_INDEX));

        let first_cycle = &frames[..7];
        let learnt: Vec<FrameSet> = first_cycle
            .iter()
            .flat_map(|&(c, t)| learning.push(c, t))
            .collect();
        let known: Vec<FrameSet> = first_cycle
            .iter()
            .flat_map(|&(c, t)| ahead.push(c, t))
            .collect();
        assert!(learnt.is_empty(), "learning holds the first cycle back");
        assert_eq!(known.len(), 1);
        assert!(known[0].is_complete());

        // The same sets either way, from the second cycle on identical.
        let rest = &frames[7..];
        let learnt: Vec<FrameSet> = learnt.into_iter().chain(run(&mut learning, rest)).collect();
        let known: Vec<FrameSet> = known.into_iter().chain(run(&mut ahead, rest)).collect();
        let shape = |sets: &[FrameSet]| -> Vec<(u64, Vec<usize>)> {
            sets.iter().map(|s| (s.index, cameras_of(s))).collect()
        };
        assert_eq!(shape(&learnt), shape(&known));
        assert_eq!(known.len(), 40);
        assert_eq!(ahead.ledger.counts().dropped_total(), 0);
    }

    /// Seven free-running 10 frames/s cameras as a live recording had them
    /// (rig order; phases in ms as its replay measured them), stamped on
    /// arrival with up to ±3 ms of jitter. The front left camera runs 1.7 ms
    /// ahead of the rear left one; the log starts with the front centre
    /// camera's first frame.
    fn free_running_frames(cycles: u64) -> Vec<(usize, u64)> {
        const PHASES_MS: [f64; 7] = [0.67, -1.69, 5.55, 13.04, 17.94, 0.0, 22.15];
        let mut frames = Vec::new();
        for k in 0..cycles {
            for (camera, phase) in PHASES_MS.iter().enumerate() {
                let jitter = 3.0 * (k as f64 * 12.9898 + camera as f64 * 78.233).sin();
                let t = 1000.0 + 100.0 * k as f64 + phase + jitter;
                frames.push((camera, (t * 1e6).round() as u64));
            }
        }
        frames.sort_by_key(|&(_, t)| t);
        let start = frames.iter().position(|&(c, _)| c == 0).unwrap_or(0);
        frames.split_off(start)
    }

    #[test]
    fn a_camera_just_ahead_of_the_first_one_starts_the_cycle_and_no_frame_is_late() {
        // With the cycle started at the camera that delivered first
        // whatever the gap before it, the front left camera was last in
        // the cycle, 98 ms after its start; its frames, jittered, came
        // after the next cycle's first frames, which had already sent its
        // set off: dropped as late (CI, 48 of 649 frames of a live
        // recording's replay).
        let frames = free_running_frames(60);
        let mut h = Harness::new(SyncConfig::default());
        h.sync.measure_ahead(&index_of(&frames));
        let timing = h.sync.timing().get().cloned().unwrap();
        let measured = timing.timing.unwrap();
        assert!(measured.spread_ns() < 30 * MS, "{measured:?}");
        assert_eq!(measured.offset_ns(1), 0, "{measured:?}");
        let sets = run(&mut h, &frames);
        assert_eq!(
            h.ledger.counts().dropped_total(),
            0,
            "{:?}",
            h.ledger.counts()
        );
        let placed: usize = sets.iter().map(|s| cameras_of(s).len()).sum();
        assert_eq!(placed, frames.len());
        // Only the log's first cycle, which began after its front left and
        // rear left frames, is partial.
        assert!(sets[1..].iter().all(FrameSet::is_complete));
    }

    #[test]
    fn an_index_does_not_override_declared_phases() {
        let declared = TriggerTiming::from_ms(50.0, &AV2_OFFSETS_MS).unwrap();
        let frames = av2_frames(10, &[]);
        let mut h = Harness::timed(SyncConfig::default(), Some(declared.clone()));
        h.sync.measure_ahead(&index_of(&frames));
        let timing = h.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "declared");
        assert_eq!(timing.timing, Some(declared));
        assert_eq!(timing.measured_from, None);
        // Grouped by the declared lidar sweeps, not by a measured cycle (that
        // one would start ~3 ms earlier, with the rear left camera).
        let sets = run(&mut h, &frames);
        assert_eq!(sets.len(), 10);
        for (k, set) in sets.iter().enumerate() {
            let sweep = (1000 + 50 * k as u64) * MS;
            assert!(set.reference_ns.abs_diff(sweep) <= MS, "{k}");
        }
    }

    #[test]
    fn an_index_leaves_raw_timestamps_raw_and_measured_overrides_the_rig() {
        let frames = av2_frames(10, &[]);
        let mut raw = Harness::new(untimed());
        raw.sync.measure_ahead(&index_of(&frames));
        assert_eq!(raw.sync.timing().get().unwrap().phase, "none");

        let declared = TriggerTiming::from_ms(50.0, &AV2_OFFSETS_MS).unwrap();
        let measured_config = SyncConfig {
            phase: PhaseSource::Measured,
            ..SyncConfig::default()
        };
        let mut measured = Harness::timed(measured_config, Some(declared));
        measured.sync.measure_ahead(&index_of(&frames));
        let timing = measured.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "measured");
        assert_eq!(timing.measured_from, Some(FROM_LOG_INDEX));
        let sets = run(&mut measured, &frames);
        assert_eq!(sets.len(), 10);
        assert!(sets.iter().all(FrameSet::is_complete));
    }

    #[test]
    fn a_camera_slower_than_the_learning_window_still_gets_a_rate_from_the_index() {
        // 1 frame/s: one timestamp per camera within the first second.
        let index: Vec<Vec<u64>> = (0..7u64)
            .map(|camera| (0..5u64).map(|k| (k * 1000 + camera * 10) * MS).collect())
            .collect();
        let mut h = Harness::new(SyncConfig::default());
        h.sync.measure_ahead(&index);
        let timing = h.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "measured", "{timing:?}");
        assert_eq!(timing.timing.unwrap().period_ns(), 1000 * MS);
    }

    #[test]
    fn an_index_at_different_rates_falls_back_to_raw_timestamps_at_once() {
        let odd_cycles: Vec<(u64, usize)> =
            (0..20).filter(|k| k % 2 == 1).map(|k| (k, 3)).collect();
        let mut h = Harness::new(SyncConfig::default());
        h.sync
            .measure_ahead(&index_of(&av2_frames(20, &odd_cycles)));
        let timing = h.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "none");
        assert!(timing.note.is_some());
    }

    #[test]
    fn with_raw_timestamps_the_same_cycles_fall_apart() {
        let mut h = Harness::new(untimed());
        let sets = run(&mut h, &av2_frames(40, &[]));
        assert!(sets.iter().filter(|s| s.is_complete()).count() < 5);
    }

    #[test]
    fn declared_phases_make_the_lidar_sweep_the_sets_time() {
        let declared = TriggerTiming::from_ms(50.0, &AV2_OFFSETS_MS).unwrap();
        let mut h = Harness::timed(SyncConfig::default(), Some(declared));
        assert_eq!(h.sync.timing().get().unwrap().phase, "declared");
        let sets = run(&mut h, &av2_frames(10, &[]));
        assert_eq!(sets.len(), 10);
        assert!(sets.iter().all(FrameSet::is_complete));
        for (k, set) in sets.iter().enumerate() {
            let sweep = (1000 + 50 * k as u64) * MS;
            assert!(set.reference_ns.abs_diff(sweep) <= MS, "{k}");
        }
    }

    #[test]
    fn a_camera_without_a_frame_in_a_cycle_leaves_only_that_set_partial() {
        let mut h = Harness::new(SyncConfig::default());
        let sets = run(&mut h, &av2_frames(20, &[(7, 0), (12, 5)]));
        assert_eq!(sets.len(), 20);
        let partial: Vec<(u64, Vec<usize>)> = sets
            .iter()
            .filter(|s| !s.is_complete())
            .map(|s| (s.index, cameras_of(s)))
            .collect();
        assert_eq!(partial.len(), 2, "{partial:?}");
        assert!(partial.iter().all(|(_, present)| present.len() == 6));
        assert_eq!(h.ledger.counts().dropped_total(), 0);
    }

    #[test]
    fn cameras_at_different_rates_fall_back_to_raw_timestamps() {
        let mut h = Harness::new(SyncConfig::default());
        // Camera 3 runs at half the rate.
        let odd_cycles: Vec<(u64, usize)> =
            (0..20).filter(|k| k % 2 == 1).map(|k| (k, 3)).collect();
        let frames = av2_frames(20, &odd_cycles);
        let sets = run(&mut h, &frames);
        let timing = h.sync.timing().get().cloned().unwrap();
        assert_eq!(timing.phase, "none");
        assert!(timing.note.is_some());
        let placed: usize = sets.iter().map(FrameSet::present).sum();
        let dropped = h.ledger.counts().dropped_total() as usize;
        assert_eq!(placed + dropped, frames.len(), "every frame accounted for");
    }

    #[test]
    fn a_log_shorter_than_the_learning_window_is_still_grouped_at_the_end() {
        let mut h = Harness::new(SyncConfig::default());
        let sets = run(&mut h, &av2_frames(2, &[]));
        assert_eq!(h.sync.timing().get().unwrap().phase, "measured");
        assert_eq!(sets.len(), 2);
        assert!(sets.iter().all(FrameSet::is_complete));
    }
}
