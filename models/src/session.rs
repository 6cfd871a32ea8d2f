//! An ONNX Runtime session built from a manifest, and checked against it
//! before first use: file hash, input and output names and shapes.

use std::io::Read;
use std::path::{Path, PathBuf};

use ort::ep::{self, ExecutionProvider as _};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::ValueType;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ModelError;
use crate::manifest::{Manifest, read_labels};
use crate::runtime::onnxruntime;

/// An execution provider to ask ONNX Runtime for, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionProvider {
    Cpu,
    Cuda,
    Tensorrt,
}

/// How to run a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// Threads ONNX Runtime may use inside one operator.
    pub intra_threads: usize,
    /// Tried in order; CPU always remains as the fallback.
    pub execution_providers: Vec<ExecutionProvider>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            intra_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            execution_providers: vec![ExecutionProvider::Cpu],
        }
    }
}

/// A loaded, verified model.
#[derive(Debug)]
pub struct ModelSession {
    manifest: Manifest,
    manifest_path: PathBuf,
    labels: Vec<String>,
    session: Session,
    providers: Vec<ExecutionProvider>,
}

impl ModelSession {
    pub fn load(manifest_path: &Path, config: &SessionConfig) -> Result<Self, ModelError> {
        let manifest = Manifest::load(manifest_path)?;
        let model_path = manifest.model_path();
        if !model_path.is_file() {
            return Err(ModelError::ModelFileMissing {
                path: model_path,
                manifest: manifest_path.to_path_buf(),
            });
        }
        verify_sha256(&model_path, &manifest.sha256)?;
        let labels_path = manifest.labels_path();
        if let Some(expected) = &manifest.labels_sha256 {
            verify_sha256(&labels_path, expected)?;
        }
        let labels = read_labels(&labels_path)?;

        let runtime = onnxruntime()?;
        let session_error = |source| ModelError::Session {
            path: model_path.clone(),
            source,
        };
        let mut builder = Session::builder(runtime.environment())
            .map_err(session_error)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| session_error(e.into()))?
            .with_intra_threads(config.intra_threads.max(1))
            .map_err(|e| session_error(e.into()))?;
        let providers = available_providers(&config.execution_providers, &manifest.name);
        let dispatch: Vec<_> = providers
            .iter()
            .filter_map(|p| match p {
                ExecutionProvider::Cuda => Some(ep::CUDA::default().build()),
                ExecutionProvider::Tensorrt => Some(ep::TensorRT::default().build()),
                ExecutionProvider::Cpu => None,
            })
            .collect();
        if !dispatch.is_empty() {
            builder = builder
                .with_execution_providers(dispatch)
                .map_err(|e| session_error(e.into()))?;
        }
        let session = builder
            .commit_from_file(&model_path)
            .map_err(session_error)?;
        let loaded = Self {
            manifest,
            manifest_path: manifest_path.to_path_buf(),
            labels,
            session,
            providers,
        };
        loaded.verify_graph()?;
        Ok(loaded)
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The execution providers in use, best first (CPU is always last).
    pub fn providers(&self) -> &[ExecutionProvider] {
        &self.providers
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    pub(crate) fn session_error(&self, source: ort::Error) -> ModelError {
        ModelError::Session {
            path: self.manifest.model_path(),
            source,
        }
    }

    fn verify_graph(&self) -> Result<(), ModelError> {
        let path = self.manifest.model_path();
        let mismatch = |what: String, declared: String, found: String| ModelError::GraphMismatch {
            path: path.clone(),
            what,
            declared,
            found,
        };
        let inputs = self.session.inputs();
        let input_names: Vec<&str> = inputs.iter().map(|i| i.name()).collect();
        if input_names != [self.manifest.input.name.as_str()] {
            return Err(mismatch(
                "the graph's input list".to_owned(),
                format!("[{}]", self.manifest.input.name),
                format!("{input_names:?}"),
            ));
        }
        let input_shape = tensor_shape(inputs[0].dtype());
        if input_shape.as_deref() != Some(&self.manifest.input.shape[..]) {
            return Err(mismatch(
                format!("the shape of input `{}`", self.manifest.input.name),
                format!("{:?}", self.manifest.input.shape),
                format!("{input_shape:?}"),
            ));
        }
        let outputs = self.session.outputs();
        for declared in &self.manifest.outputs {
            let found = outputs
                .iter()
                .find(|o| o.name() == declared.name)
                .ok_or_else(|| {
                    mismatch(
                        format!("output `{}`", declared.name),
                        "present".to_owned(),
                        format!(
                            "absent (the graph has {:?})",
                            outputs.iter().map(|o| o.name()).collect::<Vec<_>>()
                        ),
                    )
                })?;
            let shape = tensor_shape(found.dtype());
            if shape.as_deref() != Some(&declared.shape[..]) {
                return Err(mismatch(
                    format!("the shape of output `{}`", declared.name),
                    format!("{:?}", declared.shape),
                    format!("{shape:?}"),
                ));
            }
        }
        if outputs.len() != self.manifest.outputs.len() {
            return Err(mismatch(
                "the number of outputs".to_owned(),
                self.manifest.outputs.len().to_string(),
                outputs.len().to_string(),
            ));
        }
        Ok(())
    }
}

fn tensor_shape(value_type: &ValueType) -> Option<Vec<i64>> {
    value_type.tensor_shape().map(|shape| shape.to_vec())
}

/// The configured providers this ONNX Runtime library really has, in order,
/// always ending with CPU; each one missing is a warning, not an error.
fn available_providers(wanted: &[ExecutionProvider], model: &str) -> Vec<ExecutionProvider> {
    let mut providers = Vec::new();
    for provider in wanted {
        let available = match provider {
            ExecutionProvider::Cpu => continue,
            ExecutionProvider::Cuda => ep::CUDA::is_available(),
            ExecutionProvider::Tensorrt => ep::TensorRT::is_available(),
        };
        match available {
            Ok(true) => providers.push(*provider),
            Ok(false) => tracing::warn!(
                "{model}: execution provider {provider:?} is not in this ONNX Runtime build; falling back to the next one (CPU last)"
            ),
            Err(error) => tracing::warn!(
                "{model}: cannot query execution provider {provider:?} ({error}); falling back to the next one (CPU last)"
            ),
        }
    }
    providers.push(ExecutionProvider::Cpu);
    providers
}

/// Streams the file through SHA-256 and compares with the manifest's value.
fn verify_sha256(path: &Path, expected: &str) -> Result<(), ModelError> {
    let read_error = |source| ModelError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let found: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found != expected.to_ascii_lowercase() {
        return Err(ModelError::Sha256Mismatch {
            path: path.to_path_buf(),
            expected: expected.to_owned(),
            found,
        });
    }
    Ok(())
}
