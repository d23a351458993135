//! The results table: one row per run with the configuration keys that vary and the metrics.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::*;

use crate::{ReportError, RunRecord};

/// Metrics of the result contract, in the order the table shows them; other metrics follow
/// alphabetically.
const CONTRACT_METRICS: [&str; 6] = [
    "test_mse",
    "test_psnr_db",
    "test_loss",
    "train_seconds",
    "samples_per_second",
    "epochs_run",
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

/// Columns and rows, ready to be encoded as CSV or HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultsTable {
    /// Column names: `id`, `status`, the varied config keys, the metrics, `error`.
    pub columns: Vec<String>,
    /// One row per run, cells in column order.
    pub rows: Vec<Vec<Cell>>,
    /// How many of the columns are varied config keys (they follow `id` and `status`).
    pub varied: usize,
}

impl ResultsTable {
    /// Builds the table of `records`.
    pub fn from_records(records: &[RunRecord]) -> Self {
        let configs: Vec<BTreeMap<String, serde_json::Value>> = records
            .iter()
            .map(|r| flatten(&serde_json::to_value(&r.result.config).expect("configs serialize")))
            .collect();
        let varied = varied_keys(&configs);
        let metrics = metric_names(records);

        let mut columns = vec!["id".to_string(), "status".to_string()];
        columns.extend(varied.iter().cloned());
        columns.extend(metrics.iter().cloned());
        columns.push("error".into());

        let rows = records
            .iter()
            .zip(&configs)
            .map(|(record, config)| {
                let result = &record.result;
                let status = serde_json::to_value(result.status).expect("statuses serialize");
                let mut row = vec![
                    Cell::Text(result.id.to_string()),
                    Cell::Text(status.as_str().unwrap_or_default().to_string()),
                ];
                row.extend(varied.iter().map(|key| match config.get(key) {
                    Some(serde_json::Value::Number(n)) => {
                        Cell::Number(n.as_f64().unwrap_or(f64::NAN))
                    }
                    Some(serde_json::Value::String(s)) => Cell::Text(s.clone()),
                    Some(other) => Cell::Text(other.to_string()),
                    None => Cell::Missing,
                }));
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

    /// The table as CSV bytes, with a header row.
    pub fn to_csv(&self) -> Result<Vec<u8>, ReportError> {
        let mut frame = self.to_frame()?;
        let mut bytes = Vec::new();
        CsvWriter::new(&mut bytes)
            .finish(&mut frame)
            .map_err(|e| ReportError::Table(e.to_string()))?;
        Ok(bytes)
    }
}

/// A JSON object flattened to dotted keys; arrays stay whole.
fn flatten(value: &serde_json::Value) -> BTreeMap<String, serde_json::Value> {
    fn walk(
        prefix: &str,
        value: &serde_json::Value,
        out: &mut BTreeMap<String, serde_json::Value>,
    ) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), other.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", value, &mut out);
    out
}

/// Keys whose value is not the same in every configuration (absent counts as a value).
fn varied_keys(configs: &[BTreeMap<String, serde_json::Value>]) -> Vec<String> {
    let keys: BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    keys.into_iter()
        .filter(|key| {
            let first = configs.first().and_then(|c| c.get(*key));
            configs.iter().any(|c| c.get(*key) != first)
        })
        .cloned()
        .collect()
}

/// The contract metrics any run has, then the other metrics alphabetically.
fn metric_names(records: &[RunRecord]) -> Vec<String> {
    let present: BTreeSet<&String> = records
        .iter()
        .flat_map(|r| r.result.metrics.keys())
        .collect();
    let mut names: Vec<String> = CONTRACT_METRICS
        .iter()
        .filter(|m| present.iter().any(|p| p == *m))
        .map(|m| m.to_string())
        .collect();
    names.extend(
        present
            .into_iter()
            .filter(|p| !CONTRACT_METRICS.contains(&p.as_str()))
            .cloned(),
    );
    names
}
