//! The latent task: how the code spreads over its dimensions, and how much of the labels a
//! linear classifier can read from it (a linear probe, the usual measure of a representation).

use burn::prelude::*;
use hourglass_data::Split;
use hourglass_metrics::probe_accuracy;
use hourglass_models::Autoencoder;

use crate::{Evaluation, evaluate};

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

/// Each code dimension's mean and variance over the test split as CSV
/// (`dimension,mean,variance`).
pub(crate) fn latent_csv(evaluation: &Evaluation) -> String {
    let mut csv = String::from("dimension,mean,variance\n");
    for (j, (mean, variance)) in evaluation
        .unit_means
        .iter()
        .zip(&evaluation.unit_variances)
        .enumerate()
    {
        csv += &format!("{j},{mean},{variance}\n");
    }
    csv
}
