//! Many run reports (one per replayed log, from any number of processes)
//! merged into one: counts are summed, rates recomputed from the sums,
//! latency percentiles recomputed from the runs' HdrHistograms, detection
//! recall and precision from the summed tallies, decision agreement from the
//! summed window counts. Works on the reports' JSON, which is the interface
//! (see the README's Report section), so that reports written by other
//! builds merge too. Reports are taken in the order of their inputs, and the
//! result does not depend on how the logs were split across processes.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use heptaview_runtime::metrics::LatencyHistogram;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {problem}")]
    Report { path: String, problem: String },
    #[error("no reports to merge")]
    Empty,
}

/// Reports, each with where it came from (for errors).
pub fn merge_reports(reports: &[(String, Value)]) -> Result<Value, MergeError> {
    if reports.is_empty() {
        return Err(MergeError::Empty);
    }
    let mut sorted: Vec<&(String, Value)> = reports.iter().collect();
    // Input order, not file order: shards name their files differently.
    sorted.sort_by(|a, b| {
        let input = |r: &(String, Value)| r.1["input"].as_str().unwrap_or("").to_owned();
        input(a).cmp(&input(b)).then(a.0.cmp(&b.0))
    });
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
    sums: BTreeMap<&'static str, u64>,
    dropped: BTreeMap<String, u64>,
    wall_s: f64,
    latency: Option<LatencyHistogram>,
    latency_missing: u64,
    decisions: BTreeMap<String, u64>,
    health: BTreeMap<String, BTreeMap<String, f64>>,
    eval: EvalSums,
}

#[derive(Default)]
struct EvalSums {
    reports: u64,
    detection_frames: u64,
    total: BTreeMap<String, u64>,
    by_class: BTreeMap<String, BTreeMap<String, u64>>,
    by_camera: BTreeMap<String, BTreeMap<String, u64>>,
    decisions: u64,
    agreeing: u64,
    bev: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
}

/// Summed counts: (field path in a report, name in the merge).
const COUNTS: [(&str, &str); 11] = [
    ("/framesets/total", "framesets_total"),
    ("/framesets/complete", "framesets_complete"),
    ("/framesets/partial", "framesets_partial"),
    ("/frames/input", "frames_input"),
    ("/frames/processed", "frames_processed"),
    ("/frames/skipped_keyframe", "frames_skipped_keyframe"),
    ("/inference/detector_calls", "detector_calls"),
    ("/inference/classifier_calls", "classifier_calls"),
    ("/compression/bytes_in", "bytes_in"),
    ("/compression/bytes_to_detector", "bytes_to_detector"),
    ("/compression/bytes_jpeg", "bytes_jpeg"),
];

const TALLY: [&str; 4] = [
    "true_positives",
    "false_negatives",
    "false_positives",
    "duplicates",
];

impl Merged {
    fn add(&mut self, report: &Value) -> Result<(), String> {
        let input = report["input"]
            .as_str()
            .ok_or("not a heptaview report (no `input`)")?;
        self.inputs.push(input.to_owned());
        let mode = report["mode"].as_str().unwrap_or("unknown");
        *self.modes.entry(mode.to_owned()).or_default() += 1;
        for (pointer, name) in COUNTS {
            let value = report
                .pointer(pointer)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("no count at {pointer}"))?;
            *self.sums.entry(name).or_default() += value;
        }
        if let Some(dropped) = report.pointer("/frames/dropped").and_then(Value::as_object) {
            for (reason, count) in dropped {
                *self.dropped.entry(reason.clone()).or_default() += count.as_u64().unwrap_or(0);
            }
        }
        self.wall_s += report
            .pointer("/throughput/wall_s")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        match report
            .pointer("/latency_ms/end_to_end_histogram")
            .and_then(Value::as_str)
        {
            Some(encoded) => {
                let histogram = LatencyHistogram::decode(encoded)?;
                match &mut self.latency {
                    Some(total) => total.add(&histogram)?,
                    None => self.latency = Some(histogram),
                }
            }
            None => self.latency_missing += 1,
        }
        if let Some(decisions) = report["decisions"].as_array() {
            for decision in decisions {
                let action = decision["action"].as_str().unwrap_or("unknown");
                *self.decisions.entry(action.to_owned()).or_default() += 1;
            }
        }
        if let Some(health) = report["cameras_health"].as_object() {
            for (camera, fields) in health {
                let entry = self.health.entry(camera.clone()).or_default();
                for (field, value) in fields.as_object().into_iter().flatten() {
                    *entry.entry(field.clone()).or_default() += value.as_f64().unwrap_or(0.0);
                }
            }
        }
        if let Some(eval) = report.get("eval") {
            self.eval.add(eval);
        }
        Ok(())
    }

    fn finish(self) -> Value {
        let sum = |name: &str| self.sums.get(name).copied().unwrap_or(0);
        let per_s = |count: u64| {
            if self.wall_s > 0.0 {
                count as f64 / self.wall_s
            } else {
                0.0
            }
        };
        let latency = self.latency.as_ref().map(|h| {
            json!({
                "end_to_end": h.summary(),
                "end_to_end_histogram": h.encoded(),
                "reports_without_histogram": self.latency_missing,
            })
        });
        let health: Map<String, Value> = self
            .health
            .iter()
            .map(|(camera, fields)| {
                let fields: Map<String, Value> = fields
                    .iter()
                    .map(|(field, value)| {
                        let value = if field == "down_s" {
                            json!(value)
                        } else {
                            json!(*value as u64)
                        };
                        (field.clone(), value)
                    })
                    .collect();
                (camera.clone(), Value::Object(fields))
            })
            .collect();
        let mut merged = json!({
            "heptaview_version": env!("CARGO_PKG_VERSION"),
            "merged_reports": self.inputs.len(),
            "modes": self.modes,
            "inputs": self.inputs,
            "framesets": {
                "total": sum("framesets_total"),
                "complete": sum("framesets_complete"),
                "partial": sum("framesets_partial"),
            },
            "frames": {
                "input": sum("frames_input"),
                "processed": sum("frames_processed"),
                "skipped_keyframe": sum("frames_skipped_keyframe"),
                "dropped": self.dropped,
            },
            // Per process: the summed frames over the summed wall time of
            // the runs (processes running side by side add up further).
            "throughput": {
                "framesets_per_s": per_s(sum("framesets_total")),
                "frames_per_s": per_s(sum("frames_input")),
                "wall_s_sum": self.wall_s,
            },
            "latency_ms": latency,
            "inference": {
                "detector_calls": sum("detector_calls"),
                "classifier_calls": sum("classifier_calls"),
            },
            "compression": {
                "bytes_in": sum("bytes_in"),
                "bytes_to_detector": sum("bytes_to_detector"),
                "bytes_jpeg": sum("bytes_jpeg"),
            },
            "decisions": self.decisions,
            "cameras_health": health,
        });
        if self.eval.reports > 0
            && let Some(object) = merged.as_object_mut()
        {
            object.insert("eval".to_owned(), self.eval.finish());
        }
        merged
    }
}

fn add_tally(into: &mut BTreeMap<String, u64>, tally: &Value) {
    for field in TALLY {
        *into.entry(field.to_owned()).or_default() += tally[field].as_u64().unwrap_or(0);
    }
}

/// Recall and precision from a summed tally, as the evaluation computes them.
fn scores(tally: &BTreeMap<String, u64>) -> Value {
    let get = |f: &str| tally.get(f).copied().unwrap_or(0);
    let (tp, fn_, fp) = (
        get("true_positives"),
        get("false_negatives"),
        get("false_positives"),
    );
    let ratio = |a: u64, b: u64| (a + b > 0).then(|| a as f64 / (a + b) as f64);
    json!({ "recall": ratio(tp, fn_), "precision": ratio(tp, fp), "tally": tally })
}

impl EvalSums {
    fn add(&mut self, eval: &Value) {
        self.reports += 1;
        if let Some(detection) = eval.get("detection").filter(|d| !d.is_null()) {
            self.detection_frames += detection["frames"].as_u64().unwrap_or(0);
            add_tally(&mut self.total, &detection["total"]["tally"]);
            for (group, sums) in [
                ("by_class", &mut self.by_class),
                ("by_camera", &mut self.by_camera),
            ] {
                for (key, scores) in detection[group].as_object().into_iter().flatten() {
                    add_tally(sums.entry(key.clone()).or_default(), &scores["tally"]);
                }
            }
        }
        for window in eval["decision_windows"].as_array().into_iter().flatten() {
            self.decisions += window["decisions"].as_u64().unwrap_or(0);
            self.agreeing += window["agreeing"].as_u64().unwrap_or(0);
        }
        if let Some(bev) = eval.get("bev_error_m").filter(|b| !b.is_null()) {
            for kind in ["tracks", "objects"] {
                for (bucket, error) in bev[kind].as_object().into_iter().flatten() {
                    let entry = self
                        .bev
                        .entry(kind.to_owned())
                        .or_default()
                        .entry(bucket.clone())
                        .or_default();
                    for field in ["matched", "unmatched"] {
                        *entry.entry(field.to_owned()).or_default() +=
                            error[field].as_u64().unwrap_or(0);
                    }
                }
            }
        }
    }

    fn finish(&self) -> Value {
        let group = |sums: &BTreeMap<String, BTreeMap<String, u64>>| -> Value {
            sums.iter()
                .map(|(key, tally)| (key.clone(), scores(tally)))
                .collect::<Map<String, Value>>()
                .into()
        };
        json!({
            "reports": self.reports,
            "detection": {
                "frames": self.detection_frames,
                "total": scores(&self.total),
                "by_class": group(&self.by_class),
                "by_camera": group(&self.by_camera),
            },
            "decision_agreement": (self.decisions > 0)
                .then(|| self.agreeing as f64 / self.decisions as f64),
            "decisions_in_windows": self.decisions,
            // Medians do not merge; the per-log reports keep them.
            "bev_error_m": self.bev,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn report(input: &str, frames: u64, latencies_ms: &[u64]) -> Value {
        let mut histogram = LatencyHistogram::default();
        for ms in latencies_ms {
            histogram.record(Duration::from_millis(*ms));
        }
        json!({
            "input": input,
            "mode": "replay",
            "framesets": {"total": frames / 7, "complete": frames / 7, "partial": 0},
            "frames": {"input": frames, "processed": frames - 7, "skipped_keyframe": 7,
                       "dropped": {"late": 0}},
            "throughput": {"wall_s": 2.0},
            "latency_ms": {"end_to_end": histogram.summary(),
                           "end_to_end_histogram": histogram.encoded()},
            "inference": {"detector_calls": frames - 7, "classifier_calls": 3},
            "compression": {"bytes_in": 10, "bytes_to_detector": 5, "bytes_jpeg": 2},
            "decisions": [{"action": "CRUISE"}, {"action": "FOLLOW"}],
            "cameras_health": {"ring_front_center": {"frames": frames / 7, "down_events": 0, "down_s": 0.0}},
            "eval": {
                "detection": {"frames": 4, "total": {"tally": {"true_positives": 3, "false_negatives": 1,
                    "false_positives": 1, "duplicates": 0}}, "by_class": {}, "by_camera": {}},
                "decision_windows": [{"decisions": 10, "agreeing": 9}],
                "bev_error_m": {"tracks": {"0-10m": {"matched": 2, "unmatched": 1}}, "objects": {}},
            },
        })
    }

    #[test]
    fn counts_add_up_and_percentiles_come_from_all_samples() {
        let a = report("a", 70, &[10, 20, 30]);
        let b = report("b", 140, &[40, 50, 1000]);
        let merged = merge_reports(&[("b.json".to_owned(), b), ("a.json".to_owned(), a)]).unwrap();
        assert_eq!(merged["frames"]["input"], 210);
        assert_eq!(merged["frames"]["skipped_keyframe"], 14);
        assert_eq!(merged["framesets"]["total"], 30);
        assert_eq!(merged["inputs"], json!(["a", "b"]));
        assert_eq!(merged["decisions"]["FOLLOW"], 2);
        assert_eq!(merged["throughput"]["frames_per_s"], 210.0 / 4.0);
        let latency = &merged["latency_ms"]["end_to_end"];
        assert_eq!(latency["count"], 6);
        let max = latency["max"].as_f64().unwrap();
        assert!((max - 1000.0).abs() < 1.0, "{latency}");
        let p50 = latency["p50"].as_f64().unwrap();
        assert!((p50 - 30.0).abs() < 0.1, "{latency}");
        let eval = &merged["eval"];
        assert_eq!(eval["detection"]["total"]["recall"], 0.75);
        assert_eq!(eval["decision_agreement"], 0.9);
        assert_eq!(eval["bev_error_m"]["tracks"]["0-10m"]["matched"], 4);
    }

    #[test]
    fn the_split_does_not_change_the_merge() {
        let reports: Vec<(String, Value)> = (0..4)
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
    }

    #[test]
    fn a_file_that_is_not_a_report_is_named() {
        let error = merge_reports(&[("notes.json".to_owned(), json!({"hello": 1}))]).unwrap_err();
        assert!(error.to_string().starts_with("notes.json:"), "{error}");
        assert!(matches!(merge_reports(&[]), Err(MergeError::Empty)));
    }
}
