//! Reading a ROS 2 bag: one pass at open over the camera, calibration and
//! transform topics (a chunk at a time), then each image read again from its
//! chunk when the pipeline asks for it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use heptaview_calibration::{CameraModel, EgoPoses, Intrinsics, Lens, Rig, RigCamera};
use mcap::records::MessageHeader;

use super::mcap_file::{ChunkMessages, McapFile, MessageAt};
use super::messages::{
    CAMERA_INFO, COMPRESSED_IMAGE, CameraInfo, CompressedImage, ODOMETRY, Odometry, TF_MESSAGE,
    TfMessage, Time,
};
use super::topics::{CameraTopics, TopicMap, derive_cameras};
use super::transforms::{DynamicLinks, StaticTree, ego_poses, frame_name};
use crate::av2::GroundTruth;
use crate::error::{DatasetError, FrameError};
use crate::log_reader::{LogReader, OpenOptions};

pub const TF_STATIC_TOPIC: &str = "/tf_static";
pub const TF_TOPIC: &str = "/tf";
/// The only message encoding of ROS 2 bags heptaview decodes.
pub const CDR: &str = "cdr";
/// A rig has between one and this many cameras (heptaview's widest rigs).
pub const MAX_CAMERAS: usize = 12;

/// One camera's images: their stamps, sorted, and where each is in the file.
#[derive(Debug)]
struct CameraFrames {
    name: String,
    topic: String,
    timestamps_ns: Vec<u64>,
    at: Vec<MessageAt>,
}

/// The file, and the last chunk read from it: the pipeline asks for frames
/// in time order, so consecutive images mostly share a chunk.
#[derive(Debug)]
struct ChunkSource {
    file: McapFile,
    cached: Option<(u32, ChunkMessages)>,
}

/// An opened ROS 2 bag (MCAP): its rig from `CameraInfo` and `/tf_static`,
/// its images' stamps and places, and its ego poses; image bytes stay in
/// the file until asked for.
#[derive(Debug)]
pub struct Ros2Bag {
    root: PathBuf,
    rig: Rig,
    cameras: Vec<CameraFrames>,
    poses: Option<EgoPoses>,
    source: Mutex<ChunkSource>,
}

/// What the open pass gathers for one camera.
#[derive(Default)]
struct Gathered {
    frames: Vec<(u64, MessageAt)>,
    info: Option<CameraInfo>,
    image_frame_id: Option<String>,
}

/// The `.mcap` file of a bag path: the file itself, or the one `.mcap` in a
/// rosbag2 folder.
fn mcap_path(root: &Path) -> Result<PathBuf, DatasetError> {
    if !root.is_dir() {
        return Ok(root.to_path_buf());
    }
    let entries = std::fs::read_dir(root).map_err(|source| DatasetError::Read {
        path: root.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| is_mcap_name(p))
        .collect();
    files.sort();
    match files.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(DatasetError::Layout {
            path: root.to_path_buf(),
            message: "the bag folder has no .mcap file".to_owned(),
        }),
        several => Err(DatasetError::Layout {
            path: root.to_path_buf(),
            message: format!(
                "the bag is split over {} .mcap files; heptaview reads a bag of one file \
                 (`ros2 bag convert` can merge them)",
                several.len()
            ),
        }),
    }
}

pub(super) fn is_mcap_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("mcap"))
}

/// A channel's topic, schema and encoding, looked up by topic.
struct TopicInfo {
    ids: Vec<u16>,
    schema: String,
    encoding: String,
}

impl Ros2Bag {
    /// Opens the bag at `root` (an `.mcap` file, or a rosbag2 folder holding
    /// one) with the user's topic map, if any.
    pub fn open(root: &Path, options: &OpenOptions) -> Result<Self, DatasetError> {
        let path = mcap_path(root)?;
        let mut file = McapFile::open(&path)?;
        let layout = |message: String| DatasetError::Layout {
            path: path.clone(),
            message,
        };
        let map = match &options.topic_map {
            Some(map_path) => TopicMap::read(map_path)?,
            None => TopicMap::default(),
        };
        let map_label = options
            .topic_map
            .as_ref()
            .map(|p| format!("topic map {}: ", p.display()))
            .unwrap_or_default();

        let mut topics: HashMap<String, TopicInfo> = HashMap::new();
        for channel in file.channels().values() {
            let schema = channel.schema.as_ref().map_or("", |s| s.name.as_str());
            let entry = topics
                .entry(channel.topic.clone())
                .or_insert_with(|| TopicInfo {
                    ids: Vec::new(),
                    schema: schema.to_owned(),
                    encoding: channel.message_encoding.clone(),
                });
            entry.ids.push(channel.id);
        }
        // Checks that a topic is in the bag with the type heptaview decodes.
        let require = |topic: &str, schema: &str, what: &str| -> Result<Vec<u16>, DatasetError> {
            let info = topics
                .get(topic)
                .ok_or_else(|| layout(format!("{what}topic {topic} is not in the bag")))?;
            if info.schema != schema {
                return Err(layout(format!(
                    "topic {topic} carries {}, not {schema}",
                    if info.schema.is_empty() {
                        "messages without a schema"
                    } else {
                        &info.schema
                    }
                )));
            }
            if info.encoding != CDR {
                return Err(layout(format!(
                    "topic {topic}: message encoding `{}` is not supported (ROS 2 bags use cdr)",
                    info.encoding
                )));
            }
            Ok(info.ids.clone())
        };

        let cameras: Vec<CameraTopics> = if map.cameras.is_empty() {
            let image_topics: Vec<&str> = topics
                .iter()
                .filter(|(_, info)| info.schema == COMPRESSED_IMAGE)
                .map(|(topic, _)| topic.as_str())
                .collect();
            derive_cameras(&image_topics).map_err(layout)?
        } else {
            map.cameras.clone()
        };
        if cameras.is_empty() {
            return Err(layout(format!(
                "no {COMPRESSED_IMAGE} topics: heptaview reads camera images from them"
            )));
        }
        if cameras.len() > MAX_CAMERAS {
            return Err(layout(format!(
                "{} image topics, heptaview reads at most {MAX_CAMERAS} cameras; choose them in a topic map",
                cameras.len()
            )));
        }

        // Channel id → what it is, for the pass over the messages.
        enum Role {
            Image(usize),
            Info(usize),
            TfStatic,
            Tf,
            Odometry,
        }
        let mut roles: HashMap<u16, Role> = HashMap::new();
        for (i, camera) in cameras.iter().enumerate() {
            for id in require(&camera.image, COMPRESSED_IMAGE, &map_label)? {
                roles.insert(id, Role::Image(i));
            }
            if !topics.contains_key(&camera.info) {
                return Err(layout(format!(
                    "topic {}: no {CAMERA_INFO} on {}",
                    camera.image, camera.info
                )));
            }
            for id in require(&camera.info, CAMERA_INFO, &map_label)? {
                roles.insert(id, Role::Info(i));
            }
        }
        if topics.contains_key(TF_STATIC_TOPIC) {
            for id in require(TF_STATIC_TOPIC, TF_MESSAGE, "")? {
                roles.insert(id, Role::TfStatic);
            }
        }
        if topics.contains_key(TF_TOPIC) {
            for id in require(TF_TOPIC, TF_MESSAGE, "")? {
                roles.insert(id, Role::Tf);
            }
        }
        if let Some(odometry) = &map.odometry {
            for id in require(odometry, ODOMETRY, &map_label)? {
                roles.insert(id, Role::Odometry);
            }
        }

        let mut gathered: Vec<Gathered> = cameras.iter().map(|_| Gathered::default()).collect();
        let mut static_tree = StaticTree::default();
        let mut dynamic = DynamicLinks::default();
        let mut odometry: Vec<(u64, Odometry)> = Vec::new();
        let wanted: HashSet<u16> = roles.keys().copied().collect();
        let file_path = path.clone();
        let bad =
            |topic: &str, header: &MessageHeader, e: &dyn std::fmt::Display| DatasetError::Layout {
                path: file_path.clone(),
                message: format!(
                    "topic {topic}: the message logged at {} ns does not decode: {e}",
                    header.log_time
                ),
            };
        // A stamp of zero means the publisher never set it (some drivers
        // leave it so); the time the recorder logged the message is the
        // best left, though it includes transport delay.
        let stamp_ns = |stamp: Time, header: &MessageHeader| -> Option<u64> {
            if stamp.is_zero() {
                Some(header.log_time)
            } else {
                stamp.to_ns()
            }
        };
        let mut topic_of: HashMap<u16, String> = HashMap::new();
        for id in &wanted {
            topic_of.insert(*id, file.topic(*id).to_owned());
        }
        file.for_each_message(&wanted, |at, header, data| {
            let topic = topic_of.get(&header.channel_id).map_or("?", String::as_str);
            match roles.get(&header.channel_id) {
                Some(Role::Image(i)) => {
                    let image =
                        CompressedImage::decode(data).map_err(|e| bad(topic, header, &e))?;
                    if !CompressedImage::is_jpeg(&image.format) {
                        return Err(DatasetError::Layout {
                            path: file_path.clone(),
                            message: format!(
                                "topic {topic}: images are {}, heptaview reads JPEG",
                                image.format
                            ),
                        });
                    }
                    let t = stamp_ns(image.header.stamp, header).ok_or_else(|| {
                        bad(
                            topic,
                            header,
                            &format!("stamp {:?} is before 1970", image.header.stamp),
                        )
                    })?;
                    let camera = &mut gathered[*i];
                    camera.frames.push((t, at));
                    camera
                        .image_frame_id
                        .get_or_insert_with(|| image.header.frame_id.clone());
                }
                Some(Role::Info(i)) if gathered[*i].info.is_none() => {
                    let info = CameraInfo::decode(data).map_err(|e| bad(topic, header, &e))?;
                    gathered[*i].info = Some(info);
                }
                Some(Role::TfStatic) => {
                    let tf = TfMessage::decode(data).map_err(|e| bad(topic, header, &e))?;
                    for transform in &tf.transforms {
                        static_tree.insert(transform);
                    }
                }
                Some(Role::Tf) => {
                    let tf = TfMessage::decode(data).map_err(|e| bad(topic, header, &e))?;
                    for transform in &tf.transforms {
                        if let Some(t) = stamp_ns(transform.header.stamp, header) {
                            dynamic.insert(t, transform);
                        }
                    }
                }
                Some(Role::Odometry) => {
                    let odom = Odometry::decode(data).map_err(|e| bad(topic, header, &e))?;
                    if let Some(t) = stamp_ns(odom.header.stamp, header) {
                        odometry.push((t, odom));
                    }
                }
                Some(Role::Info(_)) | None => {}
            }
            Ok(())
        })?;

        let ego_frame = map.ego_frame();
        let mut rig_cameras = Vec::with_capacity(cameras.len());
        let mut frames = Vec::with_capacity(cameras.len());
        for (camera, gathered) in cameras.iter().zip(gathered) {
            let info = gathered.info.ok_or_else(|| {
                layout(format!(
                    "topic {}: no {CAMERA_INFO} on {} (the topic has no messages)",
                    camera.image, camera.info
                ))
            })?;
            let model =
                camera_model(&info).map_err(|e| layout(format!("topic {}: {e}", camera.info)))?;
            let frame = match frame_name(&info.header.frame_id) {
                "" => frame_name(gathered.image_frame_id.as_deref().unwrap_or("")).to_owned(),
                frame => frame.to_owned(),
            };
            if frame.is_empty() {
                return Err(layout(format!(
                    "topic {}: CameraInfo has no header.frame_id, so the camera cannot be placed",
                    camera.info
                )));
            }
            // The optical frame of REP 103 (z forward, x right, y down) is
            // heptaview's camera frame, and base_link (x forward, y left,
            // z up) its ego frame, so the chain is ego_from_camera as is.
            let ego_from_camera = static_tree.transform(ego_frame, &frame).map_err(|e| {
                layout(format!(
                    "camera {} (topic {}, frame {frame}): {e}",
                    camera.name, camera.image
                ))
            })?;
            let rig_camera = RigCamera::new(&camera.name, model, ego_from_camera)
                .map_err(|e| layout(format!("camera {}: {}", camera.name, error_chain(&e))))?;
            rig_cameras.push(rig_camera);

            let mut pairs = gathered.frames;
            if pairs.is_empty() {
                return Err(layout(format!("topic {}: no images", camera.image)));
            }
            pairs.sort_by_key(|(t, _)| *t);
            if let Some(pair) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(layout(format!(
                    "topic {}: two images are stamped {} ns",
                    camera.image, pair[0].0
                )));
            }
            let (timestamps_ns, at) = pairs.into_iter().unzip();
            frames.push(CameraFrames {
                name: camera.name.clone(),
                topic: camera.image.clone(),
                timestamps_ns,
                at,
            });
        }
        let rig_name = rig_name(root);
        let rig = Rig::new(rig_name, rig_cameras).map_err(|e| layout(error_chain(&e)))?;

        let poses = match &map.odometry {
            Some(topic) => Some(
                odometry_poses(&static_tree, odometry, ego_frame)
                    .map_err(|e| layout(format!("topic {topic}: {e}")))?,
            ),
            None => ego_poses(
                &static_tree,
                &dynamic,
                ego_frame,
                map.world_frame.as_deref(),
            )
            .map_err(|e| layout(format!("topic {TF_TOPIC}: {e}")))?,
        };

        Ok(Self {
            root: root.to_path_buf(),
            rig,
            cameras: frames,
            poses,
            source: Mutex::new(ChunkSource { file, cached: None }),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn rig(&self) -> &Rig {
        &self.rig
    }

    /// The image topic heptaview reads a camera from.
    pub fn image_topic(&self, camera: &str) -> Option<&str> {
        self.cameras
            .iter()
            .find(|c| c.name == camera)
            .map(|c| c.topic.as_str())
    }

    /// The JPEG bytes of one image message, as recorded.
    pub fn read_jpeg(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        let no_frame = || FrameError::NoSuchFrame {
            path: self.root.clone(),
            camera: camera.to_owned(),
            timestamp_ns,
        };
        let frames = self
            .cameras
            .iter()
            .find(|c| c.name == camera)
            .ok_or_else(no_frame)?;
        let i = frames
            .timestamps_ns
            .binary_search(&timestamp_ns)
            .map_err(|_| no_frame())?;
        let at = frames.at[i];
        let bad = |message: String| FrameError::Read {
            path: self.root.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "topic {}, image at {timestamp_ns} ns: {message}",
                    frames.topic
                ),
            ),
        };
        // A panic elsewhere while the lock was held leaves at worst a
        // missing or complete cache entry, both of which are safe to use.
        let mut source = self.source.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = matches!(&source.cached, Some((chunk, _)) if *chunk == at.chunk);
        if !cached {
            source.cached = None;
            let messages = source
                .file
                .read_chunk(at.chunk)
                .map_err(|e| bad(error_chain(&e)))?;
            source.cached = Some((at.chunk, messages));
        }
        let message = source
            .cached
            .as_ref()
            .and_then(|(_, messages)| messages.get(at.ordinal as usize))
            .ok_or_else(|| bad("the message is no longer where the index put it".to_owned()))?;
        let image = CompressedImage::decode(&message.1).map_err(|e| bad(e.to_string()))?;
        Ok(image.data.to_vec())
    }

    pub fn ego_poses(&self) -> Option<&EgoPoses> {
        self.poses.as_ref()
    }
}

/// The rig's name: the bag's file stem, or its folder's name.
fn rig_name(root: &Path) -> String {
    let name = if root.is_dir() {
        root.file_name()
    } else {
        root.file_stem()
    };
    name.map_or_else(|| "bag".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The camera model of a `CameraInfo`: K's focal lengths and principal
/// point, the image size, and the lens its distortion model names.
fn camera_model(info: &CameraInfo) -> Result<CameraModel, String> {
    let k = &info.k;
    if k[1] != 0.0 {
        return Err(format!(
            "K has a skew term ({}), which heptaview's cameras do not model",
            k[1]
        ));
    }
    let intrinsics = Intrinsics {
        width_px: info.width,
        height_px: info.height,
        fx_px: k[0],
        fy_px: k[4],
        cx_px: k[2],
        cy_px: k[5],
    };
    let lens = Lens::from_ros(&info.distortion_model, &info.d).map_err(|e| e.to_string())?;
    CameraModel::with_lens(intrinsics, lens).map_err(|e| e.to_string())
}

/// `world_from_ego` from odometry: the message's body frame moved to the ego
/// frame through `/tf_static` when they differ.
fn odometry_poses(
    static_tree: &StaticTree,
    odometry: Vec<(u64, Odometry)>,
    ego_frame: &str,
) -> Result<EgoPoses, String> {
    let mut samples = Vec::with_capacity(odometry.len());
    for (t, odom) in odometry {
        let body = frame_name(&odom.child_frame_id);
        let body_from_ego = if body.is_empty() || body == ego_frame {
            nalgebra::Isometry3::identity()
        } else {
            static_tree.transform(body, ego_frame)?
        };
        samples.push((t, odom.world_from_child * body_from_ego));
    }
    if samples.is_empty() {
        return Err("no odometry messages".to_owned());
    }
    Ok(EgoPoses::from_samples(samples))
}

/// An error and its causes on one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

impl LogReader for Ros2Bag {
    fn format(&self) -> &'static str {
        "ros2bag"
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn rig(&self) -> &Rig {
        &self.rig
    }

    fn timestamps_ns(&self, camera: &str) -> Result<&[u64], DatasetError> {
        self.cameras
            .iter()
            .find(|c| c.name == camera)
            .map(|c| c.timestamps_ns.as_slice())
            .ok_or_else(|| DatasetError::MissingCamera {
                path: self.root.clone(),
                camera: camera.to_owned(),
            })
    }

    fn read_image(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        self.read_jpeg(camera, timestamp_ns)
    }

    fn ego_poses(&self) -> Option<&EgoPoses> {
        self.poses.as_ref()
    }

    fn ground_truth(&self) -> Option<GroundTruth> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros2bag::messages::{Header, TransformStamped};
    use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};

    #[test]
    fn odometry_of_another_body_frame_is_moved_to_the_ego_frame() {
        let mut tree = StaticTree::default();
        // The IMU sits 1 m ahead of base_link.
        tree.insert(&TransformStamped {
            header: Header {
                stamp: Time::default(),
                frame_id: "base_link".into(),
            },
            child_frame_id: "imu".into(),
            parent_from_child: Isometry3::translation(1.0, 0.0, 0.0),
        });
        let turned = Isometry3::from_parts(
            Translation3::new(10.0, 0.0, 0.0),
            UnitQuaternion::from_axis_angle(&Vector3::z_axis(), std::f64::consts::FRAC_PI_2),
        );
        let odometry = |child: &str| Odometry {
            header: Header {
                stamp: Time { sec: 1, nanosec: 0 },
                frame_id: "odom".into(),
            },
            child_frame_id: child.into(),
            world_from_child: turned,
        };
        let poses =
            odometry_poses(&tree, vec![(1_000_000_000, odometry("imu"))], "base_link").unwrap();
        let world_from_ego = poses.exact(1_000_000_000).unwrap();
        // base_link is 1 m behind the IMU, which faces +y: at (10, -1).
        let origin = world_from_ego.translation.vector;
        assert!(
            (origin - Vector3::new(10.0, -1.0, 0.0)).norm() < 1e-12,
            "{origin}"
        );
        let poses = odometry_poses(&tree, vec![(5, odometry("base_link"))], "base_link").unwrap();
        assert_eq!(poses.exact(5), Some(turned));
        assert!(odometry_poses(&tree, vec![(5, odometry("wheel"))], "base_link").is_err());
    }

    #[test]
    fn readers_and_writers_cross_threads() {
        fn send_and_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_and_sync::<Ros2Bag>();
        send::<crate::ros2bag::Ros2BagWriter>();
    }
}
