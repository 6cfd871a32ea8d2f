//! Live cameras as a frame source: one capture thread per camera reading
//! whatever OpenCV's `VideoCapture` opens (a V4L2 device, an RTSP or HTTP
//! MJPEG URL, a GStreamer pipeline, a video file played at its own rate).
//! Frames are stamped at arrival with a monotonic clock. A source that
//! delivers JPEG (an MJPEG stream or file) passes its original bytes through
//! untouched; any other is decoded and encoded to JPEG once. A camera that fails or stalls is marked down and reopened with
//! backoff until it returns; the run goes on without it meanwhile.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use heptaview_calibration::Rig;
use opencv::core::{Mat, Vector};
use opencv::prelude::*;
use opencv::videoio;

use crate::recorder::{RecordQueue, Recording};
use heptaview_perception::PipelineError;
use heptaview_perception::chain::Source;
use heptaview_perception::types::{CameraId, Frame};
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::EdgeSender;
use heptaview_runtime::threads::Control;

/// A rig camera and where its frames come from; `None`: declared absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCamera {
    pub name: String,
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LiveOptions {
    pub cameras: Vec<LiveCamera>,
    /// Stop after this long; `None`: until Ctrl-C.
    pub duration: Option<Duration>,
    /// No frame for this long: the camera is down.
    pub stall_timeout: Duration,
    pub jpeg_quality: i32,
    /// Write every frame that came in, as an AV2 log with this rig's
    /// calibration, into this folder (it must not exist yet).
    pub record: Option<(PathBuf, Rig)>,
}

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How one camera fared.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CameraStatus {
    pub frames: u64,
    pub down_events: u64,
    pub down: Duration,
    down_since: Option<Instant>,
    pub(crate) last_frame: Option<Instant>,
}

impl CameraStatus {
    pub(crate) fn mark_down(&mut self, now: Instant) {
        if self.down_since.is_none() {
            self.down_since = Some(now);
            self.down_events += 1;
        }
    }

    pub(crate) fn mark_up(&mut self, now: Instant) {
        if let Some(since) = self.down_since.take() {
            self.down += now.saturating_duration_since(since);
        }
    }

    pub fn is_down(&self) -> bool {
        self.down_since.is_some()
    }

    /// Down time until `now`, counting an outage still going on.
    pub fn down_until(&self, now: Instant) -> Duration {
        self.down
            + self
                .down_since
                .map_or(Duration::ZERO, |s| now.saturating_duration_since(s))
    }
}

/// Shared view of every camera's status, readable while and after the run.
#[derive(Debug, Clone, Default)]
pub struct Health(Arc<Mutex<Vec<CameraStatus>>>);

impl Health {
    pub(crate) fn new(cameras: usize) -> Self {
        Self(Arc::new(Mutex::new(vec![CameraStatus::default(); cameras])))
    }

    pub(crate) fn update(&self, camera: usize, change: impl FnOnce(&mut CameraStatus)) {
        let mut statuses = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(status) = statuses.get_mut(camera) {
            change(status);
        }
    }

    /// Marks down every camera without a frame for `stall_timeout` (since
    /// `started` for one that never delivered).
    pub(crate) fn mark_stalled(&self, now: Instant, started: Instant, stall_timeout: Duration) {
        let mut statuses = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for status in statuses.iter_mut() {
            let last = status.last_frame.unwrap_or(started);
            if now.saturating_duration_since(last) > stall_timeout {
                status.mark_down(now);
            }
        }
    }

    pub fn snapshot(&self) -> Vec<CameraStatus> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The live source for `run_pipeline`, and the health it keeps.
pub fn live_source(options: LiveOptions) -> (Source, Health) {
    let health = Health::new(options.cameras.len());
    let shared = health.clone();
    let source: Source =
        Box::new(move |out, control, ledger| run_cameras(&options, out, control, ledger, &shared));
    (source, health)
}

fn run_cameras(
    options: &LiveOptions,
    out: &EdgeSender<Frame>,
    control: &Control,
    ledger: &Ledger,
    health: &Health,
) -> Result<(), PipelineError> {
    let started = Instant::now();
    let epoch_ns = wall_clock_ns();
    let done = std::sync::atomic::AtomicBool::new(false);
    let names: Vec<String> = options.cameras.iter().map(|c| c.name.clone()).collect();
    std::thread::scope(|scope| {
        let (recording, record) = Recording::start(scope, options.record.as_ref(), names)?.unzip();
        let run = CameraRun {
            options,
            out,
            control,
            ledger,
            health,
            started,
            epoch_ns,
            done: &done,
        };
        let result = run.watch(scope, record);
        // Whatever ended the watch (time, Ctrl-C, an error), the captures end too.
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(recording) = recording {
            recording.finish()?;
        }
        result
    })
}

/// What the capture threads and their watchdog share.
struct CameraRun<'env> {
    options: &'env LiveOptions,
    out: &'env EdgeSender<Frame>,
    control: &'env Control,
    ledger: &'env Ledger,
    health: &'env Health,
    started: Instant,
    epoch_ns: u64,
    done: &'env std::sync::atomic::AtomicBool,
}

impl<'env> CameraRun<'env> {
    /// Starts the capture threads and watches them until the run ends.
    fn watch<'scope>(
        &self,
        scope: &'scope std::thread::Scope<'scope, 'env>,
        record: Option<RecordQueue>,
    ) -> Result<(), PipelineError> {
        let CameraRun {
            options,
            out,
            control,
            ledger,
            health,
            started,
            epoch_ns,
            done,
        } = *self;
        for (index, camera) in options.cameras.iter().enumerate() {
            let Some(source) = &camera.source else {
                // Declared absent: down from the start, for the whole run.
                health.update(index, |s| s.mark_down(started));
                continue;
            };
            let record = record.clone();
            std::thread::Builder::new()
                .name(format!("capture-{}", camera.name))
                .spawn_scoped(scope, move || {
                    let capture = Capture {
                        index,
                        source,
                        quality: options.jpeg_quality,
                        started,
                        epoch_ns,
                    };
                    capture.run(out, ledger, health, record.as_ref(), &|| {
                        done.load(std::sync::atomic::Ordering::Relaxed)
                    });
                })
                .map_err(|e| PipelineError::stage("source", e))?;
        }
        // Watchdog: a camera without frames for the stall timeout is down.
        loop {
            let now = Instant::now();
            if control.stop_requested()
                || control.aborted()
                || options.duration.is_some_and(|d| now - started >= d)
            {
                done.store(true, std::sync::atomic::Ordering::Relaxed);
                break;
            }
            health.mark_stalled(now, started, options.stall_timeout);
            std::thread::sleep(Duration::from_millis(20));
        }
        // The capture threads hold the other queues: the recorder ends after them.
        drop(record);
        Ok(())
    }
}

/// Now on the system clock, ns since 1970: live sensor time starts here, so
/// that cameras on several computers (camera nodes) share a time base.
pub(crate) fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

struct Capture<'a> {
    index: usize,
    source: &'a str,
    quality: i32,
    started: Instant,
    /// Sensor time at `started`, ns.
    epoch_ns: u64,
}

impl Capture<'_> {
    fn run(
        &self,
        out: &EdgeSender<Frame>,
        ledger: &Ledger,
        health: &Health,
        record: Option<&RecordQueue>,
        done: &dyn Fn() -> bool,
    ) {
        let mut backoff = FIRST_BACKOFF;
        let mut sequence = 0u64;
        while !done() {
            let Some((mut capture, delivery)) = self.open() else {
                health.update(self.index, |s| s.mark_down(Instant::now()));
                sleep_unless(done, backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            };
            backoff = FIRST_BACKOFF;
            // A file plays at its own frame rate (a device or stream paces itself).
            let period = std::fs::metadata(Path::new(self.source))
                .is_ok_and(|m| m.is_file())
                .then(|| capture.get(videoio::CAP_PROP_FPS).ok())
                .flatten()
                .filter(|fps| *fps > 0.0)
                .map(|fps| Duration::from_secs_f64(1.0 / fps));
            let mut next_due = Instant::now();
            let mut image = Mat::default();
            while !done() {
                if !matches!(capture.read(&mut image), Ok(true)) || image.empty() {
                    // Ended, failed or disconnected: reopen (a file starts over).
                    health.update(self.index, |s| s.mark_down(Instant::now()));
                    break;
                }
                let arrival = Instant::now();
                ledger.input(1);
                let Some(jpeg) = self.jpeg_of(&image, delivery) else {
                    ledger.dropped(DropReason::DecodeError, 1);
                    continue;
                };
                health.update(self.index, |s| {
                    s.mark_up(arrival);
                    s.frames += 1;
                    s.last_frame = Some(arrival);
                });
                let timestamp_ns = self.epoch_ns + (arrival - self.started).as_nanos() as u64;
                let jpeg = Arc::new(jpeg);
                if let Some(record) = record {
                    record.offer((self.index, timestamp_ns, jpeg.clone()), ledger);
                }
                let frame = Frame {
                    camera: CameraId(self.index),
                    timestamp_ns,
                    arrival,
                    sequence,
                    jpeg,
                    image: None,
                    grey: None,
                    native_size: None,
                };
                sequence += 1;
                if out.send(frame).is_err() {
                    ledger.dropped(DropReason::Shutdown, 1);
                    return;
                }
                if let Some(period) = period {
                    next_due += period;
                    if let Some(wait) = next_due.checked_duration_since(Instant::now()) {
                        sleep_unless(done, wait);
                    } else {
                        next_due = Instant::now();
                    }
                }
            }
        }
    }

    /// The JPEG bytes of what `read` gave: the packet itself when passing
    /// through, else the decoded image encoded once; `None` when unusable.
    fn jpeg_of(&self, image: &Mat, delivery: Delivery) -> Option<Vec<u8>> {
        match delivery {
            Delivery::Jpeg => {
                let bytes = image.data_bytes().ok()?;
                is_jpeg(bytes).then(|| bytes.to_vec())
            }
            Delivery::Decoded => {
                let mut jpeg = Vector::<u8>::new();
                let params =
                    Vector::from_slice(&[opencv::imgcodecs::IMWRITE_JPEG_QUALITY, self.quality]);
                matches!(
                    opencv::imgcodecs::imencode(".jpg", image, &mut jpeg, &params),
                    Ok(true)
                )
                .then(|| jpeg.to_vec())
            }
        }
    }

    /// Opens the source. A stream or file whose packets are JPEG images
    /// (MJPEG) is read undecoded, so that its original bytes pass through;
    /// anything else is decoded. Network streams get open and read timeouts,
    /// so that a dead camera cannot hold its thread.
    fn open(&self) -> Option<(videoio::VideoCapture, Delivery)> {
        let network = self.source.contains("://");
        let file = std::fs::metadata(Path::new(self.source)).is_ok_and(|m| m.is_file());
        if (network || file)
            && let Some(mut capture) = self.open_with(videoio::CAP_FFMPEG)
            && capture.set(videoio::CAP_PROP_FORMAT, -1.0).unwrap_or(false)
        {
            let mut packet = Mat::default();
            let first_is_jpeg = matches!(capture.read(&mut packet), Ok(true))
                && packet.data_bytes().is_ok_and(is_jpeg);
            if first_is_jpeg {
                // The probe packet is not counted as input: frames start
                // with the next one.
                return Some((capture, Delivery::Jpeg));
            }
        }
        let backend = if network {
            videoio::CAP_FFMPEG
        } else {
            videoio::CAP_ANY
        };
        self.open_with(backend)
            .map(|capture| (capture, Delivery::Decoded))
    }

    fn open_with(&self, backend: i32) -> Option<videoio::VideoCapture> {
        let capture = if backend == videoio::CAP_FFMPEG {
            let params = Vector::from_slice(&[
                videoio::CAP_PROP_OPEN_TIMEOUT_MSEC,
                3000,
                videoio::CAP_PROP_READ_TIMEOUT_MSEC,
                2000,
            ]);
            videoio::VideoCapture::from_file_with_params(self.source, backend, &params)
        } else {
            videoio::VideoCapture::from_file(self.source, backend)
        };
        capture.ok().filter(|c| c.is_opened().unwrap_or(false))
    }
}

/// How a capture delivers frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Undecoded packets that are JPEG images: passed through as they came.
    Jpeg,
    /// Decoded images: encoded to JPEG once.
    Decoded,
}

/// A whole JPEG image: start-of-image marker first, end-of-image marker last
/// (streams may pad after it).
fn is_jpeg(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8])
        && bytes
            .windows(2)
            .rev()
            .take(64)
            .any(|pair| pair == [0xFF, 0xD9])
}

fn sleep_unless(done: &dyn Fn() -> bool, total: Duration) {
    let until = Instant::now() + total;
    while !done() {
        let Some(left) = until.checked_duration_since(Instant::now()) else {
            return;
        };
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}
