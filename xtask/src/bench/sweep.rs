//! The sweep benchmark: the same 16 MNIST runs (784-256-64-256-784, batch 128, one epoch,
//! four learning rates times four seeds) trained by `hourglass sweep` one run per worker, by
//! `hourglass sweep` as one pack (`[resources] pack = 16`), on flex and on tch, and by a
//! PyTorch loop (`xtask/bench/pytorch_sweep.py`); wall times, loading and evaluation
//! included, and the time spent in training steps alone: hourglass evaluates more than the
//! loop does (validation, the Jacobian norm, image grids, codes, the report).

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use crate::{CI_FEATURES, run, workspace_root};

/// The learning rates of the sweep; each trains with [`REPEATS`] seeds.
const LEARNING_RATES: [f64; 4] = [3e-4, 1e-3, 2e-3, 3e-3];
const REPEATS: usize = 4;
const RUNS: usize = LEARNING_RATES.len() * REPEATS;
/// Examples a run trains on per epoch: MNIST's 60,000 training images less the 10 %
/// validation split.
const TRAIN_EXAMPLES: f64 = 54_000.0;

/// The spec of the sweep on `backend`, with packs of `pack` runs.
fn spec(name: &str, backend: &str, pack: usize) -> String {
    let rates: Vec<String> = LEARNING_RATES.iter().map(f64::to_string).collect();
    format!(
        "[experiment]\nname = \"{name}\"\nrepeats = {REPEATS}\n\n[data]\ndataset = \"mnist\"\n\n\
         [model]\nhidden = [256]\nlatent = 64\n\n[train]\nbatch_size = 128\nepochs = 1\n\
         backend = \"{backend}\"\n\n[resources]\npack = {pack}\n\n[sweep.parameters]\n\
         \"train.learning_rate\" = [{}]\n",
        rates.join(", ")
    )
}

/// Runs the benchmark with `threads` compute threads and the `libtorch` environment;
/// returns its table as text.
pub fn run_sweeps(libtorch: &[(&'static str, String)], threads: &str) -> Result<String, String> {
    run(crate::ci_cargo(libtorch)?
        // Exactly as CI builds (tests included): a narrower build unifies features
        // differently and rebuilds burn and polars.
        .args(["build", "--quiet", "--workspace", "--all-targets"])
        .args(["--features", CI_FEATURES]))?;
    let root = workspace_root();
    let dir = root.join("target/bench-sweep");
    // Earlier results would be skipped as finished: every run trains now.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    let mut table = format!(
        "{RUNS} runs of 784-256-64-256-784 on MNIST (batch 128, 1 epoch, Adam), {threads} \
         threads; wall time of the whole sweep, and of its training steps alone\n\n"
    );
    for backend in ["flex", "tch"] {
        for pack in [1, RUNS] {
            let name = format!("bench-sweep-{backend}-pack-{pack}");
            let path = dir.join(format!("{name}.toml"));
            std::fs::write(&path, spec(&name, backend, pack))
                .map_err(|e| format!("cannot write {path:?}: {e}"))?;
            let started = Instant::now();
            run(Command::new(crate::ci_target()?.join("debug/hourglass"))
                .current_dir(&root)
                .envs(libtorch.iter().cloned())
                .env("RAYON_NUM_THREADS", threads)
                .env("OMP_NUM_THREADS", threads)
                .arg("sweep")
                .arg(&path)
                .arg("--reports")
                .arg(dir.join("reports")))?;
            let how = if pack == 1 { "one by one" } else { "packed" };
            let seconds = started.elapsed().as_secs_f64();
            let stepping = stepping_seconds(&dir.join("reports").join(&name), pack)?;
            let _ = writeln!(
                table,
                "hourglass {backend:<4} {how:<10}  {seconds:7.1} s  (steps {stepping:5.1} s)"
            );
        }
    }
    let rates: Vec<String> = (0..RUNS)
        .map(|run| LEARNING_RATES[run % LEARNING_RATES.len()].to_string())
        .collect();
    let seeds: Vec<String> = (1..=RUNS).map(|seed| seed.to_string()).collect();
    let pytorch = super::json_lines(
        Command::new(crate::libtorch_venv()?.join("bin/python"))
            .arg(root.join("xtask/bench/pytorch_sweep.py"))
            .arg("--mnist")
            .arg(root.join("datasets/mnist"))
            .args(["--threads", threads])
            .args(["--learning-rates", &rates.join(",")])
            .args(["--seeds", &seeds.join(",")]),
    )?;
    let time = |key: &str| {
        pytorch
            .first()
            .and_then(|value| value[key].as_f64())
            .ok_or(format!("the PyTorch loop printed no {key}"))
    };
    let (seconds, stepping) = (time("seconds")?, time("step_seconds")?);
    let _ = writeln!(
        table,
        "pytorch loop one by one  {seconds:7.1} s  (steps {stepping:5.1} s)"
    );
    Ok(table)
}

/// The time the runs of the sweep in `sweep_dir` spent in training steps, from each run's
/// `samples_per_second`: their sum one by one, the longest run's when `pack` > 1 (the
/// benchmark packs all its runs in one pack, whose runs step together).
fn stepping_seconds(sweep_dir: &std::path::Path, pack: usize) -> Result<f64, String> {
    let runs = sweep_dir.join("runs");
    let entries = std::fs::read_dir(&runs).map_err(|e| format!("cannot list {runs:?}: {e}"))?;
    let mut seconds = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join("result.json");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
        let result: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{path:?}: {e}"))?;
        let rate = result["metrics"]["samples_per_second"]
            .as_f64()
            .ok_or(format!("{path:?} has no samples_per_second"))?;
        seconds.push(TRAIN_EXAMPLES / rate);
    }
    Ok(if pack == 1 {
        seconds.iter().sum()
    } else {
        seconds.into_iter().fold(0.0, f64::max)
    })
}
