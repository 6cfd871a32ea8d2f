//! Crop classification: all crops of a frame, or of every frame of a frame
//! set, in one batched run of the classifier (its batch dimension is
//! dynamic), softmax, top-k, and the driving taxonomy on top.

use std::path::Path;

use opencv::core::{Mat, Size};
use opencv::imgproc;
use ort::value::TensorRef;
use serde::Serialize;

use crate::error::ModelError;
use crate::manifest::{InputSpec, ModelName, OutputRole, Task, shipped_models_dir};
use crate::preprocess::{check_bgr, crop_rect, write_planes};
use crate::session::{ModelSession, SessionConfig};
use crate::taxonomy::{Taxonomy, VehicleSubtype};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LabelScore {
    pub class_id: usize,
    pub label: String,
    pub score: f32,
}

/// What the classifier says about one crop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// Best first.
    pub top: Vec<LabelScore>,
    /// The subtype with the most probability mass and that mass;
    /// [`VehicleSubtype::Unknown`] (with the best subtype's mass) when the
    /// mass is below the manifest's `subtype_min_score`.
    pub subtype: Option<(VehicleSubtype, f32)>,
}

#[derive(Debug)]
pub struct Classifier {
    model: ModelSession,
    spec: InputSpec,
    model_path: std::path::PathBuf,
    logits_name: String,
    taxonomy: Taxonomy,
    subtype_min_score: f32,
    top_k: usize,
    resized: Mat,
    batch: Vec<f32>,
    /// Time inside ONNX Runtime's `run`, all calls together.
    inference: std::time::Duration,
    /// ONNX Runtime `run` calls so far.
    runs: u64,
}

impl Classifier {
    /// The shipped EfficientNet-Lite0 (`models/efficientnet_lite0.toml`).
    pub fn shipped(session: &SessionConfig, top_k: usize) -> Result<Self, ModelError> {
        Self::load(
            &shipped_models_dir().join(format!("{DEFAULT_CLASSIFIER}.toml")),
            session,
            top_k,
        )
    }

    /// A shipped classifier by manifest name (`efficientnet_lite0_int8`).
    pub fn named(
        model: &ModelName,
        session: &SessionConfig,
        top_k: usize,
    ) -> Result<Self, ModelError> {
        Self::load(&model.manifest_path(), session, top_k)
    }

    pub fn load(
        manifest: &Path,
        session: &SessionConfig,
        top_k: usize,
    ) -> Result<Self, ModelError> {
        let model = ModelSession::load(manifest, session)?;
        if model.manifest().task != Task::Classification {
            return Err(ModelError::Manifest {
                path: manifest.to_path_buf(),
                message: "not a classification model".to_owned(),
            });
        }
        let taxonomy = Taxonomy::from_labels(model.labels());
        let manifest = model.manifest();
        let subtype_min_score = manifest.subtype_min_score.unwrap_or(0.0);
        let logits_name = manifest
            .outputs
            .iter()
            .find(|o| o.role == OutputRole::Logits)
            .map(|o| o.name.clone())
            .unwrap_or_default();
        Ok(Self {
            spec: manifest.input.clone(),
            model_path: manifest.model_path(),
            logits_name,
            model,
            taxonomy,
            subtype_min_score,
            top_k: top_k.max(1),
            resized: Mat::default(),
            batch: Vec::new(),
            inference: std::time::Duration::ZERO,
            runs: 0,
        })
    }

    /// Time spent inside ONNX Runtime's `run` so far, all calls together
    /// (crop preparation and softmax not included).
    pub fn inference_time(&self) -> std::time::Duration {
        self.inference
    }

    /// ONNX Runtime `run` calls so far (a call with no crop to classify
    /// does not run the model and is not counted).
    pub fn runs(&self) -> u64 {
        self.runs
    }

    pub fn taxonomy(&self) -> &Taxonomy {
        &self.taxonomy
    }

    /// Classifies the crops of `boxes` (source pixels) from an 8-bit BGR image,
    /// in one run. Empty boxes (after clipping) get an empty classification.
    pub fn classify(
        &mut self,
        image: &Mat,
        boxes: &[[f32; 4]],
    ) -> Result<Vec<Classification>, ModelError> {
        check_bgr(image)?;
        let crops: Vec<(&Mat, [f32; 4])> = boxes.iter().map(|b| (image, *b)).collect();
        self.classify_crops(&crops)
    }

    /// Classifies crops of several images (each an 8-bit BGR image and a box
    /// in its pixels) in one run, so that a frame set's cameras share one
    /// call. Empty boxes (after clipping) get an empty classification and no
    /// place in the batch. The crop tensor is kept between calls.
    pub fn classify_crops(
        &mut self,
        crops: &[(&Mat, [f32; 4])],
    ) -> Result<Vec<Classification>, ModelError> {
        for (image, _) in crops {
            check_bgr(image)?;
        }
        let rects: Vec<_> = crops
            .iter()
            .map(|(image, b)| crop_rect(image, *b).map(|rect| (*image, rect)))
            .collect();
        let valid: Vec<_> = rects.iter().flatten().copied().collect();
        if valid.is_empty() {
            return Ok(vec![
                Classification {
                    top: Vec::new(),
                    subtype: None
                };
                crops.len()
            ]);
        }
        let spec = &self.spec;
        let (width, height) = (spec.width(), spec.height());
        let plane = width * height;
        self.batch.clear();
        self.batch.resize(valid.len() * 3 * plane, 0.0);
        for (slot, (image, rect)) in valid.iter().enumerate() {
            let crop = Mat::roi(*image, *rect)?;
            imgproc::resize(
                &crop,
                &mut self.resized,
                Size::new(width as i32, height as i32),
                0.0,
                0.0,
                imgproc::INTER_LINEAR,
            )?;
            let slot_tensor = &mut self.batch[slot * 3 * plane..(slot + 1) * 3 * plane];
            write_planes(&self.resized, slot_tensor, width, plane, 0, 0, spec)?;
        }
        let shape = [valid.len(), 3, height, width];
        let input = TensorRef::from_array_view((shape, &self.batch[..]))
            .map_err(|e| self.model.session_error(e))?;
        let model_path = &self.model_path;
        let session_error = |source| ModelError::Session {
            path: model_path.clone(),
            source,
        };
        let logits_name = &self.logits_name;
        let started = std::time::Instant::now();
        let outputs = self
            .model
            .session_mut()
            .run(ort::inputs![spec.name.as_str() => input])
            .map_err(session_error)?;
        self.inference += started.elapsed();
        self.runs += 1;
        let value = outputs
            .get(logits_name)
            .ok_or_else(|| ModelError::BadOutput {
                path: model_path.clone(),
                message: format!("no output `{logits_name}`"),
            })?;
        let (_, logits) = value.try_extract_tensor::<f32>().map_err(session_error)?;
        // N x 1000 floats: copied so that the session is free again.
        let logits = logits.to_vec();
        drop(outputs);
        let classes = logits.len() / valid.len();
        let labels = self.model.labels();
        let mut per_crop = logits.chunks_exact(classes).map(|row| {
            let probabilities = softmax(row);
            let mut order: Vec<usize> = (0..classes).collect();
            order.sort_by(|&a, &b| {
                probabilities[b]
                    .total_cmp(&probabilities[a])
                    .then(a.cmp(&b))
            });
            Classification {
                top: order
                    .iter()
                    .take(self.top_k)
                    .map(|&class_id| LabelScore {
                        class_id,
                        label: labels.get(class_id).cloned().unwrap_or_default(),
                        score: probabilities[class_id],
                    })
                    .collect(),
                subtype: self
                    .taxonomy
                    .subtype(&probabilities)
                    .map(|(subtype, mass)| {
                        if mass >= self.subtype_min_score {
                            (subtype, mass)
                        } else {
                            (VehicleSubtype::Unknown, mass)
                        }
                    }),
            }
        });
        Ok(rects
            .iter()
            .map(|rect| match rect {
                Some(_) => per_crop.next().unwrap_or(Classification {
                    top: Vec::new(),
                    subtype: None,
                }),
                None => Classification {
                    top: Vec::new(),
                    subtype: None,
                },
            })
            .collect())
    }
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / total).collect()
}

/// The classifier used unless the configuration names another:
/// EfficientNet-Lite0 in full precision (`efficientnet_lite0_int8` is its
/// INT8 quantization).
pub const DEFAULT_CLASSIFIER: &str = "efficientnet_lite0";

/// The default classifier's name, for configuration defaults.
pub fn default_classifier() -> ModelName {
    ModelName::shipped(DEFAULT_CLASSIFIER)
}
