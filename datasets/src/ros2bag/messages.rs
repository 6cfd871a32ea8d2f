//! The ROS 2 messages a camera bag holds, as plain structs with their CDR
//! encoding and their `.msg` definitions (the schema text an MCAP bag
//! carries, with nested types in `MSG:` sections as rosbag2 writes them).

use nalgebra::{Isometry3, Quaternion, Translation3, UnitQuaternion};

use super::cdr::{CdrError, CdrReader, CdrWriter};

pub const COMPRESSED_IMAGE: &str = "sensor_msgs/msg/CompressedImage";
pub const CAMERA_INFO: &str = "sensor_msgs/msg/CameraInfo";
pub const TF_MESSAGE: &str = "tf2_msgs/msg/TFMessage";
pub const ODOMETRY: &str = "nav_msgs/msg/Odometry";

/// `builtin_interfaces/msg/Time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}

impl Time {
    /// Nanoseconds since the epoch; `None` before it (or a nanosecond field
    /// of a second or more), which no sensor stamps.
    pub fn to_ns(self) -> Option<u64> {
        let sec = u64::try_from(self.sec).ok()?;
        (self.nanosec < 1_000_000_000).then(|| sec * 1_000_000_000 + u64::from(self.nanosec))
    }

    /// The stamp of a time in nanoseconds; times past 2038 (beyond `int32`
    /// seconds) saturate.
    pub fn from_ns(ns: u64) -> Self {
        Self {
            sec: i32::try_from(ns / 1_000_000_000).unwrap_or(i32::MAX),
            nanosec: (ns % 1_000_000_000) as u32,
        }
    }

    pub fn is_zero(self) -> bool {
        self == Self::default()
    }

    fn decode(r: &mut CdrReader) -> Result<Self, CdrError> {
        Ok(Self {
            sec: r.i32()?,
            nanosec: r.u32()?,
        })
    }

    fn encode(&self, w: &mut CdrWriter) {
        w.i32(self.sec);
        w.u32(self.nanosec);
    }
}

/// `std_msgs/msg/Header`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    pub stamp: Time,
    pub frame_id: String,
}

impl Header {
    fn decode(r: &mut CdrReader) -> Result<Self, CdrError> {
        Ok(Self {
            stamp: Time::decode(r)?,
            frame_id: r.string()?,
        })
    }

    fn encode(&self, w: &mut CdrWriter) {
        self.stamp.encode(w);
        w.string(&self.frame_id);
    }
}

/// `sensor_msgs/msg/CompressedImage`, its data borrowed from the message.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressedImage<'a> {
    pub header: Header,
    /// `jpeg`, `png`, or image_transport's `bgr8; jpeg compressed bgr8`.
    pub format: String,
    pub data: &'a [u8],
}

impl<'a> CompressedImage<'a> {
    pub fn decode(message: &'a [u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(message)?;
        Ok(Self {
            header: Header::decode(&mut r)?,
            format: r.string()?,
            data: r.bytes()?,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = CdrWriter::new();
        self.header.encode(&mut w);
        w.string(&self.format);
        w.bytes(self.data);
        w.finish()
    }

    /// Whether `format` says JPEG, in any of the spellings drivers use.
    pub fn is_jpeg(format: &str) -> bool {
        let format = format.to_ascii_lowercase();
        format.contains("jpeg") || format.contains("jpg")
    }
}

/// `sensor_msgs/msg/RegionOfInterest`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RegionOfInterest {
    pub x_offset: u32,
    pub y_offset: u32,
    pub height: u32,
    pub width: u32,
    pub do_rectify: bool,
}

/// `sensor_msgs/msg/CameraInfo`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CameraInfo {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub distortion_model: String,
    pub d: Vec<f64>,
    /// Row-major 3x3 camera matrix.
    pub k: [f64; 9],
    pub r: [f64; 9],
    /// Row-major 3x4 projection matrix.
    pub p: [f64; 12],
    pub binning_x: u32,
    pub binning_y: u32,
    pub roi: RegionOfInterest,
}

impl CameraInfo {
    pub fn decode(message: &[u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(message)?;
        Ok(Self {
            header: Header::decode(&mut r)?,
            height: r.u32()?,
            width: r.u32()?,
            distortion_model: r.string()?,
            d: r.f64_sequence()?,
            k: r.f64_array()?,
            r: r.f64_array()?,
            p: r.f64_array()?,
            binning_x: r.u32()?,
            binning_y: r.u32()?,
            roi: RegionOfInterest {
                x_offset: r.u32()?,
                y_offset: r.u32()?,
                height: r.u32()?,
                width: r.u32()?,
                do_rectify: r.bool()?,
            },
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = CdrWriter::new();
        self.header.encode(&mut w);
        w.u32(self.height);
        w.u32(self.width);
        w.string(&self.distortion_model);
        w.f64_sequence(&self.d);
        w.f64_array(&self.k);
        w.f64_array(&self.r);
        w.f64_array(&self.p);
        w.u32(self.binning_x);
        w.u32(self.binning_y);
        w.u32(self.roi.x_offset);
        w.u32(self.roi.y_offset);
        w.u32(self.roi.height);
        w.u32(self.roi.width);
        w.bool(self.roi.do_rectify);
        w.finish()
    }
}

/// `geometry_msgs/msg/TransformStamped`: `header.frame_id` is the parent,
/// and `transform` is `parent_from_child` (a point in the child frame, moved
/// by it, is in the parent frame).
#[derive(Debug, Clone, PartialEq)]
pub struct TransformStamped {
    pub header: Header,
    pub child_frame_id: String,
    pub parent_from_child: Isometry3<f64>,
}

/// `geometry_msgs/msg/Pose` or `Transform`: a translation (`Point` or
/// `Vector3`, the same three doubles) and a quaternion (x, y, z, w).
fn decode_isometry(r: &mut CdrReader) -> Result<Isometry3<f64>, CdrError> {
    let translation = Translation3::new(r.f64()?, r.f64()?, r.f64()?);
    let (x, y, z, w) = (r.f64()?, r.f64()?, r.f64()?, r.f64()?);
    // Publishers normalise only to float precision; renormalising keeps the
    // rotation a rotation without moving it measurably.
    let rotation = UnitQuaternion::from_quaternion(Quaternion::new(w, x, y, z));
    Ok(Isometry3::from_parts(translation, rotation))
}

fn encode_isometry(w: &mut CdrWriter, isometry: &Isometry3<f64>) {
    let t = isometry.translation.vector;
    let q = isometry.rotation.quaternion();
    for value in [t.x, t.y, t.z, q.i, q.j, q.k, q.w] {
        w.f64(value);
    }
}

impl TransformStamped {
    fn decode(r: &mut CdrReader) -> Result<Self, CdrError> {
        Ok(Self {
            header: Header::decode(r)?,
            child_frame_id: r.string()?,
            parent_from_child: decode_isometry(r)?,
        })
    }

    fn encode(&self, w: &mut CdrWriter) {
        self.header.encode(w);
        w.string(&self.child_frame_id);
        encode_isometry(w, &self.parent_from_child);
    }
}

/// `tf2_msgs/msg/TFMessage` (`/tf` and `/tf_static`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TfMessage {
    pub transforms: Vec<TransformStamped>,
}

/// The smallest a `TransformStamped` can be on the wire: stamp (8), two
/// empty strings (4 each) and seven doubles (56).
const MIN_TRANSFORM_STAMPED_BYTES: usize = 72;

impl TfMessage {
    pub fn decode(message: &[u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(message)?;
        let count = r.sequence_len(MIN_TRANSFORM_STAMPED_BYTES)?;
        let transforms = (0..count)
            .map(|_| TransformStamped::decode(&mut r))
            .collect::<Result<_, _>>()?;
        Ok(Self { transforms })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = CdrWriter::new();
        w.length(self.transforms.len());
        for transform in &self.transforms {
            transform.encode(&mut w);
        }
        w.finish()
    }
}

/// The part of `nav_msgs/msg/Odometry` a pose needs: `header.frame_id` (the
/// world), `child_frame_id` (the body) and `pose.pose`, `world_from_child`.
/// Covariances and twist follow on the wire and are not read.
#[derive(Debug, Clone, PartialEq)]
pub struct Odometry {
    pub header: Header,
    pub child_frame_id: String,
    pub world_from_child: Isometry3<f64>,
}

impl Odometry {
    pub fn decode(message: &[u8]) -> Result<Self, CdrError> {
        let mut r = CdrReader::new(message)?;
        Ok(Self {
            header: Header::decode(&mut r)?,
            child_frame_id: r.string()?,
            world_from_child: decode_isometry(&mut r)?,
        })
    }
}

/// The separator rosbag2 puts between a definition and each nested type's.
const SEPARATOR: &str =
    "================================================================================";

const TIME_MSG: &str = "int32 sec\nuint32 nanosec\n";
const HEADER_MSG: &str = "builtin_interfaces/Time stamp\nstring frame_id\n";
const COMPRESSED_IMAGE_MSG: &str = "std_msgs/Header header\nstring format\nuint8[] data\n";
const REGION_OF_INTEREST_MSG: &str =
    "uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n";
const CAMERA_INFO_MSG: &str = "std_msgs/Header header\n\
uint32 height\nuint32 width\n\
string distortion_model\nfloat64[] d\n\
float64[9] k\nfloat64[9] r\nfloat64[12] p\n\
uint32 binning_x\nuint32 binning_y\n\
RegionOfInterest roi\n";
const TF_MESSAGE_MSG: &str = "geometry_msgs/TransformStamped[] transforms\n";
const TRANSFORM_STAMPED_MSG: &str =
    "std_msgs/Header header\nstring child_frame_id\nTransform transform\n";
const TRANSFORM_MSG: &str = "Vector3 translation\nQuaternion rotation\n";
const VECTOR3_MSG: &str = "float64 x\nfloat64 y\nfloat64 z\n";
const QUATERNION_MSG: &str = "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n";

/// A type's definition followed by its nested types', as rosbag2 stores it.
fn definition(text: &str, nested: &[(&str, &str)]) -> String {
    let mut out = text.to_owned();
    for (name, text) in nested {
        out.push_str(&format!("{SEPARATOR}\nMSG: {name}\n{text}"));
    }
    out
}

pub fn compressed_image_definition() -> String {
    definition(
        COMPRESSED_IMAGE_MSG,
        &[
            ("std_msgs/Header", HEADER_MSG),
            ("builtin_interfaces/Time", TIME_MSG),
        ],
    )
}

pub fn camera_info_definition() -> String {
    definition(
        CAMERA_INFO_MSG,
        &[
            ("std_msgs/Header", HEADER_MSG),
            ("builtin_interfaces/Time", TIME_MSG),
            ("sensor_msgs/RegionOfInterest", REGION_OF_INTEREST_MSG),
        ],
    )
}

pub fn tf_message_definition() -> String {
    definition(
        TF_MESSAGE_MSG,
        &[
            ("geometry_msgs/TransformStamped", TRANSFORM_STAMPED_MSG),
            ("std_msgs/Header", HEADER_MSG),
            ("builtin_interfaces/Time", TIME_MSG),
            ("geometry_msgs/Transform", TRANSFORM_MSG),
            ("geometry_msgs/Vector3", VECTOR3_MSG),
            ("geometry_msgs/Quaternion", QUATERNION_MSG),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_info_round_trips() {
        let info = CameraInfo {
            header: Header {
                stamp: Time::from_ns(1_700_000_000_123_456_789),
                frame_id: "front_optical_frame".into(),
            },
            height: 480,
            width: 640,
            distortion_model: "plumb_bob".into(),
            d: vec![0.1, -0.2, 0.0, 0.0, 0.01],
            k: [500.0, 0.0, 320.0, 0.0, 501.0, 240.0, 0.0, 0.0, 1.0],
            r: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
            p: [
                500.0, 0.0, 320.0, 0.0, 0.0, 501.0, 240.0, 0.0, 0.0, 0.0, 1.0, 0.0,
            ],
            binning_x: 0,
            binning_y: 0,
            roi: RegionOfInterest::default(),
        };
        assert_eq!(CameraInfo::decode(&info.encode()).unwrap(), info);
        assert_eq!(info.header.stamp.to_ns(), Some(1_700_000_000_123_456_789));
    }

    #[test]
    fn tf_and_images_round_trip() {
        let tf = TfMessage {
            transforms: vec![TransformStamped {
                header: Header {
                    stamp: Time { sec: 5, nanosec: 6 },
                    frame_id: "base_link".into(),
                },
                child_frame_id: "cam".into(),
                parent_from_child: Isometry3::new(
                    nalgebra::Vector3::new(1.0, 2.0, 3.0),
                    nalgebra::Vector3::new(0.1, 0.2, 0.3),
                ),
            }],
        };
        let back = TfMessage::decode(&tf.encode()).unwrap();
        assert_eq!(back.transforms[0].header, tf.transforms[0].header);
        assert!(
            (back.transforms[0].parent_from_child.to_homogeneous()
                - tf.transforms[0].parent_from_child.to_homogeneous())
            .abs()
            .max()
                < 1e-15
        );

        let image = CompressedImage {
            header: Header::default(),
            format: "jpeg".into(),
            data: &[0xff, 0xd8, 0xff, 0xd9],
        };
        assert_eq!(CompressedImage::decode(&image.encode()).unwrap(), image);
        assert!(CompressedImage::is_jpeg("bgr8; jpeg compressed bgr8"));
        assert!(!CompressedImage::is_jpeg("png"));
    }

    #[test]
    fn negative_stamps_have_no_nanoseconds() {
        assert_eq!(
            Time {
                sec: -1,
                nanosec: 0
            }
            .to_ns(),
            None
        );
    }
}
