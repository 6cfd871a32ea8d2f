//! The synchroniser: frames of the rig's cameras → frame sets.
//!
//! The earliest pending timestamp opens a set; frames within ±tolerance join
//! it. A set leaves when every camera is in, when every missing camera has
//! already moved past it, or when max-wait has passed (stream time in
//! replay, wall time in live) — then as a partial set. A frame for a set
//! already gone is dropped as `late`; a second frame of a camera for the same
//! set, or the same frame again, as `duplicate`. Sets leave in time order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::accounting::{DropReason, Ledger};
use crate::error::PipelineError;
use crate::stage::{Output, Stage};
use crate::types::{Frame, FrameSet, Slot, SlotStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncClock {
    /// Max-wait measured in sensor time (replay: deterministic).
    Stream,
    /// Max-wait measured on the wall clock from a set's opening (live).
    Wall,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    pub tolerance_ms: f64,
    pub max_wait_ms: f64,
    pub clock: SyncClock,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            tolerance_ms: 10.0,
            max_wait_ms: 50.0,
            clock: SyncClock::Stream,
        }
    }
}

struct Pending {
    reference_ns: u64,
    frames: Vec<Option<Frame>>,
    opened: Instant,
}

/// How many emitted references are remembered to recognise late frames.
const REMEMBERED_SETS: usize = 64;

pub struct Synchroniser {
    config: SyncConfig,
    cameras: usize,
    ledger: Arc<Ledger>,
    pending: VecDeque<Pending>,
    last_seen_ns: Vec<Option<u64>>,
    emitted_ns: VecDeque<u64>,
    stream_now_ns: u64,
    next_index: u64,
}

impl Synchroniser {
    pub fn new(
        config: SyncConfig,
        cameras: usize,
        ledger: Arc<Ledger>,
    ) -> Result<Self, PipelineError> {
        let valid = |v: f64| v.is_finite() && v >= 0.0;
        if !valid(config.tolerance_ms) || !valid(config.max_wait_ms) || cameras == 0 {
            return Err(PipelineError::Config(format!(
                "sync: tolerance_ms and max_wait_ms must be non-negative numbers and there must be cameras, got {config:?} for {cameras} cameras"
            )));
        }
        Ok(Self {
            config,
            cameras,
            ledger,
            pending: VecDeque::new(),
            last_seen_ns: vec![None; cameras],
            emitted_ns: VecDeque::new(),
            stream_now_ns: 0,
            next_index: 0,
        })
    }

    fn tolerance_ns(&self) -> u64 {
        (self.config.tolerance_ms * 1e6) as u64
    }

    fn max_wait_ns(&self) -> u64 {
        (self.config.max_wait_ms * 1e6) as u64
    }

    fn drop_frame(&self, reason: DropReason) {
        self.ledger.dropped(reason, 1);
    }

    fn accept(&mut self, frame: Frame) {
        let camera = frame.camera.0;
        let t = frame.timestamp_ns;
        let tolerance = self.tolerance_ns();
        self.stream_now_ns = self.stream_now_ns.max(t);
        if self.last_seen_ns[camera] == Some(t) {
            return self.drop_frame(DropReason::Duplicate);
        }
        self.last_seen_ns[camera] = Some(self.last_seen_ns[camera].map_or(t, |seen| seen.max(t)));

        let closest = self
            .pending
            .iter_mut()
            .filter(|p| p.reference_ns.abs_diff(t) <= tolerance)
            .min_by_key(|p| p.reference_ns.abs_diff(t));
        if let Some(set) = closest {
            if set.frames[camera].is_some() {
                return self.drop_frame(DropReason::Duplicate);
            }
            set.frames[camera] = Some(frame);
            return;
        }
        let newest_emitted = self.emitted_ns.back().copied();
        let belongs_to_emitted = self.emitted_ns.iter().any(|r| r.abs_diff(t) <= tolerance);
        if belongs_to_emitted || newest_emitted.is_some_and(|r| t < r) {
            return self.drop_frame(DropReason::Late);
        }
        let mut frames = vec![None; self.cameras];
        frames[camera] = Some(frame);
        let position = self.pending.partition_point(|p| p.reference_ns < t);
        self.pending.insert(
            position,
            Pending {
                reference_ns: t,
                frames,
                opened: Instant::now(),
            },
        );
    }

    /// Whether the oldest pending set may leave now.
    fn ready(&self, set: &Pending) -> bool {
        let tolerance = self.tolerance_ns();
        let settled = set.frames.iter().enumerate().all(|(camera, frame)| {
            frame.is_some()
                || self.last_seen_ns[camera].is_some_and(|seen| seen > set.reference_ns + tolerance)
        });
        let waited = match self.config.clock {
            SyncClock::Stream => self.stream_now_ns > set.reference_ns + self.max_wait_ns(),
            SyncClock::Wall => set.opened.elapsed() >= Duration::from_nanos(self.max_wait_ns()),
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
        self.accept(frame);
        self.emit_ready(out, false)
    }

    fn finish(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        self.emit_ready(out, true)
    }

    fn tick_interval(&self) -> Option<Duration> {
        (self.config.clock == SyncClock::Wall).then_some(Duration::from_millis(5))
    }

    fn tick(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        self.emit_ready(out, false)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::edge::{Backpressure, EdgeReceiver, edge};
    use crate::types::CameraId;

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
        tx: crate::edge::EdgeSender<FrameSet>,
        rx: EdgeReceiver<FrameSet>,
    }

    impl Harness {
        fn new(config: SyncConfig) -> Self {
            let ledger = Arc::new(Ledger::default());
            let (tx, rx, _) = edge("sync->test", 1000, Backpressure::Lossless, ledger.clone());
            Self {
                sync: Synchroniser::new(config, 7, ledger.clone()).unwrap(),
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
        let mut h = Harness::new(SyncConfig::default());
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
        let mut h = Harness::new(SyncConfig::default());
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
        let mut h = Harness::new(SyncConfig::default());
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
            max_wait_ms: 1000.0,
            ..SyncConfig::default()
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
        let mut h = Harness::new(SyncConfig::default());
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
            max_wait_ms: 20.0,
            ..SyncConfig::default()
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
}
