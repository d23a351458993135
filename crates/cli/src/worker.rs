//! The worker protocol: `hourglass worker RUN_DIR...` trains the runs whose folders it is
//! given (one alone, several as a pack), prints each epoch to its log and writes each run's
//! `result.json` as the run ends, unless the orchestrator recorded one first (a pruned run).
//! A worker stops when its orchestrator is gone, so a resumed sweep never races it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hourglass_spec::result::{
    self, CONFIG_FILE, EpochRecord, Measured, Recorded, RecordedConfig, RunResult, RunStatus,
};
use hourglass_spec::{DeviceName, RunConfig, RunId};

/// Stops this worker when the orchestrator that started it is gone (killed with SIGKILL, say),
/// so that a resumed sweep never races a leftover worker on the same run. The parent is polled
/// every 200 ms, and once more before each result is written ([`exit_if_orphaned`]): a busy
/// machine can delay the poll past a resumed sweep's start, but a leftover worker never
/// writes a result. An orphan's parent id changes to its reaper's. A local worker is told its
/// orchestrator's id ([`hourglass_orchestrator::ORCHESTRATOR_PID`]); one started otherwise
/// (by Slurm, by hand) takes its parent at start-up.
fn exit_when_orphaned() {
    #[cfg(unix)]
    {
        let named = std::env::var(hourglass_orchestrator::ORCHESTRATOR_PID).ok();
        let orchestrator = named.and_then(|pid| pid.parse().ok());
        ORCHESTRATOR.get_or_init(|| orchestrator.unwrap_or_else(std::os::unix::process::parent_id));
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                exit_if_orphaned();
            }
        });
    }
}

/// The process id of the orchestrator that started this worker.
#[cfg(unix)]
static ORCHESTRATOR: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Exits when this worker's orchestrator is gone.
fn exit_if_orphaned() {
    #[cfg(unix)]
    if let Some(&parent) = ORCHESTRATOR.get()
        && std::os::unix::process::parent_id() != parent
    {
        eprintln!("the orchestrator (pid {parent}) is gone: stopping this worker");
        std::process::exit(3);
    }
}

/// The signals that stop a worker's training at its next step, every run checkpointed and left
/// without a result, to be resumed. SIGUSR1 is what Slurm sends `resources.slurm.signal_grace`
/// before a task's time limit (`--signal=B:USR1@...`): the worker then requeues its own task
/// (`scontrol requeue`, as submitit does). SIGTERM is how Slurm preempts a task, requeueing it
/// itself, or cancels it; a second SIGTERM ends the worker at once.
#[derive(Clone)]
struct Stop {
    requeue: Arc<AtomicBool>,
    terminate: Arc<AtomicBool>,
}

impl Stop {
    fn register() -> Result<Self> {
        use signal_hook::consts::{SIGTERM, SIGUSR1};
        let stop = Self {
            requeue: Arc::default(),
            terminate: Arc::default(),
        };
        let context = "cannot install the worker's signal handlers";
        // Registered first, so it fires only once the flag was already set by an earlier signal.
        signal_hook::flag::register_conditional_shutdown(SIGTERM, 143, stop.terminate.clone())
            .context(context)?;
        signal_hook::flag::register(SIGTERM, stop.terminate.clone()).context(context)?;
        signal_hook::flag::register(SIGUSR1, stop.requeue.clone()).context(context)?;
        Ok(stop)
    }

    fn requested(&self) -> bool {
        self.requeue.load(Ordering::Relaxed) || self.terminate.load(Ordering::Relaxed)
    }

    /// Ends a worker whose runs were interrupted: requeues its Slurm task when told to by
    /// SIGUSR1 (Slurm then ends this process), else exits as a process ended by its signal.
    fn end_interrupted(&self) -> Result<ExitCode> {
        if !self.requeue.load(Ordering::Relaxed) {
            return Ok(ExitCode::from(143));
        }
        let job = std::env::var("SLURM_JOB_ID")
            .context("told to requeue its task (SIGUSR1), but SLURM_JOB_ID is not set")?;
        println!("requeueing Slurm job {job}: its runs resume from their checkpoints");
        let output = std::process::Command::new("scontrol")
            .args(["requeue", &job])
            .output()
            .context("cannot run scontrol to requeue the task")?;
        anyhow::ensure!(
            output.status.success(),
            "`scontrol requeue {job}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(ExitCode::from(138))
    }
}

/// Environment variable naming run ids whose worker panics after its first epoch (comma
/// separated): fault injection for the tests of failure isolation, since no valid run panics
/// on its own.
const INJECT_PANIC: &str = "HOURGLASS_INJECT_PANIC";

/// Prints each epoch to the worker's log.
struct EpochLines {
    /// Panic after the first epoch (see [`INJECT_PANIC`]).
    panic: bool,
    /// Before each line: the run's id in a pack's log, else nothing.
    prefix: String,
    stop: Stop,
}

impl hourglass_train::Progress for EpochLines {
    fn epoch_ended(&mut self, record: &EpochRecord, epochs: usize) {
        if self.panic {
            panic!("injected by {INJECT_PANIC} after epoch {}", record.epoch);
        }
        let validation = record
            .val_loss
            .map(|v| format!(" val_loss {v:.5}"))
            .unwrap_or_default();
        println!(
            "{}epoch {}/{epochs}: train_loss {:.5}{validation} ({:.1} s)",
            self.prefix, record.epoch, record.train_loss, record.seconds
        );
    }

    fn interrupted(&mut self) -> bool {
        self.stop.requested()
    }
}

/// The run folders on line `$SLURM_ARRAY_TASK_ID + 1` of `list` (a pack's separated by
/// tabs).
pub fn array_task_runs(list: &Path) -> Result<Vec<PathBuf>> {
    let task: usize = std::env::var("SLURM_ARRAY_TASK_ID")
        .context("--run-list is for Slurm array tasks, but SLURM_ARRAY_TASK_ID is not set")?
        .parse()
        .context("SLURM_ARRAY_TASK_ID is not a task index")?;
    let text =
        std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
    let line = text
        .lines()
        .nth(task)
        .with_context(|| format!("{} has no line for task {task}", list.display()))?;
    Ok(line.split('\t').map(PathBuf::from).collect())
}

/// Trains the runs of `run_dirs`, one alone or several as a pack, with the data sets under
/// `datasets`, and writes each run's `result.json` as soon as it ends; fails when a run
/// failed.
pub fn run(run_dirs: &[PathBuf], device: &str, datasets: &Path) -> Result<ExitCode> {
    exit_when_orphaned();
    let stop = Stop::register()?;
    let device = DeviceName::parse(device)
        .with_context(|| format!("{device:?} is not a device (cpu, cuda:N or gpu:N)"))?;
    let configs = run_dirs
        .iter()
        .map(|run_dir| {
            let path = run_dir.join(CONFIG_FILE);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<RunConfig>(&text)
                .with_context(|| format!("invalid run config {}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let injected = std::env::var(INJECT_PANIC).unwrap_or_default();
    let panics = |config: &RunConfig| {
        let id = RunId::of(config);
        injected.split(',').any(|injected| injected == id.as_str())
    };
    let setup = hourglass_train::backend::device(configs[0].train.backend, device)
        .map_err(anyhow::Error::from)
        .and_then(|device| Ok((device, crate::commands::registry(datasets)?)));
    let mut results = Results {
        run_dirs,
        configs: &configs,
        written: Ok(true),
        interrupted: false,
    };
    match (setup, &configs[..]) {
        (Err(error), _) => {
            for run in 0..configs.len() {
                results.record(run, Err(anyhow::anyhow!("{error:#}")));
            }
        }
        (Ok((device, registry)), [config]) => {
            let mut lines = EpochLines {
                panic: panics(config),
                prefix: String::new(),
                stop: stop.clone(),
            };
            let outcome =
                hourglass_train::train_run(config, &registry, &run_dirs[0], &device, &mut lines);
            results.record_trained(0, outcome);
        }
        (Ok((device, registry)), _) => {
            let lines = configs
                .iter()
                .map(|config| EpochLines {
                    panic: panics(config),
                    prefix: format!("{}: ", RunId::of(config)),
                    stop: stop.clone(),
                })
                .collect();
            let mut pack = PackResults {
                results,
                lines,
                checked: vec![Instant::now(); configs.len()],
                stop: stop.clone(),
            };
            hourglass_train::train_pack(&configs, &registry, run_dirs, &device, &mut pack);
            results = pack.results;
        }
    }
    let completed = results.written?;
    if results.interrupted {
        return stop.end_interrupted();
    }
    Ok(if completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes the `result.json` of each run of a worker as the run ends.
struct Results<'a> {
    run_dirs: &'a [PathBuf],
    configs: &'a [RunConfig],
    /// Whether every run recorded so far completed, or the first result that could not be
    /// written.
    written: Result<bool>,
    /// Whether a run was interrupted, its checkpoint written and no result.
    interrupted: bool,
}

impl Results<'_> {
    /// Records how training run `run` (by position) ended: its result, or none when it was
    /// interrupted, since it resumes from its checkpoint.
    fn record_trained(
        &mut self,
        run: usize,
        outcome: Result<Measured, hourglass_train::TrainError>,
    ) {
        let Err(error @ hourglass_train::TrainError::Interrupted { .. }) = outcome else {
            return self.record(run, outcome.map_err(anyhow::Error::from));
        };
        let (id, run_dir) = (RunId::of(&self.configs[run]), &self.run_dirs[run]);
        println!("{id}: {error}");
        self.interrupted = true;
        // Pruned meanwhile: nothing resumes it.
        if result::is_recorded(run_dir)
            && let Err(error) = hourglass_train::remove_checkpoint(run_dir)
        {
            eprintln!("{id}: cannot remove its checkpoint: {error}");
        }
    }

    /// Writes the result of run `run` (by position) atomically, unless the orchestrator has
    /// recorded one (pruned) first.
    fn record(&mut self, run: usize, outcome: Result<Measured>) {
        let config = &self.configs[run];
        let id = RunId::of(config);
        let config = RecordedConfig::from(config);
        let result = match outcome {
            Ok(measured) => RunResult {
                id,
                status: RunStatus::Completed,
                error: None,
                config,
                metrics: measured.metrics,
                not_measured: measured.not_measured,
            },
            Err(error) => RunResult {
                id,
                status: RunStatus::Failed,
                error: Some(format!("{error:#}")),
                config,
                metrics: Default::default(),
                not_measured: Default::default(),
            },
        };
        exit_if_orphaned();
        // A result already there is the orchestrator's, which pruned the run meanwhile.
        let written = result::write(&self.run_dirs[run], &result)
            .map(|recorded| matches!(recorded, Recorded::Written))
            .context("cannot record the run's result");
        if let Ok(false) = written {
            println!(
                "{}: ended, but the orchestrator had recorded its result first",
                result.id
            );
        }
        let completed = result.status == RunStatus::Completed || written.as_ref().is_ok_and(|w| !w);
        // A completed run is not resumed; a failed one keeps its checkpoint for a retry.
        if result.status == RunStatus::Completed
            && let Err(error) = hourglass_train::remove_checkpoint(&self.run_dirs[run])
        {
            eprintln!("{}: cannot remove its checkpoint: {error}", result.id);
        }
        let written = written.map(|_| ());
        self.written = match (std::mem::replace(&mut self.written, Ok(true)), written) {
            (Err(first), _) => Err(first),
            (Ok(_), Err(error)) => Err(error),
            (Ok(all), Ok(())) => Ok(all && completed),
        };
    }
}

/// A pack's events: epochs to the log, each run's result to its folder.
struct PackResults<'a> {
    results: Results<'a>,
    /// One per run.
    lines: Vec<EpochLines>,
    /// When each run's folder was last looked at for a result recorded by the orchestrator.
    checked: Vec<Instant>,
    stop: Stop,
}

/// Least time between two looks for a pruned run's result: on a cluster's network file system
/// a look is a metadata call to the server.
const RESULT_CHECK: Duration = Duration::from_millis(250);

impl hourglass_train::PackProgress for PackResults<'_> {
    fn epoch_ended(&mut self, run: usize, record: &EpochRecord, epochs: usize) {
        hourglass_train::Progress::epoch_ended(&mut self.lines[run], record, epochs);
    }

    fn run_finished(&mut self, run: usize, outcome: Result<Measured, hourglass_train::TrainError>) {
        self.results.record_trained(run, outcome);
    }

    fn interrupted(&mut self) -> bool {
        self.stop.requested()
    }

    /// The orchestrator ends a run of a pack by recording its result (a pruned one).
    fn stopped(&mut self, run: usize) -> bool {
        if self.checked[run].elapsed() < RESULT_CHECK {
            return false;
        }
        self.checked[run] = Instant::now();
        result::is_recorded(&self.results.run_dirs[run])
    }
}
