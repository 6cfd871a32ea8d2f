//! Argoverse 2 sensor logs, in the official layout:
//!
//! ```text
//! <log>/sensors/cameras/<camera>/<timestamp_ns>.jpg
//! <log>/calibration/intrinsics.feather            sensor_name fx_px fy_px cx_px cy_px k1 k2 k3 height_px width_px
//! <log>/calibration/egovehicle_SE3_sensor.feather sensor_name qw qx qy qz tx_m ty_m tz_m
//! <log>/city_SE3_egovehicle.feather               timestamp_ns qw qx qy qz tx_m ty_m tz_m
//! <log>/annotations.feather                       timestamp_ns track_uuid category length_m width_m
//!                                                 height_m qw qx qy qz tx_m ty_m tz_m num_interior_pts
//! ```
//!
//! Annotation cuboids are in the ego frame of their timestamp (as in AV2).

mod annotations;
mod calibration;
mod ground_truth;
pub mod layout;
mod pose_columns;
mod poses;
mod reader;
mod writer;

pub use annotations::{Annotations, Cuboid};
pub use calibration::{read_rig, write_rig};
pub use ground_truth::{ANNOTATION_TOLERANCE_NS, GroundTruth};
pub use heptaview_calibration::EgoPoses;
pub use heptaview_calibration::is_complete_jpeg;
pub use poses::{read_poses, write_poses};
pub use reader::{Av2Log, CameraStream};
pub use writer::Av2LogWriter;
