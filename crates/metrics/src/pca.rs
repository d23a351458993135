//! Principal component analysis: the best linear code of a given size, the baseline that
//! compression tasks compare autoencoders against.
//!
//! The sample covariance (divisor n − 1) is accumulated in `f64` from the raw rows as
//! `(Σ x xᵀ − n μ μᵀ) / (n − 1)`, which equals the covariance of the centred rows but lets
//! the accumulation skip the zero entries of each row (most of an MNIST digit) and touch only
//! the upper triangle. Its eigenvectors come from [`nalgebra::SymmetricEigen`].

use nalgebra::{DMatrix, SymmetricEigen};

/// A fitted principal component analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Mean of the training rows, one value per feature.
    pub mean: Vec<f64>,
    /// The `k` principal directions as unit vectors of `features` values, by descending
    /// variance. Each is signed so that its entry of largest magnitude is positive.
    pub components: Vec<Vec<f64>>,
    /// Variance of the training rows along each component (the covariance eigenvalues,
    /// negative rounding noise clamped to zero), descending.
    pub variances: Vec<f64>,
}

impl Pca {
    /// Fits `k` principal components to `rows`, a row-major buffer of examples with
    /// `features` values each.
    ///
    /// # Panics
    /// If `features` is zero, `rows` is not a whole number of rows, there are fewer than two
    /// rows, or `k > features`.
    pub fn fit(rows: &[f32], features: usize, k: usize) -> Pca {
        assert!(
            features > 0 && rows.len().is_multiple_of(features),
            "rows must hold a whole number of rows of {features} features"
        );
        let count = rows.len() / features;
        assert!(count >= 2, "pca needs at least two rows, got {count}");
        assert!(
            k <= features,
            "cannot keep {k} components of {features} features"
        );

        let moments = Moments::accumulate(rows, features);
        let mean: Vec<f64> = moments.sums.iter().map(|s| s / count as f64).collect();
        let eigen = SymmetricEigen::new(moments.covariance(&mean, count));

        let mut order: Vec<usize> = (0..features).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        order.truncate(k);
        let components = order
            .iter()
            .map(|&index| signed(eigen.eigenvectors.column(index).iter().copied().collect()))
            .collect();
        let variances = order
            .iter()
            .map(|&index| eigen.eigenvalues[index].max(0.0))
            .collect();
        Pca {
            mean,
            components,
            variances,
        }
    }

    /// Coefficients of `row` along each component: `⟨row − mean, component⟩`.
    ///
    /// # Panics
    /// If `row` does not have one value per feature.
    pub fn project(&self, row: &[f32]) -> Vec<f64> {
        assert_eq!(
            row.len(),
            self.mean.len(),
            "row must have one value per feature"
        );
        let centred: Vec<f64> = row
            .iter()
            .zip(&self.mean)
            .map(|(&x, mean)| f64::from(x) - mean)
            .collect();
        self.components
            .iter()
            .map(|component| component.iter().zip(&centred).map(|(c, x)| c * x).sum())
            .collect()
    }

    /// The row that `coefficients` encode: `mean + Σ coefficient · component`.
    ///
    /// # Panics
    /// If there is not one coefficient per component.
    pub fn reconstruct(&self, coefficients: &[f64]) -> Vec<f64> {
        assert_eq!(
            coefficients.len(),
            self.components.len(),
            "need one coefficient per component"
        );
        let mut row = self.mean.clone();
        for (coefficient, component) in coefficients.iter().zip(&self.components) {
            for (value, c) in row.iter_mut().zip(component) {
                *value += coefficient * c;
            }
        }
        row
    }
}

/// First and second raw moments of the rows, accumulated in `f64`.
struct Moments {
    /// Number of features per row.
    features: usize,
    /// `Σ x` over rows.
    sums: Vec<f64>,
    /// `Σ x xᵀ` over rows, row-major; only the upper triangle (`j >= i`) is filled.
    products: Vec<f64>,
}

impl Moments {
    /// Sums and outer products of every row, skipping zero entries.
    fn accumulate(rows: &[f32], features: usize) -> Moments {
        let mut moments = Moments {
            features,
            sums: vec![0.0; features],
            products: vec![0.0; features * features],
        };
        let mut nonzero: Vec<(usize, f64)> = Vec::with_capacity(features);
        for row in rows.chunks_exact(features) {
            nonzero.clear();
            nonzero.extend(
                row.iter()
                    .enumerate()
                    .filter(|&(_, &x)| x != 0.0)
                    .map(|(i, &x)| (i, f64::from(x))),
            );
            moments.add_row(&nonzero);
        }
        moments
    }

    /// Adds one row, given as its nonzero `(feature, value)` pairs in feature order.
    fn add_row(&mut self, nonzero: &[(usize, f64)]) {
        for (position, &(i, x_i)) in nonzero.iter().enumerate() {
            self.sums[i] += x_i;
            let upper = &mut self.products[i * self.features..(i + 1) * self.features];
            for &(j, x_j) in &nonzero[position..] {
                upper[j] += x_i * x_j;
            }
        }
    }

    /// The full, symmetric sample covariance `(Σ x xᵀ − n μ μᵀ) / (n − 1)`.
    fn covariance(&self, mean: &[f64], count: usize) -> DMatrix<f64> {
        let n = count as f64;
        DMatrix::from_fn(self.features, self.features, |r, c| {
            let (i, j) = (r.min(c), r.max(c));
            (self.products[i * self.features + j] - n * mean[i] * mean[j]) / (n - 1.0)
        })
    }
}

/// `vector`, negated if needed so that its entry of largest magnitude is positive.
fn signed(mut vector: Vec<f64>) -> Vec<f64> {
    let largest = vector
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(0.0);
    if largest < 0.0 {
        vector.iter_mut().for_each(|v| *v = -*v);
    }
    vector
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(a, b)| a * b).sum()
    }

    /// Rows `offset + s u + t v` in 5-D, for random `s`, `t`.
    fn planted_plane(count: usize) -> Vec<f32> {
        let offset = [0.5, -1.0, 2.0, 0.0, 1.5];
        let u = [1.0, 0.0, 1.0, 0.0, -0.5];
        let v = [0.0, 2.0, 0.0, -1.0, 0.25];
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut rows = Vec::with_capacity(count * 5);
        for _ in 0..count {
            let (s, t): (f64, f64) = (rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0));
            rows.extend((0..5).map(|f| (offset[f] + s * u[f] + t * v[f]) as f32));
        }
        rows
    }

    #[test]
    fn planted_plane_is_reconstructed_from_two_components() {
        let rows = planted_plane(200);
        let pca = Pca::fit(&rows, 5, 2);
        for row in rows.chunks_exact(5) {
            let reconstructed = pca.reconstruct(&pca.project(row));
            for (r, &x) in reconstructed.iter().zip(row) {
                assert!(
                    (r - f64::from(x)).abs() < 1e-6,
                    "{reconstructed:?} vs {row:?}"
                );
            }
        }
        // A third component carries no variance.
        let three = Pca::fit(&rows, 5, 3);
        assert!(three.variances[2] < 1e-10, "{:?}", three.variances);
        // One component does not suffice.
        let one = Pca::fit(&rows, 5, 1);
        let error: f64 = rows
            .chunks_exact(5)
            .map(|row| {
                let r = one.reconstruct(&one.project(row));
                r.iter()
                    .zip(row)
                    .map(|(r, &x)| (r - f64::from(x)).powi(2))
                    .sum::<f64>()
            })
            .sum();
        assert!(
            error > 1.0,
            "one component reconstructed the plane: {error}"
        );
    }

    #[test]
    fn components_are_orthonormal_and_sorted() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        // Mostly zeros, like MNIST, with per-feature scales so variances differ.
        let rows: Vec<f32> = (0..500 * 8)
            .map(|i| {
                let scale = 1.0 + (i % 8) as f32;
                if rng.random_bool(0.4) {
                    scale * rng.random::<f32>()
                } else {
                    0.0
                }
            })
            .collect();
        let pca = Pca::fit(&rows, 8, 8);
        for (a, first) in pca.components.iter().enumerate() {
            for (b, second) in pca.components.iter().enumerate() {
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot(first, second) - expected).abs() < 1e-10);
            }
        }
        assert!(pca.variances.windows(2).all(|pair| pair[0] >= pair[1]));
        // The variances sum to the trace of the covariance: the per-feature variances.
        let total: f64 = (0..8)
            .map(|f| {
                let column: Vec<f64> = rows
                    .iter()
                    .skip(f)
                    .step_by(8)
                    .map(|&x| f64::from(x))
                    .collect();
                let mean = column.iter().sum::<f64>() / 500.0;
                column.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 499.0
            })
            .sum();
        assert!((pca.variances.iter().sum::<f64>() - total).abs() < 1e-9 * total);
    }

    #[test]
    fn variances_of_axis_aligned_data() {
        // Around the offset: (±2, 0, 0) and (0, ±1, 0). Sample variances 8/3, 2/3 and 0.
        let offset = [1.0_f32, 5.0, -3.0];
        let points = [
            [2.0, 0.0, 0.0],
            [-2.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, -1.0, 0.0],
        ];
        let rows: Vec<f32> = points
            .iter()
            .flat_map(|p| p.iter().zip(&offset).map(|(x, o)| x + o))
            .collect();
        let pca = Pca::fit(&rows, 3, 3);
        assert_eq!(pca.mean, vec![1.0, 5.0, -3.0]);
        let expected = [8.0 / 3.0, 2.0 / 3.0, 0.0];
        for (variance, expected) in pca.variances.iter().zip(expected) {
            assert!((variance - expected).abs() < 1e-12, "{:?}", pca.variances);
        }
        for (component, axis) in pca.components.iter().take(2).zip(0..) {
            let mut unit = vec![0.0; 3];
            unit[axis] = 1.0;
            for (c, u) in component.iter().zip(&unit) {
                assert!((c - u).abs() < 1e-12, "{:?}", pca.components);
            }
        }
        let coefficients = pca.project(&[3.0, 5.0, -3.0]);
        assert!((coefficients[0] - 2.0).abs() < 1e-12 && coefficients[1].abs() < 1e-12);
    }
}
