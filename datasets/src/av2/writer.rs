//! Writing an AV2 log: calibration first, then images as they come, then the
//! pose and annotation tables at `finish`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use heptaview_calibration::Rig;
use nalgebra::Isometry3;

use super::annotations::{Annotations, Cuboid};
use super::calibration::write_rig;
use super::layout;
use super::poses::write_poses;
use crate::error::DatasetError;
use heptaview_calibration::EgoPoses;

#[derive(Debug)]
pub struct Av2LogWriter {
    root: PathBuf,
    rig: Rig,
    image_timestamps: BTreeSet<u64>,
    poses: Vec<(u64, Isometry3<f64>)>,
    annotations: Annotations,
}

impl Av2LogWriter {
    /// Creates the log folder with its calibration and one folder per camera.
    pub fn create(root: &Path, rig: &Rig) -> Result<Self, DatasetError> {
        for camera in rig.camera_names() {
            let dir = layout::camera_dir(root, camera);
            std::fs::create_dir_all(&dir)
                .map_err(|source| DatasetError::Write { path: dir, source })?;
        }
        write_rig(root, rig)?;
        Ok(Self {
            root: root.to_path_buf(),
            rig: rig.clone(),
            image_timestamps: BTreeSet::new(),
            poses: Vec::new(),
            annotations: Annotations::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores one camera frame's JPEG bytes as they are (no re-encoding).
    pub fn write_jpeg(
        &mut self,
        camera: &str,
        timestamp_ns: u64,
        jpeg: &[u8],
    ) -> Result<(), DatasetError> {
        self.rig
            .camera(camera)
            .map_err(|source| DatasetError::Calibration {
                path: self.root.join(layout::INTRINSICS),
                source,
            })?;
        let path = layout::image_path(&self.root, camera, timestamp_ns);
        std::fs::write(&path, jpeg).map_err(|source| DatasetError::Write { path, source })?;
        self.image_timestamps.insert(timestamp_ns);
        Ok(())
    }

    pub fn add_pose(&mut self, timestamp_ns: u64, city_from_ego: Isometry3<f64>) {
        self.poses.push((timestamp_ns, city_from_ego));
    }

    pub fn add_annotation(&mut self, timestamp_ns: u64, cuboid: Cuboid) {
        self.annotations.insert(timestamp_ns, cuboid);
    }

    /// Writes the pose and annotation tables. Every image needs a pose at its
    /// exact timestamp: the official loader looks poses up that way.
    pub fn finish(self) -> Result<(), DatasetError> {
        let poses = EgoPoses::from_samples(self.poses);
        let poses_path = self.root.join(layout::EGO_POSES);
        if let Some(missing) = self
            .image_timestamps
            .iter()
            .find(|t| poses.exact(**t).is_none())
        {
            return Err(DatasetError::BadValue {
                path: poses_path,
                row: 0,
                message: format!("no ego pose at image timestamp {missing}"),
            });
        }
        write_poses(&poses, &poses_path)?;
        if !self.annotations.is_empty() {
            self.annotations
                .write(&self.root.join(layout::ANNOTATIONS))?;
        }
        Ok(())
    }
}
