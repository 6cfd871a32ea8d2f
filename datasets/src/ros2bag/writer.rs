//! Writing a ROS 2 bag (MCAP, CDR) of a rig's cameras, as `heptaview live
//! --record` keeps a drive: `/tf_static` once, then each frame as its
//! `CameraInfo` and `CompressedImage`, and the vehicle's poses on `/tf`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use heptaview_calibration::Rig;
use mcap::records::MessageHeader;
use nalgebra::Isometry3;

use super::messages::{
    CAMERA_INFO, COMPRESSED_IMAGE, CameraInfo, CompressedImage, Header, RegionOfInterest,
    TF_MESSAGE, TfMessage, Time, TransformStamped, camera_info_definition,
    compressed_image_definition, tf_message_definition,
};
use super::reader::{CDR, TF_STATIC_TOPIC, TF_TOPIC};
use super::topics::DEFAULT_EGO_FRAME;
use crate::error::DatasetError;

/// The frame `/tf` poses are given in (REP 105's fixed world frame).
pub const WORLD_FRAME: &str = "map";
/// The schema encoding of ROS 2 `.msg` definitions in MCAP.
const ROS2MSG: &str = "ros2msg";

/// The topics of a camera in a heptaview bag.
pub fn image_topic(camera: &str) -> String {
    format!("/{camera}/image_raw/compressed")
}

pub fn camera_info_topic(camera: &str) -> String {
    format!("/{camera}/camera_info")
}

/// The TF frame of a camera (REP 103's optical frame: z forward, x right,
/// y down, which is heptaview's camera frame).
pub fn optical_frame(camera: &str) -> String {
    format!("{camera}_optical_frame")
}

struct CameraChannels {
    name: String,
    image: u16,
    info: u16,
    /// The camera's calibration message; each frame sends it with its stamp.
    info_message: CameraInfo,
    sequence: u32,
}

/// Writes one bag. Messages go to the file as they come (in chunks of about
/// 1 MiB), so a long recording holds little in memory.
pub struct Ros2BagWriter {
    path: PathBuf,
    writer: mcap::Writer<BufWriter<File>>,
    cameras: Vec<CameraChannels>,
    tf: u16,
    tf_sequence: u32,
    tf_static: u16,
    /// The `/tf_static` message, written before the first frame or pose (at
    /// its time: a message stamped 0 would make players wait from 1970).
    pending_static: Option<TfMessage>,
    /// A pose that could not be written: `add_pose` has no result (like
    /// the AV2 writer's, which only buffers), so the next write or `finish`
    /// reports it.
    failed: Option<DatasetError>,
}

impl std::fmt::Debug for Ros2BagWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ros2BagWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A ROS name segment: letters, digits and `_`, not starting with a digit.
fn is_ros_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn camera_info(camera: &heptaview_calibration::RigCamera) -> CameraInfo {
    let model = camera.model();
    let k = model.intrinsics();
    let (distortion_model, d) = model.lens().to_ros();
    CameraInfo {
        header: Header {
            stamp: Time::default(),
            frame_id: optical_frame(camera.name()),
        },
        height: k.height_px,
        width: k.width_px,
        distortion_model: distortion_model.to_owned(),
        d,
        k: [k.fx_px, 0.0, k.cx_px, 0.0, k.fy_px, k.cy_px, 0.0, 0.0, 1.0],
        r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        // The images are not rectified: P is K with no baseline.
        p: [
            k.fx_px, 0.0, k.cx_px, 0.0, 0.0, k.fy_px, k.cy_px, 0.0, 0.0, 0.0, 1.0, 0.0,
        ],
        binning_x: 0,
        binning_y: 0,
        roi: RegionOfInterest::default(),
    }
}

impl Ros2BagWriter {
    /// Creates the bag at `path` with a channel per camera topic and the
    /// rig's calibration (sent with the first frame).
    pub fn create(path: &Path, rig: &Rig) -> Result<Self, DatasetError> {
        if let Some(bad) = rig.camera_names().find(|name| !is_ros_name(name)) {
            return Err(DatasetError::Layout {
                path: path.to_path_buf(),
                message: format!(
                    "camera `{bad}` cannot name a ROS topic (letters, digits and _ only, not starting with a digit)"
                ),
            });
        }
        let file = File::create(path).map_err(|source| DatasetError::Write {
            path: path.to_path_buf(),
            source,
        })?;
        let write_error = |e: mcap::McapError| write_error(path, e);
        // JPEG does not compress further; zstd over it would only spend the
        // live run's CPU.
        let options = mcap::WriteOptions::new()
            .profile("ros2")
            .library(concat!(
                "heptaview/",
                env!("CARGO_PKG_VERSION"),
                " mcap-rust/0.25"
            ))
            .compression(None);
        let mut writer = options.create(BufWriter::new(file)).map_err(write_error)?;
        let image_schema = writer
            .add_schema(
                COMPRESSED_IMAGE,
                ROS2MSG,
                compressed_image_definition().as_bytes(),
            )
            .map_err(write_error)?;
        let info_schema = writer
            .add_schema(CAMERA_INFO, ROS2MSG, camera_info_definition().as_bytes())
            .map_err(write_error)?;
        let tf_schema = writer
            .add_schema(TF_MESSAGE, ROS2MSG, tf_message_definition().as_bytes())
            .map_err(write_error)?;
        let no_metadata = BTreeMap::new();
        let tf_static = writer
            .add_channel(tf_schema, TF_STATIC_TOPIC, CDR, &no_metadata)
            .map_err(write_error)?;
        let tf = writer
            .add_channel(tf_schema, TF_TOPIC, CDR, &no_metadata)
            .map_err(write_error)?;
        let mut cameras = Vec::with_capacity(rig.cameras().len());
        let mut static_links = Vec::with_capacity(rig.cameras().len());
        for camera in rig.cameras() {
            let name = camera.name();
            let info = writer
                .add_channel(info_schema, &camera_info_topic(name), CDR, &no_metadata)
                .map_err(write_error)?;
            let image = writer
                .add_channel(image_schema, &image_topic(name), CDR, &no_metadata)
                .map_err(write_error)?;
            cameras.push(CameraChannels {
                name: name.to_owned(),
                image,
                info,
                info_message: camera_info(camera),
                sequence: 0,
            });
            static_links.push(TransformStamped {
                header: Header {
                    stamp: Time::default(),
                    frame_id: DEFAULT_EGO_FRAME.to_owned(),
                },
                child_frame_id: optical_frame(name),
                parent_from_child: *camera.ego_from_camera(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            writer,
            cameras,
            tf,
            tf_sequence: 0,
            tf_static,
            pending_static: Some(TfMessage {
                transforms: static_links,
            }),
            failed: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(
        &mut self,
        channel_id: u16,
        sequence: u32,
        t_ns: u64,
        data: &[u8],
    ) -> Result<(), DatasetError> {
        // Log time is the sensor time: a recording is replayed by it, and
        // the stamps are what heptaview's pipeline ran on.
        let header = MessageHeader {
            channel_id,
            sequence,
            log_time: t_ns,
            publish_time: t_ns,
        };
        self.writer
            .write_to_known_channel(&header, data)
            .map_err(|e| write_error(&self.path, e))
    }

    fn write_static(&mut self, t_ns: u64) -> Result<(), DatasetError> {
        if let Some(mut message) = self.pending_static.take() {
            for link in &mut message.transforms {
                link.header.stamp = Time::from_ns(t_ns);
            }
            self.write(self.tf_static, 0, t_ns, &message.encode())?;
        }
        Ok(())
    }

    /// Stores one frame's JPEG bytes as they are (no re-encoding), with the
    /// camera's `CameraInfo` at the same stamp.
    pub fn write_jpeg(
        &mut self,
        camera: &str,
        timestamp_ns: u64,
        jpeg: &[u8],
    ) -> Result<(), DatasetError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let i = self
            .cameras
            .iter()
            .position(|c| c.name == camera)
            .ok_or_else(|| DatasetError::MissingCamera {
                path: self.path.clone(),
                camera: camera.to_owned(),
            })?;
        self.write_static(timestamp_ns)?;
        let stamp = Time::from_ns(timestamp_ns);
        let channels = &mut self.cameras[i];
        channels.info_message.header.stamp = stamp;
        let info = channels.info_message.encode();
        let image = CompressedImage {
            header: Header {
                stamp,
                frame_id: channels.info_message.header.frame_id.clone(),
            },
            format: "jpeg".to_owned(),
            data: jpeg,
        }
        .encode();
        let (info_channel, image_channel, sequence) =
            (channels.info, channels.image, channels.sequence);
        channels.sequence = channels.sequence.wrapping_add(1);
        self.write(info_channel, sequence, timestamp_ns, &info)?;
        self.write(image_channel, sequence, timestamp_ns, &image)
    }

    /// Records where the vehicle was: `map → base_link` on `/tf`. A failure
    /// to write is reported by the next `write_jpeg` or by `finish`.
    pub fn add_pose(&mut self, timestamp_ns: u64, city_from_ego: Isometry3<f64>) {
        if self.failed.is_none()
            && let Err(error) = self.write_pose(timestamp_ns, city_from_ego)
        {
            self.failed = Some(error);
        }
    }

    fn write_pose(
        &mut self,
        timestamp_ns: u64,
        city_from_ego: Isometry3<f64>,
    ) -> Result<(), DatasetError> {
        self.write_static(timestamp_ns)?;
        let message = TfMessage {
            transforms: vec![TransformStamped {
                header: Header {
                    stamp: Time::from_ns(timestamp_ns),
                    frame_id: WORLD_FRAME.to_owned(),
                },
                child_frame_id: DEFAULT_EGO_FRAME.to_owned(),
                parent_from_child: city_from_ego,
            }],
        };
        let sequence = self.tf_sequence;
        self.tf_sequence = self.tf_sequence.wrapping_add(1);
        self.write(self.tf, sequence, timestamp_ns, &message.encode())
    }

    /// Writes the summary and index that make the bag readable, and flushes
    /// it to disk. A bag never finished has no summary (see `mcap recover`).
    pub fn finish(mut self) -> Result<(), DatasetError> {
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        self.write_static(0)?;
        self.writer
            .finish()
            .map_err(|e| write_error(&self.path, e))?;
        let path = self.path.clone();
        self.writer
            .into_inner()
            .flush()
            .map_err(|source| DatasetError::Write { path, source })
    }
}

fn write_error(path: &Path, error: mcap::McapError) -> DatasetError {
    let source = match error {
        mcap::McapError::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    };
    DatasetError::Write {
        path: path.to_path_buf(),
        source,
    }
}
