//! The pipeline's configuration: every stage parameter, one section per
//! stage, read from TOML once (`heptaview config --print-default` prints the
//! commented defaults).

use std::path::Path;

use heptaview_models::SessionConfig;
use heptaview_models::detector::DetectorConfig;
use heptaview_runtime::edge::Backpressure;
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;

/// The `[sync]` section: how frames are grouped into frame sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncClock {
    /// Max-wait measured in sensor time (replay: deterministic).
    Stream,
    /// Max-wait measured on the wall clock from a set's opening (live).
    Wall,
}

/// Where the cameras' offsets within the trigger cycle come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseSource {
    /// The rig's declared timing, else measured from the first frames.
    Auto,
    /// Measured from the first frames, whatever the rig declares.
    Measured,
    /// None: frames are grouped by their raw timestamps (cameras that are
    /// not triggered together, such as free-running live cameras).
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    pub phase: PhaseSource,
    /// Frames within this of a set's cycle time join it. `None`: a quarter
    /// of the trigger cycle, or [`crate::stages::sync::UNTIMED_TOLERANCE_MS`] without phases.
    pub tolerance_ms: Option<f64>,
    pub max_wait_ms: f64,
    pub clock: SyncClock,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            phase: PhaseSource::Auto,
            tolerance_ms: None,
            max_wait_ms: 50.0,
            clock: SyncClock::Stream,
        }
    }
}

/// The `[compress]` section: which frames the detector sees, and at what scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyframeMode {
    /// Change detection + max interval (+ budget).
    Auto,
    /// Every frame is detected: the recall reference.
    Off,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompressConfig {
    pub keyframes: KeyframeMode,
    /// Mean absolute difference (grey levels, 0..255) of the 32x24 thumbnail
    /// that makes a frame a key frame.
    pub change_threshold: f64,
    /// A camera's frames closer than this to its last key frame are not key
    /// frames: their detections are propagated from the key frame.
    pub min_interval_ms: f64,
    /// The same for cameras looking backwards (more than 120° from ahead):
    /// there objects drift slowly across the image, so propagation holds
    /// longer, and what they see matters less for the decision.
    pub min_interval_rear_ms: f64,
    /// A camera gets a key frame at least this often.
    pub max_interval_ms: f64,
    /// Detector calls per second of stream time, all cameras together.
    pub budget_calls_per_s: Option<f64>,
    /// Width of the detector input: key frames are decoded no smaller. Set
    /// from the detector model when the models load, so not in the file.
    #[serde(skip)]
    pub detector_width: u32,
}

impl Default for CompressConfig {
    fn default() -> Self {
        Self {
            keyframes: KeyframeMode::Auto,
            change_threshold: 3.0,
            min_interval_ms: 100.0,
            min_interval_rear_ms: 200.0,
            max_interval_ms: 500.0,
            budget_calls_per_s: None,
            detector_width: 416,
        }
    }
}

/// The `[tracker]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Random acceleration of the motion model, m/s².
    pub acceleration_sigma: f64,
    /// Squared Mahalanobis distance gate (chi² with 2 dof: 9.21 is 99%).
    pub gate_chi2: f64,
    /// Updates needed before a track is reported.
    pub confirm_hits: u32,
    /// A track unseen (when it could have been seen) this long is deleted.
    pub max_unseen_s: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            // Cars brake at up to 6-8 m/s²: the filter must follow that.
            acceleration_sigma: 6.0,
            gate_chi2: 9.21,
            confirm_hits: 2,
            max_unseen_s: 1.0,
        }
    }
}

/// The `[planner]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerConfig {
    /// Cruising speed with a clear road, m/s.
    pub cruise_speed_mps: f64,
    /// Half the width of the drive corridor, m (half a lane plus a margin).
    pub corridor_half_width_m: f64,
    /// People this much beside the corridor, moving towards it, are yielded to.
    pub approach_margin_m: f64,
    /// Look-ahead: at least this far...
    pub min_look_ahead_m: f64,
    /// ...or this many seconds of driving at the current speed.
    pub look_ahead_s: f64,
    /// Front bumper, metres ahead of the ego origin (rear axle).
    pub front_offset_m: f64,
    /// Below this time to collision: emergency braking.
    pub emergency_ttc_s: f64,
    /// Below this time to collision: stop.
    pub stop_ttc_s: f64,
    /// A person in the corridor closer than this: stop (else yield).
    pub person_stop_gap_m: f64,
    /// A milder action must hold this long before the decision eases off.
    pub hold_s: f64,
    /// Ego speed assumed when the input has no poses, m/s.
    pub default_speed_mps: f64,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            cruise_speed_mps: 13.9,
            corridor_half_width_m: 2.0,
            approach_margin_m: 3.0,
            min_look_ahead_m: 25.0,
            look_ahead_s: 4.0,
            front_offset_m: 3.9,
            emergency_ttc_s: 1.5,
            stop_ttc_s: 3.0,
            person_stop_gap_m: 15.0,
            hold_s: 0.6,
            default_speed_mps: 10.0,
        }
    }
}

/// The `[rerun]` section: what the Rerun sink sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RerunConfig {
    /// Most images logged per camera per second of sensor time (boxes,
    /// tracks and decisions are always logged); `None`: every image.
    pub max_images_per_s: Option<f64>,
}

/// Every stage parameter, one section per stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    pub sync: SyncConfig,
    pub compress: CompressConfig,
    pub detector: DetectorConfig,
    pub tracker: TrackerConfig,
    pub planner: PlannerConfig,
    pub session: SessionConfig,
    /// Detector workers, each with its own session.
    pub detector_workers: usize,
    pub classify: bool,
    /// Items each queue between stages holds.
    pub queue_capacity: usize,
    pub backpressure: Backpressure,
    pub rerun: RerunConfig,
}

/// The defaults, commented: what `heptaview config --print-default` prints.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");

impl PipelineConfig {
    /// A configuration file; what it leaves out keeps its default.
    pub fn load(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Config(format!("cannot read {}: {e}", path.display())))?;
        let config: Self = toml::from_str(&text).map_err(|e| {
            let place = e.span().map_or(String::new(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!(" (line {line}, column {column})")
            });
            PipelineError::Config(format!("{}{place}: {}", path.display(), e.message().trim()))
        })?;
        config
            .validate()
            .map_err(|why| PipelineError::Config(format!("{}: {why}", path.display())))?;
        Ok(config)
    }

    /// Values that no stage can work with: rates and limits that are not
    /// positive, and anything not finite.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("sync.max_wait_ms", self.sync.max_wait_ms),
            ("compress.max_interval_ms", self.compress.max_interval_ms),
            (
                "tracker.acceleration_sigma",
                self.tracker.acceleration_sigma,
            ),
            ("tracker.gate_chi2", self.tracker.gate_chi2),
            ("tracker.max_unseen_s", self.tracker.max_unseen_s),
            (
                "planner.corridor_half_width_m",
                self.planner.corridor_half_width_m,
            ),
            ("planner.min_look_ahead_m", self.planner.min_look_ahead_m),
        ];
        let optional_non_negative = [("sync.tolerance_ms", self.sync.tolerance_ms)];
        let optional_positive = [
            (
                "compress.budget_calls_per_s",
                self.compress.budget_calls_per_s,
            ),
            ("rerun.max_images_per_s", self.rerun.max_images_per_s),
        ];
        let non_negative = [
            ("compress.change_threshold", self.compress.change_threshold),
            ("compress.min_interval_ms", self.compress.min_interval_ms),
            (
                "compress.min_interval_rear_ms",
                self.compress.min_interval_rear_ms,
            ),
            ("planner.cruise_speed_mps", self.planner.cruise_speed_mps),
            ("planner.approach_margin_m", self.planner.approach_margin_m),
            ("planner.look_ahead_s", self.planner.look_ahead_s),
            ("planner.front_offset_m", self.planner.front_offset_m),
            ("planner.emergency_ttc_s", self.planner.emergency_ttc_s),
            ("planner.stop_ttc_s", self.planner.stop_ttc_s),
            ("planner.person_stop_gap_m", self.planner.person_stop_gap_m),
            ("planner.hold_s", self.planner.hold_s),
            ("planner.default_speed_mps", self.planner.default_speed_mps),
        ];
        let set_optional = optional_positive
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        for (name, value) in positive.into_iter().chain(set_optional) {
            if !(value.is_finite() && value > 0.0) {
                return Err(format!("`{name}` must be a positive number, not {value}"));
            }
        }
        let set_optional_non_negative = optional_non_negative
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)));
        for (name, value) in non_negative.into_iter().chain(set_optional_non_negative) {
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("`{name}` must be zero or more, not {value}"));
            }
        }
        for (name, value) in [
            ("detector.score_threshold", self.detector.score_threshold),
            ("detector.nms_iou", self.detector.nms_iou),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(format!("`{name}` must be between 0 and 1, not {value}"));
            }
        }
        if self.queue_capacity == 0 || self.detector_workers == 0 {
            return Err("`queue_capacity` and `detector_workers` must be at least 1".to_owned());
        }
        Ok(())
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            sync: SyncConfig::default(),
            compress: CompressConfig::default(),
            detector: DetectorConfig::default(),
            tracker: TrackerConfig::default(),
            planner: PlannerConfig::default(),
            session: SessionConfig::default(),
            detector_workers: 1,
            classify: true,
            queue_capacity: 4,
            backpressure: Backpressure::Lossless,
            rerun: RerunConfig::default(),
        }
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    /// Every key of a TOML table, with its section (`sync.tolerance_ms`).
    fn keys(value: &toml::Value, prefix: &str, out: &mut Vec<String>) {
        if let toml::Value::Table(table) = value {
            for (key, value) in table {
                let path = format!("{prefix}{key}");
                if value.is_table() {
                    keys(value, &format!("{path}."), out);
                } else {
                    out.push(path);
                }
            }
        }
    }

    #[test]
    fn the_printed_defaults_are_the_defaults_and_name_every_parameter() {
        let parsed: PipelineConfig = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, PipelineConfig::default());
        // Every parameter appears, set or as a commented example.
        let defaults = toml::Value::try_from(PipelineConfig::default()).unwrap();
        let mut names = Vec::new();
        keys(&defaults, "", &mut names);
        for name in names {
            let key = name.rsplit('.').next().unwrap();
            assert!(
                DEFAULT_CONFIG_TOML.contains(&format!("{key} = "))
                    || DEFAULT_CONFIG_TOML.contains(&format!("# {key} = ")),
                "{name} is not in default_config.toml"
            );
        }
        for optional in [
            "budget_calls_per_s",
            "max_images_per_s",
            "intra_threads",
            "tolerance_ms",
        ] {
            assert!(DEFAULT_CONFIG_TOML.contains(&format!("# {optional} = ")));
        }
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults_and_a_misspelt_key_is_refused() {
        let partial: PipelineConfig = toml::from_str(
            "[planner]\ncruise_speed_mps = 8.0\n[session]\nexecution_providers = [\"cpu\"]\n",
        )
        .unwrap();
        assert_eq!(partial.planner.cruise_speed_mps, 8.0);
        assert_eq!(partial.planner.hold_s, PlannerConfig::default().hold_s);
        assert_eq!(partial.session, SessionConfig::default());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[planner]\ncruise_speed = 8.0\n").unwrap();
        let error = PipelineConfig::load(&path).unwrap_err().to_string();
        assert!(
            error.contains("bad.toml") && error.contains("cruise_speed"),
            "{error}"
        );
    }
}
