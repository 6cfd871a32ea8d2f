//! Compression before inference.
//!
//! Temporal: per camera, a frame becomes a key frame (goes to the detector)
//! when at least the minimum interval has passed since the camera's last key
//! frame and its grey thumbnail differs enough from that key frame's (for the
//! cameras covering the drive path: in any case), or when the maximum
//! interval has passed; an optional budget of detector calls per second of
//! stream time arbitrates: cameras past their maximum interval first, then
//! cameras covering the drive path, then by how much changed. Other frames
//! are `skipped_keyframe`: decoded only in grey at a reduced scale, on which
//! the propagate stage carries the last key frame's detections forward by
//! optical flow.
//!
//! Spatial: key frames are decoded straight to the smallest DCT scale (1, 1/2,
//! 1/4, 1/8) still at least as wide as the detector input, which the detector
//! then letterboxes; the source JPEG travels on for Rerun and the recorder.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use opencv::core::{Mat, Size, Vector};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;

use crate::config::{CompressConfig, KeyframeMode, PipelineConfig};
use crate::error::PipelineError;
use crate::path_cameras::path_priority;
use crate::stage_context::{CompressionCounters, SetStage, StageContext};
use crate::types::{FrameSet, SlotStatus};
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::stage::{Output, Stage};

const THUMB_WIDTH: i32 = 32;
const THUMB_HEIGHT: i32 = 24;
/// Frames are decoded in grey at the smallest DCT scale at least this wide,
/// for the thumbnail and for propagating detections by optical flow.
pub const MOTION_WIDTH: u32 = 320;
/// Sensor timestamps jitter: an interval counts as passed this much early.
const INTERVAL_SLACK_MS: f64 = 10.0;
/// Rank (see `path_cameras::path_priority`) from which a camera looks backwards.
const REAR_RANK: u8 = 3;

struct CameraState {
    thumbnail: Option<Vec<u8>>,
    last_key_ns: Option<u64>,
}

pub struct Compressor {
    config: CompressConfig,
    detector_input: (u32, u32),
    /// Priority rank per camera (0 = covers the drive path).
    priority: Vec<u8>,
    cameras: Vec<CameraState>,
    ledger: Arc<Ledger>,
    counters: Arc<CompressionCounters>,
    tokens: f64,
    last_reference_ns: Option<u64>,
}

/// A key-frame candidate of one set.
struct Candidate {
    slot: usize,
    rank: u8,
    overdue: bool,
    change: f64,
    thumbnail: Option<Vec<u8>>,
}

impl Compressor {
    pub fn new(
        config: CompressConfig,
        detector_input: (u32, u32),
        priority: Vec<u8>,
        ledger: Arc<Ledger>,
        counters: Arc<CompressionCounters>,
    ) -> Result<Self, PipelineError> {
        let cameras = priority
            .iter()
            .map(|_| CameraState {
                thumbnail: None,
                last_key_ns: None,
            })
            .collect();
        Ok(Self {
            tokens: priority.len() as f64,
            config,
            detector_input,
            priority,
            cameras,
            ledger,
            counters,
            last_reference_ns: None,
        })
    }

    /// Whether the camera of `rank` may have a key frame at `timestamp_ns`,
    /// and whether it must.
    fn interval_state(&self, camera: usize, rank: u8, timestamp_ns: u64) -> (bool, bool) {
        let Some(last) = self.cameras[camera].last_key_ns else {
            return (true, true);
        };
        let since_ms = timestamp_ns.saturating_sub(last) as f64 / 1e6 + INTERVAL_SLACK_MS;
        let min_interval = if rank >= REAR_RANK {
            self.config.min_interval_rear_ms
        } else {
            self.config.min_interval_ms
        };
        (
            since_ms >= min_interval.get(),
            since_ms >= self.config.max_interval_ms.get(),
        )
    }

    fn refill_budget(&mut self, reference_ns: u64) {
        if let (Some(budget), Some(previous)) =
            (self.config.budget_calls_per_s, self.last_reference_ns)
        {
            let seconds = reference_ns.saturating_sub(previous) as f64 / 1e9;
            // At most one second's worth saved up.
            self.tokens = (self.tokens + budget.get() * seconds)
                .min(budget.get().max(self.priority.len() as f64));
        }
        self.last_reference_ns = Some(reference_ns);
    }
}

/// A JPEG decoded in grey at the motion scale.
fn motion_grey(jpeg: &[u8], native_width: u32) -> Option<Mat> {
    let flag = reduced_grey_flag(native_width, MOTION_WIDTH);
    imgcodecs::imdecode(&Vector::<u8>::from_slice(jpeg), flag)
        .ok()
        .filter(|image| !image.empty())
}

/// The 32x24 thumbnail of a grey image.
fn thumbnail(grey: &Mat) -> Option<Vec<u8>> {
    let mut thumb = Mat::default();
    imgproc::resize(
        grey,
        &mut thumb,
        Size::new(THUMB_WIDTH, THUMB_HEIGHT),
        0.0,
        0.0,
        imgproc::INTER_AREA,
    )
    .ok()?;
    thumb.data_bytes().ok().map(<[u8]>::to_vec)
}

/// Mean absolute difference of two equal-sized grey thumbnails.
fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    let total: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.len().max(1) as f64
}

/// Width and height from a JPEG's start-of-frame marker.
pub fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < bytes.len() {
        if bytes[i] != 0xFF {
            i += 1;
            continue;
        }
        let marker = bytes[i + 1];
        let is_sof = (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC);
        if is_sof {
            let height = u32::from(bytes[i + 5]) << 8 | u32::from(bytes[i + 6]);
            let width = u32::from(bytes[i + 7]) << 8 | u32::from(bytes[i + 8]);
            return Some((width, height));
        }
        let length = usize::from(bytes[i + 2]) << 8 | usize::from(bytes[i + 3]);
        i += 2 + length;
    }
    None
}

/// The OpenCV flag decoding in grey at the smallest DCT scale at least `width` wide.
pub fn reduced_grey_flag(native_width: u32, width: u32) -> i32 {
    for (factor, flag) in [
        (8, imgcodecs::IMREAD_REDUCED_GRAYSCALE_8),
        (4, imgcodecs::IMREAD_REDUCED_GRAYSCALE_4),
        (2, imgcodecs::IMREAD_REDUCED_GRAYSCALE_2),
    ] {
        if native_width / factor >= width {
            return flag;
        }
    }
    imgcodecs::IMREAD_GRAYSCALE
}

/// The OpenCV flag decoding at the smallest DCT scale at least `width` wide.
pub fn reduced_decode_flag(native_width: u32, width: u32) -> i32 {
    for (factor, flag) in [
        (8, imgcodecs::IMREAD_REDUCED_COLOR_8),
        (4, imgcodecs::IMREAD_REDUCED_COLOR_4),
        (2, imgcodecs::IMREAD_REDUCED_COLOR_2),
    ] {
        if native_width / factor >= width {
            return flag;
        }
    }
    imgcodecs::IMREAD_COLOR
}

impl Stage for Compressor {
    type In = FrameSet;
    type Out = FrameSet;
    type Error = PipelineError;

    fn name(&self) -> &'static str {
        "compress"
    }

    fn process(
        &mut self,
        mut set: FrameSet,
        out: &mut Output<'_, FrameSet>,
    ) -> Result<(), PipelineError> {
        self.refill_budget(set.reference_ns);
        let (input_w, input_h) = self.detector_input;
        let mut candidates = Vec::new();
        for (index, slot) in set.slots.iter_mut().enumerate() {
            let Some(frame) = &mut slot.frame else {
                continue;
            };
            if slot.status != SlotStatus::Arrived {
                continue;
            }
            self.counters
                .bytes_jpeg
                .fetch_add(frame.jpeg.len() as u64, Ordering::Relaxed);
            let whole = heptaview_calibration::is_complete_jpeg(&frame.jpeg);
            let Some((width, height)) = jpeg_dimensions(&frame.jpeg).filter(|_| whole) else {
                slot.status = SlotStatus::Dropped(DropReason::DecodeError);
                self.ledger.dropped(DropReason::DecodeError, 1);
                continue;
            };
            frame.native_size = Some((width, height));
            self.counters
                .bytes_in
                .fetch_add(u64::from(width) * u64::from(height) * 3, Ordering::Relaxed);
            let camera = frame.camera.0;
            let rank = self.priority.get(camera).copied().unwrap_or(u8::MAX);
            if self.config.keyframes == KeyframeMode::Off {
                candidates.push(Candidate {
                    slot: index,
                    rank,
                    overdue: false,
                    change: f64::INFINITY,
                    thumbnail: None,
                });
                continue;
            }
            let Some(grey) = motion_grey(&frame.jpeg, width) else {
                slot.status = SlotStatus::Dropped(DropReason::DecodeError);
                self.ledger.dropped(DropReason::DecodeError, 1);
                continue;
            };
            let (may, overdue) = self.interval_state(camera, rank, frame.timestamp_ns);
            let thumbnail = if may { thumbnail(&grey) } else { None };
            frame.grey = Some(grey);
            let change = match (&self.cameras[camera].thumbnail, &thumbnail) {
                (Some(previous), Some(current)) => mean_abs_diff(previous, current),
                _ => f64::INFINITY,
            };
            // The cameras covering the drive path are detected at every
            // minimum interval, however little their image changed.
            let path = rank == 0;
            if may && (path || overdue || change >= self.config.change_threshold.get()) {
                let change = if overdue { f64::INFINITY } else { change };
                candidates.push(Candidate {
                    slot: index,
                    rank,
                    overdue,
                    change,
                    thumbnail,
                });
            } else {
                slot.status = SlotStatus::SkippedKeyframe;
                self.ledger.skipped_keyframe(1);
            }
        }

        // The budget decides among candidates: cameras past their maximum
        // interval (the interval is a promise, else the budget starves the
        // rear cameras), then drive-path cameras, then most changed.
        if self.config.budget_calls_per_s.is_some() {
            candidates.sort_by(|a, b| {
                b.overdue
                    .cmp(&a.overdue)
                    .then(a.rank.cmp(&b.rank))
                    .then(b.change.total_cmp(&a.change))
                    .then(a.slot.cmp(&b.slot))
            });
        }
        for candidate in candidates {
            let slot = &mut set.slots[candidate.slot];
            let Some(frame) = &mut slot.frame else {
                continue;
            };
            if self.config.budget_calls_per_s.is_some() {
                if self.tokens < 1.0 {
                    slot.status = SlotStatus::SkippedKeyframe;
                    self.ledger.skipped_keyframe(1);
                    continue;
                }
                self.tokens -= 1.0;
            }
            let native_width = frame.native_size.map_or(0, |(w, _)| w);
            let flag = reduced_decode_flag(native_width, input_w);
            let decoded = imgcodecs::imdecode(&Vector::<u8>::from_slice(&frame.jpeg), flag)
                .ok()
                .filter(|image| !image.empty());
            match decoded {
                Some(image) => {
                    frame.image = Some(image);
                    slot.status = SlotStatus::Key;
                    self.counters.bytes_to_detector.fetch_add(
                        u64::from(input_w) * u64::from(input_h) * 3,
                        Ordering::Relaxed,
                    );
                    let state = &mut self.cameras[frame.camera.0];
                    state.last_key_ns = Some(frame.timestamp_ns);
                    if let Some(thumbnail) = candidate.thumbnail {
                        state.thumbnail = Some(thumbnail);
                    }
                }
                None => {
                    slot.status = SlotStatus::Dropped(DropReason::DecodeError);
                    self.ledger.dropped(DropReason::DecodeError, 1);
                }
            }
        }
        Ok(out.send(set)?)
    }
}

/// Built from the run's context: decoding at the detector's input size,
/// cameras looking ahead served first by the budget.
pub fn build(context: &StageContext, config: &PipelineConfig) -> Result<SetStage, PipelineError> {
    let compress = CompressConfig {
        detector_width: context.detector_input.0,
        ..config.compress.clone()
    };
    Ok(Box::new(Compressor::new(
        compress,
        context.detector_input,
        path_priority(&context.rig),
        context.ledger.clone(),
        context.compression.clone(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduced_decoding_keeps_at_least_the_detector_width() {
        assert_eq!(
            reduced_decode_flag(2048, 416),
            imgcodecs::IMREAD_REDUCED_COLOR_4
        );
        assert_eq!(
            reduced_decode_flag(1550, 416),
            imgcodecs::IMREAD_REDUCED_COLOR_2
        );
        assert_eq!(reduced_decode_flag(640, 416), imgcodecs::IMREAD_COLOR);
        assert_eq!(
            reduced_decode_flag(4000, 416),
            imgcodecs::IMREAD_REDUCED_COLOR_8
        );
    }
}

#[cfg(test)]
mod selection_tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::types::{CameraId, Frame, Slot};
    use heptaview_models::units::Positive;
    use heptaview_runtime::edge::{Backpressure, edge};

    const MS: u64 = 1_000_000;

    fn photo(name: &str) -> Arc<Vec<u8>> {
        let path = format!(
            "{}/../tests/fixtures/images/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        Arc::new(std::fs::read(&path).unwrap())
    }

    fn set(reference_ns: u64, jpegs: &[Arc<Vec<u8>>]) -> FrameSet {
        FrameSet {
            index: 0,
            reference_ns,
            slots: jpegs
                .iter()
                .enumerate()
                .map(|(camera, jpeg)| Slot {
                    frame: Some(Frame {
                        camera: CameraId(camera),
                        timestamp_ns: reference_ns,
                        arrival: Instant::now(),
                        sequence: 0,
                        jpeg: jpeg.clone(),
                        image: None,
                        grey: None,
                        native_size: None,
                    }),
                    status: SlotStatus::Arrived,
                    detections: Vec::new(),
                })
                .collect(),
            first_arrival: Instant::now(),
            objects: Vec::new(),
            tracks: Vec::new(),
            decision: None,
            stage_entries: Vec::new(),
        }
    }

    struct Harness {
        compressor: Compressor,
        ledger: Arc<Ledger>,
        counters: Arc<CompressionCounters>,
        tx: heptaview_runtime::edge::EdgeSender<FrameSet>,
        rx: heptaview_runtime::edge::EdgeReceiver<FrameSet>,
    }

    impl Harness {
        fn new(config: CompressConfig, priority: Vec<u8>) -> Self {
            let ledger = Arc::new(Ledger::default());
            let counters = Arc::new(CompressionCounters::default());
            let (tx, rx, _) = edge(
                "compress->test",
                100,
                Backpressure::Lossless,
                ledger.clone(),
            );
            let compressor = Compressor::new(
                config,
                (416, 416),
                priority,
                ledger.clone(),
                counters.clone(),
            )
            .unwrap();
            Self {
                compressor,
                ledger,
                counters,
                tx,
                rx,
            }
        }

        fn statuses(&mut self, input: FrameSet) -> Vec<SlotStatus> {
            let mut out = Output::new(&self.tx);
            self.compressor.process(input, &mut out).unwrap();
            let done = self.rx.recv().unwrap();
            done.slots.iter().map(|s| s.status).collect()
        }
    }

    use SlotStatus::{Key, SkippedKeyframe};

    #[test]
    fn unchanged_frames_are_skipped_until_they_change_or_the_interval_passes() {
        let (bus, dog) = (photo("bus.jpg"), photo("darknet_dog.jpg"));
        // Two cameras looking half-left and sideways.
        let mut h = Harness::new(CompressConfig::default(), vec![1, 2]);
        assert_eq!(
            h.statuses(set(0, &[bus.clone(), bus.clone()])),
            [Key, Key],
            "first frames"
        );
        assert_eq!(
            h.statuses(set(100 * MS, &[bus.clone(), dog.clone()])),
            [SkippedKeyframe, Key]
        );
        assert_eq!(
            h.statuses(set(200 * MS, &[bus.clone(), dog.clone()])),
            [SkippedKeyframe, SkippedKeyframe]
        );
        assert_eq!(
            h.statuses(set(500 * MS, &[bus.clone(), dog.clone()])),
            [Key, SkippedKeyframe],
            "500 ms since camera 0's key"
        );
        let counts = h.ledger.counts();
        assert_eq!(counts.skipped_keyframe, 4);
        assert_eq!(
            h.counters.bytes_jpeg.load(Ordering::Relaxed),
            (5 * bus.len() + 3 * dog.len()) as u64
        );
    }

    #[test]
    fn minimum_intervals_hold_for_every_camera_and_the_path_camera_needs_no_change() {
        let bus = photo("bus.jpg");
        let photos = [bus.clone(), photo("darknet_dog.jpg"), photo("zidane.jpg")];
        // Camera 0 looks ahead, 1 sideways, 2 behind; frames come every 50 ms.
        let mut h = Harness::new(CompressConfig::default(), vec![0, 2, 3]);
        let alternating = |k: u64| photos[(k % 3) as usize].clone();
        let mut keys = [0; 3];
        for k in 0..8u64 {
            // Cameras 1 and 2 change completely every frame; camera 0 never.
            let statuses = h.statuses(set(
                k * 50 * MS,
                &[bus.clone(), alternating(k), alternating(k)],
            ));
            for (count, status) in keys.iter_mut().zip(statuses) {
                *count += usize::from(status == Key);
            }
        }
        // 400 ms: every 100 ms ahead and sideways, every 200 ms behind.
        assert_eq!(keys, [4, 4, 2]);
    }

    #[test]
    fn skipped_frames_carry_a_reduced_grey_image_for_propagation() {
        let bus = photo("bus.jpg");
        let mut h = Harness::new(CompressConfig::default(), vec![1]);
        let mut out = Output::new(&h.tx);
        h.compressor
            .process(set(0, std::slice::from_ref(&bus)), &mut out)
            .unwrap();
        h.compressor
            .process(set(50 * MS, std::slice::from_ref(&bus)), &mut out)
            .unwrap();
        let key = h.rx.recv().unwrap();
        let skipped = h.rx.recv().unwrap();
        assert_eq!(skipped.slots[0].status, SkippedKeyframe);
        for set in [&key, &skipped] {
            let grey = set.slots[0].frame.as_ref().unwrap().grey.as_ref().unwrap();
            // 810 px wide: half scale is the smallest at least 320 px wide.
            assert_eq!((grey.cols(), grey.rows(), grey.channels()), (405, 540, 1));
        }
    }

    #[test]
    fn key_frames_are_decoded_and_others_are_not() {
        let (bus, dog) = (photo("bus.jpg"), photo("darknet_dog.jpg"));
        let mut h = Harness::new(CompressConfig::default(), vec![1, 2]);
        let mut out = Output::new(&h.tx);
        h.compressor
            .process(set(0, &[bus.clone(), dog.clone()]), &mut out)
            .unwrap();
        h.compressor
            .process(set(100 * MS, &[bus.clone(), bus.clone()]), &mut out)
            .unwrap();
        let first = h.rx.recv().unwrap();
        let image = first.slots[0]
            .frame
            .as_ref()
            .unwrap()
            .image
            .as_ref()
            .unwrap();
        // 810 px wide: half scale would be narrower than the 416 px detector input.
        assert_eq!((image.cols(), image.rows()), (810, 1080));
        assert_eq!(
            first.slots[0].frame.as_ref().unwrap().native_size,
            Some((810, 1080))
        );
        let second = h.rx.recv().unwrap();
        assert_eq!(second.slots[0].status, SkippedKeyframe);
        assert!(second.slots[0].frame.as_ref().unwrap().image.is_none());
        assert_eq!(second.slots[1].status, Key);
    }

    #[test]
    fn keyframes_off_detects_every_frame() {
        let bus = photo("bus.jpg");
        let config = CompressConfig {
            keyframes: KeyframeMode::Off,
            ..CompressConfig::default()
        };
        let mut h = Harness::new(config, vec![0, 1, 2]);
        for k in 0..4 {
            assert_eq!(
                h.statuses(set(k * 100 * MS, &[bus.clone(), bus.clone(), bus.clone()])),
                [Key, Key, Key]
            );
        }
        assert_eq!(h.ledger.counts().skipped_keyframe, 0);
    }

    #[test]
    fn the_budget_goes_to_drive_path_cameras_first() {
        let (bus, dog) = (photo("bus.jpg"), photo("darknet_dog.jpg"));
        let config = CompressConfig {
            budget_calls_per_s: Some(Positive::of(1.0)),
            ..CompressConfig::default()
        };
        // Camera 1 looks ahead (rank 0), camera 2 half-left (1), camera 0 behind (3).
        let mut h = Harness::new(config, vec![3, 0, 1]);
        let frames = |k: u64| {
            if k.is_multiple_of(2) {
                [bus.clone(), bus.clone(), bus.clone()]
            } else {
                [dog.clone(), dog.clone(), dog.clone()]
            }
        };
        // Tokens start at one per camera: the first set is complete.
        assert_eq!(h.statuses(set(0, &frames(0))), [Key, Key, Key]);
        // Half a second later everything changed, but only half a call was earned.
        assert_eq!(
            h.statuses(set(500 * MS, &frames(1))),
            [SkippedKeyframe, SkippedKeyframe, SkippedKeyframe]
        );
        // One call earned: the camera looking ahead gets it.
        assert_eq!(
            h.statuses(set(1000 * MS, &frames(0))),
            [SkippedKeyframe, Key, SkippedKeyframe]
        );
        let counts = h.ledger.counts();
        assert_eq!((counts.skipped_keyframe, counts.dropped_total()), (5, 0));
    }

    #[test]
    fn under_the_budget_every_camera_still_gets_a_key_frame_each_max_interval() {
        let (bus, dog) = (photo("bus.jpg"), photo("darknet_dog.jpg"));
        // One call per 100 ms set: the camera looking ahead alone could use it all.
        let config = CompressConfig {
            budget_calls_per_s: Some(Positive::of(10.0)),
            ..CompressConfig::default()
        };
        // Camera 0 looks ahead (rank 0), camera 1 behind (3); both change every set.
        let mut h = Harness::new(config, vec![0, 3]);
        let frames = |k: u64| {
            if k.is_multiple_of(2) {
                [bus.clone(), bus.clone()]
            } else {
                [dog.clone(), dog.clone()]
            }
        };
        let statuses: Vec<_> = (0..11)
            .map(|k| h.statuses(set(k * 100 * MS, &frames(k))))
            .collect();
        assert_eq!(statuses[0], [Key, Key]);
        for k in [1, 2, 3, 4, 6, 7, 8, 9] {
            assert_eq!(statuses[k], [Key, SkippedKeyframe], "set {k}");
        }
        // Past max_interval_ms (500) the camera behind comes first.
        assert_eq!(statuses[5], [SkippedKeyframe, Key]);
        assert_eq!(statuses[10], [SkippedKeyframe, Key]);
    }

    #[test]
    fn an_undecodable_frame_is_dropped_as_decode_error() {
        let bus = photo("bus.jpg");
        let garbage = Arc::new(b"\xff\xd8 not really a jpeg \xff\xd9".to_vec());
        let mut truncated = (*bus).clone();
        truncated.truncate(bus.len() / 3);
        let mut h = Harness::new(CompressConfig::default(), vec![0, 0, 0]);
        let statuses = h.statuses(set(0, &[bus.clone(), garbage, Arc::new(truncated)]));
        let dropped = SlotStatus::Dropped(DropReason::DecodeError);
        assert_eq!(statuses, [Key, dropped, dropped]);
        assert_eq!(h.ledger.counts().dropped(DropReason::DecodeError), 2);
    }

    #[test]
    fn jpeg_dimensions_come_from_the_frame_header() {
        assert_eq!(jpeg_dimensions(&photo("zidane.jpg")), Some((1280, 720)));
        assert_eq!(jpeg_dimensions(b"\xff\xd8\xff\xd9"), None);
    }
}
