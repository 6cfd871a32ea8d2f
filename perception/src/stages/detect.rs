//! Detection on key frames with N detector workers, each its own ONNX
//! Runtime session on its own thread.
//!
//! The workers form a pool fed across frame sets: a set's key frames are
//! handed out as jobs as soon as the set arrives, while earlier sets may
//! still be in detection, and sets leave in arrival order once all their
//! key frames are back. With two workers a set of three key frames then
//! shares its third call's time with the next set's first instead of
//! holding one worker idle for a whole detector call.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use heptaview_models::ModelError;
use heptaview_models::SessionConfig;
use heptaview_models::detector::{DetectTimings, Detection as ModelDetection, Detector};
use opencv::core::Mat;
use opencv::prelude::*;

use crate::config::PipelineConfig;
use crate::error::PipelineError;
use crate::stage_context::{InferenceCounters, SetStage, StageContext};
use crate::types::{Detection, FrameSet, SlotStatus};
use heptaview_runtime::stage::{Output, Stage};

/// How often a finished set is looked for while no new set arrives: at
/// recorded pace the next set is ~100 ms away, and a done set should not wait for it.
const POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Far beyond any one detector call: a worker that died leaves its job
/// unanswered, and the run stops with an error instead of hanging.
const STALL_LIMIT: Duration = Duration::from_secs(60);

struct Job {
    set: u64,
    slot: usize,
    image: Mat,
}

struct JobDone {
    set: u64,
    slot: usize,
    image: Mat,
    result: Result<(Vec<ModelDetection>, DetectTimings), ModelError>,
}

struct InFlight {
    sequence: u64,
    set: FrameSet,
    outstanding: usize,
}

pub struct DetectStage {
    /// `None` once shutting down (dropping it stops the workers).
    jobs: Option<Sender<Job>>,
    /// The workers' end of the job queue, kept to empty it when stopping.
    pending_jobs: Receiver<Job>,
    done: Receiver<JobDone>,
    workers: Vec<JoinHandle<()>>,
    in_flight: VecDeque<InFlight>,
    /// Most sets in detection at once; more waits for the oldest to finish.
    max_in_flight: usize,
    next_sequence: u64,
    counters: Arc<InferenceCounters>,
}

impl DetectStage {
    pub fn new(
        detectors: Vec<Detector>,
        counters: Arc<InferenceCounters>,
    ) -> Result<Self, PipelineError> {
        if detectors.is_empty() {
            return Err(PipelineError::Config(
                "detect: at least one detector worker is needed".to_owned(),
            ));
        }
        let max_in_flight = detectors.len().max(2);
        let (jobs, job_queue) = crossbeam::channel::unbounded::<Job>();
        let (done_sender, done) = crossbeam::channel::unbounded::<JobDone>();
        let mut workers = Vec::with_capacity(detectors.len());
        for (index, detector) in detectors.into_iter().enumerate() {
            let job_queue = job_queue.clone();
            let done_sender = done_sender.clone();
            let worker = std::thread::Builder::new()
                .name(format!("detect-{index}"))
                .spawn(move || work(detector, &job_queue, &done_sender))
                .map_err(|e| PipelineError::stage("detect", e))?;
            workers.push(worker);
        }
        Ok(Self {
            jobs: Some(jobs),
            pending_jobs: job_queue,
            done,
            workers,
            in_flight: VecDeque::new(),
            max_in_flight,
            next_sequence: 0,
            counters,
        })
    }

    /// Puts a finished job's detections into its slot.
    fn complete(&mut self, done: JobDone) -> Result<(), PipelineError> {
        let (found, timings) = done.result.map_err(|e| PipelineError::stage("detect", e))?;
        self.counters.detector_calls.fetch_add(1, Ordering::Relaxed);
        self.counters
            .detector_ns
            .fetch_add(timings.inference.as_nanos() as u64, Ordering::Relaxed);
        let Some(pending) = self
            .in_flight
            .iter_mut()
            .find(|pending| pending.sequence == done.set)
        else {
            return Err(PipelineError::stage(
                "detect",
                PoolError::UnknownSet(done.set),
            ));
        };
        pending.outstanding = pending.outstanding.saturating_sub(1);
        let slot = &mut pending.set.slots[done.slot];
        let Some(frame) = slot.frame.as_mut() else {
            return Ok(());
        };
        // Boxes leave this stage in native source pixels, whatever DCT
        // scale the image was decoded at.
        let (sx, sy) = frame.native_scale(&done.image);
        let camera = frame.camera;
        frame.image = Some(done.image);
        slot.detections = found
            .into_iter()
            .map(|mut detection| {
                let [x1, y1, x2, y2] = detection.bbox;
                detection.bbox = [x1 * sx, y1 * sy, x2 * sx, y2 * sy];
                Detection {
                    camera,
                    detection,
                    attributes: Default::default(),
                    track_id: None,
                    propagated: false,
                }
            })
            .collect();
        slot.status = SlotStatus::Processed;
        Ok(())
    }

    /// Takes in every finished job without waiting, then sends the sets at
    /// the front that are complete.
    fn collect_ready(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        loop {
            match self.done.try_recv() {
                Ok(done) => self.complete(done)?,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Err(workers_gone()),
            }
        }
        self.send_complete(out)
    }

    fn send_complete(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        while self
            .in_flight
            .front()
            .is_some_and(|pending| pending.outstanding == 0)
        {
            if let Some(pending) = self.in_flight.pop_front() {
                out.send(pending.set)?;
            }
        }
        Ok(())
    }

    /// Waits until the oldest set in detection is complete, and sends it
    /// (and any complete ones behind it).
    fn wait_for_oldest(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        while self
            .in_flight
            .front()
            .is_some_and(|pending| pending.outstanding > 0)
        {
            match self.done.recv_timeout(STALL_LIMIT) {
                Ok(done) => self.complete(done)?,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(PipelineError::stage(
                        "detect",
                        PoolError::Stalled(STALL_LIMIT),
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => return Err(workers_gone()),
            }
        }
        self.send_complete(out)
    }
}

fn workers_gone() -> PipelineError {
    PipelineError::stage("detect", PoolError::WorkersGone)
}

#[derive(Debug, thiserror::Error)]
enum PoolError {
    #[error("the detector workers stopped")]
    WorkersGone,
    #[error("no detector result for {0:?}: a detector worker stopped")]
    Stalled(Duration),
    #[error("a detector result for frame set {0}, which is not in detection")]
    UnknownSet(u64),
}

/// A worker: detects the images it is handed until the job queue closes.
fn work(mut detector: Detector, jobs: &Receiver<Job>, done: &Sender<JobDone>) {
    for job in jobs {
        let result = detector.detect(&job.image);
        let finished = JobDone {
            set: job.set,
            slot: job.slot,
            image: job.image,
            result,
        };
        if done.send(finished).is_err() {
            return;
        }
    }
}

impl Stage for DetectStage {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "detect"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        self.collect_ready(out)?;
        while self.in_flight.len() >= self.max_in_flight {
            self.wait_for_oldest(out)?;
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let Some(jobs) = &self.jobs else {
            return Err(workers_gone());
        };
        let mut outstanding = 0;
        for (index, slot) in set.slots.iter_mut().enumerate() {
            if slot.status != SlotStatus::Key {
                continue;
            }
            let Some(image) = slot.frame.as_mut().and_then(|frame| frame.image.take()) else {
                continue;
            };
            jobs.send(Job {
                set: sequence,
                slot: index,
                image,
            })
            .map_err(|_| workers_gone())?;
            outstanding += 1;
        }
        self.in_flight.push_back(InFlight {
            sequence,
            set,
            outstanding,
        });
        self.send_complete(out)
    }

    fn finish(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        while !self.in_flight.is_empty() {
            self.wait_for_oldest(out)?;
        }
        Ok(())
    }

    fn tick_interval(&self) -> Option<Duration> {
        (!self.in_flight.is_empty()).then_some(POLL_INTERVAL)
    }

    fn tick(&mut self, out: &mut Output<'_, FrameSet>) -> Result<(), PipelineError> {
        self.collect_ready(out)
    }
}

impl Drop for DetectStage {
    fn drop(&mut self) {
        // Closing the job queue ends each worker's loop; jobs not started
        // are dropped rather than detected (a stopped run wants no results).
        self.jobs = None;
        while self.pending_jobs.try_recv().is_ok() {}
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// Loads the detector workers (a missing model fails here, before any
/// thread starts), sharing the session's intra-op threads among them.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    let workers = config.detector_workers.get();
    let per_worker = SessionConfig {
        intra_threads: (config.session.intra_threads / workers).max(1),
        ..config.session.clone()
    };
    let (width, height) = context.detector_input;
    let blank = Mat::zeros(height as i32, width as i32, opencv::core::CV_8UC3)
        .and_then(|m| m.to_mat())
        .map_err(|e| PipelineError::stage("detect", e))?;
    let detectors = (0..workers)
        .map(|_| {
            let mut detector = Detector::shipped(&per_worker, config.detector.clone())?;
            // ONNX Runtime's first run allocates and plans: done here, before
            // the source starts, it does not delay the drive's first frames.
            detector.detect(&blank)?;
            Ok(detector)
        })
        .collect::<Result<Vec<_>, ModelError>>()
        .map_err(|e| PipelineError::stage("detect", e))?;
    Ok(Box::new(DetectStage::new(
        detectors,
        context.inference.clone(),
    )?))
}
