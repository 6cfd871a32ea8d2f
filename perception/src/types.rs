//! What flows through the pipeline: frames from the cameras, then frame sets
//! (one slot per rig camera) to which each stage attaches its results.

use std::sync::Arc;
use std::time::{Duration, Instant};

use heptaview_models::attributes::Attributes;
use heptaview_models::detector::Detection as ModelDetection;
use nalgebra::Point2;
use opencv::core::Mat;
use serde::{Deserialize, Serialize};

use heptaview_runtime::accounting::DropReason;
use heptaview_runtime::edge::FrameCount;

/// Index of a camera in the rig (and in every frame set's slots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CameraId(pub usize);

/// One camera image as it arrives.
#[derive(Debug, Clone)]
pub struct Frame {
    pub camera: CameraId,
    /// Sensor time.
    pub timestamp_ns: u64,
    /// Monotonic arrival time at the pipeline.
    pub arrival: Instant,
    /// Per-camera sequence number, from 0.
    pub sequence: u64,
    /// The encoded image as delivered (shared, never re-encoded).
    pub jpeg: Arc<Vec<u8>>,
    /// The decoded image at the scale the detector needs (set by compression).
    pub image: Option<Mat>,
    /// Grey at a reduced scale (set by compression in key-frame mode), on
    /// which detections are propagated to frames the detector skips.
    pub grey: Option<Mat>,
    /// Size of the image at native resolution (width, height), once known.
    pub native_size: Option<(u32, u32)>,
}

impl Frame {
    /// Native pixels per pixel of `image` (this frame decoded at a reduced
    /// scale), along x and y; 1 when the native size is unknown.
    pub fn native_scale(&self, image: &Mat) -> (f32, f32) {
        use opencv::prelude::MatTraitConst;
        match self.native_size {
            Some((width, height)) if image.cols() > 0 && image.rows() > 0 => (
                width as f32 / image.cols() as f32,
                height as f32 / image.rows() as f32,
            ),
            _ => (1.0, 1.0),
        }
    }
}

/// What became of a camera's slot in a frame set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotStatus {
    /// No frame from this camera joined the set.
    Missing,
    /// A frame is here, not yet looked at by compression.
    Arrived,
    /// Chosen as a key frame: goes to the detector.
    Key,
    /// Not a key frame: the tracker carries the camera's objects forward.
    SkippedKeyframe,
    Dropped(DropReason),
    /// Detected (and classified).
    Processed,
}

/// A detection in one camera, with what the classifier stage added.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub camera: CameraId,
    #[serde(flatten)]
    pub detection: ModelDetection,
    pub attributes: Attributes,
    /// The confirmed track it went into (set by fusion).
    pub track_id: Option<u64>,
    /// Carried from the camera's last key frame by optical flow, not
    /// detected in this image.
    pub propagated: bool,
}

impl AsRef<ModelDetection> for Detection {
    fn as_ref(&self) -> &ModelDetection {
        &self.detection
    }
}

/// A camera's place in a frame set.
#[derive(Debug, Clone)]
pub struct Slot {
    pub frame: Option<Frame>,
    pub status: SlotStatus,
    pub detections: Vec<Detection>,
}

impl Slot {
    pub fn missing() -> Self {
        Self {
            frame: None,
            status: SlotStatus::Missing,
            detections: Vec::new(),
        }
    }
}

/// One object at one instant, seen by one camera or more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FusedObject {
    pub class: String,
    /// The subtype of its most confident observation that has one.
    pub subtype: Option<&'static str>,
    pub score: f32,
    /// Ego frame, metres.
    pub position: Point2<f64>,
    pub sigma_m: f64,
    pub cameras: Vec<CameraId>,
    /// Every observation of it was cut by one side of its image.
    pub partial: bool,
    /// Its detections: (camera, index in that camera's slot).
    pub detections: Vec<(CameraId, usize)>,
}

/// A tracked object in the ego frame (filled by the fusion stage).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    pub id: u64,
    pub class: String,
    /// The classifier's latest vehicle subtype for it (car, van, pickup, ...).
    pub subtype: Option<&'static str>,
    /// Ego frame at the frame set's time, metres.
    pub position_m: [f64; 2],
    /// Over the ground (ego motion removed), in ego axes, m/s.
    pub velocity_mps: [f64; 2],
    /// The cameras of its latest observation.
    pub cameras: Vec<CameraId>,
    pub age_s: f64,
    /// Position uncertainty (largest axis), metres.
    pub sigma_m: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Cruise,
    Follow,
    Yield,
    Stop,
    EmergencyBrake,
}

/// The planning decision of one frame set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub t_ns: u64,
    pub action: Action,
    pub target_speed_mps: f64,
    pub reasons: Vec<String>,
    /// Smallest time to collision with a track in the drive corridor.
    pub min_ttc_s: Option<f64>,
    /// The corridor the rules looked along: ego speed and look-ahead.
    pub ego_speed_mps: f64,
    pub look_ahead_m: f64,
}

/// The seven (or N) cameras' frames of one instant, and what stages attach.
#[derive(Debug, Clone)]
pub struct FrameSet {
    /// Emission order, from 0.
    pub index: u64,
    /// The timestamp that opened the set (the earliest frame's).
    pub reference_ns: u64,
    pub slots: Vec<Slot>,
    /// Earliest arrival of its frames: the start of its end-to-end latency.
    pub first_arrival: Instant,
    /// Objects around the car at this instant, fused across cameras.
    pub objects: Vec<FusedObject>,
    pub tracks: Vec<Track>,
    pub decision: Option<Decision>,
    /// When it entered each stage after the synchroniser (set by the runtime).
    pub stage_entries: Vec<(&'static str, Instant)>,
}

impl FrameSet {
    pub fn present(&self) -> usize {
        self.slots.iter().filter(|s| s.frame.is_some()).count()
    }

    pub fn is_complete(&self) -> bool {
        self.slots.iter().all(|s| s.frame.is_some())
    }

    /// Time from entering each stage to entering the next (or `until`, for
    /// the last): the stage's work plus the wait in the queue after it.
    pub fn stage_latencies(&self, until: Instant) -> Vec<(&'static str, Duration)> {
        let mut latencies = Vec::with_capacity(self.stage_entries.len() + 1);
        let mut previous = ("sync", self.first_arrival);
        for &(stage, entered) in &self.stage_entries {
            latencies.push((previous.0, entered.saturating_duration_since(previous.1)));
            previous = (stage, entered);
        }
        latencies.push((previous.0, until.saturating_duration_since(previous.1)));
        latencies
    }
}

impl FrameCount for Frame {
    fn frames(&self) -> u64 {
        1
    }
}

impl FrameCount for FrameSet {
    fn frames(&self) -> u64 {
        // Only frames not yet accounted for: skipped and dropped ones already
        // were; processed ones are counted when the set reaches the sink, so a
        // set lost on the way takes them with it.
        self.slots
            .iter()
            .filter(|s| {
                matches!(
                    s.status,
                    SlotStatus::Arrived | SlotStatus::Key | SlotStatus::Processed
                )
            })
            .count() as u64
    }

    fn entered_stage(&mut self, stage: &'static str, at: Instant) {
        self.stage_entries.push((stage, at));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use heptaview_runtime::accounting::{DropReason, Ledger};
    use heptaview_runtime::edge::{Backpressure, edge};

    use super::*;

    fn frame() -> Frame {
        Frame {
            camera: CameraId(0),
            timestamp_ns: 0,
            arrival: Instant::now(),
            sequence: 0,
            jpeg: Arc::new(Vec::new()),
            image: None,
            grey: None,
            native_size: None,
        }
    }

    #[test]
    fn a_dropped_frame_set_counts_only_its_frames_not_yet_accounted() {
        let ledger = Arc::new(Ledger::default());
        let (tx, _rx, _) = edge::<FrameSet>("a->b", 1, Backpressure::Latest, ledger.clone());
        let slot = |status| Slot {
            frame: Some(frame()),
            status,
            detections: Vec::new(),
        };
        let set = || FrameSet {
            index: 0,
            reference_ns: 0,
            slots: vec![
                slot(SlotStatus::Key),
                slot(SlotStatus::SkippedKeyframe),
                slot(SlotStatus::Arrived),
                // Processed frames are counted at the sink: lost on the way, they are dropped.
                slot(SlotStatus::Processed),
                Slot::missing(),
            ],
            first_arrival: Instant::now(),
            objects: Vec::new(),
            tracks: Vec::new(),
            decision: None,
            stage_entries: Vec::new(),
        };
        tx.send(set()).map_err(|_| ()).unwrap();
        tx.send(set()).map_err(|_| ()).unwrap();
        assert_eq!(ledger.counts().dropped(DropReason::QueueFull), 3);
    }
}
