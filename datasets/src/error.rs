use std::path::PathBuf;

use heptaview_calibration::CalibrationError;

/// Errors that stop reading or writing a log. Each names the file and the problem.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a readable feather (Arrow IPC) file: {message}", path.display())]
    Feather { path: PathBuf, message: String },
    #[error("{} has no column `{column}`", path.display())]
    MissingColumn { path: PathBuf, column: &'static str },
    #[error("{}: column `{column}` is {found}, expected {expected}", path.display())]
    ColumnType {
        path: PathBuf,
        column: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("{}: row {row}: {message}", path.display())]
    BadValue {
        path: PathBuf,
        row: usize,
        message: String,
    },
    #[error("{}: timestamps are not in increasing order (row {row}: {timestamp_ns} after {previous_ns})", path.display())]
    UnsortedTimestamps {
        path: PathBuf,
        row: usize,
        previous_ns: i64,
        timestamp_ns: i64,
    },
    #[error("{}: `{name}` is not a `<timestamp_ns>.jpg` image name", path.display())]
    BadImageName { path: PathBuf, name: String },
    #[error("{} has no camera folders (expected sensors/cameras/<camera>/)", path.display())]
    NoCameras { path: PathBuf },
    #[error("{}: camera folder `{camera}` is missing", path.display())]
    MissingCamera { path: PathBuf, camera: String },
    #[error("{}: no calibration for camera `{camera}`", path.display())]
    CalibrationMissingCamera { path: PathBuf, camera: String },
    #[error("{}: invalid calibration", path.display())]
    Calibration {
        path: PathBuf,
        #[source]
        source: CalibrationError,
    },
    #[error("{}: {message}", path.display())]
    Image { path: PathBuf, message: String },
    #[error("{}", message)]
    Scenario { message: String },
    #[error("OpenCV: {0}")]
    OpenCv(#[from] opencv::Error),
    /// A log layout's own problem (a nuScenes table, an MCAP bag), named by
    /// file and, where it helps, table, row, topic or record.
    #[error("{}: {message}", path.display())]
    Layout { path: PathBuf, message: String },
    #[error("{} is not valid JSON", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Why one frame could not be read: the pipeline counts it as a drop and goes on.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a decodable JPEG", path.display())]
    Decode { path: PathBuf },
    #[error("{}: no frame of camera `{camera}` at {timestamp_ns} ns", path.display())]
    NoSuchFrame {
        path: PathBuf,
        camera: String,
        timestamp_ns: u64,
    },
    #[error("{}: decoding failed", path.display())]
    OpenCv {
        path: PathBuf,
        #[source]
        source: opencv::Error,
    },
}
