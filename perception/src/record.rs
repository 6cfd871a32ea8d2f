//! What a run did: frame sets, frames and where each ended, throughput,
//! latencies, inference, compression, decisions, camera health, queues. The
//! report (`heptaview_eval::report::Report`) is this plus the evaluation and
//! what the sinks wrote; field names are an interface, add freely, rename none.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use heptaview_runtime::accounting::{DropReason, LedgerCounts};
use heptaview_runtime::edge::EdgeReport;
use heptaview_runtime::metrics::LatencySummary;

use crate::types::Decision;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub heptaview_version: String,
    pub mode: String,
    pub input: String,
    /// Frames came at their recorded pace (live cameras, `replay --speed`):
    /// `latency_ms.end_to_end` is camera to decision. `false`: the source
    /// ran ahead of the pipeline and the latency is mostly queueing.
    #[serde(default)]
    pub paced: bool,
    pub cameras: Vec<String>,
    pub framesets: FrameSetCounts,
    /// How the synchroniser grouped frames into sets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncReport>,
    pub frames: FrameCounts,
    pub throughput: Throughput,
    pub latency_ms: Latencies,
    pub inference: Inference,
    pub compression: Compression,
    pub decisions: Vec<Decision>,
    pub cameras_health: BTreeMap<String, CameraHealth>,
    pub queues: Vec<EdgeReport>,
    /// Whether the run ended early (Ctrl-C).
    pub stopped_early: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct FrameSetCounts {
    pub total: u64,
    pub complete: u64,
    pub partial: u64,
}

/// How frames were grouped: each camera's exposure offset within the
/// trigger cycle (declared by the rig or measured), or raw timestamps.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SyncReport {
    /// `declared`, `measured` or `none` (raw timestamps).
    pub phase: String,
    /// The trigger cycle, when there are phases.
    pub period_ms: Option<f64>,
    /// Frames within this of their set's cycle time joined it.
    pub tolerance_ms: f64,
    /// Per camera, its exposure offset within the cycle.
    pub offsets_ms: BTreeMap<String, f64>,
    /// Why the phases could not be measured, when they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What the phases were measured from (or what measuring them failed
    /// on, see `note`): `log index` (a replay, before the first frame) or
    /// `first frames` (held back until measured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured_from: Option<String>,
}

impl SyncReport {
    /// What the synchroniser settled on, with camera names for its indices.
    pub fn new(timing: &crate::stages::sync::SyncTiming, cameras: &[String]) -> Self {
        let ms = |ns: f64| ns / 1e6;
        Self {
            phase: timing.phase.to_owned(),
            period_ms: timing.timing.as_ref().map(|t| ms(t.period_ns() as f64)),
            tolerance_ms: ms(timing.tolerance_ns as f64),
            offsets_ms: timing
                .timing
                .as_ref()
                .map(|t| {
                    cameras
                        .iter()
                        .enumerate()
                        .map(|(i, name)| (name.clone(), ms(t.offset_ns(i) as f64)))
                        .collect()
                })
                .unwrap_or_default(),
            note: timing.note.clone(),
            measured_from: timing.measured_from.map(str::to_owned),
        }
    }

    fn summary(&self) -> String {
        match self.period_ms {
            Some(period) => {
                let (lo, hi) = self
                    .offsets_ms
                    .values()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &o| {
                        (lo.min(o), hi.max(o))
                    });
                format!(
                    "sync: cameras expose over {:.1} ms of a {period:.1} ms trigger cycle ({} phases{}); a frame joins its cycle's set within ±{:.1} ms",
                    (hi - lo).max(0.0),
                    self.phase,
                    self.measured_from
                        .as_ref()
                        .map_or(String::new(), |from| format!(", from the {from}")),
                    self.tolerance_ms
                )
            }
            None => format!(
                "sync: frames grouped by timestamp within ±{:.1} ms{}",
                self.tolerance_ms,
                self.note.as_ref().map_or(String::new(), |why| format!(
                    " (phases not measured: {why})"
                ))
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameCounts {
    pub input: u64,
    pub processed: u64,
    pub skipped_keyframe: u64,
    pub dropped: BTreeMap<String, u64>,
    /// Frames a live recording could not keep (its queue was full); they
    /// were processed all the same, so they are not in the balance.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_recorded: u64,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl From<LedgerCounts> for FrameCounts {
    fn from(counts: LedgerCounts) -> Self {
        Self {
            input: counts.input,
            processed: counts.processed,
            skipped_keyframe: counts.skipped_keyframe,
            dropped: DropReason::ALL
                .iter()
                .map(|r| (r.name().to_owned(), counts.dropped(*r)))
                .collect(),
            not_recorded: counts.not_recorded,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Throughput {
    pub framesets_per_s: f64,
    pub frames_per_s: f64,
    pub wall_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Latencies {
    pub end_to_end: LatencySummary,
    /// The end-to-end histogram itself (HdrHistogram V2 deflate, base64),
    /// so that reports of many runs merge into exact percentiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_to_end_histogram: Option<String>,
    pub stages: BTreeMap<String, LatencySummary>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Inference {
    pub detector_calls: u64,
    /// Classifier runs: one per frame set with a vehicle crop to classify.
    pub classifier_calls: u64,
    pub detector_ms_mean: f64,
    /// Vehicle crops classified, all runs together.
    #[serde(default)]
    pub classifier_crops: u64,
    /// Vehicle detections that kept their camera's earlier classification
    /// instead of a crop (`[classify_reuse]`).
    #[serde(default)]
    pub classifications_reused: u64,
    /// Vehicle crops left for a later key frame by the per-set cap
    /// (`classifier_max_crops_per_set`).
    #[serde(default)]
    pub classifications_deferred: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Compression {
    pub bytes_in: u64,
    pub bytes_to_detector: u64,
    pub bytes_jpeg: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct CameraHealth {
    pub frames: u64,
    pub down_events: u64,
    pub down_s: f64,
    /// Frame sets in which this camera had no frame.
    pub missing_in_framesets: u64,
}

impl RunRecord {
    /// The human summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let f = &self.frames;
        let dropped: Vec<String> = f
            .dropped
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        let mut lines = vec![
            format!(
                "{} framesets ({} complete, {} partial) in {:.1} s: {:.2} framesets/s, {:.1} frames/s",
                self.framesets.total,
                self.framesets.complete,
                self.framesets.partial,
                self.throughput.wall_s,
                self.throughput.framesets_per_s,
                self.throughput.frames_per_s
            ),
            format!(
                "frames: {} in = {} processed + {} skipped (non-key) + {} dropped{}",
                f.input,
                f.processed,
                f.skipped_keyframe,
                f.dropped.values().sum::<u64>(),
                if dropped.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", dropped.join(", "))
                }
            ),
            format!(
                "detector calls {} ({:.1} ms mean), classifier calls {} ({} crops, {} reused, {} deferred)",
                self.inference.detector_calls,
                self.inference.detector_ms_mean,
                self.inference.classifier_calls,
                self.inference.classifier_crops,
                self.inference.classifications_reused,
                self.inference.classifications_deferred
            ),
            format!(
                "{}: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                if self.paced {
                    "latency camera to decision"
                } else {
                    "latency end to end, queued behind a max-speed source (`--speed 1` for camera to decision)"
                },
                self.latency_ms.end_to_end.p50,
                self.latency_ms.end_to_end.p90,
                self.latency_ms.end_to_end.p99,
                self.latency_ms.end_to_end.max
            ),
            format!(
                "pixels: {:.1} MB in, {:.1} MB to the detector ({:.0}%), {:.1} MB JPEG",
                self.compression.bytes_in as f64 / 1e6,
                self.compression.bytes_to_detector as f64 / 1e6,
                100.0 * self.compression.bytes_to_detector as f64
                    / (self.compression.bytes_in.max(1)) as f64,
                self.compression.bytes_jpeg as f64 / 1e6
            ),
        ];
        if let Some(sync) = &self.sync {
            lines.insert(1, sync.summary());
        }
        let stages: Vec<String> = self
            .latency_ms
            .stages
            .iter()
            .map(|(name, s)| format!("{name} {:.1}", s.mean))
            .collect();
        lines.push(format!(
            "stage time per frame set (mean ms): {}",
            stages.join(", ")
        ));
        lines.push(self.camera_table());
        lines.join("\n")
    }

    /// One row per camera: what it delivered and when it was missing.
    fn camera_table(&self) -> String {
        let width = self
            .cameras_health
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max("camera".len());
        let mut rows = vec![format!(
            "{:<width$}  {:>7}  {:>16}  {:>11}  {:>8}",
            "camera", "frames", "missing in sets", "down events", "down s"
        )];
        for (name, health) in &self.cameras_health {
            rows.push(format!(
                "{:<width$}  {:>7}  {:>16}  {:>11}  {:>8.1}",
                name, health.frames, health.missing_in_framesets, health.down_events, health.down_s
            ));
        }
        rows.join("\n")
    }
}
