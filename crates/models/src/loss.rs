//! Reconstruction losses, averaged per element as PyTorch's `reduction="mean"` does.

use burn::prelude::*;
use burn::tensor::activation::log_sigmoid;
use hourglass_spec::Reconstruction;

use crate::AutoencoderOutput;

/// The mean per-element reconstruction loss of `output` against `target`.
///
/// # Shapes
/// - target: `[batch, input]`
/// - output: `[1]`
pub fn reconstruction_loss(
    kind: Reconstruction,
    output: &AutoencoderOutput,
    target: Tensor<2>,
) -> Tensor<1> {
    elementwise_loss(kind, output, target).mean()
}

/// [`reconstruction_loss`] of each example (its mean over elements).
///
/// # Shapes
/// - target: `[batch, input]`
/// - output: `[batch]`
pub fn reconstruction_loss_per_example(
    kind: Reconstruction,
    output: &AutoencoderOutput,
    target: Tensor<2>,
) -> Tensor<1> {
    elementwise_loss(kind, output, target)
        .mean_dim(1)
        .squeeze_dim::<1>(1)
}

/// The loss of each element. Binary cross-entropy is computed from the logits with `log σ(z)`
/// and `log σ(-z)`, which stays finite where a saturated sigmoid would give `log 0`.
///
/// # Shapes
/// - target, output: `[batch, input]`
fn elementwise_loss(
    kind: Reconstruction,
    output: &AutoencoderOutput,
    target: Tensor<2>,
) -> Tensor<2> {
    match kind {
        Reconstruction::Mse => (output.reconstruction.clone() - target).square(),
        Reconstruction::Bce => {
            let logits = output.logits.clone();
            let positive = log_sigmoid(logits.clone()) * target.clone(); // [batch, input]
            let negative = log_sigmoid(logits.neg()) * (target.neg() + 1.0); // [batch, input]
            (positive + negative).neg()
        }
    }
}

/// The negative log-likelihood of `target` under the decoder, in nats per example (summed
/// over elements, averaged over examples): Bernoulli for BCE (as the PyTorch VAE example,
/// also for grey levels in [0, 1]), unit-variance Gaussian for MSE
/// (`½ Σ (x - x̂)² + D/2 · log 2π`; a decoder variance σ² is the same as β = 2σ² on the KL).
///
/// # Shapes
/// - target: `[batch, input]`
/// - output: `[1]`
pub fn reconstruction_nats(
    kind: Reconstruction,
    output: &AutoencoderOutput,
    target: Tensor<2>,
) -> Tensor<1> {
    reconstruction_nats_per_example(kind, output, target).mean()
}

/// [`reconstruction_nats`] of each example: the anomaly score of a reconstruction.
///
/// # Shapes
/// - target: `[batch, input]`
/// - output: `[batch]`
pub fn reconstruction_nats_per_example(
    kind: Reconstruction,
    output: &AutoencoderOutput,
    target: Tensor<2>,
) -> Tensor<1> {
    let [_, features] = target.dims();
    let summed = elementwise_loss(kind, output, target)
        .sum_dim(1)
        .squeeze_dim::<1>(1); // [batch]
    match kind {
        Reconstruction::Bce => summed,
        Reconstruction::Mse => {
            summed * 0.5 + 0.5 * features as f64 * (2.0 * std::f64::consts::PI).ln()
        }
    }
}

/// The sum of squared errors between reconstruction and target, over every element.
///
/// # Shapes
/// - reconstruction, target: `[batch, input]`
/// - output: `[1]`
pub fn squared_error_sum(reconstruction: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
    (reconstruction - target).square().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(logits: [[f32; 2]; 1], device: &Device) -> AutoencoderOutput {
        let logits = Tensor::<2>::from_floats(logits, device);
        let code = Tensor::<2>::zeros([1, 1], device);
        AutoencoderOutput {
            code: crate::Code {
                mean: code.clone(),
                pre_activation: code.clone(),
                log_var: None,
                quantized: None,
            },
            decoded: code,
            reconstruction: burn::tensor::activation::sigmoid(logits.clone()),
            logits,
        }
    }

    #[test]
    fn bce_matches_the_textbook_formula() {
        let device = Device::flex();
        let out = output([[0.5, -2.0]], &device);
        let target = Tensor::<2>::from_floats([[1.0, 0.25]], &device);
        let loss: f32 = reconstruction_loss(Reconstruction::Bce, &out, target).into_scalar();
        let p = |z: f32| 1.0 / (1.0 + (-z).exp());
        let expected = (-(p(0.5)).ln() - (0.25 * p(-2.0).ln() + 0.75 * (1.0 - p(-2.0)).ln())) / 2.0;
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    }

    #[test]
    fn bce_stays_finite_for_saturated_logits() {
        let device = Device::flex();
        let out = output([[100.0, -100.0]], &device);
        let target = Tensor::<2>::from_floats([[0.0, 1.0]], &device);
        let loss: f32 = reconstruction_loss(Reconstruction::Bce, &out, target).into_scalar();
        assert!((loss - 100.0).abs() < 1e-3, "{loss}");
    }

    #[test]
    fn nats_sum_over_elements() {
        let device = Device::flex();
        let out = output([[0.0, 0.0]], &device); // reconstruction 0.5, 0.5
        let target = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        let bce: f32 = reconstruction_nats(Reconstruction::Bce, &out, target.clone()).into_scalar();
        assert!((bce - 2.0 * 2f32.ln()).abs() < 1e-5, "{bce}");
        let gaussian: f32 = reconstruction_nats(Reconstruction::Mse, &out, target).into_scalar();
        let expected = 0.5 * 0.5 + (2.0 * std::f32::consts::PI).ln();
        assert!((gaussian - expected).abs() < 1e-5, "{gaussian}");
    }

    #[test]
    fn mse_is_the_mean_of_squares() {
        let device = Device::flex();
        let out = output([[0.0, 0.0]], &device); // reconstruction 0.5, 0.5
        let target = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
        let loss: f32 = reconstruction_loss(Reconstruction::Mse, &out, target).into_scalar();
        assert!((loss - 0.25).abs() < 1e-6);
    }
}
