//! The ledger's invariant over any traffic: through a latest-wins edge, what
//! was sent is either received, in order, or counted as dropped
//! (`queue_full`), each item once.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::{Backpressure, FrameCount, edge};
use proptest::prelude::*;

/// An item carrying `frames` input frames.
#[derive(Debug)]
struct Item {
    id: u64,
    frames: u64,
}

impl FrameCount for Item {
    fn frames(&self) -> u64 {
        self.frames
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_frame_sent_through_a_latest_edge_is_received_or_counted_dropped(
        capacity in 1usize..6,
        // true: send an item of n frames; false: receive up to n items.
        steps in proptest::collection::vec((any::<bool>(), 1u64..8), 0..200),
    ) {
        let ledger = Arc::new(Ledger::default());
        let (tx, rx, handle) = edge::<Item>("a->b", capacity, Backpressure::Latest, ledger.clone());
        let (mut sent_frames, mut received_frames, mut next_id) = (0u64, 0u64, 0u64);
        let mut received_ids = Vec::new();
        for (send, n) in steps {
            if send {
                tx.send(Item { id: next_id, frames: n }).map_err(|_| ()).unwrap();
                next_id += 1;
                sent_frames += n;
            } else {
                for _ in 0..n {
                    match rx.recv_timeout(std::time::Duration::ZERO).unwrap() {
                        Some(item) => {
                            received_frames += item.frames;
                            received_ids.push(item.id);
                        }
                        None => break,
                    }
                }
            }
            prop_assert!(rx.len() <= capacity);
        }
        for item in rx.drain() {
            received_frames += item.frames;
            received_ids.push(item.id);
        }
        let counts = ledger.counts();
        prop_assert_eq!(received_frames + counts.dropped(DropReason::QueueFull), sent_frames);
        prop_assert!(received_ids.windows(2).all(|w| w[0] < w[1]), "in order");
        prop_assert_eq!(handle.report().sent, next_id);
    }
}
