//! The result contract: what a finished run leaves in `result.json` and `metrics.jsonl`.
//!
//! Workers write these files, the orchestrator reads them to decide what is finished, and the
//! report and users' scripts read them to compare runs; the field and metric names are
//! therefore part of hourglass's interface and only grow.
//!
//! `result.json` has one reader, [`read`], and one writer, [`write`]; nothing else parses or
//! writes the file. Its `format_version` (absent in the files of the first version, which
//! count as version 1) says how to read it. A change that old readers could not read bumps it;
//! adding a field or a metric does not. The reader is lenient about what it does not use: the
//! run's configuration is kept as written ([`RecordedConfig`]), so results outlive renamed and
//! removed settings, and unknown fields are ignored; it is strict about the values it hands on
//! (status, metrics, `model.kind`, `model.latent`).
//!
//! # Protocol: who writes a run's result
//!
//! A run's result is written once, by whichever of two processes gets there first:
//!
//! - the **worker** that trains the run writes it when the run ends (completed or failed);
//! - the **orchestrator** writes it when it prunes the run (ASHA), and for a worker that
//!   died, timed out or could not start without writing one.
//!
//! [`write`] publishes with [`write_once`] (a hard link, which never replaces a file), so the
//! first writer wins and the later one learns it lost ([`Recorded::Lost`], with the result
//! that stands). This is also how the orchestrator stops one run of a pack: the worker of a
//! pack polls its runs' folders ([`is_recorded`], at most every few hundred milliseconds, as
//! on a cluster's file system each look is a call to the server) and drops a run whose result
//! appeared. The race where a run completes in the instant it is pruned therefore has one
//! outcome: the result written first stands, whole, and the other writer reports the run as
//! that result says. A lone run's worker is killed (or its Slurm task cancelled) after its
//! pruned result is written; a worker also polls that its orchestrator is alive before it
//! writes, so a sweep resumed after a kill never races a leftover worker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{ModelKind, RunConfig, RunId};

/// The `format_version` that [`write`] writes and the newest that [`read`] reads.
pub const FORMAT_VERSION: u32 = 1;

/// File name of a run's final record; its presence marks the run as done.
pub const RESULT_FILE: &str = "result.json";
/// File name of a run's per-epoch metrics, one JSON object per line.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// File name of the codes of a run's first test examples, one row each: `label,z0,z1,...`
/// (a VAE's μ), for latent-space inspection.
pub const CODES_FILE: &str = "codes.csv";
/// Anomaly task: the ROC curve of the test scores, `false_positive_rate,true_positive_rate`.
pub const ROC_FILE: &str = "roc.csv";
/// Anomaly task: the ROC curves of the classical detectors scored beside the autoencoder,
/// `detector,false_positive_rate,true_positive_rate` (`detector` is `pca`, `iforest` or
/// `knn`).
pub const BASELINE_ROC_FILE: &str = "baselines_roc.csv";
/// Latent task: each code dimension's mean and variance over the test split,
/// `dimension,mean,variance`.
pub const LATENT_FILE: &str = "latent.csv";
/// File name of a run's effective configuration, as the worker reads it.
pub const CONFIG_FILE: &str = "config.toml";

/// Names of the metrics a run can report in `result.json`.
pub mod metric {
    /// Mean squared error per element of the test reconstructions (a VAE's from μ).
    pub const TEST_MSE: &str = "test_mse";
    /// PSNR of the test reconstructions, peak 1.
    pub const TEST_PSNR_DB: &str = "test_psnr_db";
    /// The objective's reconstruction term on test (a VAE's negative ELBO).
    pub const TEST_LOSS: &str = "test_loss";
    /// Seconds of training, validation included.
    pub const TRAIN_SECONDS: &str = "train_seconds";
    /// Training examples per second of optimisation steps.
    pub const SAMPLES_PER_SECOND: &str = "samples_per_second";
    /// Epochs trained.
    pub const EPOCHS_RUN: &str = "epochs_run";
    /// Trainable parameters.
    pub const PARAMETERS: &str = "parameters";
    /// Mean code value over test examples and units (a VAE's μ).
    pub const MEAN_CODE_ACTIVATION: &str = "mean_code_activation";
    /// `Σ_j KL(ρ ‖ ρ̂_j)` of the units' mean test activations, for sigmoid codes.
    pub const SPARSITY_KL: &str = "sparsity_kl";
    /// `√ mean over test of ‖J_f(x)‖²_F`, the encoder's Jacobian; every kind.
    pub const JACOBIAN_FROBENIUS: &str = "jacobian_frobenius";
    /// With `[noise]`: PSNR of the reconstructions of noisy test inputs against the clean
    /// ones, minus the PSNR of the noisy inputs.
    pub const DENOISE_PSNR_GAIN_DB: &str = "denoise_psnr_gain_db";
    /// Compression: bits of one example's code stored as float32; a VQ-VAE's, the bits its
    /// packed entry indices take, `positions · ⌈log2 size⌉`.
    pub const CODE_BITS: &str = "code_bits";
    /// Compression: bytes per example of the stored code: one per dimension at 8 bits, a
    /// VQ-VAE's `code_bits / 8`.
    pub const CODE_BYTES: &str = "code_bytes";
    /// Compression: bits of the raw example at 8 bits per value over bits of its stored code.
    pub const COMPRESSION_RATIO: &str = "compression_ratio";
    /// Compression: PSNR of reconstructions decoded from codes quantised uniformly to 8 bits
    /// per dimension (ranges from the training codes); a VQ-VAE's, decoded from its packed
    /// entry indices.
    pub const QUANTIZED_PSNR_DB: &str = "quantized_psnr_db";
    /// Compression, VQ-VAE: `exp` of the entropy of the test codes' entry frequencies, the
    /// number of entries in effective use (at most the codebook's size).
    pub const CODEBOOK_PERPLEXITY: &str = "codebook_perplexity";
    /// Compression baseline: PSNR of PCA with as many components as the code, coefficients
    /// quantised to 8 bits.
    pub const PCA_PSNR_DB: &str = "pca_psnr_db";
    /// Compression baseline: PSNR of JPEG at the quality whose entropy-coded bytes per image
    /// come nearest the code's bytes without exceeding them (absent when even quality 1 needs
    /// more); single-channel images only.
    pub const JPEG_PSNR_DB: &str = "jpeg_psnr_db";
    /// Compression baseline: mean entropy-coded bytes per image of that JPEG (headers, shared
    /// by every image, left out).
    pub const JPEG_BYTES: &str = "jpeg_bytes";
    /// Compression baseline: that JPEG's quality setting.
    pub const JPEG_QUALITY: &str = "jpeg_quality";
    /// Denoising: PSNR of the corrupted test inputs against the clean ones.
    pub const NOISY_PSNR_DB: &str = "noisy_psnr_db";
    /// Denoising: PSNR of the reconstructions of corrupted test inputs against the clean ones.
    pub const DENOISE_PSNR_DB: &str = "denoise_psnr_db";
    /// Denoising: mean SSIM of the corrupted test images against the clean ones.
    pub const NOISY_SSIM: &str = "noisy_ssim";
    /// Denoising: mean SSIM of the reconstructions of corrupted test images.
    pub const DENOISE_SSIM: &str = "denoise_ssim";
    /// Anomaly: area under the ROC curve of the test scores.
    pub const ANOMALY_AUROC: &str = "anomaly_auroc";
    /// Anomaly: area under the precision–recall curve (average precision).
    pub const ANOMALY_AUPRC: &str = "anomaly_auprc";
    /// Anomaly: rank of the highest-scored anomaly among all test examples, as a percentage
    /// of them (1 means it is in the top 1 %).
    pub const ANOMALY_TOP_RANK_PERCENT: &str = "anomaly_top_rank_percent";
    /// Anomaly baseline: AUROC of the squared residual of a PCA with as many components as
    /// the code (at most one fewer than the features), fitted on the normal training examples.
    pub const PCA_AUROC: &str = "pca_auroc";
    /// Anomaly baseline: that PCA residual's average precision.
    pub const PCA_AUPRC: &str = "pca_auprc";
    /// Anomaly baseline: AUROC of an Isolation Forest (100 trees of 256 examples) grown on
    /// the normal training examples.
    pub const IFOREST_AUROC: &str = "iforest_auroc";
    /// Anomaly baseline: that Isolation Forest's average precision.
    pub const IFOREST_AUPRC: &str = "iforest_auprc";
    /// Anomaly baseline: AUROC of the distance to the 5th nearest normal training example.
    pub const KNN_AUROC: &str = "knn_auroc";
    /// Anomaly baseline: that distance's average precision.
    pub const KNN_AUPRC: &str = "knn_auprc";
    /// Latent: test accuracy of a multinomial logistic regression trained on the training
    /// codes.
    pub const PROBE_ACCURACY: &str = "probe_accuracy";
    /// VAE: negative ELBO per test example in nats (one sample of the code); IWAE: the
    /// same from its K codes' mean reconstruction term.
    pub const TEST_ELBO_NATS: &str = "test_elbo_nats";
    /// IWAE: the negative K-sample importance-weighted bound per test example in nats, the
    /// objective it trains (`model.samples` codes).
    pub const TEST_IWAE_BOUND_NATS: &str = "test_iwae_bound_nats";
    /// Likelihood task: a VAE's test negative log-likelihood per example in nats, estimated by
    /// importance sampling from its encoder (`evaluate.importance_samples` per example).
    pub const TEST_NLL_NATS: &str = "test_nll_nats";
    /// Likelihood task: the standard error of `test_nll_nats` over the test examples.
    pub const TEST_NLL_SE_NATS: &str = "test_nll_se_nats";
    /// VAE: KL term per test example in nats.
    pub const TEST_KL_NATS: &str = "test_kl_nats";
    /// VAE: code units whose posterior mean varies over the test set (variance > 0.01).
    pub const ACTIVE_UNITS: &str = "active_units";
}

/// One of the classical detectors the anomaly task scores beside the autoencoder, as results
/// and `baselines_roc.csv` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnomalyBaseline {
    /// Its name in `baselines_roc.csv`.
    pub name: &'static str,
    /// The metric of its AUROC.
    pub auroc: &'static str,
    /// The metric of its average precision.
    pub auprc: &'static str,
    /// What reports call it.
    pub label: &'static str,
}

/// The anomaly task's classical detectors, in the order reports list them.
pub const ANOMALY_BASELINES: [AnomalyBaseline; 3] = [
    AnomalyBaseline {
        name: "pca",
        auroc: metric::PCA_AUROC,
        auprc: metric::PCA_AUPRC,
        label: "PCA residual",
    },
    AnomalyBaseline {
        name: "iforest",
        auroc: metric::IFOREST_AUROC,
        auprc: metric::IFOREST_AUPRC,
        label: "Isolation Forest",
    },
    AnomalyBaseline {
        name: "knn",
        auroc: metric::KNN_AUROC,
        auprc: metric::KNN_AUPRC,
        label: "kNN distance",
    },
];

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Trained and evaluated.
    Completed,
    /// Stopped by an error; `error` says which.
    Failed,
    /// Stopped by the sweep's pruning after `epochs_run` epochs, as less promising than others.
    Pruned,
}

impl RunStatus {
    /// The status as `result.json` spells it.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Pruned => "pruned",
        }
    }
}

/// The content of `result.json`; read with [`read`], written with [`write`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run's id.
    pub id: RunId,
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed, for failed runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The effective configuration, as recorded.
    pub config: RecordedConfig,
    /// Final metrics by name: `test_mse`, `test_psnr_db`, `test_loss`, `train_seconds`,
    /// `samples_per_second`, `epochs_run`, ...
    pub metrics: BTreeMap<String, f64>,
    /// Why a metric that the run's tasks give was not measured, by metric name (the latent
    /// task's `probe_accuracy` on data with one class, an AUROC that is undefined).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub not_measured: BTreeMap<String, String>,
}

/// What a run measured: its final metrics, and why a metric its tasks give is missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    /// Final metrics by name.
    pub metrics: BTreeMap<String, f64>,
    /// Why a metric was not measured, by metric name.
    pub not_measured: BTreeMap<String, String>,
}

impl RunResult {
    /// Adds what was `measured` later (tasks evaluated on the saved model): its metrics
    /// replace these, and a metric measured now is no longer missing.
    pub fn add(&mut self, measured: Measured) {
        self.not_measured.extend(measured.not_measured);
        for (name, value) in measured.metrics {
            self.not_measured.remove(&name);
            self.metrics.insert(name, value);
        }
    }
}

/// A run's configuration as its result records it: every key as it was written, known to this
/// version of hourglass or not, so that a result still reads after a setting is renamed or
/// removed (a [`RunConfig`] refuses unknown keys). The values readers rely on are checked when
/// the result is read: `model.kind` (a name) and `model.latent` (a whole number).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Map<String, Value>")]
pub struct RecordedConfig {
    keys: Map<String, Value>,
    kind: String,
    latent: usize,
}

impl RecordedConfig {
    /// The model kind's name (`vanilla`, `vae`, ...; a kind that this version no longer knows
    /// keeps its name).
    pub fn model_kind(&self) -> &str {
        &self.kind
    }

    /// Whether the run's code is a Gaussian sample (a VAE or an IWAE).
    pub fn is_variational(&self) -> bool {
        [ModelKind::Vae, ModelKind::Iwae]
            .iter()
            .any(|kind| kind.name() == self.kind)
    }

    /// The code size, `model.latent`.
    pub fn latent(&self) -> usize {
        self.latent
    }

    /// The evaluation tasks the run has been evaluated for, by name: `evaluate.tasks` (the
    /// default, reconstruction alone, when it is not recorded).
    pub fn tasks(&self) -> Vec<String> {
        match self.keys.get("evaluate").and_then(|e| e.get("tasks")) {
            Some(Value::Array(tasks)) => (tasks.iter())
                .filter_map(|task| task.as_str().map(str::to_string))
                .collect(),
            _ => vec!["reconstruction".to_string()],
        }
    }

    /// This configuration with `tasks` added to its evaluation tasks.
    pub fn with_tasks(&self, tasks: &[String]) -> Self {
        let mut all = self.tasks();
        for task in tasks {
            if !all.contains(task) {
                all.push(task.clone());
            }
        }
        let mut keys = self.keys.clone();
        let evaluate = keys
            .entry("evaluate")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(evaluate) = evaluate {
            evaluate.insert("tasks".into(), all.into());
        }
        Self {
            keys,
            ..self.clone()
        }
    }

    /// Every setting by its dotted key as sweeps name them (`model.latent`, `train.epochs`);
    /// tables and lists are values of their key.
    pub fn settings(&self) -> BTreeMap<String, Value> {
        fn walk(prefix: &str, keys: &Map<String, Value>, out: &mut BTreeMap<String, Value>) {
            for (key, value) in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match value {
                    Value::Object(table) => walk(&path, table, out),
                    other => {
                        out.insert(path, other.clone());
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        walk("", &self.keys, &mut out);
        out
    }
}

impl From<&RunConfig> for RecordedConfig {
    fn from(config: &RunConfig) -> Self {
        let keys = match serde_json::to_value(config) {
            Ok(Value::Object(keys)) => keys,
            _ => unreachable!("a run config serializes to a JSON object"),
        };
        Self {
            keys,
            kind: config.model.kind.name().to_string(),
            latent: config.model.latent,
        }
    }
}

impl TryFrom<Map<String, Value>> for RecordedConfig {
    type Error = String;

    fn try_from(keys: Map<String, Value>) -> Result<Self, String> {
        let model = keys.get("model");
        let value = |key: &str| model.and_then(|model| model.get(key));
        let kind = value("kind")
            .and_then(Value::as_str)
            .ok_or("config.model.kind is not a model kind's name")?
            .to_string();
        let latent = value("latent")
            .and_then(Value::as_u64)
            .and_then(|latent| usize::try_from(latent).ok())
            .ok_or("config.model.latent is not a whole number")?;
        Ok(Self { keys, kind, latent })
    }
}

impl Serialize for RecordedConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.keys.serialize(serializer)
    }
}

/// What went wrong with a run's `result.json`.
#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    /// The file could not be read or written.
    #[error("cannot {what} {}: {source}", path.display())]
    Io {
        /// `read` or `write`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a result (not JSON, a field missing or of the wrong type).
    #[error("invalid result {}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A newer hourglass wrote the file in a format this one cannot read.
    #[error(
        "result {} has format_version {found}, newer than this hourglass reads \
         ({FORMAT_VERSION}) (hint: use the hourglass that wrote it)",
        path.display()
    )]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its `format_version`.
        found: u32,
    },
}

/// How [`write`] went.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// This result is the run's.
    Written,
    /// Another process recorded the run's result first: that result stands, and here it is.
    Lost(RunResult),
}

/// The result recorded in `run_dir`: `None` while the run has none, an error when its
/// `result.json` cannot be read (corrupt, or written by a newer hourglass).
pub fn read(run_dir: &Path) -> Result<Option<RunResult>, ResultError> {
    let path = run_dir.join(RESULT_FILE);
    let Some(text) = read_if_present(&path)? else {
        return Ok(None);
    };
    /// The field that says how to read the rest.
    #[derive(Deserialize)]
    struct Header {
        format_version: Option<u32>,
    }
    let invalid = |e: serde_json::Error| ResultError::Invalid {
        path: path.clone(),
        message: e.to_string(),
    };
    let header: Header = serde_json::from_str(&text).map_err(invalid)?;
    // Absent in the files of version 1, written before the field existed. A version 2 reader
    // would read version 1 files here into its own shape.
    match header.format_version.unwrap_or(1) {
        1 => serde_json::from_str(&text).map(Some).map_err(invalid),
        found if found > FORMAT_VERSION => Err(ResultError::Newer { path, found }),
        found => Err(ResultError::Invalid {
            message: format!("there is no format_version {found}"),
            path,
        }),
    }
}

/// The text of the file at `path`; `None` when there is none.
pub(crate) fn read_if_present(path: &Path) -> Result<Option<String>, ResultError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ResultError::Io {
            what: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Records `result` as the result of the run in `run_dir`, unless another process recorded
/// one first (see the protocol in this module's documentation). The file is written whole,
/// with its `format_version`, and published atomically. A file there that is not a result
/// (unreadable as one) is replaced.
pub fn write(run_dir: &Path, result: &RunResult) -> Result<Recorded, ResultError> {
    let path = run_dir.join(RESULT_FILE);
    let json = versioned_json(result);
    let failed = |source| ResultError::Io {
        what: "write",
        path: path.clone(),
        source,
    };
    if write_once(&path, &json).map_err(failed)? {
        return Ok(Recorded::Written);
    }
    match read(run_dir) {
        Ok(Some(first)) => Ok(Recorded::Lost(first)),
        // Not a run's result (or gone meanwhile): replaced, as an unfinished run's would be.
        Ok(None) | Err(ResultError::Invalid { .. }) => {
            write_atomic(&path, &json).map_err(failed)?;
            Ok(Recorded::Written)
        }
        Err(e) => Err(e),
    }
}

/// Replaces the completed result in `run_dir` by `result`, the same run with more metrics
/// (tasks evaluated on its saved model) or its folder's new id, atomically. Only the process
/// that holds the sweep amends, and only a completed run, whose result no worker or
/// orchestrator writes any more.
pub fn amend(run_dir: &Path, result: &RunResult) -> Result<(), ResultError> {
    let path = run_dir.join(RESULT_FILE);
    write_atomic(&path, &versioned_json(result)).map_err(|source| ResultError::Io {
        what: "write",
        path,
        source,
    })
}

/// `result.json` as written: the version first, then the result's fields.
fn versioned_json(result: &RunResult) -> Vec<u8> {
    #[derive(Serialize)]
    struct Versioned<'a> {
        format_version: u32,
        #[serde(flatten)]
        result: &'a RunResult,
    }
    serde_json::to_vec_pretty(&Versioned {
        format_version: FORMAT_VERSION,
        result,
    })
    .expect("results serialize to JSON")
}

/// Whether the run in `run_dir` has a result: how the worker of a pack learns that the
/// orchestrator pruned one of its runs (a look at the folder, not a read of the file).
pub fn is_recorded(run_dir: &Path) -> bool {
    run_dir.join(RESULT_FILE).exists()
}

/// One line of `metrics.jsonl`: the state after an epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training objective over the epoch's steps.
    pub train_loss: f64,
    /// Training objective on the validation split, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// Mean squared error per input element on the validation split, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_mse: Option<f64>,
    /// Seconds since training started.
    pub seconds: f64,
}

/// The epoch records of the `metrics.jsonl` at `path` (none when it is missing); a line that
/// does not parse (the half-written last one of a killed run, say) ends the list.
pub fn read_epochs(path: &std::path::Path) -> Vec<EpochRecord> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map_while(|line| serde_json::from_str(line).ok())
        .collect()
}

/// A metric recorded every epoch, lower is better; what pruning compares runs by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EpochMetric {
    /// [`EpochRecord::train_loss`].
    TrainLoss,
    /// [`EpochRecord::val_loss`].
    #[default]
    ValLoss,
    /// [`EpochRecord::val_mse`].
    ValMse,
}

impl EpochMetric {
    /// The metric's name in `metrics.jsonl`.
    pub fn name(self) -> &'static str {
        match self {
            EpochMetric::TrainLoss => "train_loss",
            EpochMetric::ValLoss => "val_loss",
            EpochMetric::ValMse => "val_mse",
        }
    }

    /// Whether it needs a validation split.
    pub fn needs_validation(self) -> bool {
        self != EpochMetric::TrainLoss
    }

    /// Its value in `record`, when recorded.
    pub fn of(self, record: &EpochRecord) -> Option<f64> {
        match self {
            EpochMetric::TrainLoss => Some(record.train_loss),
            EpochMetric::ValLoss => record.val_loss,
            EpochMetric::ValMse => record.val_mse,
        }
    }
}

/// What [`write_atomic`] and [`write_once`] put in the names of their temporary files,
/// `.<file>.tmp-<pid>-<nanoseconds>`.
const TEMPORARY_MARK: &str = ".tmp-";

/// Whether `file_name` is a temporary file of [`write_atomic`] or [`write_once`]: what a
/// process killed in the middle of a write leaves behind, safe to delete before the write is
/// done again.
pub fn is_temporary(file_name: &str) -> bool {
    file_name.starts_with('.') && file_name.contains(TEMPORARY_MARK)
}

/// Writes `bytes` to `path` so that readers see the old content or the new, never a part:
/// write a temporary file beside it, fsync it, rename it over `path`, fsync the folder.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    write_through_temporary(path, bytes, |temporary| {
        std::fs::rename(temporary, path).map(|()| true)
    })
    .map(|_| ())
}

/// Writes `bytes` to `path` atomically, as [`write_atomic`] does, unless `path` exists:
/// `Ok(false)` then, and `path` is left as it is. Of several processes writing the same file
/// this way, the first wins and the others learn that they lost (a run's result, which the
/// worker that trains it and the orchestrator that prunes it may both write).
pub fn write_once(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<bool> {
    write_through_temporary(path, bytes, |temporary| {
        // A hard link, unlike a rename, never replaces its target. Once linked, the file is
        // published: a temporary left behind is a leftover that `is_temporary` names.
        let linked = std::fs::hard_link(temporary, path);
        let removed = std::fs::remove_file(temporary);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => removed.map(|()| false),
            Err(e) => Err(e),
        }
    })
}

/// Writes and fsyncs `bytes` in a temporary file beside `path`, hands it to `publish`, which
/// puts it in place, and fsyncs the folder; the temporary file is removed on failure.
fn write_through_temporary(
    path: &std::path::Path,
    bytes: &[u8],
    publish: impl FnOnce(&std::path::Path) -> std::io::Result<bool>,
) -> std::io::Result<bool> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    // Unique across processes that share the folder, even on different hosts of a cluster
    // (an orchestrator and a Slurm task may write one run's result): pid and clock.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let temporary = dir.join(format!(
        ".{name}{TEMPORARY_MARK}{}-{nanos}",
        std::process::id()
    ));
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        let published = publish(&temporary)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(published)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests;
