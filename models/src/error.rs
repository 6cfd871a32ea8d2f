use std::path::PathBuf;

/// Errors of the models crate.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "ONNX Runtime {expected} was not found; looked in: {looked_in}. Run scripts/setup.sh \
         (it installs the library into .deps/onnxruntime/) or set ORT_DYLIB_PATH to a \
         libonnxruntime.so of version {expected}"
    )]
    RuntimeNotFound {
        expected: &'static str,
        looked_in: String,
    },
    #[error(
        "cannot load ONNX Runtime from {}: {reason}. heptaview needs ONNX Runtime {expected}; \
         run scripts/setup.sh or point ORT_DYLIB_PATH at a library of that version",
        path.display()
    )]
    RuntimeUnusable {
        path: PathBuf,
        reason: String,
        expected: &'static str,
    },
    #[error("ONNX Runtime: {0}")]
    Ort(#[from] ort::Error),
}
