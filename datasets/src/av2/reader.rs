//! Reading an AV2 log: the file tables at open, images one at a time on demand.

use std::path::{Path, PathBuf};

use heptaview_calibration::{AV2_RING_CAMERAS, Rig, is_complete_jpeg};
use nalgebra::Isometry3;
use opencv::core::{Mat, Vector};
use opencv::prelude::*;

use super::annotations::{Annotations, Cuboid};
use super::calibration::read_rig;
use super::ground_truth::GroundTruth;
use super::layout;
use super::poses::read_poses;
use crate::error::{DatasetError, FrameError};
use heptaview_calibration::EgoPoses;

/// One camera's images: its folder and its sorted timestamps.
#[derive(Debug, Clone)]
pub struct CameraStream {
    name: String,
    timestamps_ns: Vec<u64>,
}

impl CameraStream {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn timestamps_ns(&self) -> &[u64] {
        &self.timestamps_ns
    }

    fn scan(log: &Path, name: &str) -> Result<Self, DatasetError> {
        let dir = layout::camera_dir(log, name);
        let entries = std::fs::read_dir(&dir).map_err(|source| DatasetError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut timestamps_ns = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| DatasetError::Read {
                path: dir.clone(),
                source,
            })?;
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            let timestamp = file_name
                .strip_suffix(".jpg")
                .and_then(|stem| stem.parse::<u64>().ok())
                .ok_or_else(|| DatasetError::BadImageName {
                    path: dir.clone(),
                    name: file_name.clone().into_owned(),
                })?;
            timestamps_ns.push(timestamp);
        }
        timestamps_ns.sort_unstable();
        Ok(Self {
            name: name.to_owned(),
            timestamps_ns,
        })
    }
}

/// An opened AV2 log. Calibration, poses and annotations are read at open
/// (they are small); images are read and decoded only when asked for.
#[derive(Debug)]
pub struct Av2Log {
    root: PathBuf,
    rig: Rig,
    cameras: Vec<CameraStream>,
    poses: EgoPoses,
    annotations: Option<Annotations>,
}

impl Av2Log {
    /// Opens the log at `root`: every folder under `sensors/cameras/` is a
    /// camera and needs calibration; the AV2 ring cameras come first, in the
    /// design's order, then any others by name.
    pub fn open(root: &Path) -> Result<Self, DatasetError> {
        let cameras_dir = root.join(layout::CAMERAS_DIR);
        if !root.is_dir() {
            return Err(DatasetError::Read {
                path: root.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such log folder"),
            });
        }
        let entries = std::fs::read_dir(&cameras_dir).map_err(|_| DatasetError::NoCameras {
            path: root.to_path_buf(),
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if names.is_empty() {
            return Err(DatasetError::NoCameras {
                path: root.to_path_buf(),
            });
        }
        names.sort_by_key(|name| {
            let ring_position = AV2_RING_CAMERAS.iter().position(|c| c == name);
            (ring_position.unwrap_or(usize::MAX), name.clone())
        });
        let cameras = names
            .iter()
            .map(|name| CameraStream::scan(root, name))
            .collect::<Result<Vec<_>, _>>()?;
        let log_id = root
            .file_name()
            .map_or_else(|| "log".to_owned(), |n| n.to_string_lossy().into_owned());
        let rig = read_rig(root, &log_id, &names)?;
        let poses = read_poses(&root.join(layout::EGO_POSES))?;
        let annotations_path = root.join(layout::ANNOTATIONS);
        let annotations = if annotations_path.exists() {
            Some(Annotations::read(&annotations_path)?)
        } else {
            None
        };
        Ok(Self {
            root: root.to_path_buf(),
            rig,
            cameras,
            poses,
            annotations,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The log's id: its folder's name, as in AV2.
    pub fn log_id(&self) -> &str {
        self.rig.name()
    }

    /// The cameras of the log, with the calibration from its files.
    pub fn rig(&self) -> &Rig {
        &self.rig
    }

    pub fn cameras(&self) -> &[CameraStream] {
        &self.cameras
    }

    pub fn camera(&self, name: &str) -> Result<&CameraStream, DatasetError> {
        self.cameras
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| DatasetError::MissingCamera {
                path: self.root.join(layout::CAMERAS_DIR),
                camera: name.to_owned(),
            })
    }

    pub fn image_path(&self, camera: &str, timestamp_ns: u64) -> PathBuf {
        layout::image_path(&self.root, camera, timestamp_ns)
    }

    /// The JPEG bytes of one frame, as stored.
    pub fn read_jpeg(&self, camera: &str, timestamp_ns: u64) -> Result<Vec<u8>, FrameError> {
        let path = self.image_path(camera, timestamp_ns);
        let known = self
            .cameras
            .iter()
            .any(|c| c.name == camera && c.timestamps_ns.binary_search(&timestamp_ns).is_ok());
        if !known {
            return Err(FrameError::NoSuchFrame {
                path: self.root.clone(),
                camera: camera.to_owned(),
                timestamp_ns,
            });
        }
        std::fs::read(&path).map_err(|source| FrameError::Read { path, source })
    }

    /// One frame decoded by OpenCV with `imread_flags` (e.g. `IMREAD_COLOR`,
    /// or `IMREAD_REDUCED_COLOR_2` to decode at half scale in the DCT domain).
    pub fn decode(
        &self,
        camera: &str,
        timestamp_ns: u64,
        imread_flags: i32,
    ) -> Result<Mat, FrameError> {
        let bytes = self.read_jpeg(camera, timestamp_ns)?;
        let path = self.image_path(camera, timestamp_ns);
        decode_jpeg(&bytes, imread_flags).map_err(|e| match e {
            DecodeError::Empty => FrameError::Decode { path },
            DecodeError::OpenCv(source) => FrameError::OpenCv { path, source },
        })
    }

    pub fn ego_poses(&self) -> &EgoPoses {
        &self.poses
    }

    /// `city_from_ego` at a time within the log (interpolated between poses).
    pub fn city_from_ego(&self, timestamp_ns: u64) -> Option<Isometry3<f64>> {
        self.poses.at(timestamp_ns)
    }

    pub fn annotations(&self) -> Option<&Annotations> {
        self.annotations.as_ref()
    }

    /// The annotations with the poses that move them to any instant; `None`
    /// for a log without annotations.
    pub fn ground_truth(&self) -> Option<GroundTruth> {
        Some(GroundTruth::new(
            self.annotations.clone()?,
            self.poses.clone(),
        ))
    }

    /// The annotated cuboids nearest in time (within `tolerance_ns`), with
    /// their timestamp; `None` for a log without annotations or no sweep near.
    pub fn annotations_at(&self, timestamp_ns: u64, tolerance_ns: u64) -> Option<(u64, &[Cuboid])> {
        self.annotations
            .as_ref()?
            .nearest(timestamp_ns, tolerance_ns)
    }
}

#[derive(Debug)]
pub(crate) enum DecodeError {
    Empty,
    OpenCv(opencv::Error),
}

/// OpenCV's `imdecode`, refusing what is not a whole JPEG: libjpeg decodes a
/// truncated file into a half-grey image with only a warning, so the start and
/// end markers are checked first.
pub(crate) fn decode_jpeg(bytes: &[u8], imread_flags: i32) -> Result<Mat, DecodeError> {
    if !is_complete_jpeg(bytes) {
        return Err(DecodeError::Empty);
    }
    let buffer = Vector::<u8>::from_slice(bytes);
    let image = opencv::imgcodecs::imdecode(&buffer, imread_flags).map_err(DecodeError::OpenCv)?;
    if image.empty() {
        return Err(DecodeError::Empty);
    }
    Ok(image)
}
