//! Reading back the expected decisions a generated drive carries in
//! `scenario.toml`, for evaluation.

use std::path::Path;

use serde::Deserialize;

use super::{Expectation, SCENARIO_FILE};
use crate::error::DatasetError;

/// What a planner should decide over a drive, with the drive's time origin.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScenarioExpectations {
    pub scenario: String,
    /// `from_s`/`to_s` of each expectation count from this sensor time.
    pub start_timestamp_ns: u64,
    pub expected: Vec<Expectation>,
}

impl ScenarioExpectations {
    pub fn seconds_since_start(&self, timestamp_ns: u64) -> f64 {
        (timestamp_ns as f64 - self.start_timestamp_ns as f64) / 1e9
    }
}

/// The log's `scenario.toml`, or `None` when the log has none (a real drive).
pub fn read_expectations(log: &Path) -> Result<Option<ScenarioExpectations>, DatasetError> {
    let path = log.join(SCENARIO_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(DatasetError::Read { path, source }),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| DatasetError::Scenario {
            message: format!("{}: {e}", path.display()),
        })
}
