//! The seven-stream pipeline: frame types, the stage contract, a runtime of
//! one thread per stage wired by bounded crossbeam channels, the stages
//! (sync, compress, detect, classify, propagate, fuse, plan), the replay
//! source and the run report.

pub mod bench;
mod error;
pub mod eval;
pub mod fusion;
pub mod live;
pub mod merge;
pub mod planning;
pub mod replay;
pub mod report;
pub mod sinks;
pub mod stages;
pub mod types;
pub mod zenoh_link;

pub use error::PipelineError;
pub use heptaview_runtime::threads as runtime;
pub use heptaview_runtime::{accounting, edge, metrics, stage};

/// A native library the pipeline is linked with, and its version as it reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedLibrary {
    pub name: &'static str,
    pub version: String,
}

/// OpenCV (image codecs, video capture) and the Rerun SDK, as actually linked.
pub fn linked_libraries() -> Vec<LinkedLibrary> {
    let opencv = opencv::core::get_version_string().unwrap_or_else(|e| format!("unknown ({e})"));
    vec![
        LinkedLibrary {
            name: "OpenCV",
            version: opencv,
        },
        LinkedLibrary {
            name: "Rerun SDK",
            version: rerun::build_info().version.to_string(),
        },
    ]
}
