//! hourglass's TPE, NSGA-II and random search on the test functions, the side of `cargo xtask
//! bench`'s comparison with Optuna that runs here: one JSON line per function, sampler and seed
//! with the best regret after `TRIALS` trials, or the hypervolume after `MULTI_TRIALS` trials
//! of two objectives (`xtask/bench/optuna_tpe.py` prints Optuna's).

use hourglass_search::functions::{
    FUNCTIONS, MULTI_FUNCTIONS, MultiSampler, Sampler, best_regrets, hypervolume_after,
};

/// Trials per search of one objective, as the comparison asks.
const TRIALS: usize = 100;
/// Seeds per function and sampler.
const SEEDS: u64 = 20;
/// Trials per search of two objectives.
const MULTI_TRIALS: usize = 200;
/// Seeds per two-objective function and sampler.
const MULTI_SEEDS: u64 = 10;

fn main() {
    for function in FUNCTIONS {
        for (sampler, name) in [(Sampler::Tpe, "tpe"), (Sampler::Random, "random")] {
            for seed in 0..SEEDS {
                let started = std::time::Instant::now();
                let regret = *best_regrets(&function, sampler, TRIALS, seed)
                    .last()
                    .expect("a search of 100 trials");
                println!(
                    "{{\"function\":\"{}\",\"sampler\":\"{name}\",\"seed\":{seed},\
                     \"regret\":{regret},\"seconds\":{}}}",
                    function.name,
                    started.elapsed().as_secs_f64()
                );
            }
        }
    }
    for function in MULTI_FUNCTIONS {
        for (sampler, name) in [
            (MultiSampler::Nsga2, "nsga2"),
            (MultiSampler::Random, "random"),
        ] {
            for seed in 0..MULTI_SEEDS {
                let volume = hypervolume_after(&function, sampler, MULTI_TRIALS, seed);
                println!(
                    "{{\"function\":\"{}\",\"sampler\":\"{name}\",\"seed\":{seed},\
                     \"hypervolume\":{volume}}}",
                    function.name
                );
            }
        }
    }
}
