//! Evaluation of a trained model on a split, without gradients: reconstruction error, the
//! objective, code statistics, the encoder's Jacobian and denoising quality.

use burn::prelude::*;
use hourglass_data::{Corruption, Split, standard_normals};
use hourglass_metrics::{mean_ssim, psnr_db};
use hourglass_models::{Autoencoder, Objective, penalty, squared_error_sum};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::batch;

/// Examples per evaluation batch: large, since no activations are kept for a backward pass.
pub(crate) const EVAL_BATCH: usize = 1000;

/// Random projections that `jacobian_frobenius` averages for a deep encoder: 10,000 in all
/// where the test set has that many examples (one each on MNIST), else up to
/// [`MOST_PROJECTIONS_PER_EXAMPLE`] per example. One Rademacher projection's relative standard
/// deviation is at most √2 (see `contractive_estimate`), so with 10,000 the estimate's is at
/// most √(2 / 10,000) ≈ 1.4 %, and about √(2 / (10,000 r)) for a Jacobian of r similar
/// singular values (0.25 % for a 32-unit code). Every run is measured on the same directions,
/// so runs differ by less. Four per example on MNIST made the estimate 60 % of a run's
/// evaluation time.
const JACOBIAN_PROJECTIONS: usize = 10_000;

/// The most random projections per example of `jacobian_frobenius`, on small test sets.
const MOST_PROJECTIONS_PER_EXAMPLE: usize = 4;

/// Seed of the random draws of evaluation (corrupted inputs, a VAE's ε, random directions):
/// the same for every run, so that runs are compared on the same draws.
pub(crate) const EVALUATION_NOISE_SEED: u64 = 0x6e6f_6973_6500;

/// A VAE unit is active when the variance of its posterior mean over the data exceeds this
/// (Burda et al., 2016).
const ACTIVE_UNIT_VARIANCE: f64 = 0.01;

/// How a model does on a split.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean squared error per input element of the deterministic reconstruction (a VAE's
    /// from μ), inputs in `[0, 1]`.
    pub mse: f64,
    /// The objective's reconstruction term averaged over examples; for a VAE the negative
    /// ELBO in nats per example (β = 1, one sample of the code), for an IWAE its negative
    /// K-sample bound.
    pub loss: f64,
    /// A variational model's negative ELBO in nats per example (for an IWAE its
    /// reconstruction term averaged over the K codes).
    pub elbo: Option<f64>,
    /// A variational model's KL term in nats per example.
    pub kl: Option<f64>,
    /// Mean over examples of each code unit (a VAE's μ).
    pub unit_means: Vec<f64>,
    /// Variance over examples of each code unit.
    pub unit_variances: Vec<f64>,
    /// A VAE's mean KL divergence of each unit's posterior from the prior, in nats.
    pub unit_kl: Option<Vec<f64>>,
}

impl Evaluation {
    /// Peak signal-to-noise ratio for a peak of 1: `10 log10(1 / mse)`.
    pub fn psnr_db(&self) -> f64 {
        psnr_db(self.mse, 1.0)
    }

    /// Mean code value over examples and units.
    pub fn mean_code_activation(&self) -> f64 {
        self.unit_means.iter().sum::<f64>() / self.unit_means.len().max(1) as f64
    }

    /// `Σ_j KL(ρ ‖ ρ̂_j)` of the units' mean activations over the split; meaningful for codes
    /// in (0, 1).
    pub fn sparsity_kl(&self, target: f64) -> f64 {
        self.unit_means
            .iter()
            .map(|&mean| {
                let mean = mean.clamp(1e-6, 1.0 - 1e-6);
                target * (target / mean).ln()
                    + (1.0 - target) * ((1.0 - target) / (1.0 - mean)).ln()
            })
            .sum()
    }

    /// Units whose variance over the split exceeds 0.01.
    pub fn active_units(&self) -> usize {
        self.unit_variances
            .iter()
            .filter(|&&variance| variance > ACTIVE_UNIT_VARIANCE)
            .count()
    }
}

/// Measures `model` on every example of `split`, on a device without autodiff.
pub(crate) fn evaluate(
    model: &Autoencoder,
    objective: &Objective,
    split: &Split,
    device: &Device,
) -> Evaluation {
    let latent = model.latent();
    let mut squared_error = 0.0f64;
    let mut loss_sum = 0.0f64;
    let mut kl_sum = 0.0f64;
    let mut elbo_sum = 0.0f64;
    let mut sums = vec![0.0f64; latent];
    let mut squares = vec![0.0f64; latent];
    let mut unit_kl = model.is_variational().then(|| vec![0.0f64; latent]);
    // An IWAE decodes K codes per example: fewer examples per batch keep the rows at most
    // EVAL_BATCH.
    let examples = (EVAL_BATCH / objective.samples_per_example()).max(1);
    for (index, chunk) in chunks_of(split, examples).into_iter().enumerate() {
        let count = chunk.len() as f64;
        let input = batch::inputs(split, &chunk, device); // [chunk, features]
        let output = model.forward(input.clone());
        let sse: f32 =
            squared_error_sum(output.reconstruction.clone(), input.clone()).into_scalar();
        squared_error += f64::from(sse);
        let codes: Vec<f32> = output
            .code
            .mean
            .clone()
            .into_data()
            .try_to_vec()
            .expect("f32 codes");
        for row in codes.chunks_exact(latent) {
            for (j, &value) in row.iter().enumerate() {
                sums[j] += f64::from(value);
                squares[j] += f64::from(value) * f64::from(value);
            }
        }
        if let (Some(unit_kl), Some(log_var)) = (unit_kl.as_mut(), output.code.log_var.clone()) {
            let log_vars: Vec<f32> = log_var.into_data().iter::<f32>().collect();
            for (i, (&mu, &log_var)) in codes.iter().zip(&log_vars).enumerate() {
                unit_kl[i % latent] += gaussian_kl(mu, log_var);
            }
        }
        if model.is_variational() {
            let draws = chunk.len() * objective.samples_per_example();
            let noise = evaluation_noise(index, |rng| standard_normals(draws * latent, rng));
            let noise = batch::tensor(noise, latent, device); // [draws, latent]
            let terms = objective.variational_terms(model, input, noise);
            let scalar = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
            let kl = scalar(terms.kl.expect("a variational model has a KL term"));
            let elbo = scalar(terms.reconstruction) + kl;
            loss_sum += scalar(terms.total) * count;
            elbo_sum += elbo * count;
            kl_sum += kl * count;
        } else {
            let terms = objective.reconstruction_terms(&output, input, 0.0);
            loss_sum += f64::from(terms.reconstruction.into_scalar::<f32>()) * count;
        }
    }
    let n = split.len() as f64;
    let unit_means: Vec<f64> = sums.iter().map(|s| s / n).collect();
    let unit_variances = squares
        .iter()
        .zip(&unit_means)
        .map(|(s, mean)| (s / n - mean * mean).max(0.0))
        .collect();
    Evaluation {
        mse: squared_error / (n * split.features() as f64),
        loss: loss_sum / n,
        elbo: model.is_variational().then_some(elbo_sum / n),
        kl: model.is_variational().then_some(kl_sum / n),
        unit_means,
        unit_variances,
        unit_kl: unit_kl.map(|kl| kl.iter().map(|k| k / n).collect()),
    }
}

/// `KL(N(μ, σ²) ‖ N(0, 1)) = ½ (μ² + σ² − 1 − log σ²)` in nats, of one code unit.
pub(crate) fn gaussian_kl(mu: f32, log_var: f32) -> f64 {
    let (mu, log_var) = (f64::from(mu), f64::from(log_var));
    0.5 * (mu * mu + log_var.exp() - 1.0 - log_var)
}

/// Root mean square over the split of the Frobenius norm of the encoder's Jacobian
/// (`√ mean ‖J_f(x)‖²_F`): exact for one-layer encoders, estimated for deeper ones.
pub(crate) fn jacobian_frobenius(model: &Autoencoder, split: &Split, device: &Device) -> f64 {
    let mut total = 0.0f64;
    let features = split.features();
    let per_example = JACOBIAN_PROJECTIONS
        .div_ceil(split.len().max(1))
        .min(MOST_PROJECTIONS_PER_EXAMPLE);
    for (index, chunk) in chunks(split).into_iter().enumerate() {
        let input = batch::inputs(split, &chunk, device);
        let code = || model.encode(input.clone());
        let directions = |batch| {
            let signs = evaluation_noise(index, |rng| {
                let count = per_example * batch * features;
                (0..count)
                    .map(|_| if rng.random() { 1.0 } else { -1.0 })
                    .collect()
            });
            batch::tensor(signs, features, device) // [K · batch, features]
        };
        let mean: f32 =
            penalty::jacobian_penalty(model, input.clone(), code, directions).into_scalar();
        total += f64::from(mean) * chunk.len() as f64;
    }
    (total / split.len() as f64).sqrt()
}

/// Quality of noisy inputs and of the model's reconstructions of them, both against the clean
/// inputs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Denoising {
    /// PSNR of the corrupted inputs.
    pub noisy_psnr_db: f64,
    /// PSNR of the reconstructions of the corrupted inputs.
    pub denoised_psnr_db: f64,
    /// Mean SSIM of the corrupted images, for single-channel images.
    pub noisy_ssim: Option<f64>,
    /// Mean SSIM of the reconstructions of the corrupted images.
    pub denoised_ssim: Option<f64>,
}

/// How well `model` removes `corruption` from the split's inputs; SSIM too when `image` gives
/// the height and width of single-channel images. The corruption is drawn from a fixed seed,
/// so every run sees the same noisy inputs.
pub(crate) fn denoising(
    model: &Autoencoder,
    corruption: &Corruption,
    split: &Split,
    image: Option<[usize; 2]>,
    device: &Device,
) -> Denoising {
    let features = split.features();
    let (mut noisy_error, mut denoised_error) = (0.0f64, 0.0f64);
    let (mut noisy_ssim, mut denoised_ssim) = (0.0f64, 0.0f64);
    for (index, chunk) in chunks(split).into_iter().enumerate() {
        let clean = batch::rows(split, &chunk);
        let noisy = corruption.applied(&clean, EVALUATION_NOISE_SEED ^ index as u64);
        noisy_error += clean
            .iter()
            .zip(&noisy)
            .map(|(c, n)| f64::from(c - n).powi(2))
            .sum::<f64>();
        let reconstruction: Vec<f32> = model
            .forward(batch::tensor(noisy.clone(), features, device))
            .reconstruction
            .into_data()
            .try_to_vec()
            .expect("f32 reconstructions");
        denoised_error += clean
            .iter()
            .zip(&reconstruction)
            .map(|(c, r)| f64::from(c - r).powi(2))
            .sum::<f64>();
        // A colour image's channels are consecutive planes: the mean over planes is SSIM per
        // channel, averaged.
        if let Some([height, width]) = image {
            let weight = chunk.len() as f64;
            noisy_ssim += mean_ssim(&clean, &noisy, height, width) * weight;
            denoised_ssim += mean_ssim(&clean, &reconstruction, height, width) * weight;
        }
    }
    let elements = (split.len() * features) as f64;
    let examples = split.len() as f64;
    Denoising {
        noisy_psnr_db: psnr_db(noisy_error / elements, 1.0),
        denoised_psnr_db: psnr_db(denoised_error / elements, 1.0),
        noisy_ssim: image.map(|_| noisy_ssim / examples),
        denoised_ssim: image.map(|_| denoised_ssim / examples),
    }
}

/// The codes (a VAE's μ) of every example of `split`, row-major `[examples, latent]`.
pub(crate) fn codes(model: &Autoencoder, split: &Split, device: &Device) -> Vec<f32> {
    let mut codes = Vec::with_capacity(split.len() * model.latent());
    for chunk in chunks(split) {
        let code = model.encode(batch::inputs(split, &chunk, device)).mean;
        codes.extend(code.into_data().iter::<f32>());
    }
    codes
}

/// A VQ-VAE's codes of every example of `split`, entry indices row by row.
///
/// # Panics
/// For a model without a codebook.
pub(crate) fn code_indices(model: &Autoencoder, split: &Split, device: &Device) -> Vec<u32> {
    let mut indices = Vec::new();
    for chunk in chunks(split) {
        let code = model.encode(batch::inputs(split, &chunk, device));
        let quantized = code.quantized.expect("a VQ-VAE's code has entry indices");
        let values = quantized.indices.into_data().convert::<i64>();
        indices.extend(values.iter::<i64>().map(|i| i as u32));
    }
    indices
}

/// Random values for evaluation batch `index`, drawn by `draw` from a stream of
/// [`EVALUATION_NOISE_SEED`]: a measure that samples (a VAE's ELBO, the Jacobian estimate of
/// a deep encoder) sees the same draws in every run, whether trained alone or in a pack.
fn evaluation_noise(index: usize, draw: impl FnOnce(&mut ChaCha8Rng) -> Vec<f32>) -> Vec<f32> {
    draw(&mut ChaCha8Rng::seed_from_u64(
        EVALUATION_NOISE_SEED ^ index as u64,
    ))
}

/// The indices of `split` in evaluation batches.
pub(crate) fn chunks(split: &Split) -> Vec<Vec<usize>> {
    chunks_of(split, EVAL_BATCH)
}

/// The indices of `split` in batches of `examples`.
fn chunks_of(split: &Split, examples: usize) -> Vec<Vec<usize>> {
    let indices: Vec<usize> = (0..split.len()).collect();
    indices.chunks(examples).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluation(unit_means: Vec<f64>, unit_variances: Vec<f64>) -> Evaluation {
        Evaluation {
            mse: 0.01,
            loss: 0.0,
            elbo: None,
            kl: None,
            unit_means,
            unit_variances,
            unit_kl: None,
        }
    }

    #[test]
    fn code_statistics_follow_their_definitions() {
        let at_target = evaluation(vec![0.05, 0.05], vec![0.0, 0.0]);
        assert!(at_target.sparsity_kl(0.05).abs() < 1e-12);
        let half = evaluation(vec![0.5, 0.1], vec![0.02, 0.005]);
        let kl = |m: f64| 0.05 * (0.05 / m).ln() + 0.95 * (0.95 / (1.0 - m)).ln();
        assert!((half.sparsity_kl(0.05) - kl(0.5) - kl(0.1)).abs() < 1e-12);
        assert!((half.mean_code_activation() - 0.3).abs() < 1e-12);
        assert_eq!(half.active_units(), 1);
    }
}
