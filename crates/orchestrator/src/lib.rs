//! Runs the runs of a sweep, each in its own worker process, and keeps every finished result.
//!
//! A sweep lives in `reports/<experiment>/`; each run in `runs/<id>/`. The orchestrator takes
//! the sweep's lock, writes each run's `config.toml`, and starts
//! `WORKER RUN_DIR --device DEVICE` on a slot of `[resources]` that offers the run's backend
//! and has a free worker. It polls the workers, follows the epochs they append to
//! `metrics.jsonl` (for progress and for pruning), and kills any that outlive
//! `resources.timeout`. The worker writes `result.json` last and atomically, so a run folder
//! with a `result.json` is finished and a second invocation of the same sweep skips it; a
//! folder without one is trained again. A worker that dies without writing its result (panic,
//! abort, kill) gets a failed `result.json` written for it, with its exit status and the tail
//! of its log, and the sweep goes on; a run stopped by pruning gets a pruned one. This crate
//! does not link the training code: it talks to workers through processes and files only.
//!
//! [`run_sweep`] is one loop over two parts: the sweep's state (`sweep.rs`: queue, running
//! jobs, rungs, summary) and an [`Executor`](executor::Executor) (`executor.rs`) that starts
//! workers where they run, locally (`local.rs`) or on Slurm (`slurm.rs`).

mod asha;
mod executor;
mod local;
mod lock;
mod queue;
mod run_folder;
mod search;
mod slurm;
mod sweep;

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hourglass_spec::result::{self, EpochRecord, ResultError, RunResult, RunStatus, write_atomic};
use hourglass_spec::sweep_record::SweepRecord;
use hourglass_spec::{Experiment, RunId, RunSpec};

use executor::Executor;
use local::LocalPool;
pub use lock::SweepLock;
use queue::{Queue, Queued};
pub use slurm::SLURM_DIR;
use slurm::SlurmExecutor;
use sweep::SweepState;

/// File in a run folder that receives the worker's stdout and stderr.
pub const WORKER_LOG: &str = "worker.log";

/// The variable through which a local worker learns its orchestrator's process id: a worker
/// that took its parent at start-up for the orchestrator would take the reaper of an
/// orchestrator killed while the worker was still loading, and never stop.
pub const ORCHESTRATOR_PID: &str = "HOURGLASS_ORCHESTRATOR_PID";

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
    /// Slurm refused a submission, or cannot be asked about its jobs.
    #[error("Slurm: {message}")]
    Slurm {
        /// What went wrong, with the command's own message.
        message: String,
    },
    /// A run's result could not be written, or was written by a newer hourglass.
    #[error(transparent)]
    Result(#[from] ResultError),
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
    /// A running run recorded an epoch of its `epochs`.
    fn epoch_ended(&mut self, _run: &RunSpec, _record: &EpochRecord, _epochs: usize) {}
    /// A run ended, with its result.
    fn run_finished(&mut self, _run: &RunSpec, _result: &RunResult) {}
    /// The sweep was asked to stop: no run starts any more, `running` runs are finishing.
    fn stopping(&mut self, _running: usize) {}
    /// The sweep was asked to stop and cancelled its `tasks` Slurm tasks, whose runs are
    /// trained on the next invocation.
    fn cancelled(&mut self, _tasks: usize) {}
    /// A model-based search proposed a configuration that the spec's checks refuse; it is
    /// left out of the search, for `reason`.
    fn configuration_refused(&mut self, _reason: &str) {}
}

/// Choices of one invocation of a sweep.
#[derive(Debug, Clone, Default)]
pub struct SweepOptions {
    /// Train failed runs again instead of skipping them.
    pub retry_failed: bool,
    /// Set (by a Ctrl-C handler, say) to stop starting runs; running ones finish.
    pub stop: Arc<AtomicBool>,
}

/// Runs counted by how they ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ended {
    /// Runs that completed.
    pub completed: usize,
    /// Runs that failed.
    pub failed: usize,
    /// Runs stopped by pruning.
    pub pruned: usize,
}

impl Ended {
    /// Counts a run that ended with `status`.
    pub fn count(&mut self, status: RunStatus) {
        match status {
            RunStatus::Completed => self.completed += 1,
            RunStatus::Failed => self.failed += 1,
            RunStatus::Pruned => self.pruned += 1,
        }
    }

    /// All the runs counted.
    pub fn total(&self) -> usize {
        self.completed + self.failed + self.pruned
    }
}

/// What a sweep did. Every run of the sweep is counted once: in `now`, in `before` or in
/// `unfinished`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepSummary {
    /// Runs that ended in this invocation.
    pub now: Ended,
    /// Runs that had ended before this invocation, and were skipped.
    pub before: Ended,
    /// Runs not started because the sweep was asked to stop; the next invocation trains them.
    pub unfinished: usize,
}

impl SweepSummary {
    /// Adds what another round of the sweep did.
    fn add(&mut self, round: &SweepSummary) {
        for (total, part) in [
            (&mut self.now, &round.now),
            (&mut self.before, &round.before),
        ] {
            total.completed += part.completed;
            total.failed += part.failed;
            total.pruned += part.pruned;
        }
        self.unfinished += round.unfinished;
    }

    /// Failed runs of the sweep, whenever they failed.
    pub fn failed(&self) -> usize {
        self.now.failed + self.before.failed
    }
}

/// `3 completed, 0 failed, 0 pruned, 2 already finished (skipped: 1 completed, 1 failed)`.
impl std::fmt::Display for SweepSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Ended {
            completed,
            failed,
            pruned,
        } = self.now;
        write!(
            f,
            "{completed} completed, {failed} failed, {pruned} pruned, {} already finished (skipped",
            self.before.total()
        )?;
        // How the skipped runs had ended, when not all of them completed.
        if self.before.completed != self.before.total() {
            let kinds = [
                (self.before.completed, "completed"),
                (self.before.failed, "failed"),
                (self.before.pruned, "pruned"),
            ];
            let said: Vec<String> = kinds
                .iter()
                .filter(|(count, _)| *count > 0)
                .map(|(count, kind)| format!("{count} {kind}"))
                .collect();
            write!(f, ": {}", said.join(", "))?;
        }
        write!(f, ")")
    }
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
        self.run_dir_of(&run.id)
    }

    /// The folder of the run with id `id`.
    pub fn run_dir_of(&self, id: &RunId) -> PathBuf {
        self.root.join("runs").join(id.as_str())
    }
}

/// The result recorded in `run_dir`, if the run is finished. A result file that cannot be
/// read counts as unfinished, so the run is trained again rather than trusted.
pub fn finished_result(run_dir: &Path) -> Option<RunResult> {
    result::read(run_dir).ok().flatten()
}

/// Runs every unfinished run of `experiment` (and failed ones with `retry_failed`), each on a
/// free slot that offers its backend, pruning unpromising runs when the spec asks for it, and
/// writing the spec's text and its [`SweepRecord`] (which runs are the spec's now, what the
/// report ranks them by) beside the runs.
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

    match &experiment.resources.executor {
        hourglass_spec::Executor::Local => {
            let pool = LocalPool::new(&experiment.resources, worker);
            run_on(pool, experiment, layout, options, progress)
        }
        hourglass_spec::Executor::Slurm(settings) => {
            let slurm = SlurmExecutor::new(
                settings,
                &layout.root,
                &experiment.name,
                worker,
                experiment.resources.threads_per_worker,
            )?;
            run_on(slurm, experiment, layout, options, progress)
        }
    }
}

/// The sweep's loop, the same on every executor: resume, adopt what an earlier orchestrator
/// left running, then start what the executor places, poll, and stop when asked, until no
/// run is queued or running. A model-based search goes round this loop once per batch of
/// proposals (see `search.rs`), on the same executor.
fn run_on<E: Executor>(
    mut executor: E,
    experiment: &Experiment,
    layout: &SweepLayout,
    options: &SweepOptions,
    progress: &mut dyn SweepProgress,
) -> Result<SweepSummary, SweepError> {
    let mut summary = SweepSummary::default();
    // Runs of earlier rounds of this invocation, already counted.
    let mut counted = BTreeSet::new();
    let mut replay =
        (experiment.search.as_ref()).map(|search| search::Replay::new(experiment, search));
    let mut first = true;
    loop {
        let (round, last) = match &mut replay {
            None => (Cow::Borrowed(experiment), true),
            Some(replay) => {
                let retry_failed = first && options.retry_failed;
                let finished = |id: &RunId| {
                    finished_result(&layout.run_dir_of(id))
                        .filter(|result| !(retry_failed && result.status == RunStatus::Failed))
                };
                let round = replay.round(&finished);
                for reason in &round.refused {
                    progress.configuration_refused(reason);
                }
                (Cow::Owned(round.experiment), round.last)
            }
        };
        SweepRecord::of(&round).write(&layout.root)?;
        let retry_failed = first && options.retry_failed;
        let mut sweep = SweepState::resume(&round, layout, retry_failed, &counted, progress)?;
        if first {
            sweep.adopt(&mut executor)?;
        }
        while !sweep.is_done() {
            if options.stop.load(Ordering::SeqCst) {
                sweep.stop(&mut executor)?;
                if sweep.is_done() {
                    break;
                }
            }
            sweep.start(&mut executor)?;
            std::thread::sleep(POLL);
            executor.refresh()?;
            sweep.poll(&mut executor)?;
        }
        let ended = sweep.summary();
        let trained = ended.now.total();
        summary.add(&ended);
        counted.extend(round.runs.iter().map(|run| run.id.clone()));
        first = false;
        // A round that trained nothing would propose itself again.
        if last || trained == 0 || options.stop.load(Ordering::SeqCst) {
            return Ok(summary);
        }
    }
}

/// How many configurations the model-based search of `experiment` proposes at a time, if it
/// has one: as many as its slots train at once.
pub fn search_batch(experiment: &Experiment) -> Option<usize> {
    (experiment.search.as_ref()).map(|search| search::batch_size(experiment, search))
}

/// How a fresh sweep of `experiment` packs its runs (`[resources] pack`): the runs of each
/// worker, by index in the experiment, in the order the workers start. Runs that cannot pack
/// are alone. A resumed sweep packs the runs it still has to train the same way.
pub fn packs(experiment: &Experiment) -> Vec<Vec<usize>> {
    let mut queue = Queue::new(experiment);
    for index in 0..experiment.runs.len() {
        queue.push_back(Queued { index, attempt: 0 });
    }
    let mut packs = Vec::new();
    while !queue.is_empty() {
        let pack = queue.take_pack(0);
        packs.push(pack.into_iter().map(|queued| queued.index).collect());
    }
    packs
}

#[cfg(test)]
mod tests;
