//! Anomaly-detection measures: how well per-example scores rank anomalies above normal
//! examples.
//!
//! Every function takes `scores` (higher = more anomalous) and `labels` (`true` = anomaly) of
//! the same length. Scores are ordered with [`f64::total_cmp`], so a NaN score ranks above
//! every number. Equal scores form one tie group: the threshold either takes all of them or
//! none, as in scikit-learn.

/// A receiver operating characteristic curve, one point per distinct threshold.
///
/// Point `i` classifies every example with `score >= thresholds[i]` as an anomaly. The first
/// point is (0, 0) with threshold `+inf`; the last is (1, 1) at the lowest score. This is
/// scikit-learn's `roc_curve` with `drop_intermediate=False`.
#[derive(Debug, Clone, PartialEq)]
pub struct RocCurve {
    /// Fraction of normal examples flagged at each threshold (NaN without normal examples).
    pub false_positive_rate: Vec<f64>,
    /// Fraction of anomalies flagged at each threshold (NaN without anomalies).
    pub true_positive_rate: Vec<f64>,
    /// The thresholds, descending, starting with `+inf`.
    pub thresholds: Vec<f64>,
}

/// Cumulative counts after taking one more tie group, walking the scores downwards.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// The score shared by the tie group.
    threshold: f64,
    /// Anomalies with a score at or above `threshold`.
    true_positives: usize,
    /// Normal examples with a score at or above `threshold`.
    false_positives: usize,
}

/// The tie groups of `scores` in descending order, with cumulative counts.
///
/// # Panics
/// If `scores` and `labels` differ in length.
fn descending_steps(scores: &[f64], labels: &[bool]) -> Vec<Step> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "scores and labels must have the same length"
    );
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut steps: Vec<Step> = Vec::new();
    let (mut true_positives, mut false_positives) = (0, 0);
    for (position, &index) in order.iter().enumerate() {
        if labels[index] {
            true_positives += 1;
        } else {
            false_positives += 1;
        }
        let group_ends = order
            .get(position + 1)
            .is_none_or(|&next| scores[next].total_cmp(&scores[index]).is_ne());
        if group_ends {
            steps.push(Step {
                threshold: scores[index],
                true_positives,
                false_positives,
            });
        }
    }
    steps
}

/// Anomalies and normal examples in `labels`.
fn class_counts(labels: &[bool]) -> (usize, usize) {
    let anomalies = labels.iter().filter(|&&label| label).count();
    (anomalies, labels.len() - anomalies)
}

/// The ROC curve of `scores` against `labels`, one point per distinct score.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> RocCurve {
    let steps = descending_steps(scores, labels);
    let (anomalies, normals) = class_counts(labels);
    let mut curve = RocCurve {
        false_positive_rate: vec![0.0],
        true_positive_rate: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for step in steps {
        curve
            .false_positive_rate
            .push(step.false_positives as f64 / normals as f64);
        curve
            .true_positive_rate
            .push(step.true_positives as f64 / anomalies as f64);
        curve.thresholds.push(step.threshold);
    }
    curve
}

/// Area under the ROC curve: the probability that a random anomaly scores above a random
/// normal example, ties counted 1/2 (the Mann–Whitney U statistic over the product of the
/// class sizes). Equals the trapezoid area under [`roc_curve`].
///
/// Returns NaN when either class is absent.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn auroc(scores: &[f64], labels: &[bool]) -> f64 {
    let (anomalies, normals) = class_counts(labels);
    if anomalies == 0 || normals == 0 {
        return f64::NAN;
    }
    // Twice U, so that the half counted for each tie stays an integer.
    let mut twice_u = 0_usize;
    let (mut true_positives, mut false_positives) = (0, 0);
    for step in descending_steps(scores, labels) {
        let new_anomalies = step.true_positives - true_positives;
        let new_normals = step.false_positives - false_positives;
        // Each normal example of this group is beaten by every anomaly above the group and
        // ties with each anomaly inside it.
        twice_u += new_normals * (2 * true_positives + new_anomalies);
        (true_positives, false_positives) = (step.true_positives, step.false_positives);
    }
    twice_u as f64 / (2 * anomalies * normals) as f64
}

/// Average precision, the area under the precision–recall curve as scikit-learn's
/// `average_precision_score` computes it: `Σ (R_n − R_{n−1}) P_n` over the distinct
/// thresholds, with recall `R` and precision `P` at threshold `n`.
///
/// Returns NaN without anomalies.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn average_precision(scores: &[f64], labels: &[bool]) -> f64 {
    let (anomalies, _) = class_counts(labels);
    if anomalies == 0 {
        return f64::NAN;
    }
    let mut sum = 0.0;
    let mut previous_true_positives = 0;
    for step in descending_steps(scores, labels) {
        let recall_gain = (step.true_positives - previous_true_positives) as f64 / anomalies as f64;
        let precision =
            step.true_positives as f64 / (step.true_positives + step.false_positives) as f64;
        sum += recall_gain * precision;
        previous_true_positives = step.true_positives;
    }
    // Rounding in the sum can pass 1 (nine anomalies ranked first: 1.0000000000000002).
    sum.clamp(0.0, 1.0)
}

/// The 1-based rank, in descending score order, of the highest-scoring anomaly; `None`
/// without anomalies.
///
/// Ties are broken pessimistically: every normal example scoring at least as high as the
/// best anomaly counts as ranked ahead of it, so rank 1 means the best anomaly beats every
/// normal example outright.
///
/// # Panics
/// If `scores` and `labels` differ in length.
pub fn best_anomaly_rank(scores: &[f64], labels: &[bool]) -> Option<usize> {
    assert_eq!(
        scores.len(),
        labels.len(),
        "scores and labels must have the same length"
    );
    let best = scores
        .iter()
        .zip(labels)
        .filter(|&(_, &label)| label)
        .map(|(&score, _)| score)
        .max_by(f64::total_cmp)?;
    let ahead = scores
        .iter()
        .zip(labels)
        .filter(|&(&score, &label)| !label && score.total_cmp(&best).is_ge())
        .count();
    Some(ahead + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: bool = false;
    const T: bool = true;

    /// The hand-computed mixed case: descending order is 0.8 (T), 0.4 (F), 0.35 (T), 0.1 (F).
    const MIXED_SCORES: [f64; 4] = [0.1, 0.4, 0.35, 0.8];
    const MIXED_LABELS: [bool; 4] = [F, F, T, T];

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-12,
            "expected {expected}, got {actual}"
        );
    }

    /// Trapezoid area under a ROC curve.
    fn trapezoid_area(curve: &RocCurve) -> f64 {
        let x = &curve.false_positive_rate;
        let y = &curve.true_positive_rate;
        (1..x.len())
            .map(|i| (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0)
            .sum()
    }

    #[test]
    fn a_perfect_ranking_whose_sum_rounds_above_one_scores_exactly_one() {
        // Nine anomalies at distinct scores: nine recall gains of 1/9 sum to 1 + 2^-52.
        let scores: Vec<f64> = (0..12).map(|i| 12.0 - f64::from(i)).collect();
        let labels: Vec<bool> = (0..12).map(|i| i < 9).collect();
        assert_eq!(average_precision(&scores, &labels), 1.0);
    }

    #[test]
    fn perfect_ranking_scores_one() {
        let scores = [0.9, 0.8, 0.3, 0.1, 0.2];
        let labels = [T, T, F, F, F];
        assert_close(auroc(&scores, &labels), 1.0);
        assert_close(average_precision(&scores, &labels), 1.0);
        assert_eq!(best_anomaly_rank(&scores, &labels), Some(1));
    }

    #[test]
    fn reversed_ranking_scores_zero() {
        let scores = [0.1, 0.2, 0.8, 0.9];
        let labels = [T, T, F, F];
        assert_close(auroc(&scores, &labels), 0.0);
        // Both anomalies come last: P = 1/3 at R = 1/2 and P = 2/4 at R = 1.
        assert_close(average_precision(&scores, &labels), 0.5 / 3.0 + 0.5 * 0.5);
        assert_eq!(best_anomaly_rank(&scores, &labels), Some(3));
    }

    #[test]
    fn all_tied_scores_half() {
        let scores = [0.5; 6];
        let labels = [T, F, F, T, F, F];
        assert_close(auroc(&scores, &labels), 0.5);
        // One threshold takes everything: recall 1 at precision 2/6.
        assert_close(average_precision(&scores, &labels), 2.0 / 6.0);
        let curve = roc_curve(&scores, &labels);
        assert_eq!(curve.false_positive_rate, vec![0.0, 1.0]);
        assert_eq!(curve.true_positive_rate, vec![0.0, 1.0]);
    }

    #[test]
    fn mixed_case_matches_hand_computation() {
        // U counts anomaly-beats-normal pairs: 0.8 beats both, 0.35 beats 0.1 only → 3 of 4.
        assert_close(auroc(&MIXED_SCORES, &MIXED_LABELS), 0.75);
        // Recall 1/2 at precision 1, then recall 1 at precision 2/3.
        assert_close(
            average_precision(&MIXED_SCORES, &MIXED_LABELS),
            0.5 + 0.5 * 2.0 / 3.0,
        );
    }

    #[test]
    fn roc_curve_of_mixed_case() {
        let curve = roc_curve(&MIXED_SCORES, &MIXED_LABELS);
        assert_eq!(curve.thresholds, vec![f64::INFINITY, 0.8, 0.4, 0.35, 0.1]);
        assert_eq!(curve.false_positive_rate, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
        assert_eq!(curve.true_positive_rate, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
    }

    #[test]
    fn ties_form_one_roc_step() {
        let scores = [0.7, 0.7, 0.7, 0.2];
        let labels = [T, F, T, F];
        let curve = roc_curve(&scores, &labels);
        assert_eq!(curve.thresholds, vec![f64::INFINITY, 0.7, 0.2]);
        assert_eq!(curve.false_positive_rate, vec![0.0, 0.5, 1.0]);
        assert_eq!(curve.true_positive_rate, vec![0.0, 1.0, 1.0]);
        // Pairs: each anomaly ties 0.7 (1/2) and beats 0.2 (1) → (2 × 1.5) / 4.
        assert_close(auroc(&scores, &labels), 0.75);
    }

    #[test]
    fn auroc_equals_trapezoid_area_under_roc_curve() {
        let scores = [0.3, 0.3, 0.9, 0.1, 0.5, 0.5, 0.5, 0.7, 0.2, 0.3];
        let labels = [T, F, T, F, F, T, F, T, F, F];
        let from_curve = trapezoid_area(&roc_curve(&scores, &labels));
        assert_close(auroc(&scores, &labels), from_curve);
        let mixed_curve = roc_curve(&MIXED_SCORES, &MIXED_LABELS);
        assert_close(
            auroc(&MIXED_SCORES, &MIXED_LABELS),
            trapezoid_area(&mixed_curve),
        );
    }

    #[test]
    fn one_class_only_gives_nan() {
        assert!(auroc(&[0.1, 0.2], &[T, T]).is_nan());
        assert!(auroc(&[0.1, 0.2], &[F, F]).is_nan());
        assert!(average_precision(&[0.1, 0.2], &[F, F]).is_nan());
        assert_close(average_precision(&[0.1, 0.2], &[T, T]), 1.0);
    }

    #[test]
    fn best_anomaly_rank_counts_normals_ahead() {
        assert_eq!(best_anomaly_rank(&MIXED_SCORES, &MIXED_LABELS), Some(1));
        let scores = [0.9, 0.8, 0.6, 0.7, 0.1];
        let labels = [F, F, T, F, T];
        assert_eq!(best_anomaly_rank(&scores, &labels), Some(4));
        assert_eq!(best_anomaly_rank(&scores, &[F; 5]), None);
    }

    #[test]
    fn best_anomaly_rank_is_pessimistic_on_ties() {
        let scores = [0.5, 0.5, 0.5, 0.2];
        let labels = [F, T, F, T];
        assert_eq!(best_anomaly_rank(&scores, &labels), Some(3));
    }
}
