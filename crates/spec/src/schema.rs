//! The serde types of an experiment spec: one struct per TOML section, unknown keys refused.
//!
//! The same section types make up a [`RunConfig`], the effective configuration of one run that
//! the orchestrator writes to `config.toml` and a worker reads back. Defaults are explicit
//! functions so that `experiments/reference.toml` can state them and a test can hold them to it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::result::EpochMetric;

/// A whole spec file as written, before sweep expansion and semantic checks.
///
/// The run sections are deserialized here for their type errors and spans only; runs are
/// built from the TOML table instead, so that swept values take the same path as written ones.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[expect(
    dead_code,
    reason = "run sections are parsed for their errors; runs come from the table"
)]
pub(crate) struct SpecFile {
    pub experiment: ExperimentSection,
    pub data: DataSection,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub loss: LossSection,
    #[serde(default)]
    pub regularizers: RegularizersSection,
    pub noise: Option<NoiseSection>,
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default)]
    pub evaluate: EvaluateSection,
    #[serde(default)]
    pub sweep: SweepSection,
    #[serde(default)]
    pub resources: ResourcesSection,
    #[serde(default)]
    pub report: ReportSection,
}

/// `[report]`: how the sweep's report ranks its runs; not part of any run's configuration.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReportSection {
    /// The final metric that names the best run, orders the tables and is plotted against
    /// each swept setting, e.g. `"denoise_ssim"`; its direction is known. When absent:
    /// `anomaly_auroc` with the anomaly task, else `denoise_psnr_db` with denoising, else
    /// `test_mse`.
    pub metric: Option<String>,
}

/// `[resources]`: how the sweep's runs are executed; not part of any run's configuration.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourcesSection {
    /// Worker processes at once.
    #[schemars(with = "Option<usize>")]
    pub workers: Option<Spanned<usize>>,
    /// Compute threads of each worker (`RAYON_NUM_THREADS`, `OMP_NUM_THREADS`).
    #[schemars(with = "Option<usize>")]
    pub threads_per_worker: Option<Spanned<usize>>,
    /// Longest a run may take, e.g. `"90s"`, `"30m"`, `"2h"` (a pack of K runs, K times that):
    /// more than 0s, at most `"8760h"` (a year).
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Restarts of a run whose worker died or timed out without recording a result.
    #[serde(default)]
    pub retries: u32,
    /// Runs trained together by one worker as one packed model, at most: runs of the same
    /// data, shapes, loss, optimizer, batch size, epochs and backend (MLP, not contractive).
    /// Default 1: every run alone.
    #[schemars(with = "Option<usize>")]
    pub pack: Option<Spanned<usize>>,
    /// `[[resources.slots]]`: devices and their backends; by default the CPU with `workers`.
    pub slots: Option<Vec<SlotSection>>,
    /// Where the workers run: `local` processes (default) or tasks of a Slurm job array.
    #[schemars(with = "Option<ExecutorKind>")]
    pub executor: Option<Spanned<ExecutorKind>>,
    /// `[resources.slurm]`: how runs are submitted to Slurm (with `executor = "slurm"`).
    pub slurm: Option<SlurmSection>,
}

/// Where a sweep's workers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ExecutorKind {
    /// Worker processes on this machine, as many at once as the slots have workers.
    #[default]
    Local,
    /// One Slurm job array per submission, a task per run (`sbatch --array`); the nodes must
    /// share the reports and data set folders with this machine.
    Slurm,
}

/// `[resources.slurm]`: the sbatch options of the sweep's job arrays.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlurmSection {
    /// Partition (`--partition`); the cluster's default when absent.
    #[schemars(with = "Option<String>")]
    pub partition: Option<Spanned<String>>,
    /// Wall-time limit of each array task, e.g. `"30m"`, `"2h"` (`--time`, in whole
    /// minutes): of one run, or of a whole pack with `resources.pack`; more than 0s, at most
    /// `"8760h"` (a year).
    #[schemars(with = "Option<String>")]
    pub time_limit: Option<Spanned<String>>,
    /// CPUs of each array task, one run or a pack (`--cpus-per-task`), also its compute
    /// threads.
    #[schemars(with = "Option<usize>")]
    pub cpus_per_task: Option<Spanned<usize>>,
    /// GPUs of each array task (`--gpus-per-task`); runs then train on `cuda:0`, the task's
    /// GPU.
    #[schemars(with = "Option<usize>")]
    pub gpus_per_task: Option<Spanned<usize>>,
    /// Memory of each array task, one run or a pack, e.g. `"8G"` (`--mem`).
    #[schemars(with = "Option<String>")]
    pub mem: Option<Spanned<String>>,
    /// Array tasks (runs, or packs) of the sweep at once (`--array=...%N`); the cluster's
    /// limits when absent.
    #[schemars(with = "Option<usize>")]
    pub array_parallelism: Option<Spanned<usize>>,
    /// How long before `time_limit` a task is told to stop, e.g. `"2m"`; `"90s"` when absent,
    /// or half of a time limit under 3 minutes.
    /// Slurm sends the worker SIGUSR1 then (`--signal=B:USR1@SECONDS`; up to a minute early,
    /// and slurmctld looks for tasks to signal about every 30 s: a shorter grace can be missed);
    /// the worker checkpoints its runs, requeues its task (`--requeue`) and exits, and the
    /// requeued task resumes them, so a run longer than the partition's limit finishes over
    /// several tasks. Shorter than `time_limit`, at most `"65535s"`.
    #[schemars(with = "Option<String>")]
    pub signal_grace: Option<Spanned<String>>,
    /// Further sbatch options, one argument each, e.g. `["--account=lab", "--qos=short"]`.
    #[schemars(with = "Option<Vec<String>>")]
    pub extra_args: Option<Spanned<Vec<String>>>,
}

/// `[[resources.slots]]`: a device, the backends runs may use on it, and its workers.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SlotSection {
    /// `"cpu"`, `"cuda:N"` or `"gpu:N"`.
    #[schemars(with = "String")]
    pub device: Spanned<String>,
    /// Backends offered on the device.
    #[schemars(with = "Vec<Backend>")]
    pub backends: Spanned<Vec<Backend>>,
    /// Worker processes on the device at once (default 1).
    #[schemars(with = "Option<usize>")]
    pub workers: Option<Spanned<usize>>,
}

/// `[sweep.pruning]`: asynchronous successive halving across the sweep's runs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PruningSection {
    /// The per-epoch metric compared (default `val_loss`).
    #[serde(default)]
    pub metric: EpochMetric,
    /// Epochs before the first rung (default 1).
    #[schemars(with = "Option<usize>")]
    pub grace_epochs: Option<Spanned<usize>>,
    /// η, each rung keeps 1/η of the runs (default 3).
    #[schemars(with = "Option<usize>")]
    pub reduction_factor: Option<Spanned<usize>>,
}

/// `[experiment]`: what the sweep is called and how runs are seeded.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExperimentSection {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "defaults::seed")]
    pub seed: u64,
    #[serde(default = "defaults::repeats")]
    pub repeats: u32,
}

/// `[data]`: which data set and how it is split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// Name of a folder under `datasets/` holding a `dataset.toml`.
    pub dataset: String,
    /// Fraction of the training split held out for validation, in `[0, 1)`.
    #[serde(default = "defaults::validation")]
    pub validation: f64,
    /// Use only the first N training examples (after the seeded shuffle); for quick runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Use only the first N test examples; for quick runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
    /// The anomaly task's normal class: training and validation keep only examples of this
    /// label, and every other label of the test split is an anomaly (one-class MNIST). Without
    /// it, the data set's `anomaly_label` decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normal_class: Option<u8>,
    /// Make image inputs binary, drawing each pixel as 1 with its grey level as the
    /// probability: the binarised MNIST of the likelihood literature (IWAE, pythae). Image
    /// data sets whose values are grey levels in [0, 1] only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binarize: Option<Binarize>,
}

/// How `data.binarize` makes image inputs binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Binarize {
    /// Every split drawn once, with one fixed seed for every run and every sweep: the
    /// standard statically binarised data set.
    Static,
    /// Training examples drawn again at every step from their grey levels; validation and
    /// test drawn once, as `static` draws them.
    Dynamic,
}

/// `[model]`: the autoencoder's kind and shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Which autoencoder.
    #[serde(default)]
    pub kind: ModelKind,
    /// Further kinds whose training this run combines with `kind`'s (`"sparse"`,
    /// `"denoising"`, `"contractive"`): a sparse denoising autoencoder is
    /// `kind = "sparse"`, `also = ["denoising"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<ModelKind>,
    /// Encoder and decoder family.
    #[serde(default)]
    pub architecture: Architecture,
    /// Convolution channels of the conv architecture, input side first; each convolution
    /// halves the height and width. Dropped for MLPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<usize>>,
    /// Widths of the encoder's fully connected hidden layers, input side first (for conv,
    /// after the flattened feature maps); the decoder mirrors them.
    #[serde(default = "defaults::hidden")]
    pub hidden: Vec<usize>,
    /// Size of the code: its dimensions, or a VQ-VAE's code positions (each one codebook
    /// entry).
    #[serde(default = "defaults::latent")]
    pub latent: usize,
    /// Activation after every hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// Activation of the code layer; dropped for VAEs and IWAEs, whose code is a Gaussian
    /// sample, and for VQ-VAEs, whose code is a codebook entry.
    #[serde(default, skip_serializing_if = "CodeActivation::is_identity")]
    pub code_activation: CodeActivation,
    /// Activation of the decoder's last layer.
    #[serde(default)]
    pub output: OutputActivation,
    /// An IWAE's importance samples per example, K, in its training bound and validation
    /// loss: 1 to 5000, default 5 (K = 1 is the VAE's ELBO). Dropped for the other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// A VQ-VAE's codebook (defaults filled in for `kind = "vqvae"`); dropped for the other
    /// kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codebook: Option<Codebook>,
}

impl ModelSection {
    /// The primary kind and every kind in `also`.
    pub fn kinds(&self) -> impl Iterator<Item = ModelKind> + '_ {
        std::iter::once(self.kind).chain(self.also.iter().copied())
    }

    /// Whether this run trains as `kind`, as its primary kind or through `also`.
    pub fn is(&self, kind: ModelKind) -> bool {
        self.kinds().any(|k| k == kind)
    }

    /// An IWAE's importance samples per example: the configured number or the default.
    pub fn iwae_samples(&self) -> usize {
        self.samples.unwrap_or_else(defaults::samples)
    }

    /// A VQ-VAE's codebook: the configured one or the default.
    pub fn vq_codebook(&self) -> Codebook {
        self.codebook.clone().unwrap_or_default()
    }

    /// The convolution channels of a conv model: the configured ones or the default.
    pub fn conv_channels(&self) -> Vec<usize> {
        self.channels.clone().unwrap_or_else(defaults::channels)
    }
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            kind: ModelKind::default(),
            also: Vec::new(),
            architecture: Architecture::default(),
            channels: None,
            hidden: defaults::hidden(),
            latent: defaults::latent(),
            activation: Activation::default(),
            code_activation: CodeActivation::default(),
            output: OutputActivation::default(),
            samples: None,
            codebook: None,
        }
    }
}

/// The autoencoder kinds hourglass can train.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A plain encoder-decoder trained on reconstruction alone.
    #[default]
    Vanilla,
    /// Penalises code activity: `regularizers.activation_l1` and/or `regularizers.sparsity`.
    Sparse,
    /// Reconstructs the clean input from one corrupted as `[noise]` says.
    Denoising,
    /// Penalises the encoder's Jacobian: `regularizers.contractive`.
    Contractive,
    /// Variational: a Gaussian encoder, a sampled code and a KL term (`regularizers.kl`).
    Vae,
    /// Importance-weighted (Burda et al. 2016): a VAE's Gaussian encoder and decoder trained
    /// on the tighter bound `log (1/K) Σₖ p(x, zₖ) / q(zₖ | x)` of `model.samples` codes.
    Iwae,
    /// Vector-quantised (van den Oord et al. 2017): each of `model.latent` code positions is
    /// the nearest entry of a learned codebook (`model.codebook`), trained with
    /// straight-through gradients and a commitment loss; a code is `latent · log2(size)` bits.
    Vqvae,
}

impl ModelKind {
    /// The spec's name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Vanilla => "vanilla",
            ModelKind::Sparse => "sparse",
            ModelKind::Denoising => "denoising",
            ModelKind::Contractive => "contractive",
            ModelKind::Vae => "vae",
            ModelKind::Iwae => "iwae",
            ModelKind::Vqvae => "vqvae",
        }
    }

    /// Whether the kind's code is a Gaussian sample: the VAE and the IWAE.
    pub fn is_variational(self) -> bool {
        matches!(self, ModelKind::Vae | ModelKind::Iwae)
    }

    /// Whether the kind's code layer takes `model.code_activation`: every kind but the
    /// variational ones and the VQ-VAE, whose codes are a sample or a codebook entry.
    pub fn has_code_activation(self) -> bool {
        !(self.is_variational() || self == ModelKind::Vqvae)
    }
}

/// `model.codebook = { size = 256, dim = 8, commitment = 0.25, update = "ema", decay = 0.99 }`:
/// a VQ-VAE's codebook. The encoder emits `dim` numbers per code position, each replaced by
/// its nearest of `size` codebook entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Codebook {
    /// Entries, 2 to 65536: each code position takes `log2(size)` bits.
    #[serde(default = "defaults::codebook_size")]
    pub size: usize,
    /// Length of an entry: the encoder's outputs per code position.
    #[serde(default = "defaults::codebook_dim")]
    pub dim: usize,
    /// Weight β of the commitment loss `β ‖z_e − sg(e)‖²` that keeps the encoder's outputs
    /// near their entries (the paper's 0.25).
    #[serde(default = "defaults::commitment")]
    pub commitment: f64,
    /// How entries learn.
    #[serde(default)]
    pub update: CodebookUpdate,
    /// Decay γ of the exponential moving averages: of each entry's use (an entry whose use
    /// falls below 1/32 of an even share restarts at an encoder output) and, for
    /// `update = "ema"`, of its outputs' sum.
    #[serde(default = "defaults::codebook_decay")]
    pub decay: f64,
}

impl Default for Codebook {
    fn default() -> Self {
        Self {
            size: defaults::codebook_size(),
            dim: defaults::codebook_dim(),
            commitment: defaults::commitment(),
            update: CodebookUpdate::default(),
            decay: defaults::codebook_decay(),
        }
    }
}

impl Codebook {
    /// Bits of one code of `positions` positions: `positions · log2(size)`.
    pub fn code_bits(&self, positions: usize) -> f64 {
        positions as f64 * (self.size as f64).log2()
    }
}

/// How a VQ-VAE's codebook entries learn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodebookUpdate {
    /// By gradient, through the codebook loss `‖sg(z_e) − e‖²` (the paper's main text).
    Loss,
    /// Each entry is the moving average of the encoder outputs assigned to it (the paper's
    /// appendix; no codebook loss).
    #[default]
    Ema,
}

/// Encoder and decoder families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Fully connected layers on the flattened input.
    #[default]
    Mlp,
    /// Strided convolutions down to the code, transposed convolutions back up; image data.
    Conv,
}

/// Activations of the code layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CodeActivation {
    /// A linear code.
    #[default]
    Identity,
    /// Codes in (0, 1); needed by the KL sparsity penalty.
    Sigmoid,
    /// Codes in (-1, 1).
    Tanh,
    /// Non-negative codes.
    Relu,
}

impl CodeActivation {
    fn is_identity(&self) -> bool {
        *self == CodeActivation::Identity
    }
}

/// Hidden-layer activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, x)
    #[default]
    Relu,
    /// max(0.01 x, x)
    LeakyRelu,
    /// tanh(x)
    Tanh,
    /// 1 / (1 + e^-x)
    Sigmoid,
}

/// Output activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutputActivation {
    /// Outputs in (0, 1), for inputs scaled to [0, 1].
    #[default]
    Sigmoid,
    /// Unbounded outputs.
    Identity,
}

/// `[loss]`: the reconstruction objective.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LossSection {
    /// Per-element reconstruction loss.
    #[serde(default)]
    pub reconstruction: Reconstruction,
}

/// Reconstruction losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reconstruction {
    /// Mean squared error per element.
    #[default]
    Mse,
    /// Binary cross-entropy per element; needs outputs in (0, 1).
    Bce,
}

/// `[regularizers]`: penalties added to the reconstruction loss.
///
/// Weights are relative to the objective: the mean per-element reconstruction loss, or for a
/// VAE the negative ELBO per example in nats. Penalties that belong to a kind apply only to
/// runs of that kind (or with it in `model.also`) and are dropped from the others' configs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegularizersSection {
    /// L2 penalty on the weights, applied by the optimizer (coupled, as in PyTorch).
    #[serde(default)]
    pub weight_decay: f64,
    /// L1 penalty on the weights (not the biases): `weight_l1 · Σ|W|`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub weight_l1: f64,
    /// Sparse kind: L1 penalty on the code, `activation_l1 · mean over examples of Σ_j |h_j|`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub activation_l1: f64,
    /// Sparse kind: KL-divergence penalty pulling each code unit's mean activation toward a
    /// target (sigmoid codes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<SparsityPenalty>,
    /// Contractive kind: penalty on the encoder's Jacobian, `weight · ‖J_f(x)‖²_F`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contractive: Option<ContractivePenalty>,
    /// VAE: weight and warm-up of the KL term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl: Option<KlPenalty>,
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

/// `regularizers.sparsity = { target = 0.05, weight = 1e-3 }`: adds
/// `weight · Σ_j KL(ρ ‖ ρ̂_j)`, with ρ̂_j the batch mean of code unit j.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SparsityPenalty {
    /// Target mean activation ρ, in (0, 1).
    #[serde(default = "defaults::sparsity_target")]
    pub target: f64,
    /// Weight of the penalty.
    pub weight: f64,
}

impl SparsityPenalty {
    /// The target activation ρ when none is given.
    pub const DEFAULT_TARGET: f64 = 0.05;
}

/// `regularizers.contractive = { weight = 0.1 }`: adds `weight · ‖J_f(x)‖²_F`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractivePenalty {
    /// Weight λ of the penalty.
    pub weight: f64,
    /// Random projections per example of the estimator used for encoders deeper than one
    /// layer (a single-layer encoder gets the exact closed form).
    #[serde(default = "defaults::projections")]
    pub projections: usize,
}

/// `regularizers.kl = { beta = 1.0, warmup_epochs = 0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KlPenalty {
    /// Weight β of the KL term after warm-up (1 gives the ELBO).
    #[serde(default = "defaults::beta")]
    pub beta: f64,
    /// Epochs over which the KL weight rises linearly from 0 to β; 0 starts at β.
    #[serde(default)]
    pub warmup_epochs: f64,
}

impl Default for KlPenalty {
    fn default() -> Self {
        Self {
            beta: defaults::beta(),
            warmup_epochs: 0.0,
        }
    }
}

/// `[noise]`: an input corruption. A denoising run trains on corrupted inputs against the
/// clean ones; every run is evaluated on corrupted test inputs (`denoise_psnr_gain_db`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoiseSection {
    /// How inputs are corrupted.
    pub kind: NoiseKind,
    /// σ for gaussian; the fraction of inputs hit for masking and salt_and_pepper.
    pub level: f64,
}

/// Input corruptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// Adds N(0, σ²) to every input.
    Gaussian,
    /// Sets a random fraction of inputs to 0.
    Masking,
    /// Sets a random fraction of inputs to 0 or 1, with equal odds.
    SaltAndPepper,
}

/// `[train]`: optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Optimizer.
    #[serde(default)]
    pub optimizer: Optimizer,
    /// Step size; must be positive.
    #[serde(default = "defaults::learning_rate")]
    pub learning_rate: f64,
    /// Momentum of SGD; ignored (and dropped from the run id) for Adam.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// Examples per step.
    #[serde(default = "defaults::batch_size")]
    pub batch_size: usize,
    /// Passes over the training split (at most, with early stopping).
    #[serde(default = "defaults::epochs")]
    pub epochs: usize,
    /// Stop when the validation loss has not improved for `patience` epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<EarlyStopping>,
    /// Tensor backend that trains the run.
    #[serde(default)]
    pub backend: Backend,
    /// Longest training time between two checkpoints within an epoch, e.g. `"90s"`, `"5m"`
    /// (default `"5m"`; a checkpoint is also written after every epoch): more than 0s, at
    /// most `"8760h"` (a year). Not part of the run id: it does not change what is trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<String>,
}

impl TrainSection {
    /// `checkpoint_every` when none is written.
    pub const DEFAULT_CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(300);

    /// The longest training time between two checkpoints (`checkpoint_every`, checked by
    /// validation; its default otherwise).
    pub fn checkpoint_interval(&self) -> std::time::Duration {
        self.checkpoint_every
            .as_deref()
            .and_then(crate::resources::parse_duration)
            .and_then(Result::ok)
            .unwrap_or(Self::DEFAULT_CHECKPOINT_EVERY)
    }
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            optimizer: Optimizer::default(),
            learning_rate: defaults::learning_rate(),
            momentum: None,
            batch_size: defaults::batch_size(),
            epochs: defaults::epochs(),
            early_stopping: None,
            backend: Backend::default(),
            checkpoint_every: None,
        }
    }
}

/// `train.early_stopping = { patience = 5, min_delta = 0.0 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopping {
    /// Epochs without improvement of the validation loss before training stops.
    pub patience: usize,
    /// Smallest decrease of the validation loss that counts as an improvement.
    #[serde(default)]
    pub min_delta: f64,
}

impl EarlyStopping {
    /// Whether training should stop after the epoch whose validation losses, in order, are
    /// `history`: the best loss is `patience` or more epochs old.
    pub fn should_stop(&self, history: &[f64]) -> bool {
        let mut best = f64::INFINITY;
        let mut best_epoch = 0;
        for (epoch, &loss) in history.iter().enumerate() {
            if loss < best - self.min_delta {
                best = loss;
                best_epoch = epoch;
            }
        }
        !history.is_empty() && history.len() - 1 - best_epoch >= self.patience
    }
}

/// Optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam with β = (0.9, 0.999), ε = 1e-8.
    #[default]
    Adam,
    /// Stochastic gradient descent, with momentum when `train.momentum` is set.
    Sgd,
}

/// Tensor backends; each is compiled in by a cargo feature of the `hourglass` binary.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn's pure-Rust CPU backend, always compiled in.
    #[default]
    Flex,
    /// libtorch through burn's `tch` backend.
    Tch,
    /// CUDA through burn's CubeCL backend.
    Cuda,
    /// wgpu (Vulkan, Metal, DX12) through burn's CubeCL backend.
    Wgpu,
}

impl Backend {
    /// The spec's name of the backend.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Tch => "tch",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The cargo feature of `hourglass-cli` that compiles the backend in.
    pub fn cargo_feature(self) -> &'static str {
        self.name()
    }
}

/// `[evaluate]`: evaluation tasks run on the test split after training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSection {
    /// Tasks to run.
    #[serde(default = "defaults::tasks")]
    pub tasks: Vec<Task>,
    /// The likelihood task's importance samples per test example (default 5000, as in the
    /// IWAE paper; fewer for quick runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importance_samples: Option<usize>,
}

impl Default for EvaluateSection {
    fn default() -> Self {
        Self {
            tasks: defaults::tasks(),
            importance_samples: None,
        }
    }
}

/// Evaluation tasks. Every run reports its reconstruction metrics, the reconstruction grid and
/// the codes of the first test examples; each further task adds its own metrics and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Test-set reconstruction error: `test_mse`, `test_psnr_db`, `test_loss`.
    Reconstruction,
    /// Size against quality: `code_bits`, `compression_ratio`, `quantized_psnr_db` of 8-bit
    /// codes, and PCA and JPEG baselines at the same bytes per example.
    Compression,
    /// Noisy against denoised test inputs for `[noise]`: `noisy_psnr_db`,
    /// `denoise_psnr_db` and, for images, `noisy_ssim` and `denoise_ssim`.
    Denoising,
    /// Train on normal examples only, score the test split by reconstruction error (a VAE's
    /// negative ELBO): `anomaly_auroc`, `anomaly_auprc`, the ROC curve; beside it, classical
    /// detectors fitted on the same normal examples: `pca_auroc` (PCA residual),
    /// `iforest_auroc` (Isolation Forest), `knn_auroc` (5th-neighbour distance), and their
    /// `_auprc`.
    Anomaly,
    /// Interpolations between test examples for every kind, and samples: a VAE's from its
    /// prior, the other kinds' from a Gaussian fitted to their training codes.
    Generation,
    /// The codes' per-dimension variance and the accuracy of a linear probe trained on them
    /// (`probe_accuracy`).
    Latent,
    /// A VAE's test negative log-likelihood estimated by importance sampling from its encoder
    /// (`evaluate.importance_samples` per example): `test_nll_nats` and its standard error
    /// over the test examples, `test_nll_se_nats`.
    Likelihood,
}

impl Task {
    /// Every task.
    pub const ALL: [Task; 7] = [
        Task::Reconstruction,
        Task::Compression,
        Task::Denoising,
        Task::Anomaly,
        Task::Generation,
        Task::Latent,
        Task::Likelihood,
    ];

    /// The task's name in specs.
    pub fn name(self) -> &'static str {
        match self {
            Task::Reconstruction => "reconstruction",
            Task::Compression => "compression",
            Task::Denoising => "denoising",
            Task::Anomaly => "anomaly",
            Task::Generation => "generation",
            Task::Likelihood => "likelihood",
            Task::Latent => "latent",
        }
    }

    /// The task named `name` in specs.
    pub fn named(name: &str) -> Option<Task> {
        Task::ALL.into_iter().find(|task| task.name() == name)
    }
}

impl EvaluateSection {
    /// Whether `task` is selected.
    pub fn has(&self, task: Task) -> bool {
        self.tasks.contains(&task)
    }

    /// The default of `importance_samples`.
    pub const DEFAULT_IMPORTANCE_SAMPLES: usize = 5000;

    /// The likelihood task's importance samples per test example.
    pub fn importance_samples(&self) -> usize {
        self.importance_samples
            .unwrap_or(Self::DEFAULT_IMPORTANCE_SAMPLES)
    }

    /// The tasks that change how a run trains, as its id counts them: reconstruction (every
    /// run's) and anomaly (which trains on normal examples only).
    pub fn training_tasks(&self) -> Vec<Task> {
        let mut tasks = vec![Task::Reconstruction];
        if self.has(Task::Anomaly) {
            tasks.push(Task::Anomaly);
        }
        tasks
    }

    /// Adds the tasks of `other` that are not here, after these.
    pub fn add_tasks(&mut self, other: &[Task]) {
        for &task in other {
            if !self.tasks.contains(&task) {
                self.tasks.push(task);
            }
        }
    }
}

/// `[sweep]`: which keys vary across runs, and how.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepSection {
    #[serde(default)]
    pub strategy: Strategy,
    /// Configurations drawn by the random strategy, or proposed by a model-based search.
    #[schemars(with = "Option<usize>")]
    pub samples: Option<Spanned<usize>>,
    /// What `strategy = "tpe"` optimises (default: the report's metric).
    pub objective: Option<ObjectiveSection>,
    /// What `strategy = "nsga2"` trades off: two or more metrics, whose Pareto front is the
    /// sweep's result.
    #[serde(default)]
    pub objectives: Vec<ObjectiveSection>,
    /// Groups of swept keys that vary together (their lists are read in step).
    #[serde(default)]
    #[schemars(with = "Vec<Vec<String>>")]
    pub zip: Vec<Spanned<Vec<String>>>,
    /// Dotted key path to the values it takes: a list, e.g. `"model.latent" = [2, 8, 32]`, or
    /// a distribution, e.g. `{ log_uniform = [1e-4, 1e-2] }`.
    #[serde(default)]
    #[schemars(schema_with = "crate::json_schema::sweep_parameters")]
    pub parameters: BTreeMap<String, Spanned<toml::Value>>,
    /// Stops unpromising runs early.
    pub pruning: Option<PruningSection>,
}

/// How sweep parameters combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Strategy {
    /// Every combination of every list (the Cartesian product), zip groups in step.
    #[default]
    Grid,
    /// `samples` independent draws of every parameter.
    Random,
    /// `samples` configurations, each proposed by the Tree-structured Parzen Estimator from
    /// the results so far (the first 10 at random), toward `objective`.
    Tpe,
    /// `samples` configurations evolved by NSGA-II toward the Pareto front of `objectives`
    /// (the first 50 at random).
    Nsga2,
}

/// `objective = { metric = "test_mse", goal = "minimize" }`: a final metric a search optimises.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ObjectiveSection {
    /// A final metric of the runs' results, e.g. `test_mse`, `code_bits`, `parameters`,
    /// `train_seconds`.
    pub metric: String,
    /// `minimize` or `maximize` (default: the metric's own direction, e.g. lower `test_mse`).
    pub goal: Option<crate::Direction>,
}

/// The effective configuration of one run: every section with the sweep's values applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Seed of initialisation, shuffling and splits.
    pub seed: u64,
    /// `[data]`
    pub data: DataSection,
    /// `[model]`
    #[serde(default)]
    pub model: ModelSection,
    /// `[loss]`
    #[serde(default)]
    pub loss: LossSection,
    /// `[regularizers]`
    #[serde(default)]
    pub regularizers: RegularizersSection,
    /// `[noise]`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<NoiseSection>,
    /// `[train]`
    #[serde(default)]
    pub train: TrainSection,
    /// `[evaluate]`
    #[serde(default)]
    pub evaluate: EvaluateSection,
}

impl RunConfig {
    /// Drops settings that do not apply to this configuration, so that they do not change the
    /// run id, and spells out defaults that do apply, so that writing them changes nothing
    /// either: momentum means nothing to Adam, a sparsity penalty nothing to a VAE.
    /// Returns each key that was set and dropped, with what it applies to.
    pub(crate) fn without_inapplicable(mut self) -> (Self, Vec<(&'static str, &'static str)>) {
        const SPARSE: &str = "sparse autoencoders (`model.kind` or `model.also` \"sparse\")";
        const CONTRACTIVE: &str =
            "contractive autoencoders (`model.kind` or `model.also` \"contractive\")";
        let mut dropped = Vec::new();
        let mut drop = |applies: bool, set: bool, key: &'static str, owner: &'static str| {
            let drops = !applies && set;
            if drops {
                dropped.push((key, owner));
            }
            drops
        };
        if drop(
            self.train.optimizer == Optimizer::Sgd,
            self.train.momentum.is_some(),
            "train.momentum",
            "SGD (`train.optimizer = \"sgd\"`)",
        ) {
            self.train.momentum = None;
        }
        let model = &mut self.model;
        model.also.retain(|kind| *kind != model.kind);
        model.also.sort();
        model.also.dedup();
        let conv = model.architecture == Architecture::Conv;
        if drop(
            conv,
            model.channels.is_some(),
            "model.channels",
            "the conv architecture (`model.architecture = \"conv\"`)",
        ) {
            model.channels = None;
        } else if conv {
            model.channels = Some(model.conv_channels());
        }
        let regularizers = &mut self.regularizers;
        let sparse = model.is(ModelKind::Sparse);
        if drop(
            sparse,
            regularizers.activation_l1 != 0.0,
            "regularizers.activation_l1",
            SPARSE,
        ) {
            regularizers.activation_l1 = 0.0;
        }
        if drop(
            sparse,
            regularizers.sparsity.is_some(),
            "regularizers.sparsity",
            SPARSE,
        ) {
            regularizers.sparsity = None;
        }
        let contractive = model.is(ModelKind::Contractive);
        if drop(
            contractive,
            regularizers.contractive.is_some(),
            "regularizers.contractive",
            CONTRACTIVE,
        ) {
            regularizers.contractive = None;
        }
        let vae = model.kind == ModelKind::Vae;
        if drop(
            model.kind.has_code_activation(),
            model.code_activation != CodeActivation::Identity,
            "model.code_activation",
            "every kind but the VAE, the IWAE and the VQ-VAE",
        ) {
            model.code_activation = CodeActivation::Identity;
        }
        let iwae = model.kind == ModelKind::Iwae;
        if drop(
            iwae,
            model.samples.is_some(),
            "model.samples",
            "importance-weighted autoencoders (`model.kind = \"iwae\"`)",
        ) {
            model.samples = None;
        } else if iwae {
            model.samples = Some(model.iwae_samples());
        }
        let vqvae = model.kind == ModelKind::Vqvae;
        if drop(
            vqvae,
            model.codebook.is_some(),
            "model.codebook",
            "vector-quantised autoencoders (`model.kind = \"vqvae\"`)",
        ) {
            model.codebook = None;
        } else if vqvae {
            model.codebook = Some(model.vq_codebook());
        }
        if drop(
            vae,
            regularizers.kl.is_some(),
            "regularizers.kl",
            "variational autoencoders (`model.kind = \"vae\"`)",
        ) {
            regularizers.kl = None;
        } else if vae {
            regularizers.kl.get_or_insert_with(KlPenalty::default);
        }
        (self, dropped)
    }
}

/// Default values of optional keys, one function per key.
pub(crate) mod defaults {
    use super::Task;

    pub fn seed() -> u64 {
        0
    }
    pub fn repeats() -> u32 {
        1
    }
    pub fn validation() -> f64 {
        0.1
    }
    pub fn hidden() -> Vec<usize> {
        vec![256]
    }
    pub fn channels() -> Vec<usize> {
        vec![32, 64]
    }
    pub fn sparsity_target() -> f64 {
        super::SparsityPenalty::DEFAULT_TARGET
    }
    pub fn projections() -> usize {
        1
    }
    pub fn beta() -> f64 {
        1.0
    }
    pub fn latent() -> usize {
        32
    }
    /// The IWAE paper's middle setting (it trains with K = 1, 5 and 50).
    pub fn samples() -> usize {
        5
    }
    /// One byte per code position.
    pub fn codebook_size() -> usize {
        256
    }
    pub fn codebook_dim() -> usize {
        8
    }
    /// The VQ-VAE paper's β.
    pub fn commitment() -> f64 {
        0.25
    }
    /// The VQ-VAE paper's γ.
    pub fn codebook_decay() -> f64 {
        0.99
    }
    pub fn learning_rate() -> f64 {
        1e-3
    }
    pub fn batch_size() -> usize {
        128
    }
    pub fn epochs() -> usize {
        10
    }
    pub fn tasks() -> Vec<Task> {
        vec![Task::Reconstruction]
    }
}
