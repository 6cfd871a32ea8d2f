//! The recorder of live runs: every frame that came in, written as an
//! Argoverse 2 log folder or a ROS 2 bag (`*.mcap`), both of which
//! `heptaview replay` reads, on its own thread. Frames
//! reach it through a bounded queue: a disk that cannot keep up costs frames
//! of the recording, counted (`frames.not_recorded`), never memory without
//! bound nor the pipeline's own frames.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{Scope, ScopedJoinHandle};

use crossbeam::channel::{self, Receiver, Sender, TrySendError};
use heptaview_calibration::Rig;
use heptaview_datasets::{LogWriter, create_log_writer};
use heptaview_perception::PipelineError;
use heptaview_runtime::RuntimeError;
use heptaview_runtime::accounting::Ledger;
use nalgebra::Isometry3;

/// Frames the writer may fall behind by: two seconds of seven 20 Hz cameras.
pub const RECORDER_QUEUE: usize = 280;

/// One arrived frame on its way to the recording: camera index, sensor
/// time, the JPEG bytes as they came.
pub type Recorded = (usize, u64, Arc<Vec<u8>>);

/// Where frames go to be recorded; cheap to clone (one per capture thread).
#[derive(Clone)]
pub struct RecordQueue {
    frames: Sender<Recorded>,
}

impl RecordQueue {
    /// Queues a frame, or counts it as not recorded when the writer is
    /// behind by a full queue.
    pub fn offer(&self, frame: Recorded, ledger: &Ledger) {
        match self.frames.try_send(frame) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => ledger.not_recorded(1),
        }
    }
}

/// A recording under way: its writer thread.
pub struct Recording<'scope> {
    writer: ScopedJoinHandle<'scope, Result<(), PipelineError>>,
}

impl<'scope> Recording<'scope> {
    /// Starts recording into `record`'s folder (which must not exist yet)
    /// for cameras `names` (slot order); `None` when nothing is recorded.
    pub fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        record: Option<&(PathBuf, Rig)>,
        names: Vec<String>,
    ) -> Result<Option<(Self, RecordQueue)>, PipelineError> {
        let Some((dir, rig)) = record else {
            return Ok(None);
        };
        let writer = new_log(dir, rig)?;
        let (tx, rx) = channel::bounded::<Recorded>(RECORDER_QUEUE);
        let writer = std::thread::Builder::new()
            .name("recorder".to_owned())
            .spawn_scoped(scope, move || write(writer, &names, &rx))
            .map_err(|source| RuntimeError::Spawn {
                stage: "record",
                source,
            })?;
        Ok(Some((Self { writer }, RecordQueue { frames: tx })))
    }

    /// Waits for the writer to finish the log (once every queue is dropped):
    /// its error, or a panic as an error.
    pub fn finish(self) -> Result<(), PipelineError> {
        self.writer.join().unwrap_or_else(|_| {
            Err(PipelineError::Runtime(RuntimeError::Panicked {
                stage: "record",
                message: "the recorder panicked".to_owned(),
            }))
        })
    }
}

fn new_log(path: &Path, rig: &Rig) -> Result<Box<dyn LogWriter>, PipelineError> {
    if path.exists() {
        return Err(PipelineError::Config(format!(
            "{} exists already: a recording goes into a new file or folder",
            path.display()
        )));
    }
    create_log_writer(path, rig).map_err(|e| PipelineError::stage("record", e))
}

/// Writes the frames as they come, then the poses (identity: live mode
/// knows no ego motion) and finishes the log.
fn write(
    mut writer: Box<dyn LogWriter>,
    names: &[String],
    frames: &Receiver<Recorded>,
) -> Result<(), PipelineError> {
    let failed = |e| PipelineError::stage("record", e);
    for (camera, timestamp_ns, jpeg) in frames {
        writer
            .write_jpeg(&names[camera], timestamp_ns, &jpeg)
            .map_err(failed)?;
        writer.add_pose(timestamp_ns, Isometry3::identity());
    }
    writer.finish().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_counts_the_frame_as_not_recorded_and_does_not_block() {
        let ledger = Ledger::default();
        let (tx, rx) = channel::bounded::<Recorded>(1);
        let queue = RecordQueue { frames: tx };
        let frame = || (0, 1, Arc::new(vec![0xFF, 0xD8]));
        queue.offer(frame(), &ledger);
        queue.offer(frame(), &ledger);
        assert_eq!(ledger.counts().not_recorded, 1);
        assert_eq!(rx.len(), 1);
        // The pipeline's balance does not include it.
        assert!(ledger.counts().balanced());
    }
}
