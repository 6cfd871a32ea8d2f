use std::path::PathBuf;

/// Errors of the models crate; each names the file or the model concerned.
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
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("model manifest {}: {message}", path.display())]
    Manifest { path: PathBuf, message: String },
    #[error("model file {} is missing (named by {})", path.display(), manifest.display())]
    ModelFileMissing { path: PathBuf, manifest: PathBuf },
    #[error("{} has sha256 {found}, but its manifest says {expected}: the file is not the model the manifest describes", path.display())]
    Sha256Mismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{}: {what} is {found}, but the manifest declares {declared}", path.display())]
    GraphMismatch {
        path: PathBuf,
        what: String,
        declared: String,
        found: String,
    },
    #[error("{}: {message}", path.display())]
    BadOutput { path: PathBuf, message: String },
    #[error("image: {0}")]
    Image(String),
    #[error("ONNX Runtime failed on {}", path.display())]
    Session {
        path: PathBuf,
        #[source]
        source: ort::Error,
    },
    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),
}
