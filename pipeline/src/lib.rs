//! The seven-stream pipeline: frame types, stages, runtime, sources, sinks,
//! fusion, tracking and planning. This first version only reports the native
//! libraries it is built on; the stages arrive with the pipeline issue.

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
