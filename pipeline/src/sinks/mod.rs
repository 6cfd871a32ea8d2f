//! Where finished frame sets go besides the report: the Rerun visual debugger.

pub mod rerun;
pub mod rerun_layout;
