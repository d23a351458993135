//! Standard test functions of hyperparameter search, with their known minima, and a driver
//! that minimises one with TPE or at random: the sampler's own tests and `cargo xtask bench`'s
//! comparison with Optuna run the same code the sweeps use, with a function in place of
//! training.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::{Goal, Outcome, Parameter, Trial, Value, propose, random_value};

/// A test function: its space, its value at a point, and its least value.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// Its name, as the bench prints it.
    pub name: &'static str,
    space: fn() -> Vec<Parameter>,
    value: fn(&[Value]) -> f64,
    /// The function's least value on its space.
    pub minimum: f64,
}

impl Function {
    /// The space the function is searched on.
    pub fn space(&self) -> Vec<Parameter> {
        (self.space)()
    }

    /// The function at `point`.
    pub fn at(&self, point: &[Value]) -> f64 {
        (self.value)(point)
    }
}

/// Branin–Hoo on `[−5, 10] × [0, 15]`: three global minima of 0.397887.
pub const BRANIN: Function = Function {
    name: "branin",
    space: || {
        vec![
            Parameter::Float {
                low: -5.0,
                high: 10.0,
                log: false,
            },
            Parameter::Float {
                low: 0.0,
                high: 15.0,
                log: false,
            },
        ]
    },
    value: |x| {
        use std::f64::consts::PI;
        let (b, c, t) = (5.1 / (4.0 * PI * PI), 5.0 / PI, 1.0 / (8.0 * PI));
        (x[1] - b * x[0] * x[0] + c * x[0] - 6.0).powi(2) + 10.0 * (1.0 - t) * x[0].cos() + 10.0
    },
    minimum: 0.397_887_357_729_738,
};

/// Hartmann's six-dimensional function on `[0, 1]⁶`: one global minimum of −3.32237.
pub const HARTMANN6: Function = Function {
    name: "hartmann6",
    space: || {
        vec![
            Parameter::Float {
                low: 0.0,
                high: 1.0,
                log: false,
            };
            6
        ]
    },
    value: |x| {
        const ALPHA: [f64; 4] = [1.0, 1.2, 3.0, 3.2];
        const A: [[f64; 6]; 4] = [
            [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
            [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
            [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
            [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
        ];
        const P: [[f64; 6]; 4] = [
            [1312.0, 1696.0, 5569.0, 124.0, 8283.0, 5886.0],
            [2329.0, 4135.0, 8307.0, 3736.0, 1004.0, 9991.0],
            [2348.0, 1451.0, 3522.0, 2883.0, 3047.0, 6650.0],
            [4047.0, 8828.0, 8732.0, 5743.0, 1091.0, 381.0],
        ];
        -(0..4)
            .map(|i| {
                let exponent: f64 = (0..6)
                    .map(|j| A[i][j] * (x[j] - P[i][j] * 1e-4).powi(2))
                    .sum();
                ALPHA[i] * (-exponent).exp()
            })
            .sum::<f64>()
    },
    minimum: -3.322_368_011_415_515,
};

/// A training-like function of a log-scale learning rate in `[1e-5, 1]`, a log-scale integer
/// width in `[8, 512]`, an activation among four, and a momentum in `[0, 1]`: its minimum, 0,
/// at a rate of 10^−2.5, width 128, the second activation and momentum 0.9.
pub const TRAINING_LIKE: Function = Function {
    name: "training-like",
    space: || {
        vec![
            Parameter::Float {
                low: 1e-5,
                high: 1.0,
                log: true,
            },
            Parameter::Int {
                low: 8,
                high: 512,
                log: true,
            },
            Parameter::Categorical { choices: 4 },
            Parameter::Float {
                low: 0.0,
                high: 1.0,
                log: false,
            },
        ]
    },
    value: |x| {
        const ACTIVATION: [f64; 4] = [0.3, 0.0, 0.5, 0.8];
        (x[0].log10() + 2.5).powi(2) / 4.0
            + (x[1].log2() - 7.0).powi(2) / 9.0
            + ACTIVATION[x[2] as usize]
            + (x[3] - 0.9).powi(2)
    },
    minimum: 0.0,
};

/// Every test function.
pub const FUNCTIONS: [Function; 3] = [BRANIN, HARTMANN6, TRAINING_LIKE];

/// How a search proposes its next point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sampler {
    /// The Tree-structured Parzen Estimator ([`propose`]).
    Tpe,
    /// Uniformly at random (log-uniformly on log scales).
    Random,
}

/// The best regret (best value found minus the minimum) after each of `trials` trials of
/// `sampler` on `function`, one point at a time, from `seed`.
pub fn best_regrets(function: &Function, sampler: Sampler, trials: usize, seed: u64) -> Vec<f64> {
    let space = function.space();
    let mut done: Vec<Trial> = Vec::with_capacity(trials);
    let mut random = ChaCha8Rng::seed_from_u64(seed);
    let mut best = f64::INFINITY;
    let mut regrets = Vec::with_capacity(trials);
    for trial in 0..trials {
        let point = match sampler {
            Sampler::Tpe => propose(&space, &done, Goal::Minimize, seed ^ ((trial as u64) << 32)),
            Sampler::Random => space.iter().map(|p| random_value(p, &mut random)).collect(),
        };
        let value = function.at(&point);
        best = best.min(value);
        regrets.push(best - function.minimum);
        done.push(Trial {
            values: point,
            outcome: Outcome::Completed(value),
        });
    }
    regrets
}

/// The median of `values`.
///
/// # Panics
/// If `values` is empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        0.5 * (values[middle - 1] + values[middle])
    }
}

/// A test function of two objectives, both minimised.
#[derive(Debug, Clone, Copy)]
pub struct MultiFunction {
    /// Its name, as the bench prints it.
    pub name: &'static str,
    value: fn(&[Value]) -> [f64; 2],
}

/// Variables of the ZDT functions, as Zitzler, Deb and Thiele (2000) set them.
pub const ZDT_VARIABLES: usize = 30;
/// The point hypervolumes of the ZDT fronts are measured against: just beyond the first
/// objective's range `[0, 1]` and the second's greatest value on the space, 10.
pub const ZDT_REFERENCE: [f64; 2] = [1.1, 11.0];

/// `g` of the ZDT functions: 1 plus nine times the mean of the variables after the first.
fn zdt_g(x: &[Value]) -> f64 {
    1.0 + 9.0 * x[1..].iter().sum::<f64>() / (x.len() - 1) as f64
}

/// ZDT1: a convex front, `f2 = 1 − √f1` where `g = 1`.
pub const ZDT1: MultiFunction = MultiFunction {
    name: "zdt1",
    value: |x| {
        let g = zdt_g(x);
        [x[0], g * (1.0 - (x[0] / g).sqrt())]
    },
};

/// ZDT2: a concave front, `f2 = 1 − f1²` where `g = 1`.
pub const ZDT2: MultiFunction = MultiFunction {
    name: "zdt2",
    value: |x| {
        let g = zdt_g(x);
        [x[0], g * (1.0 - (x[0] / g).powi(2))]
    },
};

/// Every two-objective test function.
pub const MULTI_FUNCTIONS: [MultiFunction; 2] = [ZDT1, ZDT2];

impl MultiFunction {
    /// The space the function is searched on: [`ZDT_VARIABLES`] numbers in `[0, 1]`.
    pub fn space(&self) -> Vec<Parameter> {
        vec![
            Parameter::Float {
                low: 0.0,
                high: 1.0,
                log: false
            };
            ZDT_VARIABLES
        ]
    }

    /// The objectives at `point`.
    pub fn at(&self, point: &[Value]) -> [f64; 2] {
        (self.value)(point)
    }
}

/// How a multi-objective search proposes its next point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiSampler {
    /// NSGA-II ([`crate::nsga2::propose`]).
    Nsga2,
    /// Uniformly at random.
    Random,
}

/// The hypervolume against [`ZDT_REFERENCE`] of every point `trials` trials of `sampler` on
/// `function` found, one point at a time, from `seed`.
pub fn hypervolume_after(
    function: &MultiFunction,
    sampler: MultiSampler,
    trials: usize,
    seed: u64,
) -> f64 {
    let space = function.space();
    let mut done: Vec<crate::nsga2::MultiTrial> = Vec::with_capacity(trials);
    let mut random = ChaCha8Rng::seed_from_u64(seed);
    for trial in 0..trials {
        let point = match sampler {
            MultiSampler::Nsga2 => {
                crate::nsga2::propose(&space, &done, seed ^ ((trial as u64) << 32))
            }
            MultiSampler::Random => space.iter().map(|p| random_value(p, &mut random)).collect(),
        };
        let objectives = function.at(&point).to_vec();
        done.push(crate::nsga2::MultiTrial {
            values: point,
            objectives: Some(objectives),
        });
    }
    let points: Vec<[f64; 2]> = (done.iter())
        .filter_map(|t| t.objectives.as_ref().map(|o| [o[0], o[1]]))
        .collect();
    crate::nsga2::hypervolume_2d(&points, ZDT_REFERENCE)
}
