//! Many run reports (one per replayed log, from any number of processes)
//! merged into one: counts are summed, rates recomputed from the sums,
//! latency percentiles recomputed from the runs' HdrHistograms, detection
//! recall and precision from the summed tallies, decision agreement from the
//! summed window counts. Reports are read with the same types that wrote
//! them; they are taken in the order of their inputs, so the result does not
//! depend on how the logs were split across processes.

use std::collections::BTreeMap;

use heptaview_perception::record::{CameraHealth, Compression, FrameCounts, FrameSetCounts};
use heptaview_runtime::metrics::{LatencyHistogram, LatencySummary};
use serde::{Deserialize, Serialize};

use crate::detection::Tally;
use crate::evaluation::Scores;
use crate::report::Report;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {problem}")]
    Report { path: String, problem: String },
    #[error("no reports to merge")]
    Empty,
}

/// The merge of many runs' reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedReport {
    pub heptaview_version: String,
    pub merged_reports: usize,
    /// Runs by mode (`replay`, `live`).
    pub modes: BTreeMap<String, u64>,
    pub inputs: Vec<String>,
    pub framesets: FrameSetCounts,
    pub frames: FrameCounts,
    pub throughput: MergedThroughput,
    /// `None` when no report carried a latency histogram.
    pub latency_ms: Option<MergedLatency>,
    pub inference: MergedInference,
    pub compression: Compression,
    /// Decisions by action.
    pub decisions: BTreeMap<String, u64>,
    pub cameras_health: BTreeMap<String, CameraHealth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<MergedEvaluation>,
}

/// Per process: the summed frames over the summed wall time of the runs
/// (processes running side by side add up further).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MergedThroughput {
    pub framesets_per_s: f64,
    pub frames_per_s: f64,
    pub wall_s_sum: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedLatency {
    pub end_to_end: LatencySummary,
    pub end_to_end_histogram: String,
    pub reports_without_histogram: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MergedInference {
    pub detector_calls: u64,
    pub classifier_calls: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedEvaluation {
    /// Reports that carried an evaluation.
    pub reports: u64,
    pub detection: MergedDetection,
    pub decision_agreement: Option<f64>,
    pub decisions_in_windows: u64,
    /// Matched and unmatched counts by kind and range bucket (medians do not
    /// merge; the per-log reports keep them).
    pub bev_error_m: BTreeMap<String, BTreeMap<String, MatchCounts>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedDetection {
    pub frames: u64,
    pub total: Scores,
    pub by_class: BTreeMap<String, Scores>,
    pub by_camera: BTreeMap<String, Scores>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchCounts {
    pub matched: u64,
    pub unmatched: u64,
}

/// Reports, each with where it came from (for errors).
pub fn merge_reports(reports: &[(String, Report)]) -> Result<MergedReport, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut sorted: Vec<&(String, Report)> = reports.iter().collect();
    // Input order, not file order: shards name their files differently.
    sorted.sort_by(|a, b| a.1.run.input.cmp(&b.1.run.input).then(a.0.cmp(&b.0)));
    let mut merged = Merged::default();
    for (path, report) in sorted {
        merged.add(report).map_err(|problem| MergeError::Report {
            path: path.clone(),
            problem,
        })?;
    }
    Ok(merged.finish())
}

#[derive(Default)]
struct Merged {
    inputs: Vec<String>,
    modes: BTreeMap<String, u64>,
    framesets: FrameSetCounts,
    frames: Option<FrameCounts>,
    inference: (u64, u64),
    compression: Compression,
    wall_s: f64,
    latency: Option<LatencyHistogram>,
    latency_missing: u64,
    decisions: BTreeMap<String, u64>,
    health: BTreeMap<String, CameraHealth>,
    eval: EvalSums,
}

#[derive(Default)]
struct EvalSums {
    reports: u64,
    detection_frames: u64,
    total: Tally,
    by_class: BTreeMap<String, Tally>,
    by_camera: BTreeMap<String, Tally>,
    decisions: u64,
    agreeing: u64,
    bev: BTreeMap<String, BTreeMap<String, MatchCounts>>,
}

impl Merged {
    fn add(&mut self, report: &Report) -> Result<(), String> {
        let run = &report.run;
        self.inputs.push(run.input.clone());
        *self.modes.entry(run.mode.clone()).or_default() += 1;
        self.framesets.total += run.framesets.total;
        self.framesets.complete += run.framesets.complete;
        self.framesets.partial += run.framesets.partial;
        match &mut self.frames {
            None => self.frames = Some(run.frames.clone()),
            Some(frames) => {
                frames.input += run.frames.input;
                frames.processed += run.frames.processed;
                frames.skipped_keyframe += run.frames.skipped_keyframe;
                frames.not_recorded += run.frames.not_recorded;
                for (reason, count) in &run.frames.dropped {
                    *frames.dropped.entry(reason.clone()).or_default() += count;
                }
            }
        }
        self.inference.0 += run.inference.detector_calls;
        self.inference.1 += run.inference.classifier_calls;
        self.compression.bytes_in += run.compression.bytes_in;
        self.compression.bytes_to_detector += run.compression.bytes_to_detector;
        self.compression.bytes_jpeg += run.compression.bytes_jpeg;
        self.wall_s += run.throughput.wall_s;
        match &run.latency_ms.end_to_end_histogram {
            Some(encoded) => {
                let histogram = LatencyHistogram::decode(encoded)?;
                match &mut self.latency {
                    Some(total) => total.add(&histogram)?,
                    None => self.latency = Some(histogram),
                }
            }
            None => self.latency_missing += 1,
        }
        for decision in &run.decisions {
            let action = serde_json::to_value(decision.action)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            *self.decisions.entry(action).or_default() += 1;
        }
        for (camera, health) in &run.cameras_health {
            let entry = self.health.entry(camera.clone()).or_default();
            entry.frames += health.frames;
            entry.down_events += health.down_events;
            entry.down_s += health.down_s;
            entry.missing_in_framesets += health.missing_in_framesets;
        }
        if let Some(eval) = &report.eval {
            self.eval.add(eval);
        }
        Ok(())
    }

    fn finish(self) -> MergedReport {
        let per_s = |count: u64| {
            if self.wall_s > 0.0 {
                count as f64 / self.wall_s
            } else {
                0.0
            }
        };
        let frames = self.frames.unwrap_or(FrameCounts {
            input: 0,
            processed: 0,
            skipped_keyframe: 0,
            dropped: BTreeMap::new(),
            not_recorded: 0,
        });
        MergedReport {
            heptaview_version: env!("CARGO_PKG_VERSION").to_owned(),
            merged_reports: self.inputs.len(),
            modes: self.modes,
            throughput: MergedThroughput {
                framesets_per_s: per_s(self.framesets.total),
                frames_per_s: per_s(frames.input),
                wall_s_sum: self.wall_s,
            },
            inputs: self.inputs,
            framesets: self.framesets,
            frames,
            latency_ms: self.latency.map(|h| MergedLatency {
                end_to_end: h.summary(),
                end_to_end_histogram: h.encoded().unwrap_or_default(),
                reports_without_histogram: self.latency_missing,
            }),
            inference: MergedInference {
                detector_calls: self.inference.0,
                classifier_calls: self.inference.1,
            },
            compression: self.compression,
            decisions: self.decisions,
            cameras_health: self.health,
            eval: (self.eval.reports > 0).then(|| self.eval.finish()),
        }
    }
}

impl EvalSums {
    fn add(&mut self, eval: &crate::Evaluation) {
        self.reports += 1;
        if let Some(detection) = &eval.detection {
            self.detection_frames += detection.frames;
            self.total.add(detection.total.tally);
            for (sums, scores) in [
                (&mut self.by_class, &detection.by_class),
                (&mut self.by_camera, &detection.by_camera),
            ] {
                for (key, scores) in scores {
                    sums.entry(key.clone()).or_default().add(scores.tally);
                }
            }
        }
        for window in &eval.decision_windows {
            self.decisions += window.decisions;
            self.agreeing += window.agreeing;
        }
        if let Some(bev) = &eval.bev_error_m {
            for (kind, buckets) in [("tracks", &bev.tracks), ("objects", &bev.objects)] {
                for (bucket, error) in buckets {
                    let entry = self
                        .bev
                        .entry(kind.to_owned())
                        .or_default()
                        .entry(bucket.clone())
                        .or_default();
                    entry.matched += error.matched;
                    entry.unmatched += error.unmatched;
                }
            }
        }
    }

    fn finish(self) -> MergedEvaluation {
        let scores = |sums: BTreeMap<String, Tally>| -> BTreeMap<String, Scores> {
            sums.into_iter()
                .map(|(key, tally)| (key, tally.into()))
                .collect()
        };
        MergedEvaluation {
            reports: self.reports,
            detection: MergedDetection {
                frames: self.detection_frames,
                total: self.total.into(),
                by_class: scores(self.by_class),
                by_camera: scores(self.by_camera),
            },
            decision_agreement: (self.decisions > 0)
                .then(|| self.agreeing as f64 / self.decisions as f64),
            decisions_in_windows: self.decisions,
            bev_error_m: self.bev,
        }
    }
}

impl MergedReport {
    /// The lines printed after a merge.
    pub fn summary(&self) -> String {
        let frames = &self.frames;
        let mut text = format!(
            "{} reports: {} frame sets; frames: {} in = {} processed + {} skipped (non-key) + {} dropped; {:.1} frames/s per process",
            self.merged_reports,
            self.framesets.total,
            frames.input,
            frames.processed,
            frames.skipped_keyframe,
            frames.dropped.values().sum::<u64>(),
            self.throughput.frames_per_s,
        );
        if let Some(latency) = &self.latency_ms {
            text.push_str(&format!(
                "\nlatency end to end: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                latency.end_to_end.p50, latency.end_to_end.p99, latency.end_to_end.max
            ));
        }
        if let Some(eval) = &self.eval {
            let total = &eval.detection.total;
            let show = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.3}"));
            text.push_str(&format!(
                "\neval: detection recall {}, precision {}; decision agreement {}",
                show(total.recall),
                show(total.precision),
                show(eval.decision_agreement)
            ));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use heptaview_perception::record::{Inference, Latencies, RunRecord, Throughput};
    use heptaview_perception::types::{Action, Decision};

    use super::*;
    use crate::decisions::WindowAgreement;
    use crate::detection::Tally;
    use crate::evaluation::{BevError, DetectionEvaluation, Evaluation};
    use crate::position::BucketError;

    fn decision(action: Action) -> Decision {
        Decision {
            t_ns: 0,
            action,
            target_speed_mps: 0.0,
            reasons: Vec::new(),
            min_ttc_s: None,
            ego_speed_mps: 0.0,
            look_ahead_m: 0.0,
        }
    }

    fn report(input: &str, frames: u64, latencies_ms: &[u64]) -> Report {
        let mut histogram = LatencyHistogram::default();
        for ms in latencies_ms {
            histogram.record(Duration::from_millis(*ms));
        }
        let tally = Tally {
            true_positives: 3,
            false_negatives: 1,
            false_positives: 1,
            duplicates: 0,
        };
        let run = RunRecord {
            heptaview_version: "test".to_owned(),
            mode: "replay".to_owned(),
            input: input.to_owned(),
            paced: false,
            cameras: vec!["ring_front_center".to_owned()],
            framesets: FrameSetCounts {
                total: frames / 7,
                complete: frames / 7,
                partial: 0,
            },
            sync: None,
            frames: FrameCounts {
                input: frames,
                processed: frames - 7,
                skipped_keyframe: 7,
                dropped: BTreeMap::from([("late".to_owned(), 0)]),
                not_recorded: 0,
            },
            throughput: Throughput {
                wall_s: 2.0,
                ..Throughput::default()
            },
            latency_ms: Latencies {
                end_to_end: histogram.summary(),
                end_to_end_histogram: histogram.encoded(),
                stages: BTreeMap::new(),
            },
            inference: Inference {
                detector_calls: frames - 7,
                classifier_calls: 3,
                detector_ms_mean: 1.0,
                classifier_crops: 5,
                classifications_reused: 2,
                classifications_deferred: 0,
            },
            compression: Compression {
                bytes_in: 10,
                bytes_to_detector: 5,
                bytes_jpeg: 2,
            },
            decisions: vec![decision(Action::Cruise), decision(Action::Follow)],
            cameras_health: BTreeMap::from([(
                "ring_front_center".to_owned(),
                CameraHealth {
                    frames: frames / 7,
                    ..CameraHealth::default()
                },
            )]),
            queues: Vec::new(),
            stopped_early: false,
        };
        let eval = Evaluation {
            detection: Some(DetectionEvaluation {
                match_iou: 0.5,
                min_height_px: 40.0,
                frames: 4,
                total: tally.into(),
                by_class: BTreeMap::from([("vehicle".to_owned(), tally.into())]),
                by_camera: BTreeMap::new(),
            }),
            bev_error_m: Some(BevError {
                tracks_median_relative_within_30m: None,
                objects_median_relative_within_30m: None,
                tracks: BTreeMap::from([(
                    "0-10m".to_owned(),
                    BucketError {
                        matched: 2,
                        unmatched: 1,
                        median_m: Some(0.1),
                        p90_m: None,
                        median_relative: None,
                    },
                )]),
                objects: BTreeMap::new(),
            }),
            decision_agreement: Some(0.9),
            decision_windows: vec![WindowAgreement {
                from_s: 0.0,
                to_s: 1.0,
                expected: vec!["CRUISE".to_owned()],
                why: String::new(),
                decisions: 10,
                agreeing: 9,
                seen: Vec::new(),
            }],
            keyframe_recall: None,
        };
        Report {
            eval: Some(eval),
            ..Report::new(run)
        }
    }

    #[test]
    fn counts_add_up_and_percentiles_come_from_all_samples() {
        let a = report("a", 70, &[10, 20, 30]);
        let b = report("b", 140, &[40, 50, 1000]);
        let merged = merge_reports(&[("b.json".to_owned(), b), ("a.json".to_owned(), a)]).unwrap();
        assert_eq!(merged.frames.input, 210);
        assert_eq!(merged.frames.skipped_keyframe, 14);
        assert_eq!(merged.framesets.total, 30);
        assert_eq!(merged.inputs, ["a", "b"]);
        assert_eq!(merged.decisions["FOLLOW"], 2);
        assert_eq!(merged.throughput.frames_per_s, 210.0 / 4.0);
        let latency = &merged.latency_ms.as_ref().unwrap().end_to_end;
        assert_eq!(latency.count, 6);
        assert!((latency.max - 1000.0).abs() < 1.0, "{latency:?}");
        assert!((latency.p50 - 30.0).abs() < 0.1, "{latency:?}");
        let eval = merged.eval.as_ref().unwrap();
        assert_eq!(eval.detection.total.tally.true_positives, 6);
        assert_eq!(eval.detection.total.recall, Some(0.75));
        assert_eq!(eval.detection.by_class["vehicle"].tally.false_positives, 2);
        assert_eq!(eval.decision_agreement, Some(0.9));
        assert_eq!(eval.bev_error_m["tracks"]["0-10m"].matched, 4);
        // The merge reads back as what it is.
        let text = serde_json::to_string(&merged).unwrap();
        assert_eq!(serde_json::from_str::<MergedReport>(&text).unwrap(), merged);
    }

    #[test]
    fn the_split_does_not_change_the_merge() {
        let reports: Vec<(String, Report)> = (0..4)
            .map(|i| {
                (
                    format!("{i}.json"),
                    report(&format!("log{i}"), 70 + 7 * i, &[5 * (i + 1)]),
                )
            })
            .collect();
        let whole = merge_reports(&reports).unwrap();
        let mut reversed = reports.clone();
        reversed.reverse();
        assert_eq!(merge_reports(&reversed).unwrap(), whole);
        assert!(matches!(merge_reports(&[]), Err(MergeError::Empty)));
    }
}
