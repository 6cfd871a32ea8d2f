//! Evaluation of a replay against the log's ground truth: detection recall
//! and precision (annotations projected into each camera), position error of
//! tracks and fused objects by range, and agreement of the decisions with a
//! generated drive's expectations. Field names are part of the report.

use std::collections::BTreeMap;

use heptaview_calibration::RigCamera;
use heptaview_datasets::av2::{Cuboid, GroundTruth};
use heptaview_datasets::{DatasetError, LogReader};
use heptaview_perception::types::{FrameSet, SlotStatus};
use nalgebra::Vector2;
use serde::{Deserialize, Serialize};

use crate::decisions::{DecisionAgreement, WindowAgreement};
use crate::detection::{DetectionTallies, Tally, expected_boxes, match_frame};
use crate::position::{BucketError, PositionErrors};

/// Range within which the headline position error is taken.
pub const HEADLINE_RANGE_M: f64 = 30.0;

/// The `eval` section of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// `None` when the log has no annotations.
    pub detection: Option<DetectionEvaluation>,
    pub bev_error_m: Option<BevError>,
    /// 0..1; `None` when the log carries no expected decisions.
    pub decision_agreement: Option<f64>,
    pub decision_windows: Vec<WindowAgreement>,
    /// Detections kept with key-frame selection relative to every frame;
    /// `None` unless both runs were made.
    pub keyframe_recall: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectionEvaluation {
    pub match_iou: f64,
    pub min_height_px: f64,
    /// Camera images the detector ran on that had annotations near their time.
    pub frames: u64,
    #[serde(flatten)]
    pub total: Scores,
    pub by_class: BTreeMap<String, Scores>,
    pub by_camera: BTreeMap<String, Scores>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    pub recall: Option<f64>,
    pub precision: Option<f64>,
    #[serde(flatten)]
    pub tally: Tally,
}

impl From<Tally> for Scores {
    fn from(tally: Tally) -> Self {
        Self {
            recall: tally.recall(),
            precision: tally.precision(),
            tally,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BevError {
    /// Median of error / range of confirmed tracks within 30 m.
    pub tracks_median_relative_within_30m: Option<f64>,
    pub objects_median_relative_within_30m: Option<f64>,
    pub tracks: BTreeMap<String, BucketError>,
    /// The fused detections of each frame set, before tracking.
    pub objects: BTreeMap<String, BucketError>,
}

/// Accumulates the evaluation frame set by frame set.
pub struct Evaluator {
    /// The replayed cameras, in slot order.
    cameras: Vec<RigCamera>,
    ground_truth: Option<GroundTruth>,
    detection: DetectionTallies,
    tracks: PositionErrors,
    objects: PositionErrors,
    decisions: Option<DecisionAgreement>,
}

impl Evaluator {
    /// For a replay of `log` with `cameras` (slot order, as the report lists them).
    pub fn new(log: &dyn LogReader, cameras: &[String]) -> Result<Self, DatasetError> {
        let cameras = cameras
            .iter()
            .map(|name| {
                log.rig()
                    .camera(name)
                    .cloned()
                    .map_err(|source| DatasetError::Calibration {
                        path: log.root().to_path_buf(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            cameras,
            ground_truth: log.ground_truth(),
            detection: DetectionTallies::default(),
            tracks: PositionErrors::default(),
            objects: PositionErrors::default(),
            decisions: log.expectations().cloned().map(DecisionAgreement::new),
        })
    }

    /// Whether there is anything to evaluate against.
    pub fn has_ground_truth(&self) -> bool {
        self.ground_truth.is_some() || self.decisions.is_some()
    }

    pub fn observe(&mut self, set: &FrameSet) {
        if let (Some(decisions), Some(decision)) = (&mut self.decisions, &set.decision) {
            decisions.add(decision);
        }
        for (slot, camera) in set.slots.iter().zip(&self.cameras) {
            let (Some(frame), SlotStatus::Processed) = (&slot.frame, slot.status) else {
                continue;
            };
            let Some(cuboids) = self.cuboids_at(frame.timestamp_ns) else {
                continue;
            };
            let expected = expected_boxes(camera, &cuboids);
            self.detection
                .add_frame(camera.name(), &match_frame(&expected, &slot.detections));
        }
        if let Some(cuboids) = self.cuboids_at(set.reference_ns) {
            for track in &set.tracks {
                let position = Vector2::new(track.position_m[0], track.position_m[1]);
                self.tracks.add(&track.class, position, &cuboids);
            }
            for object in &set.objects {
                self.objects
                    .add(&object.class, object.position.coords, &cuboids);
            }
        }
    }

    /// The annotated objects nearest in time to `timestamp_ns`, moved into
    /// the ego frame of that instant ([`GroundTruth::at`]).
    pub fn cuboids_at(&self, timestamp_ns: u64) -> Option<Vec<Cuboid>> {
        self.ground_truth.as_ref()?.at(timestamp_ns)
    }

    pub fn finish(self) -> Evaluation {
        let detection = self.ground_truth.as_ref().map(|_| DetectionEvaluation {
            match_iou: crate::detection::MATCH_IOU,
            min_height_px: crate::detection::MIN_HEIGHT_PX,
            frames: self.detection.frames,
            total: self.detection.total().into(),
            by_class: self
                .detection
                .by_family
                .iter()
                .map(|(family, tally)| (family.name().to_owned(), (*tally).into()))
                .collect(),
            by_camera: self
                .detection
                .by_camera
                .iter()
                .map(|(camera, tally)| (camera.clone(), (*tally).into()))
                .collect(),
        });
        let bev_error_m = self.ground_truth.as_ref().map(|_| BevError {
            tracks_median_relative_within_30m: self.tracks.median_relative_within(HEADLINE_RANGE_M),
            objects_median_relative_within_30m: self
                .objects
                .median_relative_within(HEADLINE_RANGE_M),
            tracks: self.tracks.summary(),
            objects: self.objects.summary(),
        });
        Evaluation {
            detection,
            bev_error_m,
            decision_agreement: self
                .decisions
                .as_ref()
                .and_then(DecisionAgreement::agreement),
            decision_windows: self
                .decisions
                .as_ref()
                .map(|d| d.windows().to_vec())
                .unwrap_or_default(),
            keyframe_recall: None,
        }
    }
}

impl Evaluation {
    /// The lines printed after a run's summary.
    pub fn summary(&self) -> String {
        let percent = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.0}%", 100.0 * v));
        let mut lines = Vec::new();
        if let Some(d) = &self.detection {
            let classes: Vec<String> = d
                .by_class
                .iter()
                .map(|(class, s)| format!("{class} {}/{}", percent(s.recall), percent(s.precision)))
                .collect();
            lines.push(format!(
                "eval detection (IoU {}, >= {} px, {} images): recall {}, precision {} ({} hits, {} missed, {} false); recall/precision by class: {}",
                d.match_iou,
                d.min_height_px,
                d.frames,
                percent(d.total.recall),
                percent(d.total.precision),
                d.total.tally.true_positives,
                d.total.tally.false_negatives,
                d.total.tally.false_positives,
                classes.join(", ")
            ));
        }
        if let Some(b) = &self.bev_error_m {
            let buckets: Vec<String> = b
                .tracks
                .iter()
                .map(|(bucket, e)| {
                    format!(
                        "{bucket} {} (n {}, {} unmatched)",
                        e.median_m.map_or("-".to_owned(), |m| format!("{m:.2} m")),
                        e.matched,
                        e.unmatched
                    )
                })
                .collect();
            lines.push(format!(
                "eval position: tracks within 30 m {} of range (median), fused objects {}; track median error by range: {}",
                percent(b.tracks_median_relative_within_30m),
                percent(b.objects_median_relative_within_30m),
                buckets.join(", ")
            ));
        }
        if let Some(agreement) = self.decision_agreement {
            let windows: Vec<String> = self
                .decision_windows
                .iter()
                .map(|w| {
                    format!(
                        "{:.1}-{:.1} s expect {} saw {} ({}/{})",
                        w.from_s,
                        w.to_s,
                        w.expected.join("|"),
                        w.seen.join(">"),
                        w.agreeing,
                        w.decisions
                    )
                })
                .collect();
            lines.push(format!(
                "eval decisions: agreement {:.2}; {}",
                agreement,
                windows.join("; ")
            ));
        }
        if let Some(recall) = self.keyframe_recall {
            lines.push(format!(
                "eval key frames: recall {recall:.3} of every-frame detections"
            ));
        }
        lines.join("\n")
    }
}
