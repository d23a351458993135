//! Where runs execute: the [`Executor`] interface that the sweep's loop drives, and the jobs it
//! hands back. Two implementations: the local process pool (`local.rs`) and Slurm job arrays
//! (`slurm.rs`). Another scheduler (Kubernetes Indexed Jobs, HTCondor) is a third module
//! implementing the trait and one arm in `run_sweep`'s choice of executor; the loop and the
//! sweep's state do not change.
//!
//! An executor starts workers and learns when they end; everything else is the sweep's: the
//! queue, retries, pruning, and results, which every worker leaves in its runs' folders
//! whatever executed it (the reports folder is shared with a cluster's nodes).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use hourglass_spec::RunSpec;
use hourglass_spec::result::{EpochRecord, METRICS_FILE};

use crate::SweepError;
use crate::queue::{Queue, Queued};

/// Where the runs of a sweep execute.
pub(crate) trait Executor {
    /// What the executor follows a started worker by (a child process, an array task).
    type Handle;

    /// Whether stopping the sweep cancels the running jobs, whose runs are then trained on the
    /// next invocation (a cluster's, which would run on without the orchestrator), rather than
    /// letting them finish (local workers).
    const CANCELS_WHEN_STOPPED: bool;

    /// Takes out of `queue` the runs that workers started by an earlier orchestrator of this
    /// sweep (killed since) are still training, each job with its runs. Called once, before
    /// anything starts; by default there are none.
    fn adopt(
        &mut self,
        _queue: &mut Queue<'_>,
    ) -> Result<Vec<(Self::Handle, Vec<Queued>)>, SweepError> {
        Ok(Vec::new())
    }

    /// Takes out of `queue` the packs to start now (see [`Queue::take_pack`]), given the jobs
    /// `running`: as many as free slots take, or all of them.
    fn place(&self, queue: &mut Queue<'_>, running: &[Job<Self::Handle>]) -> Vec<Placed>;

    /// Starts a worker on each pack, whose folders are prepared: its handle, or the ending of
    /// a worker that could not start (an ending of its runs, not of the sweep), in order.
    fn start(
        &mut self,
        launches: &[Launch<'_>],
    ) -> Result<Vec<Result<Self::Handle, Ending>>, SweepError>;

    /// Brings what the executor knows of its jobs up to date; called once per poll, before
    /// [`Self::ended`] is asked about each job.
    fn refresh(&mut self) -> Result<(), SweepError> {
        Ok(())
    }

    /// How `job` ended, once it has: its worker exited, was killed past the time limit, or
    /// the scheduler reports it ended.
    fn ended(&mut self, job: &mut Job<Self::Handle>) -> Option<Ending>;

    /// Stops `jobs` now (their runs' results, if any, are already written).
    fn cancel(&mut self, jobs: Vec<Job<Self::Handle>>) -> Result<(), SweepError>;
}

/// A pack that an executor chose to start now.
pub(crate) struct Placed {
    /// Where, in the executor's terms (a local slot; Slurm has one).
    pub slot: usize,
    /// Its runs.
    pub runs: Vec<Queued>,
}

/// What an executor needs to start a worker on a pack.
pub(crate) struct Launch<'a> {
    /// The slot [`Executor::place`] chose.
    pub slot: usize,
    /// Its runs with their folders, where `config.toml` is written.
    pub runs: Vec<(&'a RunSpec, &'a Path)>,
}

/// Why a worker stopped, in words: how a failed result of a run it left without one begins.
pub(crate) struct Ending(pub String);

/// A worker at work on one run, or on the runs of a pack.
pub(crate) struct Job<H> {
    /// What its executor follows it by.
    pub handle: H,
    /// Its runs.
    pub members: Vec<Member>,
}

/// A run that a worker trains.
pub(crate) struct Member {
    /// The run's index in the experiment.
    pub index: usize,
    /// 0 for the first start of the run in this invocation, then one more per retry.
    pub attempt: u32,
    pub run_dir: PathBuf,
    /// Whether its result has been taken into account.
    pub ended: bool,
    metrics: MetricsTail,
}

impl Member {
    /// `queued`, recording its epochs in `run_dir`.
    pub fn new(queued: Queued, run_dir: PathBuf) -> Self {
        Self {
            index: queued.index,
            attempt: queued.attempt,
            metrics: MetricsTail::new(run_dir.join(METRICS_FILE)),
            run_dir,
            ended: false,
        }
    }

    /// The epochs the worker recorded for this run since the last call.
    pub fn new_epochs(&mut self) -> Vec<EpochRecord> {
        self.metrics.read_new()
    }
}

/// Reads the complete lines appended to a run's `metrics.jsonl` since the last read. The file
/// is opened once the worker has created it and stays open, so a poll costs one `fstat` while
/// nothing new was written.
struct MetricsTail {
    path: PathBuf,
    file: Option<File>,
    offset: u64,
}

impl MetricsTail {
    fn new(path: PathBuf) -> Self {
        Self {
            path,
            file: None,
            offset: 0,
        }
    }

    fn read_new(&mut self) -> Vec<EpochRecord> {
        if self.file.is_none() {
            self.file = File::open(&self.path).ok();
        }
        let Some(file) = &mut self.file else {
            return Vec::new();
        };
        let length = file.metadata().map(|m| m.len()).unwrap_or(0);
        if length <= self.offset || file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut appended = String::new();
        if file.read_to_string(&mut appended).is_err() {
            return Vec::new();
        }
        // A line still being written is left for the next read.
        let complete = appended.rfind('\n').map_or(0, |end| end + 1);
        self.offset += complete as u64;
        appended[..complete]
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    /// The `use crate::` lines of `source`.
    fn crate_uses(source: &str) -> String {
        let mut uses = String::new();
        let mut open = false;
        for line in source.lines() {
            open = (open || line.starts_with("use crate::")) && !line.is_empty();
            if open {
                uses.push_str(line);
                uses.push('\n');
            }
        }
        uses
    }

    #[test]
    fn the_loop_and_the_executors_know_nothing_of_each_other() {
        // A third executor is a module implementing `Executor` and an arm in `run_sweep`: the
        // sweep's state names no executor, and no executor names the state or another one.
        let state = crate_uses(include_str!("sweep.rs"));
        assert!(state.contains("crate::executor::"), "{state}");
        for executor in ["local", "slurm"] {
            assert!(
                !state.contains(executor),
                "sweep.rs uses {executor}: {state}"
            );
        }
        for (name, source) in [
            ("local.rs", include_str!("local.rs")),
            ("slurm.rs", include_str!("slurm.rs")),
        ] {
            let uses = crate_uses(source);
            assert!(uses.contains("crate::executor::"), "{name}: {uses}");
            for other in ["sweep", "local", "slurm", "run_folder"] {
                assert!(!uses.contains(other), "{name} uses {other}: {uses}");
            }
        }
    }
}
