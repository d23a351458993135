//! One worker process at work on one run: starting it, following its `metrics.jsonl`, noticing
//! its end, and recording a result for a run whose worker could not record one itself.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use hourglass_spec::result::{
    self, CONFIG_FILE, EpochRecord, METRICS_FILE, RESULT_FILE, Recorded, RecordedConfig, RunResult,
    RunStatus, is_temporary, metric, write_atomic,
};
use hourglass_spec::{DeviceName, RunSpec};

use crate::slurm::{Task, TaskState};
use crate::{SweepError, WORKER_LOG, WorkerCommand, io};

/// Lines of a dead worker's log quoted in its failed result.
const LOG_TAIL_LINES: usize = 20;

/// A worker process at work on one run, or on the runs of a pack.
pub(crate) struct Running {
    /// The slot it occupies.
    pub slot: usize,
    pub process: Process,
    /// Its runs: one, or the runs of a pack.
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
    /// Run `index`'s `attempt`, recording its epochs in `run_dir`.
    pub fn new(index: usize, attempt: u32, run_dir: &Path) -> Self {
        Self {
            index,
            attempt,
            run_dir: run_dir.to_path_buf(),
            ended: false,
            metrics: MetricsTail::new(run_dir.join(METRICS_FILE)),
        }
    }

    /// The epochs the worker recorded for this run since the last call.
    pub fn new_epochs(&mut self) -> Vec<EpochRecord> {
        self.metrics.read_new()
    }
}

/// What does the work of a run.
pub(crate) enum Process {
    /// A child process of the orchestrator.
    Local { child: Child, started: Instant },
    /// A task of a Slurm job array.
    Slurm(Task),
}

/// Why a worker stopped.
pub(crate) enum Ending {
    NotStarted(PathBuf, std::io::Error),
    Exited(ExitStatus),
    TimedOut(Duration),
    Lost(std::io::Error),
    Slurm(Task, TaskState),
}

impl Running {
    /// `Some` once a local worker has stopped; a worker past `timeout` is killed first.
    /// Slurm tasks are polled through the executor.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Option<Ending> {
        let Process::Local { child, started } = &mut self.process else {
            return None;
        };
        match child.try_wait() {
            Ok(Some(status)) => Some(Ending::Exited(status)),
            Ok(None) => match timeout {
                Some(limit) if started.elapsed() > limit => {
                    self.stop();
                    Some(Ending::TimedOut(limit))
                }
                _ => None,
            },
            Err(e) => Some(Ending::Lost(e)),
        }
    }

    /// Kills a local worker and waits for it (Slurm tasks are cancelled by the executor).
    pub fn stop(&mut self) {
        if let Process::Local { child, .. } = &mut self.process {
            // A kill that fails means the worker has just exited: wait reaps it either way.
            let _ = child.kill();
            let _ = child.wait();
        }
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

/// How to start a worker.
pub(crate) struct Launch<'a> {
    /// Its runs, with their indices, attempts and folders: one, or a pack's.
    pub runs: Vec<(&'a RunSpec, Member)>,
    pub slot: usize,
    pub device: DeviceName,
    pub threads: Option<usize>,
}

/// Makes the run's folder ready for a worker: its `config.toml` written, the leftovers of an
/// earlier attempt removed.
pub(crate) fn prepare(run: &RunSpec, run_dir: &Path) -> Result<(), SweepError> {
    std::fs::create_dir_all(run_dir).map_err(io("cannot create", run_dir))?;
    remove_leftovers(run_dir)?;
    let config_path = run_dir.join(CONFIG_FILE);
    let config = toml::to_string(&run.config).expect("run configs serialize to TOML");
    write_atomic(&config_path, config.as_bytes()).map_err(io("cannot write", &config_path))
}

/// Prepares the runs' folders and starts `WORKER RUN_DIR... --device DEVICE`, with its output
/// in the `worker.log` of every run (one file, linked into each folder of a pack); a worker
/// that cannot be started is an ending of its runs, not of the sweep.
pub(crate) fn start(
    launch: Launch<'_>,
    worker: &WorkerCommand,
) -> Result<Result<Running, (Vec<Member>, Ending)>, SweepError> {
    for (run, member) in &launch.runs {
        prepare(run, &member.run_dir)?;
    }
    let members: Vec<Member> = launch.runs.into_iter().map(|(_, member)| member).collect();
    let log_path = members[0].run_dir.join(WORKER_LOG);
    let log = File::create(&log_path).map_err(io("cannot create", &log_path))?;
    for member in &members[1..] {
        let link = member.run_dir.join(WORKER_LOG);
        std::fs::hard_link(&log_path, &link).map_err(io("cannot link", &link))?;
    }
    let mut command = Command::new(&worker.program);
    command
        .args(&worker.args)
        .args(members.iter().map(|member| &member.run_dir))
        .arg("--device")
        .arg(launch.device.to_string())
        .env(crate::ORCHESTRATOR_PID, std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io("cannot share", &log_path))?)
        .stderr(log);
    // A process group of its own: a Ctrl-C at the terminal reaches the orchestrator, which
    // lets running workers finish, rather than killing them mid-run.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    if let Some(threads) = launch.threads {
        command
            .env("RAYON_NUM_THREADS", threads.to_string())
            .env("OMP_NUM_THREADS", threads.to_string());
    }
    Ok(match command.spawn() {
        Ok(child) => Ok(Running {
            slot: launch.slot,
            process: Process::Local {
                child,
                started: Instant::now(),
            },
            members,
        }),
        Err(e) => Err((members, Ending::NotStarted(worker.program.clone(), e))),
    })
}

/// Removes what an earlier attempt left in a run folder before the run starts again:
/// half-written temporary files of a killed process, its epoch records and log, and the
/// failed result of a run trained again.
fn remove_leftovers(run_dir: &Path) -> Result<(), SweepError> {
    let entries = std::fs::read_dir(run_dir).map_err(io("cannot list", run_dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let leftover = [METRICS_FILE, RESULT_FILE, WORKER_LOG]
            .iter()
            .any(|file| name == *file);
        if is_temporary(&name.to_string_lossy()) || leftover {
            std::fs::remove_file(entry.path()).map_err(io("cannot remove", &entry.path()))?;
        }
    }
    Ok(())
}

/// Records a failed result for a run whose worker stopped without writing one.
pub(crate) fn record_death(
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
        Ending::Slurm(task, TaskState::Ended { state, exit_code }) => {
            let status = exit_code.split(':').next().unwrap_or(exit_code);
            format!("Slurm task {task} ended {state} without a result (exit code {status})")
        }
        Ending::Slurm(task, _) => {
            format!("Slurm no longer knows task {task}, and it left no result")
        }
    };
    let reason = if attempt > 0 {
        format!("{reason} (attempt {})", attempt + 1)
    } else {
        reason
    };
    let log = std::fs::read_to_string(run_dir.join(WORKER_LOG)).unwrap_or_default();
    let mut error = reason;
    if let Some(panic) = panic_message(&log) {
        error = format!("{error}: {panic}");
    }
    let tail = log_tail(&log);
    if !tail.is_empty() {
        error = format!("{error}; log tail:\n{tail}");
    }
    record(
        run,
        run_dir,
        RunStatus::Failed,
        Some(error),
        BTreeMap::new(),
    )
}

/// Records a pruned result for a run stopped after `at`, with `reason`.
pub(crate) fn record_pruned(
    run: &RunSpec,
    run_dir: &Path,
    at: &EpochRecord,
    compared: (&str, f64),
    reason: String,
) -> Result<RunResult, SweepError> {
    let metrics = BTreeMap::from([
        (metric::EPOCHS_RUN.to_string(), at.epoch as f64),
        (metric::TRAIN_SECONDS.to_string(), at.seconds),
        (compared.0.to_string(), compared.1),
    ]);
    record(run, run_dir, RunStatus::Pruned, Some(reason), metrics)
}

fn record(
    run: &RunSpec,
    run_dir: &Path,
    status: RunStatus,
    error: Option<String>,
    metrics: BTreeMap<String, f64>,
) -> Result<RunResult, SweepError> {
    let result = RunResult {
        id: run.id.clone(),
        status,
        error,
        config: RecordedConfig::from(&run.config),
        metrics,
    };
    // The worker may have recorded the run's own result first: the first result stands.
    match result::write(run_dir, &result).map_err(SweepError::Result)? {
        Recorded::Written => Ok(result),
        Recorded::Lost(first) => Ok(first),
    }
}

/// The last lines of a worker's log.
fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

/// The message of the first panic in a worker's log (`thread '…' panicked at FILE:LINE:` and
/// the lines after it up to the backtrace), which a long backtrace pushes out of the tail.
fn panic_message(log: &str) -> Option<String> {
    let mut lines = log
        .lines()
        .skip_while(|line| !line.contains(" panicked at "));
    let first = lines.next()?;
    let message: Vec<&str> = lines
        .take_while(|line| !line.starts_with("stack backtrace:") && !line.starts_with("note:"))
        .collect();
    Some(
        format!("{} {}", first.trim(), message.join(" "))
            .trim()
            .to_string(),
    )
}
