//! Recorded drives: one reader contract for every log format (`LogReader`,
//! picked by layout through `LogRegistry`), Argoverse 2 sensor logs read and
//! written in the official layout, and a scenario generator that renders
//! ground-truth drives through the rig's own cameras with objects cut from
//! real photographs.

pub mod av2;
mod error;
mod feather;
pub mod generator;
pub mod log;
pub mod log_reader;
pub mod log_writer;
pub mod nuscenes;
pub mod ros2bag;

pub use av2::is_complete_jpeg;
pub use error::{DatasetError, FrameError};
pub use log::{LogFormat, LogReader, LogRegistry, OpenOptions, open_log, open_log_with};
pub use log_writer::{LogWriter, create_log_writer};
pub use nuscenes::{NuScenesFormat, NuScenesLog};
pub use ros2bag::{Ros2Bag, Ros2BagFormat, Ros2BagWriter};
