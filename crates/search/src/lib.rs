//! Model-based hyperparameter search: the Tree-structured Parzen Estimator (Bergstra, Bardenet,
//! Bengio and Kégl 2011, "Algorithms for Hyper-Parameter Optimization"), as Optuna's
//! `TPESampler` implements it with its default settings; and for several objectives NSGA-II
//! ([`nsga2`]).
//!
//! The first [`STARTUP_TRIALS`] configurations are drawn at random. After them, the finished
//! trials are split into the best `γ(n) = min(⌈n / 10⌉, 25)` ("below") and the rest
//! ("above"); each group gets a Parzen estimator, a mixture with a kernel per trial and one for
//! the prior, and the proposal is, of [`CANDIDATES`] configurations drawn from the "below"
//! mixture, the one maximising `l(x) / g(x)`, the density ratio that orders configurations as
//! expected improvement does. As in Optuna's default for one objective (`multivariate`), a
//! kernel is a product over the parameters, so the estimators see how parameters go together:
//! - a number is searched on its range (log ranges in their logarithm, integers on
//!   `[low − ½, high + ½]`, each integer weighing its cell); a trial's factor is a normal
//!   truncated to the range, centred on the trial's value, its width the larger gap to its
//!   neighbours among the sorted values and the range's ends (the ends counted only beside the
//!   outermost), clipped to `[range / min(100, n + 2), range]` (the "magic clip"); the prior's
//!   factor is centred on the range and as wide;
//! - a categorical parameter's factor puts `prior_weight / (n + 1)` on every choice and one
//!   more on the trial's choice, normalised; the prior's factor is uniform;
//! - trials weigh equally up to 25 of them; beyond, the older ones weigh less, linearly from
//!   `1 / n` (Optuna's `default_weights`); the prior weighs one trial.
//!
//! Pruned trials rank after every completed one, those pruned later first (Optuna's order), so
//! that they land in "above". Trials still running join "above" too (Optuna's constant liar),
//! so a batch of proposals spreads instead of repeating one point. Every draw comes from a
//! generator seeded by the caller, so proposals are a function of the seed and the trials.
//!
//! Where this differs from Optuna 5.1's `TPESampler()`: the random draws are not numpy's, so
//! searches match Optuna's in distribution, not value by value; the grouped decomposition of
//! conditional spaces (`group = True`) is not built.

pub mod functions;
pub mod nsga2;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Trials drawn at random before the estimators take over (Optuna's `n_startup_trials`).
pub const STARTUP_TRIALS: usize = 10;
/// Values drawn from the "below" estimator per proposal (Optuna's `n_ei_candidates`).
pub const CANDIDATES: usize = 24;
/// Trials beyond which older trials weigh less.
const FLAT_WEIGHTS: usize = 25;
/// Weight of the prior kernel, in trials (Optuna's `prior_weight`).
const PRIOR_WEIGHT: f64 = 1.0;

/// One dimension of a search space.
#[derive(Debug, Clone, PartialEq)]
pub enum Parameter {
    /// A real number in `[low, high]`, on a log scale when `log` (then `low > 0`).
    Float {
        /// The least value.
        low: f64,
        /// The greatest value.
        high: f64,
        /// Searched by its logarithm.
        log: bool,
    },
    /// A whole number in `[low, high]`, on a log scale when `log` (then `low > 0`).
    Int {
        /// The least value.
        low: i64,
        /// The greatest value.
        high: i64,
        /// Searched by its logarithm.
        log: bool,
    },
    /// One of `choices` unordered choices, by index.
    Categorical {
        /// How many there are.
        choices: usize,
    },
}

/// A value of a [`Parameter`]: a number (whole for integers), or a choice's index.
pub type Value = f64;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Finished with the objective's value.
    Completed(f64),
    /// Stopped early.
    Pruned {
        /// The step (epoch) it stopped at.
        step: usize,
        /// Its objective then.
        value: f64,
    },
    /// Not finished yet.
    Running,
}

/// A configuration tried and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    /// One value per parameter of the space.
    pub values: Vec<Value>,
    /// How it ended.
    pub outcome: Outcome,
}

/// Whether lower or higher objectives are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
}

/// The next configuration to try in `space`, given the `trials` so far (in the order they
/// started), drawn from a generator seeded with `seed`.
///
/// # Panics
/// If a trial's values do not fit the space.
pub fn propose(space: &[Parameter], trials: &[Trial], goal: Goal, seed: u64) -> Vec<Value> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let finished = trials
        .iter()
        .filter(|t| t.outcome != Outcome::Running)
        .count();
    if finished < STARTUP_TRIALS {
        return space.iter().map(|p| random_value(p, &mut rng)).collect();
    }
    let (below, above) = split(trials, goal);
    let l = Estimator::of(space, &below);
    let g = Estimator::of(space, &above);
    let candidates: Vec<Vec<f64>> = (0..CANDIDATES).map(|_| l.draw(&mut rng)).collect();
    let score = |x: &Vec<f64>| l.log_density(x) - g.log_density(x);
    let best = (candidates.iter()).max_by(|a, b| score(a).total_cmp(&score(b)));
    let best = best.expect("candidates are drawn");
    (l.factors.iter().zip(best))
        .map(|(factor, &x)| match factor {
            Factor::Numeric { range, .. } => range.to_value(x),
            Factor::Categorical { .. } => x,
        })
        .collect()
}

/// A value drawn uniformly from the parameter's range (log-uniformly on a log scale).
pub fn random_value(parameter: &Parameter, rng: &mut ChaCha8Rng) -> Value {
    match *parameter {
        Parameter::Categorical { choices } => rng.random_range(0..choices) as f64,
        _ => {
            let range = Range::of(parameter);
            range.to_value(rng.random_range(range.low..=range.high))
        }
    }
}

/// The trials' best `γ(n)` ("below") and the others, each in the order they started; running
/// trials join the others.
fn split(trials: &[Trial], goal: Goal) -> (Vec<&Trial>, Vec<&Trial>) {
    let sign = match goal {
        Goal::Minimize => 1.0,
        Goal::Maximize => -1.0,
    };
    // Rank: completed by value, then pruned, the later pruned first, each by value.
    let rank = |trial: &Trial| -> Option<(usize, f64)> {
        match trial.outcome {
            Outcome::Completed(value) => Some((0, sign * value)),
            Outcome::Pruned { step, value } => Some((usize::MAX - step, sign * value)),
            Outcome::Running => None,
        }
    };
    let mut ranked: Vec<(usize, (usize, f64))> = (trials.iter().enumerate())
        .filter_map(|(at, trial)| Some((at, rank(trial)?)))
        .collect();
    ranked.sort_by(|a, b| {
        (a.1.0.cmp(&b.1.0))
            .then(a.1.1.total_cmp(&b.1.1))
            .then(a.0.cmp(&b.0))
    });
    let below_count = ranked.len().div_ceil(10).min(25);
    let mut is_below = vec![false; trials.len()];
    for &(at, _) in &ranked[..below_count] {
        is_below[at] = true;
    }
    let (mut below, mut above) = (Vec::new(), Vec::new());
    for (trial, is_below) in trials.iter().zip(is_below) {
        if is_below {
            below.push(trial);
        } else {
            above.push(trial);
        }
    }
    (below, above)
}

/// Optuna's `default_weights`: equal up to [`FLAT_WEIGHTS`] trials; beyond, the older ones
/// ramp up linearly from `1 / n`.
fn trial_weights(count: usize) -> Vec<f64> {
    if count <= FLAT_WEIGHTS {
        return vec![1.0; count];
    }
    let ramp = count - FLAT_WEIGHTS;
    let step = |k: usize| {
        if ramp == 1 {
            1.0 / count as f64
        } else {
            1.0 / count as f64 + (1.0 - 1.0 / count as f64) * k as f64 / (ramp - 1) as f64
        }
    };
    (0..ramp)
        .map(step)
        .chain(std::iter::repeat_n(1.0, FLAT_WEIGHTS))
        .collect()
}

/// A Parzen estimator over the whole space: a mixture of kernels, one per trial and the
/// prior's last, each a product of one factor per parameter.
#[derive(Debug, Clone)]
struct Estimator {
    /// Each kernel's weight, summing to one.
    weights: Vec<f64>,
    /// Per parameter, every kernel's factor.
    factors: Vec<Factor>,
}

/// One parameter's factors of every kernel of an [`Estimator`].
#[derive(Debug, Clone)]
enum Factor {
    /// Truncated normals in the range's space.
    Numeric {
        range: Range,
        /// (centre, width) per kernel.
        kernels: Vec<(f64, f64)>,
    },
    /// A distribution over the choices per kernel.
    Categorical { kernels: Vec<Vec<f64>> },
}

impl Estimator {
    /// The estimator of `trials` (in the order they started) on `space`.
    fn of(space: &[Parameter], trials: &[&Trial]) -> Estimator {
        let mut weights = trial_weights(trials.len());
        weights.push(PRIOR_WEIGHT);
        let total: f64 = weights.iter().sum();
        let weights = weights.iter().map(|w| w / total).collect();
        let factors = (space.iter().enumerate())
            .map(|(at, parameter)| {
                let values: Vec<Value> = trials.iter().map(|t| t.values[at]).collect();
                match *parameter {
                    Parameter::Categorical { choices } => Factor::Categorical {
                        kernels: categorical_kernels(&values, choices),
                    },
                    _ => {
                        let range = Range::of(parameter);
                        let mus: Vec<f64> = values.iter().map(|&v| range.to_internal(v)).collect();
                        let widths = kernel_widths(&range, &mus);
                        let mut kernels: Vec<(f64, f64)> = mus.into_iter().zip(widths).collect();
                        kernels.push((0.5 * (range.low + range.high), range.width()));
                        Factor::Numeric { range, kernels }
                    }
                }
            })
            .collect();
        Estimator { weights, factors }
    }

    /// A configuration drawn from the mixture, numbers in their ranges' space (integers on
    /// their values' points).
    fn draw(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let kernel = draw_index(&self.weights, rng);
        (self.factors.iter())
            .map(|factor| match factor {
                Factor::Numeric { range, kernels } => {
                    let (mu, sigma) = kernels[kernel];
                    let x = truncated_normal(mu, sigma, range.low, range.high, rng);
                    if range.int {
                        range.to_internal(range.to_value(x))
                    } else {
                        x
                    }
                }
                Factor::Categorical { kernels } => draw_index(&kernels[kernel], rng) as f64,
            })
            .collect()
    }

    /// `log` of the mixture's density (mass, for integers and choices) at `x`.
    fn log_density(&self, x: &[f64]) -> f64 {
        let logs: Vec<f64> = (self.weights.iter().enumerate())
            .map(|(kernel, weight)| {
                let factors: f64 = (self.factors.iter().zip(x))
                    .map(|(factor, &x)| factor.log_density(kernel, x))
                    .sum();
                weight.ln() + factors
            })
            .collect();
        let largest = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if largest == f64::NEG_INFINITY {
            return largest;
        }
        largest + logs.iter().map(|l| (l - largest).exp()).sum::<f64>().ln()
    }
}

impl Factor {
    /// `log` of kernel `kernel`'s factor at `x`.
    fn log_density(&self, kernel: usize, x: f64) -> f64 {
        match self {
            Factor::Categorical { kernels } => kernels[kernel][x as usize].ln(),
            Factor::Numeric { range, kernels } => {
                let (mu, sigma) = kernels[kernel];
                let cdf = |at: f64| normal_cdf((at - mu) / sigma);
                let mass = (cdf(range.high) - cdf(range.low)).max(f64::MIN_POSITIVE);
                if range.int {
                    let value = range.to_value(x);
                    let cell = cdf(range.to_internal(value + 0.5))
                        - cdf(range.to_internal(value - 0.5).max(range.low));
                    (cell.max(f64::MIN_POSITIVE) / mass).ln()
                } else {
                    let z = (x - mu) / sigma;
                    -0.5 * z * z - (sigma * (2.0 * std::f64::consts::PI).sqrt() * mass).ln()
                }
            }
        }
    }
}

/// Each trial's distribution over the choices, then the prior's: `prior_weight / kernels` on
/// every choice and one more on the trial's, normalised.
fn categorical_kernels(observed: &[Value], choices: usize) -> Vec<Vec<f64>> {
    let kernels = observed.len() + 1;
    let base = PRIOR_WEIGHT / kernels as f64;
    let norm = 1.0 + base * choices as f64;
    let mut rows: Vec<Vec<f64>> = (observed.iter())
        .map(|&value| {
            (0..choices)
                .map(|choice| (base + if choice == value as usize { 1.0 } else { 0.0 }) / norm)
                .collect()
        })
        .collect();
    rows.push(vec![1.0 / choices as f64; choices]);
    rows
}

/// An index drawn with the given probabilities.
fn draw_index(probabilities: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut u = rng.random::<f64>() * probabilities.iter().sum::<f64>();
    for (at, &p) in probabilities.iter().enumerate() {
        if u < p {
            return at;
        }
        u -= p;
    }
    probabilities.len() - 1
}

/// A numeric parameter's range in the space the estimators work in.
#[derive(Debug, Clone, Copy)]
struct Range {
    low: f64,
    high: f64,
    log: bool,
    int: bool,
    /// The parameter's own bounds, for clamping a value back.
    bounds: (f64, f64),
}

impl Range {
    fn of(parameter: &Parameter) -> Range {
        let (low, high, log, int) = match *parameter {
            Parameter::Float { low, high, log } => (low, high, log, false),
            Parameter::Int { low, high, log } => (low as f64 - 0.5, high as f64 + 0.5, log, true),
            Parameter::Categorical { .. } => unreachable!("categorical parameters have no range"),
        };
        let bounds = match *parameter {
            Parameter::Int { low, high, .. } => (low as f64, high as f64),
            _ => (low, high),
        };
        let (low, high) = if log {
            // An integer range's half-step below 1 stays positive.
            (low.max(bounds.0 * 0.5).ln(), high.ln())
        } else {
            (low, high)
        };
        Range {
            low,
            high,
            log,
            int,
            bounds,
        }
    }

    /// A trial's value in the estimators' space.
    fn to_internal(self, value: Value) -> f64 {
        if self.log { value.ln() } else { value }
    }

    /// A point of the estimators' space as the parameter's value.
    fn to_value(self, x: f64) -> Value {
        let value = if self.log { x.exp() } else { x };
        let value = if self.int { value.round() } else { value };
        value.clamp(self.bounds.0, self.bounds.1)
    }

    fn width(self) -> f64 {
        self.high - self.low
    }
}

/// Each trial's kernel width: the larger gap to its neighbours among the sorted centres and
/// the range's ends (the ends counted only beside the outermost centres), clipped to
/// `[width / min(100, n + 2), width]` (Optuna's "magic clip", the prior counted among the
/// kernels).
fn kernel_widths(range: &Range, mus: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..mus.len()).collect();
    order.sort_by(|&a, &b| mus[a].total_cmp(&mus[b]));
    let points: Vec<f64> = std::iter::once(range.low)
        .chain(order.iter().map(|&at| mus[at]))
        .chain(std::iter::once(range.high))
        .collect();
    let count = mus.len();
    let mut sorted_widths: Vec<f64> = (1..=count)
        .map(|k| (points[k] - points[k - 1]).max(points[k + 1] - points[k]))
        .collect();
    if points.len() >= 4 {
        sorted_widths[0] = points[2] - points[1];
        sorted_widths[count - 1] = points[count] - points[count - 1];
    }
    let smallest = range.width() / (100f64).min(count as f64 + 2.0);
    let mut widths = vec![0.0; count];
    for (&at, width) in order.iter().zip(sorted_widths) {
        widths[at] = width.clamp(smallest, range.width());
    }
    widths
}

/// `Φ(z)`, the standard normal's distribution function.
fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// A draw from N(μ, σ²) truncated to `[low, high]`: rejection while that accepts often, else
/// the inverse distribution function by bisection.
fn truncated_normal(mu: f64, sigma: f64, low: f64, high: f64, rng: &mut ChaCha8Rng) -> f64 {
    for _ in 0..64 {
        // Box–Muller.
        let (u, v): (f64, f64) = (rng.random::<f64>(), rng.random::<f64>());
        let z = (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        let x = mu + sigma * z;
        if (low..=high).contains(&x) {
            return x;
        }
    }
    let (a, b) = (
        normal_cdf((low - mu) / sigma),
        normal_cdf((high - mu) / sigma),
    );
    let target = a + rng.random::<f64>() * (b - a);
    let (mut lo, mut hi) = (low, high);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf((mid - mu) / sigma) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests;
