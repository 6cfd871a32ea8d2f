//! The runtime stops cleanly, and a stage that fails or panics stops the run
//! with that stage's error: never a hang, never a quiet success.

// Test helpers unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use heptaview_runtime::accounting::Ledger;
use heptaview_runtime::edge::{Backpressure, FrameCount, edge};
use heptaview_runtime::stage::{Output, Stage};
use heptaview_runtime::threads::{Control, join_all, spawn_stage};
use heptaview_runtime::{RuntimeError, StageError};

/// One numbered frame.
#[derive(Debug)]
struct Frame(u64);

impl FrameCount for Frame {
    fn frames(&self) -> u64 {
        1
    }
}

fn frame(t: u64) -> Frame {
    Frame(t)
}

/// A stage's own error type, as a real chain would have.
#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error("stage `{0}` failed")]
    Stage(&'static str, #[source] Broken),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

impl StageError for TestError {
    fn is_downstream_gone(&self) -> bool {
        matches!(self, TestError::Runtime(e) if e.is_downstream_gone())
    }
}

#[derive(Debug)]
struct Broken(u64);

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot handle frame {}", self.0)
    }
}

impl std::error::Error for Broken {}

/// Passes frames on; fails or panics at a given frame.
struct Faulty {
    name: &'static str,
    fail_at: Option<u64>,
    panic_at: Option<u64>,
}

impl Stage for Faulty {
    type In = Frame;
    type Out = Frame;
    type Error = TestError;

    fn name(&self) -> &'static str {
        self.name
    }

    fn process(&mut self, frame: Frame, out: &mut Output<'_, Frame>) -> Result<(), TestError> {
        if self.fail_at == Some(frame.0) {
            return Err(TestError::Stage(self.name, Broken(frame.0)));
        }
        if self.panic_at == Some(frame.0) {
            panic!("frame {} broke the stage", frame.0);
        }
        Ok(out.send(frame)?)
    }
}

/// Runs source → a → b → sink with 1000 frames and returns the run's result.
fn run_chain(a: Faulty, b: Faulty) -> (Result<usize, TestError>, Duration) {
    let started = Instant::now();
    let ledger = Arc::new(Ledger::default());
    let control = Arc::new(Control::default());
    let (source_tx, a_rx, _) =
        edge::<Frame>("source->a", 4, Backpressure::Lossless, ledger.clone());
    let (a_tx, b_rx, _) = edge::<Frame>("a->b", 4, Backpressure::Lossless, ledger.clone());
    let (b_tx, sink_rx, _) = edge::<Frame>("b->sink", 4, Backpressure::Lossless, ledger.clone());
    let handles = vec![
        spawn_stage(a, a_rx, a_tx, control.clone()).unwrap(),
        spawn_stage(b, b_rx, b_tx, control.clone()).unwrap(),
    ];
    let source_control = control.clone();
    let source = std::thread::spawn(move || {
        for t in 0..1000 {
            if source_control.aborted() || source_tx.send(frame(t)).is_err() {
                break;
            }
        }
    });
    let mut received = 0;
    while sink_rx.recv().is_ok() {
        received += 1;
    }
    source.join().unwrap();
    (join_all(handles).map(|_| received), started.elapsed())
}

fn ok(name: &'static str) -> Faulty {
    Faulty {
        name,
        fail_at: None,
        panic_at: None,
    }
}

#[test]
fn a_clean_run_delivers_everything_in_order() {
    let (result, _) = run_chain(ok("a"), ok("b"));
    assert_eq!(result.unwrap(), 1000);
}

#[test]
fn a_failing_stage_stops_the_run_with_its_error() {
    let (result, elapsed) = run_chain(
        ok("a"),
        Faulty {
            name: "b",
            fail_at: Some(300),
            panic_at: None,
        },
    );
    let error = result.unwrap_err();
    assert_eq!(error.to_string(), "stage `b` failed");
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "cannot handle frame 300"
    );
    assert!(elapsed < Duration::from_secs(10));
}

#[test]
fn a_panicking_stage_stops_the_run_with_its_message() {
    let (result, elapsed) = run_chain(
        Faulty {
            name: "a",
            fail_at: None,
            panic_at: Some(10),
        },
        ok("b"),
    );
    let error = result.unwrap_err();
    assert_eq!(
        error.to_string(),
        "stage `a` panicked: frame 10 broke the stage"
    );
    assert!(elapsed < Duration::from_secs(10));
}
