//! The autoencoder zoo on real MNIST and Fashion-MNIST: each kind does what its name
//! promises, measured on short runs of specs parsed and checked like a user's.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use burn::prelude::Device;
use common::registry_and_catalog;
use hourglass_spec::ModelKind;
use hourglass_spec::result::metric;
use hourglass_train::{Silent, artifact, train_run};

/// PCA with 32 components on MNIST: test MSE per pixel (the issue's reference figure).
const PCA_32_TEST_MSE: f64 = 0.0168;

/// Three kinds with one architecture (784-256-32, linear code), 3 epochs of MNIST, every run
/// evaluated on the same gaussian-noised test inputs.
const ZOO: &str = r#"
[experiment]
name = "zoo-test"
seed = 1

[data]
dataset = "mnist"

[model]
hidden = [256]
latent = 32

[regularizers]
contractive = { weight = 3e-4 }

[noise]
kind = "gaussian"
level = 0.3

[train]
epochs = 3

[evaluate]
tasks = ["reconstruction", "compression", "latent"]

[sweep.parameters]
"model.kind" = ["vanilla", "denoising", "contractive"]
"#;

/// Kinds trained by [`ZOO`], in sweep order.
const ZOO_KINDS: [ModelKind; 3] = [
    ModelKind::Vanilla,
    ModelKind::Denoising,
    ModelKind::Contractive,
];

/// Vanilla and sparse autoencoders with sigmoid codes (784-256-32), 5 epochs of MNIST.
const SPARSE: &str = r#"
[experiment]
name = "sparse-test"
seed = 1

[data]
dataset = "mnist"

[model]
hidden = [256]
latent = 32
code_activation = "sigmoid"

[regularizers]
sparsity = { target = 0.05, weight = 3e-3 }

[train]
learning_rate = 3e-3
epochs = 5

[sweep.parameters]
"model.kind" = ["vanilla", "sparse"]
"#;

/// Training takes turns: burn's seed is process-global, so concurrent runs would draw from
/// one another's random streams.
static ORDER: Mutex<()> = Mutex::new(());

/// Trains every run of `spec` once per test process and returns their metrics in sweep
/// order; tests that share a spec share its runs. Runs take turns: burn's seed is global.
fn trained(spec: &str) -> Vec<BTreeMap<String, f64>> {
    static CACHE: Mutex<BTreeMap<String, Vec<BTreeMap<String, f64>>>> = Mutex::new(BTreeMap::new());
    let _rng = ORDER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(metrics) = cache.get(spec) {
        return metrics.clone();
    }
    let (registry, catalog) = registry_and_catalog();
    let experiment = hourglass_spec::parse(Path::new("zoo.toml"), spec, &catalog).unwrap();
    let metrics: Vec<_> = experiment
        .runs
        .iter()
        .map(|run| {
            let dir = tempfile::tempdir().unwrap();
            let metrics = train_run(
                &run.config,
                &registry,
                dir.path(),
                &Device::flex(),
                &mut Silent,
            )
            .unwrap()
            .metrics;
            eprintln!("{}: {metrics:?}", run.summary());
            metrics
        })
        .collect();
    cache.insert(spec.to_string(), metrics.clone());
    metrics
}

fn zoo(kind: ModelKind) -> BTreeMap<String, f64> {
    let index = ZOO_KINDS.iter().position(|&k| k == kind).unwrap();
    trained(ZOO).swap_remove(index)
}

#[test]
fn sparse_codes_are_sparse_and_vanilla_sigmoid_codes_are_not() {
    let runs = trained(SPARSE);
    let vanilla = runs[0][metric::MEAN_CODE_ACTIVATION];
    let sparse = runs[1][metric::MEAN_CODE_ACTIVATION];
    eprintln!("mean code activation: sparse {sparse:.4}, vanilla {vanilla:.4}");
    assert!(
        sparse <= 0.10,
        "sparse autoencoder's mean activation {sparse}"
    );
    assert!(
        vanilla > 0.20,
        "vanilla autoencoder's mean activation {vanilla}"
    );
    let (sparse_kl, vanilla_kl) = (runs[1][metric::SPARSITY_KL], runs[0][metric::SPARSITY_KL]);
    assert!(
        sparse_kl < vanilla_kl,
        "sparsity kl: sparse {sparse_kl}, vanilla {vanilla_kl}"
    );
}

#[test]
fn the_contractive_penalty_halves_the_jacobian_norm() {
    let contractive = zoo(ModelKind::Contractive)[metric::JACOBIAN_FROBENIUS];
    let vanilla = zoo(ModelKind::Vanilla)[metric::JACOBIAN_FROBENIUS];
    eprintln!("jacobian frobenius: contractive {contractive:.3}, vanilla {vanilla:.3}");
    assert!(
        2.0 * contractive <= vanilla,
        "contractive {contractive}, vanilla {vanilla}"
    );
}

/// Vanilla and denoising autoencoders with a wide code (784-512-128), where a vanilla
/// autoencoder's bottleneck no longer filters noise by itself, on gaussian noise σ = 0.3.
const DENOISING: &str = r#"
[experiment]
name = "denoising-test"
seed = 1

[data]
dataset = "mnist"

[model]
hidden = [512]
latent = 128

[noise]
kind = "gaussian"
level = 0.3

[train]
epochs = 3

[evaluate]
tasks = ["reconstruction", "denoising"]

[sweep.parameters]
"model.kind" = ["vanilla", "denoising"]
"#;

#[test]
fn denoising_training_gains_a_decibel_over_vanilla_on_noisy_inputs() {
    let runs = trained(DENOISING);
    let vanilla = runs[0][metric::DENOISE_PSNR_GAIN_DB];
    let denoising = runs[1][metric::DENOISE_PSNR_GAIN_DB];
    eprintln!("denoise psnr gain: denoising {denoising:.2} dB, vanilla {vanilla:.2} dB");
    assert!(
        denoising >= vanilla + 1.0,
        "denoising {denoising}, vanilla {vanilla}"
    );
}

#[test]
fn a_denoiser_raises_psnr_and_ssim_of_noisy_inputs_more_than_a_vanilla_autoencoder() {
    let runs = trained(DENOISING);
    let (vanilla, denoising) = (&runs[0], &runs[1]);
    let noisy = (
        denoising[metric::NOISY_PSNR_DB],
        denoising[metric::NOISY_SSIM],
    );
    let denoised = (
        denoising[metric::DENOISE_PSNR_DB],
        denoising[metric::DENOISE_SSIM],
    );
    eprintln!(
        "gaussian 0.3: noisy {:.2} dB / ssim {:.3}, denoised {:.2} dB / ssim {:.3}, \
         vanilla {:.2} dB / ssim {:.3}",
        noisy.0,
        noisy.1,
        denoised.0,
        denoised.1,
        vanilla[metric::DENOISE_PSNR_DB],
        vanilla[metric::DENOISE_SSIM]
    );
    // Both runs see the same noisy inputs.
    assert_eq!(
        noisy,
        (vanilla[metric::NOISY_PSNR_DB], vanilla[metric::NOISY_SSIM])
    );
    assert!(
        denoised.0 >= noisy.0 + 5.0,
        "{denoised:?} against {noisy:?}"
    );
    assert!(
        denoised.1 >= noisy.1 + 0.2,
        "{denoised:?} against {noisy:?}"
    );
    assert!(denoised.1 > vanilla[metric::DENOISE_SSIM]);
}

#[test]
fn at_equal_bytes_every_kind_beats_pca_and_jpeg_cannot_go_that_low() {
    for kind in ZOO_KINDS {
        let run = zoo(kind);
        let (ours, pca) = (run[metric::QUANTIZED_PSNR_DB], run[metric::PCA_PSNR_DB]);
        eprintln!(
            "{}: 32 bytes per image, 8-bit code {ours:.2} dB, pca {pca:.2} dB, ratio {}",
            kind.name(),
            run[metric::COMPRESSION_RATIO]
        );
        assert_eq!(run[metric::CODE_BITS], 32.0 * 32.0);
        assert_eq!(run[metric::COMPRESSION_RATIO], 784.0 / 32.0);
        assert!(ours > pca, "{}: {ours} dB, pca {pca} dB", kind.name());
        // The quantised code loses little against the float code.
        assert!(run[metric::TEST_PSNR_DB] - ours < 0.5, "{run:?}");
        // Quality 1 already needs more than 32 entropy-coded bytes for a 28x28 digit.
        assert!(!run.contains_key(metric::JPEG_PSNR_DB), "{run:?}");
    }
}

#[test]
fn a_linear_probe_reads_the_digit_from_every_kinds_code() {
    for kind in ZOO_KINDS {
        let accuracy = zoo(kind)[metric::PROBE_ACCURACY];
        eprintln!("{}: probe accuracy {accuracy:.4}", kind.name());
        assert!(accuracy >= 0.85, "{}: {accuracy}", kind.name());
    }
}

#[test]
fn every_kind_beats_pca_at_latent_32() {
    let mut results: Vec<(&str, f64)> = ZOO_KINDS
        .iter()
        .map(|kind| (kind.name(), zoo(*kind)[metric::TEST_MSE]))
        .collect();
    results.push(("sparse", trained(SPARSE)[1][metric::TEST_MSE]));
    results.push(("vae (from μ)", trained(VAE_32)[0][metric::TEST_MSE]));
    for (kind, mse) in results {
        eprintln!("{kind}: test mse {mse:.5} (pca-32 {PCA_32_TEST_MSE})");
        assert!(mse < PCA_32_TEST_MSE, "{kind}: {mse}");
    }
}

/// The PyTorch VAE example's setup: 784-400-20, ReLU, BCE summed over pixels + KL, Adam 1e-3,
/// batch 128, 10 epochs on all 60,000 training digits.
const VAE: &str = r#"
[experiment]
name = "vae-test"
seed = 1

[data]
dataset = "mnist"
validation = 0.0

[model]
kind = "vae"
hidden = [400]
latent = 20

[loss]
reconstruction = "bce"

[train]
epochs = 10
"#;

#[test]
fn a_vae_reaches_the_pytorch_examples_elbo_and_saves_samples() {
    let metrics = trained(VAE).swap_remove(0);
    let elbo = metrics[metric::TEST_ELBO_NATS];
    eprintln!(
        "vae 784-400-20: test elbo {elbo:.2} nats, kl {:.2} nats, {} active units",
        metrics[metric::TEST_KL_NATS],
        metrics[metric::ACTIVE_UNITS]
    );
    assert!(elbo <= 107.0, "negative ELBO {elbo} nats");
    assert!(metrics[metric::TEST_KL_NATS] > 0.0);
    assert!(metrics[metric::ACTIVE_UNITS] >= 5.0);
}

/// A VAE with the zoo's architecture (784-256-32), its reconstruction measured from μ.
const VAE_32: &str = r#"
[experiment]
name = "vae-32-test"
seed = 1

[data]
dataset = "mnist"

[model]
kind = "vae"
hidden = [256]
latent = 32

[loss]
reconstruction = "bce"

[train]
epochs = 3
"#;

/// Conv and MLP autoencoders with a 32-number code on Fashion-MNIST: the conv encoder
/// (32 and 64 channels, then straight to the code) against the MLP without hidden layers and
/// the zoo's 784-256-32.
const FASHION: &str = r#"
[experiment]
name = "fashion-test"
seed = 1

[data]
dataset = "fashion-mnist"
train_limit = 20000

[model]
channels = [32, 64]
hidden = []
latent = 32

[train]
epochs = 3

[sweep.parameters]
"model.architecture" = ["conv", "mlp"]
"#;

#[test]
fn conv_beats_mlp_on_fashion_mnist_at_the_same_code_size() {
    let runs = trained(FASHION);
    let deeper = FASHION
        .replace("hidden = []", "hidden = [256]")
        .replace(
            "\"model.architecture\" = [\"conv\", \"mlp\"]",
            "\"model.architecture\" = [\"mlp\"]",
        )
        .replace("channels = [32, 64]\n", "");
    let (conv, mlp) = (runs[0][metric::TEST_MSE], runs[1][metric::TEST_MSE]);
    let mlp_256 = trained(&deeper)[0][metric::TEST_MSE];
    eprintln!(
        "fashion-mnist latent 32: conv test mse {conv:.5}, mlp {mlp:.5}, mlp 784-256-32 {mlp_256:.5}"
    );
    assert!(
        conv < mlp && conv < mlp_256,
        "conv {conv}, mlp {mlp}, mlp 784-256-32 {mlp_256}"
    );
}

#[test]
fn runs_on_images_save_their_grids() {
    let (registry, catalog) = registry_and_catalog();
    let spec = VAE_32
        .replace("[data]\n", "[data]\ntrain_limit = 500\ntest_limit = 100\n")
        .replace("epochs = 3", "epochs = 1");
    let latent = format!("{spec}\n[evaluate]\ntasks = [\"reconstruction\", \"latent\"]\n");
    let experiment = hourglass_spec::parse(Path::new("vae.toml"), &latent, &catalog).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let _rng = ORDER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let metrics = train_run(
        &experiment.runs[0].config,
        &registry,
        dir.path(),
        &Device::flex(),
        &mut Silent,
    )
    .unwrap()
    .metrics;
    for (name, columns, rows) in [
        (artifact::RECONSTRUCTIONS, 10, 4),
        (artifact::SAMPLES, 10, 8),
        (artifact::INTERPOLATIONS, 10, 8),
        // The latent task: ten of the 32 dimensions, nine steps each.
        (artifact::TRAVERSALS, 9, 10),
    ] {
        let grid = image::open(dir.path().join(name)).unwrap().into_luma8();
        assert_eq!(
            grid.dimensions(),
            (columns * 30 + 2, rows * 30 + 2),
            "{name}"
        );
    }
    // The KL of each dimension from the prior adds up to the test KL.
    let latent_csv = std::fs::read_to_string(dir.path().join("latent.csv")).unwrap();
    let mut lines = latent_csv.lines();
    assert_eq!(lines.next(), Some("dimension,mean,variance,kl_nats"));
    let per_dimension: f64 = lines
        .map(|line| line.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    let kl = metrics[metric::TEST_KL_NATS];
    assert!(
        (per_dimension - kl).abs() < 1e-3 * kl,
        "{per_dimension} vs {kl}"
    );
    // The other kinds generate only with the generation task.
    let vanilla = spec.replace("kind = \"vae\"", "kind = \"vanilla\"");
    let generating =
        format!("{vanilla}\n[evaluate]\ntasks = [\"reconstruction\", \"generation\"]\n");
    for (spec, generates) in [(vanilla, false), (generating, true)] {
        let experiment = hourglass_spec::parse(Path::new("ae.toml"), &spec, &catalog).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = &experiment.runs[0].config;
        train_run(config, &registry, dir.path(), &Device::flex(), &mut Silent).unwrap();
        for name in [artifact::SAMPLES, artifact::INTERPOLATIONS] {
            assert_eq!(dir.path().join(name).exists(), generates, "{name}");
        }
        assert!(!dir.path().join(artifact::DENOISING).exists());
    }
    // With [noise]: clean, corrupted and denoised rows, twice; the corrupted rows differ.
    let noisy = spec.replace("kind = \"vae\"", "kind = \"denoising\"")
        + "\n[noise]\nkind = \"masking\"\nlevel = 0.5\n";
    let experiment = hourglass_spec::parse(Path::new("dae.toml"), &noisy, &catalog).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = &experiment.runs[0].config;
    train_run(config, &registry, dir.path(), &Device::flex(), &mut Silent).unwrap();
    let grid = image::open(dir.path().join(artifact::DENOISING))
        .unwrap()
        .into_luma8();
    assert_eq!(grid.dimensions(), (10 * 30 + 2, 6 * 30 + 2));
    let row = |r: u32| -> Vec<u8> {
        (0..grid.width())
            .flat_map(|x| (r * 30 + 2..r * 30 + 30).map(move |y| (x, y)))
            .map(|(x, y)| grid.get_pixel(x, y).0[0])
            .collect()
    };
    assert_ne!(row(0), row(1), "the corrupted row equals the clean one");
}
