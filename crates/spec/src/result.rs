//! The result contract: what a finished run leaves in `result.json` and `metrics.jsonl`.
//!
//! Workers write these files, the orchestrator reads them to decide what is finished, and the
//! report and users' scripts read them to compare runs; the field and metric names are
//! therefore part of hourglass's interface and only grow.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{RunConfig, RunId};

/// File name of a run's final record; its presence marks the run as done.
pub const RESULT_FILE: &str = "result.json";
/// File name of a run's per-epoch metrics, one JSON object per line.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// File name of the codes of a run's first test examples, one row each: `label,z0,z1,...`
/// (a VAE's μ), for latent-space inspection.
pub const CODES_FILE: &str = "codes.csv";
/// Anomaly task: the ROC curve of the test scores, `false_positive_rate,true_positive_rate`.
pub const ROC_FILE: &str = "roc.csv";
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
    /// Compression: bits of one example's code stored as float32.
    pub const CODE_BITS: &str = "code_bits";
    /// Compression: bits of the raw example at 8 bits per value over bits of its code at 8
    /// bits per dimension.
    pub const COMPRESSION_RATIO: &str = "compression_ratio";
    /// Compression: PSNR of reconstructions decoded from codes quantised uniformly to 8 bits
    /// per dimension (ranges from the training codes).
    pub const QUANTIZED_PSNR_DB: &str = "quantized_psnr_db";
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
    /// Latent: test accuracy of a multinomial logistic regression trained on the training
    /// codes.
    pub const PROBE_ACCURACY: &str = "probe_accuracy";
    /// VAE: negative ELBO per test example in nats (one sample of the code).
    pub const TEST_ELBO_NATS: &str = "test_elbo_nats";
    /// VAE: KL term per test example in nats.
    pub const TEST_KL_NATS: &str = "test_kl_nats";
    /// VAE: code units whose posterior mean varies over the test set (variance > 0.01).
    pub const ACTIVE_UNITS: &str = "active_units";
}

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

/// The content of `result.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// The run's id.
    pub id: RunId,
    /// How it ended.
    pub status: RunStatus,
    /// Why it failed, for failed runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The effective configuration.
    pub config: RunConfig,
    /// Final metrics by name: `test_mse`, `test_psnr_db`, `test_loss`, `train_seconds`,
    /// `samples_per_second`, `epochs_run`, ...
    pub metrics: BTreeMap<String, f64>,
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
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("result.json")]);
    }

    #[test]
    fn failed_atomic_write_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        write_atomic(&path, b"kept").unwrap();
        // A folder where the file would go makes the rename fail.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"").unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"kept");
    }

    #[test]
    fn the_first_write_once_wins_and_the_later_ones_leave_the_file_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        assert!(write_once(&path, b"first").unwrap());
        assert!(!write_once(&path, b"second").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("result.json")]);
    }
}
