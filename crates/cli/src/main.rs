//! `hourglass`: validate specs, run sweeps, train single runs as workers, and write reports.
//! This file parses the command line and dispatches: `commands.rs` holds the subcommands,
//! `evaluate.rs` and `apply.rs` use saved models, `worker.rs` is the worker protocol.

/// `println!` that returns the error of a closed standard output instead of panicking (see
/// [`commands::is_broken_pipe`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod apply;
mod commands;
mod evaluate;
mod progress;
mod project;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use commands::{compare, datasets, report, schema, sweep, validate};
use hourglass_report::Coverage;
use hourglass_spec::Task;
use project::Project;

/// mimalloc keeps the large blocks that flex allocates and frees every training step, where
/// glibc's malloc handed them back to the system and faulted them in again.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Autoencoder experiments from TOML specs.
#[derive(Debug, Parser)]
#[command(
    name = "hourglass",
    version,
    about,
    after_help = "Exit status: 0 when everything succeeded, 1 when a run failed or on an error, \
                  2 for a usage error, 130 when a sweep was interrupted (run it again to resume).\n\
                  Run from inside a project (a folder holding datasets/ and experiments/, or \
                  one below it), or name its folders with --datasets and --reports."
)]
struct Cli {
    /// Folder holding the data sets (one `dataset.toml` per data set) [default: the project's
    /// datasets/].
    #[arg(long, global = true)]
    datasets: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// What `hourglass datasets` can do besides listing.
#[derive(Debug, Subcommand)]
enum DatasetsAction {
    /// Make a data set from your files: a CSV (.csv, .csv.gz) or Parquet table with one
    /// numeric column per feature, a NumPy .npz archive, one or two .npy arrays (features,
    /// and labels), or a folder of PNG and JPEG images (one sub-folder per class, or none).
    /// Infers the format, shape, examples and classes, copies the files with their sha256
    /// sums into the data set folder, writes a commented dataset.toml and loads the result
    /// once.
    Add(AddArgs),
}

/// The arguments of `hourglass datasets add`.
#[derive(Debug, clap::Args)]
struct AddArgs {
    /// The data set's name: its folder under the data set folder and `data.dataset` in specs.
    name: String,
    /// The files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The label column of a table, or the labels array of an .npz archive (two .npy files:
    /// the one-dimensional one is the labels). Without one the data is unlabelled.
    #[arg(long)]
    label: Option<String>,
    /// The features array of an .npz archive holding more than features and labels.
    #[arg(long)]
    features: Option<String>,
    /// The label of anomalies, for anomaly detection (AUROC).
    #[arg(long)]
    anomaly_label: Option<u8>,
    /// Share of the examples held out as the test split.
    #[arg(long, default_value_t = 0.2)]
    test_fraction: f64,
    /// Seed of the shuffle that picks the test examples.
    #[arg(long, default_value_t = 0)]
    split_seed: u64,
    /// Standardise features (z-scores with the training split's statistics) instead of
    /// using them as stored.
    #[arg(long)]
    standardize: bool,
    /// Link the files (absolute symbolic links) instead of copying them.
    #[arg(long)]
    link: bool,
    /// Replace a data set of that name.
    #[arg(long)]
    force: bool,
    /// The data's licence, for dataset.toml.
    #[arg(long)]
    licence: Option<String>,
    /// Resize images of another size than the first image's (bilinear) instead of refusing
    /// them.
    #[arg(long)]
    resize: bool,
}

/// The published numbers reports compare with.
#[derive(Debug, clap::Args)]
struct ReferenceArgs {
    /// Published numbers that reports compare sweeps with (a missing file means none)
    /// [default: the project's experiments/references.toml].
    #[arg(long)]
    references: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a spec and list the runs it expands to.
    Validate {
        /// The spec, e.g. experiments/quickstart.toml.
        spec: PathBuf,
        /// List every run, not only the first and last of a large sweep.
        #[arg(long)]
        runs: bool,
    },
    /// Run every unfinished run of a spec's sweep, then write its report.
    Sweep {
        /// The spec, e.g. experiments/quickstart.toml.
        spec: PathBuf,
        /// Folder under which the sweep's folder `<experiment name>/` is made [default: the
        /// project's reports/].
        #[arg(long)]
        reports: Option<PathBuf>,
        /// Train failed runs again (finished runs are always skipped).
        #[arg(long)]
        retry_failed: bool,
        #[command(flatten)]
        references: ReferenceArgs,
    },
    /// Rebuild the report of a sweep folder from its saved results.
    Report {
        /// The sweep's folder, e.g. reports/quickstart.
        sweep_dir: PathBuf,
        /// Report every finished run in the folder, also those trained for earlier versions of
        /// the spec (by default they are listed apart).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        references: ReferenceArgs,
    },
    /// Gather the runs of every sweep under a folder into one table (Parquet or CSV, by the
    /// extension of --out), with the experiment's name and every setting of each run.
    Results {
        /// The folder holding sweep folders, e.g. reports.
        root: PathBuf,
        /// The table to write, e.g. all.parquet or all.csv.
        #[arg(long)]
        out: PathBuf,
        /// Include runs trained for earlier versions of each spec.
        #[arg(long)]
        all: bool,
    },
    /// Put two sweeps side by side: shared configurations, metric deltas, and marks on the
    /// differences larger than the seed spread.
    Compare {
        /// The first sweep's folder (a).
        a: PathBuf,
        /// The second sweep's folder (b).
        b: PathBuf,
        /// Folder for `compare-A-vs-B.html`, `.md` and `.csv` (default: the folder holding a).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the data sets found, or add one made from your files (`datasets add`).
    Datasets {
        #[command(subcommand)]
        action: Option<DatasetsAction>,
    },
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
    /// Evaluate the saved models of a sweep's completed runs for tasks they have not run,
    /// without training, and merge the metrics into their results.
    Evaluate {
        /// The sweep's folder, e.g. reports/quickstart.
        sweep_dir: PathBuf,
        /// Tasks to run, comma-separated [default: every task that applies to the run: all
        /// but anomaly, which changes training, and denoising without `[noise]`].
        #[arg(long, value_delimiter = ',', value_parser = parse_task)]
        tasks: Option<Vec<Task>>,
        #[command(flatten)]
        references: ReferenceArgs,
    },
    /// Apply a run's saved model to new examples, without training: write their codes,
    /// reconstructions and anomaly scores.
    Apply {
        /// The run's folder, e.g. reports/quickstart/runs/0123456789ab.
        run_dir: PathBuf,
        /// The examples: a CSV or Parquet table (one numeric column per feature), an IDX
        /// file of images, or a folder of PNG and JPEG images (grey or colour).
        input: PathBuf,
        /// A new folder for `codes`, `scores` (CSV and Parquet) and `reconstructions` (a
        /// table, or PNG images).
        #[arg(long)]
        output: PathBuf,
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
        // A reader that stopped reading (`hourglass validate SPEC | head`) ends the program
        // quietly, as it ends every Unix tool.
        Err(error) if commands::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::FAILURE
        }
    }
}

/// `error` and its causes, each said once: the libraries' messages often quote their cause
/// already.
fn message(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain().map(ToString::to_string) {
        if !message.contains(&cause) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&cause);
        }
    }
    message
}

fn run(cli: Cli) -> Result<ExitCode> {
    let project = Project::default();
    let data = cli.datasets;
    match cli.command {
        Command::Validate { spec, runs } => validate(&spec, &project.datasets(data)?, runs),
        Command::Sweep {
            spec,
            reports,
            retry_failed,
            references,
        } => sweep(
            &spec,
            &project.datasets(data)?,
            &project.folder(reports, "reports", "--reports")?,
            retry_failed,
            &project.references(references),
        ),
        Command::Report {
            sweep_dir,
            all,
            references,
        } => report(&sweep_dir, &project.references(references), coverage(all)),
        Command::Results { root, out, all } => commands::results(&root, &out, coverage(all)),
        Command::Evaluate {
            sweep_dir,
            tasks,
            references,
        } => {
            let registry = commands::registry(&project.datasets(data)?)?;
            let evaluated = evaluate::evaluate(&sweep_dir, tasks.as_deref(), &registry)?;
            let reported = report(
                &sweep_dir,
                &project.references(references),
                Coverage::Current,
            )?;
            Ok(if evaluated == ExitCode::SUCCESS {
                reported
            } else {
                evaluated
            })
        }
        Command::Apply {
            run_dir,
            input,
            output,
        } => apply::apply(&run_dir, &input, &output),
        Command::Compare { a, b, out } => compare(&a, &b, out),
        Command::Datasets { action: None } => datasets(&project.datasets(data)?),
        Command::Datasets {
            action: Some(DatasetsAction::Add(args)),
        } => commands::add_dataset(&project.datasets(data)?, args.into()),
        Command::Schema { of, out } => schema(of, out.as_deref()),
        Command::Worker {
            run_dirs,
            run_list,
            device,
        } => {
            let run_dirs = match run_list {
                Some(list) => worker::array_task_runs(&list)?,
                None => run_dirs,
            };
            worker::run(&run_dirs, &device, &project.datasets(data)?)
        }
    }
}

/// The task named `name`, for `--tasks`.
/// `--all`: every run in a sweep folder, else the current spec's.
fn coverage(all: bool) -> Coverage {
    if all {
        Coverage::All
    } else {
        Coverage::Current
    }
}

fn parse_task(name: &str) -> Result<Task, String> {
    Task::named(name).ok_or_else(|| {
        let names: Vec<&str> = Task::ALL.iter().map(|task| task.name()).collect();
        format!(
            "no task is named `{name}`: expected one of {}",
            names.join(", ")
        )
    })
}

impl From<AddArgs> for hourglass_data::NewDataset {
    fn from(args: AddArgs) -> Self {
        Self {
            name: args.name,
            files: args.files,
            label: args.label,
            features: args.features,
            anomaly_label: args.anomaly_label,
            test_fraction: args.test_fraction,
            split_seed: args.split_seed,
            standardize: args.standardize,
            link: args.link,
            force: args.force,
            licence: args.licence,
            resize: args.resize,
        }
    }
}

/// The files `hourglass schema` describes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SchemaOf {
    /// Experiment specs.
    Spec,
    /// `references.toml`.
    References,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cause_its_context_already_quotes_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let error = anyhow::Error::new(io)
            .context("cannot read x: no such file")
            .context("cannot list the data sets");
        assert_eq!(
            super::message(&error),
            "cannot list the data sets: cannot read x: no such file"
        );
    }
}
