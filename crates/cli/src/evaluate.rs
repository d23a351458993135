//! Evaluation tasks run on saved models, without training: `hourglass evaluate SWEEP_DIR`, and
//! the tasks that a sweep's spec added to runs it had finished (a run's id does not count the
//! tasks that do not change training, so such a run is the same run), a grid's or a search's.
//!
//! A run evaluated here gets the tasks' metrics and files merged into its folder and its
//! result, whose configuration then lists the tasks as run.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use hourglass_data::Registry;
use hourglass_orchestrator::{SweepLayout, SweepLock};
use hourglass_spec::result::{self, CONFIG_FILE, RunResult, RunStatus, write_atomic};
use hourglass_spec::{Backend, DeviceName, Experiment, RunConfig, Task};

/// Evaluates the completed runs of the sweep in `sweep_dir` for those of `tasks` they have not
/// run (by default, every task that applies to a run without training it again); fails when a
/// run could not be evaluated.
pub fn evaluate(sweep_dir: &Path, tasks: Option<&[Task]>, registry: &Registry) -> Result<ExitCode> {
    let _lock = SweepLock::acquire(sweep_dir)?;
    let mut failed = 0;
    for run_dir in &run_dirs(sweep_dir)? {
        let Some(result) = completed(run_dir)? else {
            continue;
        };
        let mut config = read_config(run_dir)?;
        match tasks {
            Some(tasks) => config.evaluate.add_tasks(tasks),
            None => {
                let applies = |task: &Task| match task {
                    Task::Anomaly => false,
                    Task::Denoising => config.noise.is_some(),
                    _ => true,
                };
                let every: Vec<Task> = Task::ALL.into_iter().filter(applies).collect();
                config.evaluate.add_tasks(&every);
            }
        }
        if let Err(error) = evaluate_run(run_dir, &config, result, registry) {
            eprintln!("error: {}: {error:#}", run_dir.display());
            failed += 1;
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Evaluates each completed run of `experiment` for the tasks of its configuration that it
/// has not run: what a spec gained since the run was trained.
pub fn evaluate_added_tasks(
    experiment: &Experiment,
    layout: &SweepLayout,
    registry: &Registry,
) -> Result<()> {
    if !layout.root.is_dir() {
        return Ok(());
    }
    let _lock = SweepLock::acquire(&layout.root)?;
    for run in &experiment.runs {
        let run_dir = layout.run_dir(run);
        if let Some(result) = completed(&run_dir)? {
            evaluate_run(&run_dir, &run.config, result, registry)
                .with_context(|| format!("cannot evaluate run {}", run.id))?;
        }
    }
    // A search's runs are proposed as it goes: those it has finished are in its folder.
    if let Some(search) = &experiment.search {
        let tasks = search.tasks();
        for run_dir in run_dirs(&layout.root)? {
            if let Some(result) = completed(&run_dir)? {
                let mut config = read_config(&run_dir)?;
                config.evaluate.add_tasks(&tasks);
                evaluate_run(&run_dir, &config, result, registry)
                    .with_context(|| format!("cannot evaluate run {}", run_dir.display()))?;
            }
        }
    }
    Ok(())
}

/// The run folders of the sweep in `sweep_dir`, in name order (none before its first run).
fn run_dirs(sweep_dir: &Path) -> Result<Vec<PathBuf>> {
    let runs = sweep_dir.join("runs");
    if !runs.exists() {
        return Ok(Vec::new());
    }
    let mut run_dirs: Vec<_> = std::fs::read_dir(&runs)
        .with_context(|| format!("cannot list the runs of {}", runs.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir())
        .collect();
    run_dirs.sort();
    Ok(run_dirs)
}

/// The result of the run in `run_dir` when it completed.
fn completed(run_dir: &Path) -> Result<Option<RunResult>> {
    Ok(result::read(run_dir)?.filter(|result| result.status == RunStatus::Completed))
}

/// The configuration in `run_dir`'s `config.toml`.
fn read_config(run_dir: &Path) -> Result<RunConfig> {
    let path = run_dir.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid run config {}", path.display()))
}

/// Evaluates the completed run in `run_dir` for the tasks of `config` that `result` has not
/// run, merging their metrics into its result; does nothing when it has run them all.
fn evaluate_run(
    run_dir: &Path,
    config: &RunConfig,
    mut result: RunResult,
    registry: &Registry,
) -> Result<()> {
    let done = result.config.tasks();
    let added: Vec<String> = (config.evaluate.tasks.iter())
        .map(|task| task.name().to_string())
        .filter(|task| !done.contains(task))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    if config.noise.is_none() && added.iter().any(|task| task == Task::Denoising.name()) {
        bail!("denoising is evaluated on the noise of `[noise]`, which this run has none of");
    }
    if added.iter().any(|task| task == Task::Anomaly.name()) {
        bail!(
            "anomaly detection trains on normal examples only: a run trained without it cannot \
             be evaluated for it (add it to the spec and sweep: it trains new runs)"
        );
    }
    // Evaluated on flex, whatever the run trained on: the one backend every build has.
    let device = hourglass_train::backend::device(Backend::Flex, DeviceName::Cpu)?;
    let measured = hourglass_train::evaluate_saved(config, registry, run_dir, &device)?;
    out!("{}: evaluated {}", result.id, added.join(", "))?;
    result.add(measured);
    result.config = result.config.with_tasks(&added);
    // The configuration as the run now stands, for the next evaluation or a retraining.
    let config_path = run_dir.join(CONFIG_FILE);
    let text = toml::to_string(config).expect("run configs serialize to TOML");
    write_atomic(&config_path, text.as_bytes())
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    result::amend(run_dir, &result)?;
    Ok(())
}
