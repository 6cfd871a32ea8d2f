//! Every detected frame's detections as JSON Lines, one line per frame: the
//! form in which two runs over the same images (a live run and the replay of
//! its recording, two builds, two machines) are compared.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use heptaview_models::attributes::Attributes;
use heptaview_models::detector::Detection as ModelDetection;
use serde::Serialize;

use heptaview_perception::PipelineError;
use heptaview_perception::types::{FrameSet, SlotStatus};

/// One line: a frame that went through the detector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameDetections {
    pub camera: String,
    pub timestamp_ns: u64,
    pub frameset: u64,
    pub detections: Vec<DetectionLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionLine {
    #[serde(flatten)]
    pub detection: ModelDetection,
    pub attributes: Attributes,
    /// The confirmed track it went into, if any (depends on the run's
    /// history, unlike the rest of the line).
    pub track_id: Option<u64>,
}

pub struct DetectionsFile {
    path: PathBuf,
    out: BufWriter<File>,
    cameras: Vec<String>,
}

impl DetectionsFile {
    /// `cameras`: names in rig order, as the frame sets' slots are.
    pub fn create(path: &Path, cameras: Vec<String>) -> Result<Self, PipelineError> {
        let file = File::create(path).map_err(|e| PipelineError::Write {
            path: path.to_owned(),
            source: e,
        })?;
        Ok(Self {
            path: path.to_owned(),
            out: BufWriter::new(file),
            cameras,
        })
    }

    pub fn write(&mut self, set: &FrameSet) -> Result<(), PipelineError> {
        for (camera, slot) in self.cameras.iter().zip(&set.slots) {
            let (SlotStatus::Processed, Some(frame)) = (slot.status, &slot.frame) else {
                continue;
            };
            let line = FrameDetections {
                camera: camera.clone(),
                timestamp_ns: frame.timestamp_ns,
                frameset: set.index,
                detections: slot
                    .detections
                    .iter()
                    .map(|d| DetectionLine {
                        detection: d.detection.clone(),
                        attributes: d.attributes.clone(),
                        track_id: d.track_id,
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut self.out, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"))
                .map_err(|e| self.io_error(e))?;
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<(), PipelineError> {
        self.out.flush().map_err(|e| self.io_error(e))
    }

    fn io_error(&self, source: std::io::Error) -> PipelineError {
        PipelineError::Write {
            path: self.path.clone(),
            source,
        }
    }
}
