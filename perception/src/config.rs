//! The pipeline's configuration: every stage parameter, one section per
//! stage, read from TOML once (`heptaview config --print-default` prints the
//! commented defaults).

use std::num::NonZeroUsize;
use std::path::Path;

use heptaview_models::SessionConfig;
use heptaview_models::detector::DetectorConfig;
use heptaview_models::manifest::ModelName;
use heptaview_models::units::{NonNegative, Positive, UnitInterval};
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
    /// The rig's declared timing, else measured from the cameras'
    /// timestamps (a replay's log index, else the first frames).
    Auto,
    /// Measured from the cameras' timestamps, whatever the rig declares.
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
    pub tolerance_ms: Option<NonNegative>,
    pub max_wait_ms: Positive,
    pub clock: SyncClock,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            phase: PhaseSource::Auto,
            tolerance_ms: None,
            max_wait_ms: Positive::of(50.0),
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
    pub change_threshold: NonNegative,
    /// A camera's frames closer than this to its last key frame are not key
    /// frames: their detections are propagated from the key frame.
    pub min_interval_ms: NonNegative,
    /// The same for cameras looking backwards (more than 120° from ahead):
    /// there objects drift slowly across the image, so propagation holds
    /// longer, and what they see matters less for the decision.
    pub min_interval_rear_ms: NonNegative,
    /// A camera gets a key frame at least this often.
    pub max_interval_ms: Positive,
    /// Detector calls per second of stream time, all cameras together;
    /// cameras past `max_interval_ms` are served first, so it holds under
    /// the budget too.
    pub budget_calls_per_s: Option<Positive>,
    /// Width of the detector input: key frames are decoded no smaller. Set
    /// from the detector model when the models load, so not in the file.
    #[serde(skip)]
    pub detector_width: u32,
}

impl Default for CompressConfig {
    fn default() -> Self {
        Self {
            keyframes: KeyframeMode::Auto,
            change_threshold: NonNegative::of(3.0),
            min_interval_ms: NonNegative::of(100.0),
            min_interval_rear_ms: NonNegative::of(200.0),
            max_interval_ms: Positive::of(500.0),
            budget_calls_per_s: None,
            detector_width: 416,
        }
    }
}

/// The `[classify_reuse]` section: when a vehicle keeps the subtype it was
/// given in an earlier key frame of the same camera instead of a new
/// classifier run. A detection reuses a remembered classification when it
/// has the same class, overlaps the remembered box by at least `iou`, that
/// box was seen within `max_gap_ms`, was classified within `max_age_ms`, and
/// has not grown by `max_growth` (area) since it was classified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassifyReuseConfig {
    /// Overlap (IoU) with the box last seen in the same camera that makes a
    /// detection the same object.
    pub iou: UnitInterval,
    /// A remembered box not matched for longer than this (sensor time) is
    /// forgotten.
    pub max_gap_ms: NonNegative,
    /// A classification older than this is made again; 0 turns reuse off.
    pub max_age_ms: NonNegative,
    /// A box whose area reached this many times its area when classified is
    /// classified again (nearer: more pixels, a better answer).
    pub max_growth: Positive,
}

impl Default for ClassifyReuseConfig {
    fn default() -> Self {
        Self {
            // The usual same-object overlap (NMS and the evaluator use 0.5):
            // between two key frames of a camera (100-500 ms) a vehicle's box
            // moves by much less than half its size unless it is very near,
            // and then it is also growing.
            iou: UnitInterval::of(0.5),
            // One longest key-frame interval (compress.max_interval_ms, 500)
            // plus a frame at 10 frames/s: a camera's next key frame still
            // finds what its last one saw.
            max_gap_ms: NonNegative::of(600.0),
            // Subtypes change only with the view (turning, occlusion ending);
            // a second bounds how long a first, poorer view holds, and a
            // tracker forgets an object unseen for the same time.
            max_age_ms: NonNegative::of(1000.0),
            // 1.5 times the area is 1.22 times the side: about a fifth
            // nearer, enough new pixels in a crop scaled to 224 px to be
            // worth a run, and few enough runs for an approaching car.
            max_growth: Positive::of(1.5),
        }
    }
}

/// The `[tracker]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Random acceleration of the motion model, m/s².
    pub acceleration_sigma: Positive,
    /// Squared Mahalanobis distance gate (chi² with 2 dof: 9.21 is 99%).
    pub gate_chi2: Positive,
    /// Updates needed before a track is reported.
    pub confirm_hits: u32,
    /// A track unseen (when it could have been seen) this long is deleted.
    pub max_unseen_s: Positive,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            // Cars brake at up to 6-8 m/s²: the filter must follow that.
            acceleration_sigma: Positive::of(6.0),
            gate_chi2: Positive::of(9.21),
            confirm_hits: 2,
            max_unseen_s: Positive::of(1.0),
        }
    }
}

/// The `[planner]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerConfig {
    /// Cruising speed with a clear road, m/s.
    pub cruise_speed_mps: NonNegative,
    /// Half the width of the drive corridor, m (half a lane plus a margin).
    pub corridor_half_width_m: Positive,
    /// People this much beside the corridor, moving towards it, are yielded to.
    pub approach_margin_m: NonNegative,
    /// Look-ahead: at least this far...
    pub min_look_ahead_m: Positive,
    /// ...or this many seconds of driving at the current speed.
    pub look_ahead_s: NonNegative,
    /// Front bumper, metres ahead of the ego origin (rear axle).
    pub front_offset_m: NonNegative,
    /// Below this time to collision: emergency braking.
    pub emergency_ttc_s: NonNegative,
    /// Below this time to collision: stop.
    pub stop_ttc_s: NonNegative,
    /// A person in the corridor closer than this: stop (else yield).
    pub person_stop_gap_m: NonNegative,
    /// A milder action must hold this long before the decision eases off.
    pub hold_s: NonNegative,
    /// Ego speed assumed when the input has no poses, m/s.
    pub default_speed_mps: NonNegative,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            cruise_speed_mps: NonNegative::of(13.9),
            corridor_half_width_m: Positive::of(2.0),
            approach_margin_m: NonNegative::of(3.0),
            min_look_ahead_m: Positive::of(25.0),
            look_ahead_s: NonNegative::of(4.0),
            front_offset_m: NonNegative::of(3.9),
            emergency_ttc_s: NonNegative::of(1.5),
            stop_ttc_s: NonNegative::of(3.0),
            person_stop_gap_m: NonNegative::of(15.0),
            hold_s: NonNegative::of(0.6),
            default_speed_mps: NonNegative::of(10.0),
        }
    }
}

/// The `[rerun]` section: what the Rerun sink sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RerunConfig {
    /// Most images logged per camera per second of sensor time (boxes,
    /// tracks and decisions are always logged); `None`: every image.
    pub max_images_per_s: Option<Positive>,
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
    pub detector_workers: NonZeroUsize,
    pub classify: bool,
    /// The classifier: a shipped manifest's name (`models/<name>.toml`).
    pub classifier_model: ModelName,
    /// Most vehicle crops one frame set classifies, the largest first; the
    /// others wait for their camera's next key frame. `None`: all.
    pub classifier_max_crops_per_set: Option<NonZeroUsize>,
    pub classify_reuse: ClassifyReuseConfig,
    /// Items each queue between stages holds.
    pub queue_capacity: NonZeroUsize,
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
        // Every number is checked as it is read (heptaview_models::units): a
        // bad one is refused here, at its line.
        toml::from_str(&text).map_err(|e| {
            let place = e.span().map_or(String::new(), |span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                let key = key_at(&text, span.start).map_or(String::new(), |k| format!(", `{k}`"));
                format!(" (line {line}, column {column}{key})")
            });
            PipelineError::Config(format!("{}{place}: {}", path.display(), e.message().trim()))
        })
    }
}

/// The dotted key (`planner.cruise_speed_mps`) whose value is at `offset`
/// of a TOML text: the line's key under the last `[section]` above it.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let key = line.split_once('=')?.0.trim();
    let section = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    Some(match section {
        Some(section) => format!("{section}.{key}"),
        None => key.to_owned(),
    })
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
            detector_workers: NonZeroUsize::MIN,
            classify: true,
            classifier_model: heptaview_models::classifier::default_classifier(),
            classifier_max_crops_per_set: None,
            classify_reuse: ClassifyReuseConfig::default(),
            queue_capacity: NonZeroUsize::new(4).unwrap_or(NonZeroUsize::MIN),
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
            "classifier_max_crops_per_set",
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
        assert_eq!(partial.planner.cruise_speed_mps.get(), 8.0);
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
