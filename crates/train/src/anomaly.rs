//! The anomaly task: a model trained on normal examples scores every test example by how
//! badly it reconstructs it, and the scores are ranked against the true anomalies.
//!
//! The score is the reconstruction's negative log-likelihood in nats (the squared error for
//! MSE, the cross-entropy for BCE); a VAE adds its KL term, which makes the score its negative
//! ELBO with the code's mean in place of a sample (no sampling noise in the ranking).
//!
//! Beside it the task scores the same test split with three classical detectors fitted on
//! the same normal training examples ([`Baseline`]): the residual of a PCA with as many
//! components as the code, an Isolation Forest, and the distance to the 5th nearest normal
//! example, so that a report says whether the autoencoder beats what needs no training.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use burn::prelude::*;
use hourglass_data::{Registry, Split};
use hourglass_metrics::{
    IsolationForest, RocCurve, auroc, average_precision, best_anomaly_rank, knn_scores,
    pca_residual_scores, roc_curve,
};
use hourglass_models::{Autoencoder, penalty, reconstruction_nats_per_example};
use hourglass_spec::result::{ANOMALY_BASELINES, AnomalyBaseline, metric};
use hourglass_spec::{Reconstruction, RunConfig};

use crate::splits::{Splits, load_splits};
use crate::{Normal, TrainError, batch, evaluate};

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

/// A classical anomaly detector scored beside the autoencoder (in the order of
/// [`ANOMALY_BASELINES`], which names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Squared residual of a PCA with as many components as the code (at most one fewer than
    /// the features): the linear autoencoder of the same size.
    Pca,
    /// Isolation Forest: 100 trees grown on 256 examples each, as in Liu et al. 2008, PyOD
    /// and scikit-learn.
    IsolationForest,
    /// Distance to the [`KNN_NEIGHBOURS`]-th nearest normal training example, as PyOD's `KNN`.
    Knn,
}

/// The neighbour whose distance the kNN detector scores by, PyOD's default.
pub const KNN_NEIGHBOURS: usize = 5;

/// The most multiply-adds the exact kNN search may take (test rows × reference rows ×
/// features; about 30 s on two cores): beyond it the reference rows are a seeded subsample
/// of the normal training examples. One-class MNIST takes 4.2e10, shuttle 4.4e9.
const KNN_WORK: u128 = 400_000_000_000;

impl Baseline {
    /// Every detector, in the order reports list them.
    pub const ALL: [Baseline; 3] = [Baseline::Pca, Baseline::IsolationForest, Baseline::Knn];

    /// Its names in results and `baselines_roc.csv`.
    pub fn names(self) -> &'static AnomalyBaseline {
        &ANOMALY_BASELINES[self as usize]
    }

    /// The fewest normal training examples it can be fitted on.
    fn fewest_examples(self) -> usize {
        match self {
            Baseline::Pca => 2,
            Baseline::IsolationForest => 1,
            Baseline::Knn => KNN_NEIGHBOURS,
        }
    }

    /// The score of each test example; `latent` is the size of the autoencoder's code, and
    /// `seed` draws the Isolation Forest's trees.
    ///
    /// # Panics
    /// With fewer than [`Self::fewest_examples`] training examples.
    pub fn scores(self, data: &AnomalyData, latent: usize, seed: u64) -> Vec<f64> {
        let (train, test, features) = (&data.train.inputs, &data.test.inputs, data.test.features());
        match self {
            Baseline::Pca => pca_residual_scores(
                train,
                test,
                features,
                latent.min(features.saturating_sub(1)),
            ),
            Baseline::IsolationForest => IsolationForest::fit(train, features, seed).scores(test),
            Baseline::Knn => {
                let reference = knn_reference(&data.train, data.test.len(), seed);
                let reference = reference.as_ref().unwrap_or(&data.train);
                knn_scores(&reference.inputs, test, features, KNN_NEIGHBOURS)
            }
        }
    }
}

/// A seeded subsample of `train` small enough for an exact kNN search of `test_rows` rows
/// within [`KNN_WORK`]; `None` when all of `train` fits.
fn knn_reference(train: &Split, test_rows: usize, seed: u64) -> Option<Split> {
    let per_reference_row = (test_rows.max(1) as u128) * (train.features() as u128);
    let fitting = usize::try_from(KNN_WORK / per_reference_row)
        .unwrap_or(usize::MAX)
        .max(KNN_NEIGHBOURS);
    (train.len() > fitting).then(|| {
        let mut rows = hourglass_data::permutation(train.len(), seed);
        rows.truncate(fitting);
        train.select(&rows)
    })
}

/// What the anomaly task's detectors see: the run's normal training examples and its test
/// split, standardised as the model sees them, and which test examples are anomalies.
#[derive(Debug, Clone)]
pub struct AnomalyData {
    /// The normal examples the run trains on (its validation examples left out).
    pub train: Split,
    /// The test split, shared with the run.
    pub test: Arc<Split>,
    /// Whether each test example is an anomaly.
    pub anomalous: Vec<bool>,
}

impl AnomalyData {
    fn of(splits: &Splits, normal: Normal) -> Self {
        AnomalyData {
            train: splits.train(None),
            test: Arc::clone(&splits.test),
            anomalous: (splits.test.labels.iter())
                .map(|&l| !normal.is_normal(l))
                .collect(),
        }
    }
}

/// The data the anomaly task of `config` scores, without training; `None` when the run has
/// no anomaly task. For checks of the detectors against other implementations.
///
/// # Errors
/// When the data set cannot be loaded.
pub fn anomaly_data(
    config: &RunConfig,
    registry: &Registry,
) -> Result<Option<AnomalyData>, TrainError> {
    let splits = load_splits(config, registry)?;
    Ok(splits.normal.map(|normal| AnomalyData::of(&splits, normal)))
}

/// The classical detectors' metrics on the run's data and their ROC curves as
/// `baselines_roc.csv`; a detector that needs more normal training examples than the run
/// has is named with why instead.
pub(crate) fn baselines(
    splits: &Splits,
    normal: Normal,
    latent: usize,
    seed: u64,
) -> (
    BTreeMap<&'static str, f64>,
    BTreeMap<&'static str, String>,
    String,
) {
    let data = AnomalyData::of(splits, normal);
    let (mut metrics, mut not_measured) = (BTreeMap::new(), BTreeMap::new());
    let mut csv = String::from("detector,false_positive_rate,true_positive_rate\n");
    for baseline in Baseline::ALL {
        let AnomalyBaseline {
            name,
            auroc: auroc_metric,
            auprc: auprc_metric,
            ..
        } = *baseline.names();
        let fewest = baseline.fewest_examples();
        if data.train.len() < fewest {
            let why = format!(
                "needs at least {fewest} normal training examples; the run has {}",
                data.train.len()
            );
            not_measured.insert(auroc_metric, why.clone());
            not_measured.insert(auprc_metric, why);
            continue;
        }
        let scores = baseline.scores(&data, latent, seed);
        metrics.insert(auroc_metric, auroc(&scores, &data.anomalous));
        metrics.insert(auprc_metric, average_precision(&scores, &data.anomalous));
        let curve = roc_curve(&scores, &data.anomalous);
        for (fpr, tpr) in curve
            .false_positive_rate
            .iter()
            .zip(&curve.true_positive_rate)
        {
            let _ = writeln!(csv, "{name},{fpr},{tpr}");
        }
    }
    (metrics, not_measured, csv)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knn_searches_every_training_example_unless_the_work_is_too_large() {
        let split = |rows: usize, features: usize| Split {
            shape: vec![features],
            inputs: (0..rows * features).map(|i| i as f32).collect(),
            labels: vec![0; rows],
        };
        // One-class MNIST: 6,000 × 10,000 × 784 fits.
        assert!(knn_reference(&split(6_000, 784), 10_000, 1).is_none());
        // 300,000 rows of 10 features against a million test rows: 4e11 / 1e7 rows.
        let reference = knn_reference(&split(300_000, 10), 1_000_000, 1).unwrap();
        assert_eq!(reference.len(), 40_000);
        assert_eq!(reference.inputs.len(), 40_000 * 10);
    }

    #[test]
    fn each_detector_has_its_own_names_and_metrics() {
        for (baseline, name) in Baseline::ALL.into_iter().zip(["pca", "iforest", "knn"]) {
            let names = baseline.names();
            assert_eq!(names.name, name);
            assert!(names.auroc.starts_with(name) && names.auprc.starts_with(name));
        }
    }
}
