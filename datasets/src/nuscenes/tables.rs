//! The nuScenes JSON tables a camera log needs, as serde structs. Only the
//! fields heptaview uses are declared (serde skips the rest), so the tables of
//! later dataset versions with extra fields still load.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::DatasetError;

/// One image, point cloud or radar sweep.
#[derive(Debug, Clone, Deserialize)]
pub struct SampleData {
    pub token: String,
    /// For a sweep, the sample it was recorded nearest to (nuScenes links
    /// sweeps to samples this way; `is_key_frame` tells the two apart).
    pub sample_token: String,
    pub ego_pose_token: String,
    pub calibrated_sensor_token: String,
    /// Microseconds.
    pub timestamp: u64,
    pub is_key_frame: bool,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
    /// Relative to the dataset root: `samples/<CHANNEL>/...` or `sweeps/<CHANNEL>/...`.
    pub filename: String,
}

/// A sensor's mounting (and a camera's intrinsics) on one log's vehicle.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CalibratedSensor {
    pub token: String,
    pub sensor_token: String,
    /// `ego_from_sensor` translation, metres.
    pub translation: [f64; 3],
    /// `ego_from_sensor` rotation, `[w, x, y, z]`.
    pub rotation: [f64; 4],
    /// 3×3 row-major for cameras, empty for lidar and radar.
    #[serde(default)]
    pub camera_intrinsic: Vec<Vec<f64>>,
}

/// `global_from_ego` at one sample_data's time.
#[derive(Debug, Clone, Deserialize)]
pub struct EgoPose {
    pub token: String,
    /// Microseconds.
    pub timestamp: u64,
    /// `[w, x, y, z]`.
    pub rotation: [f64; 4],
    pub translation: [f64; 3],
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sensor {
    pub token: String,
    /// `CAM_FRONT`, `LIDAR_TOP`, ...
    pub channel: String,
    /// `camera`, `lidar` or `radar`.
    pub modality: String,
}

/// A key frame: the instant (2 Hz) at which objects are annotated.
#[derive(Debug, Clone, Deserialize)]
pub struct Sample {
    pub token: String,
    /// Microseconds.
    pub timestamp: u64,
    /// The following sample of the scene; empty for the last.
    pub next: String,
    pub scene_token: String,
}

/// One object at one sample, in the global frame.
#[derive(Debug, Clone, Deserialize)]
pub struct SampleAnnotation {
    pub token: String,
    pub sample_token: String,
    pub instance_token: String,
    /// The box centre in the global frame, metres.
    pub translation: [f64; 3],
    /// `[width, length, height]` (width first, unlike AV2), metres.
    pub size: [f64; 3],
    /// `global_from_object`, `[w, x, y, z]`; the object's x runs along its length.
    pub rotation: [f64; 4],
    #[serde(default)]
    pub num_lidar_pts: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Scene {
    pub token: String,
    pub log_token: String,
    pub first_sample_token: String,
    /// `scene-0061`, ...: what a user names with `--scene`.
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Log {
    pub token: String,
    /// The car, e.g. `n015`.
    #[serde(default)]
    pub vehicle: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    pub token: String,
    /// `vehicle.car`, `human.pedestrian.adult`, ...
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Instance {
    pub token: String,
    pub category_token: String,
}

/// A table's records by token, remembering the file for error messages.
#[derive(Debug)]
pub struct Table<T> {
    path: PathBuf,
    by_token: HashMap<String, T>,
}

/// A record type with a token (every nuScenes table has one).
pub trait Record {
    fn token(&self) -> &str;
}

macro_rules! record {
    ($($t:ty),*) => {$(impl Record for $t { fn token(&self) -> &str { &self.token } })*};
}
record!(
    SampleData,
    CalibratedSensor,
    EgoPose,
    Sensor,
    Sample,
    SampleAnnotation,
    Scene,
    Log,
    Category,
    Instance
);

impl<T: Record + DeserializeOwned> Table<T> {
    /// Reads `<version_dir>/<name>.json`, an array of records.
    pub fn load(version_dir: &Path, name: &str) -> Result<Self, DatasetError> {
        let records: Vec<T> = read_json(&version_dir.join(format!("{name}.json")))?;
        let path = version_dir.join(format!("{name}.json"));
        let mut by_token = HashMap::with_capacity(records.len());
        for record in records {
            let token = record.token().to_owned();
            if by_token.insert(token.clone(), record).is_some() {
                return Err(DatasetError::Layout {
                    path,
                    message: format!("token {token} appears twice"),
                });
            }
        }
        Ok(Self { path, by_token })
    }
}

impl<T> Table<T> {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The record with `token`; an error names the table, the token and who
    /// referred to it, since a dangling token is a broken dataset.
    pub fn get(&self, token: &str, referred_by: &str) -> Result<&T, DatasetError> {
        self.by_token
            .get(token)
            .ok_or_else(|| DatasetError::Layout {
                path: self.path.clone(),
                message: format!("no record with token `{token}` (referred to by {referred_by})"),
            })
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.by_token.values()
    }
}

/// Reads and parses one JSON file. The whole file is read first: serde_json
/// parses a string much faster than a reader, and sample_data.json of v1.0-mini
/// is tens of megabytes.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DatasetError::Layout {
                path: path.to_path_buf(),
                message: "missing: a nuScenes version folder needs this table".to_owned(),
            }
        } else {
            DatasetError::Read {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|source| DatasetError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Every table a camera log reads, from one version folder (`v1.0-mini`, ...).
#[derive(Debug)]
pub struct Tables {
    pub sample_data: Table<SampleData>,
    pub calibrated_sensor: Table<CalibratedSensor>,
    pub ego_pose: Table<EgoPose>,
    pub sensor: Table<Sensor>,
    pub sample: Table<Sample>,
    pub sample_annotation: Table<SampleAnnotation>,
    pub scene: Table<Scene>,
    pub log: Table<Log>,
    pub category: Table<Category>,
    pub instance: Table<Instance>,
}

impl Tables {
    pub fn load(version_dir: &Path) -> Result<Self, DatasetError> {
        Ok(Self {
            scene: Table::load(version_dir, "scene")?,
            log: Table::load(version_dir, "log")?,
            sample: Table::load(version_dir, "sample")?,
            sensor: Table::load(version_dir, "sensor")?,
            calibrated_sensor: Table::load(version_dir, "calibrated_sensor")?,
            ego_pose: Table::load(version_dir, "ego_pose")?,
            sample_data: Table::load(version_dir, "sample_data")?,
            category: Table::load(version_dir, "category")?,
            instance: Table::load(version_dir, "instance")?,
            sample_annotation: Table::load(version_dir, "sample_annotation")?,
        })
    }
}
