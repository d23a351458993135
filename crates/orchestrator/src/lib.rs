//! Runs the runs of a sweep, each in its own worker process, and keeps every finished result.
//!
//! A sweep lives in `reports/<experiment>/`; each run in `runs/<id>/`. The orchestrator takes
//! the sweep's lock, writes each run's `config.toml`, starts `WORKER worker RUN_DIR` for up to
//! `resources.workers` runs at once, and polls them, killing any that outlive
//! `resources.timeout`. The worker writes
//! `result.json` last and atomically, so a run folder with a `result.json` is finished and a
//! second invocation of the same sweep skips it; a folder without one is trained again. A
//! worker that dies without writing its result (panic, abort, kill) gets a failed
//! `result.json` written for it, with its exit status and the tail of its log, and the sweep
//! goes on. This crate does not link the training code: it talks to workers through
//! processes and files only.

mod lock;

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hourglass_spec::result::{
    CONFIG_FILE, RESULT_FILE, RunResult, RunStatus, is_temporary, write_atomic,
};
use hourglass_spec::{Experiment, RunSpec};

pub use lock::SweepLock;

/// File in a run folder that receives the worker's stdout and stderr.
pub const WORKER_LOG: &str = "worker.log";
/// Lines of a dead worker's log quoted in its failed result.
const LOG_TAIL_LINES: usize = 20;

/// How often running workers are polled.
const POLL: Duration = Duration::from_millis(20);

/// Errors that stop a sweep as a whole (a single run failing is not one of them).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Another orchestrator is running this sweep.
    #[error(
        "sweep {} is locked by a running orchestrator (pid {pid}, lock file {})",
        root.display(),
        root.join(lock::LOCK_FILE).display()
    )]
    Locked {
        /// The sweep's folder.
        root: PathBuf,
        /// The holder's process id.
        pid: u32,
    },
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
    /// The sweep was asked to stop: no run starts any more, `running` runs are finishing.
    fn stopping(&mut self, _running: usize) {}
}

/// Choices of one invocation of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Train failed runs again instead of skipping them.
    pub retry_failed: bool,
    /// Set (by a Ctrl-C handler, say) to stop starting runs; running ones finish.
    pub stop: Arc<AtomicBool>,
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
    /// Runs not started because the sweep was asked to stop; the next invocation trains them.
    pub unfinished: usize,
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

/// Runs every unfinished run of `experiment` (and failed ones with `retry_failed`), up to
/// `resources.workers` at once, writing the spec's text beside the runs for the record.
pub fn run_sweep(
    experiment: &Experiment,
    spec_text: &str,
    layout: &SweepLayout,
    worker: &WorkerCommand,
    options: &SweepOptions,
    progress: &mut dyn SweepProgress,
) -> Result<SweepSummary, SweepError> {
    std::fs::create_dir_all(layout.root.join("runs")).map_err(io("cannot create", &layout.root))?;
    let _lock = SweepLock::acquire(&layout.root)?;
    let spec_copy = layout.root.join("spec.toml");
    write_atomic(&spec_copy, spec_text.as_bytes()).map_err(io("cannot write", &spec_copy))?;

    let mut summary = SweepSummary::default();
    let total = experiment.runs.len();
    let mut queue = VecDeque::new();
    for (index, run) in experiment.runs.iter().enumerate() {
        match finished_result(&layout.run_dir(run)) {
            Some(result) if !(options.retry_failed && result.status == RunStatus::Failed) => {
                summary.skipped += 1;
                if result.status == RunStatus::Failed {
                    summary.failed += 1;
                }
                progress.run_skipped(run, &result);
            }
            _ => queue.push_back((index, 0)),
        }
    }

    let resources = &experiment.resources;
    let mut running: Vec<Running> = Vec::new();
    let mut stopping = false;
    while !queue.is_empty() || !running.is_empty() {
        if !stopping && options.stop.load(Ordering::SeqCst) {
            stopping = true;
            summary.unfinished = queue.len();
            queue.clear();
            progress.stopping(running.len());
        }
        while running.len() < resources.workers
            && let Some((index, attempt)) = queue.pop_front()
        {
            let run = &experiment.runs[index];
            if attempt == 0 {
                progress.run_started(run, index, total);
            }
            let run_dir = layout.run_dir(run);
            match start(run, index, attempt, &run_dir, worker, resources)? {
                Ok(job) => running.push(job),
                Err(ending) => {
                    let result = record_death(run, &run_dir, &ending, attempt)?;
                    summary.failed += 1;
                    progress.run_finished(run, &result);
                }
            }
        }
        std::thread::sleep(POLL);
        let mut still_running = Vec::with_capacity(running.len());
        for mut job in running {
            let Some(ending) = job.poll(resources.timeout) else {
                still_running.push(job);
                continue;
            };
            let run = &experiment.runs[job.index];
            let result = match finished_result(&job.run_dir) {
                Some(result) => result,
                None if job.attempt < resources.retries => {
                    queue.push_front((job.index, job.attempt + 1));
                    continue;
                }
                None => record_death(run, &job.run_dir, &ending, job.attempt)?,
            };
            match result.status {
                RunStatus::Completed => summary.completed += 1,
                RunStatus::Failed => summary.failed += 1,
            }
            progress.run_finished(run, &result);
        }
        running = still_running;
    }
    Ok(summary)
}

/// A worker process at work on one run.
struct Running {
    index: usize,
    attempt: u32,
    run_dir: PathBuf,
    child: Child,
    started: Instant,
}

/// Why a worker stopped.
enum Ending {
    NotStarted(PathBuf, std::io::Error),
    Exited(ExitStatus),
    TimedOut(Duration),
    Lost(std::io::Error),
}

impl Running {
    /// `Some` once the worker has stopped; a worker past `timeout` is killed first.
    fn poll(&mut self, timeout: Option<Duration>) -> Option<Ending> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(Ending::Exited(status)),
            Ok(None) => match timeout {
                Some(limit) if self.started.elapsed() > limit => {
                    // A kill that fails means the worker has just exited: wait reaps it either way.
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    Some(Ending::TimedOut(limit))
                }
                _ => None,
            },
            Err(e) => Some(Ending::Lost(e)),
        }
    }
}

/// Writes the run's config and starts its worker, with its output in `worker.log`; a worker
/// that cannot be started is an ending of the run, not of the sweep.
fn start(
    run: &RunSpec,
    index: usize,
    attempt: u32,
    run_dir: &Path,
    worker: &WorkerCommand,
    resources: &hourglass_spec::Resources,
) -> Result<Result<Running, Ending>, SweepError> {
    std::fs::create_dir_all(run_dir).map_err(io("cannot create", run_dir))?;
    remove_leftovers(run_dir)?;
    let config_path = run_dir.join(CONFIG_FILE);
    let config = toml::to_string(&run.config).expect("run configs serialize to TOML");
    write_atomic(&config_path, config.as_bytes()).map_err(io("cannot write", &config_path))?;

    let log_path = run_dir.join(WORKER_LOG);
    let log = File::create(&log_path).map_err(io("cannot create", &log_path))?;
    let mut command = Command::new(&worker.program);
    command
        .args(&worker.args)
        .arg(run_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io("cannot share", &log_path))?)
        .stderr(log);
    // A process group of its own: a Ctrl-C at the terminal reaches the orchestrator, which
    // lets running workers finish, rather than killing them mid-run.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    if let Some(threads) = resources.threads_per_worker {
        command
            .env("RAYON_NUM_THREADS", threads.to_string())
            .env("OMP_NUM_THREADS", threads.to_string());
    }
    Ok(match command.spawn() {
        Ok(child) => Ok(Running {
            index,
            attempt,
            run_dir: run_dir.to_path_buf(),
            child,
            started: Instant::now(),
        }),
        Err(e) => Err(Ending::NotStarted(worker.program.clone(), e)),
    })
}

/// Removes the half-written temporary files a killed process may have left in a run folder,
/// before the run starts again.
fn remove_leftovers(run_dir: &Path) -> Result<(), SweepError> {
    let entries = std::fs::read_dir(run_dir).map_err(io("cannot list", run_dir))?;
    for entry in entries.flatten() {
        if is_temporary(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(entry.path()).map_err(io("cannot remove", &entry.path()))?;
        }
    }
    Ok(())
}

/// Records a failed result for a run whose worker stopped without writing one.
fn record_death(
    run: &RunSpec,
    run_dir: &Path,
    ending: &Ending,
    attempt: u32,
) -> Result<RunResult, SweepError> {
    let reason = match ending {
        Ending::NotStarted(program, e) => format!("cannot start worker {}: {e}", program.display()),
        Ending::Exited(status) => format!("worker exited without a result ({status})"),
        Ending::TimedOut(limit) => format!("timed out after {:.0?} and was killed", limit),
        Ending::Lost(e) => format!("lost track of the worker: {e}"),
    };
    let reason = if attempt > 0 {
        format!("{reason} (attempt {})", attempt + 1)
    } else {
        reason
    };
    let log_path = run_dir.join(WORKER_LOG);
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
