//! `cargo xtask bench`: training samples/s of hourglass's CPU backends (flex, and tch on the
//! libtorch of `cargo xtask setup-libtorch`) against PyTorch twins of the same models timed in the same
//! run with the same thread count, and the machine's fp32 GEMM rate, as a text table and as
//! `reports/bench/index.html`; then a sweep of 16 small runs trained packed, one by one and by
//! a PyTorch loop (`sweep.txt`); then the time to build a 500-run report; then the anomaly
//! task's classical detectors against PyOD's on the same splits (`detectors.txt`); then
//! hourglass's TPE against Optuna's on standard test functions (`search.txt`).

mod detectors;
mod search;
mod sweep;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

use serde_json::Value;

use crate::{
    CI_FEATURES, ci_cargo, libtorch_venv, machine_cache, resolved, run, setup_libtorch,
    workspace_root,
};

/// Runs every benchmark and writes the comparison.
pub fn run_all() -> Result<(), String> {
    let libtorch = resolved(&setup_libtorch()?);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .to_string();
    let ours = json_lines(
        workspace_bench("throughput", &libtorch)?
            .env("RAYON_NUM_THREADS", &threads)
            .env("OMP_NUM_THREADS", &threads),
    )?;
    let theirs = json_lines(
        Command::new(libtorch_venv()?.join("bin/python"))
            .arg(workspace_root().join("xtask/bench/pytorch_twin.py"))
            .args(["--threads", &threads]),
    )?;
    let table = Table::new(&ours, &theirs)?;
    let text = table.text();
    println!("{text}");
    let dir = workspace_root().join("reports/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    for (file, content) in [("bench.txt", text), ("index.html", table.html())] {
        let path = dir.join(file);
        std::fs::write(&path, content).map_err(|e| format!("cannot write {path:?}: {e}"))?;
    }
    let sweeps = sweep::run_sweeps(&libtorch, &threads)?;
    println!("{sweeps}");
    let path = dir.join("sweep.txt");
    std::fs::write(&path, sweeps).map_err(|e| format!("cannot write {path:?}: {e}"))?;
    eprintln!("xtask: wrote {}", dir.join("index.html").display());
    run(&mut workspace_bench("report", &libtorch)?)?;
    detectors()?;
    search()
}

/// hourglass's TPE against Optuna's (`cargo xtask bench search` alone), printed and written
/// to `reports/bench/search.txt`.
pub fn search() -> Result<(), String> {
    let libtorch = resolved(&setup_libtorch()?);
    let text = search::compare(&libtorch)?;
    println!("{text}");
    let dir = workspace_root().join("reports/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    let path = dir.join("search.txt");
    std::fs::write(&path, text).map_err(|e| format!("cannot write {path:?}: {e}"))
}

/// The classical detectors against PyOD's (`cargo xtask bench detectors` alone), printed and
/// written to `reports/bench/detectors.txt`; an error when they disagree.
pub fn detectors() -> Result<(), String> {
    let libtorch = resolved(&setup_libtorch()?);
    let comparison = detectors::compare(&libtorch);
    let text = comparison.as_ref().unwrap_or_else(|e| e);
    println!("{text}");
    let dir = workspace_root().join("reports/bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {dir:?}: {e}"))?;
    let path = dir.join("detectors.txt");
    std::fs::write(&path, text).map_err(|e| format!("cannot write {path:?}: {e}"))?;
    comparison.map(drop)
}

/// `cargo bench` of the workspace's bench `name`, built as CI builds (dev profile, its
/// features, its target folder), so that it shares CI's build.
fn workspace_bench(name: &str, libtorch: &[(&'static str, String)]) -> Result<Command, String> {
    let mut command = ci_cargo(libtorch)?;
    command
        .args(["bench", "--profile", "dev", "--workspace", "--bench", name])
        .args(["--features", CI_FEATURES]);
    Ok(command)
}

/// The JSON objects that `command` prints, one per line (other lines are passed through).
fn json_lines(command: &mut Command) -> Result<Vec<Value>, String> {
    eprintln!("xtask: running {command:?}");
    let output = command
        .output()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        return Err(format!("{command:?} failed ({})", output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect())
}

/// One row: a backend's rate for a model and batch size.
struct Row {
    model: String,
    batch: u64,
    backend: String,
    samples_per_s: f64,
}

/// The comparison: every backend's rate, PyTorch's for the same model and batch, the FLOPs
/// of a training step per sample and the GEMM rate.
struct Table {
    rows: Vec<Row>,
    /// (model, batch) to (PyTorch's samples/s, FLOPs per sample).
    pytorch: BTreeMap<(String, u64), (f64, f64)>,
    gemm_gflops: f64,
    threads: u64,
    torch: String,
}

impl Table {
    fn new(ours: &[Value], theirs: &[Value]) -> Result<Self, String> {
        let row = |value: &Value| -> Option<Row> {
            Some(Row {
                model: value["model"].as_str()?.to_string(),
                batch: value["batch"].as_u64()?,
                backend: value["backend"].as_str()?.to_string(),
                samples_per_s: value["samples_per_s"].as_f64()?,
            })
        };
        let machine = theirs
            .iter()
            .find(|v| v.get("gemm_gflops").is_some())
            .ok_or("the PyTorch twin printed no GEMM rate")?;
        let mut pytorch = BTreeMap::new();
        for value in theirs {
            if let (Some(row), Some(flops)) = (row(value), value["flops_per_sample"].as_f64()) {
                pytorch.insert((row.model, row.batch), (row.samples_per_s, flops));
            }
        }
        let rows: Vec<Row> = ours.iter().filter_map(row).collect();
        if rows.is_empty() {
            return Err("the throughput bench printed no rates".into());
        }
        Ok(Self {
            rows,
            pytorch,
            gemm_gflops: machine["gemm_gflops"].as_f64().unwrap_or(f64::NAN),
            threads: machine["threads"].as_u64().unwrap_or(0),
            torch: machine["torch"].as_str().unwrap_or("?").to_string(),
        })
    }

    /// Header and rows as cells: PyTorch first for each model and batch, then each backend
    /// with its ratio to PyTorch; every rate with its share of the GEMM rate.
    fn cells(&self) -> Vec<[String; 6]> {
        let mut cells = vec![
            [
                "model",
                "batch",
                "backend",
                "samples/s",
                "× PyTorch",
                "% of GEMM rate",
            ]
            .map(String::from),
        ];
        for ((model, batch), (rate, flops)) in &self.pytorch {
            let share =
                |rate: f64| format!("{:.0} %", 100.0 * rate * flops / 1e9 / self.gemm_gflops);
            cells.push([
                model.clone(),
                batch.to_string(),
                "pytorch".into(),
                format!("{rate:.0}"),
                "1.00".into(),
                share(*rate),
            ]);
            for row in self
                .rows
                .iter()
                .filter(|r| &r.model == model && r.batch == *batch)
            {
                cells.push([
                    model.clone(),
                    batch.to_string(),
                    row.backend.clone(),
                    format!("{:.0}", row.samples_per_s),
                    format!("{:.2}", row.samples_per_s / rate),
                    share(row.samples_per_s),
                ]);
            }
        }
        cells
    }

    fn caption(&self) -> String {
        format!(
            "Training samples/s (Adam, random inputs), {} threads; PyTorch {}; fp32 GEMM \
             rate {:.0} GFLOP/s (2048×2048 torch.mm, best of 10); the share of it is \
             samples/s × FLOPs per training step and sample (PyTorch's FLOP counter).",
            self.threads, self.torch, self.gemm_gflops
        )
    }

    fn text(&self) -> String {
        let cells = self.cells();
        let widths: Vec<usize> = (0..6)
            .map(|i| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut text = format!("{}\n\n", self.caption());
        for row in &cells {
            let line: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:>width$}"))
                .collect();
            let _ = writeln!(text, "{}", line.join("  "));
        }
        text
    }

    fn html(&self) -> String {
        let cells = self.cells();
        let mut rows = String::new();
        for (i, row) in cells.iter().enumerate() {
            let tag = if i == 0 { "th" } else { "td" };
            let _ = write!(rows, "<tr>");
            for cell in row {
                let _ = write!(rows, "<{tag}>{cell}</{tag}>");
            }
            let _ = writeln!(rows, "</tr>");
        }
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>hourglass bench</title><style>body{{font-family:sans-serif;margin:2em}}\
             td,th{{padding:.2em .8em;text-align:right}}tr:nth-child(even){{background:#f4f4f4}}\
             </style></head><body><h1>Training throughput against PyTorch</h1><p>{}</p>\
             <table>\n{rows}</table></body></html>\n",
            self.caption()
        )
    }
}

/// A virtual environment `{module}-{version}` in the [`machine_cache`] whose `module` reports
/// `version`, made with `packages` (pip requirements) when it is not there yet.
fn python_venv(
    module: &str,
    version: &str,
    packages: &[String],
) -> Result<std::path::PathBuf, String> {
    let venv = machine_cache()?.join(format!("{module}-{version}"));
    let python = venv.join("bin/python");
    let installed = Command::new(&python)
        .args([
            "-c",
            &format!("import {module}; print({module}.__version__)"),
        ])
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == version.as_bytes());
    if !installed {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        run(Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--no-input",
                "--progress-bar",
                "off",
            ])
            .args(packages))?;
    }
    Ok(venv)
}
