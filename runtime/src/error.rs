/// Failures of the runtime itself: a stage that panicked, a stage whose
/// next stage has stopped, a thread that could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("stage `{stage}` panicked: {message}")]
    Panicked {
        stage: &'static str,
        message: String,
    },
    #[error("the stage after edge `{0}` stopped")]
    DownstreamGone(String),
    #[error("cannot start the thread of stage `{stage}`")]
    Spawn {
        stage: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What a stage's errors must offer the runtime: room for the runtime's own
/// failures, and whether an error is only the echo of another stage's
/// stopping (so that the first real failure is the one reported).
pub trait StageError: std::error::Error + Send + Sync + From<RuntimeError> + 'static {
    fn is_downstream_gone(&self) -> bool;
}

impl StageError for RuntimeError {
    fn is_downstream_gone(&self) -> bool {
        matches!(self, RuntimeError::DownstreamGone(_))
    }
}
