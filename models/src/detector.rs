//! Object detection: letterbox → ONNX Runtime → decoder named by the
//! manifest → per-class NMS → boxes in source pixels.

use std::path::Path;
use std::time::{Duration, Instant};

use opencv::core::Mat;
use opencv::prelude::*;
use ort::value::TensorRef;
use serde::{Deserialize, Serialize};

use crate::classes::ObjectClass;
use crate::decode::{Candidate, decode_nanodet_level, decode_yolov8, nms_per_class};
use crate::error::ModelError;
use crate::manifest::{DecoderKind, Manifest, ModelName, OutputRole, Task};
use crate::preprocess::{Letterbox, Preprocessor};
use crate::session::{ModelSession, SessionConfig};
use crate::units::UnitInterval;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectorConfig {
    /// Which shipped detector (`models/<model>.toml`).
    pub model: ModelName,
    /// Candidates below this score are dropped before NMS.
    pub score_threshold: UnitInterval,
    /// Same-class boxes overlapping more than this are suppressed.
    pub nms_iou: UnitInterval,
    pub max_detections: usize,
    /// Class names to keep; empty keeps every class of the model.
    pub classes: Vec<String>,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            model: ModelName::shipped(DEFAULT_DETECTOR),
            score_threshold: UnitInterval::of(0.35),
            nms_iou: UnitInterval::of(0.5),
            max_detections: 100,
            classes: ObjectClass::ALL
                .iter()
                .map(|c| c.label().to_owned())
                .collect(),
        }
    }
}

/// One detected object, in source-image pixels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    pub class_id: usize,
    pub class: String,
    pub score: f32,
    /// x1, y1, x2, y2, clipped to the image.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

impl AsRef<Detection> for Detection {
    fn as_ref(&self) -> &Detection {
        self
    }
}

/// Where one detection's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DetectTimings {
    pub preprocess: Duration,
    pub inference: Duration,
    pub decode: Duration,
}

#[derive(Debug)]
pub struct Detector {
    model: ModelSession,
    plan: DecodePlan,
    preprocessor: Preprocessor,
    config: DetectorConfig,
    allowed: Vec<bool>,
    candidates: Vec<Candidate>,
}

impl Detector {
    /// The shipped detector the configuration names (`models/<model>.toml`).
    pub fn shipped(session: &SessionConfig, config: DetectorConfig) -> Result<Self, ModelError> {
        let manifest = config.model.manifest_path();
        Self::load(&manifest, session, config)
    }

    /// A shipped detector's input (width, height), from its manifest alone
    /// (no session is started).
    pub fn shipped_input_size(model: &ModelName) -> Result<(u32, u32), ModelError> {
        let manifest = Manifest::load(&model.manifest_path())?;
        Ok((
            manifest.input.width() as u32,
            manifest.input.height() as u32,
        ))
    }

    pub fn load(
        manifest: &Path,
        session: &SessionConfig,
        config: DetectorConfig,
    ) -> Result<Self, ModelError> {
        let model = ModelSession::load(manifest, session)?;
        if model.manifest().task != Task::Detection {
            return Err(ModelError::Manifest {
                path: manifest.to_path_buf(),
                message: "not a detection model".to_owned(),
            });
        }
        let labels = model.labels();
        for class in &config.classes {
            if !labels.contains(class) {
                return Err(ModelError::Manifest {
                    path: manifest.to_path_buf(),
                    message: format!(
                        "the class filter names `{class}`, which this model's labels do not have"
                    ),
                });
            }
        }
        let allowed = labels
            .iter()
            .map(|label| config.classes.is_empty() || config.classes.contains(label))
            .collect();
        let preprocessor = Preprocessor::new(&model.manifest().input);
        let plan = DecodePlan::new(model.manifest())?;
        Ok(Self {
            model,
            plan,
            preprocessor,
            config,
            allowed,
            candidates: Vec::new(),
        })
    }

    pub fn labels(&self) -> &[String] {
        self.model.labels()
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    pub fn model(&self) -> &ModelSession {
        &self.model
    }

    /// Detects objects in an 8-bit BGR image.
    pub fn detect(&mut self, image: &Mat) -> Result<(Vec<Detection>, DetectTimings), ModelError> {
        let mut timings = DetectTimings::default();
        let started = Instant::now();
        let letterbox = self.preprocessor.letterbox(image)?;
        timings.preprocess = started.elapsed();

        let started = Instant::now();
        let shape = self.preprocessor.shape();
        let input = TensorRef::from_array_view((shape, self.preprocessor.tensor()))
            .map_err(|e| self.model.session_error(e))?;
        let plan = &self.plan;
        let allowed = &self.allowed;
        let is_allowed = |class: usize| allowed.get(class).copied().unwrap_or(false);
        let threshold = self.config.score_threshold;
        let classes = allowed.len();
        let candidates = &mut self.candidates;
        candidates.clear();
        let session_error = |source| ModelError::Session {
            path: plan.model_path.clone(),
            source,
        };
        let outputs = self
            .model
            .session_mut()
            .run(ort::inputs![plan.input_name.as_str() => input])
            .map_err(session_error)?;
        timings.inference = started.elapsed();

        let started = Instant::now();
        let output = |name: &str| -> Result<&[f32], ModelError> {
            let value = outputs.get(name).ok_or_else(|| ModelError::BadOutput {
                path: plan.model_path.clone(),
                message: format!("no output `{name}`"),
            })?;
            let (_, data) = value.try_extract_tensor::<f32>().map_err(session_error)?;
            Ok(data)
        };
        match &plan.heads {
            Heads::Nanodet { bins, levels } => {
                for level in levels {
                    decode_nanodet_level(
                        output(&level.scores)?,
                        output(&level.distributions)?,
                        classes,
                        *bins,
                        level.stride,
                        level.grid,
                        threshold.get(),
                        &is_allowed,
                        candidates,
                    );
                }
            }
            Heads::Yolov8 { predictions } => {
                for name in predictions {
                    decode_yolov8(
                        output(name)?,
                        classes,
                        threshold.get(),
                        &is_allowed,
                        candidates,
                    );
                }
            }
        }
        drop(outputs);
        let kept = nms_per_class(
            std::mem::take(&mut self.candidates),
            self.config.nms_iou.get(),
            self.config.max_detections,
        );
        let detections = self.to_source(&kept, &letterbox);
        timings.decode = started.elapsed();
        Ok((detections, timings))
    }

    fn to_source(&self, kept: &[Candidate], letterbox: &Letterbox) -> Vec<Detection> {
        let labels = self.model.labels();
        kept.iter()
            .map(|c| Detection {
                class_id: c.class_id,
                class: labels.get(c.class_id).cloned().unwrap_or_default(),
                score: c.score,
                bbox: letterbox.to_source(c.bbox),
            })
            .filter(|d| d.bbox[2] > d.bbox[0] && d.bbox[3] > d.bbox[1])
            .collect()
    }
}

/// Image size as (width, height).
pub fn image_size(image: &Mat) -> (usize, usize) {
    (image.cols().max(0) as usize, image.rows().max(0) as usize)
}

/// What `detect` needs from the manifest, resolved once at load so that the
/// per-frame path allocates nothing for it.
#[derive(Debug)]
struct DecodePlan {
    model_path: std::path::PathBuf,
    input_name: String,
    heads: Heads,
}

#[derive(Debug)]
enum Heads {
    Nanodet {
        bins: usize,
        levels: Vec<NanodetLevel>,
    },
    Yolov8 {
        predictions: Vec<String>,
    },
}

#[derive(Debug)]
struct NanodetLevel {
    scores: String,
    distributions: String,
    stride: usize,
    grid: usize,
}

impl DecodePlan {
    fn new(manifest: &Manifest) -> Result<Self, ModelError> {
        let model_path = manifest.model_path();
        let heads = match manifest.decoder {
            DecoderKind::NanodetGfl => {
                let mut levels = Vec::new();
                for scores in manifest
                    .outputs
                    .iter()
                    .filter(|o| o.role == OutputRole::ClassScores)
                {
                    let stride = scores.stride.unwrap_or(1) as usize;
                    let boxes = manifest
                        .output(OutputRole::BoxDistribution, scores.stride)
                        .ok_or_else(|| ModelError::BadOutput {
                            path: model_path.clone(),
                            message: format!("no box distribution for stride {stride}"),
                        })?;
                    levels.push(NanodetLevel {
                        scores: scores.name.clone(),
                        distributions: boxes.name.clone(),
                        stride,
                        grid: manifest.input.width().div_ceil(stride),
                    });
                }
                Heads::Nanodet {
                    bins: manifest.reg_max.unwrap_or(0) + 1,
                    levels,
                }
            }
            DecoderKind::Yolov8 => Heads::Yolov8 {
                predictions: manifest
                    .outputs
                    .iter()
                    .filter(|o| o.role == OutputRole::Predictions)
                    .map(|o| o.name.clone())
                    .collect(),
            },
            DecoderKind::Softmax => {
                return Err(ModelError::Manifest {
                    path: model_path,
                    message: "a classifier cannot detect (decoder softmax)".to_owned(),
                });
            }
        };
        Ok(Self {
            model_path,
            input_name: manifest.input.name.clone(),
            heads,
        })
    }
}

/// The detector used unless the configuration names another: NanoDet-m in
/// full precision (`nanodet_int8` is its 2.4x faster INT8 quantization).
pub const DEFAULT_DETECTOR: &str = "nanodet";
