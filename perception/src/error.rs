use std::path::PathBuf;

use heptaview_runtime::{RuntimeError, StageError};

/// Errors that stop a run. Single bad frames are not errors: they are
/// counted drops.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("stage `{stage}` failed")]
    Stage {
        stage: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A stage panicked, or the stage after one stopped.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl PipelineError {
    pub fn stage(
        stage: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Stage {
            stage,
            source: Box::new(source),
        }
    }
}

impl StageError for PipelineError {
    fn is_downstream_gone(&self) -> bool {
        matches!(self, PipelineError::Runtime(e) if e.is_downstream_gone())
    }
}
