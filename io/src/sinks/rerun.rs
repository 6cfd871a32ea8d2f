//! The Rerun sink: every frame set as the pipeline saw it and decided on it.
//!
//! Entity layout (ARCHITECTURE.md): `world` (ego frame, x forward, y
//! left, z up; the `AnnotationContext` naming and colouring the classes,
//! static) with `world/ego/vehicle`, `world/ego/corridor` (coloured by the
//! decision), `world/ego/cameras/<name>` (Transform3D + Pinhole, static, then
//! `image`, `detections`: 2D boxes with class ids and `#id class score`
//! labels, and `tracks` and `ground_truth`: the 3D boxes drawn into the
//! image as wireframes, projected_boxes.rs), `world/tracks` (3D boxes with class ids and `#id class` labels,
//! and `velocity` arrows), `world/ground_truth` (faint, labels hidden);
//! `decision` (text log) with `decision/target_speed_mps`,
//! `decision/ego_speed_mps` and `decision/min_ttc_s`;
//! `metrics/<stage>/latency_ms`, `metrics/end_to_end_ms` and
//! `metrics/queues/<edge>` (`->` written `_to_`: `sync_to_compress`);
//! `cameras/<name>` (text log: a camera delivering, missing, back).
//! Timelines: `sensor_time` and `frameset`.
//!
//! Images go as the JPEG bytes the camera delivered (`EncodedImage`): the
//! viewer keeps what it is sent in memory, and raw RGB at seven cameras'
//! rate would fill it in minutes.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use heptaview_calibration::{Rig, RigCamera};
use heptaview_datasets::av2::GroundTruth;
use heptaview_models::taxonomy::VehicleSubtype;
use nalgebra::UnitQuaternion;
use rerun::{RecordingStream, RecordingStreamBuilder};

use super::projected_boxes::{EgoBox, wireframe};
use super::rerun_layout::{
    CAMERA_STATUS_PATH, DECISION_PATH, GROUND_TRUTH_PATH, METRICS_PATH, TRACKS_PATH, WORLD_PATH,
    blueprint, camera_path,
};
use super::shown_boxes::one_box_per_object;
use heptaview_eval::report::RerunCounts;
use heptaview_models::classes::{ClassSize, ObjectClass, typical_size};
use heptaview_perception::PipelineError;
use heptaview_perception::chain::Progress;
use heptaview_perception::config::PlannerConfig;
use heptaview_perception::config::RerunConfig;
use heptaview_perception::planning::name;
use heptaview_perception::types::{Action, FrameSet, SlotStatus, Track};

const APPLICATION_ID: &str = "heptaview";
const VIEWER_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the recording goes (`--rerun`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RerunTarget {
    Off,
    /// An `.rrd` file.
    Save(PathBuf),
    /// A new viewer process (`rerun` from PATH).
    Spawn,
    /// A running viewer; its default gRPC address when `None`.
    Connect(Option<String>),
}

impl FromStr for RerunTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "off" => Ok(Self::Off),
            "spawn" => Ok(Self::Spawn),
            "connect" => Ok(Self::Connect(None)),
            _ => {
                if let Some(path) = text.strip_prefix("save:").filter(|p| !p.is_empty()) {
                    Ok(Self::Save(PathBuf::from(path)))
                } else if let Some(url) = text.strip_prefix("connect:").filter(|u| !u.is_empty()) {
                    Ok(Self::Connect(Some(url.to_owned())))
                } else {
                    Err(format!(
                        "`{text}` is not one of off, save:PATH.rrd, spawn, connect, connect:URL"
                    ))
                }
            }
        }
    }
}

pub struct RerunSink {
    stream: RecordingStream,
    cameras: Vec<RigCamera>,
    ground_truth: Option<GroundTruth>,
    planner: PlannerConfig,
    min_image_interval_ns: Option<u64>,
    last_image_ns: Vec<Option<u64>>,
    /// Per camera: whether the last frame set had its frame (`None`: none seen yet).
    present: Vec<Option<bool>>,
    counts: RerunCounts,
    /// Saving to a file (flushed to the end) rather than streaming to a viewer.
    to_file: bool,
}

impl RerunSink {
    /// Opens the recording for `rig` (the replayed cameras, in slot order) and
    /// logs what does not change (the rig, the vehicle) and the layout.
    /// `Ok(None)` for `Off`, and for a viewer that cannot be reached (with one
    /// warning: the run goes on without it).
    pub fn open(
        target: &RerunTarget,
        rig: &Rig,
        ground_truth: Option<GroundTruth>,
        planner: PlannerConfig,
        config: &RerunConfig,
    ) -> Result<Option<Self>, PipelineError> {
        let builder = RecordingStreamBuilder::new(APPLICATION_ID);
        let stream = match target {
            RerunTarget::Off => return Ok(None),
            RerunTarget::Save(path) => builder.save(path).map_err(|e| {
                PipelineError::Config(format!(
                    "cannot write Rerun recording {}: {e}",
                    path.display()
                ))
            })?,
            RerunTarget::Spawn => match builder.spawn() {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!("cannot start the Rerun viewer ({e}); going on without it");
                    return Ok(None);
                }
            },
            RerunTarget::Connect(url) => {
                let url = url.clone().unwrap_or_else(|| {
                    format!(
                        "rerun+http://127.0.0.1:{}/proxy",
                        rerun::DEFAULT_SERVER_PORT
                    )
                });
                if let Err(why) = reachable(&url) {
                    tracing::warn!("no Rerun viewer at {url} ({why}); going on without it");
                    return Ok(None);
                }
                match builder.connect_grpc_opts(url.clone()) {
                    Ok(stream) => stream,
                    Err(e) => {
                        tracing::warn!(
                            "cannot connect to the Rerun viewer at {url} ({e}); going on without it"
                        );
                        return Ok(None);
                    }
                }
            }
        };
        let min_image_interval_ns = config
            .max_images_per_s
            .map(|rate| (1e9 / rate.get()) as u64);
        blueprint(rig.cameras())
            .send(&stream, APPLICATION_ID)
            .map_err(|e| PipelineError::stage("rerun", e))?;
        let mut sink = Self {
            stream,
            cameras: rig.cameras().to_vec(),
            ground_truth,
            planner,
            min_image_interval_ns,
            last_image_ns: vec![None; rig.cameras().len()],
            present: vec![None; rig.cameras().len()],
            counts: RerunCounts::default(),
            to_file: matches!(target, RerunTarget::Save(_)),
        };
        sink.log_static()
            .map_err(|e| PipelineError::stage("rerun", e))?;
        Ok(Some(sink))
    }

    fn log_static(&mut self) -> rerun::RecordingStreamResult<()> {
        let stream = &self.stream;
        stream.log_static(WORLD_PATH, &rerun::ViewCoordinates::FLU())?;
        // Everything below `world` (2D boxes in the cameras, tracks, ground
        // truth) names and colours its class through this.
        stream.log_static(WORLD_PATH, &annotation_context())?;
        // An AV2-sized car around the ego origin (the rear axle).
        stream.log_static(
            format!("{WORLD_PATH}/ego/vehicle"),
            &rerun::Boxes3D::from_centers_and_half_sizes([(1.4, 0.0, 0.9)], [(2.45, 1.0, 0.9)])
                .with_colors([rerun::Color::from_rgb(200, 200, 200)])
                .with_labels(["ego"]),
        )?;
        for camera in &self.cameras {
            let path = camera_path(camera.name());
            let ego_from_camera = camera.ego_from_camera();
            let t = ego_from_camera.translation.vector;
            let q = ego_from_camera.rotation;
            stream.log_static(
                path.as_str(),
                &rerun::Transform3D::from_translation_rotation(
                    [t.x as f32, t.y as f32, t.z as f32],
                    quaternion(&q),
                ),
            )?;
            let k = camera.model().intrinsics();
            stream.log_static(
                path.as_str(),
                &rerun::Pinhole::from_focal_length_and_resolution(
                    [k.fx_px as f32, k.fy_px as f32],
                    [k.width_px as f32, k.height_px as f32],
                )
                .with_principal_point([k.cx_px as f32, k.cy_px as f32])
                .with_image_plane_distance(1.0),
            )?;
        }
        Ok(())
    }

    /// Logs one finished frame set.
    pub fn log(&mut self, set: &FrameSet, progress: &Progress) {
        if let Err(e) = self.try_log(set, progress) {
            // Logging calls fail only on malformed data; one frame set lost from the view.
            tracing::warn!("frame set {} not logged to Rerun: {e}", set.index);
        }
    }

    fn try_log(&mut self, set: &FrameSet, progress: &Progress) -> rerun::RecordingStreamResult<()> {
        let stream = &self.stream;
        stream.set_time_sequence("frameset", set.index as i64);
        stream.set_timestamp_nanos_since_epoch("sensor_time", set.reference_ns as i64);
        self.counts.framesets += 1;

        for (index, (slot, camera)) in set.slots.iter().zip(&self.cameras).enumerate() {
            let path = camera_path(camera.name());
            let present = slot.frame.is_some();
            if self.present[index] != Some(present) {
                // A camera going missing (down, late, absent) and coming back.
                let (text, level) = if present {
                    let text = if self.present[index].is_some() {
                        "camera delivering again"
                    } else {
                        "camera delivering"
                    };
                    (text, rerun::TextLogLevel::INFO)
                } else {
                    ("camera missing from frame sets", rerun::TextLogLevel::WARN)
                };
                stream.log(
                    format!("{CAMERA_STATUS_PATH}/{}", camera.name()),
                    &rerun::TextLog::new(format!("{}: {text}", camera.name())).with_level(level),
                )?;
                self.present[index] = Some(present);
            }
            let Some(frame) = &slot.frame else { continue };
            let due = match (self.min_image_interval_ns, self.last_image_ns[index]) {
                (Some(interval), Some(last)) => frame.timestamp_ns >= last.saturating_add(interval),
                _ => true,
            };
            // Images and their boxes on the camera's own sensor time.
            stream.set_timestamp_nanos_since_epoch("sensor_time", frame.timestamp_ns as i64);
            if due {
                stream.log(
                    format!("{path}/image"),
                    &rerun::EncodedImage::from_file_contents(frame.jpeg.as_ref().clone())
                        .with_media_type(rerun::MediaType::JPEG),
                )?;
                self.last_image_ns[index] = Some(frame.timestamp_ns);
                self.counts.images += 1;
            }
            // Detected boxes on key frames, propagated ones (labelled `~`) on
            // the others; an empty list clears the previous image's boxes.
            // One box per object (shown_boxes.rs); the report and the
            // detections file keep every box.
            let detections = match slot.status {
                SlotStatus::Processed | SlotStatus::SkippedKeyframe => {
                    one_box_per_object(&slot.detections)
                }
                _ => Vec::new(),
            };
            let mins: Vec<[f32; 2]> = detections
                .iter()
                .map(|d| [d.detection.bbox[0], d.detection.bbox[1]])
                .collect();
            let sizes: Vec<[f32; 2]> = detections
                .iter()
                .map(|d| {
                    let b = d.detection.bbox;
                    [b[2] - b[0], b[3] - b[1]]
                })
                .collect();
            // The legend is in the README (Rerun section): keep them in step.
            let labels: Vec<String> = detections
                .iter()
                .map(|d| {
                    let track = d.track_id.map_or(String::new(), |id| format!("#{id} "));
                    let carried = if d.propagated { "~" } else { "" };
                    let mut label = format!(
                        "{carried}{track}{} {:.2}",
                        d.detection.class, d.detection.score
                    );
                    if let Some(subtype) = d
                        .attributes
                        .subtype
                        .filter(|s| *s != VehicleSubtype::Unknown)
                    {
                        label.push_str(&format!(" {}", subtype.name()));
                    }
                    if let Some(state) = &d.attributes.state {
                        label.push_str(&format!(" {}", state.name()));
                    }
                    label
                })
                .collect();
            let class_ids: Vec<rerun::components::ClassId> = detections
                .iter()
                .map(|d| class_id(&d.detection.class))
                .collect();
            stream.log(
                format!("{path}/detections"),
                &rerun::Boxes2D::from_mins_and_sizes(mins, sizes)
                    .with_labels(labels)
                    .with_class_ids(class_ids),
            )?;
            self.counts.boxes_2d += detections.len() as u64;
            stream.set_timestamp_nanos_since_epoch("sensor_time", set.reference_ns as i64);
        }

        self.log_tracks(&set.tracks)?;
        self.log_ground_truth(set.reference_ns)?;
        if let Some(decision) = &set.decision {
            let stream = &self.stream;
            let level = match decision.action {
                Action::Cruise | Action::Follow => rerun::TextLogLevel::INFO,
                Action::Yield | Action::Stop => rerun::TextLogLevel::WARN,
                Action::EmergencyBrake => rerun::TextLogLevel::ERROR,
            };
            stream.log(
                DECISION_PATH,
                &rerun::TextLog::new(format!(
                    "{} {:.1} m/s: {}",
                    name(decision.action),
                    decision.target_speed_mps,
                    decision.reasons.join("; ")
                ))
                .with_level(level),
            )?;
            stream.log(
                format!("{DECISION_PATH}/target_speed_mps"),
                &rerun::Scalars::single(decision.target_speed_mps),
            )?;
            stream.log(
                format!("{DECISION_PATH}/ego_speed_mps"),
                &rerun::Scalars::single(decision.ego_speed_mps),
            )?;
            let ttc_path = format!("{DECISION_PATH}/min_ttc_s");
            match decision.min_ttc_s {
                Some(ttc) => stream.log(ttc_path, &rerun::Scalars::single(ttc))?,
                None => stream.log(ttc_path, &rerun::Clear::flat())?,
            }
            self.log_corridor(decision.look_ahead_m, decision.action)?;
            self.counts.decisions += 1;
        }

        let now = Instant::now();
        let stream = &self.stream;
        for (stage, latency) in set.stage_latencies(now) {
            stream.log(
                format!("{METRICS_PATH}/{stage}/latency_ms"),
                &rerun::Scalars::single(latency.as_secs_f64() * 1e3),
            )?;
        }
        stream.log(
            format!("{METRICS_PATH}/end_to_end_ms"),
            &rerun::Scalars::single(
                now.saturating_duration_since(set.first_arrival)
                    .as_secs_f64()
                    * 1e3,
            ),
        )?;
        for (edge, queued) in &progress.queues {
            stream.log(
                format!("{METRICS_PATH}/queues/{}", edge.replace("->", "_to_")),
                &rerun::Scalars::single(*queued as f64),
            )?;
        }
        Ok(())
    }

    fn log_tracks(&mut self, tracks: &[Track]) -> rerun::RecordingStreamResult<()> {
        let centres: Vec<[f32; 3]> = tracks
            .iter()
            .map(|t| {
                let height = drawn_size(&t.class).height_m as f32;
                [t.position_m[0] as f32, t.position_m[1] as f32, height / 2.0]
            })
            .collect();
        let half_sizes: Vec<[f32; 3]> = tracks
            .iter()
            .map(|t| {
                let size = drawn_size(&t.class);
                [size.length_m, size.width_m, size.height_m].map(|d| (d / 2.0) as f32)
            })
            .collect();
        // Boxes point along the velocity when the object moves.
        let yaws: Vec<f64> = tracks
            .iter()
            .map(|t| {
                let [vx, vy] = t.velocity_mps;
                if vx.hypot(vy) > 1.0 {
                    vy.atan2(vx)
                } else {
                    0.0
                }
            })
            .collect();
        let rotations: Vec<rerun::Quaternion> = yaws
            .iter()
            .map(|yaw| quaternion(&UnitQuaternion::from_euler_angles(0.0, 0.0, *yaw)))
            .collect();
        // Short: they are drawn in the top-down view and in every camera
        // the box projects into; speed is the arrow, the rest on hover.
        let labels: Vec<String> = tracks
            .iter()
            .map(|t| format!("#{} {}", t.id, t.class))
            .collect();
        let class_ids: Vec<rerun::components::ClassId> =
            tracks.iter().map(|t| class_id(&t.class)).collect();
        self.stream.log(
            TRACKS_PATH,
            &rerun::Boxes3D::from_centers_and_half_sizes(centres.clone(), half_sizes.clone())
                .with_quaternions(rotations)
                .with_labels(labels)
                .with_class_ids(class_ids.clone()),
        )?;
        self.stream.log(
            format!("{TRACKS_PATH}/velocity"),
            &rerun::Arrows3D::from_vectors(
                tracks
                    .iter()
                    .map(|t| [t.velocity_mps[0] as f32, t.velocity_mps[1] as f32, 0.0]),
            )
            .with_origins(centres.clone())
            .with_class_ids(class_ids)
            // The box beside it is labelled already.
            .with_show_labels(false),
        )?;
        self.counts.tracks_3d += tracks.len() as u64;
        let boxes: Vec<(EgoBox, u16)> = tracks
            .iter()
            .zip(&centres)
            .zip(&half_sizes)
            .zip(&yaws)
            .map(|(((track, centre), half), yaw)| {
                (
                    EgoBox {
                        centre: centre.map(f64::from).into(),
                        half_size: half.map(f64::from).into(),
                        rotation: UnitQuaternion::from_euler_angles(0.0, 0.0, *yaw),
                    },
                    class_number(&track.class),
                )
            })
            .collect();
        self.log_wireframes("tracks", &boxes, None)
    }

    /// `boxes` drawn into every camera image as wireframes through the
    /// camera's lens (`<camera>/<name>`), coloured by class unless `color`.
    fn log_wireframes(
        &self,
        name: &str,
        boxes: &[(EgoBox, u16)],
        color: Option<rerun::Color>,
    ) -> rerun::RecordingStreamResult<()> {
        for camera in &self.cameras {
            let mut strips: Vec<Vec<[f32; 2]>> = Vec::new();
            let mut classes: Vec<rerun::components::ClassId> = Vec::new();
            for (ego_box, class) in boxes {
                let drawn = wireframe(camera, ego_box);
                classes.extend(std::iter::repeat_n(
                    rerun::components::ClassId::from(*class),
                    drawn.len(),
                ));
                strips.extend(drawn);
            }
            // Unlabelled: the detection boxes carry the labels, and a box's
            // dozen edges would each repeat its class name.
            let mut lines = rerun::LineStrips2D::new(strips)
                .with_class_ids(classes)
                .with_show_labels(false);
            if let Some(color) = color {
                lines = lines
                    .with_colors([color])
                    .with_radii([rerun::Radius::new_ui_points(0.5)]);
            }
            self.stream
                .log(format!("{}/{name}", camera_path(camera.name())), &lines)?;
        }
        Ok(())
    }

    fn log_ground_truth(&mut self, reference_ns: u64) -> rerun::RecordingStreamResult<()> {
        let Some(ground_truth) = &self.ground_truth else {
            return Ok(());
        };
        let path = GROUND_TRUTH_PATH;
        // In the ego frame of the frame set's time, as the evaluation compares them.
        let Some(cuboids) = ground_truth.at(reference_ns) else {
            // No annotation near this instant: show none rather than stale ones.
            for camera in &self.cameras {
                self.stream.log(
                    format!("{}/ground_truth", camera_path(camera.name())),
                    &rerun::Clear::flat(),
                )?;
            }
            return self.stream.log(path, &rerun::Clear::flat());
        };
        let centres = cuboids.iter().map(|c| {
            let t = c.ego_from_object.translation.vector;
            [t.x as f32, t.y as f32, t.z as f32]
        });
        let half_sizes = cuboids.iter().map(|c| {
            [
                (c.length_m / 2.0) as f32,
                (c.width_m / 2.0) as f32,
                (c.height_m / 2.0) as f32,
            ]
        });
        self.stream.log(
            path,
            &rerun::Boxes3D::from_centers_and_half_sizes(centres, half_sizes)
                .with_quaternions(
                    cuboids
                        .iter()
                        .map(|c| quaternion(&c.ego_from_object.rotation)),
                )
                // Faint and thin under the tracks; the category is there
                // on hover, or as a label when switched on in the view.
                .with_labels(cuboids.iter().map(|c| c.category.clone()))
                .with_show_labels(false)
                .with_colors([ground_truth_color()])
                .with_radii([rerun::Radius::new_ui_points(0.5)]),
        )?;
        self.counts.ground_truth_boxes += cuboids.len() as u64;
        let boxes: Vec<(EgoBox, u16)> = cuboids
            .iter()
            .map(|c| {
                (
                    EgoBox {
                        centre: c.ego_from_object.translation.vector.into(),
                        half_size: nalgebra::Vector3::new(c.length_m, c.width_m, c.height_m) / 2.0,
                        rotation: c.ego_from_object.rotation,
                    },
                    OTHER_CLASS,
                )
            })
            .collect();
        self.log_wireframes("ground_truth", &boxes, Some(ground_truth_color()))
    }

    /// The drive corridor the planner looked along, coloured by its decision.
    fn log_corridor(&self, look_ahead_m: f64, action: Action) -> rerun::RecordingStreamResult<()> {
        let front = self.planner.front_offset_m.get() as f32;
        let end = front + look_ahead_m as f32;
        let half = self.planner.corridor_half_width_m.get() as f32;
        let color = match action {
            Action::Cruise => rerun::Color::from_rgb(60, 200, 60),
            Action::Follow => rerun::Color::from_rgb(200, 200, 60),
            Action::Yield => rerun::Color::from_rgb(255, 160, 0),
            Action::Stop | Action::EmergencyBrake => rerun::Color::from_rgb(255, 40, 40),
        };
        self.stream.log(
            format!("{WORLD_PATH}/ego/corridor"),
            &rerun::LineStrips3D::new([[
                [front, half, 0.05],
                [end, half, 0.05],
                [end, -half, 0.05],
                [front, -half, 0.05],
                [front, half, 0.05],
            ]])
            .with_colors([color]),
        )
    }

    /// Flushes the recording (the `.rrd` is complete after this) and says
    /// what went into it. A viewer gets a few seconds: one that went away
    /// must not hold the run's end.
    pub fn finish(self) -> RerunCounts {
        let flushed = if self.to_file {
            self.stream.flush_blocking()
        } else {
            self.stream.flush_with_timeout(VIEWER_FLUSH_TIMEOUT)
        };
        if let Err(e) = flushed {
            tracing::warn!("the Rerun recording may be incomplete: {e}");
        }
        self.counts
    }
}

/// Whether a TCP connection to the URL's host and port can be opened. A URL
/// without a port is left to the SDK to try.
fn reachable(url: &str) -> Result<(), String> {
    let rest = url.split("://").nth(1).unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority
        .rsplit(':')
        .next()
        .is_none_or(|port| port.parse::<u16>().is_err())
    {
        return Ok(());
    }
    let addresses: Vec<SocketAddr> = authority
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{authority}`: {e}"))?
        .collect();
    let mut last_error = String::from("no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, Duration::from_secs(2)) {
            Ok(_) => return Ok(()),
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(last_error)
}

fn quaternion(q: &UnitQuaternion<f64>) -> rerun::Quaternion {
    rerun::Quaternion::from_xyzw([q.i as f32, q.j as f32, q.k as f32, q.w as f32])
}

/// The size a track of this class is drawn at.
fn drawn_size(class: &str) -> ClassSize {
    typical_size(class).unwrap_or(ClassSize {
        length_m: 0.8,
        width_m: 0.8,
        height_m: 0.8,
    })
}

fn ground_truth_color() -> rerun::Color {
    rerun::Color::from_unmultiplied_rgba(170, 170, 255, 150)
}

/// Class id 0: a label outside the driving classes.
const OTHER_CLASS: u16 = 0;

/// A detector label's class id in the annotation context: 1 + its place in
/// `ObjectClass::ALL`.
fn class_number(label: &str) -> u16 {
    ObjectClass::ALL
        .iter()
        .position(|c| c.label() == label)
        .map_or(OTHER_CLASS, |index| index as u16 + 1)
}

fn class_id(label: &str) -> rerun::components::ClassId {
    rerun::components::ClassId::from(class_number(label))
}

/// Class names and colours: one hue per family (people red, two-wheelers
/// orange, vehicles blue), shades within it; lights and signs apart.
fn class_color(class: ObjectClass) -> rerun::Rgba32 {
    let (r, g, b) = match class {
        ObjectClass::Person => (255, 80, 80),
        ObjectClass::Bicycle => (255, 170, 0),
        ObjectClass::Motorcycle => (255, 120, 40),
        ObjectClass::Car => (0, 200, 255),
        ObjectClass::Bus => (40, 130, 255),
        ObjectClass::Truck => (90, 110, 255),
        ObjectClass::Train => (150, 100, 255),
        ObjectClass::TrafficLight => (255, 235, 0),
        ObjectClass::StopSign => (255, 0, 170),
    };
    rerun::Rgba32::from_rgb(r, g, b)
}

fn annotation_context() -> rerun::AnnotationContext {
    let mut classes = vec![rerun::datatypes::ClassDescriptionMapElem::from((
        OTHER_CLASS,
        "other",
        rerun::Rgba32::from_rgb(200, 200, 200),
    ))];
    for class in ObjectClass::ALL {
        classes.push(
            (
                class_number(class.label()),
                class.label(),
                class_color(class),
            )
                .into(),
        );
    }
    rerun::AnnotationContext::new(classes)
}
