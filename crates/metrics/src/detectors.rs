//! Classical anomaly detectors, the baselines the anomaly task scores beside the
//! autoencoder: each is fitted on the normal training rows and gives every test row a score,
//! higher for rows less like the training rows.
//!
//! - [`pca_residual_scores`]: squared reconstruction error of a `k`-component PCA, the linear
//!   autoencoder of the same code size.
//! - [`knn_scores`]: distance to the `k`-th nearest training row (PyOD's `KNN` with
//!   `method = "largest"`, Ramaswamy et al. 2000).
//! - [`IsolationForest`](crate::IsolationForest) lives in its own module.
//!
//! Rows are row-major `f32` buffers of `features` values each, as elsewhere in this crate.

use rayon::prelude::*;

use crate::Pca;

/// Squared distance from each `test` row to its reconstruction by a PCA of `k` components
/// fitted on `train`.
///
/// # Panics
/// As [`Pca::fit`]: if `features` is zero, a buffer is not a whole number of rows, `train`
/// has fewer than two rows, or `k > features`.
pub fn pca_residual_scores(train: &[f32], test: &[f32], features: usize, k: usize) -> Vec<f64> {
    let pca = Pca::fit(train, features, k);
    test.par_chunks_exact(features)
        .map(|row| {
            let reconstruction = pca.reconstruct(&pca.project(row));
            row.iter()
                .zip(&reconstruction)
                .map(|(&x, r)| (f64::from(x) - r).powi(2))
                .sum()
        })
        .collect()
}

/// Test rows compared against every training row at once, so that each training row is read
/// from memory once per block.
const TEST_BLOCK: usize = 32;

/// Euclidean distance from each `test` row to its `k`-th nearest row of `train` (a row equal
/// to the test row counts, at distance 0).
///
/// Exact, by brute force: `test rows × train rows × features` multiply-adds, spread over the
/// rayon pool (one-class MNIST, 6,000 × 10,000 × 784, takes seconds on two cores).
///
/// # Panics
/// If `features` is zero, a buffer is not a whole number of rows, `k` is zero or `train`
/// has fewer than `k` rows.
pub fn knn_scores(train: &[f32], test: &[f32], features: usize, k: usize) -> Vec<f64> {
    assert!(
        features > 0 && train.len().is_multiple_of(features) && test.len().is_multiple_of(features),
        "rows must hold a whole number of rows of {features} features"
    );
    assert!(
        k > 0 && train.len() / features >= k,
        "the {k}-th nearest neighbour needs at least {k} training rows"
    );
    test.par_chunks(TEST_BLOCK * features)
        .flat_map_iter(|block| {
            let rows: Vec<&[f32]> = block.chunks_exact(features).collect();
            let mut nearest = vec![Nearest::new(k); rows.len()];
            for candidate in train.chunks_exact(features) {
                for (row, nearest) in rows.iter().zip(&mut nearest) {
                    nearest.offer(squared_distance(row, candidate));
                }
            }
            nearest.into_iter().map(|n| f64::from(n.kth()).sqrt())
        })
        .collect()
}

/// The `k` smallest distances seen so far, ascending.
#[derive(Debug, Clone)]
struct Nearest {
    distances: Vec<f32>,
    k: usize,
}

impl Nearest {
    fn new(k: usize) -> Self {
        Nearest {
            distances: Vec::with_capacity(k + 1),
            k,
        }
    }

    fn offer(&mut self, distance: f32) {
        if self.distances.len() == self.k && distance >= self.distances[self.k - 1] {
            return;
        }
        let at = self.distances.partition_point(|&d| d <= distance);
        self.distances.insert(at, distance);
        self.distances.truncate(self.k);
    }

    /// The `k`-th smallest distance.
    fn kth(&self) -> f32 {
        self.distances[self.k - 1]
    }
}

/// Lanes of the distance accumulator: eight `f32`, one AVX register, so that the compiler
/// vectorises the loop (a single running sum would fix the order of the additions).
const LANES: usize = 8;

/// `Σ (a − b)²` over two rows of equal length.
fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0_f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            let difference = x[lane] - y[lane];
            lanes[lane] += difference * difference;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auroc;

    #[test]
    fn kth_neighbour_distance_by_hand() {
        // Training points on a line at 0, 1, 3, 7; the test point 2 is 1 from 1 and 3, 2 from
        // 0 and 5 from 7.
        let train = [0.0, 1.0, 3.0, 7.0];
        assert_eq!(knn_scores(&train, &[2.0], 1, 1), [1.0]);
        assert_eq!(knn_scores(&train, &[2.0], 1, 2), [1.0]);
        assert_eq!(knn_scores(&train, &[2.0], 1, 3), [2.0]);
        assert_eq!(knn_scores(&train, &[2.0], 1, 4), [5.0]);
        // In two dimensions: (3, 4) is 5 from the origin.
        assert_eq!(knn_scores(&[0.0, 0.0], &[3.0, 4.0], 2, 1), [5.0]);
    }

    #[test]
    fn knn_agrees_with_a_plain_sort_across_blocks_and_lanes() {
        // 19 features: two full lanes and a remainder; 70 test rows: three blocks.
        let features = 19;
        let value = |i: usize| ((i * 7919) % 101) as f32 / 10.0;
        let train: Vec<f32> = (0..40 * features).map(value).collect();
        let test: Vec<f32> = (0..70 * features).map(|i| value(i + 13)).collect();
        let scores = knn_scores(&train, &test, features, 5);
        for (row, score) in test.chunks_exact(features).zip(&scores) {
            let mut distances: Vec<f64> = train
                .chunks_exact(features)
                .map(|t| {
                    row.iter()
                        .zip(t)
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            distances.sort_by(f64::total_cmp);
            assert!((score - distances[4]).abs() < 1e-4, "{score} {distances:?}");
        }
    }

    #[test]
    fn pca_residual_is_zero_on_the_fitted_plane_and_the_squared_offset_off_it() {
        // Training rows on the plane z = 0; a test row at height 3 is 9 from its projection.
        let train: Vec<f32> = (0..50)
            .flat_map(|i| [(i % 7) as f32, (i % 11) as f32 - 5.0, 0.0])
            .collect();
        let scores = pca_residual_scores(&train, &[1.0, 2.0, 0.0, 1.0, 2.0, 3.0], 3, 2);
        assert!(scores[0].abs() < 1e-9, "{scores:?}");
        assert!((scores[1] - 9.0).abs() < 1e-9, "{scores:?}");
    }

    #[test]
    fn both_rank_points_off_a_noisy_line_above_points_on_it() {
        // Normal rows near the line y = 2x; anomalies well off it, inside its range.
        let jitter = |i: usize| ((i * 37) % 17) as f32 / 170.0;
        let train: Vec<f32> = (0..200)
            .flat_map(|i| {
                let x = i as f32 / 20.0;
                [x, 2.0 * x + jitter(i)]
            })
            .collect();
        let mut test = Vec::new();
        let mut anomalous = Vec::new();
        for i in 0..40 {
            let x = 0.5 + i as f32 / 5.0;
            let off = i % 4 == 0;
            test.extend([x, 2.0 * x + if off { 3.0 } else { jitter(i + 3) }]);
            anomalous.push(off);
        }
        assert_eq!(
            auroc(&pca_residual_scores(&train, &test, 2, 1), &anomalous),
            1.0
        );
        assert_eq!(auroc(&knn_scores(&train, &test, 2, 5), &anomalous), 1.0);
    }
}
