//! The worker protocol: `hourglass worker RUN_DIR...` trains the runs whose folders it is
//! given (one alone, several as a pack), prints each epoch to its log and writes each run's
//! `result.json` as the run ends, unless the orchestrator recorded one first (a pruned run).
//! A worker stops when its orchestrator is gone, so a resumed sweep never races it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hourglass_spec::result::{
    self, CONFIG_FILE, EpochRecord, Recorded, RecordedConfig, RunResult, RunStatus,
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
            };
            let outcome =
                hourglass_train::train_run(config, &registry, &run_dirs[0], &device, &mut lines);
            results.record(0, outcome.map_err(anyhow::Error::from));
        }
        (Ok((device, registry)), _) => {
            let lines = configs
                .iter()
                .map(|config| EpochLines {
                    panic: panics(config),
                    prefix: format!("{}: ", RunId::of(config)),
                })
                .collect();
            let mut pack = PackResults {
                results,
                lines,
                checked: vec![Instant::now(); configs.len()],
            };
            hourglass_train::train_pack(&configs, &registry, run_dirs, &device, &mut pack);
            results = pack.results;
        }
    }
    Ok(if results.written? {
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
}

impl Results<'_> {
    /// Writes the result of run `run` (by position) atomically, unless the orchestrator has
    /// recorded one (pruned) first.
    fn record(&mut self, run: usize, outcome: Result<BTreeMap<String, f64>>) {
        let config = &self.configs[run];
        let id = RunId::of(config);
        let config = RecordedConfig::from(config);
        let result = match outcome {
            Ok(metrics) => RunResult {
                id,
                status: RunStatus::Completed,
                error: None,
                config,
                metrics,
            },
            Err(error) => RunResult {
                id,
                status: RunStatus::Failed,
                error: Some(format!("{error:#}")),
                config,
                metrics: Default::default(),
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
}

/// Least time between two looks for a pruned run's result: on a cluster's network file system
/// a look is a metadata call to the server.
const RESULT_CHECK: Duration = Duration::from_millis(250);

impl hourglass_train::PackProgress for PackResults<'_> {
    fn epoch_ended(&mut self, run: usize, record: &EpochRecord, epochs: usize) {
        hourglass_train::Progress::epoch_ended(&mut self.lines[run], record, epochs);
    }

    fn run_finished(
        &mut self,
        run: usize,
        outcome: Result<BTreeMap<String, f64>, hourglass_train::TrainError>,
    ) {
        self.results
            .record(run, outcome.map_err(anyhow::Error::from));
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
