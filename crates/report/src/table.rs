//! The results table: one row per run with the configuration keys that vary and the metrics.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hourglass_spec::result::RunStatus;
use hourglass_spec::{Direction, PrimaryMetric};

use polars::prelude::*;

use crate::{ReportError, RunRecord};

/// Reconstruction metrics, shown right after the primary metric.
const QUALITY_METRICS: [&str; 3] = ["test_mse", "test_psnr_db", "test_loss"];

/// Metrics of cost, shown last.
const TIMING_METRICS: [&str; 4] = [
    "train_seconds",
    "samples_per_second",
    "epochs_run",
    "parameters",
];

/// One table cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text (ids, statuses, non-numeric settings).
    Text(String),
    /// A number.
    Number(f64),
    /// No value for this run.
    Missing,
}

impl Cell {
    /// The cell as text: a number with four significant digits, the first line of a text.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(text) => text.lines().next().unwrap_or_default().to_string(),
            Cell::Number(v) => number(*v),
            Cell::Missing => String::new(),
        }
    }
}

/// A table as text cells, ready for Markdown or HTML.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DisplayTable {
    /// Column names.
    pub headers: Vec<String>,
    /// Whether each column holds numbers only (right-aligned).
    pub numeric: Vec<bool>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

/// A number with four significant digits, in scientific notation when very small or large;
/// whole numbers (latent sizes, epochs, seeds) as they are.
pub(crate) fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() || (v.fract() == 0.0 && v.abs() < 1e9) {
        return v.to_string();
    }
    let magnitude = v.abs().log10().floor();
    if (-3.0..6.0).contains(&magnitude) {
        let decimals = (3.0 - magnitude).max(0.0) as usize;
        format!("{v:.decimals$}")
    } else {
        format!("{v:.3e}")
    }
}

/// Escapes the characters that would end a Markdown table cell or be read as HTML.
fn markdown_escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Columns and rows, ready to be encoded as CSV or HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsTable {
    /// Column names: `id`, `status`, the varied config keys, the metrics, `error`.
    pub columns: Vec<String>,
    /// One row per run, cells in column order.
    pub rows: Vec<Vec<Cell>>,
    /// How many of the columns are config keys (they follow `id` and `status`, which follow
    /// `experiment` in a [full](Self::full) table).
    pub varied: usize,
}

impl ResultsTable {
    /// The table of `records`, showing the settings that vary among them; metrics ordered by
    /// [`metric_names`] with `primary` first.
    pub fn from_records(records: &[RunRecord], primary: &str) -> Self {
        let configs: Vec<Settings> = records.iter().map(|r| r.result.config.settings()).collect();
        let varied = varied_keys(&configs);
        Self::of_runs(records, &configs, varied, primary, None)
    }

    /// The table of `records` with every setting of their configurations, and first an
    /// `experiment` column, so that the tables of several sweeps concatenate without losing
    /// the settings that tell them apart.
    pub fn full(records: &[RunRecord], primary: &str, experiment: &str) -> Self {
        let configs: Vec<Settings> = records.iter().map(|r| r.result.config.settings()).collect();
        let keys: BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
        let keys = keys.into_iter().cloned().collect();
        Self::of_runs(records, &configs, keys, primary, Some(experiment))
    }

    fn of_runs(
        records: &[RunRecord],
        configs: &[Settings],
        keys: Vec<String>,
        primary: &str,
        experiment: Option<&str>,
    ) -> Self {
        let metrics = metric_names(records, primary);
        let mut columns: Vec<String> = experiment
            .map(|_| "experiment".to_string())
            .into_iter()
            .collect();
        columns.extend(["id".to_string(), "status".to_string()]);
        columns.extend(keys.iter().cloned());
        columns.extend(metrics.iter().cloned());
        columns.push("error".into());

        let rows = records
            .iter()
            .zip(configs)
            .map(|(record, config)| {
                let result = &record.result;
                let mut row: Vec<Cell> = experiment
                    .map(|e| Cell::Text(e.to_string()))
                    .into_iter()
                    .collect();
                row.extend([
                    Cell::Text(result.id.to_string()),
                    Cell::Text(result.status.name().to_string()),
                ]);
                row.extend(keys.iter().map(|key| config_cell(config.get(key))));
                row.extend(metrics.iter().map(|m| {
                    result
                        .metrics
                        .get(m)
                        .map_or(Cell::Missing, |v| Cell::Number(*v))
                }));
                row.push(
                    result
                        .error
                        .as_ref()
                        .map_or(Cell::Missing, |e| Cell::Text(e.clone())),
                );
                row
            })
            .collect();
        Self {
            columns,
            rows,
            varied: keys.len(),
        }
    }

    /// Completed runs grouped by configuration (every setting but the seed), in order of first
    /// appearance: the number of seeds, the settings that vary between configurations, and
    /// for each metric its mean and sample standard deviation over the seeds (`_mean`,
    /// `_std`; no deviation for a single seed).
    /// Rows are sorted by the mean of `primary`, best first (`direction`).
    pub fn by_configuration(records: &[RunRecord], primary: &PrimaryMetric) -> Self {
        let mut groups = configurations(records);
        let mean_of = |group: &Configuration<'_>| {
            let values: Vec<f64> = (group.runs.iter())
                .filter_map(|r| r.result.metrics.get(&primary.name).copied())
                .collect();
            mean_and_std(&values).0
        };
        groups.sort_by(|a, b| best_first(primary.direction, mean_of(a), mean_of(b)));
        let configs: Vec<Settings> = groups.iter().map(|g| g.settings.clone()).collect();
        let varied = varied_keys(&configs);
        let metrics = metric_names(
            groups.iter().flat_map(|g| g.runs.iter().copied()),
            &primary.name,
        );

        let mut columns = vec!["seeds".to_string()];
        columns.extend(varied.iter().cloned());
        for metric in &metrics {
            columns.push(format!("{metric}_mean"));
            columns.push(format!("{metric}_std"));
        }
        let rows = groups
            .iter()
            .map(|group| {
                let mut row = vec![Cell::Number(group.runs.len() as f64)];
                row.extend(
                    varied
                        .iter()
                        .map(|key| config_cell(group.settings.get(key))),
                );
                for metric in &metrics {
                    let values: Vec<f64> = group
                        .runs
                        .iter()
                        .filter_map(|r| r.result.metrics.get(metric).copied())
                        .collect();
                    let (mean, std) = mean_and_std(&values);
                    row.push(mean.map_or(Cell::Missing, Cell::Number));
                    row.push(std.map_or(Cell::Missing, Cell::Number));
                }
                row
            })
            .collect();
        Self {
            columns,
            rows,
            varied: varied.len(),
        }
    }

    /// The table as a polars frame: whole-number columns as `i64`, other numeric ones as `f64`,
    /// the rest as strings.
    pub fn to_frame(&self) -> Result<DataFrame, ReportError> {
        let columns = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let cells = self.rows.iter().map(|row| &row[i]);
                let numeric = cells.clone().all(|c| !matches!(c, Cell::Text(_)));
                let numbers: Vec<Option<f64>> = cells
                    .clone()
                    .map(|c| {
                        if let Cell::Number(v) = c {
                            Some(*v)
                        } else {
                            None
                        }
                    })
                    .collect();
                let integral = numbers
                    .iter()
                    .flatten()
                    .all(|v| v.fract() == 0.0 && v.abs() < 2f64.powi(53));
                if numeric && integral {
                    let values: Vec<Option<i64>> =
                        numbers.iter().map(|v| v.map(|v| v as i64)).collect();
                    Column::new(name.as_str().into(), values)
                } else if numeric {
                    Column::new(name.as_str().into(), numbers)
                } else {
                    let values: Vec<Option<String>> = cells
                        .map(|c| match c {
                            Cell::Text(t) => Some(t.clone()),
                            Cell::Number(v) => Some(v.to_string()),
                            Cell::Missing => None,
                        })
                        .collect();
                    Column::new(name.as_str().into(), values)
                }
            })
            .collect();
        DataFrame::new(self.rows.len(), columns).map_err(|e| ReportError::Table(e.to_string()))
    }

    /// The table with only the columns `keep` accepts, which must keep every config key.
    pub fn select(&self, keep: impl Fn(&str) -> bool) -> Self {
        let kept: Vec<usize> = (0..self.columns.len())
            .filter(|&i| keep(&self.columns[i]))
            .collect();
        Self {
            columns: kept.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: (self.rows.iter())
                .map(|row| kept.iter().map(|&i| row[i].clone()).collect())
                .collect(),
            varied: self.varied,
        }
    }

    /// The table as CSV bytes, with a header row.
    pub fn to_csv(&self) -> Result<Vec<u8>, ReportError> {
        self.encode(|frame, bytes| CsvWriter::new(bytes).finish(frame))
    }

    /// The frame of the table written into bytes by `write`.
    fn encode(
        &self,
        write: impl FnOnce(&mut DataFrame, &mut Vec<u8>) -> PolarsResult<()>,
    ) -> Result<Vec<u8>, ReportError> {
        let mut frame = self.to_frame()?;
        let mut bytes = Vec::new();
        write(&mut frame, &mut bytes).map_err(|e| ReportError::Table(e.to_string()))?;
        Ok(bytes)
    }

    /// The table as text, for Markdown and HTML: numbers with four significant digits, text
    /// cells cut to their first line, and each `M_mean`, `M_std` pair of columns merged into
    /// one column `M` of `mean ± std`.
    pub fn display(&self) -> DisplayTable {
        let mut display = DisplayTable::default();
        let mut spans = Vec::new();
        let mut i = 0;
        while i < self.columns.len() {
            let name = &self.columns[i];
            let paired = name.strip_suffix("_mean").filter(|base| {
                self.columns.get(i + 1).map(String::as_str) == Some(&format!("{base}_std"))
            });
            let width = if paired.is_some() { 2 } else { 1 };
            display.headers.push(paired.unwrap_or(name).to_string());
            display
                .numeric
                .push(self.rows.iter().all(|row| !matches!(row[i], Cell::Text(_))));
            spans.push(i..i + width);
            i += width;
        }
        display.rows = self
            .rows
            .iter()
            .map(|row| {
                spans
                    .iter()
                    .map(|span| match &row[span.clone()] {
                        [Cell::Number(mean), Cell::Number(std)] => {
                            format!("{} ± {}", number(*mean), number(*std))
                        }
                        [cell, ..] => cell.text(),
                        [] => String::new(),
                    })
                    .collect()
            })
            .collect();
        display
    }

    /// The table as a GitHub-flavoured Markdown table (see [`Self::display`]).
    pub fn to_markdown(&self) -> String {
        let display = self.display();
        let line = |cells: &mut dyn Iterator<Item = String>| {
            let cells: Vec<String> = cells.collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut markdown = line(&mut display.headers.iter().map(|h| markdown_escape(h)));
        markdown += &line(
            &mut display
                .numeric
                .iter()
                .map(|&numeric| if numeric { "---:" } else { "---" }.to_string()),
        );
        for row in &display.rows {
            markdown += &line(&mut row.iter().map(|cell| markdown_escape(cell)));
        }
        markdown
    }

    /// The table as Parquet bytes (zstd), with the column types of [`Self::to_frame`].
    pub fn to_parquet(&self) -> Result<Vec<u8>, ReportError> {
        self.encode(|frame, bytes| ParquetWriter::new(bytes).finish(frame).map(drop))
    }
}

/// A configuration's settings: the flattened run config without the seed.
pub(crate) type Settings = BTreeMap<String, serde_json::Value>;

/// The completed runs of one configuration.
pub(crate) struct Configuration<'a> {
    pub settings: Settings,
    pub runs: Vec<&'a RunRecord>,
}

/// The completed runs of `records` grouped by configuration (every setting but the seed), in
/// order of first appearance.
pub(crate) fn configurations(records: &[RunRecord]) -> Vec<Configuration<'_>> {
    let mut groups: Vec<Configuration<'_>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for record in records
        .iter()
        .filter(|r| r.result.status == RunStatus::Completed)
    {
        let mut settings = record.result.config.settings();
        settings.remove("seed");
        let key = serde_json::to_string(&settings).expect("settings serialize");
        match index.get(&key) {
            Some(&i) => groups[i].runs.push(record),
            None => {
                index.insert(key, groups.len());
                groups.push(Configuration {
                    settings,
                    runs: vec![record],
                });
            }
        }
    }
    groups
}

/// The cell of a configuration value.
pub(crate) fn config_cell(value: Option<&serde_json::Value>) -> Cell {
    match value {
        Some(serde_json::Value::Number(n)) => Cell::Number(n.as_f64().unwrap_or(f64::NAN)),
        Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
        Some(other) => Cell::Text(other.to_string()),
        None => Cell::Missing,
    }
}

/// Mean and sample standard deviation (n - 1); no deviation below two values.
pub(crate) fn mean_and_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() > 1)
        .then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), std)
}

/// Keys whose value is not the same in every configuration (absent counts as a value).
pub(crate) fn varied_keys(configs: &[BTreeMap<String, serde_json::Value>]) -> Vec<String> {
    let keys: BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    keys.into_iter()
        .filter(|key| {
            let first = configs.first().and_then(|c| c.get(*key));
            configs.iter().any(|c| c.get(*key) != first)
        })
        .cloned()
        .collect()
}

/// The metrics any of `records` has: `primary`, the reconstruction metrics, the others
/// alphabetically (task metrics), then timing.
pub(crate) fn metric_names<'a>(
    records: impl IntoIterator<Item = &'a RunRecord>,
    primary: &str,
) -> Vec<String> {
    let present: BTreeSet<&String> = records
        .into_iter()
        .flat_map(|r| r.result.metrics.keys())
        .collect();
    let fixed = |names: &[&str]| -> Vec<String> {
        (names.iter())
            .filter(|m| **m != primary && present.iter().any(|p| p == *m))
            .map(|m| m.to_string())
            .collect()
    };
    let mut names: Vec<String> = present
        .iter()
        .filter(|p| p.as_str() == primary)
        .map(|p| p.to_string())
        .collect();
    names.extend(fixed(&QUALITY_METRICS));
    names.extend(
        (present.iter())
            .filter(|p| {
                p.as_str() != primary
                    && !QUALITY_METRICS.contains(&p.as_str())
                    && !TIMING_METRICS.contains(&p.as_str())
            })
            .map(|p| p.to_string()),
    );
    names.extend(fixed(&TIMING_METRICS));
    names
}

/// Orders two values of a metric best first (`direction`), missing ones last.
pub(crate) fn best_first(
    direction: Direction,
    a: Option<f64>,
    b: Option<f64>,
) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => match direction {
            Direction::Minimize => a.total_cmp(&b),
            Direction::Maximize => b.total_cmp(&a),
        },
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    }
}
