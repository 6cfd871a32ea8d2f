//! Fusion: detections placed on the ground around the car and merged across
//! cameras. (Tracking over time arrives with the rest of the fusion issue.)

pub mod associate;
pub mod ground;

use heptaview_calibration::Rig;

use crate::error::PipelineError;
use crate::stage::{Output, Stage};
use crate::types::{CameraId, FrameSet, SlotStatus};
pub use associate::{FusedObject, fuse};
pub use ground::{GroundObservation, Method, observe};

/// The fuse stage: every processed slot's detections → ground observations →
/// one object per real object, attached to the frame set.
pub struct FuseStage {
    rig: Rig,
}

impl FuseStage {
    /// `rig` has the frame sets' cameras, in slot order.
    pub fn new(rig: Rig) -> Self {
        Self { rig }
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
            observations.extend(
                slot.detections
                    .iter()
                    .filter_map(|d| observe(CameraId(index), camera, d)),
            );
        }
        set.objects = fuse(observations);
        out.send(set)
    }
}
