//! How much each setting of a sweep matters to its objective: the permutation importance of a
//! random forest fitted to the runs (Breiman 2001, "Random Forests", section 10).
//!
//! The forest regresses the objective on the settings: [`TREES`] CART trees, each grown on a
//! bootstrap sample of the runs until a node holds fewer than [`MIN_SPLIT`] runs or cannot
//! reduce the squared error, splitting at the midpoint between two consecutive values of the
//! feature and threshold that reduce it most. A setting's importance is how much the forest's
//! squared error on each tree's out-of-bag runs grows when that setting's values are shuffled
//! among them, averaged over the trees; importances are clipped at zero and scaled to sum to
//! one. Categorical settings enter as their category's index, which a tree can still separate
//! with enough splits. This is not Optuna's default evaluator (fANOVA, which decomposes the
//! forest's variance); both rank the settings by what the forest learned of them.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Trees of the forest.
pub const TREES: usize = 64;
/// A node with fewer runs is a leaf.
pub const MIN_SPLIT: usize = 4;

/// One node of a regression tree, in a flat vector (children after their parent).
#[derive(Debug, Clone, Copy)]
enum Node {
    /// Runs with `feature <= threshold` go to `left`, the others to `right`.
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
    },
    /// The mean objective of the runs that reached it.
    Leaf(f64),
}

/// The importance of each of `features`'s columns for `targets`, summing to one (all zero
/// when nothing the forest learned depends on any column). `features` holds one row per run.
///
/// # Panics
/// If the rows differ in length or their count is not the targets'.
pub fn permutation_importance(features: &[Vec<f64>], targets: &[f64], seed: u64) -> Vec<f64> {
    assert_eq!(
        features.len(),
        targets.len(),
        "one row of features per target"
    );
    let columns = features.first().map_or(0, Vec::len);
    assert!(
        features.iter().all(|row| row.len() == columns),
        "rows of one length"
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows = features.len();
    let mut growth = vec![0.0; columns];
    for _ in 0..TREES {
        let drawn: Vec<usize> = (0..rows).map(|_| rng.random_range(0..rows)).collect();
        let mut in_bag = vec![false; rows];
        for &row in &drawn {
            in_bag[row] = true;
        }
        let out_of_bag: Vec<usize> = (0..rows).filter(|&row| !in_bag[row]).collect();
        if out_of_bag.len() < 2 {
            continue;
        }
        let tree = grow(features, targets, drawn);
        // The squared error of the out-of-bag runs, each with `column`'s value taken from
        // the run at the same place of `donors`.
        let error = |column: usize, donors: &[usize]| -> f64 {
            let mut values = Vec::new();
            (out_of_bag.iter().zip(donors))
                .map(|(&row, &donor)| {
                    values.clone_from(&features[row]);
                    values[column] = features[donor][column];
                    (predict(&tree, &values) - targets[row]).powi(2)
                })
                .sum::<f64>()
                / out_of_bag.len() as f64
        };
        for (column, grown) in growth.iter_mut().enumerate() {
            let mut donors = out_of_bag.clone();
            let baseline = error(column, &donors);
            donors.shuffle(&mut rng);
            *grown += error(column, &donors) - baseline;
        }
    }
    let clipped: Vec<f64> = growth.iter().map(|g| g.max(0.0)).collect();
    let total: f64 = clipped.iter().sum();
    if total > 0.0 {
        clipped.iter().map(|g| g / total).collect()
    } else {
        vec![0.0; columns]
    }
}

/// A regression tree grown on the runs `rows` (a bootstrap sample, repeats allowed).
fn grow(features: &[Vec<f64>], targets: &[f64], rows: Vec<usize>) -> Vec<Node> {
    let mut tree = Vec::new();
    let mut pending = vec![(rows, None::<(usize, bool)>)];
    while let Some((rows, parent)) = pending.pop() {
        let at = tree.len();
        if let Some((parent, left)) = parent
            && let Node::Split {
                left: l, right: r, ..
            } = &mut tree[parent]
        {
            *(if left { l } else { r }) = at;
        }
        let mean = rows.iter().map(|&row| targets[row]).sum::<f64>() / rows.len() as f64;
        let split = (rows.len() >= MIN_SPLIT)
            .then(|| best_split(features, targets, &rows))
            .flatten();
        match split {
            Some((feature, threshold)) => {
                tree.push(Node::Split {
                    feature,
                    threshold,
                    left: 0,
                    right: 0,
                });
                let (low, high): (Vec<usize>, Vec<usize>) = rows
                    .iter()
                    .partition(|&&row| features[row][feature] <= threshold);
                pending.push((high, Some((at, false))));
                pending.push((low, Some((at, true))));
            }
            _ => tree.push(Node::Leaf(mean)),
        }
    }
    tree
}

/// The feature and threshold whose split of `rows` reduces the squared error most, if any
/// does.
fn best_split(features: &[Vec<f64>], targets: &[f64], rows: &[usize]) -> Option<(usize, f64)> {
    let columns = features[rows[0]].len();
    let total: f64 = rows.iter().map(|&row| targets[row]).sum();
    let count = rows.len() as f64;
    // Minimising the squared error is maximising Σ²/n over the two sides; a split must gain
    // more than rounding does.
    let mut best = (total * total / count * (1.0 + 1e-12), None);
    for column in 0..columns {
        let mut sorted: Vec<(f64, f64)> = (rows.iter())
            .map(|&row| (features[row][column], targets[row]))
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut left = 0.0;
        for k in 1..sorted.len() {
            left += sorted[k - 1].1;
            if sorted[k].0 == sorted[k - 1].0 {
                continue;
            }
            let (n_left, n_right) = (k as f64, count - k as f64);
            let score = left * left / n_left + (total - left).powi(2) / n_right;
            if score > best.0 {
                best = (score, Some((column, (sorted[k - 1].0 + sorted[k].0) / 2.0)));
            }
        }
    }
    best.1
}

/// The tree's prediction for one row of features.
fn predict(tree: &[Node], row: &[f64]) -> f64 {
    let mut at = 0;
    loop {
        match tree[at] {
            Node::Leaf(value) => return value,
            Node::Split {
                feature,
                threshold,
                left,
                right,
            } => {
                at = if row[feature] <= threshold {
                    left
                } else {
                    right
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 60 runs of three settings, the first a learning rate on a log scale, the third a
    /// category index; the objective `f` of a row.
    fn runs(f: impl Fn(&[f64]) -> f64) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let features: Vec<Vec<f64>> = (0..60)
            .map(|_| {
                vec![
                    10f64.powf(rng.random_range(-5.0..-1.0)),
                    rng.random_range(0.0..1.0),
                    f64::from(rng.random_range(0..3u8)),
                ]
            })
            .collect();
        let targets = features.iter().map(|row| f(row)).collect();
        (features, targets)
    }

    #[test]
    fn the_setting_the_objective_depends_on_takes_the_importance() {
        let (features, targets) = runs(|row| (row[0].log10() + 3.0).powi(2));
        let importance = permutation_importance(&features, &targets, 7);
        assert!((importance.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(importance[0] > 0.9, "{importance:?}");
    }

    #[test]
    fn a_category_and_a_number_that_matter_both_rank_above_noise() {
        let (features, targets) = runs(|row| 2.0 * row[1] + [0.0, 1.5, 0.5][row[2] as usize]);
        let importance = permutation_importance(&features, &targets, 7);
        assert!(
            importance[1] > 5.0 * importance[0] && importance[2] > 5.0 * importance[0],
            "{importance:?}"
        );
    }

    #[test]
    fn a_constant_objective_gives_no_setting_importance() {
        let (features, targets) = runs(|_| 0.25);
        assert_eq!(permutation_importance(&features, &targets, 7), vec![0.0; 3]);
    }

    #[test]
    fn a_tree_fits_a_step_exactly() {
        let features: Vec<Vec<f64>> = (0..8).map(|i| vec![f64::from(i)]).collect();
        let targets: Vec<f64> = (0..8).map(|i| if i < 5 { 1.0 } else { 3.0 }).collect();
        let tree = grow(&features, &targets, (0..8).collect());
        for (row, target) in features.iter().zip(&targets) {
            assert_eq!(predict(&tree, row), *target);
        }
        assert!(matches!(tree[0], Node::Split { threshold, .. } if threshold == 4.5));
    }
}
