//! Perception models for heptaview, run through ONNX Runtime (the `ort` crate).
//!
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), never
//! downloaded at build time: [`runtime::onnxruntime`] finds the library.
//! Each model comes with a TOML manifest ([`manifest::Manifest`]) that the
//! session is checked against before first use.

pub mod attributes;
pub mod classes;
pub mod classifier;
mod decode;
pub mod detector;
mod error;
pub mod manifest;
pub mod preprocess;
pub mod runtime;
pub mod session;
pub mod taxonomy;
pub mod traffic_light;
pub mod units;

pub use decode::iou;
pub use error::ModelError;
pub use runtime::{OnnxRuntime, onnxruntime};
pub use session::{ExecutionProvider, ModelSession, SessionConfig};
