//! Every input frame ends exactly once: processed, skipped as a non-key
//! frame, or dropped with a reason. These counters are the run's ledger.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Arrived for a frame set already emitted.
    Late,
    /// A second frame of the same camera for the same frame set.
    Duplicate,
    /// The image bytes could not be read or decoded.
    DecodeError,
    /// A full queue dropped it to keep latency bounded (live mode).
    QueueFull,
    /// The run stopped (error or Ctrl-C) while it was in flight.
    Shutdown,
    /// Sent by a camera node but never received: a gap in its sequence
    /// numbers (the frame never arrived, so it was never seen).
    TransportGap,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::Late,
        DropReason::Duplicate,
        DropReason::DecodeError,
        DropReason::QueueFull,
        DropReason::Shutdown,
        DropReason::TransportGap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::Late => "late",
            DropReason::Duplicate => "duplicate",
            DropReason::DecodeError => "decode_error",
            DropReason::QueueFull => "queue_full",
            DropReason::Shutdown => "shutdown",
            DropReason::TransportGap => "transport_gap",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The ledger, shared by the stages (atomic counters, no locks).
#[derive(Debug, Default)]
pub struct Ledger {
    input: AtomicU64,
    processed: AtomicU64,
    skipped_keyframe: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    not_recorded: AtomicU64,
}

/// A snapshot of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerCounts {
    pub input: u64,
    pub processed: u64,
    pub skipped_keyframe: u64,
    pub dropped: [u64; DropReason::ALL.len()],
    /// Frames a recording could not keep (its queue was full). They still
    /// went through the pipeline, so they stay out of the balance, which
    /// counts each frame once.
    pub not_recorded: u64,
}

impl LedgerCounts {
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// `input == processed + skipped_keyframe + sum(dropped)`.
    pub fn balanced(&self) -> bool {
        self.input == self.processed + self.skipped_keyframe + self.dropped_total()
    }
}

impl Ledger {
    pub fn input(&self, frames: u64) {
        self.input.fetch_add(frames, Ordering::Relaxed);
    }

    pub fn processed(&self, frames: u64) {
        self.processed.fetch_add(frames, Ordering::Relaxed);
    }

    pub fn skipped_keyframe(&self, frames: u64) {
        self.skipped_keyframe.fetch_add(frames, Ordering::Relaxed);
    }

    pub fn dropped(&self, reason: DropReason, frames: u64) {
        self.dropped[reason.index()].fetch_add(frames, Ordering::Relaxed);
    }

    /// A frame the recorder had no room for (it was still processed).
    pub fn not_recorded(&self, frames: u64) {
        self.not_recorded.fetch_add(frames, Ordering::Relaxed);
    }

    pub fn counts(&self) -> LedgerCounts {
        LedgerCounts {
            input: self.input.load(Ordering::Relaxed),
            processed: self.processed.load(Ordering::Relaxed),
            skipped_keyframe: self.skipped_keyframe.load(Ordering::Relaxed),
            dropped: std::array::from_fn(|i| self.dropped[i].load(Ordering::Relaxed)),
            not_recorded: self.not_recorded.load(Ordering::Relaxed),
        }
    }
}
