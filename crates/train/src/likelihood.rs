//! The likelihood task: a VAE's test negative log-likelihood, estimated by importance sampling
//! with its encoder as the proposal (Rezende et al. 2014, appendix E; Burda et al. 2016, the
//! IWAE paper's evaluation):
//!
//! `log p(x) ≈ log (1/K) Σₖ p(x | zₖ) p(zₖ) / q(zₖ | x)`, `zₖ ~ q(z | x)`,
//!
//! a lower bound on `log p(x)` in expectation that tightens as K grows, and is exact for any K
//! when q is the true posterior: the bound an IWAE trains, with many more samples. The
//! weights ([`importance_weights`]) are computed per sample in `f32` on the device and
//! combined on the host with a log-sum-exp accumulated in `f64`.

use burn::prelude::*;
use hourglass_data::{Split, standard_normals};
use hourglass_models::{Autoencoder, importance_weights};
use hourglass_spec::Reconstruction;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::batch;

/// Importance samples decoded at once, across the examples of a pass.
const SAMPLES_PER_PASS: usize = 8192;

/// The test negative log-likelihood: its mean over the examples in nats and the standard
/// error of that mean (their sample standard deviation over √n; NaN with one example).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Likelihood {
    pub(crate) nll_nats: f64,
    pub(crate) standard_error: f64,
}

impl Likelihood {
    /// The mean and standard error of the examples' negative log-likelihoods.
    pub(crate) fn of(nll: &[f64]) -> Self {
        let n = nll.len() as f64;
        let mean = nll.iter().sum::<f64>() / n;
        let variance = nll.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Likelihood {
            nll_nats: mean,
            standard_error: (variance / n).sqrt(),
        }
    }
}

/// `−log p(x)` of each example of `split` under the VAE `model`, estimated with `samples`
/// codes drawn per example from a stream seeded by `seed`.
///
/// # Panics
/// If `model` is not variational or `samples` is zero.
pub(crate) fn per_example_nll(
    model: &Autoencoder,
    loss: Reconstruction,
    split: &Split,
    samples: usize,
    seed: u64,
    device: &Device,
) -> Vec<f64> {
    assert!(model.is_variational(), "the likelihood task needs a VAE");
    assert!(samples > 0, "importance sampling needs a sample");
    let latent = model.latent();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Examples per pass, and samples per example in a pass.
    let examples = (SAMPLES_PER_PASS / samples).clamp(1, split.len().max(1));
    let per_pass = samples.min(SAMPLES_PER_PASS);
    let indices: Vec<usize> = (0..split.len()).collect();
    let mut nll = Vec::with_capacity(split.len());
    for chunk in indices.chunks(examples) {
        let input = batch::inputs(split, chunk, device); // [b, features]
        let code = model.encode(input.clone());
        let mut sums: Vec<LogSumExp> = vec![LogSumExp::default(); chunk.len()];
        let mut drawn = 0;
        while drawn < samples {
            let s = per_pass.min(samples - drawn);
            let noise = standard_normals(chunk.len() * s * latent, &mut rng);
            let noise = batch::tensor(noise, latent, device); // [b · s, latent]
            let weights = importance_weights(model, loss, &code, input.clone(), noise, s);
            let log_weights: Vec<f32> = weights
                .log_weights
                .into_data()
                .try_to_vec()
                .expect("f32 weights"); // [b, s]
            for (sum, weights) in sums.iter_mut().zip(log_weights.chunks_exact(s)) {
                weights.iter().for_each(|&w| sum.add(f64::from(w)));
            }
            drawn += s;
        }
        let log_samples = (samples as f64).ln();
        nll.extend(sums.iter().map(|sum| log_samples - sum.value()));
    }
    nll
}

/// A running `log Σ exp(xᵢ)`, in `f64`, that stays finite for any finite terms.
#[derive(Debug, Clone, Copy)]
struct LogSumExp {
    max: f64,
    /// `Σ exp(xᵢ − max)`.
    scaled: f64,
}

impl Default for LogSumExp {
    fn default() -> Self {
        LogSumExp {
            max: f64::NEG_INFINITY,
            scaled: 0.0,
        }
    }
}

impl LogSumExp {
    fn add(&mut self, x: f64) {
        if x > self.max {
            self.scaled = self.scaled * (self.max - x).exp() + 1.0;
            self.max = x;
        } else {
            self.scaled += (x - self.max).exp();
        }
    }

    fn value(&self) -> f64 {
        self.max + self.scaled.ln()
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::TensorData;
    use hourglass_models::AutoencoderConfig;
    use hourglass_spec::{Activation, CodeActivation, OutputActivation};

    use super::*;

    /// A matrix given row by row, for hand-set weights.
    fn matrix(rows: &[&[f32]], device: &Device) -> Tensor<2> {
        let width = rows[0].len();
        let values: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_data(TensorData::new(values, [rows.len(), width]), device)
    }

    #[test]
    fn log_sum_exp_is_exact_and_stays_finite_far_from_zero() {
        let mut sum = LogSumExp::default();
        for x in [-1000.0, -1000.0 + 2f64.ln()] {
            sum.add(x);
        }
        assert!((sum.value() - (-1000.0 + 3f64.ln())).abs() < 1e-12);
    }

    /// A VAE with a 1-d code and a 2-d input whose decoder is linear, `x = w z + b` plus
    /// unit-variance noise (the MSE likelihood), so that `p(x) = N(b, w wᵀ + I)` exactly and
    /// the true posterior is Gaussian with a variance that does not depend on `x`. The
    /// encoder is linear too, `μ = a·x + c`, log σ² constant; `exact` sets it to the true
    /// posterior.
    fn linear_gaussian(exact: bool, device: &Device) -> Autoencoder {
        let config = AutoencoderConfig {
            shape: vec![2],
            conv_channels: None,
            hidden: vec![],
            latent: 1,
            activation: Activation::Relu,
            code_activation: CodeActivation::Identity,
            output: OutputActivation::Identity,
            variational: true,
            codebook: None,
        };
        let model = config.init(device);
        // Decoder w = (2, 1), b = (0.5, −1). Posterior precision 1 + wᵀw = 6: variance 1/6,
        // mean wᵀ(x − b)/6.
        let (w, b) = ([2.0_f32, 1.0], [0.5_f32, -1.0]);
        let variance = 1.0 / 6.0_f32;
        let (a, c) = if exact {
            (
                [w[0] * variance, w[1] * variance],
                -(w[0] * b[0] + w[1] * b[1]) * variance,
            )
        } else {
            ([0.2, 0.3], 0.4)
        };
        let log_var = if exact { variance.ln() } else { 0.0 };
        // Encoder weight [input, 2 latent]: columns μ and log σ².
        let encoder = (
            matrix(&[&[a[0], 0.0], &[a[1], 0.0]], device),
            Tensor::from_data(TensorData::new(vec![c, log_var], [2]), device),
        );
        let decoder = (
            matrix(&[&w], device),
            Tensor::from_data(TensorData::new(b.to_vec(), [2]), device),
        );
        model.with_mlp_parameters(vec![encoder], vec![decoder])
    }

    /// `−log N(x; b, w wᵀ + I)` of the model above.
    fn exact_nll(x: [f64; 2]) -> f64 {
        let (w, b) = ([2.0, 1.0], [0.5, -1.0]);
        let d = [x[0] - b[0], x[1] - b[1]];
        // Σ = I + w wᵀ: determinant 1 + |w|² = 6, inverse I − w wᵀ / 6.
        let wd = w[0] * d[0] + w[1] * d[1];
        let quadratic = d[0] * d[0] + d[1] * d[1] - wd * wd / 6.0;
        0.5 * quadratic + 0.5 * 6f64.ln() + (2.0 * std::f64::consts::PI).ln()
    }

    fn split(rows: &[[f32; 2]]) -> Split {
        Split {
            inputs: rows.iter().flatten().copied().collect(),
            labels: vec![0; rows.len()],
            shape: vec![2],
        }
    }

    #[test]
    fn the_true_posterior_gives_the_exact_likelihood_with_any_number_of_samples() {
        let device = Device::flex();
        let model = linear_gaussian(true, &device);
        let rows = [[0.0, 0.0], [1.5, -2.0], [3.0, 1.0]];
        let nll = per_example_nll(&model, Reconstruction::Mse, &split(&rows), 3, 1, &device);
        for (row, nll) in rows.iter().zip(&nll) {
            let exact = exact_nll([f64::from(row[0]), f64::from(row[1])]);
            assert!((nll - exact).abs() < 1e-4, "{nll} against {exact}");
        }
    }

    #[test]
    fn a_poor_proposal_overestimates_and_more_samples_close_the_gap() {
        let device = Device::flex();
        let model = linear_gaussian(false, &device);
        let rows: Vec<[f32; 2]> = (0..50)
            .map(|i| [(i % 7) as f32 * 0.5 - 1.0, (i % 5) as f32 * 0.6 - 1.5])
            .collect();
        let exact: f64 = rows
            .iter()
            .map(|r| exact_nll([f64::from(r[0]), f64::from(r[1])]))
            .sum::<f64>()
            / rows.len() as f64;
        let data = split(&rows);
        let estimate = |samples| {
            let nll = per_example_nll(&model, Reconstruction::Mse, &data, samples, 7, &device);
            Likelihood::of(&nll).nll_nats - exact
        };
        let (one, many) = (estimate(1), estimate(5000));
        // The bound is above the truth in expectation, and K = 5000 is within 0.01 nats of it
        // while one sample is far off.
        assert!(one > 0.3, "gap with one sample {one}");
        assert!(many > -0.01 && many < 0.01, "gap with 5000 samples {many}");
    }
}
