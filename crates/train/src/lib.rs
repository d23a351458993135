//! Trains and evaluates one run: data in, `metrics.jsonl`, image grids and final metrics out.
//!
//! The loop is plain burn (`backward`, `GradientsParams`, `optimizer.step`) rather than
//! burn-train's `Learner`: hourglass needs per-epoch records in its own format, a divergence
//! guard on every step and evaluation tasks after training, and the plain loop states all
//! three in a few lines. The device, and with it the backend, is chosen by the caller.

mod anomaly;
pub mod backend;
mod batch;
mod checkpoint;
mod compression;
mod evaluate;
mod host_memory;
mod images;
mod latent;
mod likelihood;
mod optimizer;
mod pack;
mod packed_optimizer;
mod run;
mod saved;
mod splits;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use checkpoint::OptimizerState;
use hourglass_data::{Corruption, DataError, Registry, Split};
use hourglass_models::{Autoencoder, Objective};
use hourglass_spec::model_card::CodeRanges;
use hourglass_spec::result::{
    BASELINE_ROC_FILE, EpochRecord, LATENT_FILE, Measured, ROC_FILE, metric, write_atomic,
};
use hourglass_spec::{CodeActivation, ModelKind, RunConfig, SparsityPenalty, Task};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use run::Run;
use splits::{Normal, Splits};

pub use anomaly::{AnomalyData, Baseline, KNN_NEIGHBOURS, anomaly_data};
pub use checkpoint::remove as remove_checkpoint;
pub use evaluate::Evaluation;
pub use pack::{PackProgress, train_pack};
pub use saved::{Applied, LoadError, SavedModel, load};

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
    /// With `[noise]`: test images, the same corrupted as the denoising task corrupts them, and
    /// the reconstructions of the corrupted ones, in groups of three rows.
    pub const DENOISING: &str = "denoising.png";
    /// With the latent task: each row decodes the mean training code with one dimension swept
    /// from −3 to +3 standard deviations (at most 10 dimensions: a VAE's by KL from the prior,
    /// the others' by variance, largest first).
    pub const TRAVERSALS: &str = "traversals.png";
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
    /// The run was given to a pack whose first run it cannot train with (their
    /// [`RunConfig::pack_key`]s differ, or the first run trains alone).
    #[error(
        "cannot be trained in this pack: its data, shapes, loss, optimizer, batch size, epochs or backend differ from the first run's, or the first run cannot be packed"
    )]
    Unpackable,
    /// The saved model could not be read.
    #[error(transparent)]
    Saved(#[from] LoadError),
    /// The run's checkpoint could not be taken up or written.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// Training was asked to stop ([`Progress::interrupted`]): the run's checkpoint at this
    /// position resumes it.
    #[error(
        "interrupted after {epochs} epochs and {step} steps of the next: its checkpoint resumes it"
    )]
    Interrupted {
        /// Epochs trained in full.
        epochs: usize,
        /// Steps trained of the next epoch.
        step: usize,
    },
    /// `data.binarize` asks for binary draws of inputs that are not grey levels.
    #[error(
        "data.binarize: data set `{dataset}` is standardised (its dataset.toml sets \
         `standardize = true`), and binarisation draws pixels from grey levels in [0, 1]"
    )]
    NotGreyLevels {
        /// The data set.
        dataset: String,
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
    /// Whether training should stop now (its time is up, say): asked after every step, and
    /// when it answers yes the run writes its checkpoint and ends with
    /// [`TrainError::Interrupted`].
    fn interrupted(&mut self) -> bool {
        false
    }
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
) -> Result<Measured, TrainError> {
    on_a_thread_pool(|| train_on_this_thread(config, registry, run_dir, device, progress))
}

/// Evaluates the model saved in `run_dir` for every task of `config` (the run's configuration,
/// its tasks the ones wanted) on `device` without training it, writes the tasks' files and
/// image grids into `run_dir`, records the compression task's code ranges in its card, and
/// returns the test metrics. Anomaly detection cannot be added this way: it trains on normal
/// examples only.
pub fn evaluate_saved(
    config: &RunConfig,
    registry: &Registry,
    run_dir: &Path,
    device: &Device,
) -> Result<Measured, TrainError> {
    on_a_thread_pool(|| {
        let splits = splits::load_splits(config, registry)?;
        let mut saved = saved::load(run_dir, device)?;
        let objective = Objective::from_config(config);
        let mut tested = test_metrics(config, &saved.model, &objective, &splits, run_dir, device)?;
        if let Some(image) = image_size(&splits.test) {
            write_images(&saved.model, &splits, image, config, run_dir, device)
                .map_err(|(path, source)| TrainError::Write { path, source })?;
        }
        if tested.code_ranges.is_some() {
            saved.card.code_ranges = tested.code_ranges.take();
            saved::write_card(&saved.card, run_dir)?;
        }
        Ok(run::measured(tested))
    })
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
) -> Result<Measured, TrainError> {
    let (mut run, resumed) = Run::open(config, registry, run_dir)?;
    let eval_device = device.clone().inner();
    let device = device.clone().autodiff();
    let mut model = run.init_model(&device);
    let mut optimizer = optimizer::build(config);
    match resumed {
        None => {}
        // A checkpoint written in a pack resumes in a pack (of one): its optimizer state is
        // the packed optimizer's.
        Some(resumed) if matches!(resumed.optimizer, OptimizerState::Packed { .. }) => {
            drop(run);
            return pack::train_alone(config, registry, run_dir, &eval_device, progress);
        }
        Some(resumed) => (model, optimizer) = resume_alone(model, optimizer, resumed)?,
    }
    let features = run.splits.features();
    let latent = config.model.latent;
    let (learning_rate, batch_size) = (config.train.learning_rate, config.train.batch_size);
    let started = Instant::now();
    let start = run.start;
    let mut stepping_seconds = run.stepping_before;
    let mut checkpointed = Instant::now();
    let first_epoch = start.epochs + 1;
    let epochs = if run.trained() {
        first_epoch..first_epoch
    } else {
        first_epoch..config.train.epochs + 1
    };
    for epoch in epochs {
        let order = run.order(epoch);
        let steps_per_epoch = order.len().div_ceil(batch_size);
        let skipped = if epoch == first_epoch { start.step } else { 0 };
        let epoch_started = Instant::now();
        for (step, indices) in order.chunks(batch_size).enumerate().skip(skipped) {
            device.seed(run.step_seed(epoch, step));
            let batch = run.batch(indices);
            let target = batch::tensor(batch.clean, features, &device); // [batch, features]
            // Without corruption the encoder sees the target itself: one tensor, no copy.
            let input = batch.corrupted.map_or_else(
                || target.clone(),
                |corrupted| batch::tensor(corrupted, features, &device),
            ); // [batch, features]
            let noise = batch
                .noise
                .map(|noise| batch::tensor(noise, latent, &device));
            let done = run::epochs_done(epoch, step, steps_per_epoch);
            let terms = run.objective.terms(&model, input, target, noise, done);
            let loss = terms.total;
            run.record_step(loss.clone().into_scalar(), epoch, step + 1, indices.len())?;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optimizer.step(learning_rate, model, grads);
            if let Some(code) = &terms.quantized_code {
                model = model.with_codebook_step(code);
            }
            let within_epoch = step + 1 < steps_per_epoch;
            let interrupted = within_epoch && progress.interrupted();
            if interrupted || (within_epoch && checkpointed.elapsed() >= run.checkpoint_every) {
                let position = run::Position {
                    epochs: epoch - 1,
                    step: step + 1,
                };
                let seconds = run.seconds_before + started.elapsed().as_secs_f64();
                let stepping = stepping_seconds + epoch_started.elapsed().as_secs_f64();
                checkpoint_alone(&mut run, position, &model, &optimizer, (seconds, stepping))?;
                checkpointed = Instant::now();
                if interrupted {
                    return Err(position.interrupted());
                }
            }
        }
        stepping_seconds += epoch_started.elapsed().as_secs_f64();
        let seconds = run.seconds_before + started.elapsed().as_secs_f64();
        let stops = run.end_epoch(epoch, &model.valid(), seconds, &eval_device, progress)?;
        let position = run::Position {
            epochs: epoch,
            step: 0,
        };
        let seconds = (seconds, stepping_seconds);
        checkpoint_alone(&mut run, position, &model, &optimizer, seconds)?;
        checkpointed = Instant::now();
        if stops {
            break;
        }
        if progress.interrupted() {
            return Err(position.interrupted());
        }
    }
    let train_seconds = run.seconds_before + started.elapsed().as_secs_f64();
    run.finish(
        &model.valid(),
        train_seconds,
        stepping_seconds,
        &eval_device,
    )
}

/// `model` and `optimizer` (fresh) with the weights and optimizer state of a lone run's
/// checkpoint.
fn resume_alone(
    model: Autoencoder,
    optimizer: ModuleOptimizer,
    resumed: run::Resumed,
) -> Result<(Autoencoder, ModuleOptimizer), TrainError> {
    let failed = |error: burn::store::RecordError| TrainError::Checkpoint(error.to_string());
    let model = model.try_load_record(resumed.model).map_err(failed)?;
    let optimizer = match resumed.optimizer {
        OptimizerState::Module(bytes) => optimizer
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes))
            .map_err(failed)?,
        OptimizerState::Packed { .. } => unreachable!("a packed checkpoint resumes in a pack"),
    };
    Ok((model, optimizer))
}

/// Writes the checkpoint of a lone run at `position`, trained `seconds` (in all, in steps).
fn checkpoint_alone(
    run: &mut Run,
    position: run::Position,
    model: &Autoencoder,
    optimizer: &ModuleOptimizer,
    (seconds, stepping): (f64, f64),
) -> Result<(), TrainError> {
    let bytes = optimizer
        .into_bytes()
        .map_err(|error| TrainError::Checkpoint(error.to_string()))?;
    let state = OptimizerState::Module(bytes.to_vec());
    run.write_checkpoint(position, model, &state, seconds, stepping)
}

/// `[channels, height, width]` of grey (1 channel) or colour (3, RGB) images, channels first.
fn image_size(split: &Split) -> Option<[usize; 3]> {
    match split.shape[..] {
        [channels @ (1 | 3), height, width] => Some([channels, height, width]),
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

/// What the tasks of a run measured on the test split.
struct TestMetrics {
    /// The metrics by name, finite or not.
    metrics: BTreeMap<&'static str, f64>,
    /// Why a metric of the run's tasks could not be measured, by name.
    not_measured: BTreeMap<&'static str, String>,
    /// The compression task's code ranges.
    code_ranges: Option<CodeRanges>,
}

/// The metrics of the trained `model` on the test split, for every task of the run, why any
/// could not be measured, and the compression task's code ranges; the tasks' files
/// (`roc.csv`, `latent.csv`) are written into `run_dir`.
fn test_metrics(
    config: &RunConfig,
    model: &Autoencoder,
    objective: &Objective,
    splits: &Splits,
    run_dir: &Path,
    device: &Device,
) -> Result<TestMetrics, TrainError> {
    let test = &splits.test;
    let tasks = &config.evaluate;
    let mut not_measured = BTreeMap::new();
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
    if let (Some(elbo), Some(kl)) = (evaluation.elbo, evaluation.kl) {
        metrics.insert(metric::TEST_ELBO_NATS, elbo);
        metrics.insert(metric::TEST_KL_NATS, kl);
        if config.model.kind == ModelKind::Iwae {
            metrics.insert(metric::TEST_IWAE_BOUND_NATS, evaluation.loss);
        }
        metrics.insert(metric::ACTIVE_UNITS, evaluation.active_units() as f64);
    }
    if let Some(noise) = &config.noise {
        let task = tasks.has(Task::Denoising);
        let image = image_size(test)
            .filter(|_| task)
            .map(|[_, height, width]| [height, width]);
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
            } else {
                for name in [metric::NOISY_SSIM, metric::DENOISE_SSIM] {
                    not_measured.insert(name, NOT_IMAGES.to_string());
                }
            }
        }
    }
    let mut code_ranges = None;
    if tasks.has(Task::Compression) {
        if image_size(test).is_none() {
            not_measured.insert(metric::JPEG_PSNR_DB, NOT_IMAGES.to_string());
        }
        let unit_range = splits.standardization.is_none();
        let (compression, ranges) = compression::compression(
            model,
            &splits.train(Some(compression::FIT_EXAMPLES)),
            test,
            unit_range,
            device,
        );
        if image_size(test).is_some() && !compression.contains_key(metric::JPEG_PSNR_DB) {
            let why = format!(
                "JPEG at its lowest quality takes more than the stored code's {} bytes per \
                 image",
                compression[metric::CODE_BYTES]
            );
            not_measured.insert(metric::JPEG_PSNR_DB, why);
        }
        metrics.extend(compression);
        code_ranges = ranges;
    }
    if let Some(normal) = splits.normal {
        let loss = config.loss.reconstruction;
        let (anomaly, roc) = anomaly::anomaly(model, loss, test, normal, device);
        metrics.extend(anomaly);
        write_file(&run_dir.join(ROC_FILE), &anomaly::roc_csv(&roc))?;
        // PCA keeps as many components as the code has dimensions (a VQ-VAE's positions).
        let (baselines, missing, curves) =
            anomaly::baselines(splits, normal, config.model.latent, config.seed);
        metrics.extend(baselines);
        not_measured.extend(missing);
        write_file(&run_dir.join(BASELINE_ROC_FILE), &curves)?;
    }
    if tasks.has(Task::Likelihood) && model.is_variational() {
        let samples = config.evaluate.importance_samples();
        let seed = config.seed ^ LIKELIHOOD_STREAM;
        let loss = config.loss.reconstruction;
        let nll = likelihood::per_example_nll(model, loss, test, samples, seed, device);
        let estimate = likelihood::Likelihood::of(&nll);
        metrics.insert(metric::TEST_NLL_NATS, estimate.nll_nats);
        metrics.insert(metric::TEST_NLL_SE_NATS, estimate.standard_error);
    }
    if tasks.has(Task::Latent) {
        match latent::probe(model, &splits.train(None), test, config.seed, device) {
            Some(accuracy) => {
                metrics.insert(metric::PROBE_ACCURACY, accuracy);
            }
            None => {
                let why = if splits.normal.is_some() {
                    "the anomaly task trains on normal examples alone: the linear probe has \
                     one class to tell apart"
                } else {
                    "the training examples carry one label (the data set has no classes): \
                     the linear probe has nothing to tell apart"
                };
                not_measured.insert(metric::PROBE_ACCURACY, why.to_string());
            }
        }
        write_file(&run_dir.join(LATENT_FILE), &latent::latent_csv(&evaluation))?;
    }
    Ok(TestMetrics {
        metrics,
        not_measured,
        code_ranges,
    })
}

/// Mixed into the run's seed for the likelihood task's importance samples.
const LIKELIHOOD_STREAM: u64 = 0x6c69_6b65_6c69;

/// Why an image measure was not taken on tabular data.
const NOT_IMAGES: &str = "the data set's examples are not images ([channels, height, width])";

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

/// Writes the run's image grids: reconstructions for every model; with `[noise]` clean, noisy
/// and denoised test images; samples and interpolations for a VAE, and with the generation
/// task for every kind (a VQ-VAE's samples decode entries drawn position by position from
/// their frequencies in the training codes; the other kinds' decode codes drawn from a
/// diagonal Gaussian fitted to their training codes).
fn write_images(
    model: &Autoencoder,
    splits: &Splits,
    image: [usize; 3],
    config: &RunConfig,
    run_dir: &Path,
    device: &Device,
) -> Result<(), (PathBuf, std::io::Error)> {
    let generation = config.evaluate.has(Task::Generation);
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
    if let Some(noise) = &config.noise {
        let corruption = Corruption::new(noise);
        let mut rows = Vec::new();
        for start in (0..shown).step_by(COLUMNS) {
            let indices: Vec<usize> = (start..(start + COLUMNS).min(shown)).collect();
            let clean = batch::rows(test, &indices);
            let noisy = corruption.applied(&clean, evaluate::EVALUATION_NOISE_SEED ^ start as u64);
            let noisy = batch::tensor(noisy, test.features(), device);
            rows.push(batch::tensor(clean, test.features(), device));
            rows.push(noisy.clone());
            rows.push(model.forward(noisy).reconstruction);
        }
        write(artifact::DENOISING, Tensor::cat(rows, 0))?;
    }
    if config.evaluate.has(Task::Latent) {
        let fitted = splits.train(Some(CODED_EXAMPLES * 10));
        let path = run_dir.join(artifact::TRAVERSALS);
        let traversals = latent::traversals(model, &fitted, device);
        let values: Vec<f32> = traversals.into_data().try_to_vec().expect("f32 images");
        images::write_grid(&path, &values, image, latent::TRAVERSAL_STEPS)
            .map_err(|e| (path, e))?;
    }
    if !(model.is_variational() || generation) {
        return Ok(());
    }
    let samples = 8 * COLUMNS;
    let drawn = if model.is_variational() {
        model.sample_prior(samples, device)
    } else if model.quantizer().is_some() {
        let fitted = splits.train(Some(CODED_EXAMPLES * 10));
        codebook_samples(model, &fitted, samples, config.seed, device)
    } else {
        let fitted = splits.train(Some(CODED_EXAMPLES * 10));
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

/// A VQ-VAE's decoded samples: each position's entry drawn independently from the entries'
/// frequencies at that position in the codes of `split` (the simplest prior over codes; the
/// VQ-VAE paper fits an autoregressive PixelCNN instead).
///
/// # Shapes
/// - output: `[count, input]`
fn codebook_samples(
    model: &Autoencoder,
    split: &Split,
    count: usize,
    seed: u64,
    device: &Device,
) -> Tensor<2> {
    let positions = model.quantizer().map_or(1, |q| q.positions());
    let indices = evaluate::code_indices(model, split, device);
    let codes: Vec<&[u32]> = indices.chunks_exact(positions).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SAMPLING_STREAM);
    let drawn: Vec<i64> = (0..count * positions)
        .map(|at| {
            let code = codes[rng.random_range(0..codes.len())];
            i64::from(code[at % positions])
        })
        .collect();
    let data = burn::tensor::TensorData::new(drawn, [count, positions]);
    model.decode_indices(Tensor::from_data(data, device))
}

/// Mixed into the run's seed for a VQ-VAE's samples.
const SAMPLING_STREAM: u64 = 0x7671_7661_6573;

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
