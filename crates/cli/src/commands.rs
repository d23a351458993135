//! The subcommands of `hourglass` but the worker's (`worker.rs`): validate, sweep, report,
//! compare, schema and datasets.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use hourglass_data::Registry;
use hourglass_orchestrator::{SweepLayout, SweepOptions, WorkerCommand};
use hourglass_report::{Coverage, References};
use hourglass_spec::{Catalog, Experiment, Search, SearchMethod};

use crate::SchemaOf;

/// Whether `error` comes from writing to a pipe whose reader has gone.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `count` and its noun: `one` for one, else `many`.
fn counted(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// Runs listed whole by `validate`; larger sweeps show their first and last few.
const LISTED_RUNS: usize = 20;

pub fn registry(datasets: &Path) -> Result<Registry> {
    Registry::discover(datasets)
        .with_context(|| format!("cannot list the data sets in {}", datasets.display()))
}

/// Warns of each data set folder left out for an unusable `dataset.toml`; returns how many.
fn warn_of_unusable(registry: &Registry) -> usize {
    let mut count = 0;
    for (folder, error) in registry.unusable() {
        eprintln!("warning: data set folder `{folder}` left out: {error}");
        count += 1;
    }
    count
}

/// Loads and validates a spec; a spec error is printed in full and yields `None`.
pub fn load(spec: &Path, datasets: &Path) -> Result<Option<Experiment>> {
    let registry = registry(datasets)?;
    warn_of_unusable(&registry);
    let catalog = Catalog {
        datasets: registry.shapes(),
        labels: registry.labels(),
        backends: hourglass_train::backend::compiled(),
    };
    match hourglass_spec::load(spec, &catalog) {
        Ok(experiment) => {
            for warning in &experiment.warnings {
                eprintln!("{warning}");
            }
            Ok(Some(experiment))
        }
        // A file that cannot be read has no located diagnostics, which carry the `error:`.
        Err(error @ hourglass_spec::SpecError::Read { .. }) => {
            eprintln!("error: {error}");
            Ok(None)
        }
        Err(error) => {
            eprintln!("{error}");
            Ok(None)
        }
    }
}

pub fn validate(spec: &Path, datasets: &Path, every_run: bool) -> Result<ExitCode> {
    let Some(experiment) = load(spec, datasets)? else {
        return Ok(ExitCode::FAILURE);
    };
    if let Some(search) = &experiment.search {
        return validate_search(&experiment, search);
    }
    let runs = &experiment.runs;
    let collapsed = experiment.expanded - runs.len();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for run in runs {
        *kinds
            .entry(format!("{:?}", run.config.model.kind).to_lowercase())
            .or_default() += 1;
    }
    let kinds: Vec<String> = kinds
        .iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    let collapsed = if collapsed > 0 {
        format!(
            " ({} expanded, {} collapsed)",
            experiment.expanded,
            counted(collapsed, "duplicate", "duplicates")
        )
    } else {
        String::new()
    };
    out!(
        "{}: {}{collapsed}: {}",
        experiment.name,
        counted(runs.len(), "run", "runs"),
        kinds.join(", ")
    )?;
    let shown = if every_run || runs.len() <= LISTED_RUNS {
        runs.len()
    } else {
        LISTED_RUNS / 2
    };
    for run in &runs[..shown] {
        out!("  {}", run.summary())?;
    }
    if shown < runs.len() {
        let hidden = runs.len() - 2 * shown;
        out!(
            "  ... {} more (list them all with --runs)",
            counted(hidden, "run", "runs")
        )?;
        for run in &runs[runs.len() - shown..] {
            out!("  {}", run.summary())?;
        }
    }
    if experiment.resources.pack > 1 {
        let packs = hourglass_orchestrator::packs(&experiment);
        let at_once: usize = experiment
            .resources
            .slots
            .iter()
            .fold(0, |sum, slot| sum.saturating_add(slot.workers));
        out!(
            "{} (resources.pack = {}), run by {} at a time:",
            counted(packs.len(), "worker process", "worker processes"),
            experiment.resources.pack,
            at_once.min(packs.len())
        )?;
        for (number, pack) in packs.iter().enumerate() {
            let ids: Vec<&str> = pack.iter().map(|&i| runs[i].id.as_str()).collect();
            let what = match pack.len() {
                1 => "1 run alone".to_string(),
                count => format!("{count} runs packed"),
            };
            out!("  worker {}: {what}: {}", number + 1, ids.join(" "))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `validate` says of a model-based search: how many runs it makes, toward what, and
/// over which keys.
fn validate_search(experiment: &Experiment, search: &Search) -> Result<ExitCode> {
    let (method, startup) = match search.method {
        SearchMethod::Tpe => ("TPE", hourglass_search::STARTUP_TRIALS),
        SearchMethod::Nsga2 => ("NSGA-II", hourglass_search::nsga2::POPULATION),
    };
    let objectives: Vec<String> = (search.objectives.iter())
        .map(|o| format!("{} {}", o.goal.verb(), o.metric))
        .collect();
    out!(
        "{}: {method} search of {} x {} = {}, to {}",
        experiment.name,
        counted(search.samples, "configuration", "configurations"),
        counted(experiment.repeats as usize, "seed", "seeds"),
        counted(experiment.expanded, "run", "runs"),
        objectives.join(" and "),
    )?;
    let batch = hourglass_orchestrator::search_batch(experiment).unwrap_or(1);
    out!(
        "  proposed {} at a time (as many as train at once), the first {} at random",
        counted(batch, "configuration", "configurations"),
        startup.min(search.samples),
    )?;
    for parameter in &search.parameters {
        out!("  {}: {}", parameter.key, parameter.domain)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The first Ctrl-C (SIGINT) or SIGTERM sets `stop`: no run starts any more and running ones
/// finish. A second one ends the orchestrator at once; its workers notice and stop, and their
/// runs, left without a result, are trained again on resume.
pub fn stop_on_interrupt(stop: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<()> {
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

pub fn sweep(
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
    // Tasks the spec gained since its runs finished: their saved models are evaluated.
    let layout = SweepLayout::new(reports, &experiment);
    crate::evaluate::evaluate_added_tasks(&experiment, &layout, &registry(datasets)?)?;
    let datasets = std::path::absolute(datasets).context("cannot resolve the data set folder")?;
    let worker = WorkerCommand {
        program: std::env::current_exe().context("cannot find the hourglass executable")?,
        args: vec![
            "--datasets".into(),
            datasets.into_os_string(),
            "worker".into(),
        ],
    };
    let options = SweepOptions {
        retry_failed,
        ..SweepOptions::default()
    };
    stop_on_interrupt(&options.stop)?;
    let mut display = crate::progress::SweepDisplay::new(
        &layout.root,
        match &experiment.search {
            Some(_) => experiment.expanded,
            None => experiment.runs.len(),
        },
        references,
        &experiment.primary_metric,
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
    out!("{}: {summary}", experiment.name)?;
    // A report failure is reported but does not undo or fail the training that finished.
    match hourglass_report::write_report(&layout.root, references, Coverage::Current) {
        Ok(files) => {
            out!("report: {}", files.html.display())?;
            said_earlier(files.earlier)?;
        }
        Err(error) => eprintln!("warning: no report written: {error}"),
    }
    if summary.unfinished > 0 {
        out!(
            "{} unfinished; to resume, run the same command again: {}",
            counted(summary.unfinished, "run", "runs"),
            this_command()
        )?;
        return Ok(ExitCode::from(130));
    }
    Ok(if summary.failed() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub fn report(sweep_dir: &Path, references: &References, coverage: Coverage) -> Result<ExitCode> {
    let files = hourglass_report::write_report(sweep_dir, references, coverage)?;
    out!(
        "report: {}\ntable: {}",
        files.html.display(),
        files.csv.display()
    )?;
    said_earlier(files.earlier)?;
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

/// Says how many finished runs a report listed apart as not in the current spec.
fn said_earlier(earlier: usize) -> Result<()> {
    if earlier > 0 {
        out!(
            "{} of earlier versions of the spec kept in runs/ and listed apart \
             (`hourglass report --all` includes them)",
            counted(earlier, "run", "runs")
        )?;
    }
    Ok(())
}

pub fn compare(a: &Path, b: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let out = out.unwrap_or_else(|| {
        a.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf()
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let files = hourglass_report::write_comparison(a, b, &out)?;
    for difference in &files.differing {
        out!("differs: {difference}")?;
    }
    out!(
        "{} shared configurations\ncomparison: {}\ntable: {}\nevery metric: {}",
        files.shared,
        files.html.display(),
        files.markdown.display(),
        files.csv.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Gathers the runs of every sweep under `root` into the table `out`.
pub fn results(root: &Path, out: &Path, coverage: Coverage) -> Result<ExitCode> {
    let gathered = hourglass_report::gather(root, coverage)?;
    let bytes = match out.extension().and_then(|e| e.to_str()) {
        Some("parquet") => gathered.table.to_parquet()?,
        Some("csv") => gathered.table.to_csv()?,
        _ => anyhow::bail!(
            "cannot tell the format of {} (expected a name ending in .parquet or .csv)",
            out.display()
        ),
    };
    hourglass_spec::result::write_atomic(out, &bytes)
        .with_context(|| format!("cannot write {}", out.display()))?;
    out!(
        "{} of {} sweeps: {}",
        counted(gathered.table.rows.len(), "run", "runs"),
        gathered.sweeps,
        out.display()
    )?;
    for reason in &gathered.skipped {
        eprintln!("warning: left out: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn schema(of: SchemaOf, out: Option<&Path>) -> Result<ExitCode> {
    let schema = match of {
        SchemaOf::Spec => hourglass_spec::json_schema(),
        SchemaOf::References => References::json_schema(),
    };
    match out {
        Some(path) => hourglass_spec::result::write_atomic(path, schema.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out!("{}", schema.trim_end())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the data sets; fails when a folder's `dataset.toml` is unusable.
pub fn datasets(root: &Path) -> Result<ExitCode> {
    let registry = registry(root)?;
    for manifest in registry.manifests() {
        let examples = match (&manifest.table, &manifest.arrays, &manifest.images) {
            (Some(table), ..) => held_out(table.rows, table.test_fraction),
            (_, Some(arrays), _) => held_out(arrays.examples, arrays.test_fraction),
            (.., Some(images)) => held_out(images.examples, images.test_fraction),
            _ => (manifest.splits.iter())
                .map(|(name, files)| format!("{name} {}", files.examples))
                .collect::<Vec<_>>()
                .join(", "),
        };
        out!(
            "{:<16} {:<8} shape {:?}  {examples}  ({})",
            manifest.name,
            manifest.format.name(),
            manifest.shape,
            manifest.licence
        )?;
    }
    Ok(if warn_of_unusable(&registry) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `N examples, F % test` of a data set split by a seeded shuffle.
fn held_out(examples: usize, test_fraction: f64) -> String {
    format!("{examples} examples, {:.0} % test", test_fraction * 100.0)
}

/// `hourglass datasets add`: makes the data set and says what loading it found.
pub fn add_dataset(root: &Path, new: hourglass_data::NewDataset) -> Result<ExitCode> {
    let how = if new.link { "linked" } else { "copied" };
    let added = hourglass_data::add(root, &new)?;
    let manifest = &added.manifest;
    out!(
        "added data set `{}` in {} ({} {how}, sha256 sums in dataset.toml)",
        manifest.name,
        added.dir.display(),
        counted(new.files.len(), "file", "files")
    )?;
    out!(
        "  examples: {} train, {} test; each of shape {:?}",
        added.train,
        added.test,
        manifest.shape
    )?;
    let total: usize = added.label_counts.iter().map(|(_, n)| n).sum();
    if let Some(classes) = manifest.classes {
        let counts: Vec<String> = (added.label_counts.iter())
            .map(|(label, n)| format!("{label}: {n}"))
            .collect();
        out!(
            "  classes: {classes} (examples per label: {})",
            counts.join(", ")
        )?;
    }
    if let Some(anomaly) = manifest.anomaly_label {
        let anomalies = (added.label_counts.iter())
            .find(|(label, _)| *label == anomaly)
            .map_or(0, |(_, n)| *n);
        out!(
            "  anomalies (label {anomaly}): {anomalies} of {total} ({:.1} %)",
            100.0 * anomalies as f64 / total.max(1) as f64
        )?;
    }
    let (low, high) = added.range;
    out!("  values in [{low}, {high}]")?;
    if !manifest.standardize && (low < 0.0 || high > 1.0) {
        out!(
            "  note: the values are not in [0, 1], where sigmoid outputs and BCE expect them: \
             add it again with --standardize --force, or set standardize = true in dataset.toml"
        )?;
    }
    out!(
        "  use it in a spec: [data] dataset = \"{}\"; check the licence in dataset.toml",
        manifest.name
    )?;
    Ok(ExitCode::SUCCESS)
}

/// This process's command line as `hourglass ARGS...`, each argument quoted for a POSIX shell
/// where it needs it, so that it can be pasted back as printed.
fn this_command() -> String {
    std::iter::once("hourglass".to_string())
        .chain(
            std::env::args_os()
                .skip(1)
                .map(|arg| shell_quoted(&arg.to_string_lossy())),
        )
        .collect::<Vec<_>>()
        .join(" ")
}

/// `word` as a POSIX shell reads it back: bare when it holds only characters no shell
/// interprets, else in single quotes (a quote inside written `'\''`).
fn shell_quoted(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_where_a_shell_would_split_or_expand_them() {
        assert_eq!(
            shell_quoted("experiments/quickstart.toml"),
            "experiments/quickstart.toml"
        );
        assert_eq!(shell_quoted("my specs/a.toml"), "'my specs/a.toml'");
        assert_eq!(shell_quoted("it's $HOME"), "'it'\\''s $HOME'");
        assert_eq!(shell_quoted(""), "''");
    }

    #[test]
    fn a_count_of_one_takes_the_singular() {
        assert_eq!(counted(1, "run", "runs"), "1 run");
        assert_eq!(counted(0, "run", "runs"), "0 runs");
    }
}
