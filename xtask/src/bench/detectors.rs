//! The anomaly task's classical detectors against PyOD's: hourglass's `detectors` bench
//! scores the splits of the shuttle and breast cancer experiments and writes them as CSV;
//! PyOD [`PYOD_VERSION`] (`xtask/bench/pyod_detectors.py`, in its own virtual environment)
//! scores the same rows; the AUROCs must agree within [`TOLERANCE`].

use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

use super::{json_lines, python_venv, workspace_bench};
use crate::workspace_root;

/// The PyOD release the detectors are held to, with the scikit-learn it runs on.
const PYOD_VERSION: &str = "3.6.7";
const SCIKIT_LEARN_VERSION: &str = "1.9.1";
/// The largest AUROC difference taken as agreement.
const TOLERANCE: f64 = 0.01;

/// Runs both sides; returns the comparison as text, or an error naming the detectors that
/// disagree.
pub fn compare(libtorch: &[(&'static str, String)]) -> Result<String, String> {
    let ours = json_lines(&mut workspace_bench("detectors", libtorch)?)?;
    let mut python = Command::new(pyod_venv()?.join("bin/python"));
    python.arg(workspace_root().join("xtask/bench/pyod_detectors.py"));
    let mut datasets = Vec::new();
    for line in &ours {
        if line["detector"] == "pca" {
            python
                .arg("--split")
                .arg(line["dir"].as_str().ok_or("a line without its folder")?)
                .arg(line["pca_components"].to_string());
            datasets.push(line);
        }
    }
    let theirs = json_lines(&mut python)?;
    let their = |dataset: &Value, detector: &str| {
        theirs
            .iter()
            .find(|t| &t["dataset"] == dataset && t["detector"] == detector)
            .and_then(|t| t["auroc"].as_f64())
    };
    let mut text = format!(
        "Classical anomaly detectors, AUROC on the same split: hourglass against PyOD \
         {PYOD_VERSION} (scikit-learn {SCIKIT_LEARN_VERSION}); Isolation Forest: mean over \
         seeds 0-9\n\n{:<14} {:<9} {:>9} {:>9} {:>9}  within {TOLERANCE}\n",
        "data set", "detector", "hourglass", "PyOD", "diff"
    );
    let mut misses = Vec::new();
    for line in &ours {
        let (dataset, detector) = (&line["dataset"], line["detector"].as_str().unwrap_or("?"));
        let ours = line["auroc"].as_f64().unwrap_or(f64::NAN);
        let theirs = their(dataset, detector).unwrap_or(f64::NAN);
        let within = (ours - theirs).abs() <= TOLERANCE;
        if !within {
            misses.push(format!("{detector} on {dataset}"));
        }
        let _ = writeln!(
            text,
            "{:<14} {detector:<9} {ours:>9.4} {theirs:>9.4} {:>+9.4}  {}",
            dataset.as_str().unwrap_or("?"),
            ours - theirs,
            if within { "yes" } else { "NO" }
        );
    }
    for line in datasets {
        let _ = writeln!(
            text,
            "{}: {} normal training rows, {} test rows ({} anomalies); PCA of {} components; \
             PyOD's own PCA score (weighted distances to all components) {:.4}",
            line["dataset"].as_str().unwrap_or("?"),
            line["train"],
            line["test"],
            line["anomalies"],
            line["pca_components"],
            their(&line["dataset"], "pca_pyod_score").unwrap_or(f64::NAN),
        );
    }
    if misses.is_empty() {
        Ok(text)
    } else {
        Err(format!(
            "{text}\nnot within {TOLERANCE} of PyOD: {}",
            misses.join(", ")
        ))
    }
}

/// A virtual environment with PyOD [`PYOD_VERSION`] and its scikit-learn (about 620 MB with
/// numba, scipy and matplotlib).
fn pyod_venv() -> Result<std::path::PathBuf, String> {
    python_venv(
        "pyod",
        PYOD_VERSION,
        &[
            format!("pyod=={PYOD_VERSION}"),
            format!("scikit-learn=={SCIKIT_LEARN_VERSION}"),
        ],
    )
}
