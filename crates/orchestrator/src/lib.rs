//! Runs the runs of a sweep, each in its own worker process, and keeps every finished result.
//!
//! A sweep lives in `reports/<experiment>/`; each run in `runs/<id>/`. The orchestrator writes
//! the run's `config.toml`, starts `WORKER worker RUN_DIR`, and waits. The worker writes
//! `result.json` last and atomically, so a run folder with a `result.json` is finished and a
//! second invocation of the same sweep skips it; a folder without one is trained again. A
//! worker that dies without writing its result (panic, abort, kill) gets a failed
//! `result.json` written for it, with its exit status and the tail of its log, and the sweep
//! goes on. This crate does not link the training code: it talks to workers through
//! processes and files only.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hourglass_spec::result::{CONFIG_FILE, RESULT_FILE, RunResult, RunStatus, write_atomic};
use hourglass_spec::{Experiment, RunSpec};

/// File in a run folder that receives the worker's stdout and stderr.
pub const WORKER_LOG: &str = "worker.log";
/// Lines of a dead worker's log quoted in its failed result.
const LOG_TAIL_LINES: usize = 20;

/// Errors that stop a sweep as a whole (a single run failing is not one of them).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A file of the sweep could not be written or read.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SweepError {
    let path = path.to_path_buf();
    move |source| SweepError::Io { what, path, source }
}

/// How to start a worker: `program args... worker RUN_DIR`.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// The `hourglass` executable.
    pub program: PathBuf,
    /// Arguments placed before `RUN_DIR` (e.g. `["worker", "--datasets", DIR]`).
    pub args: Vec<OsString>,
}

/// Receives sweep events; every method defaults to doing nothing.
pub trait SweepProgress {
    /// A run was found finished on disk and is skipped.
    fn run_skipped(&mut self, _run: &RunSpec, _result: &RunResult) {}
    /// A run's worker is starting.
    fn run_started(&mut self, _run: &RunSpec, _index: usize, _total: usize) {}
    /// A run ended, with its result.
    fn run_finished(&mut self, _run: &RunSpec, _result: &RunResult) {}
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Runs trained now and completed.
    pub completed: usize,
    /// Runs that ended failed (now or before, as recorded).
    pub failed: usize,
    /// Runs already finished before this invocation.
    pub skipped: usize,
}

/// Folders of a sweep.
#[derive(Debug, Clone)]
pub struct SweepLayout {
    /// `reports/<experiment>`.
    pub root: PathBuf,
}

impl SweepLayout {
    /// The layout of `experiment` under `reports`.
    pub fn new(reports: &Path, experiment: &Experiment) -> Self {
        Self {
            root: reports.join(&experiment.name),
        }
    }

    /// The folder of run `run`.
    pub fn run_dir(&self, run: &RunSpec) -> PathBuf {
        self.root.join("runs").join(run.id.as_str())
    }
}

/// The result recorded in `run_dir`, if the run is finished. A result file that cannot be
/// parsed counts as unfinished, so the run is trained again rather than trusted.
pub fn finished_result(run_dir: &Path) -> Option<RunResult> {
    let text = std::fs::read_to_string(run_dir.join(RESULT_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Runs every unfinished run of `experiment` one after another, writing the spec's text beside
/// the runs for the record.
pub fn run_sweep(
    experiment: &Experiment,
    spec_text: &str,
    layout: &SweepLayout,
    worker: &WorkerCommand,
    progress: &mut dyn SweepProgress,
) -> Result<SweepSummary, SweepError> {
    std::fs::create_dir_all(layout.root.join("runs")).map_err(io("cannot create", &layout.root))?;
    let spec_copy = layout.root.join("spec.toml");
    write_atomic(&spec_copy, spec_text.as_bytes()).map_err(io("cannot write", &spec_copy))?;

    let mut summary = SweepSummary::default();
    let total = experiment.runs.len();
    for (index, run) in experiment.runs.iter().enumerate() {
        let run_dir = layout.run_dir(run);
        if let Some(result) = finished_result(&run_dir) {
            summary.skipped += 1;
            if result.status == RunStatus::Failed {
                summary.failed += 1;
            }
            progress.run_skipped(run, &result);
            continue;
        }
        progress.run_started(run, index, total);
        let result = execute(run, &run_dir, worker)?;
        match result.status {
            RunStatus::Completed => summary.completed += 1,
            RunStatus::Failed => summary.failed += 1,
        }
        progress.run_finished(run, &result);
    }
    Ok(summary)
}

/// Runs one run in a worker process and returns its recorded result.
fn execute(run: &RunSpec, run_dir: &Path, worker: &WorkerCommand) -> Result<RunResult, SweepError> {
    std::fs::create_dir_all(run_dir).map_err(io("cannot create", run_dir))?;
    let config_path = run_dir.join(CONFIG_FILE);
    let config = toml::to_string(&run.config).expect("run configs serialize to TOML");
    write_atomic(&config_path, config.as_bytes()).map_err(io("cannot write", &config_path))?;

    let log_path = run_dir.join(WORKER_LOG);
    let log = File::create(&log_path).map_err(io("cannot create", &log_path))?;
    let status = Command::new(&worker.program)
        .args(&worker.args)
        .arg(run_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io("cannot share", &log_path))?)
        .stderr(log)
        .status();

    if let Some(result) = finished_result(run_dir) {
        return Ok(result);
    }
    let reason = match status {
        Ok(status) => format!("worker exited without a result ({status})"),
        Err(e) => format!("cannot start worker {}: {e}", worker.program.display()),
    };
    let tail = log_tail(&log_path);
    let error = if tail.is_empty() {
        reason
    } else {
        format!("{reason}; log tail:\n{tail}")
    };
    let result = RunResult {
        id: run.id.clone(),
        status: RunStatus::Failed,
        error: Some(error),
        config: run.config.clone(),
        metrics: BTreeMap::new(),
    };
    let result_path = run_dir.join(RESULT_FILE);
    let json = serde_json::to_vec_pretty(&result).expect("results serialize");
    write_atomic(&result_path, &json).map_err(io("cannot write", &result_path))?;
    Ok(result)
}

/// The last lines of a worker's log.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests;
