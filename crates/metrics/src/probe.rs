//! Linear probes: how much of the labels a representation makes linearly readable.
//!
//! [`probe_accuracy`] fits a multinomial logistic regression (softmax) to standardised codes
//! with minibatch Adam and reports its accuracy on held-out codes. Training is deterministic
//! for a seed: the weights start at zero and the seed only drives the per-epoch shuffle.
//!
//! Codes are stored row-major (`examples × dims`). The matrix products go through nalgebra's
//! `gemm` on views of those buffers, so they run optimised even when this crate is built
//! without optimisations. The left operand of every product has unit row stride: nalgebra
//! 0.35's small-matrix fallback of `gemm` indexes out of bounds when it does not.

use nalgebra::{DMatrixView, DMatrixViewMut, Dyn, MatrixView};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Adam step size.
const LEARNING_RATE: f64 = 0.01;
/// Examples per minibatch (the last one of an epoch may be smaller).
const BATCH_SIZE: usize = 256;
/// Passes over the training codes.
const EPOCHS: usize = 30;
/// Weight of the L2 penalty `λ/2 ‖W‖²` on the weights (not the biases).
const L2: f64 = 1e-4;
/// Smallest standard deviation a code dimension is divided by.
const STD_FLOOR: f64 = 1e-8;
/// Adam's decay of the first moment.
const BETA1: f64 = 0.9;
/// Adam's decay of the second moment.
const BETA2: f64 = 0.999;
/// Adam's stabiliser of the denominator.
const EPSILON: f64 = 1e-8;

/// A read-only matrix view over a slice with explicit strides.
type StridedView<'a> = MatrixView<'a, f64, Dyn, Dyn, Dyn, Dyn>;

/// Accuracy on the test codes of a softmax regression trained on the training codes.
///
/// Codes are row-major buffers of `dims` values per example, standardised with the mean and
/// standard deviation (floored at 1e-8) of the training codes. There are `max label + 1`
/// classes over both splits. Training runs minibatch Adam (learning rate 0.01, batches of
/// 256, 30 epochs, L2 penalty 1e-4 on the weights), shuffling each epoch with a ChaCha8
/// stream seeded by `seed`, so the result is the same for the same inputs and seed.
///
/// # Panics
/// If `dims` is zero, a split is empty, or a split's codes do not hold `dims` values per
/// label.
pub fn probe_accuracy(
    train_codes: &[f32],
    train_labels: &[u8],
    test_codes: &[f32],
    test_labels: &[u8],
    dims: usize,
    seed: u64,
) -> f64 {
    check_split("train", train_codes, train_labels, dims);
    check_split("test", test_codes, test_labels, dims);
    let classes = class_count(train_labels, test_labels);
    let standardiser = Standardiser::fit(train_codes, dims);
    let train = standardiser.apply(train_codes);
    let test = standardiser.apply(test_codes);
    let model = Softmax::train(&train, train_labels, dims, classes, seed);
    model.accuracy(&test, test_labels)
}

/// Checks that a split is non-empty and holds `dims` code values per label.
fn check_split(split: &str, codes: &[f32], labels: &[u8], dims: usize) {
    assert!(dims > 0, "codes need at least one dimension");
    assert!(!labels.is_empty(), "the {split} split is empty");
    assert_eq!(
        codes.len(),
        labels.len() * dims,
        "the {split} codes must hold {dims} values per label"
    );
}

/// Number of classes, `max label + 1` over both splits.
fn class_count(train_labels: &[u8], test_labels: &[u8]) -> usize {
    let largest = train_labels.iter().chain(test_labels).max().copied();
    usize::from(largest.unwrap_or(0)) + 1
}

/// Per-dimension mean and standard deviation of the training codes.
struct Standardiser {
    /// Mean of each dimension.
    mean: Vec<f64>,
    /// Population standard deviation of each dimension, at least [`STD_FLOOR`].
    std: Vec<f64>,
}

impl Standardiser {
    /// Mean and standard deviation of each dimension of `codes`.
    fn fit(codes: &[f32], dims: usize) -> Standardiser {
        let count = (codes.len() / dims) as f64;
        let mut sum = vec![0.0; dims];
        let mut sum_squares = vec![0.0; dims];
        for row in codes.chunks_exact(dims) {
            for ((s, q), &x) in sum.iter_mut().zip(&mut sum_squares).zip(row) {
                let x = f64::from(x);
                *s += x;
                *q += x * x;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sum_squares
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / count - m * m).max(0.0).sqrt().max(STD_FLOOR))
            .collect();
        Standardiser { mean, std }
    }

    /// `codes` shifted by the mean and divided by the standard deviation, as `f64`.
    fn apply(&self, codes: &[f32]) -> Vec<f64> {
        let dims = self.mean.len();
        codes
            .iter()
            .enumerate()
            .map(|(i, &x)| (f64::from(x) - self.mean[i % dims]) / self.std[i % dims])
            .collect()
    }
}

/// A softmax regression: logits `x W + b`.
struct Softmax {
    /// Input dimensions.
    dims: usize,
    /// Output classes.
    classes: usize,
    /// The weights `W` (`dims × classes`, row-major, i.e. `Wᵀ` column-major) followed by the
    /// biases `b`.
    parameters: Vec<f64>,
}

impl Softmax {
    /// Fits a softmax regression to standardised `rows` with minibatch Adam.
    fn train(rows: &[f64], labels: &[u8], dims: usize, classes: usize, seed: u64) -> Softmax {
        let mut model = Softmax {
            dims,
            classes,
            parameters: vec![0.0; dims * classes + classes],
        };
        let mut adam = Adam::new(model.parameters.len());
        let mut gradient = vec![0.0; model.parameters.len()];
        let mut logits = Vec::new();
        let mut batch = Vec::with_capacity(BATCH_SIZE * dims);
        let mut batch_labels = Vec::with_capacity(BATCH_SIZE);
        let mut order: Vec<usize> = (0..labels.len()).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..EPOCHS {
            order.shuffle(&mut rng);
            for indices in order.chunks(BATCH_SIZE) {
                batch.clear();
                batch_labels.clear();
                for &i in indices {
                    batch.extend_from_slice(&rows[i * dims..(i + 1) * dims]);
                    batch_labels.push(labels[i]);
                }
                model.gradient(&batch, &batch_labels, &mut gradient, &mut logits);
                adam.step(&mut model.parameters, &gradient);
            }
        }
        model
    }

    /// Writes the logits of `rows` (`count × classes`, row-major) into `logits`.
    fn logits(&self, rows: &[f64], logits: &mut Vec<f64>) {
        let (dims, classes) = (self.dims, self.classes);
        let count = rows.len() / dims;
        let (weights, bias) = self.parameters.split_at(dims * classes);
        logits.clear();
        for _ in 0..count {
            logits.extend_from_slice(bias);
        }
        // Column-major, the row-major buffers are the transposes: zᵀ = Wᵀ xᵀ + bᵀ.
        let weights_t = DMatrixView::from_slice(weights, classes, dims);
        let rows_t = DMatrixView::from_slice(rows, dims, count);
        let mut logits_t = DMatrixViewMut::from_slice(logits, classes, count);
        logits_t.gemm(1.0, &weights_t, &rows_t, 1.0);
    }

    /// Writes the gradient of the mean cross-entropy of a batch plus the L2 penalty into
    /// `gradient` (same layout as the parameters); `logits` is scratch space.
    fn gradient(&self, rows: &[f64], labels: &[u8], gradient: &mut [f64], logits: &mut Vec<f64>) {
        let (dims, classes) = (self.dims, self.classes);
        let count = labels.len();
        self.logits(rows, logits);
        // The gradient of the mean cross-entropy by the logits: (softmax − one-hot) / count.
        for (row, &label) in logits.chunks_exact_mut(classes).zip(labels) {
            softmax_in_place(row);
            row[usize::from(label)] -= 1.0;
            row.iter_mut().for_each(|v| *v /= count as f64);
        }
        let (weight_gradient, bias_gradient) = gradient.split_at_mut(dims * classes);
        // ∂Wᵀ = ∂zᵀ x, with x viewed row-major through strides (only as the right operand).
        let logit_gradient_t = DMatrixView::from_slice(logits, classes, count);
        let rows = StridedView::from_slice_with_strides(rows, count, dims, dims, 1);
        let mut weight_gradient_t = DMatrixViewMut::from_slice(weight_gradient, classes, dims);
        weight_gradient_t.gemm(1.0, &logit_gradient_t, &rows, 0.0);
        for (g, w) in weight_gradient.iter_mut().zip(&self.parameters) {
            *g += L2 * w;
        }
        bias_gradient.fill(0.0);
        for row in logits.chunks_exact(classes) {
            for (g, v) in bias_gradient.iter_mut().zip(row) {
                *g += v;
            }
        }
    }

    /// Fraction of `rows` whose highest logit is their label (the first class wins ties).
    fn accuracy(&self, rows: &[f64], labels: &[u8]) -> f64 {
        let mut logits = Vec::new();
        self.logits(rows, &mut logits);
        let correct = logits
            .chunks_exact(self.classes)
            .zip(labels)
            .filter(|&(row, &label)| argmax(row) == usize::from(label))
            .count();
        correct as f64 / labels.len() as f64
    }
}

/// Replaces `logits` by their softmax probabilities.
fn softmax_in_place(logits: &mut [f64]) {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for v in logits.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    logits.iter_mut().for_each(|v| *v /= sum);
}

/// Index of the first largest value.
fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// Adam's moment estimates for a flat parameter vector.
struct Adam {
    /// Exponential average of the gradients.
    first: Vec<f64>,
    /// Exponential average of the squared gradients.
    second: Vec<f64>,
    /// Steps taken so far.
    steps: i32,
}

impl Adam {
    /// Zero moments for `parameters` values.
    fn new(parameters: usize) -> Adam {
        Adam {
            first: vec![0.0; parameters],
            second: vec![0.0; parameters],
            steps: 0,
        }
    }

    /// One bias-corrected Adam update of `parameters` along `gradient`.
    fn step(&mut self, parameters: &mut [f64], gradient: &[f64]) {
        self.steps += 1;
        let first_correction = 1.0 - BETA1.powi(self.steps);
        let second_correction = 1.0 - BETA2.powi(self.steps);
        let moments = self.first.iter_mut().zip(&mut self.second);
        for ((p, &g), (m, v)) in parameters.iter_mut().zip(gradient).zip(moments) {
            *m = BETA1 * *m + (1.0 - BETA1) * g;
            *v = BETA2 * *v + (1.0 - BETA2) * g * g;
            let m_hat = *m / first_correction;
            let v_hat = *v / second_correction;
            *p -= LEARNING_RATE * m_hat / (v_hat.sqrt() + EPSILON);
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::Rng;

    use super::*;

    /// `count` codes in `dims` dimensions around one centre per class, with their labels.
    fn clusters(
        count: usize,
        dims: usize,
        classes: u8,
        spread: f32,
        seed: u64,
    ) -> (Vec<f32>, Vec<u8>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut codes = Vec::with_capacity(count * dims);
        let mut labels = Vec::with_capacity(count);
        for i in 0..count {
            let label = (i % usize::from(classes)) as u8;
            // Class c is centred at 5 on axis c (mod dims) and 0 on the others.
            codes.extend((0..dims).map(|d| {
                let centre = if d == usize::from(label) % dims {
                    5.0
                } else {
                    0.0
                };
                centre + spread * rng.random_range(-1.0..1.0)
            }));
            labels.push(label);
        }
        (codes, labels)
    }

    #[test]
    fn separable_clusters_are_classified_perfectly() {
        let (train, train_labels) = clusters(600, 4, 3, 1.0, 1);
        let (test, test_labels) = clusters(300, 4, 3, 1.0, 2);
        let accuracy = probe_accuracy(&train, &train_labels, &test, &test_labels, 4, 0);
        assert_eq!(accuracy, 1.0);
    }

    #[test]
    fn labels_independent_of_codes_give_chance() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut random_split = |count: usize| {
            let codes: Vec<f32> = (0..count * 8)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect();
            let labels: Vec<u8> = (0..count).map(|_| u8::from(rng.random_bool(0.5))).collect();
            (codes, labels)
        };
        let (train, train_labels) = random_split(2000);
        let (test, test_labels) = random_split(2000);
        let accuracy = probe_accuracy(&train, &train_labels, &test, &test_labels, 8, 0);
        assert!((0.3..0.7).contains(&accuracy), "accuracy {accuracy}");
    }

    #[test]
    fn same_seed_gives_same_accuracy() {
        // Overlapping clusters, so the accuracy is neither 0 nor 1 and reflects training.
        let (train, train_labels) = clusters(600, 8, 6, 4.0, 3);
        let (test, test_labels) = clusters(600, 8, 6, 4.0, 4);
        let run = |seed| probe_accuracy(&train, &train_labels, &test, &test_labels, 8, seed);
        let first = run(9);
        assert_eq!(first, run(9));
        assert!(first > 0.4 && first < 1.0, "accuracy {first}");
    }

    #[test]
    fn seed_drives_the_shuffle() {
        let (codes, labels) = clusters(600, 8, 6, 4.0, 6);
        let rows = Standardiser::fit(&codes, 8).apply(&codes);
        let parameters = |seed| Softmax::train(&rows, &labels, 8, 6, seed).parameters;
        assert_eq!(parameters(1), parameters(1));
        assert_ne!(parameters(1), parameters(2));
    }

    #[test]
    fn standardiser_centres_and_scales() {
        let codes = [1.0_f32, 10.0, 3.0, 10.0];
        let standardiser = Standardiser::fit(&codes, 2);
        assert_eq!(standardiser.mean, vec![2.0, 10.0]);
        assert_eq!(standardiser.std, vec![1.0, STD_FLOOR]);
        assert_eq!(standardiser.apply(&codes), vec![-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn softmax_probabilities_of_known_logits() {
        let mut logits = [0.0, 2.0_f64.ln(), 1000.0];
        softmax_in_place(&mut logits);
        assert!((logits[2] - 1.0).abs() < 1e-12 && logits[0] >= 0.0);
        let mut logits = [0.0, 3.0_f64.ln()];
        softmax_in_place(&mut logits);
        assert!((logits[0] - 0.25).abs() < 1e-12 && (logits[1] - 0.75).abs() < 1e-12);
    }

    #[test]
    fn gradient_matches_finite_differences() {
        // Above nalgebra's small-matrix threshold (5), so `gemm` runs matrixmultiply, and
        // below it, so `gemm` runs its fallback.
        check_gradient(7, 6, 8);
        check_gradient(3, 2, 4);
    }

    /// Compares the analytic gradient with central differences of [`loss`].
    fn check_gradient(dims: usize, classes: usize, count: usize) {
        let rows: Vec<f64> = (0..count * dims).map(|i| (0.37 * i as f64).sin()).collect();
        let labels: Vec<u8> = (0..count).map(|i| (i * 5 % classes) as u8).collect();
        let parameter_count = dims * classes + classes;
        let mut model = Softmax {
            dims,
            classes,
            parameters: (0..parameter_count)
                .map(|i| (0.91 * i as f64).cos())
                .collect(),
        };
        let mut gradient = vec![0.0; parameter_count];
        model.gradient(&rows, &labels, &mut gradient, &mut Vec::new());
        let step = 1e-6;
        for (i, &analytic) in gradient.iter().enumerate() {
            let original = model.parameters[i];
            model.parameters[i] = original + step;
            let up = loss(&model, &rows, &labels);
            model.parameters[i] = original - step;
            let down = loss(&model, &rows, &labels);
            model.parameters[i] = original;
            let numeric = (up - down) / (2.0 * step);
            assert!(
                (numeric - analytic).abs() < 1e-7,
                "parameter {i}: {numeric} vs {analytic}"
            );
        }
    }

    #[test]
    fn logits_are_rows_times_weights_plus_bias() {
        let (dims, classes) = (6, 7);
        let rows: Vec<f64> = (0..8 * dims)
            .map(|i| f64::from(i as u8 % 5) - 2.0)
            .collect();
        let parameters: Vec<f64> = (0..dims * classes + classes)
            .map(|i| f64::from(i as u8 % 3))
            .collect();
        let model = Softmax {
            dims,
            classes,
            parameters,
        };
        let mut logits = Vec::new();
        model.logits(&rows, &mut logits);
        for (row, z) in rows.chunks_exact(dims).zip(logits.chunks_exact(classes)) {
            for (class, &value) in z.iter().enumerate() {
                let bias = model.parameters[dims * classes + class];
                let expected: f64 = bias
                    + (0..dims)
                        .map(|d| row[d] * model.parameters[d * classes + class])
                        .sum::<f64>();
                assert_eq!(value, expected);
            }
        }
    }

    /// Mean cross-entropy plus the L2 penalty, the objective the gradient is of.
    fn loss(model: &Softmax, rows: &[f64], labels: &[u8]) -> f64 {
        let mut logits = Vec::new();
        model.logits(rows, &mut logits);
        let cross_entropy: f64 = logits
            .chunks_exact(model.classes)
            .zip(labels)
            .map(|(row, &label)| {
                let log_sum = row.iter().map(|z| z.exp()).sum::<f64>().ln();
                log_sum - row[usize::from(label)]
            })
            .sum::<f64>()
            / labels.len() as f64;
        let weights = &model.parameters[..model.dims * model.classes];
        cross_entropy + L2 / 2.0 * weights.iter().map(|w| w * w).sum::<f64>()
    }
}
