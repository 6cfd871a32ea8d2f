//! The run report: what the run did (`RunRecord`), the evaluation against
//! ground truth, what went into the Rerun recording and over the network.
//! Field names are an interface (README, "Report"); add fields freely,
//! rename none. Reports are read back (`report merge`) with the same types.

use heptaview_perception::record::RunRecord;
use serde::{Deserialize, Serialize};

use crate::evaluation::Evaluation;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    #[serde(flatten)]
    pub run: RunRecord,
    /// Against the log's ground truth, with `--eval`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<Evaluation>,
    /// What went into the Rerun recording, with `--rerun`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<RerunCounts>,
    /// Frames over a network link (`live --source zenoh`): received,
    /// sequence gaps, node restarts, per camera.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<serde_json::Value>,
}

impl Report {
    /// A run's report before evaluation and sinks add theirs.
    pub fn new(run: RunRecord) -> Self {
        Self {
            run,
            eval: None,
            rerun: None,
            transport: None,
        }
    }

    /// The human summary printed at the end of a run.
    pub fn summary(&self) -> String {
        self.run.summary()
    }
}

/// What the Rerun sink logged, for the report and for checking a recording.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunCounts {
    pub framesets: u64,
    pub images: u64,
    pub boxes_2d: u64,
    pub tracks_3d: u64,
    pub ground_truth_boxes: u64,
    pub decisions: u64,
}
