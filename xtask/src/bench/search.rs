//! hourglass's TPE and NSGA-II against Optuna's on the test functions of
//! `hourglass_search::functions`: the `search` bench runs hourglass's samplers and random
//! search, Optuna [`OPTUNA_VERSION`] (`xtask/bench/optuna_tpe.py`, in its own virtual
//! environment) its `TPESampler()` and `NSGAIISampler()` with default settings. One objective:
//! 100 trials, 20 seeds; the goal, hourglass's median best regret within [`WITHIN`] of Optuna's
//! or lower, and both below random search's. Two objectives (ZDT1, ZDT2): 200 trials, 10 seeds;
//! the goal, hourglass's median hypervolume within [`WITHIN_VOLUME`] of Optuna's or higher.
//! Medians of 10 or 20 searches move by tens of percent from one set of seeds to the next, so a
//! missed goal is printed as such, not taken as a failure of the bench.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

use super::{json_lines, python_venv, workspace_bench};
use crate::workspace_root;

/// The Optuna release hourglass's TPE is held to.
const OPTUNA_VERSION: &str = "5.1.0";
/// hourglass's median regret may exceed Optuna's by this fraction.
const WITHIN: f64 = 0.10;
/// hourglass's median hypervolume may fall short of Optuna's by this fraction.
const WITHIN_VOLUME: f64 = 0.05;

/// Runs both sides; returns the comparison as text, each function's verdict on its line.
pub fn compare(libtorch: &[(&'static str, String)]) -> Result<String, String> {
    let ours = json_lines(&mut workspace_bench("search", libtorch)?)?;
    let mut python = Command::new(optuna_venv()?.join("bin/python"));
    python.arg(workspace_root().join("xtask/bench/optuna_tpe.py"));
    let theirs = json_lines(&mut python)?;
    let median = |lines: &[Value], function: &str, sampler: &str| -> Option<f64> {
        let mut regrets: Vec<f64> = (lines.iter())
            .filter(|l| l["function"] == function && l["sampler"] == sampler)
            .filter_map(|l| l["regret"].as_f64().or_else(|| l["hypervolume"].as_f64()))
            .collect();
        regrets.sort_by(f64::total_cmp);
        let middle = regrets.len() / 2;
        match regrets.len() {
            0 => None,
            n if n % 2 == 1 => Some(regrets[middle]),
            _ => Some(0.5 * (regrets[middle - 1] + regrets[middle])),
        }
    };
    let mut text = format!(
        "Median best regret after 100 trials, 20 seeds: hourglass's TPE and random search \
         against Optuna {OPTUNA_VERSION}'s TPESampler() (goal: within {:.0} % of Optuna or \
         lower)\n{:<14} {:>12} {:>12} {:>8} {:>12}  verdict\n",
        WITHIN * 100.0,
        "function",
        "hourglass",
        "Optuna",
        "ratio",
        "random"
    );
    for function in ["branin", "hartmann6", "training-like"] {
        let (Some(tpe), Some(optuna), Some(random)) = (
            median(&ours, function, "tpe"),
            median(&theirs, function, "optuna_tpe"),
            median(&ours, function, "random"),
        ) else {
            return Err(format!("{text}\nno regrets for {function}"));
        };
        let met = tpe <= optuna * (1.0 + WITHIN) && tpe < random && optuna < random;
        let _ = writeln!(
            text,
            "{function:<14} {tpe:>12.5} {optuna:>12.5} {:>8.2} {random:>12.5}  {}",
            tpe / optuna,
            if met { "met" } else { "missed" }
        );
    }
    let _ = write!(
        text,
        "\nMedian hypervolume against (1.1, 11) after 200 trials, 10 seeds: hourglass's \
         NSGA-II and random search against Optuna {OPTUNA_VERSION}'s NSGAIISampler() (goal: \
         within {:.0} % of Optuna or higher)\n{:<14} {:>12} {:>12} {:>8} {:>12}  verdict\n",
        WITHIN_VOLUME * 100.0,
        "function",
        "hourglass",
        "Optuna",
        "ratio",
        "random"
    );
    for function in ["zdt1", "zdt2"] {
        let (Some(ours), Some(optuna), Some(random)) = (
            median(&ours, function, "nsga2"),
            median(&theirs, function, "optuna_nsga2"),
            median(&ours, function, "random"),
        ) else {
            return Err(format!("{text}\nno hypervolumes for {function}"));
        };
        let met = ours >= optuna * (1.0 - WITHIN_VOLUME) && ours > random && optuna > random;
        let _ = writeln!(
            text,
            "{function:<14} {ours:>12.4} {optuna:>12.4} {:>8.3} {random:>12.4}  {}",
            ours / optuna,
            if met { "met" } else { "missed" }
        );
    }
    Ok(text)
}

/// A virtual environment with Optuna [`OPTUNA_VERSION`] (about 90 MB with numpy and
/// SQLAlchemy).
fn optuna_venv() -> Result<std::path::PathBuf, String> {
    python_venv(
        "optuna",
        OPTUNA_VERSION,
        &[format!("optuna=={OPTUNA_VERSION}")],
    )
}
