//! Perception: what flows through the pipeline (frames, frame sets and what
//! each stage attaches), the stages (sync, compress, detect, classify,
//! propagate, fuse, plan), fusion and tracking, planning, the configuration,
//! and the chain that runs them on the runtime's threads. It knows camera
//! rigs and models but no log format, viewer or network: sources and sinks
//! live in `heptaview-io`.

pub mod chain;
pub mod config;
mod error;
pub mod fusion;
pub mod path_cameras;
pub mod planning;
pub mod record;
pub mod stage_context;
pub mod stages;
pub mod types;

pub use error::PipelineError;
