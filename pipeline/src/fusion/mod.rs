//! Fusion: detections placed on the ground around the car, merged across
//! cameras, and tracked over time.

pub mod associate;
pub mod ground;
pub mod tracker;

use heptaview_calibration::Rig;
use heptaview_datasets::av2::EgoPoses;
use nalgebra::Isometry3;

use crate::error::PipelineError;
use crate::stage::{Output, Stage};
use crate::types::{CameraId, FrameSet, SlotStatus};
pub use associate::{FusedObject, fuse};
pub use ground::{GroundObservation, Method, observe};
pub use tracker::{CameraView, Tracker, TrackerConfig};

/// The fuse stage: every processed slot's detections → ground observations →
/// one object per real object, attached to the frame set.
pub struct FuseStage {
    rig: Rig,
    tracker: Tracker,
    /// The log's ego poses, to track in the city frame; `None`: ego frame.
    poses: Option<EgoPoses>,
}

impl FuseStage {
    /// `rig` has the frame sets' cameras, in slot order.
    pub fn new(rig: Rig, tracker: TrackerConfig, poses: Option<EgoPoses>) -> Self {
        Self {
            rig,
            tracker: Tracker::new(tracker),
            poses,
        }
    }
}

impl Stage for FuseStage {
    type In = FrameSet;
    type Out = FrameSet;

    fn name(&self) -> &'static str {
        "fuse"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        let mut observations = Vec::new();
        for (index, (slot, camera)) in set.slots.iter().zip(self.rig.cameras()).enumerate() {
            if slot.status != SlotStatus::Processed {
                continue;
            }
            observations.extend(slot.detections.iter().enumerate().filter_map(|(i, d)| {
                observe(CameraId(index), camera, d).map(|o| GroundObservation { detection: i, ..o })
            }));
        }
        set.objects = fuse(observations);
        let world_from_ego = self
            .poses
            .as_ref()
            .and_then(|poses| poses.at(set.reference_ns))
            .unwrap_or_else(Isometry3::identity);
        let views: Vec<CameraView> = set
            .slots
            .iter()
            .map(|s| match s.status {
                SlotStatus::Processed => CameraView::Detected,
                SlotStatus::SkippedKeyframe => CameraView::Skipped,
                _ => CameraView::Absent,
            })
            .collect();
        let view = |camera: CameraId| views.get(camera.0).copied().unwrap_or(CameraView::Absent);
        set.tracks = self
            .tracker
            .step(set.reference_ns, &world_from_ego, &set.objects, &view);
        // Each detection learns its track, for labels in the camera views.
        for (object, track) in set.objects.iter().zip(self.tracker.assignments()) {
            for &(camera, index) in &object.detections {
                if let Some(detection) = set
                    .slots
                    .get_mut(camera.0)
                    .and_then(|slot| slot.detections.get_mut(index))
                {
                    detection.track_id = *track;
                }
            }
        }
        out.send(set)
    }
}
