//! One nuScenes scene as a heptaview log: its cameras' images (key frames and
//! sweeps), the rig from calibrated_sensor, ego poses and annotations. The
//! tables are read once at open; images are read when asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use heptaview_calibration::{EgoPoses, Rig, is_complete_jpeg, unit_quaternion};
use nalgebra::{Isometry3, Translation3, Vector3};

use super::annotations::scene_annotations;
use super::rig::rig_camera;
use super::scene::{
    SCENE_TABLE, choose_scene, choose_version, is_version_dir, scene_sample_data, scene_samples,
    version_dirs,
};
use super::tables::{CalibratedSensor, SampleData, Sensor, Tables};
use super::{CAMERA_ORDER, LIDAR_CHANNEL, timestamp_ns};
use crate::av2::{Annotations, GroundTruth};
use crate::error::{DatasetError, FrameError};
use crate::log_reader::LogReader;

/// One camera's images in time order.
#[derive(Debug)]
struct CameraFrames {
    name: String,
    timestamps_ns: Vec<u64>,
    /// Relative to the dataset root, parallel to `timestamps_ns`.
    filenames: Vec<String>,
}

/// An opened nuScenes scene.
#[derive(Debug)]
pub struct NuScenesLog {
    root: PathBuf,
    version_dir: PathBuf,
    scene: String,
    rig: Rig,
    cameras: Vec<CameraFrames>,
    poses: EgoPoses,
    annotations: Option<Annotations>,
}

/// A scene's sample_data with the sensor it came from.
struct Recording<'t> {
    data: &'t SampleData,
    calibration: &'t CalibratedSensor,
    sensor: &'t Sensor,
}

impl NuScenesLog {
    /// Opens scene `scene` (nuScenes `scene.name`; `None` for a dataset of
    /// one scene) of the dataset root `root`, the folder that holds
    /// `v1.0-*/`, `samples/` and `sweeps/`.
    pub fn open(root: &Path, scene: Option<&str>) -> Result<Self, DatasetError> {
        if is_version_dir(root) && version_dirs(root).is_empty() {
            let parent = root.parent().unwrap_or(root);
            return Err(DatasetError::Layout {
                path: root.to_path_buf(),
                message: format!(
                    "this is a nuScenes table folder; open the dataset root {} (image filenames are relative to it)",
                    parent.display()
                ),
            });
        }
        let version_dir = choose_version(root, scene)?;
        let tables = Tables::load(&version_dir)?;
        let scene = choose_scene(&tables, scene)?;
        let samples = scene_samples(&tables, scene)?;
        let recordings = scene_sample_data(&tables, &samples)
            .into_iter()
            .map(|data| {
                let referred = format!("sample_data {}", data.token);
                let calibration = tables
                    .calibrated_sensor
                    .get(&data.calibrated_sensor_token, &referred)?;
                let sensor = tables.sensor.get(
                    &calibration.sensor_token,
                    &format!("calibrated_sensor {}", calibration.token),
                )?;
                Ok(Recording {
                    data,
                    calibration,
                    sensor,
                })
            })
            .collect::<Result<Vec<_>, DatasetError>>()?;

        let (rig_cameras, cameras) = cameras(&tables, &recordings)?;
        let log = tables
            .log
            .get(&scene.log_token, &format!("scene `{}`", scene.name))?;
        let rig_name = if log.vehicle.is_empty() {
            scene.name.clone()
        } else {
            log.vehicle.clone()
        };
        let rig = Rig::new(rig_name, rig_cameras).map_err(|source| DatasetError::Calibration {
            path: tables.calibrated_sensor.path().to_path_buf(),
            source,
        })?;
        let poses = ego_poses(&tables, &recordings)?;
        let annotations = scene_annotations(&tables, &samples, &poses)?;
        Ok(Self {
            root: root.to_path_buf(),
            version_dir,
            scene: scene.name.clone(),
            rig,
            cameras,
            poses,
            // A scene of the test split has no annotations at all; a sample
            // without objects among annotated ones is simply absent.
            annotations: (!annotations.is_empty()).then_some(annotations),
        })
    }

    /// The scene's name (`scene-0061`, ...).
    pub fn scene(&self) -> &str {
        &self.scene
    }

    /// The table folder read (`<root>/v1.0-mini`, ...).
    pub fn version_dir(&self) -> &Path {
        &self.version_dir
    }

    fn camera(&self, name: &str) -> Option<&CameraFrames> {
        self.cameras.iter().find(|c| c.name == name)
    }
}

/// The rig cameras and their frames, in nuScenes' order (front, front-left,
/// front-right, back-left, back-right, back), any other camera after them by
/// name.
fn cameras(
    tables: &Tables,
    recordings: &[Recording<'_>],
) -> Result<(Vec<heptaview_calibration::RigCamera>, Vec<CameraFrames>), DatasetError> {
    let mut by_channel: BTreeMap<&str, Vec<&Recording<'_>>> = BTreeMap::new();
    for recording in recordings.iter().filter(|r| r.sensor.modality == "camera") {
        by_channel
            .entry(recording.sensor.channel.as_str())
            .or_default()
            .push(recording);
    }
    let mut channels: Vec<&str> = by_channel.keys().copied().collect();
    channels.sort_by_key(|c| {
        (
            CAMERA_ORDER
                .iter()
                .position(|o| o == c)
                .unwrap_or(usize::MAX),
            *c,
        )
    });
    if channels.is_empty() {
        return Err(DatasetError::Layout {
            path: tables.sample_data.path().to_path_buf(),
            message: "the scene has no camera images".to_owned(),
        });
    }
    let data_path = tables.sample_data.path();
    let mut rig_cameras = Vec::with_capacity(channels.len());
    let mut frames = Vec::with_capacity(channels.len());
    for channel in channels {
        let Some(records) = by_channel.get(channel) else {
            continue;
        };
        let mut records = records.clone();
        records.sort_by_key(|r| r.data.timestamp);
        let first = records[0];
        // heptaview holds one calibration per camera for the whole log.
        for r in &records {
            let same_mount = r.calibration.translation == first.calibration.translation
                && r.calibration.rotation == first.calibration.rotation
                && r.calibration.camera_intrinsic == first.calibration.camera_intrinsic;
            if !same_mount {
                return Err(DatasetError::Layout {
                    path: tables.calibrated_sensor.path().to_path_buf(),
                    message: format!(
                        "{channel} changes calibration within the scene ({} then {}, at sample_data {})",
                        first.calibration.token, r.calibration.token, r.data.token
                    ),
                });
            }
            if (r.data.width, r.data.height) != (first.data.width, first.data.height) {
                return Err(DatasetError::Layout {
                    path: data_path.to_path_buf(),
                    message: format!(
                        "{channel} changes image size within the scene ({}×{} then {}×{} at sample_data {})",
                        first.data.width,
                        first.data.height,
                        r.data.width,
                        r.data.height,
                        r.data.token
                    ),
                });
            }
        }
        rig_cameras.push(rig_camera(
            channel,
            first.calibration,
            first.data.width,
            first.data.height,
            tables.calibrated_sensor.path(),
        )?);
        let mut timestamps_ns = Vec::with_capacity(records.len());
        let mut filenames = Vec::with_capacity(records.len());
        for r in &records {
            let t = timestamp_ns(r.data.timestamp, data_path, &r.data.token)?;
            if timestamps_ns.last() == Some(&t) {
                return Err(DatasetError::Layout {
                    path: data_path.to_path_buf(),
                    message: format!(
                        "{channel} has two images at {} µs (the second is sample_data {})",
                        r.data.timestamp, r.data.token
                    ),
                });
            }
            timestamps_ns.push(t);
            filenames.push(r.data.filename.clone());
        }
        frames.push(CameraFrames {
            name: channel.to_owned(),
            timestamps_ns,
            filenames,
        });
    }
    Ok((rig_cameras, frames))
}

/// `global_from_ego` at every sample_data of the scene, all channels, keyed
/// by the sample_data's time. LIDAR_TOP key frames go in first: where another
/// channel shares their timestamp, [`EgoPoses::from_samples`] keeps the first,
/// and the annotations are placed with the lidar's pose (see
/// [`scene_annotations`]).
fn ego_poses(tables: &Tables, recordings: &[Recording<'_>]) -> Result<EgoPoses, DatasetError> {
    let path = tables.ego_pose.path();
    let is_lidar_key = |r: &Recording<'_>| r.data.is_key_frame && r.sensor.channel == LIDAR_CHANNEL;
    let ordered = recordings
        .iter()
        .filter(|r| is_lidar_key(r))
        .chain(recordings.iter().filter(|r| !is_lidar_key(r)));
    let mut samples = Vec::with_capacity(recordings.len());
    for recording in ordered {
        let data = recording.data;
        let pose = tables
            .ego_pose
            .get(&data.ego_pose_token, &format!("sample_data {}", data.token))?;
        if pose.timestamp != data.timestamp {
            return Err(DatasetError::Layout {
                path: path.to_path_buf(),
                message: format!(
                    "ego_pose {} is at {} µs but its sample_data {} at {} µs",
                    pose.token, pose.timestamp, data.token, data.timestamp
                ),
            });
        }
        let bad = |message: String| DatasetError::Layout {
            path: path.to_path_buf(),
            message: format!("ego_pose {}: {message}", pose.token),
        };
        let [qw, qx, qy, qz] = pose.rotation;
        let rotation = unit_quaternion(qw, qx, qy, qz).map_err(|e| bad(e.to_string()))?;
        if !pose.translation.iter().all(|v| v.is_finite()) {
            return Err(bad(format!(
                "translation {:?} is not finite",
                pose.translation
            )));
        }
        let global_from_ego = Isometry3::from_parts(
            Translation3::from(Vector3::from(pose.translation)),
            rotation,
        );
        samples.push((
            timestamp_ns(data.timestamp, path, &pose.token)?,
            global_from_ego,
        ));
    }
    Ok(EgoPoses::from_samples(samples))
}

impl LogReader for NuScenesLog {
    fn format(&self) -> &'static str {
        "nuscenes"
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn rig(&self) -> &Rig {
        &self.rig
    }

    fn timestamps_ns(&self, camera: &str) -> Result<&[u64], DatasetError> {
        self.camera(camera)
            .map(|c| c.timestamps_ns.as_slice())
            .ok_or_else(|| DatasetError::MissingCamera {
                path: self.version_dir.join(SCENE_TABLE),
                camera: camera.to_owned(),
            })
    }

    fn read_image(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        let filename = self.camera(camera).and_then(|c| {
            let i = c.timestamps_ns.binary_search(&timestamp_ns).ok()?;
            c.filenames.get(i)
        });
        let Some(filename) = filename else {
            return Err(FrameError::NoSuchFrame {
                path: self.root.clone(),
                camera: camera.to_owned(),
                timestamp_ns,
            });
        };
        let path = self.root.join(filename);
        let bytes = std::fs::read(&path).map_err(|source| FrameError::Read {
            path: path.clone(),
            source,
        })?;
        // A truncated download decodes into a half-grey image with only a
        // warning from libjpeg; refuse it here, where the file is known.
        if !is_complete_jpeg(&bytes) {
            return Err(FrameError::Decode { path });
        }
        Ok(bytes)
    }

    fn ego_poses(&self) -> Option<&EgoPoses> {
        Some(&self.poses)
    }

    fn ground_truth(&self) -> Option<GroundTruth> {
        Some(GroundTruth::new(
            self.annotations.clone()?,
            self.poses.clone(),
        ))
    }
}
