//! `sweep.json`: what the spec asked of a sweep the last time it was swept (the experiment's
//! name, its primary metric, the ids of its runs), written beside `runs/` by the orchestrator
//! and read by the report. Runs in `runs/` that the record does not list were trained for an
//! earlier version of the spec: they are kept, and reported apart.
//!
//! The file carries a `format_version`; a sweep folder without one (swept before the file
//! existed) reports every run it holds.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::result::{ResultError, read_if_present, write_atomic};
use crate::{Experiment, Objective, PrimaryMetric, RunId};

/// File name of the record in a sweep folder.
pub const SWEEP_FILE: &str = "sweep.json";

/// The `format_version` written, and the newest read.
pub const FORMAT_VERSION: u32 = 1;

/// The content of `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// `format_version`.
    pub format_version: u32,
    /// `experiment.name`.
    pub experiment: String,
    /// What the report ranks the runs by.
    pub primary_metric: PrimaryMetric,
    /// The runs of the spec, in expansion order (a search's: in the order proposed).
    pub runs: Vec<RunId>,
    /// What a model-based search optimises; none for a grid or random sweep (and in records
    /// written before searches existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<Objective>,
}

impl SweepRecord {
    /// The record of `experiment`.
    pub fn of(experiment: &Experiment) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            experiment: experiment.name.clone(),
            primary_metric: experiment.primary_metric.clone(),
            runs: experiment.runs.iter().map(|run| run.id.clone()).collect(),
            objectives: (experiment.search.iter())
                .flat_map(|search| search.objectives.clone())
                .collect(),
        }
    }

    /// Writes the record into `sweep_dir`, atomically.
    pub fn write(&self, sweep_dir: &Path) -> Result<(), ResultError> {
        let path = sweep_dir.join(SWEEP_FILE);
        let json = serde_json::to_vec_pretty(self).expect("a sweep record serializes");
        write_atomic(&path, &json).map_err(|source| ResultError::Io {
            what: "write",
            path,
            source,
        })
    }

    /// The record in `sweep_dir`; `None` for a folder swept before records were written.
    pub fn read(sweep_dir: &Path) -> Result<Option<Self>, ResultError> {
        let path = sweep_dir.join(SWEEP_FILE);
        let Some(text) = read_if_present(&path)? else {
            return Ok(None);
        };
        let invalid = |e: serde_json::Error| ResultError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        };
        #[derive(Deserialize)]
        struct Header {
            format_version: u32,
        }
        let header: Header = serde_json::from_str(&text).map_err(invalid)?;
        if header.format_version > FORMAT_VERSION {
            return Err(ResultError::Newer {
                path,
                found: header.format_version,
            });
        }
        serde_json::from_str(&text).map(Some).map_err(invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Direction;

    fn record() -> SweepRecord {
        SweepRecord {
            format_version: FORMAT_VERSION,
            experiment: "denoise".into(),
            primary_metric: PrimaryMetric {
                name: "denoise_psnr_db".into(),
                direction: Direction::Maximize,
            },
            runs: vec![],
            objectives: vec![Objective {
                metric: "code_bits".into(),
                goal: Direction::Minimize,
            }],
        }
    }

    #[test]
    fn a_record_reads_back_as_written_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(SweepRecord::read(dir.path()).unwrap(), None);
        record().write(dir.path()).unwrap();
        assert_eq!(SweepRecord::read(dir.path()).unwrap(), Some(record()));
    }

    #[test]
    fn a_record_written_before_searches_reads_without_objectives() {
        let dir = tempfile::tempdir().unwrap();
        let before = r#"{"format_version": 1, "experiment": "denoise", "runs": ["0123456789ab"],
            "primary_metric": {"name": "test_mse", "direction": "minimize"}}"#;
        std::fs::write(dir.path().join(SWEEP_FILE), before).unwrap();
        let record = SweepRecord::read(dir.path()).unwrap().unwrap();
        assert_eq!((record.runs.len(), record.objectives.len()), (1, 0));
    }

    #[test]
    fn a_record_of_a_newer_format_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let newer = SweepRecord {
            format_version: FORMAT_VERSION + 1,
            ..record()
        };
        newer.write(dir.path()).unwrap();
        let error = SweepRecord::read(dir.path()).unwrap_err();
        assert!(matches!(error, ResultError::Newer { .. }), "{error}");
    }
}
