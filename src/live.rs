//! `heptaview live`: real cameras through the pipeline, with deadlines.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use heptaview_calibration::Rig;
use heptaview_eval::report::Report;
use heptaview_io::live::LiveCamera;
use heptaview_io::live::LiveOptions;
use heptaview_io::live::live_source;
use heptaview_io::sinks::rerun::RerunTarget;
use heptaview_io::zenoh_link;
use heptaview_io::zenoh_link::DEFAULT_ENDPOINT;
use heptaview_io::zenoh_link::Role;
use heptaview_io::zenoh_link::ZenohSourceOptions;
use heptaview_io::zenoh_link::zenoh_source;
use heptaview_perception::chain::RunSpec;
use heptaview_perception::chain::run_pipeline;
use heptaview_perception::config::PipelineConfig;
use heptaview_perception::config::{PhaseSource, SyncClock};
use heptaview_perception::types::FrameSet;
use heptaview_runtime::edge::Backpressure;
use indicatif::{ProgressBar, ProgressStyle};

use heptaview_models::units::{NonNegative, Positive};

use crate::Failure;
use crate::args::SourceArg;
use crate::session::{SinkPlan, Sinks, write_report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The camera rig (TOML, as `heptaview self-check --rig` reads); its
    /// image sizes must be those the cameras deliver.
    #[arg(long, value_name = "FILE")]
    rig: PathBuf,
    /// NAME=SOURCE for every rig camera: a V4L2 device (/dev/video0), an RTSP
    /// or HTTP MJPEG URL, a GStreamer pipeline, a video file (played at its
    /// frame rate), or `absent`. Not with `--source zenoh`.
    #[arg(long = "camera", value_name = "NAME=SOURCE")]
    cameras: Vec<String>,
    /// Where frames come from: `cameras` (the --camera sources, on this
    /// computer) or `zenoh` (camera nodes, `heptaview camera-node`, publishing
    /// on heptaview/<vehicle>/cams/<camera>/jpeg).
    #[arg(long, value_enum, default_value_t = SourceArg::Cameras)]
    source: SourceArg,
    /// With `--source zenoh`: a Zenoh configuration file (JSON5), used
    /// unchanged [default: peer mode over TCP, multicast scouting off,
    /// listening on --endpoint].
    #[arg(long, value_name = "CONFIG")]
    zenoh: Option<PathBuf>,
    /// With `--source zenoh`: where camera nodes connect.
    #[arg(long, default_value = DEFAULT_ENDPOINT, value_name = "ENDPOINT")]
    endpoint: String,
    /// With `--source zenoh`: the vehicle name in the keys; decisions and
    /// tracks go out on heptaview/<vehicle>/decision and .../tracks.
    #[arg(long, default_value = "car", value_name = "ID")]
    vehicle: String,
    /// Stop after this many seconds [default: run until Ctrl-C].
    #[arg(long, value_name = "S")]
    duration: Option<Positive>,
    /// A frame set leaves this long after it opened, with whatever cameras
    /// delivered by then.
    #[arg(long, default_value = "100", value_name = "MS")]
    deadline_ms: Positive,
    /// No frame from a camera for this long: it is down.
    #[arg(long, default_value = "1000", value_name = "MS")]
    stall_ms: Positive,
    /// Rerun output: `off`, `save:PATH.rrd`, `spawn`, or `connect[:URL]`.
    #[arg(long, default_value = "off", value_name = "TARGET")]
    rerun: RerunTarget,
    /// Record every frame that came in (JPEG, as it came) with the rig's
    /// calibration: PATH.mcap writes a ROS 2 bag (CompressedImage,
    /// CameraInfo, /tf_static), any other PATH a new Argoverse 2 log folder.
    /// `heptaview replay` reads both.
    #[arg(long, value_name = "PATH")]
    record: Option<PathBuf>,
    /// Write the JSON run report here.
    #[arg(long, value_name = "PATH")]
    report: Option<PathBuf>,
    /// Write every detected frame's detections here, one JSON line per frame
    /// (as `heptaview replay --detections` does, for comparing the two).
    #[arg(long, value_name = "PATH")]
    detections: Option<PathBuf>,
    /// Stage parameters (TOML); live mode sets latest-wins queues and
    /// wall-clock synchronisation over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

pub fn run(args: &Args) -> Result<(), Failure> {
    let rig = Rig::load(&args.rig).map_err(|e| Failure::BadInput(e.into()))?;
    let zenoh = args.source == SourceArg::Zenoh;
    let cameras = if zenoh {
        if !args.cameras.is_empty() {
            return Err(Failure::BadInput(anyhow!(
                "--camera is for local cameras; with --source zenoh the camera nodes name them"
            )));
        }
        rig.camera_names()
            .map(|name| LiveCamera {
                name: name.to_owned(),
                source: None,
            })
            .collect()
    } else {
        if args.cameras.is_empty() {
            return Err(Failure::BadInput(anyhow!(
                "give --camera NAME=SOURCE for every rig camera, or --source zenoh"
            )));
        }
        camera_sources(&rig, &args.cameras)?
    };
    let duration = args.duration.map(|s| Duration::from_secs_f64(s.get()));
    let mut config = match &args.config {
        Some(path) => PipelineConfig::load(path).map_err(|e| Failure::BadInput(e.into()))?,
        None => PipelineConfig::default(),
    };
    // Latency matters more than completeness: a full queue drops its oldest
    // frame; a frame set waits for its cameras only until the deadline, and
    // frames within half of it belong together (the cameras are not synchronised).
    config.backpressure = Backpressure::Latest;
    config.sync.clock = SyncClock::Wall;
    config.sync.max_wait_ms = args.deadline_ms;
    config.sync.tolerance_ms = NonNegative::new(args.deadline_ms.get() / 2.0).ok();
    // Live cameras run free: their frames carry arrival times, not trigger
    // phases, so they are grouped by time alone.
    config.sync.phase = PhaseSource::None;

    let control = crate::interrupt::run_control()?;
    let mut sinks = Sinks::open(
        &SinkPlan {
            rerun: &args.rerun,
            detections: args.detections.as_deref(),
        },
        &rig,
        None,
        None,
        &config,
    )?;
    let names: Vec<String> = cameras.iter().map(|c| c.name.clone()).collect();
    let input = cameras
        .iter()
        .map(|c| format!("{}={}", c.name, c.source.as_deref().unwrap_or("absent")))
        .collect::<Vec<_>>()
        .join(" ");
    let stall_timeout = Duration::from_secs_f64(args.stall_ms.get() / 1e3);
    let record = args.record.clone().map(|dir| (dir, rig.clone()));
    let mut session = None;
    let mut link_counts = None;
    let (source, health) = if zenoh {
        let config = zenoh_link::config(args.zenoh.as_deref(), &args.endpoint, Role::Listen)
            .map_err(|e| Failure::BadInput(e.into()))?;
        let opened = zenoh_link::open(config).map_err(|e| Failure::Runtime(e.into()))?;
        let (source, health, counts) = zenoh_source(ZenohSourceOptions {
            session: opened.clone(),
            vehicle: args.vehicle.clone(),
            cameras: names.clone(),
            duration,
            stall_timeout,
            record,
        });
        session = Some(opened);
        link_counts = Some(counts);
        (source, health)
    } else {
        live_source(LiveOptions {
            cameras,
            duration,
            stall_timeout,
            jpeg_quality: 90,
            record,
        })
    };
    let (decision_key, tracks_key) = (
        zenoh_link::decision_key(&args.vehicle),
        zenoh_link::tracks_key(&args.vehicle),
    );
    let spec = RunSpec {
        mode: "live",
        input,
        rig: rig.clone(),
        cameras: names.clone(),
        poses: None,
        frames_total: 0,
        paced: true,
        upcoming_timestamps_ns: None,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("live {spinner} {pos} frame sets, {msg}")
            .map_err(|e| Failure::Runtime(anyhow!("progress bar template: {e}")))?,
    );
    let started = Instant::now();
    let result = run_pipeline(spec, &config, source, control, &mut |set, progress| {
        sinks.observe(set, progress);
        if let Some(session) = &session {
            publish(session, set, &decision_key, &tracks_key);
        }
        bar.inc(1);
        if let Some(decision) = &set.decision {
            bar.set_message(format!("{:?}", decision.action));
        }
    });
    bar.finish_and_clear();
    let mut report = Report::new(result.map_err(Failure::from)?);
    sinks.finish(&mut report)?;
    if let Some(counts) = &link_counts {
        let counts = counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        report.transport = Some(serde_json::json!({
            "kind": "zenoh",
            "received": counts.received,
            "gaps": counts.gaps,
            "restarts": counts.restarts,
            "rejected": counts.rejected,
        }));
    }
    if let Some(session) = &session {
        zenoh_link::close(session).map_err(|e| Failure::Runtime(e.into()))?;
    }

    // What the capture threads saw: outages and their length.
    let now = Instant::now();
    for (name, status) in names.iter().zip(health.snapshot()) {
        if let Some(entry) = report.run.cameras_health.get_mut(name) {
            entry.down_events = status.down_events;
            entry.down_s = status.down_until(now).as_secs_f64();
        }
    }
    eprintln!("{}", report.summary());
    for (name, entry) in &report.run.cameras_health {
        if entry.down_events > 0 {
            eprintln!(
                "camera {name}: down {} time(s), {:.1} s in all, {} frames",
                entry.down_events, entry.down_s, entry.frames
            );
        }
    }
    eprintln!("live for {:.1} s", started.elapsed().as_secs_f64());
    if let Some(dir) = &args.record {
        eprintln!(
            "recording: {} (replay it with `heptaview replay {}`)",
            dir.display(),
            dir.display()
        );
    }
    write_report(&report, args.report.as_ref())
}

/// A frame set's decision and tracks for other consumers; the link drops
/// them rather than wait, and a failure costs only this set's messages.
fn publish(session: &zenoh_link::Session, set: &FrameSet, decision_key: &str, tracks_key: &str) {
    if let Some(decision) = &set.decision
        && let Ok(json) = serde_json::to_string(decision)
    {
        let _ = zenoh_link::put_json(session, decision_key, &json);
    }
    if let Ok(json) = serde_json::to_string(&serde_json::json!({
        "t_ns": set.reference_ns,
        "tracks": set.tracks,
    })) {
        let _ = zenoh_link::put_json(session, tracks_key, &json);
    }
}

/// `--camera NAME=SOURCE` values as (name, source), in the order given; one
/// clear error for a value that is not NAME=SOURCE or a name given twice.
pub fn named_sources(given: &[String]) -> Result<Vec<(String, String)>, Failure> {
    let mut sources: Vec<(String, String)> = Vec::new();
    for entry in given {
        let Some((name, source)) = entry
            .split_once('=')
            .filter(|(n, s)| !n.is_empty() && !s.is_empty())
        else {
            return Err(Failure::BadInput(anyhow!(
                "--camera `{entry}` is not NAME=SOURCE"
            )));
        };
        if sources.iter().any(|(n, _)| n == name) {
            return Err(Failure::BadInput(anyhow!("--camera {name} is given twice")));
        }
        sources.push((name.to_owned(), source.to_owned()));
    }
    Ok(sources)
}

/// Every rig camera with its source (in rig order); one clear error for a
/// camera the rig lacks, a camera given twice, or a rig camera left out.
fn camera_sources(rig: &Rig, given: &[String]) -> Result<Vec<LiveCamera>, Failure> {
    let sources = named_sources(given)?;
    for (name, _) in &sources {
        if rig.camera(name).is_err() {
            let known: Vec<&str> = rig.camera_names().collect();
            return Err(Failure::BadInput(anyhow!(
                "--camera {name}: the rig has no such camera (it has {})",
                known.join(", ")
            )));
        }
    }
    rig.camera_names()
        .map(|name| {
            let source = sources.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone());
            match source {
                Some(s) if s == "absent" => Ok(LiveCamera { name: name.to_owned(), source: None }),
                Some(s) => Ok(LiveCamera { name: name.to_owned(), source: Some(s) }),
                None => Err(Failure::BadInput(anyhow!(
                    "no source for rig camera {name}: give --camera {name}=SOURCE or --camera {name}=absent"
                ))),
            }
        })
        .collect()
}
