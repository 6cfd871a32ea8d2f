//! Where finished frame sets go besides the report: the Rerun visual
//! debugger, and a JSON Lines file of detections.

pub mod detections;
pub mod projected_boxes;
pub mod rerun;
pub mod rerun_blueprint;
pub mod rerun_layout;
pub mod shown_boxes;
