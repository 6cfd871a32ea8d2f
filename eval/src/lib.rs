//! Evaluation of a run against the log's ground truth (detection recall and
//! precision by family and camera, position error by range, agreement of
//! the decisions with a generated drive's expectations, key-frame recall),
//! the run report that carries it, and the merge of many runs' reports.

mod boxes;
mod classes;
pub mod decisions;
pub mod detection;
pub mod evaluation;
pub mod keyframes;
pub mod merge;
pub mod position;
pub mod report;

pub use classes::{family_of_category, family_of_class};
pub use evaluation::{
    BevError, DetectionEvaluation, Evaluation, Evaluator, HEADLINE_RANGE_M, Scores,
};
