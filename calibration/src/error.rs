use std::path::PathBuf;

/// What is wrong with one camera's calibration. The rig wraps it with the camera's name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CameraError {
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("`{field}` is not a finite number ({value})")]
    NonFinite { field: &'static str, value: f64 },
    #[error("focal length `{field}` must be positive, got {value}")]
    NonPositiveFocalLength { field: &'static str, value: f64 },
    #[error("image size {width_px}x{height_px} has a zero side")]
    EmptyImage { width_px: u32, height_px: u32 },
    #[error("principal point ({cx_px}, {cy_px}) lies outside the {width_px}x{height_px} image")]
    PrincipalPointOutsideImage {
        cx_px: f64,
        cy_px: f64,
        width_px: u32,
        height_px: u32,
    },
    #[error(
        "rotation quaternion (qw, qx, qy, qz) has norm {norm}, expected 1 within {tolerance:e}"
    )]
    QuaternionNotUnit { norm: f64, tolerance: f64 },
    #[error(
        "unknown distortion model `{model}` (with {coefficients} coefficients): expected plumb_bob, rational_polynomial or equidistant"
    )]
    UnknownLensModel { model: String, coefficients: usize },
    #[error(
        "distortion model `{model}` takes {expected} coefficients (or none), got {coefficients}"
    )]
    LensCoefficientCount {
        model: String,
        expected: usize,
        coefficients: usize,
    },
    #[error("`{field}` is not a coefficient of the {lens} lens model ({allowed})")]
    CoefficientNotInLens {
        field: &'static str,
        lens: &'static str,
        allowed: &'static str,
    },
    #[error(
        "the {model} lens has {terms}, which a radial k1 k2 k3 polynomial (as in Argoverse 2's intrinsics) cannot hold"
    )]
    LensNotRadialPolynomial { model: &'static str, terms: String },
}

/// Errors of the calibration crate. `Display` says only this level's context; the
/// cause is the `source()` chain (print it with `{:#}` in anyhow).
#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("camera `{camera}`")]
    Camera {
        camera: String,
        #[source]
        source: CameraError,
    },
    #[error("the rig has two cameras named `{0}`")]
    DuplicateCamera(String),
    #[error("the rig has no cameras")]
    EmptyRig,
    #[error("the rig has no camera named `{camera}` (it has: {available})")]
    UnknownCamera { camera: String, available: String },
    #[error("a camera entry (number {index}, counting from 1) has no `name`")]
    UnnamedCamera { index: usize },
    #[error("not a valid rig file: {0}")]
    Toml(String),
    #[error("trigger timing")]
    Timing(#[from] TimingError),
    #[error("the trigger timing has {offsets} camera offsets for a rig of {cameras} cameras")]
    TimingCameras { offsets: usize, cameras: usize },
    #[error("cannot scale the rig to width {width_px}: {reason}")]
    InvalidScale { width_px: u32, reason: &'static str },
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
    #[error("rig file {}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<CalibrationError>,
    },
}

impl CalibrationError {
    pub(crate) fn camera(camera: &str, source: CameraError) -> Self {
        Self::Camera {
            camera: camera.to_owned(),
            source,
        }
    }

    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        Self::InFile {
            path: path.to_path_buf(),
            source: Box::new(self),
        }
    }
}

/// Why a rig's trigger timing cannot be declared or measured as given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimingError {
    #[error("the trigger period must be a positive number of milliseconds")]
    NonPositivePeriod,
    #[error("a trigger offset is not a finite number ({0})")]
    NonFiniteOffset(f64),
    #[error("no cameras to time")]
    NoCameras,
    #[error(
        "the cameras' trigger offsets spread over {} ms, not within one {} ms cycle",
        *spread_ns as f64 / 1e6,
        *period_ns as f64 / 1e6
    )]
    SpreadNotWithinPeriod { spread_ns: u64, period_ns: u64 },
    #[error("no camera has the {needed} frames needed to measure its rate")]
    TooFewFrames { needed: usize },
    #[error(
        "camera {camera} delivers a frame every {interval_ms:.1} ms but the rig every {period_ms:.1} ms: the cameras are not triggered in one cycle"
    )]
    DifferentRates {
        camera: usize,
        interval_ms: f64,
        period_ms: f64,
    },
    #[error(
        "{declared} of the rig's {cameras} cameras declare `trigger_offset_ms`: declare it for all or none, with the rig's `trigger_period_ms`"
    )]
    PartlyDeclared { declared: usize, cameras: usize },
}
