//! Evaluation of a trained model on a split, without gradients.

use burn::prelude::*;
use hourglass_data::Split;
use hourglass_models::{MlpAutoencoder, reconstruction_loss, squared_error_sum};

use crate::batch;

/// Examples per evaluation batch: large, since no activations are kept for a backward pass.
const EVAL_BATCH: usize = 1000;

/// Reconstruction quality on a split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reconstruction {
    /// Mean squared error per input element, inputs in `[0, 1]`.
    pub mse: f64,
    /// The training objective, averaged over the split.
    pub loss: f64,
}

impl Reconstruction {
    /// Peak signal-to-noise ratio for a peak of 1: `10 log10(1 / mse)`.
    pub fn psnr_db(&self) -> f64 {
        10.0 * (1.0 / self.mse).log10()
    }
}

/// Measures `model` on every example of `split`, on a device without autodiff.
pub(crate) fn reconstruction(
    model: &MlpAutoencoder,
    objective: hourglass_spec::Reconstruction,
    split: &Split,
    device: &Device,
) -> Reconstruction {
    let indices: Vec<usize> = (0..split.len()).collect();
    let mut squared_error = 0.0f64;
    let mut loss_sum = 0.0f64;
    for chunk in indices.chunks(EVAL_BATCH) {
        let input = batch::inputs(split, chunk, device); // [chunk, features]
        let output = model.forward(input.clone());
        let loss: f32 = reconstruction_loss(objective, &output, input.clone()).into_scalar();
        let sse: f32 = squared_error_sum(output.reconstruction, input).into_scalar();
        squared_error += f64::from(sse);
        loss_sum += f64::from(loss) * chunk.len() as f64;
    }
    let elements = (split.len() * split.features()) as f64;
    Reconstruction {
        mse: squared_error / elements,
        loss: loss_sum / split.len() as f64,
    }
}
