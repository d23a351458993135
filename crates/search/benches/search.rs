//! hourglass's TPE and random search on the test functions, the side of `cargo xtask bench`'s
//! comparison with Optuna that runs here: one JSON line per function, sampler and seed with
//! the best regret after `TRIALS` trials (`xtask/bench/optuna_tpe.py` prints Optuna's).

use hourglass_search::functions::{FUNCTIONS, Sampler, best_regrets};

/// Trials per search, as the comparison asks.
const TRIALS: usize = 100;
/// Seeds per function and sampler.
const SEEDS: u64 = 20;

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
}
