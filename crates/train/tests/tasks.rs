//! The anomaly task on real data, end to end through `train_run`: a model trained on normal
//! examples ranks the anomalies of ODDS shuttle and of the UCR heart-rate series first, and
//! the classical detectors beside it are scored on the same split; and the likelihood of a
//! VAE and an IWAE on binarised MNIST.

mod common;

use std::path::Path;

use burn::prelude::Device;
use hourglass_spec::result::{BASELINE_ROC_FILE, Measured, ROC_FILE, metric};
use hourglass_train::{Progress, Silent, TrainError, train_run};

/// Trains the one run of `spec` on the repository's data sets; returns what it measured and
/// the ROC curves it wrote (the autoencoder's, the baselines'; empty without the anomaly task).
fn train(spec: &str) -> (Measured, String, String) {
    let (registry, catalog) = common::registry_and_catalog();
    let experiment = hourglass_spec::parse(Path::new("tasks.toml"), spec, &catalog).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = &experiment.runs[0].config;
    let measured = train_run(config, &registry, dir.path(), &Device::flex(), &mut Silent).unwrap();
    let read = |file| std::fs::read_to_string(dir.path().join(file)).unwrap_or_default();
    assert!(
        measured.metrics.values().all(|v| v.is_finite()),
        "{measured:?}"
    );
    (measured, read(ROC_FILE), read(BASELINE_ROC_FILE))
}

// One test, so that the runs take turns: burn's seed is process-global.
#[test]
fn autoencoders_trained_on_normal_data_rank_real_anomalies_first() {
    let (shuttle, roc, baselines_roc) = train(
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
    // The classical detectors on the same split: PyOD's table gives IForest 0.997, kNN 0.654
    // and PCA 0.990 on shuttle, unsupervised on 60 % of all rows; fitted on normal rows
    // alone, kNN is as good as the others.
    for name in [metric::PCA_AUROC, metric::IFOREST_AUROC, metric::KNN_AUROC] {
        assert!(shuttle[name] >= 0.99, "{name}: {shuttle:?}");
    }
    for detector in ["pca", "iforest", "knn"] {
        let curve: Vec<&str> = (baselines_roc.lines())
            .filter_map(|line| line.strip_prefix(detector)?.strip_prefix(','))
            .collect();
        assert_eq!(curve.first(), Some(&"0,0"), "{detector}");
        assert_eq!(curve.last(), Some(&"1,1"), "{detector}");
    }

    let (series, ..) = train(
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
    // latent task's probe has one class of normal examples to train on, and says so; with
    // three training examples, the kNN detector's 5th neighbour does not exist.
    let (one_class, ..) = train(
        r#"
        [experiment]
        name = "no-anomaly"
        [data]
        dataset = "mnist"
        train_limit = 3
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
    let why = &not_measured[metric::IFOREST_AUROC];
    assert!(why.contains("undefined"), "{why}");
    let why = &not_measured[metric::KNN_AUROC];
    assert!(why.contains("at least 5") && why.contains("has 3"), "{why}");

    // A VAE on statically binarised MNIST: the importance-sampled likelihood is a tighter
    // bound than the ELBO, so its negative lies below the negative ELBO.
    let likelihood = |model: &str| {
        train(&format!(
            r#"
            [experiment]
            name = "likelihood"
            seed = 3
            [data]
            dataset = "mnist"
            train_limit = 3000
            test_limit = 300
            binarize = "static"
            [model]
            {model}
            hidden = [128]
            latent = 8
            [loss]
            reconstruction = "bce"
            [train]
            epochs = 3
            [evaluate]
            tasks = ["reconstruction", "likelihood"]
            importance_samples = 100
            "#
        ))
        .0
        .metrics
    };
    let vae = likelihood("kind = \"vae\"");
    eprintln!("binarised MNIST VAE: {vae:?}");
    let (nll, elbo) = (vae[metric::TEST_NLL_NATS], vae[metric::TEST_ELBO_NATS]);
    let standard_error = vae[metric::TEST_NLL_SE_NATS];
    assert!(nll > 50.0 && nll < elbo - 1.0, "{nll} against {elbo}");
    assert!(
        standard_error > 0.0 && standard_error < 0.05 * nll,
        "{standard_error}"
    );

    // The IWAE of the same architecture, epochs and draws of the data: its K-sample bound
    // lies between its likelihood and its ELBO, and training on it gains likelihood over
    // the VAE.
    let iwae = likelihood("kind = \"iwae\"\nsamples = 10");
    eprintln!("binarised MNIST IWAE (K = 10): {iwae:?}");
    let bound = iwae[metric::TEST_IWAE_BOUND_NATS];
    let (iwae_nll, iwae_elbo) = (iwae[metric::TEST_NLL_NATS], iwae[metric::TEST_ELBO_NATS]);
    assert!(
        iwae_nll < bound && bound < iwae_elbo,
        "{iwae_nll} < {bound} < {iwae_elbo}"
    );
    assert!(iwae_nll < nll, "IWAE {iwae_nll} against VAE {nll} nats");

    a_vq_vae_stores_its_code_in_exactly_its_bits_and_resumes_its_codebook();
}

/// A VQ-VAE of 16 positions and 16 entries: its code is 64 bits, packed and decoded back
/// to its reconstructions; interrupted and resumed from its checkpoint, it ends where the
/// uninterrupted run does, moving averages included.
fn a_vq_vae_stores_its_code_in_exactly_its_bits_and_resumes_its_codebook() {
    const SPEC: &str = r#"
        [experiment]
        name = "vqvae"
        seed = 5
        [data]
        dataset = "mnist"
        train_limit = 3000
        test_limit = 300
        [model]
        kind = "vqvae"
        hidden = [128]
        latent = 16
        codebook = { size = 16, dim = 4 }
        [train]
        epochs = 3
        [evaluate]
        tasks = ["reconstruction", "compression", "generation"]
        "#;
    let vq = train(SPEC).0.metrics;
    eprintln!("MNIST VQ-VAE (16 positions, 16 entries): {vq:?}");
    assert_eq!(vq[metric::CODE_BITS], 16.0 * 4.0);
    assert_eq!(vq[metric::CODE_BYTES], 8.0);
    assert_eq!(vq[metric::COMPRESSION_RATIO], 784.0 * 8.0 / 64.0);
    // Decoded from the packed indices, the reconstructions are the forward pass's (the two
    // PSNRs sum the squared errors in another order).
    let (packed, forward) = (vq[metric::QUANTIZED_PSNR_DB], vq[metric::TEST_PSNR_DB]);
    assert!(
        (packed - forward).abs() < 1e-5,
        "{packed} against {forward}"
    );
    let perplexity = vq[metric::CODEBOOK_PERPLEXITY];
    assert!(perplexity > 2.0 && perplexity <= 16.0, "{perplexity}");

    /// Interrupts training after its `0`th step.
    struct StopAfter(usize);
    impl Progress for StopAfter {
        fn interrupted(&mut self) -> bool {
            self.0 -= 1;
            self.0 == 0
        }
    }
    let (registry, catalog) = common::registry_and_catalog();
    let experiment = hourglass_spec::parse(Path::new("vqvae.toml"), SPEC, &catalog).unwrap();
    let config = &experiment.runs[0].config;
    let dir = tempfile::tempdir().unwrap();
    let device = Device::flex();
    // Within the second epoch (24 steps of 128 examples).
    let stopped = train_run(config, &registry, dir.path(), &device, &mut StopAfter(30));
    assert!(
        matches!(stopped, Err(TrainError::Interrupted { epochs: 1, .. })),
        "{stopped:?}"
    );
    let resumed = train_run(config, &registry, dir.path(), &device, &mut Silent).unwrap();
    for (name, value) in &vq {
        if !["train_seconds", "samples_per_second"].contains(&name.as_str()) {
            assert_eq!(resumed.metrics[name], *value, "{name}");
        }
    }
}
