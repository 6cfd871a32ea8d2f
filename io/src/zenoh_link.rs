//! Camera streams and decisions over Zenoh, for cameras on other computers
//! (camera ECUs) than the perception computer.
//!
//! Keys: `heptaview/<vehicle>/cams/<camera>/jpeg` (one JPEG per sample),
//! `heptaview/<vehicle>/decision` and `heptaview/<vehicle>/tracks` (JSON).
//! Each camera sample carries a 24-byte attachment: `HVC1`, then the sensor
//! timestamp (ns since 1970) and the camera's sequence number, both u64
//! little-endian, then the encoding (`jpeg`).
//!
//! Transport: TCP only, multicast scouting off, explicit endpoints; a JSON5
//! configuration file, when given, is used unchanged instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use heptaview_calibration::Rig;
pub use zenoh::Session;
use zenoh::handlers::FifoChannel;
use zenoh::qos::CongestionControl;
use zenoh::{Config, Wait};

use crate::live::Health;
use crate::recorder::Recording;
use heptaview_perception::PipelineError;
use heptaview_perception::chain::Source;
use heptaview_perception::types::{CameraId, Frame};
use heptaview_runtime::accounting::{DropReason, Ledger};
use heptaview_runtime::edge::EdgeSender;
use heptaview_runtime::threads::Control;

/// Where the perception computer listens and camera nodes connect by default.
pub const DEFAULT_ENDPOINT: &str = "tcp/127.0.0.1:7447";
const MAGIC: &[u8; 4] = b"HVC1";
const ENCODING: &[u8; 4] = b"jpeg";
pub const HEADER_LEN: usize = 24;
/// Samples the subscriber holds before Zenoh's receive thread waits: the
/// wait reaches the publishers as congestion, and what they drop shows up
/// here as sequence gaps, counted.
const SUBSCRIBER_QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("zenoh configuration {path}: {message}")]
    ConfigFile { path: String, message: String },
    #[error("zenoh: {0}")]
    Zenoh(String),
}

impl From<LinkError> for PipelineError {
    fn from(error: LinkError) -> Self {
        match error {
            LinkError::ConfigFile { .. } => PipelineError::Config(error.to_string()),
            LinkError::Zenoh(_) => PipelineError::stage("zenoh", error),
        }
    }
}

/// Which side of the link a process is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The perception computer: listens on the endpoint.
    Listen,
    /// A camera node: connects to the endpoint, and keeps trying.
    Connect,
}

/// The configuration: the file unchanged when given, else peer mode over
/// TCP on `endpoint` with multicast scouting off.
pub fn config(file: Option<&Path>, endpoint: &str, role: Role) -> Result<Config, LinkError> {
    if let Some(path) = file {
        return Config::from_file(path).map_err(|e| LinkError::ConfigFile {
            path: path.display().to_string(),
            message: e.to_string(),
        });
    }
    let mut config = Config::default();
    let endpoints = serde_json::to_string(&[endpoint]).unwrap_or_default();
    let mut entries = vec![
        ("mode", r#""peer""#.to_owned()),
        ("scouting/multicast/enabled", "false".to_owned()),
        // A JPEG is larger than the default send queue (2 x 64 KB batches).
        ("transport/link/tx/queue/size/data", "16".to_owned()),
    ];
    match role {
        Role::Listen => entries.push(("listen/endpoints", endpoints)),
        Role::Connect => {
            entries.push(("listen/endpoints", "[]".to_owned()));
            entries.push(("connect/endpoints", endpoints));
            entries.push(("connect/timeout_ms", "-1".to_owned()));
            entries.push(("connect/exit_on_failure", "false".to_owned()));
        }
    }
    for (key, value) in entries {
        config
            .insert_json5(key, &value)
            .map_err(|e| LinkError::Zenoh(format!("{key} = {value}: {e}")))?;
    }
    Ok(config)
}

pub fn open(config: Config) -> Result<Session, LinkError> {
    zenoh::open(config)
        .wait()
        .map_err(|e| LinkError::Zenoh(format!("cannot open a session: {e}")))
}

/// Closes the session once what was put has left.
pub fn close(session: &Session) -> Result<(), LinkError> {
    session
        .close()
        .wait()
        .map_err(|e| LinkError::Zenoh(e.to_string()))
}

/// Puts a JSON document (decisions, tracks): small, latest matters, so a
/// congested link drops it rather than wait.
pub fn put_json(session: &Session, key: &str, json: &str) -> Result<(), LinkError> {
    session
        .put(key, json)
        .congestion_control(CongestionControl::Drop)
        .wait()
        .map_err(|e| LinkError::Zenoh(e.to_string()))
}

pub fn camera_key(vehicle: &str, camera: &str) -> String {
    format!("heptaview/{vehicle}/cams/{camera}/jpeg")
}

pub fn decision_key(vehicle: &str) -> String {
    format!("heptaview/{vehicle}/decision")
}

pub fn tracks_key(vehicle: &str) -> String {
    format!("heptaview/{vehicle}/tracks")
}

pub fn header(timestamp_ns: u64, sequence: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(MAGIC);
    header[4..12].copy_from_slice(&timestamp_ns.to_le_bytes());
    header[12..20].copy_from_slice(&sequence.to_le_bytes());
    header[20..].copy_from_slice(ENCODING);
    header
}

/// (sensor timestamp, sequence) from a camera sample's attachment.
pub fn parse_header(bytes: &[u8]) -> Option<(u64, u64)> {
    if bytes.len() != HEADER_LEN || &bytes[..4] != MAGIC || &bytes[20..] != ENCODING {
        return None;
    }
    let timestamp = u64::from_le_bytes(bytes[4..12].try_into().ok()?);
    let sequence = u64::from_le_bytes(bytes[12..20].try_into().ok()?);
    Some((timestamp, sequence))
}

/// Publishes one camera's frames.
pub struct CameraPublisher {
    publisher: zenoh::pubsub::Publisher<'static>,
}

impl CameraPublisher {
    /// `block`: wait for room rather than drop when the link is congested
    /// (for a receiver that records); dropping keeps latency bounded (live).
    pub fn declare(
        session: &Session,
        vehicle: &str,
        camera: &str,
        block: bool,
    ) -> Result<Self, LinkError> {
        let congestion = if block {
            CongestionControl::Block
        } else {
            CongestionControl::Drop
        };
        let publisher = session
            .declare_publisher(camera_key(vehicle, camera))
            .congestion_control(congestion)
            .wait()
            .map_err(|e| LinkError::Zenoh(format!("cannot publish {camera}: {e}")))?;
        Ok(Self { publisher })
    }

    pub fn put(&self, jpeg: &[u8], timestamp_ns: u64, sequence: u64) -> Result<(), LinkError> {
        self.publisher
            .put(jpeg)
            .attachment(&header(timestamp_ns, sequence)[..])
            .wait()
            .map_err(|e| LinkError::Zenoh(e.to_string()))
    }
}

/// What the perception side of the link needs.
pub struct ZenohSourceOptions {
    pub session: Session,
    pub vehicle: String,
    /// Rig camera names, in slot order.
    pub cameras: Vec<String>,
    pub duration: Option<Duration>,
    pub stall_timeout: Duration,
    pub record: Option<(std::path::PathBuf, Rig)>,
}

/// Samples received, sequence gaps counted, per camera.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCounts {
    pub received: BTreeMap<String, u64>,
    pub gaps: BTreeMap<String, u64>,
    pub restarts: BTreeMap<String, u64>,
    /// Samples on camera keys that no rig camera has, or without a valid header.
    pub rejected: u64,
}

/// Camera frames from Zenoh as a pipeline source: the live source's
/// contract (health, stall timeout, recording) over a subscription.
pub fn zenoh_source(
    options: ZenohSourceOptions,
) -> (Source, Health, std::sync::Arc<std::sync::Mutex<LinkCounts>>) {
    let health = Health::new(options.cameras.len());
    let counts = std::sync::Arc::new(std::sync::Mutex::new(LinkCounts::default()));
    let (shared_health, shared_counts) = (health.clone(), counts.clone());
    let source: Source = Box::new(move |out, control, ledger| {
        receive(
            &options,
            out,
            control,
            ledger,
            &shared_health,
            &shared_counts,
        )
    });
    (source, health, counts)
}

fn receive(
    options: &ZenohSourceOptions,
    out: &EdgeSender<Frame>,
    control: &Control,
    ledger: &Ledger,
    health: &Health,
    counts: &std::sync::Mutex<LinkCounts>,
) -> Result<(), PipelineError> {
    let started = Instant::now();
    let subscriber = options
        .session
        .declare_subscriber(format!("heptaview/{}/cams/*/jpeg", options.vehicle))
        .with(FifoChannel::new(SUBSCRIBER_QUEUE))
        .wait()
        .map_err(|e| LinkError::Zenoh(format!("cannot subscribe: {e}")))?;
    let names: Vec<&str> = options.cameras.iter().map(String::as_str).collect();
    let mut last_sequence: Vec<Option<u64>> = vec![None; names.len()];
    std::thread::scope(|scope| {
        let (recording, record) =
            Recording::start(scope, options.record.as_ref(), options.cameras.clone())?.unzip();
        let mut result = Ok(());
        loop {
            let now = Instant::now();
            if control.stop_requested()
                || control.aborted()
                || options.duration.is_some_and(|d| now - started >= d)
            {
                break;
            }
            health.mark_stalled(now, started, options.stall_timeout);
            let sample = match subscriber.recv_timeout(Duration::from_millis(20)) {
                Ok(Some(sample)) => sample,
                Ok(None) => continue,
                Err(e) => {
                    result = Err(LinkError::Zenoh(format!("subscription ended: {e}")).into());
                    break;
                }
            };
            let arrival = Instant::now();
            let key = sample.key_expr().as_str().to_owned();
            let camera = key.split('/').nth(3).unwrap_or_default();
            let header = sample
                .attachment()
                .and_then(|a| parse_header(&a.to_bytes()));
            let (Some(index), Some((timestamp_ns, sequence))) =
                (names.iter().position(|n| *n == camera), header)
            else {
                lock(counts).rejected += 1;
                continue;
            };
            // Frames a node sent that never came: counted, as input and as dropped.
            match last_sequence[index] {
                Some(last) if sequence > last + 1 => {
                    let gap = sequence - last - 1;
                    ledger.input(gap);
                    ledger.dropped(DropReason::TransportGap, gap);
                    *lock(counts).gaps.entry(camera.to_owned()).or_default() += gap;
                }
                Some(last) if sequence <= last => {
                    // The node restarted: its numbering starts over.
                    *lock(counts).restarts.entry(camera.to_owned()).or_default() += 1;
                }
                _ => {}
            }
            last_sequence[index] = Some(sequence);
            ledger.input(1);
            *lock(counts).received.entry(camera.to_owned()).or_default() += 1;
            health.update(index, |s| {
                s.mark_up(arrival);
                s.frames += 1;
                s.last_frame = Some(arrival);
            });
            let jpeg = std::sync::Arc::new(sample.payload().to_bytes().into_owned());
            if let Some(record) = &record {
                record.offer((index, timestamp_ns, jpeg.clone()), ledger);
            }
            let frame = Frame {
                camera: CameraId(index),
                timestamp_ns,
                arrival,
                sequence,
                jpeg,
                image: None,
                grey: None,
                native_size: None,
            };
            if out.send(frame).is_err() {
                ledger.dropped(DropReason::Shutdown, 1);
                break;
            }
        }
        drop(record);
        if let Some(recording) = recording {
            recording.finish()?;
        }
        result
    })
}

fn lock(counts: &std::sync::Mutex<LinkCounts>) -> std::sync::MutexGuard<'_, LinkCounts> {
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back_and_strangers_are_refused() {
        let bytes = header(1_764_000_000_123_456_789, 42);
        assert_eq!(parse_header(&bytes), Some((1_764_000_000_123_456_789, 42)));
        assert_eq!(parse_header(&bytes[..20]), None);
        let mut other = bytes;
        other[0] = b'X';
        assert_eq!(parse_header(&other), None);
    }

    #[test]
    fn the_default_configuration_is_tcp_with_multicast_off() {
        let config = config(None, "tcp/127.0.0.1:7447", Role::Connect).unwrap();
        assert_eq!(
            config.get_json("scouting/multicast/enabled").unwrap(),
            "false"
        );
        assert_eq!(
            config.get_json("connect/endpoints").unwrap(),
            r#"["tcp/127.0.0.1:7447"]"#
        );
        let error = super::config(
            Some(Path::new("/nonexistent/zenoh.json5")),
            DEFAULT_ENDPOINT,
            Role::Listen,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/zenoh.json5"),
            "{error}"
        );
    }
}
