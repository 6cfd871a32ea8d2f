//! The stages, in data-flow order.

pub mod classify;
pub mod compress;
pub mod detect;
pub mod propagate;
pub mod sync;
