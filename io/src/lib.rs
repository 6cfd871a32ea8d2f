//! What surrounds the perception chain: sources of frames (a recorded log
//! replayed through its reader, live cameras through OpenCV, camera nodes
//! over Zenoh) and sinks of finished frame sets (the Rerun visual debugger,
//! a JSON Lines file of detections, the AV2 recorder of live runs).

use heptaview_datasets::DatasetError;
use heptaview_perception::PipelineError;

pub mod live;
pub mod recorder;
pub mod replay;
pub mod sinks;
pub mod zenoh_link;

/// A run that could not start or finish: the pipeline's own errors, or a
/// log that cannot be read (naming its file).
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
}

/// A native library linked in, and its version as it reports it.
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
