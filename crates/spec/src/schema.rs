//! The serde types of an experiment spec: one struct per TOML section, unknown keys refused.
//!
//! The same section types make up a [`RunConfig`], the effective configuration of one run that
//! the orchestrator writes to `config.toml` and a worker reads back. Defaults are explicit
//! functions so that `experiments/reference.toml` can state them and a test can hold them to it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A whole spec file as written, before sweep expansion and semantic checks.
///
/// The run sections are deserialized here for their type errors and spans only; runs are
/// built from the TOML table instead, so that swept values take the same path as written ones.
#[derive(Debug, Clone, Deserialize)]
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
    #[serde(default)]
    pub train: TrainSection,
    #[serde(default)]
    pub evaluate: EvaluateSection,
    #[serde(default)]
    pub sweep: SweepSection,
}

/// `[experiment]`: what the sweep is called and how runs are seeded.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// `[model]`: the autoencoder's kind and shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// Which autoencoder.
    #[serde(default)]
    pub kind: ModelKind,
    /// Encoder and decoder family.
    #[serde(default)]
    pub architecture: Architecture,
    /// Widths of the encoder's hidden layers, input side first; the decoder mirrors them.
    #[serde(default = "defaults::hidden")]
    pub hidden: Vec<usize>,
    /// Size of the code.
    #[serde(default = "defaults::latent")]
    pub latent: usize,
    /// Activation after every hidden layer.
    #[serde(default)]
    pub activation: Activation,
    /// Activation of the decoder's last layer.
    #[serde(default)]
    pub output: OutputActivation,
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            kind: ModelKind::default(),
            architecture: Architecture::default(),
            hidden: defaults::hidden(),
            latent: defaults::latent(),
            activation: Activation::default(),
            output: OutputActivation::default(),
        }
    }
}

/// The autoencoder kinds hourglass can train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// A plain encoder-decoder trained on reconstruction alone.
    #[default]
    Vanilla,
}

/// Encoder and decoder families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Fully connected layers on the flattened input.
    #[default]
    Mlp,
}

/// Hidden-layer activations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputActivation {
    /// Outputs in (0, 1), for inputs scaled to [0, 1].
    #[default]
    Sigmoid,
    /// Unbounded outputs.
    Identity,
}

/// `[loss]`: the reconstruction objective.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossSection {
    /// Per-element reconstruction loss.
    #[serde(default)]
    pub reconstruction: Reconstruction,
}

/// Reconstruction losses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reconstruction {
    /// Mean squared error per element.
    #[default]
    Mse,
    /// Binary cross-entropy per element; needs outputs in (0, 1).
    Bce,
}

/// `[regularizers]`: penalties added to the reconstruction loss.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegularizersSection {
    /// L2 penalty on the weights, applied by the optimizer (coupled, as in PyTorch).
    #[serde(default)]
    pub weight_decay: f64,
}

/// `[train]`: optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Passes over the training split.
    #[serde(default = "defaults::epochs")]
    pub epochs: usize,
    /// Tensor backend that trains the run.
    #[serde(default)]
    pub backend: Backend,
}

impl Default for TrainSection {
    fn default() -> Self {
        Self {
            optimizer: Optimizer::default(),
            learning_rate: defaults::learning_rate(),
            momentum: None,
            batch_size: defaults::batch_size(),
            epochs: defaults::epochs(),
            backend: Backend::default(),
        }
    }
}

/// Optimizers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Adam with β = (0.9, 0.999), ε = 1e-8.
    #[default]
    Adam,
    /// Stochastic gradient descent, with momentum when `train.momentum` is set.
    Sgd,
}

/// Tensor backends; each is compiled in by a cargo feature of the `hourglass` binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateSection {
    /// Tasks to run.
    #[serde(default = "defaults::tasks")]
    pub tasks: Vec<Task>,
}

impl Default for EvaluateSection {
    fn default() -> Self {
        Self {
            tasks: defaults::tasks(),
        }
    }
}

/// Evaluation tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Test-set reconstruction error: `test_mse`, `test_psnr_db`, `test_loss`.
    Reconstruction,
}

/// `[sweep]`: which keys vary across runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SweepSection {
    #[serde(default)]
    pub strategy: Strategy,
    /// Dotted key path to the list of values it takes, e.g. `"model.latent" = [2, 8, 32]`.
    #[serde(default)]
    pub parameters: BTreeMap<String, Spanned<toml::Value>>,
}

/// How sweep parameters combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Strategy {
    /// Every combination of every list (the Cartesian product).
    #[default]
    Grid,
}

/// The effective configuration of one run: every section with the sweep's values applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// `[train]`
    #[serde(default)]
    pub train: TrainSection,
    /// `[evaluate]`
    #[serde(default)]
    pub evaluate: EvaluateSection,
}

impl RunConfig {
    /// Drops settings that do not apply to this configuration, so that they do not change the
    /// run id: momentum means nothing to Adam.
    pub(crate) fn without_inapplicable(mut self) -> Self {
        if self.train.optimizer != Optimizer::Sgd {
            self.train.momentum = None;
        }
        self
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
    pub fn latent() -> usize {
        32
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
