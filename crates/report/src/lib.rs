//! Reports of a sweep, rebuilt from the files its runs left: results tables (CSV, Parquet)
//! and `index.html`.
//!
//! This crate reads saved results only (`runs/*/result.json`, `runs/*/metrics.jsonl`) and
//! knows nothing of burn, so a report can be rebuilt at any time without training, and this
//! crate builds and tests in seconds. A `result.json` that cannot be read does not stop a
//! report: its run is left out and the page names the file.

mod compare;
mod gather;
mod html;
mod latent;
mod pareto;
mod plot;
mod references;
mod search;
mod table;
mod tasks;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hourglass_spec::model_card;
use hourglass_spec::result::{
    self, EpochRecord, METRICS_FILE, RunResult, RunStatus, metric, read_epochs, write_atomic,
};
use hourglass_spec::sweep_record::{SWEEP_FILE, SweepRecord};
use hourglass_spec::{Objective, PrimaryMetric, RunId};

use table::best_first;

pub use compare::{ComparisonFiles, Differences, comparison, write_comparison};
pub use gather::{Gathered, gather};
pub use references::{Goal, Origin, Reference, References, Verdict};
pub use table::{Cell, DisplayTable, ResultsTable};

/// File name of the results table.
pub const RESULTS_CSV: &str = "results.csv";
/// File name of the results table in Parquet.
pub const RESULTS_PARQUET: &str = "results.parquet";
/// File name of the results table in Markdown.
pub const RESULTS_MARKDOWN: &str = "results.md";
/// File name of the per-configuration table in Markdown.
pub const CONFIGURATIONS_MARKDOWN: &str = "configurations.md";
/// File name of the HTML report.
pub const INDEX_HTML: &str = "index.html";
/// File name of the per-configuration table (mean and std over seeds) in a sweep folder.
pub const CONFIGURATIONS_CSV: &str = "configurations.csv";

/// What can stop a report from being written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `result.json` is not valid.
    #[error("invalid result {}: {message}", path.display())]
    Result {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A table could not be built or encoded.
    #[error("cannot write the results table: {0}")]
    Table(String),
    /// A plot could not be drawn.
    #[error("cannot draw {what}: {message}")]
    Plot {
        /// Which plot.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// The folder holds no finished run.
    #[error("no finished run under {} (expected runs/<id>/result.json)", .0.display())]
    Empty(PathBuf),
}

/// A finished run as found on disk.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Its final record.
    pub result: RunResult,
    /// Its per-epoch metrics, possibly empty (a run that failed before its first epoch).
    pub epochs: Vec<EpochRecord>,
    /// The PNG files in its folder (image grids), by file name.
    pub images: Vec<String>,
    /// Whether its model card says the inputs were standardised (tabular data as z-scores),
    /// so that PSNR, which assumes inputs in [0, 1], means nothing.
    pub standardized: bool,
    /// The data set's class names by label, from its model card; empty when the data set
    /// names none.
    pub class_names: Vec<String>,
    /// When it finished: its result file's modification time (`None` where the file system
    /// keeps none).
    pub finished: Option<std::time::SystemTime>,
    /// Its folder.
    pub dir: PathBuf,
}

/// The runs of a sweep as found on disk.
#[derive(Debug, Clone)]
pub struct Collected {
    /// Its finished runs, in id order.
    pub records: Vec<RunRecord>,
    /// Why each `result.json` that could not be read was left out (the message names the
    /// file).
    pub unreadable: Vec<String>,
}

/// Reads every finished run of the sweep in `sweep_dir`, in id order; a `result.json` that
/// cannot be read is left out and listed.
pub fn collect(sweep_dir: &Path) -> Result<Collected, ReportError> {
    let runs = sweep_dir.join("runs");
    let mut collected = Collected {
        records: Vec::new(),
        unreadable: Vec::new(),
    };
    let walker = walkdir::WalkDir::new(&runs)
        .min_depth(1)
        .max_depth(1)
        .sort_by_file_name();
    for entry in walker.into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_dir() {
            continue;
        }
        let dir = entry.into_path();
        match result::read(&dir) {
            Ok(Some(result)) => {
                let card = model_card::read(&dir).ok();
                collected.records.push(RunRecord {
                    result,
                    epochs: read_epochs(&dir.join(METRICS_FILE)),
                    images: png_files(&dir),
                    standardized: (card.as_ref())
                        .is_some_and(|card| card.standardization.is_some()),
                    class_names: card
                        .and_then(|card| card.data.class_names)
                        .unwrap_or_default(),
                    finished: std::fs::metadata(dir.join(result::RESULT_FILE))
                        .and_then(|metadata| metadata.modified())
                        .ok(),
                    dir,
                })
            }
            Ok(None) => {}
            Err(error) => collected.unreadable.push(error.to_string()),
        }
    }
    if collected.records.is_empty() {
        return Err(ReportError::Empty(sweep_dir.to_path_buf()));
    }
    Ok(collected)
}

/// The names of the PNG files in `dir`, sorted.
fn png_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".png"))
        .collect();
    names.sort();
    names
}

/// The files a report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// `results.csv`.
    pub csv: PathBuf,
    /// `results.parquet`.
    pub parquet: PathBuf,
    /// `results.md`.
    pub markdown: PathBuf,
    /// `configurations.csv`.
    pub configurations: PathBuf,
    /// `index.html`.
    pub html: PathBuf,
    /// The `result.json` files left out because they could not be read, each with why (the
    /// page lists them too).
    pub unreadable: Vec<String>,
    /// Finished runs in the folder that the spec no longer asks for, listed apart.
    pub earlier: usize,
}

/// Which runs of a sweep folder a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// The runs of the spec as last swept (`sweep.json`); the folder's other runs, trained
    /// for earlier versions of the spec, are listed apart.
    Current,
    /// Every finished run in the folder.
    All,
}

/// A sweep's finished runs split by what its spec asks for now, and what ranks them.
#[derive(Debug, Clone)]
pub struct Scoped {
    /// The experiment's name: from `sweep.json`, else the folder's name.
    pub experiment: String,
    /// What ranks the runs.
    pub primary: PrimaryMetric,
    /// What the sweep's model-based search optimised, from `sweep.json` (none for a grid).
    pub objectives: Vec<Objective>,
    /// The runs reported, best first by `primary` (then by id).
    pub current: Vec<RunRecord>,
    /// Finished runs the spec no longer asks for, in id order (none with [`Coverage::All`]).
    pub earlier: Vec<RunRecord>,
    /// Why each `result.json` that could not be read was left out.
    pub unreadable: Vec<String>,
}

/// Reads the finished runs of the sweep in `sweep_dir` and splits them by its `sweep.json`
/// (every run is current in a folder without one). The primary metric is the record's, or
/// the natural one of the runs' tasks.
pub fn scoped(sweep_dir: &Path, coverage: Coverage) -> Result<Scoped, ReportError> {
    let record = SweepRecord::read(sweep_dir).map_err(|error| ReportError::Result {
        path: sweep_dir.join(SWEEP_FILE),
        message: error.to_string(),
    })?;
    let Collected {
        records,
        unreadable,
    } = collect(sweep_dir)?;
    let (mut current, earlier): (Vec<RunRecord>, Vec<RunRecord>) = match (&record, coverage) {
        (Some(record), Coverage::Current) => {
            let ids: BTreeSet<&RunId> = record.runs.iter().collect();
            records
                .into_iter()
                .partition(|run| ids.contains(&run.result.id))
        }
        _ => (records, Vec::new()),
    };
    if current.is_empty() {
        return Err(ReportError::Empty(sweep_dir.to_path_buf()));
    }
    let primary = match &record {
        Some(record) => record.primary_metric.clone(),
        None => PrimaryMetric::natural_for_names(
            current
                .iter()
                .flat_map(|run| run.result.config.tasks())
                .collect::<BTreeSet<String>>()
                .iter()
                .map(String::as_str),
        ),
    };
    let value = |run: &RunRecord| {
        (run.result.status == RunStatus::Completed)
            .then(|| run.result.metrics.get(&primary.name).copied())
            .flatten()
    };
    current.sort_by(|a, b| {
        best_first(primary.direction, value(a), value(b))
            .then_with(|| a.result.id.cmp(&b.result.id))
    });
    let (experiment, objectives) = match record {
        Some(record) => (record.experiment, record.objectives),
        None => (
            (sweep_dir.file_name())
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            Vec::new(),
        ),
    };
    Ok(Scoped {
        experiment,
        primary,
        objectives,
        current,
        earlier,
        unreadable,
    })
}

/// Writes `results.csv`, `results.parquet`, `configurations.csv` and `index.html` for the
/// sweep in `sweep_dir`, each atomically, over the runs `coverage` says; the page compares
/// the sweep with its experiment's `references`. The CSV and Markdown tables show the
/// settings that vary; the Parquet table has every setting and the experiment's name.
pub fn write_report(
    sweep_dir: &Path,
    references: &References,
    coverage: Coverage,
) -> Result<ReportFiles, ReportError> {
    let Scoped {
        experiment,
        primary,
        objectives,
        current: records,
        earlier,
        unreadable,
    } = scoped(sweep_dir, coverage)?;
    // PSNR assumes inputs in [0, 1]: left out of the tables of standardised inputs.
    let standardized = records.iter().all(|run| run.standardized);
    let shown = |column: &str| !(standardized && column.starts_with(metric::TEST_PSNR_DB));
    let table = ResultsTable::from_records(&records, &primary.name).select(shown);
    let configurations = ResultsTable::by_configuration(&records, &primary).select(shown);
    let files = ReportFiles {
        csv: sweep_dir.join(RESULTS_CSV),
        parquet: sweep_dir.join(RESULTS_PARQUET),
        markdown: sweep_dir.join(RESULTS_MARKDOWN),
        configurations: sweep_dir.join(CONFIGURATIONS_CSV),
        html: sweep_dir.join(INDEX_HTML),
        unreadable,
        earlier: earlier.len(),
    };
    let write = write_file;
    write(&files.csv, &table.to_csv()?)?;
    let full = ResultsTable::full(&records, &primary.name, &experiment);
    write(&files.parquet, &full.to_parquet()?)?;
    write(&files.markdown, table.to_markdown().as_bytes())?;
    write(&files.configurations, &configurations.to_csv()?)?;
    write(
        &sweep_dir.join(CONFIGURATIONS_MARKDOWN),
        configurations.to_markdown().as_bytes(),
    )?;
    let references: Vec<&Reference> = references.of(&experiment).collect();
    let page = html::page(
        &html::Sweep {
            title: &experiment,
            primary: &primary,
            objectives: &objectives,
            standardized,
            records: &records,
            earlier: &earlier,
            unreadable: &files.unreadable,
        },
        &table,
        &configurations,
        &references,
    )?;
    write(&files.html, page.as_bytes())?;
    Ok(files)
}

/// Writes `bytes` to `path` atomically.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    write_atomic(path, bytes).map_err(|source| ReportError::Io {
        what: "cannot write",
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests;
