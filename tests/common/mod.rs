//! What the end-to-end tests share: the real `hourglass` binary run from the repository root
//! with the repository's data sets, and readers of what it writes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs `hourglass ARGS` from the repository root with the repository's data sets.
pub fn hourglass(args: &[&str]) -> Output {
    hourglass_with_datasets(&repo().join("datasets"), args)
}

/// Runs `hourglass ARGS` from the repository root with the data sets under `datasets`.
pub fn hourglass_with_datasets(datasets: &Path, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_hourglass"))
        .current_dir(repo())
        .arg("--datasets")
        .arg(datasets)
        .args(args)
        .output()
        .unwrap();
    eprintln!(
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// The arguments of `hourglass sweep SPEC --reports REPORTS`.
fn sweep_args<'a>(spec: &'a Path, reports: &'a Path) -> [&'a str; 4] {
    [
        "sweep",
        spec.to_str().unwrap(),
        "--reports",
        reports.to_str().unwrap(),
    ]
}

/// Runs `hourglass sweep SPEC --reports REPORTS` to its end.
pub fn run_sweep(spec: &Path, reports: &Path) -> Output {
    hourglass(&sweep_args(spec, reports))
}

/// `hourglass sweep SPEC --reports REPORTS`, to be started in the background.
pub fn sweep_command(spec: &Path, reports: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hourglass"));
    command
        .current_dir(repo())
        .arg("--datasets")
        .arg(repo().join("datasets"))
        .args(sweep_args(spec, reports));
    command
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn run_dirs(sweep: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(sweep.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs
}

/// The id of the run whose line in `hourglass validate`'s listing contains `fragment`.
pub fn run_id(listing: &str, fragment: &str) -> String {
    listing
        .lines()
        .find(|line| line.contains(fragment))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| panic!("no run matches {fragment:?} in:\n{listing}"))
        .to_string()
}
