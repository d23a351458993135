//! Trains and evaluates one run: data in, `metrics.jsonl`, image grids and final metrics out.
//!
//! The loop is plain burn (`backward`, `GradientsParams`, `optimizer.step`) rather than
//! burn-train's `Learner`: hourglass needs per-epoch records in its own format, a divergence
//! guard on every step and evaluation tasks after training, and the plain loop states all
//! three in a few lines. The device, and with it the backend, is chosen by the caller.

mod anomaly;
pub mod backend;
mod batch;
mod compression;
mod evaluate;
mod images;
mod latent;
mod optimizer;
mod splits;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use hourglass_data::{Corruption, DataError, Registry, Split, permutation};
use hourglass_models::{Autoencoder, AutoencoderConfig, Objective};
use hourglass_spec::result::{
    CODES_FILE, EpochRecord, LATENT_FILE, METRICS_FILE, ROC_FILE, metric, write_atomic,
};
use hourglass_spec::{CodeActivation, ModelKind, RunConfig, SparsityPenalty, Task};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use splits::{Normal, Splits, load_splits};

pub use evaluate::Evaluation;

/// File names of the image grids a run writes for image data.
pub mod artifact {
    /// Test images (odd rows) above their reconstructions (even rows).
    pub const RECONSTRUCTIONS: &str = "reconstructions.png";
    /// Decodings of drawn codes: a VAE's from its prior, with the generation task the other
    /// kinds' from a Gaussian fitted to their training codes.
    pub const SAMPLES: &str = "samples.png";
    /// Each row decodes codes interpolated linearly between two test images' codes (a VAE's
    /// μ); VAEs always, the other kinds with the generation task.
    pub const INTERPOLATIONS: &str = "interpolations.png";
}

/// Test examples whose codes a run writes to [`CODES_FILE`] for latent-space inspection.
pub const CODED_EXAMPLES: usize = 1000;

/// Why a run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The loss became NaN or infinite.
    #[error("diverged at epoch {epoch}, step {step}: training loss is {loss}")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based step within the epoch.
        step: usize,
        /// The offending value.
        loss: f32,
    },
    /// A run file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Receives progress events; every method defaults to doing nothing. `Send`, because a run
/// trains on a thread of its own pool.
pub trait Progress: Send {
    /// Called after each epoch with its record.
    fn epoch_ended(&mut self, _record: &EpochRecord, _epochs: usize) {}
}

/// A [`Progress`] that ignores everything.
pub struct Silent;
impl Progress for Silent {}

/// Trains the run described by `config` on `device` (a training device: autodiff is enabled
/// here), appending one line per epoch to `run_dir/metrics.jsonl`, writes image grids into
/// `run_dir` for image data, and returns the final metrics. The run executes
/// [`on_a_thread_pool`].
pub fn train_run(
    config: &RunConfig,
    registry: &Registry,
    run_dir: &Path,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<BTreeMap<String, f64>, TrainError> {
    on_a_thread_pool(|| train_on_this_thread(config, registry, run_dir, device, progress))
}

/// Runs `work` on a rayon pool of `RAYON_NUM_THREADS` threads (all cores by default).
///
/// Flex splits large matrix products over the current pool while its caller waits; called
/// from a thread of the pool, the caller works too. On 2 cores that made the MLP training
/// step 1.3x faster than from the main thread.
pub fn on_a_thread_pool<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().build() {
        Ok(pool) => pool.install(work),
        // No threads to be had: the work still runs, with flex's kernels on one thread.
        Err(_) => work(),
    }
}

/// [`train_run`] on the calling thread.
fn train_on_this_thread(
    config: &RunConfig,
    registry: &Registry,
    run_dir: &Path,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<BTreeMap<String, f64>, TrainError> {
    let splits = load_splits(config, registry)?;
    let eval_device = device.clone().inner();
    let device = device.clone().autodiff();
    device.seed(config.seed);

    let metrics_path = run_dir.join(METRICS_FILE);
    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Write { path, source }
    };
    let mut metrics_file =
        BufWriter::new(File::create(&metrics_path).map_err(write_error(&metrics_path))?);

    let features = splits.train.features();
    // The weights are drawn on flex whatever the backend, so one seed starts a run from the
    // same model on every backend.
    let init_device = Device::flex().autodiff();
    if init_device != device {
        init_device.seed(config.seed);
    }
    let mut model = AutoencoderConfig::from_spec(&config.model, &splits.train.shape)
        .init(&init_device)
        .to_device(&device);
    let objective = Objective::from_config(config);
    let mut optimizer = optimizer::build(config);
    let learning_rate = config.train.learning_rate;
    let batch_size = config.train.batch_size;
    // Denoising runs see corrupted inputs, drawn from their own stream of the run's seed.
    let corruption = config
        .noise
        .as_ref()
        .filter(|_| config.model.is(ModelKind::Denoising))
        .map(Corruption::new);
    let mut noise_rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x006e_6f69_7365);

    let started = Instant::now();
    let mut stepping_seconds = 0.0;
    let mut samples = 0usize;
    let epochs = config.train.epochs;
    let mut validation_losses = Vec::new();
    let mut epochs_run = 0;
    for epoch in 1..=epochs {
        let order = permutation(splits.train.len(), epoch_seed(config.seed, epoch));
        let steps_per_epoch = order.len().div_ceil(batch_size);
        let epoch_started = Instant::now();
        let mut loss_sum = 0.0f64;
        let mut steps = 0usize;
        for (step, indices) in order.chunks(batch_size).enumerate() {
            let clean = batch::rows(&splits.train, indices);
            let noisy = corruption.as_ref().map(|corruption| {
                let mut noisy = clean.clone();
                corruption.apply(&mut noisy, &mut noise_rng);
                batch::tensor(noisy, features, &device)
            });
            let target = batch::tensor(clean, features, &device); // [batch, features]
            // Without noise the encoder sees the target itself: one tensor, no second copy.
            let input = noisy.unwrap_or_else(|| target.clone()); // [batch, features]
            let epochs_done = (epoch - 1) as f64 + step as f64 / steps_per_epoch as f64;
            let loss = objective.terms(&model, input, target, epochs_done).total;
            let value: f32 = loss.clone().into_scalar();
            if !value.is_finite() {
                return Err(TrainError::Diverged {
                    epoch,
                    step: step + 1,
                    loss: value,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(learning_rate, model, grads);
            loss_sum += f64::from(value);
            steps += 1;
            samples += indices.len();
        }
        stepping_seconds += epoch_started.elapsed().as_secs_f64();

        let validation = (!splits.validation.is_empty()).then(|| {
            evaluate::evaluate(&model.valid(), &objective, &splits.validation, &eval_device)
        });
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / steps.max(1) as f64,
            val_loss: validation.as_ref().map(|v| v.loss),
            val_mse: validation.as_ref().map(|v| v.mse),
            seconds: started.elapsed().as_secs_f64(),
        };
        let line = serde_json::to_string(&record).expect("epoch records serialize");
        writeln!(metrics_file, "{line}")
            .and_then(|()| metrics_file.flush())
            .map_err(write_error(&metrics_path))?;
        progress.epoch_ended(&record, epochs);
        epochs_run = epoch;
        if let (Some(rule), Some(loss)) = (&config.train.early_stopping, record.val_loss) {
            validation_losses.push(loss);
            if rule.should_stop(&validation_losses) {
                break;
            }
        }
    }
    let train_seconds = started.elapsed().as_secs_f64();

    let model = model.valid();
    let mut metrics = test_metrics(config, &model, &objective, &splits, run_dir, &eval_device)?;
    metrics.extend([
        (metric::TRAIN_SECONDS, train_seconds),
        (
            metric::SAMPLES_PER_SECOND,
            samples as f64 / stepping_seconds.max(1e-9),
        ),
        (metric::EPOCHS_RUN, epochs_run as f64),
        (metric::PARAMETERS, model.num_params() as f64),
    ]);
    if let Some(image) = image_size(&splits.test) {
        let generation = config.evaluate.has(Task::Generation);
        write_images(&model, &splits, image, generation, run_dir, &eval_device)
            .map_err(|(path, source)| TrainError::Write { path, source })?;
    }
    write_file(
        &run_dir.join(CODES_FILE),
        &codes_csv(&model, &splits.test, &eval_device),
    )?;
    // A measure undefined for this run (the AUROC of a test split without anomalies, the PSNR
    // of a perfect reconstruction) is left out: JSON has no NaN or infinity, and `result.json`
    // must parse.
    Ok(metrics
        .into_iter()
        .filter(|(_, value)| value.is_finite())
        .map(|(name, value)| (name.to_string(), value))
        .collect())
}

/// Height and width of single-channel images.
fn image_size(split: &Split) -> Option<[usize; 2]> {
    match split.shape[..] {
        [1, height, width] => Some([height, width]),
        _ => None,
    }
}

/// Writes `text` to `path` atomically.
fn write_file(path: &Path, text: &str) -> Result<(), TrainError> {
    write_atomic(path, text.as_bytes()).map_err(|source| TrainError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The metrics of the trained `model` on the test split, for every task of the run; the
/// tasks' files (`roc.csv`, `latent.csv`) are written into `run_dir`.
fn test_metrics(
    config: &RunConfig,
    model: &Autoencoder,
    objective: &Objective,
    splits: &Splits,
    run_dir: &Path,
    device: &Device,
) -> Result<BTreeMap<&'static str, f64>, TrainError> {
    let test = &splits.test;
    let tasks = &config.evaluate;
    let evaluation = evaluate::evaluate(model, objective, test, device);
    let mut metrics = BTreeMap::from([
        (metric::TEST_MSE, evaluation.mse),
        (metric::TEST_PSNR_DB, evaluation.psnr_db()),
        (metric::TEST_LOSS, evaluation.loss),
        (
            metric::MEAN_CODE_ACTIVATION,
            evaluation.mean_code_activation(),
        ),
        (
            metric::JACOBIAN_FROBENIUS,
            evaluate::jacobian_frobenius(model, test, device),
        ),
    ]);
    // A VAE's code has no activation, so this is never a VAE's.
    if model.code_activation() == CodeActivation::Sigmoid {
        let target = config
            .regularizers
            .sparsity
            .as_ref()
            .map_or(SparsityPenalty::DEFAULT_TARGET, |s| s.target);
        metrics.insert(metric::SPARSITY_KL, evaluation.sparsity_kl(target));
    }
    if let Some(kl) = evaluation.kl {
        metrics.insert(metric::TEST_ELBO_NATS, evaluation.loss);
        metrics.insert(metric::TEST_KL_NATS, kl);
        metrics.insert(metric::ACTIVE_UNITS, evaluation.active_units() as f64);
    }
    if let Some(noise) = &config.noise {
        let task = tasks.has(Task::Denoising);
        let image = image_size(test).filter(|_| task);
        let denoising = evaluate::denoising(model, &Corruption::new(noise), test, image, device);
        metrics.insert(
            metric::DENOISE_PSNR_GAIN_DB,
            denoising.denoised_psnr_db - denoising.noisy_psnr_db,
        );
        if task {
            metrics.insert(metric::NOISY_PSNR_DB, denoising.noisy_psnr_db);
            metrics.insert(metric::DENOISE_PSNR_DB, denoising.denoised_psnr_db);
            if let (Some(noisy), Some(denoised)) = (denoising.noisy_ssim, denoising.denoised_ssim) {
                metrics.insert(metric::NOISY_SSIM, noisy);
                metrics.insert(metric::DENOISE_SSIM, denoised);
            }
        }
    }
    if tasks.has(Task::Compression) {
        let unit_range = !splits.standardized;
        metrics.extend(compression::compression(
            model,
            &splits.train,
            test,
            unit_range,
            device,
        ));
    }
    if let Some(normal) = splits.normal {
        let loss = config.loss.reconstruction;
        let (anomaly, roc) = anomaly::anomaly(model, loss, test, normal, device);
        metrics.extend(anomaly);
        write_file(&run_dir.join(ROC_FILE), &anomaly::roc_csv(&roc))?;
    }
    if tasks.has(Task::Latent) {
        // Trained on one class (the anomaly task's normal examples), a probe has nothing to
        // tell apart.
        if let Some(accuracy) = latent::probe(model, &splits.train, test, config.seed, device) {
            metrics.insert(metric::PROBE_ACCURACY, accuracy);
        }
        write_file(&run_dir.join(LATENT_FILE), &latent::latent_csv(&evaluation))?;
    }
    Ok(metrics)
}

/// The codes of the first [`CODED_EXAMPLES`] examples of `test` as CSV, with their labels.
fn codes_csv(model: &Autoencoder, test: &Split, device: &Device) -> String {
    let indices: Vec<usize> = (0..test.len().min(CODED_EXAMPLES)).collect();
    let codes: Vec<f32> = model
        .encode(batch::inputs(test, &indices, device))
        .mean
        .into_data()
        .try_to_vec()
        .expect("f32 codes");
    let latent = model.latent();
    let header: Vec<String> = (0..latent).map(|j| format!("z{j}")).collect();
    let mut csv = format!("label,{}\n", header.join(","));
    for (&i, code) in indices.iter().zip(codes.chunks(latent)) {
        let values: Vec<String> = code.iter().map(f32::to_string).collect();
        csv += &format!("{},{}\n", test.labels[i], values.join(","));
    }
    csv
}

/// Writes the run's image grids: reconstructions for every model; samples and interpolations
/// for a VAE, and with the generation task for every kind (samples of the other kinds decode
/// codes drawn from a diagonal Gaussian fitted to their training codes).
fn write_images(
    model: &Autoencoder,
    splits: &Splits,
    image: [usize; 2],
    generation: bool,
    run_dir: &Path,
    device: &Device,
) -> Result<(), (PathBuf, std::io::Error)> {
    const COLUMNS: usize = 10;
    let test = &splits.test;
    let write = |name: &str, tensor: Tensor<2>| {
        let path = run_dir.join(name);
        let values: Vec<f32> = tensor.into_data().try_to_vec().expect("f32 images");
        images::write_grid(&path, &values, image, COLUMNS).map_err(|e| (path, e))
    };
    let shown = test.len().min(2 * COLUMNS);
    let mut rows = Vec::new();
    for start in (0..shown).step_by(COLUMNS) {
        let indices: Vec<usize> = (start..(start + COLUMNS).min(shown)).collect();
        let originals = batch::inputs(test, &indices, device);
        rows.push(originals.clone());
        rows.push(model.forward(originals).reconstruction);
    }
    write(artifact::RECONSTRUCTIONS, Tensor::cat(rows, 0))?;
    if !(model.is_variational() || generation) {
        return Ok(());
    }
    let samples = 8 * COLUMNS;
    let drawn = if model.is_variational() {
        model.sample_prior(samples, device)
    } else {
        let fitted = splits.train.head(CODED_EXAMPLES * 10);
        let (mean, std) = code_gaussian(model, &fitted, device); // [1, latent] each
        let noise = Tensor::<2>::random(
            [samples, model.latent()],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            device,
        );
        model.decode(noise * std + mean)
    };
    write(artifact::SAMPLES, drawn)?;
    let pairs = test.len() / 2;
    let count = pairs.min(8);
    let from: Vec<usize> = (0..count).collect();
    let to: Vec<usize> = (pairs..pairs + count).collect();
    let start = model.encode(batch::inputs(test, &from, device)).mean; // [count, latent]
    let end = model.encode(batch::inputs(test, &to, device)).mean; // [count, latent]
    let steps: Vec<Tensor<3>> = (0..COLUMNS)
        .map(|k| {
            let t = k as f64 / (COLUMNS - 1) as f64;
            (start.clone() * (1.0 - t) + end.clone() * t).unsqueeze_dim(1)
        })
        .collect(); // COLUMNS × [count, 1, latent]
    let codes = Tensor::cat(steps, 1).reshape([count * COLUMNS, model.latent()]);
    write(artifact::INTERPOLATIONS, model.decode(codes))
}

/// Mean and standard deviation of each code dimension over `split`.
///
/// # Shapes
/// - output: `[1, latent]` each
fn code_gaussian(model: &Autoencoder, split: &Split, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let latent = model.latent();
    let codes = batch::tensor(evaluate::codes(model, split, device), latent, device);
    let mean = codes.clone().mean_dim(0); // [1, latent]
    let std = (codes - mean.clone()).square().mean_dim(0).sqrt(); // [1, latent]
    (mean, std)
}

/// The shuffling seed of one epoch, decorrelated from the run seed and the other epochs.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
