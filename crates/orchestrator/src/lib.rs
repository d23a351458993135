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

mod asha;
mod lock;
mod slurm;
mod worker;

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hourglass_spec::result::{
    self, EpochRecord, METRICS_FILE, ResultError, RunResult, RunStatus, read_epochs, write_atomic,
};
use hourglass_spec::{Executor, Experiment, Resources, RunSpec};

use asha::Rungs;
pub use lock::SweepLock;
pub use slurm::SLURM_DIR;
use slurm::{SlurmExecutor, Task};
use worker::{Ending, Launch, Member, Process, Running};

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
    /// Runs stopped by pruning (now or before, as recorded).
    pub pruned: usize,
    /// Runs not started because the sweep was asked to stop; the next invocation trains them.
    pub unfinished: usize,
}

impl SweepSummary {
    /// Counts a run that ended with `status` in this invocation or an earlier one.
    pub fn count(&mut self, status: RunStatus) {
        match status {
            RunStatus::Completed => self.completed += 1,
            RunStatus::Failed => self.failed += 1,
            RunStatus::Pruned => self.pruned += 1,
        }
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
        self.root.join("runs").join(run.id.as_str())
    }
}

/// The result recorded in `run_dir`, if the run is finished. A result file that cannot be
/// read counts as unfinished, so the run is trained again rather than trusted.
pub fn finished_result(run_dir: &Path) -> Option<RunResult> {
    result::read(run_dir).ok().flatten()
}

/// Runs every unfinished run of `experiment` (and failed ones with `retry_failed`), each on a
/// free slot that offers its backend, pruning unpromising runs when the spec asks for it, and
/// writing the spec's text beside the runs for the record.
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
    let mut rungs = experiment.pruning.map(Rungs::new);
    let total = experiment.runs.len();
    let mut queue = VecDeque::new();
    for (index, run) in experiment.runs.iter().enumerate() {
        let run_dir = layout.run_dir(run);
        match result::read(&run_dir) {
            Ok(Some(result)) if !(options.retry_failed && result.status == RunStatus::Failed) => {
                summary.skipped += 1;
                // Completed counts the runs trained now; failures and prunings are reported
                // wherever they happened.
                if result.status != RunStatus::Completed {
                    summary.count(result.status);
                }
                if let Some(rungs) = &mut rungs {
                    rungs.remember(&read_epochs(&run_dir.join(METRICS_FILE)));
                }
                progress.run_skipped(run, &result);
            }
            // Training the run again would replace a result that a newer hourglass wrote.
            Err(error @ ResultError::Newer { .. }) => return Err(error.into()),
            // Unfinished, failed and retried, or a result that cannot be read: trained.
            _ => queue.push_back((index, 0)),
        }
    }

    let resources = &experiment.resources;
    let mut running: Vec<Running> = Vec::new();
    let mut slurm = match &resources.executor {
        Executor::Local => None,
        Executor::Slurm(settings) => {
            let mut slurm = SlurmExecutor::new(
                settings,
                &layout.root,
                &experiment.name,
                worker,
                resources.threads_per_worker,
            )?;
            // Tasks that an earlier orchestrator submitted and that are still pending or
            // running are followed, not submitted again.
            slurm.refresh(true)?;
            let mut waiting = VecDeque::new();
            let mut adopted: BTreeMap<Task, Vec<Member>> = BTreeMap::new();
            for (index, attempt) in queue.drain(..) {
                let run = &experiment.runs[index];
                match slurm.adoptable(run.id.as_str()) {
                    Some(task) => {
                        progress.run_started(run, index, total);
                        let member = Member::new(index, attempt, &layout.run_dir(run));
                        adopted.entry(task).or_default().push(member);
                    }
                    None => waiting.push_back((index, attempt)),
                }
            }
            // The unfinished runs of a pack's task are followed as one job again.
            for (task, members) in adopted {
                running.push(Running {
                    slot: 0,
                    process: Process::Slurm(task),
                    members,
                });
            }
            queue = waiting;
            Some(slurm)
        }
    };
    let threads = threads_per_worker(resources);
    let mut stopping = false;
    while !queue.is_empty() || !running.is_empty() {
        if !stopping && options.stop.load(Ordering::SeqCst) {
            stopping = true;
            summary.unfinished = queue.len();
            queue.clear();
            if let Some(slurm) = &slurm {
                // Cancelled tasks leave no result: their runs are trained on the next sweep.
                slurm.cancel(&running.iter().filter_map(slurm_task).collect::<Vec<_>>())?;
                summary.unfinished += running
                    .iter()
                    .flat_map(|job| &job.members)
                    .filter(|member| !member.ended)
                    .count();
                progress.cancelled(running.len());
                break;
            }
            progress.stopping(running.len());
        }
        match &mut slurm {
            None => {
                while let Some((position, slot)) = placeable(experiment, &queue, &running) {
                    let pack = take_pack(experiment, &mut queue, position);
                    let runs = starting(experiment, layout, pack, &mut *progress);
                    let launch = Launch {
                        runs,
                        slot,
                        device: resources.slots[slot].device,
                        threads,
                    };
                    match worker::start(launch, worker)? {
                        Ok(job) => running.push(job),
                        Err((members, ending)) => {
                            for member in members {
                                let run = &experiment.runs[member.index];
                                let result = worker::record_death(
                                    run,
                                    &member.run_dir,
                                    &ending,
                                    member.attempt,
                                )?;
                                summary.count(result.status);
                                progress.run_finished(run, &result);
                            }
                        }
                    }
                }
            }
            Some(slurm) if !queue.is_empty() => {
                // Every queued run goes now, one array task per pack.
                let mut packs = Vec::new();
                while !queue.is_empty() {
                    let pack = take_pack(experiment, &mut queue, 0);
                    packs.push(starting(experiment, layout, pack, &mut *progress));
                }
                for (run, member) in packs.iter().flatten() {
                    worker::prepare(run, &member.run_dir)?;
                }
                let tasks = slurm.submit(&packs)?;
                for (task, runs) in tasks.into_iter().zip(packs) {
                    running.push(Running {
                        slot: 0,
                        process: Process::Slurm(task),
                        members: runs.into_iter().map(|(_, member)| member).collect(),
                    });
                }
            }
            Some(_) => {}
        }
        std::thread::sleep(POLL);
        if let Some(slurm) = &mut slurm {
            slurm.refresh(false)?;
        }
        let mut still_running = Vec::with_capacity(running.len());
        for mut job in running {
            let packed = job.members.len() > 1;
            for member in job.members.iter_mut().filter(|member| !member.ended) {
                let run = &experiment.runs[member.index];
                let epochs = run.config.train.epochs;
                let mut pruned = None;
                for record in member.new_epochs() {
                    progress.epoch_ended(run, &record, epochs);
                    if let Some(rungs) = &mut rungs
                        && let Some(verdict) = rungs.judge(&record, epochs)
                    {
                        pruned = Some((record, rungs.metric(), verdict));
                        break;
                    }
                }
                // A pruned run's result is recorded here; the worker of a pack sees it and
                // drops the run, a lone run's worker is stopped below. Should the worker have
                // recorded the run's own result first, that one stands.
                let result = match pruned {
                    Some((record, metric, verdict)) => Some(worker::record_pruned(
                        run,
                        &member.run_dir,
                        &record,
                        (metric, verdict.value),
                        verdict.reason,
                    )?),
                    // The runs of a pack end one by one, each with its result, while the
                    // worker trains the others; a lone run's result is read when its worker
                    // exits.
                    None if packed => finished_result(&member.run_dir),
                    None => None,
                };
                if let Some(result) = result {
                    member.ended = true;
                    summary.count(result.status);
                    progress.run_finished(run, &result);
                }
            }
            if !packed && job.members[0].ended {
                // A pruned lone run's worker trains on: it is stopped. A pack's worker drops
                // its pruned runs and exits once every run has ended.
                job.stop();
                if let Some(slurm) = &slurm {
                    slurm.cancel(&slurm_task(&job).into_iter().collect::<Vec<_>>())?;
                }
                continue;
            }
            let ending = match (&job.process, &slurm) {
                (Process::Slurm(task), Some(slurm)) => {
                    let run_dirs = job.members.iter().map(|member| member.run_dir.as_path());
                    slurm
                        .ending(task, run_dirs)
                        .map(|state| Ending::Slurm(task.clone(), state))
                }
                // A pack trains its runs together: K runs may take K runs' time.
                _ => job.poll(
                    resources
                        .timeout
                        .map(|limit| limit * job.members.len() as u32),
                ),
            };
            let Some(ending) = ending else {
                still_running.push(job);
                continue;
            };
            for member in job.members.iter().filter(|member| !member.ended) {
                let run = &experiment.runs[member.index];
                let result = match finished_result(&member.run_dir) {
                    Some(result) => result,
                    None if member.attempt < resources.retries => {
                        queue.push_front((member.index, member.attempt + 1));
                        continue;
                    }
                    None => worker::record_death(run, &member.run_dir, &ending, member.attempt)?,
                };
                summary.count(result.status);
                progress.run_finished(run, &result);
            }
        }
        running = still_running;
    }
    Ok(summary)
}

/// The Slurm task of a run, if it runs on Slurm.
fn slurm_task(job: &Running) -> Option<&Task> {
    match &job.process {
        Process::Slurm(task) => Some(task),
        Process::Local { .. } => None,
    }
}

/// How a fresh sweep of `experiment` packs its runs (`[resources] pack`): the runs of each
/// worker, by index in the experiment, in the order the workers start. Runs that cannot pack
/// are alone. A resumed sweep packs the runs it still has to train the same way.
pub fn packs(experiment: &Experiment) -> Vec<Vec<usize>> {
    let mut queue: VecDeque<(usize, u32)> = (0..experiment.runs.len()).map(|i| (i, 0)).collect();
    let mut packs = Vec::new();
    while !queue.is_empty() {
        let pack = take_pack(experiment, &mut queue, 0);
        packs.push(pack.into_iter().map(|(index, _)| index).collect());
    }
    packs
}

/// The runs of `pack` (indices and attempts) with their members, each reported started on its
/// first attempt.
fn starting<'e>(
    experiment: &'e Experiment,
    layout: &SweepLayout,
    pack: Vec<(usize, u32)>,
    progress: &mut dyn SweepProgress,
) -> Vec<(&'e RunSpec, Member)> {
    pack.into_iter()
        .map(|(index, attempt)| {
            let run = &experiment.runs[index];
            if attempt == 0 {
                progress.run_started(run, index, experiment.runs.len());
            }
            (run, Member::new(index, attempt, &layout.run_dir(run)))
        })
        .collect()
}

/// Takes the queued run at `position` out of the queue, with the queued runs that can train
/// in one pack with it (the same [`RunConfig::pack_key`](hourglass_spec::RunConfig::pack_key),
/// up to `resources.pack` in all, in queue order); returns their indices and attempts.
fn take_pack(
    experiment: &Experiment,
    queue: &mut VecDeque<(usize, u32)>,
    position: usize,
) -> Vec<(usize, u32)> {
    let first = queue.remove(position).expect("position is in the queue");
    let mut pack = vec![first];
    let Some(key) = experiment.runs[first.0].config.pack_key() else {
        return pack;
    };
    let mut position = 0;
    while pack.len() < experiment.resources.pack && position < queue.len() {
        if experiment.runs[queue[position].0]
            .config
            .pack_key()
            .as_ref()
            == Some(&key)
        {
            pack.extend(queue.remove(position));
        } else {
            position += 1;
        }
    }
    pack
}

/// The first queued run that a slot with a free worker can take, with that slot: runs start
/// in order, except that a run waits while the slots offering its backend are busy.
fn placeable(
    experiment: &Experiment,
    queue: &VecDeque<(usize, u32)>,
    running: &[Running],
) -> Option<(usize, usize)> {
    let slots = &experiment.resources.slots;
    let free: Vec<bool> = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| running.iter().filter(|job| job.slot == i).count() < slot.workers)
        .collect();
    queue
        .iter()
        .enumerate()
        .find_map(|(position, &(index, _))| {
            let backend = experiment.runs[index].config.train.backend;
            slots
                .iter()
                .enumerate()
                .position(|(i, slot)| free[i] && slot.backends.contains(&backend))
                .map(|slot| (position, slot))
        })
}

/// Compute threads of each local worker: `resources.threads_per_worker`, or else the cores
/// shared out among the workers that run at once (all of them for one worker), so that
/// workers whose backends use every core do not crowd each other out.
fn threads_per_worker(resources: &Resources) -> Option<usize> {
    resources.threads_per_worker.or_else(|| {
        let workers = resources.workers();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (workers > 1).then(|| (cores / workers).max(1))
    })
}

#[cfg(test)]
mod tests;
