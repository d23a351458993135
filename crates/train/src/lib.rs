//! Trains and evaluates one run: data in, `metrics.jsonl` and final metrics out.
//!
//! The loop is plain burn (`backward`, `GradientsParams`, `optimizer.step`) rather than
//! burn-train's `Learner`: hourglass needs per-epoch records in its own format, a divergence
//! guard on every step and evaluation tasks after training, and the plain loop states all
//! three in a few lines. The device, and with it the backend, is chosen by the caller.

mod batch;
mod evaluate;
mod optimizer;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::GradientsParams;
use burn::prelude::*;
use hourglass_data::{DataError, Registry, Split, permutation};
use hourglass_models::{MlpAutoencoderConfig, reconstruction_loss};
use hourglass_spec::RunConfig;
use hourglass_spec::result::{EpochRecord, METRICS_FILE};

pub use evaluate::Reconstruction;

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

/// Receives progress events; every method defaults to doing nothing.
pub trait Progress {
    /// Called after each epoch with its record.
    fn epoch_ended(&mut self, _record: &EpochRecord, _epochs: usize) {}
}

/// A [`Progress`] that ignores everything.
pub struct Silent;
impl Progress for Silent {}

/// Splits of a run after partitioning and limits.
struct Splits {
    train: Split,
    validation: Split,
    test: Split,
}

fn load_splits(config: &RunConfig, registry: &Registry) -> Result<Splits, DataError> {
    let data = &config.data;
    let (mut train, validation) = registry
        .load(&data.dataset, "train")?
        .partition(data.validation, config.seed);
    if let Some(limit) = data.train_limit {
        train = train.truncated(limit);
    }
    let mut test = registry.load(&data.dataset, "test")?;
    if let Some(limit) = data.test_limit {
        test = test.truncated(limit);
    }
    Ok(Splits {
        train,
        validation,
        test,
    })
}

/// Trains the run described by `config` on `device` (a training device: autodiff is enabled
/// here), appending one line per epoch to `run_dir/metrics.jsonl`, and returns the final metrics.
pub fn train_run(
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
    let write_error = |source| TrainError::Write {
        path: metrics_path.clone(),
        source,
    };
    let mut metrics_file = BufWriter::new(File::create(&metrics_path).map_err(write_error)?);

    let features = splits.train.features();
    let mut model = MlpAutoencoderConfig::from_spec(&config.model, features).init(&device);
    let mut optimizer = optimizer::build(config);
    let learning_rate = config.train.learning_rate;
    let batch_size = config.train.batch_size;
    let objective = config.loss.reconstruction;

    let started = Instant::now();
    let mut stepping_seconds = 0.0;
    let mut samples = 0usize;
    let epochs = config.train.epochs;
    for epoch in 1..=epochs {
        let order = permutation(splits.train.len(), epoch_seed(config.seed, epoch));
        let epoch_started = Instant::now();
        let mut loss_sum = 0.0f64;
        let mut steps = 0usize;
        for (step, indices) in order.chunks(batch_size).enumerate() {
            let input = batch::inputs(&splits.train, indices, &device); // [batch, features]
            let output = model.forward(input.clone());
            let loss = reconstruction_loss(objective, &output, input);
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
            evaluate::reconstruction(&model.valid(), objective, &splits.validation, &eval_device)
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
            .map_err(write_error)?;
        progress.epoch_ended(&record, epochs);
    }
    let train_seconds = started.elapsed().as_secs_f64();

    let test = evaluate::reconstruction(&model.valid(), objective, &splits.test, &eval_device);
    Ok(BTreeMap::from([
        ("test_mse".to_string(), test.mse),
        ("test_psnr_db".to_string(), test.psnr_db()),
        ("test_loss".to_string(), test.loss),
        ("train_seconds".to_string(), train_seconds),
        (
            "samples_per_second".to_string(),
            samples as f64 / stepping_seconds.max(1e-9),
        ),
        ("epochs_run".to_string(), epochs as f64),
        ("parameters".to_string(), model.num_params() as f64),
    ]))
}

/// The shuffling seed of one epoch, decorrelated from the run seed and the other epochs.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}
