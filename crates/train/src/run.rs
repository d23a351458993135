//! One run's side of training, the same whether the run trains alone or in a pack: its splits
//! and objective, its data order and noise streams, its `metrics.jsonl`, early stopping, its
//! checkpoints and the resumption from them, and the evaluation that finishes it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use burn::prelude::*;
use burn::store::ModuleRecord;
use hourglass_data::{Corruption, Registry, binarize, permutation, standard_normals};
use hourglass_models::{Autoencoder, AutoencoderConfig, Objective};
use hourglass_spec::checkpoint::{CHECKPOINT_FORMAT_VERSION, TrainingState};
use hourglass_spec::model_card::{DataProvenance, FeatureStatistics, ModelArchitecture};
use hourglass_spec::result::{
    CODES_FILE, EpochRecord, METRICS_FILE, Measured, metric, write_atomic,
};
use hourglass_spec::{Binarize, ModelKind, RunConfig, RunId};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::checkpoint::{self, Checkpoint, OptimizerState};
use crate::saved::{self, CardFacts};
use crate::splits::{Splits, load_splits};
use crate::{
    Progress, TestMetrics, TrainError, codes_csv, evaluate, image_size, test_metrics, write_file,
};

/// A run being trained.
pub(crate) struct Run<'a> {
    pub(crate) config: &'a RunConfig,
    /// `config`'s id.
    run_id: RunId,
    run_dir: &'a Path,
    pub(crate) splits: Splits,
    pub(crate) objective: Objective,
    /// A denoising run's corruption of its inputs.
    corruption: Option<Corruption>,
    /// The stream of the corruption.
    corruption_rng: ChaCha8Rng,
    /// The stream of a VAE's ε.
    sampling_rng: ChaCha8Rng,
    metrics_path: PathBuf,
    metrics_file: BufWriter<File>,
    validation_losses: Vec<f64>,
    /// Training loss summed over the steps of the current epoch.
    loss_sum: f64,
    steps: usize,
    /// Examples trained on, over all epochs.
    pub(crate) samples: usize,
    pub(crate) epochs_run: usize,
    /// The step at which training starts: the first, or where the run's checkpoint stopped.
    pub(crate) start: Position,
    /// Seconds trained before this process (from the checkpoint), and the part of them spent
    /// in steps.
    pub(crate) seconds_before: f64,
    pub(crate) stepping_before: f64,
    /// Longest training time between two checkpoints within an epoch.
    pub(crate) checkpoint_every: Duration,
    /// Checkpoints written by this process, and the seconds spent writing them.
    checkpoints: (usize, f64),
}

/// A step boundary of a run's training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Position {
    /// Epochs ended.
    pub(crate) epochs: usize,
    /// Steps taken in the epoch after them.
    pub(crate) step: usize,
}

impl Position {
    /// The error of a run interrupted here, its checkpoint written.
    pub(crate) fn interrupted(self) -> TrainError {
        TrainError::Interrupted {
            epochs: self.epochs,
            step: self.step,
        }
    }
}

/// What a run resumed from its checkpoint starts its model and optimizer from.
pub(crate) struct Resumed {
    pub(crate) model: ModuleRecord,
    pub(crate) optimizer: OptimizerState,
}

/// The tensors of one training step of a run, as rows.
pub(crate) struct Batch {
    /// The clean inputs: the target.
    pub(crate) clean: Vec<f32>,
    /// What the encoder sees instead, for a denoising run.
    pub(crate) corrupted: Option<Vec<f32>>,
    /// A VAE's ε, `latent` values per example.
    pub(crate) noise: Option<Vec<f32>>,
}

impl<'a> Run<'a> {
    /// Loads the run's data and opens its `metrics.jsonl` in `run_dir`; resumes from the run's
    /// checkpoint there, if it has one that can be used (its epochs' records kept, the later
    /// ones dropped), and then returns the model and optimizer state to start from.
    pub(crate) fn open(
        config: &'a RunConfig,
        registry: &Registry,
        run_dir: &'a Path,
    ) -> Result<(Self, Option<Resumed>), TrainError> {
        let splits = load_splits(config, registry)?;
        let metrics_path = run_dir.join(METRICS_FILE);
        let run_id = RunId::of(config);
        let checkpoint = checkpoint::read(run_dir, run_id.as_str())
            .filter(|checkpoint| kept_records(&metrics_path, checkpoint));
        let write_error = |source| TrainError::Write {
            path: metrics_path.clone(),
            source,
        };
        let metrics_file = match checkpoint {
            Some(_) => File::options()
                .create(true)
                .append(true)
                .open(&metrics_path),
            None => File::create(&metrics_path),
        }
        .map_err(write_error)?;
        let mut run = Self {
            config,
            run_id,
            run_dir,
            splits,
            objective: Objective::from_config(config),
            // Denoising runs see corrupted inputs, drawn from their own stream of the seed.
            corruption: config
                .noise
                .as_ref()
                .filter(|_| config.model.is(ModelKind::Denoising))
                .map(Corruption::new),
            corruption_rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0x006e_6f69_7365),
            sampling_rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0x0065_7073_696c),
            metrics_path: metrics_path.clone(),
            metrics_file: BufWriter::new(metrics_file),
            validation_losses: Vec::new(),
            loss_sum: 0.0,
            steps: 0,
            samples: 0,
            epochs_run: 0,
            start: Position::default(),
            seconds_before: 0.0,
            stepping_before: 0.0,
            checkpoint_every: config.train.checkpoint_interval(),
            checkpoints: (0, 0.0),
        };
        let resumed = checkpoint.map(|checkpoint| run.resume(checkpoint));
        Ok((run, resumed))
    }

    /// Takes up the training state of `checkpoint`.
    fn resume(&mut self, checkpoint: Checkpoint) -> Resumed {
        let Checkpoint {
            state,
            streams: [corruption, sampling],
            model,
            optimizer,
        } = checkpoint;
        self.validation_losses = state.validation_losses;
        self.loss_sum = state.loss_sum;
        self.steps = state.step;
        self.samples = state.samples;
        self.epochs_run = state.epochs_run;
        self.start = Position {
            epochs: state.epochs_run,
            step: state.step,
        };
        self.seconds_before = state.train_seconds;
        self.stepping_before = state.stepping_seconds;
        self.corruption_rng.set_word_pos(corruption);
        self.sampling_rng.set_word_pos(sampling);
        println!(
            "resuming from the checkpoint after epoch {}, step {}",
            state.epochs_run, state.step
        );
        Resumed { model, optimizer }
    }

    /// Writes the run's checkpoint at `position`, with `model` and `optimizer` as they are
    /// there, `train_seconds` and `stepping_seconds` trained in all.
    pub(crate) fn write_checkpoint(
        &mut self,
        position: Position,
        model: &Autoencoder,
        optimizer: &OptimizerState,
        train_seconds: f64,
        stepping_seconds: f64,
    ) -> Result<(), TrainError> {
        let state = TrainingState {
            format_version: CHECKPOINT_FORMAT_VERSION,
            run_id: self.run_id.as_str().to_string(),
            epochs_run: position.epochs,
            step: position.step,
            loss_sum: self.loss_sum,
            samples: self.samples,
            validation_losses: self.validation_losses.clone(),
            corruption_stream: self.corruption_rng.get_word_pos().to_string(),
            sampling_stream: self.sampling_rng.get_word_pos().to_string(),
            train_seconds,
            stepping_seconds,
            optimizer: optimizer.layout(),
        };
        let started = Instant::now();
        checkpoint::write(self.run_dir, state, model, optimizer)?;
        self.checkpoints.0 += 1;
        self.checkpoints.1 += started.elapsed().as_secs_f64();
        Ok(())
    }

    /// The run's folder.
    pub(crate) fn run_dir(&self) -> &Path {
        self.run_dir
    }

    /// Whether the run has no training left: its epochs are done, or early stopping ended it
    /// (as a run resumed after its last epoch finds).
    pub(crate) fn trained(&self) -> bool {
        self.epochs_run >= self.config.train.epochs
            || self
                .config
                .train
                .early_stopping
                .as_ref()
                .is_some_and(|rule| rule.should_stop(&self.validation_losses))
    }

    /// The seed of the training device's own random stream at `step` (0-based) of `epoch`
    /// (1-based): reseeded every step, the draws from it (the contractive penalty's random
    /// projections) do not depend on where a run was resumed.
    pub(crate) fn step_seed(&self, epoch: usize, step: usize) -> u64 {
        epoch_seed(self.config.seed, epoch) ^ (step as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
    }

    /// The run's freshly initialised model on `device`. The weights are drawn on flex
    /// whatever the backend, so one seed starts a run from the same model on every backend
    /// and in every pack.
    pub(crate) fn init_model(&self, device: &Device) -> Autoencoder {
        let init_device = Device::flex().autodiff();
        init_device.seed(self.config.seed);
        // `fork`, not `to_device`: the weights arrive as leaves of no graph.
        AutoencoderConfig::from_spec(&self.config.model, self.splits.shape())
            .init(&init_device)
            .fork(device)
    }

    /// The order of the training examples in `epoch` (1-based): a shuffle of the run's seed.
    pub(crate) fn order(&self, epoch: usize) -> Vec<usize> {
        permutation(self.splits.train_len(), epoch_seed(self.config.seed, epoch))
    }

    /// The step's inputs for the training examples at `indices`, with the corruption and ε
    /// drawn from the run's streams; dynamically binarised inputs are drawn first, from the
    /// corruption's stream.
    pub(crate) fn batch(&mut self, indices: &[usize]) -> Batch {
        let mut clean = self.splits.train_inputs(indices);
        if self.config.data.binarize == Some(Binarize::Dynamic) {
            binarize(&mut clean, &mut self.corruption_rng);
        }
        let corrupted = self.corruption.as_ref().map(|corruption| {
            let mut corrupted = clean.clone();
            corruption.apply(&mut corrupted, &mut self.corruption_rng);
            corrupted
        });
        let noise = self.config.model.kind.is_variational().then(|| {
            let draws = indices.len() * self.objective.samples_per_example();
            standard_normals(draws * self.config.model.latent, &mut self.sampling_rng)
        });
        Batch {
            clean,
            corrupted,
            noise,
        }
    }

    /// Records the training loss of a step of `samples` examples; a loss that is not finite
    /// is the run's divergence.
    pub(crate) fn record_step(
        &mut self,
        loss: f32,
        epoch: usize,
        step: usize,
        samples: usize,
    ) -> Result<(), TrainError> {
        if !loss.is_finite() {
            return Err(TrainError::Diverged { epoch, step, loss });
        }
        self.loss_sum += f64::from(loss);
        self.steps += 1;
        self.samples += samples;
        Ok(())
    }

    /// Ends `epoch`: measures `model` on the validation split, appends the epoch's record to
    /// `metrics.jsonl` and reports it; returns whether early stopping ends the run here.
    pub(crate) fn end_epoch(
        &mut self,
        epoch: usize,
        model: &Autoencoder,
        seconds: f64,
        eval_device: &Device,
        progress: &mut dyn Progress,
    ) -> Result<bool, TrainError> {
        let validation = &self.splits.validation;
        let validation = (!validation.is_empty())
            .then(|| evaluate::evaluate(model, &self.objective, validation, eval_device));
        let record = EpochRecord {
            epoch,
            train_loss: self.loss_sum / self.steps.max(1) as f64,
            val_loss: validation.as_ref().map(|v| v.loss),
            val_mse: validation.as_ref().map(|v| v.mse),
            seconds,
        };
        self.loss_sum = 0.0;
        self.steps = 0;
        let line = serde_json::to_string(&record).expect("epoch records serialize");
        writeln!(self.metrics_file, "{line}")
            .and_then(|()| self.metrics_file.flush())
            .map_err(|source| TrainError::Write {
                path: self.metrics_path.clone(),
                source,
            })?;
        progress.epoch_ended(&record, self.config.train.epochs);
        self.epochs_run = epoch;
        Ok(match (&self.config.train.early_stopping, record.val_loss) {
            (Some(rule), Some(loss)) => {
                self.validation_losses.push(loss);
                rule.should_stop(&self.validation_losses)
            }
            _ => false,
        })
    }

    /// Evaluates the trained `model` (on a device without autodiff) for every task of the
    /// run, writes its image grids and codes, and returns its final metrics. `train_seconds`
    /// is the run's training time, `stepping_seconds` the part of it spent in steps.
    pub(crate) fn finish(
        self,
        model: &Autoencoder,
        train_seconds: f64,
        stepping_seconds: f64,
        eval_device: &Device,
    ) -> Result<Measured, TrainError> {
        let (config, splits, run_dir) = (self.config, &self.splits, self.run_dir);
        // Whatever training drew, the evaluation's draws (samples) start from the run's seed.
        eval_device.seed(config.seed);
        let mut tested =
            test_metrics(config, model, &self.objective, splits, run_dir, eval_device)?;
        tested.metrics.extend([
            (metric::TRAIN_SECONDS, train_seconds),
            (
                metric::SAMPLES_PER_SECOND,
                self.samples as f64 / stepping_seconds.max(1e-9),
            ),
            (metric::EPOCHS_RUN, self.epochs_run as f64),
            (metric::PARAMETERS, model.num_params() as f64),
        ]);
        if let Some(image) = image_size(&splits.test) {
            crate::write_images(model, splits, image, config, run_dir, eval_device)
                .map_err(|(path, source)| TrainError::Write { path, source })?;
        }
        write_file(
            &run_dir.join(CODES_FILE),
            &codes_csv(model, &splits.test, eval_device),
        )?;
        let facts = CardFacts {
            run_id: self.run_id.as_str().to_string(),
            model: ModelArchitecture::of(&config.model, splits.shape()),
            loss: config.loss.reconstruction,
            data: DataProvenance {
                dataset: config.data.dataset.clone(),
                files: splits.files.clone(),
                class_names: splits.class_names.clone(),
            },
            standardization: splits.standardization.as_ref().map(|standardization| {
                FeatureStatistics {
                    mean: standardization.mean().to_vec(),
                    std: standardization.std().to_vec(),
                }
            }),
            code_ranges: tested.code_ranges.take(),
        };
        let started = Instant::now();
        saved::save(model, facts, run_dir)?;
        // What keeping the model costs, beside the training time above.
        println!(
            "{}: {} checkpoints written in {:.3} s, the model saved in {:.3} s",
            self.run_id,
            self.checkpoints.0,
            self.checkpoints.1,
            started.elapsed().as_secs_f64()
        );
        Ok(measured(tested))
    }
}

/// The finite metrics of `tested` by name, and why the others are missing. A measure
/// undefined for a run (the AUROC of a test split without anomalies, the PSNR of a perfect
/// reconstruction) is not a metric: JSON has no NaN or infinity, and `result.json` must parse.
pub(crate) fn measured(tested: TestMetrics) -> Measured {
    let mut measured = Measured {
        metrics: BTreeMap::new(),
        not_measured: (tested.not_measured.into_iter())
            .map(|(name, why)| (name.to_string(), why))
            .collect(),
    };
    for (name, value) in tested.metrics {
        if value.is_finite() {
            measured.metrics.insert(name.to_string(), value);
        } else {
            let why = format!("undefined for this run (the computation gives {value})");
            measured.not_measured.insert(name.to_string(), why);
        }
    }
    measured
}

/// The fraction of training done at `step` (0-based) of `epoch` (1-based), in epochs.
pub(crate) fn epochs_done(epoch: usize, step: usize, steps_per_epoch: usize) -> f64 {
    (epoch - 1) as f64 + step as f64 / steps_per_epoch as f64
}

/// The shuffling seed of one epoch, decorrelated from the run seed and the other epochs.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Whether `metrics.jsonl` at `path` holds a record of every epoch `checkpoint` ended, and
/// keeps only those: the records of epochs ended after it was written are dropped, since the
/// resumed run records them again. A file with fewer records sets the checkpoint aside.
fn kept_records(path: &Path, checkpoint: &Checkpoint) -> bool {
    let epochs = checkpoint.state.epochs_run;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let records: Vec<&str> = text.lines().take(epochs).collect();
    if records.len() < epochs {
        eprintln!(
            "{} has {} epoch records, the checkpoint {epochs}: training from the start",
            path.display(),
            records.len()
        );
        return false;
    }
    let kept: String = records.iter().map(|line| format!("{line}\n")).collect();
    kept == text || write_atomic(path, kept.as_bytes()).is_ok()
}
