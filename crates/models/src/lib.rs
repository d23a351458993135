//! Autoencoder modules and their losses, as burn modules on a runtime `Device`.
//!
//! This crate does no IO and picks no backend: it builds modules from the spec's
//! [`ModelSection`](hourglass_spec::ModelSection) on whatever device the caller passes.

mod loss;
mod mlp;

pub use loss::{reconstruction_loss, squared_error_sum};
pub use mlp::{AutoencoderOutput, MlpAutoencoder, MlpAutoencoderConfig};
