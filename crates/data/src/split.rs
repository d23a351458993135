//! A split in memory: rows of `f32` inputs in `[0, 1]` with their labels, and seeded
//! shuffling and partitioning of it.

use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::DataError;
use crate::idx::IdxArray;
use crate::manifest::{Manifest, SplitFiles};

/// Examples of one split, row-major: example `i` is `inputs[i * features..(i + 1) * features]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Shape of one example, channels first.
    pub shape: Vec<usize>,
    /// Inputs: scaled to `[0, 1]` (images), or raw values to standardise (tables, series).
    pub inputs: Vec<f32>,
    /// One label per example.
    pub labels: Vec<u8>,
}

impl Split {
    /// Builds a split from decoded IDX images and labels, checking them against the manifest.
    pub(crate) fn from_idx(
        manifest: &Manifest,
        files: &SplitFiles,
        dir: &Path,
        images: IdxArray,
        labels: IdxArray,
    ) -> Result<Self, DataError> {
        let mismatch = |file: &str, message: String| DataError::Decode {
            path: dir.join(file),
            message,
        };
        let features = manifest.features();
        let per_example: usize = images.dims.iter().skip(1).product();
        if images.dims.first() != Some(&files.examples) || per_example != features {
            return Err(mismatch(
                &files.images,
                format!(
                    "dimensions {:?} do not match the manifest ({} examples of shape {:?})",
                    images.dims, files.examples, manifest.shape
                ),
            ));
        }
        if labels.dims != [files.examples] {
            return Err(mismatch(
                &files.labels,
                format!(
                    "dimensions {:?}, expected [{}]",
                    labels.dims, files.examples
                ),
            ));
        }
        let split = Self {
            shape: manifest.shape.clone(),
            inputs: images
                .values
                .iter()
                .map(|&v| f32::from(v) / 255.0)
                .collect(),
            labels: labels.values,
        };
        split.check_labels(manifest, &dir.join(&files.labels))?;
        Ok(split)
    }

    /// Number of input features of one example.
    pub fn features(&self) -> usize {
        self.shape.iter().product()
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The inputs of example `i`.
    pub fn input(&self, i: usize) -> &[f32] {
        let f = self.features();
        &self.inputs[i * f..(i + 1) * f]
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Split {
        let mut inputs = Vec::with_capacity(indices.len() * self.features());
        for &i in indices {
            inputs.extend_from_slice(self.input(i));
        }
        Split {
            shape: self.shape.clone(),
            inputs,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// A copy of the first `n` examples (all of them when there are fewer), without copying
    /// the rest.
    pub fn head(&self, n: usize) -> Split {
        let n = n.min(self.len());
        Split {
            shape: self.shape.clone(),
            inputs: self.inputs[..n * self.features()].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Shuffles with `seed` and cuts off a `fraction` for validation: `(train, validation)`.
    /// The same seed gives the same partition on every machine (ChaCha8).
    pub fn partition(&self, fraction: f64, seed: u64) -> (Split, Split) {
        let (train, validation) = self.partition_rows(fraction, seed);
        (self.select(&train), self.select(&validation))
    }

    /// The rows [`Self::partition`] puts in each part: `(train, validation)`.
    pub fn partition_rows(&self, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
        let mut train = permutation(self.len(), seed);
        let validation = train.drain(..held_out(self.len(), fraction)).collect();
        (train, validation)
    }

    /// Refuses a label the manifest's `classes` do not include, naming the example (counted
    /// from 1) and `file`, the file the labels came from.
    pub(crate) fn check_labels(&self, manifest: &Manifest, file: &Path) -> Result<(), DataError> {
        let Some(classes) = manifest.classes else {
            return Ok(());
        };
        match self.labels.iter().position(|&l| usize::from(l) >= classes) {
            None => Ok(()),
            Some(at) => Err(DataError::Decode {
                path: file.to_path_buf(),
                message: format!(
                    "example {}: label {} is not below {classes} classes",
                    at + 1,
                    self.labels[at]
                ),
            }),
        }
    }
}

/// How many of `count` examples a `fraction` holds out: rounded, at most all of them.
pub(crate) fn held_out(count: usize, fraction: f64) -> usize {
    (((count as f64) * fraction).round() as usize).min(count)
}

/// Per-feature mean and standard deviation of some examples, to standardise splits with: fitted
/// on a run's training examples only, so that nothing of the test split leaks into training.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardization {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Standardization {
    /// Standard deviations below this leave the feature unscaled (a constant feature).
    const MIN_STD: f64 = 1e-6;

    /// The statistics of `split`'s features.
    pub fn fit(split: &Split) -> Self {
        let features = split.features();
        let n = split.len().max(1) as f64;
        let mut sums = vec![0.0f64; features];
        let mut squares = vec![0.0f64; features];
        for row in split.inputs.chunks_exact(features) {
            for (j, &v) in row.iter().enumerate() {
                sums[j] += f64::from(v);
                squares[j] += f64::from(v) * f64::from(v);
            }
        }
        let mean: Vec<f64> = sums.iter().map(|s| s / n).collect();
        let std = squares
            .iter()
            .zip(&mean)
            .map(|(s, m)| {
                let std = (s / n - m * m).max(0.0).sqrt();
                if std < Self::MIN_STD { 1.0 } else { std as f32 }
            })
            .collect();
        Self {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// The mean of each feature.
    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    /// The standard deviation of each feature, 1 for a constant one: what inputs are
    /// divided by.
    pub fn std(&self) -> &[f32] {
        &self.std
    }

    /// The standardisation by the given statistics (a saved model's).
    pub fn from_statistics(mean: Vec<f32>, std: Vec<f32>) -> Self {
        Self { mean, std }
    }

    /// Replaces every input of `split` by its z-score.
    pub fn apply(&self, split: &mut Split) {
        self.apply_to_rows(&mut split.inputs);
    }

    /// Replaces every value of `inputs`, rows of this standardisation's features, by its
    /// z-score.
    pub fn apply_to_rows(&self, inputs: &mut [f32]) {
        let features = self.mean.len();
        for row in inputs.chunks_exact_mut(features) {
            for ((v, mean), std) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - mean) / std;
            }
        }
    }
}

/// A seeded permutation of `0..n`, the same on every platform.
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}
