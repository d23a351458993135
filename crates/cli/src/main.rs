//! `hourglass`: validate specs, run sweeps, train single runs as workers, and write reports.

mod progress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use hourglass_data::Registry;
use hourglass_orchestrator::{SweepLayout, SweepOptions, WorkerCommand};
use hourglass_report::References;
use hourglass_spec::result::{
    self, CONFIG_FILE, EpochRecord, Recorded, RecordedConfig, RunResult, RunStatus,
};
use hourglass_spec::{Catalog, DeviceName, Experiment, RunConfig, RunId};

/// Autoencoder experiments from TOML specs.
#[derive(Debug, Parser)]
#[command(name = "hourglass", version, about)]
struct Cli {
    /// Folder holding the data sets (one `dataset.toml` per data set).
    #[arg(long, global = true, default_value = "datasets")]
    datasets: PathBuf,
    /// Published numbers that reports compare sweeps with (a missing file means none).
    #[arg(long, global = true, default_value = "experiments/references.toml")]
    references: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a spec and list the runs it expands to.
    Validate {
        /// The spec, e.g. experiments/quickstart.toml.
        spec: PathBuf,
    },
    /// Run every unfinished run of a spec's sweep, then write its report.
    Sweep {
        /// The spec, e.g. experiments/quickstart.toml.
        spec: PathBuf,
        /// Folder under which the sweep's folder `<experiment name>/` is made.
        #[arg(long, default_value = "reports")]
        reports: PathBuf,
        /// Train failed runs again (finished runs are always skipped).
        #[arg(long)]
        retry_failed: bool,
    },
    /// Rebuild the report of a sweep folder from its saved results.
    Report {
        /// The sweep's folder, e.g. reports/quickstart.
        sweep_dir: PathBuf,
    },
    /// Put two sweeps side by side: shared configurations, metric deltas, and marks on the
    /// differences larger than the seed spread.
    Compare {
        /// The first sweep's folder (a).
        a: PathBuf,
        /// The second sweep's folder (b).
        b: PathBuf,
        /// Folder for `compare-A-vs-B.html` and `.md` (default: the folder holding a).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the data sets found.
    Datasets,
    /// Print the JSON Schema of spec files, for editors (committed as
    /// experiments/hourglass.schema.json).
    Schema {
        /// Which files: `spec` (experiments/*.toml) or `references`
        /// (experiments/references.toml, committed as experiments/references.schema.json).
        #[arg(value_enum, default_value = "spec")]
        of: SchemaOf,
        /// Write it to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train the run whose config.toml is in RUN_DIR (started by `sweep`; one process per run),
    /// or the runs of several RUN_DIRs as one pack.
    #[command(hide = true)]
    Worker {
        /// The run's folder, or the folders of a pack's runs.
        #[arg(required_unless_present = "run_list")]
        run_dirs: Vec<PathBuf>,
        /// A file of run folders, one task per line (a pack's folders separated by tabs):
        /// the worker trains those on line `$SLURM_ARRAY_TASK_ID + 1` (how Slurm array tasks
        /// find their runs).
        #[arg(long, conflicts_with = "run_dirs")]
        run_list: Option<PathBuf>,
        /// The device to train on: `cpu`, `cuda:N` or `gpu:N`.
        #[arg(long, default_value = "cpu")]
        device: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate { spec } => validate(&spec, &cli.datasets),
        Command::Sweep {
            spec,
            reports,
            retry_failed,
        } => sweep(
            &spec,
            &cli.datasets,
            &reports,
            retry_failed,
            &references(&cli.references),
        ),
        Command::Report { sweep_dir } => report(&sweep_dir, &references(&cli.references)),
        Command::Compare { a, b, out } => compare(&a, &b, out),
        Command::Datasets => datasets(&cli.datasets),
        Command::Schema { of, out } => schema(of, out.as_deref()),
        Command::Worker {
            run_dirs,
            run_list,
            device,
        } => {
            let run_dirs = match run_list {
                Some(list) => array_task_runs(&list)?,
                None => run_dirs,
            };
            worker(&run_dirs, &device, &cli.datasets)
        }
    }
}

fn registry(datasets: &Path) -> Result<Registry> {
    Registry::discover(datasets)
        .with_context(|| format!("cannot list the data sets in {}", datasets.display()))
}

/// Loads and validates a spec; a spec error is printed in full and yields `None`.
fn load(spec: &Path, datasets: &Path) -> Result<Option<Experiment>> {
    let registry = registry(datasets)?;
    let catalog = Catalog {
        datasets: registry.shapes(),
        labels: registry.labels(),
        backends: hourglass_train::backend::compiled(),
    };
    match hourglass_spec::load(spec, &catalog) {
        Ok(experiment) => Ok(Some(experiment)),
        Err(error) => {
            eprintln!("{error}");
            Ok(None)
        }
    }
}

fn validate(spec: &Path, datasets: &Path) -> Result<ExitCode> {
    let Some(experiment) = load(spec, datasets)? else {
        return Ok(ExitCode::FAILURE);
    };
    let collapsed = experiment.expanded - experiment.runs.len();
    print!("{}: {} runs", experiment.name, experiment.runs.len());
    if collapsed > 0 {
        print!(
            " ({} expanded, {collapsed} duplicates collapsed)",
            experiment.expanded
        );
    }
    println!();
    for run in &experiment.runs {
        println!("  {}", run.summary());
    }
    if experiment.resources.pack > 1 {
        let packs = hourglass_orchestrator::packs(&experiment);
        println!(
            "{} workers, packs of up to {} runs (resources.pack):",
            packs.len(),
            experiment.resources.pack
        );
        for (number, pack) in packs.iter().enumerate() {
            let ids: Vec<&str> = pack
                .iter()
                .map(|&i| experiment.runs[i].id.as_str())
                .collect();
            let what = match pack.len() {
                1 => "1 run alone".to_string(),
                runs => format!("{runs} runs packed"),
            };
            println!("  worker {}: {what}: {}", number + 1, ids.join(" "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first Ctrl-C (SIGINT) or SIGTERM sets `stop`: no run starts any more and running ones
/// finish. A second one ends the orchestrator at once; its workers notice and stop, and their
/// runs, left without a result, are trained again on resume.
fn stop_on_interrupt(stop: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        // Registered first, so it fires only once the flag was already set by an earlier signal.
        signal_hook::flag::register_conditional_shutdown(signal, 130, stop.clone())
            .context("cannot install the Ctrl-C handler")?;
        signal_hook::flag::register(signal, stop.clone())
            .context("cannot install the Ctrl-C handler")?;
    }
    Ok(())
}

/// Stops this worker when the orchestrator that started it is gone (killed with SIGKILL, say),
/// so that a resumed sweep never races a leftover worker on the same run. The parent is polled
/// every 200 ms, and once more before each result is written ([`exit_if_orphaned`]): a busy
/// machine can delay the poll past a resumed sweep's start, but a leftover worker never
/// writes a result. An orphan's parent id changes to its reaper's. A local worker is told its
/// orchestrator's id ([`hourglass_orchestrator::ORCHESTRATOR_PID`]); one started otherwise
/// (by Slurm, by hand) takes its parent at start-up.
fn exit_when_orphaned() {
    #[cfg(unix)]
    {
        let named = std::env::var(hourglass_orchestrator::ORCHESTRATOR_PID).ok();
        let orchestrator = named.and_then(|pid| pid.parse().ok());
        ORCHESTRATOR.get_or_init(|| orchestrator.unwrap_or_else(std::os::unix::process::parent_id));
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_millis(200));
                exit_if_orphaned();
            }
        });
    }
}

/// The process id of the orchestrator that started this worker.
#[cfg(unix)]
static ORCHESTRATOR: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Exits when this worker's orchestrator is gone.
fn exit_if_orphaned() {
    #[cfg(unix)]
    if let Some(&parent) = ORCHESTRATOR.get()
        && std::os::unix::process::parent_id() != parent
    {
        eprintln!("the orchestrator (pid {parent}) is gone: stopping this worker");
        std::process::exit(3);
    }
}

/// The published references reports compare with; a file that cannot be read is a warning,
/// and the reports go without.
fn references(path: &Path) -> References {
    References::read(path).unwrap_or_else(|error| {
        eprintln!("warning: references not used: {error}");
        References::default()
    })
}

fn sweep(
    spec: &Path,
    datasets: &Path,
    reports: &Path,
    retry_failed: bool,
    references: &References,
) -> Result<ExitCode> {
    let Some(experiment) = load(spec, datasets)? else {
        return Ok(ExitCode::FAILURE);
    };
    let spec_text =
        std::fs::read_to_string(spec).with_context(|| format!("cannot read {}", spec.display()))?;
    let datasets = std::path::absolute(datasets).context("cannot resolve the data set folder")?;
    let worker = WorkerCommand {
        program: std::env::current_exe().context("cannot find the hourglass executable")?,
        args: vec![
            "--datasets".into(),
            datasets.into_os_string(),
            "worker".into(),
        ],
    };
    let layout = SweepLayout::new(reports, &experiment);
    let options = SweepOptions {
        retry_failed,
        ..SweepOptions::default()
    };
    stop_on_interrupt(&options.stop)?;
    let mut display = progress::SweepDisplay::new(
        &layout.root,
        &experiment.name,
        experiment.runs.len(),
        references,
    );
    let summary = hourglass_orchestrator::run_sweep(
        &experiment,
        &spec_text,
        &layout,
        &worker,
        &options,
        &mut display,
    )?;
    display.finish();
    println!(
        "{}: {} completed, {} failed, {} pruned, {} already finished (skipped)",
        experiment.name, summary.completed, summary.failed, summary.pruned, summary.skipped
    );
    // A report failure is reported but does not undo or fail the training that finished.
    match hourglass_report::write_report(&layout.root, &experiment.name, references) {
        Ok(files) => println!("report: {}", files.html.display()),
        Err(error) => eprintln!("warning: no report written: {error}"),
    }
    if summary.unfinished > 0 {
        println!(
            "{} runs unfinished; to resume, run the same command again: `hourglass sweep {}`",
            summary.unfinished,
            spec.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn report(sweep_dir: &Path, references: &References) -> Result<ExitCode> {
    let title = sweep_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let files = hourglass_report::write_report(sweep_dir, &title, references)?;
    println!(
        "report: {}\ntable: {}",
        files.html.display(),
        files.csv.display()
    );
    // The report is written without them, but it is incomplete.
    for reason in &files.unreadable {
        eprintln!("warning: left out of the report: {reason}");
    }
    Ok(if files.unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn compare(a: &Path, b: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let out = out.unwrap_or_else(|| {
        a.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    });
    let files = hourglass_report::write_comparison(a, b, &out)?;
    println!(
        "{} shared configurations\ncomparison: {}\ntable: {}",
        files.shared,
        files.html.display(),
        files.markdown.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The files `hourglass schema` describes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaOf {
    /// Experiment specs.
    Spec,
    /// `references.toml`.
    References,
}

fn schema(of: SchemaOf, out: Option<&Path>) -> Result<ExitCode> {
    let schema = match of {
        SchemaOf::Spec => hourglass_spec::json_schema(),
        SchemaOf::References => References::json_schema(),
    };
    match out {
        Some(path) => hourglass_spec::result::write_atomic(path, schema.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{schema}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn datasets(root: &Path) -> Result<ExitCode> {
    for manifest in registry(root)?.manifests() {
        let splits: Vec<String> = manifest
            .splits
            .iter()
            .map(|(name, files)| format!("{name} {}", files.examples))
            .collect();
        println!(
            "{:<16} shape {:?}  {}  ({})",
            manifest.name,
            manifest.shape,
            splits.join(", "),
            manifest.licence
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Environment variable naming run ids whose worker panics after its first epoch (comma
/// separated): fault injection for the tests of failure isolation, since no valid run panics
/// on its own.
const INJECT_PANIC: &str = "HOURGLASS_INJECT_PANIC";

/// Prints each epoch to the worker's log.
struct EpochLines {
    /// Panic after the first epoch (see [`INJECT_PANIC`]).
    panic: bool,
    /// Before each line: the run's id in a pack's log, else nothing.
    prefix: String,
}

impl hourglass_train::Progress for EpochLines {
    fn epoch_ended(&mut self, record: &EpochRecord, epochs: usize) {
        if self.panic {
            panic!("injected by {INJECT_PANIC} after epoch {}", record.epoch);
        }
        let validation = record
            .val_loss
            .map(|v| format!(" val_loss {v:.5}"))
            .unwrap_or_default();
        println!(
            "{}epoch {}/{epochs}: train_loss {:.5}{validation} ({:.1} s)",
            self.prefix, record.epoch, record.train_loss, record.seconds
        );
    }
}

/// The run folders on line `$SLURM_ARRAY_TASK_ID + 1` of `list` (a pack's separated by
/// tabs).
fn array_task_runs(list: &Path) -> Result<Vec<PathBuf>> {
    let task: usize = std::env::var("SLURM_ARRAY_TASK_ID")
        .context("--run-list is for Slurm array tasks, but SLURM_ARRAY_TASK_ID is not set")?
        .parse()
        .context("SLURM_ARRAY_TASK_ID is not a task index")?;
    let text =
        std::fs::read_to_string(list).with_context(|| format!("cannot read {}", list.display()))?;
    let line = text
        .lines()
        .nth(task)
        .with_context(|| format!("{} has no line for task {task}", list.display()))?;
    Ok(line.split('\t').map(PathBuf::from).collect())
}

/// Trains the runs of `run_dirs`, one alone or several as a pack, and writes each run's
/// `result.json` as soon as it ends; fails when a run failed.
fn worker(run_dirs: &[PathBuf], device: &str, datasets: &Path) -> Result<ExitCode> {
    exit_when_orphaned();
    let device = DeviceName::parse(device)
        .with_context(|| format!("{device:?} is not a device (cpu, cuda:N or gpu:N)"))?;
    let configs = run_dirs
        .iter()
        .map(|run_dir| {
            let path = run_dir.join(CONFIG_FILE);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<RunConfig>(&text)
                .with_context(|| format!("invalid run config {}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let injected = std::env::var(INJECT_PANIC).unwrap_or_default();
    let panics = |config: &RunConfig| {
        let id = RunId::of(config);
        injected.split(',').any(|injected| injected == id.as_str())
    };
    let setup = hourglass_train::backend::device(configs[0].train.backend, device)
        .map_err(anyhow::Error::from)
        .and_then(|device| Ok((device, registry(datasets)?)));
    let mut results = Results {
        run_dirs,
        configs: &configs,
        written: Ok(true),
    };
    match (setup, &configs[..]) {
        (Err(error), _) => {
            for run in 0..configs.len() {
                results.record(run, Err(anyhow::anyhow!("{error:#}")));
            }
        }
        (Ok((device, registry)), [config]) => {
            let mut lines = EpochLines {
                panic: panics(config),
                prefix: String::new(),
            };
            let outcome =
                hourglass_train::train_run(config, &registry, &run_dirs[0], &device, &mut lines);
            results.record(0, outcome.map_err(anyhow::Error::from));
        }
        (Ok((device, registry)), _) => {
            let lines = configs
                .iter()
                .map(|config| EpochLines {
                    panic: panics(config),
                    prefix: format!("{}: ", RunId::of(config)),
                })
                .collect();
            let mut pack = PackResults {
                results,
                lines,
                checked: vec![Instant::now(); configs.len()],
            };
            hourglass_train::train_pack(&configs, &registry, run_dirs, &device, &mut pack);
            results = pack.results;
        }
    }
    Ok(if results.written? {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Writes the `result.json` of each run of a worker as the run ends.
struct Results<'a> {
    run_dirs: &'a [PathBuf],
    configs: &'a [RunConfig],
    /// Whether every run recorded so far completed, or the first result that could not be
    /// written.
    written: Result<bool>,
}

impl Results<'_> {
    /// Writes the result of run `run` (by position) atomically, unless the orchestrator has
    /// recorded one (pruned) first.
    fn record(&mut self, run: usize, outcome: Result<BTreeMap<String, f64>>) {
        let config = &self.configs[run];
        let id = RunId::of(config);
        let config = RecordedConfig::from(config);
        let result = match outcome {
            Ok(metrics) => RunResult {
                id,
                status: RunStatus::Completed,
                error: None,
                config,
                metrics,
            },
            Err(error) => RunResult {
                id,
                status: RunStatus::Failed,
                error: Some(format!("{error:#}")),
                config,
                metrics: Default::default(),
            },
        };
        exit_if_orphaned();
        // A result already there is the orchestrator's, which pruned the run meanwhile.
        let written = result::write(&self.run_dirs[run], &result)
            .map(|recorded| matches!(recorded, Recorded::Written))
            .context("cannot record the run's result");
        if let Ok(false) = written {
            println!(
                "{}: ended, but the orchestrator had recorded its result first",
                result.id
            );
        }
        let completed = result.status == RunStatus::Completed || written.as_ref().is_ok_and(|w| !w);
        let written = written.map(|_| ());
        self.written = match (std::mem::replace(&mut self.written, Ok(true)), written) {
            (Err(first), _) => Err(first),
            (Ok(_), Err(error)) => Err(error),
            (Ok(all), Ok(())) => Ok(all && completed),
        };
    }
}

/// A pack's events: epochs to the log, each run's result to its folder.
struct PackResults<'a> {
    results: Results<'a>,
    /// One per run.
    lines: Vec<EpochLines>,
    /// When each run's folder was last looked at for a result recorded by the orchestrator.
    checked: Vec<Instant>,
}

/// Least time between two looks for a pruned run's result: on a cluster's network file system
/// a look is a metadata call to the server.
const RESULT_CHECK: Duration = Duration::from_millis(250);

impl hourglass_train::PackProgress for PackResults<'_> {
    fn epoch_ended(&mut self, run: usize, record: &EpochRecord, epochs: usize) {
        hourglass_train::Progress::epoch_ended(&mut self.lines[run], record, epochs);
    }

    fn run_finished(
        &mut self,
        run: usize,
        outcome: Result<BTreeMap<String, f64>, hourglass_train::TrainError>,
    ) {
        self.results
            .record(run, outcome.map_err(anyhow::Error::from));
    }

    /// The orchestrator ends a run of a pack by recording its result (a pruned one).
    fn stopped(&mut self, run: usize) -> bool {
        if self.checked[run].elapsed() < RESULT_CHECK {
            return false;
        }
        self.checked[run] = Instant::now();
        result::is_recorded(&self.results.run_dirs[run])
    }
}
