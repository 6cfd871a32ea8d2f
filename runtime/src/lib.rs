//! The stage runtime, independent of what flows through it: the stage
//! contract (built from its configuration, fed one input at a time), bounded
//! crossbeam edges with a backpressure policy and their own statistics, one
//! thread per stage with clean shutdown and failure propagation, the ledger
//! in which every input frame ends exactly once, and latency histograms.
//!
//! Items say how many input frames they carry ([`edge::FrameCount`]), so a
//! dropped item is accounted for; nothing here knows cameras, images or
//! detections.

pub mod accounting;
pub mod edge;
mod error;
pub mod metrics;
pub mod stage;
pub mod threads;

pub use error::{RuntimeError, StageError};
