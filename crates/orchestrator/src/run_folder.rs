//! What the orchestrator keeps in a run's folder: the folder made ready for a worker, and the
//! result of a run whose worker could not record one itself (it died, timed out or could not
//! start) or that the sweep pruned.

use std::collections::BTreeMap;
use std::path::Path;

use hourglass_spec::checkpoint::CHECKPOINT_FILE;
use hourglass_spec::model_card::{CARD_FILE, MODEL_FILE};
use hourglass_spec::result::{
    self, CONFIG_FILE, EpochRecord, METRICS_FILE, RESULT_FILE, Recorded, RecordedConfig, RunResult,
    RunStatus, is_temporary, metric, write_atomic,
};
use hourglass_spec::{RunId, RunSpec};

use crate::executor::Ending;
use crate::{SweepError, SweepLayout, WORKER_LOG, io};

/// Lines of a dead worker's log quoted in its failed result.
const LOG_TAIL_LINES: usize = 20;

/// Makes the run's folder ready for a worker: its `config.toml` written, the leftovers of an
/// earlier attempt removed.
pub(crate) fn prepare(run: &RunSpec, run_dir: &Path) -> Result<(), SweepError> {
    std::fs::create_dir_all(run_dir).map_err(io("cannot create", run_dir))?;
    remove_leftovers(run_dir)?;
    let config_path = run_dir.join(CONFIG_FILE);
    let config = toml::to_string(&run.config).expect("run configs serialize to TOML");
    write_atomic(&config_path, config.as_bytes()).map_err(io("cannot write", &config_path))
}

/// Moves the folder of a run from the id that hourglass before 0.2 gave it (its evaluation
/// tasks included, see [`RunId::former`]) to its id now, when only the former exists, and
/// records the new id in its result: a finished run is kept, not trained again.
pub(crate) fn adopt_former_folder(run: &RunSpec, layout: &SweepLayout) -> Result<(), SweepError> {
    let Some(former) = RunId::former(&run.config) else {
        return Ok(());
    };
    let (from, to) = (layout.run_dir_of(&former), layout.run_dir(run));
    if to.exists() || !from.is_dir() {
        return Ok(());
    }
    std::fs::rename(&from, &to).map_err(io("cannot rename", &from))?;
    if let Ok(Some(mut result)) = result::read(&to) {
        result.id = run.id.clone();
        result::amend(&to, &result)?;
    }
    Ok(())
}

/// Removes what an earlier attempt left in a run folder before the run starts again:
/// half-written temporary files of a killed process, its log, the failed result of a run
/// trained again, and its epoch records unless its checkpoint is kept to resume from (the
/// worker then keeps the records of the epochs before it).
fn remove_leftovers(run_dir: &Path) -> Result<(), SweepError> {
    let resumes = run_dir.join(CHECKPOINT_FILE).is_file();
    let entries = std::fs::read_dir(run_dir).map_err(io("cannot list", run_dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let leftover = [RESULT_FILE, WORKER_LOG, MODEL_FILE, CARD_FILE]
            .iter()
            .any(|file| name == *file)
            || (name == METRICS_FILE && !resumes);
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
    let Ending(reason) = ending;
    let reason = if attempt > 0 {
        format!("{reason} (attempt {})", attempt.saturating_add(1))
    } else {
        reason.clone()
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
    let result = record(run, run_dir, RunStatus::Pruned, Some(reason), metrics)?;
    // A pruned run is not resumed.
    let checkpoint = run_dir.join(CHECKPOINT_FILE);
    match std::fs::remove_file(&checkpoint) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(io("cannot remove", &checkpoint)(error))
        }
        _ => Ok(result),
    }
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
        not_measured: Default::default(),
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
