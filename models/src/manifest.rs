//! Model manifests (TOML beside each ONNX file): what the file is, how to
//! feed it and how to read its outputs. Checked against the graph at load.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    Detection,
    Classification,
}

/// How raw outputs become results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderKind {
    /// NanoDet's Generalized Focal Loss head: per-stride scores + side distributions.
    NanodetGfl,
    /// Ultralytics YOLOv8 export: one output `[1, 4 + C, N]` of (cx, cy, w, h, scores).
    Yolov8,
    /// Classifier logits `[N, C]`, softmax applied here.
    Softmax,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ColourOrder {
    #[serde(rename = "BGR")]
    Bgr,
    #[serde(rename = "RGB")]
    Rgb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputRole {
    ClassScores,
    BoxDistribution,
    Logits,
    Predictions,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    pub layout: String,
    /// NCHW; -1 marks a dynamic dimension (the batch).
    pub shape: [i64; 4],
    pub colour_order: ColourOrder,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl InputSpec {
    pub fn width(&self) -> usize {
        self.shape[3].max(0) as usize
    }

    pub fn height(&self) -> usize {
        self.shape[2].max(0) as usize
    }

    pub fn dynamic_batch(&self) -> bool {
        self.shape[0] < 0
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    pub name: String,
    pub shape: Vec<i64>,
    pub role: OutputRole,
    #[serde(default)]
    pub stride: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub task: Task,
    pub file: String,
    pub sha256: String,
    pub labels: String,
    #[serde(default)]
    pub labels_sha256: Option<String>,
    pub decoder: DecoderKind,
    #[serde(default)]
    pub reg_max: Option<usize>,
    /// Classifiers: the least probability mass a vehicle subtype needs to be
    /// given (below it the subtype is `unknown`); measured, see the manifest.
    #[serde(default)]
    pub subtype_min_score: Option<f32>,
    pub licence: String,
    pub provenance: String,
    pub input: InputSpec,
    #[serde(rename = "output")]
    pub outputs: Vec<OutputSpec>,
    /// The folder of the manifest: `file` and `labels` are relative to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut manifest: Manifest = toml::from_str(&text).map_err(|e| ModelError::Manifest {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        manifest.dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        manifest.validate(path)?;
        Ok(manifest)
    }

    pub fn model_path(&self) -> PathBuf {
        self.dir.join(&self.file)
    }

    pub fn labels_path(&self) -> PathBuf {
        self.dir.join(&self.labels)
    }

    /// Output of a role at a stride (detector heads), by name from the manifest.
    pub fn output(&self, role: OutputRole, stride: Option<u32>) -> Option<&OutputSpec> {
        self.outputs
            .iter()
            .find(|o| o.role == role && o.stride == stride)
    }

    fn validate(&self, path: &Path) -> Result<(), ModelError> {
        let invalid = |message: String| ModelError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        if self.input.layout != "NCHW" {
            return Err(invalid(format!(
                "input layout `{}` is not supported (only NCHW)",
                self.input.layout
            )));
        }
        if self.input.shape[1] != 3 || self.input.width() == 0 || self.input.height() == 0 {
            return Err(invalid(format!(
                "input shape {:?} is not [N, 3, H, W]",
                self.input.shape
            )));
        }
        if self.input.std.iter().any(|s| *s == 0.0 || !s.is_finite()) {
            return Err(invalid("input std must be finite and non-zero".to_owned()));
        }
        if let Some(score) = self.subtype_min_score
            && !(0.0..=1.0).contains(&score)
        {
            return Err(invalid(format!(
                "subtype_min_score must be between 0 and 1, not {score}"
            )));
        }
        let needs = |role: OutputRole| self.outputs.iter().any(|o| o.role == role);
        let consistent = match self.decoder {
            DecoderKind::NanodetGfl => {
                self.reg_max.is_some()
                    && needs(OutputRole::ClassScores)
                    && self
                        .outputs
                        .iter()
                        .filter(|o| o.role == OutputRole::ClassScores)
                        .all(|o| {
                            o.stride.is_some()
                                && self.output(OutputRole::BoxDistribution, o.stride).is_some()
                        })
            }
            DecoderKind::Yolov8 => needs(OutputRole::Predictions),
            DecoderKind::Softmax => needs(OutputRole::Logits),
        };
        if !consistent {
            return Err(invalid(format!(
                "the outputs do not fit decoder {:?} (nanodet_gfl: class_scores + box_distribution per stride and reg_max; yolov8: predictions; softmax: logits)",
                self.decoder
            )));
        }
        Ok(())
    }
}

/// The folder of the shipped models (this crate's folder).
pub fn shipped_models_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A shipped model, by its manifest's file stem (`nanodet` for
/// `models/nanodet.toml`): a name, never a path, so that a configuration
/// file cannot point the loader elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModelName(String);

impl ModelName {
    /// For the crate's own defaults, which are plain names.
    pub(crate) fn shipped(name: &'static str) -> Self {
        Self(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `models/<name>.toml`.
    pub fn manifest_path(&self) -> PathBuf {
        shipped_models_dir().join(format!("{}.toml", self.0))
    }

    /// The names of the shipped manifests, sorted.
    pub fn shipped_names() -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(shipped_models_dir())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| {
                        let path = e.path();
                        (path.extension()? == "toml" && path.file_stem()? != "Cargo")
                            .then(|| path.file_stem()?.to_str().map(str::to_owned))
                            .flatten()
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl TryFrom<String> for ModelName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if plain {
            Ok(Self(name))
        } else {
            Err(format!(
                "`{name}` is not a model name (a manifest in models/ without `.toml`, e.g. `nanodet` or `nanodet_int8`)"
            ))
        }
    }
}

impl From<ModelName> for String {
    fn from(name: ModelName) -> Self {
        name.0
    }
}

impl std::fmt::Display for ModelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads a label file: one label a line, line index = class id.
pub fn read_labels(path: &Path) -> Result<Vec<String>, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text.lines().map(|l| l.trim().to_owned()).collect())
}
