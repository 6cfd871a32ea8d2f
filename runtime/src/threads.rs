//! Runs each stage on its own thread, wired by edges; stops cleanly at end
//! of input, on request (Ctrl-C), or when a stage fails or panics, and then
//! reports that failure instead of hanging or exiting quietly.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::edge::{EdgeReceiver, EdgeSender, FrameCount};
use crate::error::{RuntimeError, StageError};
use crate::metrics::LatencyHistogram;
use crate::stage::{Output, Stage};

/// Run-wide switches every thread watches.
#[derive(Debug, Default)]
pub struct Control {
    /// Stop reading input; let what is in flight drain (Ctrl-C).
    stop: AtomicBool,
    /// Something failed: every stage stops at once.
    abort: AtomicBool,
}

impl Control {
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn abort(&self) {
        self.abort.store(true, Ordering::SeqCst);
    }

    pub fn aborted(&self) -> bool {
        self.abort.load(Ordering::SeqCst)
    }
}

/// What a stage thread hands back.
#[derive(Debug)]
pub struct StageRun {
    pub name: &'static str,
    pub processing: LatencyHistogram,
    pub inputs: u64,
}

pub struct StageHandle<E> {
    name: &'static str,
    join: JoinHandle<Result<StageRun, E>>,
}

/// Sets `abort` if the thread unwinds from a panic, so nobody waits on it.
struct AbortOnPanic(Arc<Control>);

impl Drop for AbortOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.abort();
        }
    }
}

pub fn spawn_stage<S>(
    mut stage: S,
    input: EdgeReceiver<S::In>,
    output: EdgeSender<S::Out>,
    control: Arc<Control>,
) -> Result<StageHandle<S::Error>, S::Error>
where
    S: Stage + 'static,
    S::In: 'static,
    S::Out: 'static,
{
    let name = stage.name();
    let join = std::thread::Builder::new()
        .name(format!("stage-{name}"))
        .spawn(move || {
            let _guard = AbortOnPanic(control.clone());
            let result = run_stage(&mut stage, &input, &output, &control);
            if result.is_err() {
                control.abort();
            }
            result
        })
        .map_err(|source| RuntimeError::Spawn {
            stage: name,
            source,
        })?;
    Ok(StageHandle { name, join })
}

fn run_stage<S: Stage>(
    stage: &mut S,
    input: &EdgeReceiver<S::In>,
    output: &EdgeSender<S::Out>,
    control: &Control,
) -> Result<StageRun, S::Error> {
    let mut out = Output::new(output);
    let mut run = StageRun {
        name: stage.name(),
        processing: LatencyHistogram::default(),
        inputs: 0,
    };
    stage.start()?;
    loop {
        if control.aborted() {
            return Ok(run);
        }
        let item = match stage.tick_interval() {
            Some(interval) => match input.recv_timeout(interval) {
                Ok(Some(item)) => item,
                Ok(None) => {
                    stage.tick(&mut out)?;
                    continue;
                }
                Err(_) => break,
            },
            None => match input.recv() {
                Ok(item) => item,
                Err(_) => break,
            },
        };
        let mut item = item;
        let started = Instant::now();
        item.entered_stage(run.name, started);
        out.take_sending_time();
        stage.process(item, &mut out)?;
        run.processing
            .record(started.elapsed().saturating_sub(out.take_sending_time()));
        run.inputs += 1;
    }
    if !control.aborted() {
        stage.finish(&mut out)?;
    }
    Ok(run)
}

impl<E: StageError> StageHandle<E> {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Waits for the stage; a panic becomes an error naming the stage.
    pub fn join(self) -> Result<StageRun, E> {
        let name = self.name;
        self.join.join().unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(RuntimeError::Panicked {
                stage: name,
                message,
            }
            .into())
        })
    }
}

/// Joins every stage in order; the first real failure wins over the
/// `DownstreamGone` errors it causes in its neighbours.
pub fn join_all<E: StageError>(handles: Vec<StageHandle<E>>) -> Result<Vec<StageRun>, E> {
    let mut runs = Vec::new();
    let mut first_error: Option<E> = None;
    for handle in handles {
        match handle.join() {
            Ok(run) => runs.push(run),
            Err(error) => {
                let replace = match &first_error {
                    None => true,
                    Some(first) => first.is_downstream_gone() && !error.is_downstream_gone(),
                };
                if replace {
                    first_error = Some(error);
                }
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(runs),
    }
}
