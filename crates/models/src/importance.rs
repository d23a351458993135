//! Importance weights of a Gaussian encoder's codes (Burda et al. 2016):
//!
//! `log wₖ = log p(x | zₖ) + log p(zₖ) − log q(zₖ | x)`, `zₖ = μ + σ εₖ`,
//!
//! the terms of an IWAE's training bound `log (1/K) Σₖ wₖ` and of the likelihood task's
//! estimate of `log p(x)`. `p(x | z)` is the decoder's likelihood in nats as the loss counts
//! it (Bernoulli for BCE, unit-variance Gaussian for MSE), `p(z)` the standard normal prior.

use burn::prelude::*;
use hourglass_spec::Reconstruction;

use crate::autoencoder::{Autoencoder, Code};
use crate::loss::reconstruction_nats_per_example;

/// The importance weights of `samples` codes per example, and the decoder's negative
/// log-likelihood of each.
#[derive(Debug, Clone)]
pub struct ImportanceWeights {
    /// `log wₖ` of each example's codes. `[batch, samples]`
    pub log_weights: Tensor<2>,
    /// `−log p(x | zₖ)` in nats. `[batch, samples]`
    pub reconstruction_nats: Tensor<2>,
}

/// The importance weights of the codes `μ + σ ε` that `noise` draws for `code`, the encoding
/// of `target`: `samples` draws per example, example i's in rows `i·samples..(i+1)·samples`
/// of `noise`.
///
/// # Panics
/// If `code` has no variance (the model is not variational).
///
/// # Shapes
/// - code's fields: `[batch, latent]`; target: `[batch, input]`
/// - noise: `[batch · samples, latent]`
pub fn importance_weights(
    model: &Autoencoder,
    loss: Reconstruction,
    code: &Code,
    target: Tensor<2>,
    noise: Tensor<2>,
    samples: usize,
) -> ImportanceWeights {
    let log_var = code
        .log_var
        .clone()
        .expect("importance weights need a variational code");
    let [batch, _] = target.dims();
    let repeat = |t: Tensor<2>| {
        let [rows, width] = t.dims();
        t.unsqueeze_dim::<3>(1)
            .expand([rows, samples, width])
            .reshape([rows * samples, width])
    };
    let (mean, log_var) = (repeat(code.mean.clone()), repeat(log_var));
    let z = mean.clone() + (log_var.clone() * 0.5).exp() * noise.clone(); // [rows, latent]
    let drawn = Code {
        mean,
        pre_activation: code.pre_activation.clone(),
        log_var: Some(log_var.clone()),
        quantized: None,
    };
    let output = model.decoded(drawn, z.clone());
    let nats = reconstruction_nats_per_example(loss, &output, repeat(target)); // [rows]
    // log p(z) − log q(z | x): the 2π terms cancel; z − μ = σ ε.
    let log_prior_over_posterior = (z.square().neg() + noise.square() + log_var)
        .sum_dim(1)
        .squeeze_dim::<1>(1)
        * 0.5; // [rows]
    ImportanceWeights {
        log_weights: (log_prior_over_posterior - nats.clone()).reshape([batch, samples]),
        reconstruction_nats: nats.reshape([batch, samples]),
    }
}

/// The importance-weighted bound `log (1/K) Σₖ wₖ` of each example, by a log-sum-exp that
/// subtracts each row's largest weight (held constant: the bound's gradient does not depend
/// on it).
///
/// # Shapes
/// - log_weights: `[batch, K]`
/// - output: `[batch]`
pub fn importance_weighted_bound(log_weights: Tensor<2>) -> Tensor<1> {
    let [_, samples] = log_weights.dims();
    let largest = log_weights.clone().max_dim(1).detach(); // [batch, 1]
    let summed = (log_weights - largest.clone()).exp().sum_dim(1).log() + largest; // [batch, 1]
    summed.squeeze_dim::<1>(1) - (samples as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn vae(device: &Device) -> Autoencoder {
        device.seed(11);
        crate::AutoencoderConfig {
            shape: vec![6],
            conv_channels: None,
            hidden: vec![5],
            latent: 2,
            activation: hourglass_spec::Activation::Tanh,
            code_activation: hourglass_spec::CodeActivation::Identity,
            output: hourglass_spec::OutputActivation::Sigmoid,
            variational: true,
            codebook: None,
        }
        .init(device)
    }

    fn values(t: Tensor<1>) -> Vec<f64> {
        t.into_data()
            .iter::<f32>()
            .map(f64::from)
            .collect::<Vec<_>>()
    }

    #[test]
    fn the_bound_is_the_log_mean_of_the_weights_and_never_below_their_mean() {
        let device = Device::flex();
        let log_weights =
            Tensor::<2>::from_floats([[-90.0, -92.0, -95.0], [-400.0, -400.0, -400.0]], &device);
        let bound = values(importance_weighted_bound(log_weights));
        let expected = -90.0 + ((1.0 + (-2f64).exp() + (-5f64).exp()) / 3.0).ln();
        assert!(
            (bound[0] - expected).abs() < 1e-4,
            "{} vs {expected}",
            bound[0]
        );
        // Far below exp's range, and equal weights give their common value.
        assert!((bound[1] + 400.0).abs() < 1e-4, "{}", bound[1]);
        // Jensen: log mean exp ≥ mean log.
        assert!(bound[0] > (-90.0 - 92.0 - 95.0) / 3.0);
    }

    #[test]
    fn one_sample_weights_are_the_elbo_terms_of_that_sample() {
        let _rng = crate::tests::RNG.lock().unwrap();
        let device = Device::flex();
        let model = vae(&device);
        let input = Tensor::<2>::random([4, 6], Distribution::Default, &device);
        let noise = Tensor::<2>::random([4, 2], Distribution::Normal(0.0, 1.0), &device);
        let code = model.encode(input.clone());
        let weights = importance_weights(
            &model,
            Reconstruction::Bce,
            &code,
            input.clone(),
            noise.clone(),
            1,
        );
        let output = model.forward_with_noise(input.clone(), Some(noise.clone()));
        let nats = reconstruction_nats_per_example(Reconstruction::Bce, &output, input);
        let z = output.decoded.clone();
        let log_var = code.log_var.clone().unwrap();
        // log N(z; 0, I) − log N(z; μ, σ²), written out.
        let log_prior = z.clone().square().sum_dim(1).squeeze_dim::<1>(1) * -0.5;
        let log_posterior = ((z - code.mean.clone()).square() / log_var.clone().exp() + log_var)
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            * -0.5;
        let expected = values(log_prior - log_posterior - nats.clone());
        let got = values(weights.log_weights.squeeze_dim::<1>(1));
        for (got, expected) in got.iter().zip(&expected) {
            assert!((got - expected).abs() < 1e-4, "{got} vs {expected}");
        }
        let nats_got = values(weights.reconstruction_nats.squeeze_dim::<1>(1));
        assert_eq!(nats_got, values(nats));
    }

    #[test]
    fn each_example_is_weighted_with_its_own_rows_of_noise() {
        let _rng = crate::tests::RNG.lock().unwrap();
        let device = Device::flex();
        let model = vae(&device);
        let input = Tensor::<2>::random([3, 6], Distribution::Default, &device);
        let noise = Tensor::<2>::random([3 * 4, 2], Distribution::Normal(0.0, 1.0), &device);
        let code = model.encode(input.clone());
        let all = importance_weights(
            &model,
            Reconstruction::Mse,
            &code,
            input.clone(),
            noise.clone(),
            4,
        );
        let all: Vec<f64> = values(all.log_weights.reshape([12]));
        for example in 0..3 {
            let alone = model.encode(input.clone().narrow(0, example, 1));
            let weights = importance_weights(
                &model,
                Reconstruction::Mse,
                &alone,
                input.clone().narrow(0, example, 1),
                noise.clone().narrow(0, example * 4, 4),
                4,
            );
            let alone = values(weights.log_weights.reshape([4]));
            for (a, b) in alone.iter().zip(&all[example * 4..(example + 1) * 4]) {
                assert!((a - b).abs() < 1e-4, "example {example}: {a} vs {b}");
            }
        }
    }
}
