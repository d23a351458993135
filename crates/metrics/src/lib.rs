//! The measures behind hourglass's evaluation tasks, as plain functions over slices.
//!
//! - [`ranking`]: anomaly detection (ROC curve, AUROC, average precision, rank of the best
//!   anomaly) from per-example anomaly scores.
//! - [`detectors`] and [`isolation_forest`]: the classical anomaly detectors the anomaly task
//!   puts beside the autoencoder (PCA residual, k-nearest-neighbour distance, Isolation
//!   Forest).
//! - [`image`]: image quality of denoised or compressed reconstructions (PSNR, SSIM).
//! - [`pca`]: principal component analysis, the linear baseline of compression tasks.
//! - [`probe`]: linear-probe accuracy, a measure of what a representation encodes.
//! - [`importance`]: how much each setting of a sweep matters to its objective (permutation
//!   importance of a random forest).
//!
//! This crate knows nothing of burn, polars or the other hourglass crates (rayon spreads the
//! costly measures over threads): inputs are flat
//! `f32`/`f64` buffers and labels, so every measure is tested on hand-computable cases and
//! builds in seconds.

pub mod detectors;
pub mod image;
pub mod importance;
pub mod isolation_forest;
pub mod pca;
pub mod probe;
pub mod ranking;

pub use detectors::{knn_scores, pca_residual_scores};
pub use image::{mean_ssim, psnr_db, ssim};
pub use importance::permutation_importance;
pub use isolation_forest::IsolationForest;
pub use pca::Pca;
pub use probe::probe_accuracy;
pub use ranking::{RocCurve, auroc, average_precision, best_anomaly_rank, roc_curve};
