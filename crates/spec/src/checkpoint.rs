//! The contract of a run's checkpoint, `checkpoint.safetensors`: where its training stood
//! when it was written, so that a run restarted for any reason (a killed worker or
//! orchestrator, a timeout with retries, a requeued Slurm task) goes on from there and ends
//! as the uninterrupted run would have.
//!
//! The file is safetensors: its tensors hold the weights and the optimizer state (the train
//! crate names them), its metadata entry [`STATE_KEY`] holds a [`TrainingState`] as JSON.
//! It is written atomically after every epoch and within long epochs, and removed once the
//! run's result is recorded. Its `format_version` is checked: a checkpoint this hourglass
//! cannot read costs the time it saved, never a result, so it is set aside and the run
//! trains from the start.

use serde::{Deserialize, Serialize};

/// A run's checkpoint, in its run folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// The metadata entry of [`CHECKPOINT_FILE`] that holds its [`TrainingState`].
pub const STATE_KEY: &str = "hourglass_training_state";
/// The `format_version` written, and the only one read.
pub const CHECKPOINT_FORMAT_VERSION: u32 = 1;

/// Everything of a run's training but its tensors, at a step boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingState {
    /// The version of this format.
    pub format_version: u32,
    /// The run whose checkpoint this is.
    pub run_id: String,
    /// Epochs ended; their records are the first lines of `metrics.jsonl`.
    pub epochs_run: usize,
    /// Steps taken in the epoch after them.
    pub step: usize,
    /// Training loss summed over those steps.
    pub loss_sum: f64,
    /// Examples trained on, over all epochs.
    pub samples: usize,
    /// Validation loss of every epoch ended, for early stopping.
    pub validation_losses: Vec<f64>,
    /// Word position of the corruption stream (a `u128` in decimal: JSON numbers are not).
    pub corruption_stream: String,
    /// Word position of the VAE's ε stream.
    pub sampling_stream: String,
    /// Seconds trained so far.
    pub train_seconds: f64,
    /// The part of them spent in steps.
    pub stepping_seconds: f64,
    /// How the optimizer's state is laid out in the file's tensors.
    pub optimizer: OptimizerLayout,
}

/// The layout of a checkpoint's optimizer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerLayout {
    /// burn's own optimizer record, for a run trained alone.
    Module,
    /// One tensor per parameter and moment, for a run trained in a pack, after `time`
    /// steps.
    Packed {
        /// Steps taken.
        time: i32,
    },
}
