//! The anomaly task on real data, end to end through `train_run`: a model trained on normal
//! examples ranks the anomalies of ODDS shuttle and of the UCR heart-rate series first.

mod common;

use std::path::Path;

use burn::prelude::Device;
use hourglass_spec::result::{Measured, ROC_FILE, metric};
use hourglass_train::{Silent, train_run};

/// Trains the one run of `spec` on the repository's data sets; returns what it measured and
/// the ROC curve it wrote.
fn train(spec: &str) -> (Measured, String) {
    let (registry, catalog) = common::registry_and_catalog();
    let experiment = hourglass_spec::parse(Path::new("tasks.toml"), spec, &catalog).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = &experiment.runs[0].config;
    let measured = train_run(config, &registry, dir.path(), &Device::flex(), &mut Silent).unwrap();
    let roc = std::fs::read_to_string(dir.path().join(ROC_FILE)).unwrap();
    assert!(
        measured.metrics.values().all(|v| v.is_finite()),
        "{measured:?}"
    );
    (measured, roc)
}

// One test, so that the runs take turns: burn's seed is process-global.
#[test]
fn autoencoders_trained_on_normal_data_rank_real_anomalies_first() {
    let (shuttle, roc) = train(
        r#"
        [experiment]
        name = "shuttle"
        seed = 7
        [data]
        dataset = "shuttle"
        [model]
        hidden = [64, 32]
        latent = 4
        output = "identity"
        [train]
        epochs = 5
        [evaluate]
        tasks = ["reconstruction", "anomaly", "compression"]
        "#,
    );
    eprintln!("shuttle: {shuttle:?}");
    // A table has no JPEG baseline, and its result says so.
    let why = &shuttle.not_measured[metric::JPEG_PSNR_DB];
    assert!(why.contains("not images"), "{why}");
    let shuttle = shuttle.metrics;
    assert!(shuttle[metric::ANOMALY_AUROC] >= 0.99, "{shuttle:?}");
    assert!(shuttle[metric::ANOMALY_AUPRC] >= 0.8, "{shuttle:?}");
    let lines: Vec<&str> = roc.lines().collect();
    assert_eq!(lines[0], "false_positive_rate,true_positive_rate");
    assert_eq!((lines[1], lines[lines.len() - 1]), ("0,0", "1,1"));

    let (series, _) = train(
        r#"
        [experiment]
        name = "ecg"
        seed = 7
        [data]
        dataset = "ucr-internal-bleeding-16"
        [model]
        hidden = [32]
        latent = 8
        output = "identity"
        [train]
        batch_size = 64
        epochs = 50
        [evaluate]
        tasks = ["reconstruction", "anomaly"]
        "#,
    );
    let series = series.metrics;
    eprintln!("ucr internal bleeding 16: {series:?}");
    // The windows over t = 4187..4198 are scored above 99 % of the 7,438 windows.
    assert!(
        series[metric::ANOMALY_TOP_RANK_PERCENT] <= 1.0,
        "{series:?}"
    );

    // The first MNIST test digit is a 7: a test split of it alone has no anomaly to rank, so
    // the run reports no AUROC rather than a NaN that JSON cannot hold, and says why; the
    // latent task's probe has one class of normal examples to train on, and says so.
    let (one_class, _) = train(
        r#"
        [experiment]
        name = "no-anomaly"
        [data]
        dataset = "mnist"
        train_limit = 200
        test_limit = 1
        normal_class = 7
        [train]
        epochs = 1
        [evaluate]
        tasks = ["reconstruction", "anomaly", "latent"]
        "#,
    );
    let (metrics, not_measured) = (&one_class.metrics, &one_class.not_measured);
    assert!(!metrics.contains_key(metric::ANOMALY_AUROC), "{metrics:?}");
    assert!(metrics.contains_key(metric::TEST_MSE));
    let why = &not_measured[metric::ANOMALY_AUROC];
    assert!(why.contains("undefined") && why.contains("NaN"), "{why}");
    let why = &not_measured[metric::PROBE_ACCURACY];
    assert!(why.contains("normal examples alone"), "{why}");
}
