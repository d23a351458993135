//! The latent task: how the code spreads over its dimensions, how much of the labels a
//! linear classifier can read from it (a linear probe, the usual measure of a
//! representation), and what each dimension does to the decoded image (latent traversals, as
//! in the β-VAE literature).

use burn::prelude::*;
use hourglass_data::Split;
use hourglass_metrics::probe_accuracy;
use hourglass_models::Autoencoder;

use crate::{Evaluation, batch, evaluate};

/// Images per traversal row: the dimension from −3 to +3 standard deviations of the training
/// codes.
pub(crate) const TRAVERSAL_STEPS: usize = 9;
/// The most dimensions a traversal shows, the most spread first.
const TRAVERSED_DIMENSIONS: usize = 10;
/// The standard deviations a traversal reaches either side of the mean.
const TRAVERSAL_REACH: f64 = 3.0;

/// Test accuracy of a multinomial logistic regression trained on the codes of `train`; `None`
/// when the training examples have fewer than two labels.
pub(crate) fn probe(
    model: &Autoencoder,
    train: &Split,
    test: &Split,
    seed: u64,
    device: &Device,
) -> Option<f64> {
    let first = *train.labels.first()?;
    if train.labels.iter().all(|&l| l == first) {
        return None;
    }
    Some(probe_accuracy(
        &evaluate::codes(model, train, device),
        &train.labels,
        &evaluate::codes(model, test, device),
        &test.labels,
        model.latent(),
        seed,
    ))
}

/// How the codes of a split spread over their dimensions.
struct CodeSpread {
    /// Mean of each dimension (a VAE's μ).
    mean: Vec<f64>,
    /// Standard deviation of each dimension over the examples.
    std: Vec<f64>,
    /// A VAE's mean KL divergence of each dimension's posterior from the prior, in nats.
    kl: Option<Vec<f64>>,
}

impl CodeSpread {
    fn of(model: &Autoencoder, split: &Split, device: &Device) -> Self {
        let latent = model.latent();
        let (mut sums, mut squares) = (vec![0.0f64; latent], vec![0.0f64; latent]);
        let mut kl = model.is_variational().then(|| vec![0.0f64; latent]);
        for chunk in evaluate::chunks(split) {
            let code = model.encode(batch::inputs(split, &chunk, device));
            let means: Vec<f32> = code.mean.into_data().iter::<f32>().collect();
            for row in means.chunks_exact(latent) {
                for (j, &value) in row.iter().enumerate() {
                    sums[j] += f64::from(value);
                    squares[j] += f64::from(value) * f64::from(value);
                }
            }
            if let (Some(kl), Some(log_var)) = (kl.as_mut(), code.log_var) {
                let log_vars: Vec<f32> = log_var.into_data().iter::<f32>().collect();
                for (i, (&mu, &log_var)) in means.iter().zip(&log_vars).enumerate() {
                    kl[i % latent] += evaluate::gaussian_kl(mu, log_var);
                }
            }
        }
        let n = split.len().max(1) as f64;
        let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
        let std = (squares.iter().zip(&mean))
            .map(|(s, m)| (s / n - m * m).max(0.0).sqrt())
            .collect();
        let kl = kl.map(|kl| kl.iter().map(|k| k / n).collect());
        Self { mean, std, kl }
    }

    /// The dimensions to traverse, at most [`TRAVERSED_DIMENSIONS`]: a VAE's by KL from the
    /// prior (the dimensions it uses), the others' by variance, largest first.
    fn ranked(&self) -> Vec<usize> {
        let by = self.kl.clone().unwrap_or_else(|| self.std.clone());
        let mut dimensions: Vec<usize> = (0..by.len()).collect();
        dimensions.sort_by(|&a, &b| by[b].total_cmp(&by[a]).then(a.cmp(&b)));
        dimensions.truncate(TRAVERSED_DIMENSIONS);
        dimensions
    }
}

/// The codes of a traversal, `[dimensions × TRAVERSAL_STEPS, latent]` row-major: for each of
/// `dimensions`, the mean code with that dimension swept evenly from −3 to +3 standard
/// deviations.
fn traversal_codes(mean: &[f64], std: &[f64], dimensions: &[usize]) -> Vec<f32> {
    let mut codes = Vec::with_capacity(dimensions.len() * TRAVERSAL_STEPS * mean.len());
    for &dimension in dimensions {
        for step in 0..TRAVERSAL_STEPS {
            let at = step as f64 / (TRAVERSAL_STEPS - 1) as f64;
            let deviations = TRAVERSAL_REACH * (2.0 * at - 1.0);
            codes.extend(mean.iter().enumerate().map(|(j, &m)| {
                let shift = if j == dimension {
                    deviations * std[j]
                } else {
                    0.0
                };
                (m + shift) as f32
            }));
        }
    }
    codes
}

/// The decoded latent traversals of `model` over the codes of `fitted`: one row of
/// [`TRAVERSAL_STEPS`] images per traversed dimension.
///
/// # Shapes
/// - output: `[rows × TRAVERSAL_STEPS, features]`
pub(crate) fn traversals(model: &Autoencoder, fitted: &Split, device: &Device) -> Tensor<2> {
    let spread = CodeSpread::of(model, fitted, device);
    let codes = traversal_codes(&spread.mean, &spread.std, &spread.ranked());
    model.decode(batch::tensor(codes, model.latent(), device))
}

/// Each code dimension's mean and variance over the test split as CSV
/// (`dimension,mean,variance`), and a VAE's KL from the prior (`kl_nats`), the measure of the
/// dimensions it uses.
pub(crate) fn latent_csv(evaluation: &Evaluation) -> String {
    let mut csv = String::from("dimension,mean,variance");
    csv += if evaluation.unit_kl.is_some() {
        ",kl_nats\n"
    } else {
        "\n"
    };
    let (means, variances) = (&evaluation.unit_means, &evaluation.unit_variances);
    for (j, (mean, variance)) in means.iter().zip(variances).enumerate() {
        csv += &format!("{j},{mean},{variance}");
        match &evaluation.unit_kl {
            Some(kl) => csv += &format!(",{}\n", kl[j]),
            None => csv.push('\n'),
        }
    }
    csv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traversal_sweeps_one_dimension_over_three_deviations_and_a_constant_one_not_at_all() {
        let (mean, std) = ([0.5, -1.0, 2.0], [0.2, 0.0, 1.0]);
        let codes = traversal_codes(&mean, &std, &[0, 1]);
        let rows: Vec<&[f32]> = codes.chunks_exact(3).collect();
        assert_eq!(rows.len(), 2 * TRAVERSAL_STEPS);
        // Dimension 0: from 0.5 − 0.6 to 0.5 + 0.6 through the mean, the others held.
        let swept: Vec<f32> = rows[..TRAVERSAL_STEPS].iter().map(|r| r[0]).collect();
        assert!(
            (swept[0] + 0.1).abs() < 1e-6 && (swept[8] - 1.1).abs() < 1e-6,
            "{swept:?}"
        );
        assert!((swept[4] - 0.5).abs() < 1e-6, "{swept:?}");
        assert!(swept.windows(2).all(|w| w[1] > w[0]), "{swept:?}");
        assert!(
            rows[..TRAVERSAL_STEPS]
                .iter()
                .all(|r| r[1] == -1.0 && r[2] == 2.0)
        );
        // Dimension 1 has no variance: every code of its row, so every image, is the same.
        let constant = &rows[TRAVERSAL_STEPS..];
        assert!(
            constant.iter().all(|r| *r == [0.5, -1.0, 2.0]),
            "{constant:?}"
        );
    }

    #[test]
    fn dimensions_are_ranked_by_kl_for_a_vae_and_by_spread_otherwise() {
        let spread = CodeSpread {
            mean: vec![0.0; 12],
            std: (0..12).map(f64::from).collect(),
            kl: None,
        };
        assert_eq!(spread.ranked(), [11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
        let vae = CodeSpread {
            kl: Some(vec![
                0.0, 3.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0,
            ]),
            ..spread
        };
        assert_eq!(&vae.ranked()[..3], [1, 11, 2]);
    }
}
