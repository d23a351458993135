//! Isolation Forest (Liu, Ting and Zhou 2008): random trees that split on a random feature at
//! a random value until each row stands alone; anomalies, few and different, are isolated in
//! fewer splits.
//!
//! Built as scikit-learn's `IsolationForest` (which PyOD's `IForest` wraps) builds it: each
//! tree draws `min(256, rows)` training rows without replacement and grows to depth
//! `⌈log2(subsample)⌉`; a node splits on a feature drawn at random among those not constant
//! in it, at a threshold drawn uniformly between the feature's least and greatest value there
//! (rows `<=` the threshold go left); a node stops at the depth limit, with one row, or when
//! every feature is constant. A row's path length is the depth of the leaf it lands in plus
//! the expected depth `c(n)` of an unbuilt tree of the leaf's `n` rows; its score is
//! `2^(−mean path length / c(subsample))`, in (0, 1], higher for rows isolated sooner.
//!
//! The random draws come from one seeded generator, so a forest is a function of its seed;
//! they are not scikit-learn's draws, so the scores match it in distribution, not row by row.

use rand::seq::index::sample;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Trees of the forest, as in the paper and scikit-learn.
pub const TREES: usize = 100;
/// Rows each tree is grown on, as in the paper and scikit-learn.
pub const SUBSAMPLE: usize = 256;

/// A fitted Isolation Forest.
#[derive(Debug, Clone)]
pub struct IsolationForest {
    trees: Vec<Vec<Node>>,
    features: usize,
    /// `c(subsample)`, the normaliser of the mean path length.
    expected_path: f64,
}

/// One node of a tree, stored in a flat vector (children after their parent).
#[derive(Debug, Clone, Copy)]
enum Node {
    /// Rows with `feature <= threshold` go to `left`, the others to `left + 1`.
    Split {
        feature: usize,
        threshold: f32,
        left: usize,
    },
    /// A leaf at `depth` holding `rows` training rows.
    Leaf { depth: usize, rows: usize },
}

impl IsolationForest {
    /// Grows [`TREES`] trees on subsamples of [`SUBSAMPLE`] rows of `train` (all of them when
    /// there are fewer).
    ///
    /// # Panics
    /// If `features` is zero, `train` is not a whole number of rows, or it has no row.
    pub fn fit(train: &[f32], features: usize, seed: u64) -> IsolationForest {
        assert!(
            features > 0 && train.len().is_multiple_of(features) && !train.is_empty(),
            "an isolation forest needs whole rows of {features} features, at least one"
        );
        let rows: Vec<&[f32]> = train.chunks_exact(features).collect();
        let subsample = rows.len().min(SUBSAMPLE);
        let max_depth = subsample.max(2).next_power_of_two().trailing_zeros() as usize;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let trees = (0..TREES)
            .map(|_| {
                let mut chosen: Vec<&[f32]> = sample(&mut rng, rows.len(), subsample)
                    .into_iter()
                    .map(|i| rows[i])
                    .collect();
                let mut tree = vec![EMPTY];
                grow(&mut tree, 0, &mut chosen, 0, max_depth, &mut rng);
                tree
            })
            .collect();
        IsolationForest {
            trees,
            features,
            expected_path: expected_path_length(subsample),
        }
    }

    /// The anomaly score of each row of `rows`, in (0, 1].
    ///
    /// # Panics
    /// If `rows` is not a whole number of rows of the fitted features.
    pub fn scores(&self, rows: &[f32]) -> Vec<f64> {
        assert!(
            rows.len().is_multiple_of(self.features),
            "rows must hold a whole number of rows of {} features",
            self.features
        );
        rows.chunks_exact(self.features)
            .map(|row| {
                let total: f64 = self.trees.iter().map(|tree| path_length(tree, row)).sum();
                let mean = total / self.trees.len() as f64;
                if self.expected_path > 0.0 {
                    2f64.powf(-mean / self.expected_path)
                } else {
                    1.0
                }
            })
            .collect()
    }
}

/// Grows the subtree of `rows` at `depth` into `tree[slot]` (and the slots it appends).
fn grow(
    tree: &mut Vec<Node>,
    slot: usize,
    rows: &mut [&[f32]],
    depth: usize,
    max_depth: usize,
    rng: &mut ChaCha8Rng,
) {
    let split = (depth < max_depth && rows.len() > 1)
        .then(|| random_split(rows, rng))
        .flatten();
    let Some((feature, threshold)) = split else {
        tree[slot] = Node::Leaf {
            depth,
            rows: rows.len(),
        };
        return;
    };
    let mut left_count = 0;
    for i in 0..rows.len() {
        if rows[i][feature] <= threshold {
            rows.swap(i, left_count);
            left_count += 1;
        }
    }
    let (left_rows, right_rows) = rows.split_at_mut(left_count);
    let left = tree.len();
    tree[slot] = Node::Split {
        feature,
        threshold,
        left,
    };
    tree.extend([EMPTY; 2]);
    grow(tree, left, left_rows, depth + 1, max_depth, rng);
    grow(tree, left + 1, right_rows, depth + 1, max_depth, rng);
}

/// A slot not yet grown.
const EMPTY: Node = Node::Leaf { depth: 0, rows: 0 };

/// A feature not constant over `rows`, drawn at random, and a threshold drawn uniformly
/// between its least and greatest value; `None` when every feature is constant.
fn random_split(rows: &[&[f32]], rng: &mut ChaCha8Rng) -> Option<(usize, f32)> {
    let features = rows[0].len();
    let mut candidates: Vec<usize> = (0..features).collect();
    while !candidates.is_empty() {
        let feature = candidates.swap_remove(rng.random_range(0..candidates.len()));
        let (low, high) = rows
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), r| {
                (l.min(r[feature]), h.max(r[feature]))
            });
        if low < high {
            // Interpolated rather than `low + u (high − low)`, whose difference can overflow.
            let u: f32 = rng.random();
            let threshold = low * (1.0 - u) + high * u;
            // Rounding can reach `high`, which would send every row left (as scikit-learn).
            return Some((feature, if threshold < high { threshold } else { low }));
        }
    }
    None
}

/// The depth at which `row` leaves `tree`, plus the expected depth of the rows left at its
/// leaf.
fn path_length(tree: &[Node], row: &[f32]) -> f64 {
    let mut node = 0;
    loop {
        match tree[node] {
            Node::Split {
                feature,
                threshold,
                left,
            } => {
                node = if row[feature] <= threshold {
                    left
                } else {
                    left + 1
                }
            }
            Node::Leaf { depth, rows } => return depth as f64 + expected_path_length(rows),
        }
    }
}

/// `c(n)`, the mean depth at which a binary search tree of `n` rows isolates one:
/// `2 H(n − 1) − 2 (n − 1) / n`, with the harmonic number `H(i) ≈ ln i + γ`; 0 for one row
/// and 1 for two, as in scikit-learn.
fn expected_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// The Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auroc;

    #[test]
    fn expected_path_length_matches_scikit_learn() {
        // sklearn.ensemble._iforest._average_path_length([1, 2, 3, 256]) in float64.
        assert_eq!(expected_path_length(1), 0.0);
        assert_eq!(expected_path_length(2), 1.0);
        assert!((expected_path_length(3) - 1.207_392_357_589_623).abs() < 1e-12);
        assert!((expected_path_length(256) - 10.244_770_920_119_917).abs() < 1e-12);
    }

    #[test]
    fn a_point_far_from_a_cluster_scores_highest_and_above_one_half() {
        let cluster: Vec<f32> = (0..500)
            .flat_map(|i| [((i * 31) % 97) as f32 / 97.0, ((i * 17) % 89) as f32 / 89.0])
            .collect();
        let forest = IsolationForest::fit(&cluster, 2, 1);
        let scores = forest.scores(&[0.5, 0.5, 0.4, 0.6, 8.0, -6.0]);
        assert!(scores[2] > scores[0] && scores[2] > scores[1], "{scores:?}");
        assert!(scores[2] > 0.6 && scores[0] < 0.5, "{scores:?}");
    }

    #[test]
    fn trees_isolate_every_row_within_the_depth_limit() {
        let rows: Vec<f32> = (0..300).map(|i| i as f32).collect();
        let forest = IsolationForest::fit(&rows, 1, 3);
        for tree in &forest.trees {
            let mut training_rows = 0;
            for node in tree {
                if let Node::Leaf { depth, rows } = *node {
                    assert!(depth <= 8, "⌈log2 256⌉ = 8, got {depth}");
                    training_rows += rows;
                }
            }
            assert_eq!(
                training_rows, SUBSAMPLE,
                "every subsampled row reaches one leaf"
            );
        }
    }

    #[test]
    fn constant_rows_form_one_leaf_and_score_one_half_or_more() {
        // Every row equal: no split, one leaf of 10 rows, path c(10) = c(subsample): score 1/2.
        let rows = vec![1.0_f32; 20];
        let forest = IsolationForest::fit(&rows, 2, 0);
        assert!(forest.trees.iter().all(|t| t.len() == 1));
        let score = forest.scores(&[1.0, 1.0])[0];
        assert!((score - 0.5).abs() < 1e-12, "{score}");
    }

    #[test]
    fn same_seed_same_forest_and_it_ranks_planted_outliers_first() {
        let mut rows: Vec<f32> = (0..1_000)
            .flat_map(|i| {
                let t = i as f32 / 1_000.0;
                [t, (t * 6.0).sin(), t * t]
            })
            .collect();
        let mut anomalous = vec![false; 1_000];
        for i in (0..1_000).step_by(50) {
            rows[3 * i + 1] += 3.0;
            anomalous[i] = true;
        }
        let scores = IsolationForest::fit(&rows, 3, 42).scores(&rows);
        assert_eq!(scores, IsolationForest::fit(&rows, 3, 42).scores(&rows));
        assert!(
            auroc(&scores, &anomalous) > 0.99,
            "{}",
            auroc(&scores, &anomalous)
        );
    }
}
