//! Properties that must hold whatever the input: every frame given to the
//! synchroniser ends exactly once (in one frame set, or dropped with a
//! reason), sets come out in time order with one frame per camera at most;
//! the tracker's ids are unique and a vanished object's track ends.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use heptaview_calibration::TriggerTiming;
use heptaview_perception::config::{PhaseSource, SyncConfig, TrackerConfig};
use heptaview_perception::fusion::{CameraView, Tracker};
use heptaview_perception::stages::sync::Synchroniser;
use heptaview_perception::types::{CameraId, Frame, FrameSet, FusedObject};
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::{Backpressure, edge};
use heptaview_runtime::stage::{Output, Stage};
use nalgebra::{Isometry3, Point2};
use proptest::prelude::*;

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

/// Feeds `frames` in order and returns the sets and the ledger.
fn synchronise(
    config: SyncConfig,
    cameras: usize,
    declared: Option<TriggerTiming>,
    frames: &[(usize, u64)],
) -> (Vec<FrameSet>, Arc<Ledger>) {
    let ledger = Arc::new(Ledger::default());
    let (tx, rx, _) = edge::<FrameSet>(
        "sync->test",
        100_000,
        Backpressure::Lossless,
        ledger.clone(),
    );
    let mut sync = Synchroniser::new(config, cameras, declared, ledger.clone()).unwrap();
    let mut out = Output::new(&tx);
    for &(camera, t) in frames {
        sync.process(frame(camera, t), &mut out).unwrap();
    }
    sync.finish(&mut out).unwrap();
    (rx.drain(), ledger)
}

/// Frames of `cycles` trigger cycles of 50 ms for cameras at `offsets_ms`,
/// with jitter, some left out and some repeated, delivered in an order
/// shuffled within `disorder` places.
fn arrivals() -> impl Strategy<Value = (Vec<u64>, Vec<(usize, u64)>)> {
    (1usize..8, 2usize..30)
        .prop_flat_map(|(cameras, cycles)| {
            (
                proptest::collection::vec(0u64..45, cameras),
                proptest::collection::vec(
                    (0..cameras, 0..cycles, -800i64..800, 0u8..10),
                    0..cameras * cycles * 2,
                ),
                proptest::collection::vec(0usize..4, 0..cameras * cycles * 2),
            )
        })
        .prop_map(|(offsets_ms, picks, swaps)| {
            let mut frames: Vec<(usize, u64)> = picks
                .iter()
                .filter(|(_, _, _, keep)| *keep > 0)
                .map(|&(camera, cycle, jitter_us, _)| {
                    let t = 1_000 * MS + cycle as u64 * 50 * MS + offsets_ms[camera] * MS;
                    (camera, t.saturating_add_signed(jitter_us * 1_000))
                })
                .collect();
            frames.sort_by_key(|&(_, t)| t);
            // Local disorder: neighbours swapped, as threads deliver them.
            for (i, &swap) in swaps.iter().enumerate() {
                let j = i + swap;
                if j < frames.len() && i < frames.len() {
                    frames.swap(i, j);
                }
            }
            (offsets_ms, frames)
        })
}

fn check_sets(sets: &[FrameSet], ledger: &Ledger, frames: usize) -> Result<(), TestCaseError> {
    let placed: usize = sets.iter().map(FrameSet::present).sum();
    let counts = ledger.counts();
    let dropped = counts.dropped(DropReason::Late) + counts.dropped(DropReason::Duplicate);
    prop_assert_eq!(
        placed as u64 + dropped,
        frames as u64,
        "every frame ends once"
    );
    prop_assert_eq!(counts.dropped_total(), dropped, "only late or duplicate");
    for pair in sets.windows(2) {
        prop_assert!(
            pair[0].reference_ns < pair[1].reference_ns,
            "sets in time order"
        );
        prop_assert_eq!(pair[0].index + 1, pair[1].index);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_frame_is_in_one_set_or_dropped_whatever_the_arrival_order(
        (offsets_ms, frames) in arrivals(),
        phase in prop_oneof![Just(PhaseSource::Auto), Just(PhaseSource::None)],
    ) {
        let config = SyncConfig { phase, ..SyncConfig::default() };
        let (sets, ledger) = synchronise(config, offsets_ms.len(), None, &frames);
        check_sets(&sets, &ledger, frames.len())?;
    }

    #[test]
    fn declared_phases_account_for_every_frame_too((offsets_ms, frames) in arrivals()) {
        let declared = TriggerTiming::from_ms(
            50.0,
            &offsets_ms.iter().map(|&o| o as f64).collect::<Vec<_>>(),
        )
        .unwrap();
        let (sets, ledger) =
            synchronise(SyncConfig::default(), offsets_ms.len(), Some(declared), &frames);
        check_sets(&sets, &ledger, frames.len())?;
    }

    #[test]
    fn tracks_have_unique_ids_and_end_after_their_objects_vanish(
        objects in proptest::collection::vec(
            (-40.0f64..40.0, -20.0f64..20.0, -10.0f64..10.0, -3.0f64..3.0),
            0..6,
        ),
        steps in 2usize..30,
    ) {
        let config = TrackerConfig::default();
        let max_unseen_s = config.max_unseen_s.get();
        let mut tracker = Tracker::new(config);
        let identity = Isometry3::identity();
        let detected = |_: CameraId| CameraView::Detected;
        let mut t_ns = 0;
        for k in 0..steps {
            let t = k as f64 * 0.1;
            let seen: Vec<FusedObject> = objects
                .iter()
                .map(|&(x, y, vx, vy)| FusedObject {
                    class: "car".to_owned(),
                    subtype: None,
                    score: 0.8,
                    position: Point2::new(x + vx * t, y + vy * t),
                    sigma_m: 0.3,
                    cameras: vec![CameraId(0)],
                    partial: false,
                    detections: Vec::new(),
                })
                .collect();
            t_ns = k as u64 * 100 * MS;
            let tracks = tracker.step(t_ns, &identity, &seen, &detected);
            let mut ids: Vec<u64> = tracks.iter().map(|track| track.id).collect();
            ids.sort_unstable();
            ids.dedup();
            prop_assert_eq!(ids.len(), tracks.len(), "ids are unique");
            prop_assert!(tracks.len() <= objects.len().max(1) * 2);
        }
        // Everything vanishes while the camera keeps looking.
        let mut tracks = Vec::new();
        for k in 1..=((max_unseen_s * 10.0) as u64 + 3) {
            tracks = tracker.step(t_ns + k * 100 * MS, &identity, &[], &detected);
        }
        prop_assert!(tracks.is_empty(), "{tracks:?}");
    }
}
