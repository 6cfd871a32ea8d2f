//! Which scene to read and which records belong to it: the dataset root's
//! version folder, the scene named by the user, its samples (walked from
//! `first_sample_token` along `next`) and every sample_data linked to them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::tables::{Sample, SampleData, Scene, Tables, read_json};
use crate::error::DatasetError;

/// Version folders start with this (`v1.0-mini`, `v1.0-trainval`, `v1.0-test`).
pub const VERSION_PREFIX: &str = "v1.0-";
/// The table whose presence marks a version folder.
pub const SCENE_TABLE: &str = "scene.json";

/// The version folders under a dataset root that hold a scene table, sorted.
pub fn version_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(VERSION_PREFIX))
        .map(|e| e.path())
        .filter(|p| p.join(SCENE_TABLE).is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Whether `dir` is itself a version folder (a user pointing one level too deep).
pub fn is_version_dir(dir: &Path) -> bool {
    dir.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(VERSION_PREFIX))
        && dir.join(SCENE_TABLE).is_file()
}

/// The version folder to read `scene` from. With several, the one whose scene
/// table names the scene; an error when none or more than one does, or when
/// no scene was named.
pub fn choose_version(root: &Path, scene: Option<&str>) -> Result<PathBuf, DatasetError> {
    let dirs = version_dirs(root);
    let listed = || {
        dirs.iter()
            .filter_map(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (dirs.as_slice(), scene) {
        ([], _) => Err(DatasetError::Layout {
            path: root.to_path_buf(),
            message: format!("no {VERSION_PREFIX}* folder with {SCENE_TABLE}"),
        }),
        ([only], _) => Ok(only.clone()),
        (_, None) => Err(DatasetError::Layout {
            path: root.to_path_buf(),
            message: format!(
                "several nuScenes versions ({}): name a scene to choose one",
                listed()
            ),
        }),
        (_, Some(name)) => {
            let mut holding = Vec::new();
            for dir in &dirs {
                let scenes: Vec<Scene> = read_json(&dir.join(SCENE_TABLE))?;
                if scenes.iter().any(|s| s.name == name) {
                    holding.push(dir.clone());
                }
            }
            match holding.as_slice() {
                [only] => Ok(only.clone()),
                [] => Err(DatasetError::Layout {
                    path: root.to_path_buf(),
                    message: format!("no scene `{name}` in any of {}", listed()),
                }),
                _ => Err(DatasetError::Layout {
                    path: root.to_path_buf(),
                    message: format!(
                        "scene `{name}` is in several versions ({}): point at a root with one",
                        holding
                            .iter()
                            .filter_map(|d| d.file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }),
            }
        }
    }
}

/// The scene named `name`, or the only one; an error lists the scene names.
pub fn choose_scene<'t>(tables: &'t Tables, name: Option<&str>) -> Result<&'t Scene, DatasetError> {
    let mut names: Vec<&str> = tables.scene.values().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    let found = match name {
        Some(name) => tables.scene.values().find(|s| s.name == name),
        None if names.len() == 1 => tables.scene.values().next(),
        None => None,
    };
    found.ok_or_else(|| DatasetError::Layout {
        path: tables.scene.path().to_path_buf(),
        message: match name {
            Some(name) => format!("no scene `{name}`; the scenes are: {}", names.join(", ")),
            None if names.is_empty() => "no scenes".to_owned(),
            None => format!(
                "{} scenes, name one with --scene: {}",
                names.len(),
                names.join(", ")
            ),
        },
    })
}

/// The scene's samples in order, following `next` from the first.
pub fn scene_samples<'t>(
    tables: &'t Tables,
    scene: &Scene,
) -> Result<Vec<&'t Sample>, DatasetError> {
    let mut samples = Vec::new();
    let mut seen = HashSet::new();
    let mut token = scene.first_sample_token.as_str();
    while !token.is_empty() {
        // A cycle in `next` would otherwise never end.
        if !seen.insert(token) {
            return Err(DatasetError::Layout {
                path: tables.sample.path().to_path_buf(),
                message: format!("the samples of scene `{}` loop back to {token}", scene.name),
            });
        }
        let sample = tables
            .sample
            .get(token, &format!("scene `{}`", scene.name))?;
        if sample.scene_token != scene.token {
            return Err(DatasetError::Layout {
                path: tables.sample.path().to_path_buf(),
                message: format!(
                    "sample {token} follows scene `{}` but belongs to scene {}",
                    scene.name, sample.scene_token
                ),
            });
        }
        samples.push(sample);
        token = &sample.next;
    }
    Ok(samples)
}

/// Every sample_data of the scene, key frames and sweeps of all sensors
/// (sweeps carry the token of the sample they were recorded nearest to).
pub fn scene_sample_data<'t>(tables: &'t Tables, samples: &[&Sample]) -> Vec<&'t SampleData> {
    let tokens: HashSet<&str> = samples.iter().map(|s| s.token.as_str()).collect();
    let mut data: Vec<&SampleData> = tables
        .sample_data
        .values()
        .filter(|d| tokens.contains(d.sample_token.as_str()))
        .collect();
    // The table is a hash map: sort so that everything built from it is
    // deterministic.
    data.sort_by(|a, b| (a.timestamp, &a.token).cmp(&(b.timestamp, &b.token)));
    data
}
