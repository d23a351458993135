//! Autoencoder modules, their losses and regularizers, as burn modules on a runtime `Device`.
//!
//! This crate does no IO and picks no backend: it builds modules from the spec's
//! [`ModelSection`](hourglass_spec::ModelSection) on whatever device the caller passes.

mod autoencoder;
mod conv;
mod importance;
mod loss;
mod mlp;
mod objective;
mod packed;
pub mod penalty;
mod quantizer;
mod strided;

use burn::prelude::*;
use burn::tensor::activation;
use hourglass_spec::Activation;

pub use autoencoder::{Autoencoder, AutoencoderConfig, AutoencoderOutput, Code, Decoder, Encoder};
pub use conv::{ConvDecoder, ConvEncoder, ConvGeometry};
pub use importance::{ImportanceWeights, importance_weighted_bound, importance_weights};
pub use loss::{
    reconstruction_loss, reconstruction_loss_per_example, reconstruction_nats,
    reconstruction_nats_per_example, squared_error_sum,
};
pub use mlp::Mlp;
pub use objective::{Objective, ObjectiveTerms};
pub use packed::{PackedAutoencoder, PackedObjective};
pub use quantizer::{Quantized, VectorQuantizer};

/// Applies a hidden-layer activation to a tensor of any rank.
pub(crate) fn activate<const D: usize>(activation: Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Relu => activation::relu(x),
        Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
        Activation::Tanh => activation::tanh(x),
        Activation::Sigmoid => activation::sigmoid(x),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use hourglass_spec::{Catalog, Experiment};

    use crate::Objective;

    /// burn's seed is process-global: tests that seed and draw take turns.
    pub(crate) static RNG: Mutex<()> = Mutex::new(());

    /// The objective of the first run of an MNIST spec ending in `spec_tail`.
    pub(crate) fn objective(spec_tail: &str) -> Objective {
        let spec =
            format!("[experiment]\nname = \"t\"\n\n[data]\ndataset = \"mnist\"\n\n{spec_tail}");
        let catalog = Catalog {
            datasets: [("mnist".to_string(), vec![1, 28, 28])].into(),
            backends: vec![hourglass_spec::Backend::Flex],
            ..Default::default()
        };
        let experiment: Experiment =
            hourglass_spec::parse(std::path::Path::new("t.toml"), &spec, &catalog).unwrap();
        Objective::from_config(&experiment.runs[0].config)
    }
}
