//! The per-frame hot paths outside the models (those are `benches/models.rs`):
//! JPEG decoding at the scales the pipeline uses, the synchroniser, ground
//! projection, the tracker update, propagation of detections by optical
//! flow, and one frame set logged to Rerun. Inputs are real: fixture photos
//! scaled to AV2's 2048x1550 (JPEG quality 90) and the AV2 ring rig.
//!
//!     cargo bench --bench hot_paths

// A benchmark that cannot build its inputs has nothing to measure: fail loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use heptaview_calibration::argoverse2_rig;
use heptaview_io::sinks::rerun::{RerunSink, RerunTarget};
use heptaview_models::detector::Detection as ModelDetection;
use heptaview_perception::chain::Progress;
use heptaview_perception::config::PlannerConfig;
use heptaview_perception::config::RerunConfig;
use heptaview_perception::config::SyncConfig;
use heptaview_perception::config::TrackerConfig;
use heptaview_perception::fusion::CameraView;
use heptaview_perception::fusion::FusedObject;
use heptaview_perception::fusion::Tracker;
use heptaview_perception::fusion::observe;
use heptaview_perception::stages::compress::{
    MOTION_WIDTH, reduced_decode_flag, reduced_grey_flag,
};
use heptaview_perception::stages::propagate::Propagator;
use heptaview_perception::stages::sync::Synchroniser;
use heptaview_perception::types::CameraId;
use heptaview_perception::types::Detection;
use heptaview_perception::types::Frame;
use heptaview_perception::types::FrameSet;
use heptaview_perception::types::Slot;
use heptaview_perception::types::SlotStatus;
use heptaview_runtime::accounting::Ledger;
use heptaview_runtime::edge::Backpressure;
use heptaview_runtime::edge::edge;
use heptaview_runtime::stage::Output;
use heptaview_runtime::stage::Stage;
use nalgebra::{Isometry3, Point2};
use opencv::core::{Mat, Size, Vector};
use opencv::imgcodecs;
use opencv::prelude::*;

const AV2_SIZE: (i32, i32) = (2048, 1550);
const DETECTOR_WIDTH: u32 = 416;

/// A fixture photo at AV2's camera size, as a quality-90 JPEG.
fn av2_jpeg() -> Arc<Vec<u8>> {
    let path = format!(
        "{}/tests/fixtures/images/zidane.jpg",
        env!("CARGO_MANIFEST_DIR")
    );
    let photo = imgcodecs::imread(&path, imgcodecs::IMREAD_COLOR).unwrap();
    let mut scaled = Mat::default();
    opencv::imgproc::resize(
        &photo,
        &mut scaled,
        Size::new(AV2_SIZE.0, AV2_SIZE.1),
        0.0,
        0.0,
        opencv::imgproc::INTER_LINEAR,
    )
    .unwrap();
    let mut jpeg = Vector::<u8>::new();
    let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 90]);
    imgcodecs::imencode(".jpg", &scaled, &mut jpeg, &params).unwrap();
    Arc::new(jpeg.to_vec())
}

fn decode(jpeg: &[u8], flag: i32) -> Mat {
    imgcodecs::imdecode(&Vector::<u8>::from_slice(jpeg), flag).unwrap()
}

fn frame(camera: usize, timestamp_ns: u64, jpeg: &Arc<Vec<u8>>) -> Frame {
    Frame {
        camera: CameraId(camera),
        timestamp_ns,
        arrival: Instant::now(),
        sequence: timestamp_ns / 50_000_000,
        jpeg: jpeg.clone(),
        image: None,
        grey: None,
        native_size: Some((AV2_SIZE.0 as u32, AV2_SIZE.1 as u32)),
    }
}

fn detection(camera: usize, bbox: [f32; 4]) -> Detection {
    Detection {
        camera: CameraId(camera),
        detection: ModelDetection {
            class_id: 2,
            class: "car".to_owned(),
            score: 0.8,
            bbox,
        },
        attributes: Default::default(),
        track_id: None,
        propagated: false,
    }
}

/// Five boxes spread over a 2048x1550 image, on the ground below the horizon.
fn boxes() -> Vec<[f32; 4]> {
    (0..5)
        .map(|i| {
            let x = 150.0 + 350.0 * i as f32;
            [x, 700.0, x + 260.0, 980.0]
        })
        .collect()
}

fn jpeg_decoding(c: &mut Criterion) {
    let jpeg = av2_jpeg();
    let native = AV2_SIZE.0 as u32;
    let mut group = c.benchmark_group("jpeg_decode_2048x1550");
    group.bench_function("full_colour", |b| {
        b.iter(|| decode(black_box(&jpeg), imgcodecs::IMREAD_COLOR))
    });
    group.bench_function("detector_scale_colour", |b| {
        let flag = reduced_decode_flag(native, DETECTOR_WIDTH);
        b.iter(|| decode(black_box(&jpeg), flag))
    });
    group.bench_function("motion_scale_grey", |b| {
        let flag = reduced_grey_flag(native, MOTION_WIDTH);
        b.iter(|| decode(black_box(&jpeg), flag))
    });
    group.finish();
}

fn synchroniser(c: &mut Criterion) {
    let jpeg = av2_jpeg();
    let ledger = Arc::new(Ledger::default());
    let (tx, rx, _) = edge::<FrameSet>("sync->bench", 1024, Backpressure::Lossless, ledger.clone());
    // The AV2 rig's declared trigger timing: cameras 2.1 to 39.6 ms apart.
    let timing = heptaview_calibration::argoverse2_rig()
        .unwrap()
        .timing()
        .cloned()
        .unwrap();
    let offsets: Vec<i64> = timing.offsets_ns().to_vec();
    let mut sync = Synchroniser::new(SyncConfig::default(), 7, Some(timing), ledger).unwrap();
    let mut set_index = 0u64;
    c.bench_function("sync_one_frame_set_of_7", |b| {
        b.iter(|| {
            let mut out = Output::new(&tx);
            let t = 1_000_000_000 + set_index * 50_000_000;
            let mut order: Vec<usize> = (0..7).collect();
            order.sort_by_key(|&camera| offsets[camera]);
            for camera in order {
                let frame = frame(camera, t.saturating_add_signed(offsets[camera]), &jpeg);
                sync.process(frame, &mut out).unwrap();
            }
            set_index += 1;
            while let Ok(Some(set)) = rx.recv_timeout(std::time::Duration::ZERO) {
                black_box(set);
            }
        })
    });
}

fn ground_projection(c: &mut Criterion) {
    let rig = argoverse2_rig().unwrap();
    let camera = &rig.cameras()[0];
    let detections: Vec<Detection> = boxes().into_iter().map(|b| detection(0, b)).collect();
    c.bench_function("ground_projection_5_boxes", |b| {
        b.iter(|| {
            for d in &detections {
                black_box(observe(CameraId(0), camera, black_box(d)));
            }
        })
    });
}

fn tracker_update(c: &mut Criterion) {
    // Twenty objects moving ahead and around the car.
    let objects = |t: f64| -> Vec<FusedObject> {
        (0..20)
            .map(|i| FusedObject {
                class: if i % 4 == 0 { "person" } else { "car" }.to_owned(),
                subtype: None,
                score: 0.8,
                position: Point2::new(
                    -40.0 + 4.0 * i as f64 + 5.0 * t,
                    if i % 2 == 0 { 3.5 } else { -3.5 },
                ),
                sigma_m: 0.5,
                cameras: vec![CameraId(i % 7)],
                partial: false,
                detections: Vec::new(),
            })
            .collect()
    };
    let mut tracker = Tracker::new(TrackerConfig::default());
    let identity = Isometry3::identity();
    let mut k = 0u64;
    c.bench_function("tracker_step_20_objects", |b| {
        b.iter(|| {
            let t_ns = k * 50_000_000;
            let tracks = tracker.step(t_ns, &identity, &objects(t_ns as f64 / 1e9), &|_| {
                CameraView::Detected
            });
            k += 1;
            black_box(tracks)
        })
    });
}

fn one_camera_set(slot: Slot) -> FrameSet {
    FrameSet {
        index: 0,
        reference_ns: 0,
        slots: vec![slot],
        first_arrival: Instant::now(),
        objects: Vec::new(),
        tracks: Vec::new(),
        decision: None,
        stage_entries: Vec::new(),
    }
}

fn propagation(c: &mut Criterion) {
    let jpeg = av2_jpeg();
    let grey_flag = reduced_grey_flag(AV2_SIZE.0 as u32, MOTION_WIDTH);
    let grey = decode(&jpeg, grey_flag);
    let ledger = Arc::new(Ledger::default());
    let (tx, rx, _) = edge::<FrameSet>("propagate->bench", 16, Backpressure::Lossless, ledger);
    let mut propagator = Propagator::new(1);
    let mut key = frame(0, 0, &jpeg);
    key.grey = Some(grey.clone());
    let key_set = one_camera_set(Slot {
        frame: Some(key),
        status: SlotStatus::Processed,
        detections: boxes().into_iter().map(|b| detection(0, b)).collect(),
    });
    propagator.process(key_set, &mut Output::new(&tx)).unwrap();
    rx.recv().unwrap();
    c.bench_function("propagate_5_boxes_one_frame", |b| {
        b.iter_batched(
            || {
                let mut skipped = frame(0, 50_000_000, &jpeg);
                skipped.grey = Some(grey.clone());
                one_camera_set(Slot {
                    frame: Some(skipped),
                    status: SlotStatus::SkippedKeyframe,
                    detections: Vec::new(),
                })
            },
            |set| {
                propagator.process(set, &mut Output::new(&tx)).unwrap();
                black_box(rx.recv().unwrap())
            },
            BatchSize::SmallInput,
        )
    });
}

fn rerun_logging(c: &mut Criterion) {
    let jpeg = av2_jpeg();
    let rig = argoverse2_rig().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = RerunTarget::Save(dir.path().join("bench.rrd"));
    let mut sink = RerunSink::open(
        &target,
        &rig,
        None,
        PlannerConfig::default(),
        &RerunConfig::default(),
    )
    .unwrap()
    .unwrap();
    let progress = Progress {
        frames_total: 0,
        frames_done: 0,
        queues: Vec::new(),
    };
    let mut k = 0u64;
    c.bench_function("rerun_log_frame_set_of_7_jpegs", |b| {
        b.iter(|| {
            let t = 1_000_000_000 + k * 50_000_000;
            let set = FrameSet {
                index: k,
                reference_ns: t,
                slots: (0..7)
                    .map(|camera| Slot {
                        frame: Some(frame(camera, t, &jpeg)),
                        status: SlotStatus::Processed,
                        detections: boxes().into_iter().map(|b| detection(camera, b)).collect(),
                    })
                    .collect(),
                first_arrival: Instant::now(),
                objects: Vec::new(),
                tracks: Vec::new(),
                decision: None,
                stage_entries: Vec::new(),
            };
            sink.log(&set, &progress);
            k += 1;
        })
    });
    black_box(sink.finish());
}

criterion_group!(
    hot_paths,
    jpeg_decoding,
    synchroniser,
    ground_projection,
    tracker_update,
    propagation,
    rerun_logging
);
criterion_main!(hot_paths);
