//! Fusion: detections placed on the ground around the car, merged across
//! cameras, and tracked over time.

pub mod associate;
pub mod ground;
pub mod tracker;

use heptaview_calibration::EgoPoses;
use heptaview_calibration::Rig;
use nalgebra::{Isometry3, Point3};

use crate::config::{PipelineConfig, TrackerConfig};
use crate::error::PipelineError;
use crate::stage_context::{SetStage, StageContext};
pub use crate::types::FusedObject;
use crate::types::{CameraId, FrameSet, SlotStatus};
pub use associate::fuse;
pub use ground::{GroundObservation, Method, observe};
use heptaview_runtime::stage::{Output, Stage};
pub use tracker::{CameraView, Tracker};

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
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "fuse"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        let pose_at = |t_ns: u64| self.poses.as_ref().and_then(|poses| poses.at(t_ns));
        let reference_pose = pose_at(set.reference_ns);
        let world_from_ego = reference_pose.unwrap_or_else(Isometry3::identity);
        let mut observations = Vec::new();
        for (index, (slot, camera)) in set.slots.iter().zip(self.rig.cameras()).enumerate() {
            let (SlotStatus::Processed, Some(frame)) = (slot.status, &slot.frame) else {
                continue;
            };
            // The cameras of one set expose up to a cycle apart (~42 ms on
            // an AV2 car): each image's objects are placed from where the car
            // was when it was taken, then moved into the set's ego frame.
            let reference_from_image = match (reference_pose, pose_at(frame.timestamp_ns)) {
                (Some(world_from_reference), Some(world_from_image)) => {
                    world_from_reference.inverse() * world_from_image
                }
                _ => Isometry3::identity(),
            };
            observations.extend(slot.detections.iter().enumerate().filter_map(|(i, d)| {
                observe(CameraId(index), camera, d).map(|o| {
                    let moved = reference_from_image * Point3::new(o.position.x, o.position.y, 0.0);
                    GroundObservation {
                        detection: i,
                        position: moved.xy(),
                        ..o
                    }
                })
            }));
        }
        set.objects = fuse(observations);
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
        Ok(out.send(set)?)
    }
}

/// Fusion over the run's rig, tracking in the city frame when it has poses.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    Ok(Box::new(FuseStage::new(
        context.rig.clone(),
        config.tracker.clone(),
        context.poses.clone(),
    )))
}
