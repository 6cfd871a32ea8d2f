//! The stage contract: built from its configuration section, then fed one
//! input at a time; it emits zero or more outputs; `finish` flushes what it
//! still holds at end of input; `tick` lets a stage act on time passing
//! (wall-clock deadlines in live mode).

use std::time::{Duration, Instant};

use crate::edge::{EdgeSender, FrameCount};
use crate::error::{RuntimeError, StageError};

/// Where a stage puts its outputs.
pub struct Output<'a, T: FrameCount> {
    sender: &'a EdgeSender<T>,
    /// Time spent inside `send` (waiting for room downstream), so that the
    /// stage's own processing time can be told apart from backpressure.
    sending: Duration,
}

impl<'a, T: FrameCount> Output<'a, T> {
    /// Outputs into `sender`; the runtime makes one per stage, tests and
    /// benchmarks that drive a stage directly make their own.
    pub fn new(sender: &'a EdgeSender<T>) -> Self {
        Self {
            sender,
            sending: Duration::ZERO,
        }
    }

    /// Passes an item downstream. Fails when the downstream stage has stopped.
    pub fn send(&mut self, item: T) -> Result<(), RuntimeError> {
        let started = Instant::now();
        let sent = self.sender.send(item);
        self.sending += started.elapsed();
        sent.map_err(|_| RuntimeError::DownstreamGone(self.sender.name().to_owned()))
    }

    pub(crate) fn take_sending_time(&mut self) -> Duration {
        std::mem::take(&mut self.sending)
    }
}

pub trait Stage: Send {
    type In: FrameCount + Send;
    type Out: FrameCount + Send;
    type Error: StageError;

    fn name(&self) -> &'static str;

    /// Called once on the stage's thread before the first input.
    fn start(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }

    fn process(
        &mut self,
        input: Self::In,
        out: &mut Output<'_, Self::Out>,
    ) -> Result<(), Self::Error>;

    /// End of input: emit anything held back.
    fn finish(&mut self, _out: &mut Output<'_, Self::Out>) -> Result<(), Self::Error> {
        Ok(())
    }

    /// How often `tick` wants to run while no input comes; `None`: never.
    fn tick_interval(&self) -> Option<Duration> {
        None
    }

    fn tick(&mut self, _out: &mut Output<'_, Self::Out>) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A boxed stage is a stage: chains of stages of one item type are built
/// from a list.
impl<S: Stage + ?Sized> Stage for Box<S> {
    type In = S::In;
    type Out = S::Out;
    type Error = S::Error;

    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn start(&mut self) -> Result<(), Self::Error> {
        (**self).start()
    }

    fn process(
        &mut self,
        input: Self::In,
        out: &mut Output<'_, Self::Out>,
    ) -> Result<(), Self::Error> {
        (**self).process(input, out)
    }

    fn finish(&mut self, out: &mut Output<'_, Self::Out>) -> Result<(), Self::Error> {
        (**self).finish(out)
    }

    fn tick_interval(&self) -> Option<Duration> {
        (**self).tick_interval()
    }

    fn tick(&mut self, out: &mut Output<'_, Self::Out>) -> Result<(), Self::Error> {
        (**self).tick(out)
    }
}
