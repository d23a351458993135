//! One table of the runs of every sweep under a folder (`hourglass results`), each row with
//! its experiment's name and every setting, so sweeps that differ in a fixed setting stay
//! told apart.

use std::collections::HashMap;
use std::path::Path;

use crate::table::{Cell, ResultsTable};
use crate::{Coverage, ReportError, scoped};

/// The runs of the sweeps under a folder.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// One row per run: `experiment`, `id`, `status`, every setting of any sweep, every
    /// metric; a cell is empty where a sweep has no such setting or metric.
    pub table: ResultsTable,
    /// Sweep folders gathered.
    pub sweeps: usize,
    /// Sweep folders or result files left out, each with why.
    pub skipped: Vec<String>,
}

/// Gathers the finished runs (those of the current specs, with [`Coverage::Current`]) of
/// every sweep folder (a folder with a `runs/` folder) under `root`, at any depth, in path
/// order.
pub fn gather(root: &Path, coverage: Coverage) -> Result<Gathered, ReportError> {
    let mut gathered = Gathered {
        table: ResultsTable {
            columns: Vec::new(),
            rows: Vec::new(),
            varied: 0,
        },
        sweeps: 0,
        skipped: Vec::new(),
    };
    let mut column_of: HashMap<String, usize> = HashMap::new();
    let sweeps = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_dir() && entry.path().join("runs").is_dir());
    for sweep in sweeps {
        let scoped = match scoped(sweep.path(), coverage) {
            Ok(scoped) => scoped,
            Err(error) => {
                gathered.skipped.push(error.to_string());
                continue;
            }
        };
        gathered.sweeps += 1;
        gathered.skipped.extend(scoped.unreadable);
        let table = ResultsTable::full(&scoped.current, &scoped.primary.name, &scoped.experiment);
        let columns: Vec<usize> = (table.columns.iter())
            .map(|name| {
                let next = column_of.len();
                *column_of.entry(name.clone()).or_insert_with(|| {
                    gathered.table.columns.push(name.clone());
                    next
                })
            })
            .collect();
        for row in table.rows {
            let mut merged = vec![Cell::Missing; gathered.table.columns.len()];
            for (cell, &column) in row.into_iter().zip(&columns) {
                merged[column] = cell;
            }
            gathered.table.rows.push(merged);
        }
    }
    let width = gathered.table.columns.len();
    for row in &mut gathered.table.rows {
        row.resize(width, Cell::Missing);
    }
    if gathered.sweeps == 0 {
        return Err(ReportError::Empty(root.to_path_buf()));
    }
    Ok(gathered)
}
