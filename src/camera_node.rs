//! `heptaview camera-node`: a camera computer. Opens its cameras as live mode
//! does (one capture thread each, reopened with backoff when they fail) and
//! publishes every frame's JPEG bytes on Zenoh, with its sensor timestamp
//! and sequence number, for `heptaview live --source zenoh`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use heptaview_io::live::LiveCamera;
use heptaview_io::live::LiveOptions;
use heptaview_io::live::live_source;
use heptaview_io::zenoh_link;
use heptaview_io::zenoh_link::CameraPublisher;
use heptaview_io::zenoh_link::DEFAULT_ENDPOINT;
use heptaview_io::zenoh_link::Role;
use heptaview_perception::types::Frame;
use heptaview_runtime::accounting::Ledger;
use heptaview_runtime::edge::Backpressure;
use heptaview_runtime::edge::edge;

use heptaview_models::units::Positive;

use crate::Failure;
use crate::args::CongestionArg;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// NAME=SOURCE for each camera of this computer: a V4L2 device, an RTSP
    /// or HTTP MJPEG URL, a GStreamer pipeline or a video file (played at
    /// its frame rate); NAME is the rig's camera name.
    #[arg(long = "camera", value_name = "NAME=SOURCE", required = true)]
    cameras: Vec<String>,
    /// A Zenoh configuration file (JSON5), used unchanged [default: peer
    /// mode over TCP, multicast scouting off, connecting to --endpoint].
    #[arg(long, value_name = "CONFIG")]
    zenoh: Option<PathBuf>,
    /// The perception computer's Zenoh endpoint (retried until it answers).
    #[arg(long, default_value = DEFAULT_ENDPOINT, value_name = "ENDPOINT")]
    endpoint: String,
    /// Vehicle name in the keys: heptaview/<vehicle>/cams/<camera>/jpeg.
    #[arg(long, default_value = "car", value_name = "ID")]
    vehicle: String,
    /// Stop after this many seconds [default: run until Ctrl-C].
    #[arg(long, value_name = "S")]
    duration: Option<Positive>,
    /// No frame from a camera for this long: it is down (and reopened).
    #[arg(long, default_value = "1000", value_name = "MS")]
    stall_ms: Positive,
    /// `drop`: a congested link drops frames (the receiver counts them as
    /// transport gaps; latency stays bounded: live driving). `block`: wait
    /// for room (nothing lost: when the receiver records).
    #[arg(long, value_enum, default_value_t = CongestionArg::Drop)]
    congestion: CongestionArg,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let cameras: Vec<LiveCamera> = crate::live::named_sources(&args.cameras)?
        .into_iter()
        .map(|(name, source)| LiveCamera {
            name,
            source: Some(source),
        })
        .collect();
    let duration = args.duration.map(|s| Duration::from_secs_f64(s.get()));
    let config = zenoh_link::config(args.zenoh.as_deref(), &args.endpoint, Role::Connect)
        .map_err(|e| Failure::BadInput(e.into()))?;
    let session = zenoh_link::open(config).map_err(|e| Failure::Runtime(e.into()))?;
    let block = args.congestion == CongestionArg::Block;
    let publishers = cameras
        .iter()
        .map(|c| CameraPublisher::declare(&session, &args.vehicle, &c.name, block))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Runtime(e.into()))?;

    let names: Vec<String> = cameras.iter().map(|c| c.name.clone()).collect();
    let (source, health) = live_source(LiveOptions {
        cameras,
        duration,
        stall_timeout: Duration::from_secs_f64(args.stall_ms.get() / 1e3),
        jpeg_quality: 90,
        record: None,
    });
    let ledger = Arc::new(Ledger::default());
    // Publishing is quick; a frame waits here only while Zenoh blocks.
    let (tx, rx, _) = edge::<Frame>(
        "capture->zenoh",
        4 * names.len(),
        Backpressure::Lossless,
        ledger.clone(),
    );
    let control = crate::interrupt::run_control()?;
    let started = Instant::now();
    eprintln!(
        "camera node: publishing {} on heptaview/{}/cams/<camera>/jpeg",
        names.join(", "),
        args.vehicle
    );
    let mut published = vec![0u64; names.len()];
    let mut failures = 0u64;
    let capture_result = std::thread::scope(|scope| {
        let capture = scope.spawn(|| {
            let result = source(&tx, &control, &ledger);
            drop(tx);
            result
        });
        while let Ok(frame) = rx.recv() {
            let camera = frame.camera.0;
            match publishers[camera].put(&frame.jpeg, frame.timestamp_ns, frame.sequence) {
                Ok(()) => published[camera] += 1,
                Err(e) => {
                    failures += 1;
                    if failures == 1 {
                        eprintln!("warning: {}: {e}", names[camera]);
                    }
                }
            }
        }
        capture.join()
    });
    match capture_result {
        Ok(result) => result.map_err(|e| Failure::Runtime(e.into()))?,
        Err(_) => return Err(Failure::Runtime(anyhow!("a capture thread panicked"))),
    }
    let now = Instant::now();
    for ((name, count), status) in names.iter().zip(&published).zip(health.snapshot()) {
        eprintln!(
            "{name}: {count} frames published, down {} time(s) ({:.1} s)",
            status.down_events,
            status.down_until(now).as_secs_f64()
        );
    }
    if failures > 0 {
        eprintln!("{failures} frames could not be published");
    }
    eprintln!("camera node ran {:.1} s", started.elapsed().as_secs_f64());
    // Let the last samples leave before the session closes.
    zenoh_link::close(&session).map_err(|e| Failure::Runtime(e.into()))?;
    Ok(())
}
