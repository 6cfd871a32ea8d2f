//! Perception models for heptaview, run through ONNX Runtime (the `ort` crate).
//!
//! ONNX Runtime is loaded at run time (`ort`'s `load-dynamic`), never
//! downloaded at build time: [`runtime::onnxruntime`] finds the library.

mod error;
pub mod runtime;

pub use error::ModelError;
pub use runtime::{OnnxRuntime, onnxruntime};
