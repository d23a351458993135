//! The anomaly task: a model trained on normal examples scores every test example by how
//! badly it reconstructs it, and the scores are ranked against the true anomalies.
//!
//! The score is the reconstruction's negative log-likelihood in nats (the squared error for
//! MSE, the cross-entropy for BCE); a VAE adds its KL term, which makes the score its negative
//! ELBO with the code's mean in place of a sample (no sampling noise in the ranking).

use std::collections::BTreeMap;

use burn::prelude::*;
use hourglass_data::Split;
use hourglass_metrics::{RocCurve, auroc, average_precision, best_anomaly_rank, roc_curve};
use hourglass_models::{Autoencoder, penalty, reconstruction_nats_per_example};
use hourglass_spec::Reconstruction;
use hourglass_spec::result::metric;

use crate::{Normal, batch, evaluate};

/// The anomaly metrics of `model` on `test` and its ROC curve.
pub(crate) fn anomaly(
    model: &Autoencoder,
    loss: Reconstruction,
    test: &Split,
    normal: Normal,
    device: &Device,
) -> (BTreeMap<&'static str, f64>, RocCurve) {
    let scores = scores(model, loss, test, device);
    let anomalous: Vec<bool> = test.labels.iter().map(|&l| !normal.is_normal(l)).collect();
    let mut metrics = BTreeMap::from([
        (metric::ANOMALY_AUROC, auroc(&scores, &anomalous)),
        (
            metric::ANOMALY_AUPRC,
            average_precision(&scores, &anomalous),
        ),
    ]);
    if let Some(rank) = best_anomaly_rank(&scores, &anomalous) {
        metrics.insert(
            metric::ANOMALY_TOP_RANK_PERCENT,
            100.0 * rank as f64 / scores.len() as f64,
        );
    }
    (metrics, roc_curve(&scores, &anomalous))
}

/// The anomaly score of every example of `split`.
pub(crate) fn scores(
    model: &Autoencoder,
    loss: Reconstruction,
    split: &Split,
    device: &Device,
) -> Vec<f64> {
    let mut scores = Vec::with_capacity(split.len());
    for chunk in evaluate::chunks(split) {
        let input = batch::inputs(split, &chunk, device); // [chunk, features]
        let output = model.forward(input.clone());
        let mut nats = reconstruction_nats_per_example(loss, &output, input); // [chunk]
        if let Some(log_var) = output.code.log_var.clone() {
            nats = nats + penalty::gaussian_kl_per_example(output.code.mean.clone(), log_var);
        }
        let values: Vec<f32> = nats.into_data().try_to_vec().expect("f32 scores");
        scores.extend(values.into_iter().map(f64::from));
    }
    scores
}

/// The ROC curve as CSV (`false_positive_rate,true_positive_rate`).
pub(crate) fn roc_csv(curve: &RocCurve) -> String {
    let mut csv = String::from("false_positive_rate,true_positive_rate\n");
    for (fpr, tpr) in curve
        .false_positive_rate
        .iter()
        .zip(&curve.true_positive_rate)
    {
        csv += &format!("{fpr},{tpr}\n");
    }
    csv
}
