//! Experiment specs: the TOML schema, its validation and the expansion of a sweep into runs.
//!
//! Parsing happens in passes. First the whole file is deserialized into the schema types, so
//! syntax errors, wrong types and unknown keys point at `file:line:col`; a section that cannot
//! be read is set aside so the others are still read and checked (`sections`). Then the sweep is
//! expanded: each swept value is written into the spec's table and the run sections are
//! deserialized again, so swept values are checked like written ones. Last, every run's
//! configuration goes through the semantic checks, and all problems come back together.
//!
//! This crate knows nothing of burn or of files other than the spec: the data sets and
//! backends a spec may name come in through a [`Catalog`].

mod catalog;
mod check;
pub mod checkpoint;
mod diagnostic;
mod duplicates;
mod json_schema;
pub mod model_card;
mod pack;
mod primary;
mod ranges;
mod resources;
pub mod result;
mod schema;
mod search;
mod sections;
mod space;
mod sweep;
pub mod sweep_record;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

pub use catalog::{Catalog, Labels};
pub use diagnostic::{Diagnostic, SpecError};
pub use json_schema::{json_schema, schema_text};
pub use pack::PackKey;
pub use primary::{Direction, PrimaryMetric};
pub use resources::{
    DeviceName, Executor, Pruning, RESERVED_SBATCH_OPTIONS, Resources, Slot, Slurm,
};
pub use schema::{
    Activation, Architecture, Backend, Binarize, CodeActivation, Codebook, CodebookUpdate,
    ContractivePenalty, DataSection, EarlyStopping, EvaluateSection, KlPenalty, LossSection,
    ModelKind, ModelSection, NoiseKind, NoiseSection, Optimizer, OutputActivation, Reconstruction,
    RegularizersSection, RunConfig, SparsityPenalty, Task, TrainSection,
};
pub use search::{Objective, Search, SearchDomain, SearchMethod, SearchParameter};
pub use sweep::{Axis, RunId, RunSpec};

use diagnostic::{did_you_mean, not_ascii};
use schema::SpecFile;

/// A validated experiment: its identity and every run it expands to.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// `experiment.name`; safe to use as a folder name.
    pub name: String,
    /// `experiment.description`.
    pub description: String,
    /// The swept keys and their values, in key order.
    pub axes: Vec<Axis>,
    /// Seeds per configuration (`experiment.repeats`).
    pub repeats: u32,
    /// Number of runs before duplicates collapse: the configurations of the sweep (the
    /// product of the grid's groups, or the random samples) times `repeats`.
    pub expanded: usize,
    /// The distinct runs, in expansion order; empty for a model-based search, whose runs are
    /// proposed as it goes.
    pub runs: Vec<RunSpec>,
    /// With `strategy = "tpe"` or `"nsga2"`: the search that proposes the runs.
    pub search: Option<Search>,
    /// How the runs are executed (`[resources]`).
    pub resources: Resources,
    /// When runs are stopped early as unpromising (`[sweep.pruning]`).
    pub pruning: Option<Pruning>,
    /// Warnings about values the spec is used with all the same (a learning rate of `1e6`),
    /// rendered like errors.
    pub warnings: Vec<String>,
    /// What the report ranks runs by (`[report] metric`, or the natural one of the tasks).
    pub primary_metric: PrimaryMetric,
}

/// Sections of a spec that a run's configuration is made of; the keys a sweep may vary.
const RUN_SECTIONS: [&str; 7] = [
    "data",
    "model",
    "loss",
    "regularizers",
    "noise",
    "train",
    "evaluate",
];

/// Reads and validates the spec at `path`.
pub fn load(path: &Path, catalog: &Catalog) -> Result<Experiment, SpecError> {
    let bytes = std::fs::read(path).map_err(|source| SpecError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &utf8(path, bytes)?, catalog)
}

/// The text of the spec at `path`, or an error located at its first byte that is not UTF-8.
fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, SpecError> {
    String::from_utf8(bytes).map_err(|error| {
        let utf8 = error.utf8_error();
        let start = utf8.valid_up_to();
        let bytes = error.as_bytes();
        let end = utf8.error_len().map_or(bytes.len(), |len| start + len);
        let invalid: Vec<String> = bytes[start..end]
            .iter()
            .map(|byte| format!("0x{byte:02x}"))
            .collect();
        // The text quoted shows U+FFFD for what is not UTF-8; up to the first, it is the file's.
        let text = String::from_utf8_lossy(bytes).into_owned();
        let diagnostic = Diagnostic::new(
            "",
            format!(
                "the file is not UTF-8 text: byte {} is not valid UTF-8 here",
                invalid.join(" ")
            ),
        )
        .with_hint("save the spec as UTF-8 (TOML files are UTF-8)")
        .at(Some(start..start + char::REPLACEMENT_CHARACTER.len_utf8()));
        SpecError::Invalid {
            path: path.to_path_buf(),
            text,
            diagnostics: vec![diagnostic],
        }
    })
}

/// Validates `source`, the text of the spec at `path`.
pub fn parse(path: &Path, source: &str, catalog: &Catalog) -> Result<Experiment, SpecError> {
    let locator = Locator::new(source);
    let invalid = |mut diagnostics: Vec<Diagnostic>| {
        // A problem found on the checked values points at its key as written, or at the
        // table it belongs to.
        for diagnostic in &mut diagnostics {
            if diagnostic.span.is_none() {
                diagnostic.span = locator.value_span(&diagnostic.key);
            }
        }
        diagnostics.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
        SpecError::Invalid {
            path: path.to_path_buf(),
            text: source.to_string(),
            diagnostics,
        }
    };
    let sections = sections::deserialize(source);
    let mut problems: Vec<Diagnostic> = (sections.errors.iter())
        .map(|error| from_toml_error(error, &locator))
        .collect();
    let Some(file) = sections.file else {
        return Err(invalid(problems));
    };

    // `[experiment]`, `[resources]` and `[sweep.pruning]` are checked on their own, so they are
    // checked even when another section could not be read.
    problems.append(&mut check_experiment(&file.experiment, &locator));
    let resources =
        resources::check_resources(&file.resources).unwrap_or_else(|mut resource_problems| {
            problems.append(&mut resource_problems);
            Resources::default()
        });
    let pruning = file.sweep.pruning.as_ref().and_then(|section| {
        resources::check_pruning(section)
            .map_err(|mut pruning_problems| problems.append(&mut pruning_problems))
            .ok()
    });
    // The run sections are checked together, as one run's configuration: not while one of
    // them is unreadable.
    if !sections.errors.is_empty() {
        return Err(invalid(problems));
    }
    let base = match run_table(source) {
        Ok(base) => base,
        Err(error) => {
            // The checks of [resources] may have found the same integer out of range.
            let problem = from_toml_error(&error, &locator);
            if !problems
                .iter()
                .any(|p| p.key == problem.key && p.message == problem.message)
            {
                problems.push(problem);
            }
            return Err(invalid(problems));
        }
    };
    let (parameters, axes, combinations, axis_spans) = match sweep_axes(&file, &base, &locator) {
        Ok(expansion) => expansion,
        Err(mut sweep_problems) => {
            problems.append(&mut sweep_problems);
            return Err(invalid(problems));
        }
    };

    if combinations
        .len()
        .saturating_mul(file.experiment.repeats as usize)
        > space::MAX_RUNS
    {
        let (configurations, repeats) = (combinations.len(), file.experiment.repeats);
        let count = configurations as u64 * u64::from(repeats);
        // With a sweep, the whole sweep is too large: point at it and say what multiplies.
        let problem = if configurations > 1 {
            space::too_many_runs("sweep.parameters", count)
                .with_hint(format!(
                    "{configurations} configurations times `experiment.repeats` = {repeats}; \
                     split the sweep into several specs, or repeat fewer times"
                ))
                .at(locator.value_span("sweep.parameters"))
        } else {
            space::too_many_runs("experiment.repeats", count)
                .at(locator.value_span("experiment.repeats"))
        };
        problems.push(problem);
        return Err(invalid(problems));
    }

    let (seed, repeats) = (file.experiment.seed, file.experiment.repeats);
    let last_seed = seed.checked_add(u64::from(repeats.saturating_sub(1)));
    let first_seed = match (i64::try_from(seed), last_seed.map(i64::try_from)) {
        (Ok(first), Some(Ok(_))) => first,
        _ => {
            problems.push(
                Diagnostic::new(
                    "experiment.seed",
                    format!(
                        "the runs' seeds go from {seed} to {}, past the largest TOML integer {}",
                        u128::from(seed) + u128::from(repeats.saturating_sub(1)),
                        i64::MAX
                    ),
                )
                .with_hint("each repeat adds 1 to `seed`; use a smaller seed")
                .at(locator.value_span("experiment.seed")),
            );
            return Err(invalid(problems));
        }
    };
    let sweep_span = locator.value_span("sweep.parameters");
    let mut runs = Vec::new();
    let mut expanded = 0;
    let mut seen_problems = BTreeSet::new();
    // Keys that were set but dropped from every run so far as not applying to it.
    let mut dropped_everywhere: Option<BTreeMap<&'static str, &'static str>> = None;
    // A search starts from the configurations a random sweep of the spec draws.
    let random_draws: Vec<Vec<toml::Value>> = match search::method(file.sweep.strategy) {
        Some(_) => (combinations.iter())
            .map(|c| {
                (axes.iter().zip(c))
                    .map(|(axis, &i)| axis.values[i].clone())
                    .collect()
            })
            .collect(),
        None => Vec::new(),
    };
    for combination in combinations {
        let assignments: Vec<(String, toml::Value)> = axes
            .iter()
            .zip(&combination)
            .map(|(axis, &i)| (axis.key.clone(), axis.values[i].clone()))
            .collect();
        for repeat in 0..file.experiment.repeats {
            expanded += 1;
            // The seeds were checked to fit: no overflow.
            let seed = first_seed + i64::from(repeat);
            let built = match build_run(
                &base,
                &assignments,
                seed,
                catalog,
                &resources,
                pruning.as_ref(),
            ) {
                Ok(built) => built,
                Err(problem) => {
                    if seen_problems.insert((problem.key.clone(), problem.message.clone())) {
                        problems.push(problem.at(sweep_span.clone()));
                    }
                    continue;
                }
            };
            let Built {
                config,
                applied,
                dropped,
                problems: run_problems,
            } = built;
            dropped_everywhere = Some(match dropped_everywhere {
                None => dropped,
                Some(mut before) => {
                    before.retain(|key, _| dropped.contains_key(key));
                    before
                }
            });
            for problem in run_problems {
                if seen_problems.insert((problem.key.clone(), problem.message.clone())) {
                    let span = axis_for(&problem.key, &axes, &axis_spans)
                        .or_else(|| locator.written_span(&problem.key))
                        .or_else(|| match problem.key.as_str() {
                            // A backend that no slot offers, not written: the default, which
                            // the slots (or the Slurm tasks' device) do not offer.
                            "train.backend" => locator.value_span(match resources.executor {
                                Executor::Local => "resources.slots",
                                Executor::Slurm(_) => "resources.slurm.gpus_per_task",
                            }),
                            key => locator.value_span(key),
                        });
                    problems.push(problem.at(span));
                }
            }
            let id = RunId::of(&config);
            match runs.iter_mut().find(|run: &&mut RunSpec| run.id == id) {
                // Configurations that train the same run: it is evaluated for all their tasks.
                Some(run) => run.config.evaluate.add_tasks(&config.evaluate.tasks),
                None => runs.push(RunSpec {
                    id,
                    config,
                    assignments: applied,
                }),
            }
        }
    }
    for (key, owner) in dropped_everywhere.unwrap_or_default() {
        let span = locator.value_span(key);
        problems.push(inapplicable(key, owner).at(span));
    }
    let tasks: Vec<Task> = Task::ALL
        .into_iter()
        .filter(|&task| runs.iter().any(|run| run.config.evaluate.has(task)))
        .collect();
    let written_primary = primary::primary_metric(file.report.metric.as_deref(), &tasks)
        .unwrap_or_else(|problem| {
            problems.push(problem);
            PrimaryMetric::natural(&tasks)
        });
    let objectives = search::objectives(&file.sweep, &tasks, &written_primary).unwrap_or_else(
        |mut objective_problems| {
            for problem in &mut objective_problems {
                problem.span = locator.value_span(&problem.key);
            }
            problems.append(&mut objective_problems);
            Vec::new()
        },
    );
    if search::method(file.sweep.strategy).is_some()
        && matches!(&resources.executor, Executor::Slurm(slurm) if slurm.array_parallelism.is_none())
    {
        problems.push(
            Diagnostic::new(
                "resources.slurm",
                "a model-based search proposes as many configurations at a time as train at \
                 once, and Slurm array tasks without `array_parallelism` have no bound",
            )
            .with_hint("set `resources.slurm.array_parallelism`, e.g. 8")
            .at(locator.value_span("resources.slurm")),
        );
    }
    // A search's report ranks by its (first) objective, unless `[report] metric` says otherwise.
    let primary_metric = match (&file.report.metric, objectives.first()) {
        (None, Some(objective)) => PrimaryMetric {
            name: objective.metric.clone(),
            direction: objective.goal,
        },
        _ => written_primary,
    };
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let probe = (runs.iter())
        .find_map(|run| check::probe_without_labels(&run.config, catalog))
        .map(|warning| {
            let span = locator.value_span("evaluate.tasks");
            warning.at(span)
        });
    let warnings = (unusual_values(&base, &axes, &axis_spans, &locator).iter())
        .chain(&probe)
        .map(|warning| diagnostic::render_warning(path, source, warning))
        .collect();
    // A model-based search's runs are proposed as results come in: the random draws above
    // were only checked, as the configurations it starts from would be.
    let search = search::method(file.sweep.strategy).map(|method| Search {
        method,
        parameters: search::parameters(&parameters),
        samples: file.sweep.samples.as_ref().map_or(0, |s| *s.get_ref()),
        objectives,
        seed,
        random_draws,
        template: search::RunTemplate {
            base,
            first_seed,
            repeats,
            catalog: catalog.clone(),
            resources: resources.clone(),
            pruning,
        },
    });
    if search.is_some() {
        runs.clear();
    }
    Ok(Experiment {
        name: file.experiment.name,
        description: file.experiment.description,
        axes,
        repeats: file.experiment.repeats,
        expanded,
        runs,
        search,
        resources,
        pruning,
        warnings,
        primary_metric,
    })
}

/// A warning for each key written or swept to a value far outside its usual range (the first
/// such value of the key).
fn unusual_values(
    base: &toml::Table,
    axes: &[Axis],
    axis_spans: &[Range<usize>],
    locator: &Locator,
) -> Vec<Diagnostic> {
    ranges::keys_with_usual_range()
        .filter_map(|key| {
            let written = value_at(base, key)
                .and_then(|value| ranges::unusual(key, value))
                .map(|warning| warning.at(locator.value_span(key)));
            written.or_else(|| {
                axes.iter().zip(axis_spans).find_map(|(axis, span)| {
                    (axis.key == key)
                        .then(|| axis.values.iter())
                        .into_iter()
                        .flatten()
                        .find_map(|value| ranges::unusual(key, value))
                        .map(|warning| warning.at(Some(span.clone())))
                })
            })
        })
        .collect()
}

/// The value at the dotted `key` of `table`.
fn value_at<'t>(table: &'t toml::Table, key: &str) -> Option<&'t toml::Value> {
    let (section, rest) = key.split_once('.')?;
    rest.split('.')
        .try_fold(table.get(section)?, |value, part| value.get(part))
}

/// The problem with a key that is set but applies to no run of the spec.
fn inapplicable(key: &str, owner: &str) -> Diagnostic {
    Diagnostic::new(key, "is set but applies to no run of this spec").with_hint(format!(
        "it applies to {owner}; remove it, or change the runs so that it applies"
    ))
}

/// The longest experiment name: the sweep's folder name, well below file systems' 255 bytes.
const MAX_NAME_LEN: usize = 100;

fn check_experiment(experiment: &schema::ExperimentSection, locator: &Locator) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let name = &experiment.name;
    let safe = (1..=MAX_NAME_LEN).contains(&name.len())
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !safe {
        problems.push(
            Diagnostic::new(
                "experiment.name",
                format!("name {name:?} cannot be a folder name"),
            )
            .with_hint(format!(
                "use up to {MAX_NAME_LEN} letters, digits, '-', '_' and '.', not starting with '.'"
            ))
            .at(locator.value_span("experiment.name")),
        );
    }
    if experiment.repeats == 0 {
        problems.push(
            Diagnostic::new("experiment.repeats", "repeats must be at least 1")
                .at(locator.value_span("experiment.repeats")),
        );
    }
    problems
}

/// The sweep's axes, the value indices of each configuration and the span of each axis, after
/// checking that every key is a run key and every value fits the schema.
#[expect(clippy::type_complexity, reason = "one private call site")]
fn sweep_axes(
    file: &SpecFile,
    base: &toml::Table,
    locator: &Locator,
) -> Result<
    (
        Vec<space::Parameter>,
        Vec<Axis>,
        Vec<Vec<usize>>,
        Vec<Range<usize>>,
    ),
    Vec<Diagnostic>,
> {
    let mut problems = Vec::new();
    let mut parameters = Vec::new();
    let mut spans = Vec::new();
    for (key, value) in &file.sweep.parameters {
        let span = value.span();
        let located = |d: Diagnostic| d.at(Some(span.clone()));
        let section = key.split('.').next().unwrap_or_default();
        if !RUN_SECTIONS.contains(&section) {
            let paths = format!(
                "sweep keys are dotted paths into [{}], e.g. \"model.latent\", or a whole section",
                RUN_SECTIONS.join("], [")
            );
            let hint = match (not_ascii(section), did_you_mean(section, RUN_SECTIONS)) {
                (Some(not_ascii), _) => format!("{not_ascii}; {paths}"),
                (None, Some(near)) if near != section => format!("did you mean `{near}`?"),
                _ => paths,
            };
            problems.push(located(
                Diagnostic::new(format!("sweep.parameters.\"{key}\""), "cannot be swept")
                    .with_hint(hint),
            ));
            continue;
        }
        let parameter = match space::Parameter::parse(key, value.get_ref()) {
            Ok(parameter) => parameter,
            Err(problem) => {
                problems.push(located(problem));
                continue;
            }
        };
        // The first value that does not fit says what is wrong with the key.
        if let Some(problem) = parameter
            .representatives()
            .into_iter()
            .find_map(|value| check_value(base, key, value).err())
            .or_else(|| parameter.check_range())
        {
            problems.push(located(problem));
        }
        parameters.push(parameter);
        spans.push(span);
    }
    let mut zip = Vec::new();
    for group in &file.sweep.zip {
        let located = |d: Diagnostic| d.at(Some(group.span()));
        let mut indices = Vec::new();
        for key in group.get_ref() {
            match parameters.iter().position(|p| &p.key == key) {
                Some(i) if !zip.iter().flatten().chain(&indices).any(|&j| j == i) => {
                    indices.push(i)
                }
                Some(_) => problems.push(located(Diagnostic::new(
                    "sweep.zip",
                    format!("`{key}` appears more than once in the zip groups"),
                ))),
                None => problems.push(located(
                    Diagnostic::new("sweep.zip", format!("`{key}` is not a swept key"))
                        .with_hint("list it in [sweep.parameters] with its values"),
                )),
            }
        }
        zip.push(indices);
    }
    let combine = match (file.sweep.strategy, &file.sweep.samples) {
        (schema::Strategy::Grid, None) => space::Combine::Grid,
        (schema::Strategy::Random, Some(samples)) if *samples.get_ref() > 0 => {
            space::Combine::Random {
                samples: *samples.get_ref(),
            }
        }
        // A model-based search is checked on as many random draws as it will propose.
        (schema::Strategy::Tpe | schema::Strategy::Nsga2, Some(samples))
            if *samples.get_ref() > 0 =>
        {
            if let Some(group) = file.sweep.zip.first() {
                problems.push(
                    Diagnostic::new(
                        "sweep.zip",
                        "a model-based search proposes each key on its own",
                    )
                    .with_hint(
                        "zip groups belong to grid and random sweeps; search one key instead",
                    )
                    .at(Some(group.span())),
                );
            }
            space::Combine::Random {
                samples: *samples.get_ref(),
            }
        }
        (
            strategy @ (schema::Strategy::Random | schema::Strategy::Tpe | schema::Strategy::Nsga2),
            _,
        ) => {
            let kind = match strategy {
                schema::Strategy::Random => "a random sweep",
                _ => "a model-based search",
            };
            problems.push(
                Diagnostic::new("sweep.samples", format!("{kind} needs `samples` ≥ 1"))
                    .with_hint("e.g. `samples = 20` configurations")
                    .at(file.sweep.samples.as_ref().map(|s| s.span())),
            );
            space::Combine::Grid
        }
        (schema::Strategy::Grid, Some(samples)) => {
            problems.push(
                Diagnostic::new("sweep.samples", "`samples` is for `strategy = \"random\"`, `\"tpe\"` and `\"nsga2\"`")
                    .with_hint("a grid takes every combination; draw per key with `{ uniform = [a, b], samples = N }`")
                    .at(Some(samples.span())),
            );
            space::Combine::Grid
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let expansion = space::expand(&parameters, &zip, &combine, file.experiment.seed).map_err(
        |(problem, group)| {
            // A problem of the whole sweep points at its zip group or its table.
            let span = match (problem.key.as_str(), group) {
                (_, Some(group)) => Some(file.sweep.zip[group].span()),
                ("sweep.samples", _) => file.sweep.samples.as_ref().map(toml::Spanned::span),
                ("sweep.parameters", _) => locator.value_span("sweep.parameters"),
                (key, _) => parameters
                    .iter()
                    .position(|p| key.starts_with(&p.key))
                    .map(|i| spans[i].clone()),
            };
            vec![problem.at(span)]
        },
    )?;
    Ok((parameters, expansion.axes, expansion.combinations, spans))
}

/// A run's configuration, built and checked.
struct Built {
    /// Without the keys that do not apply to it.
    config: RunConfig,
    /// The swept values that made it (those dropped as not applying left out).
    applied: Vec<(String, toml::Value)>,
    /// Keys dropped as not applying, with what they apply to.
    dropped: BTreeMap<&'static str, &'static str>,
    /// What the checks of a run and of its placement on `[resources]` found.
    problems: Vec<Diagnostic>,
}

/// The run of `base` with the swept `assignments` and `seed`: its configuration without the
/// keys that do not apply to it, checked against the `catalog` and where it would run.
fn build_run(
    base: &toml::Table,
    assignments: &[(String, toml::Value)],
    seed: i64,
    catalog: &Catalog,
    resources: &Resources,
    pruning: Option<&Pruning>,
) -> Result<Built, Diagnostic> {
    let (config, dropped) = run_config(base, assignments, seed)?.without_inapplicable();
    let dropped: BTreeMap<&'static str, &'static str> = dropped.into_iter().collect();
    // A swept value that was dropped did not make this run: keep it out of its summary.
    let applied: Vec<(String, toml::Value)> = assignments
        .iter()
        .filter(|(key, _)| {
            !dropped
                .keys()
                .any(|d| key == d || key.starts_with(&format!("{d}.")))
        })
        .cloned()
        .collect();
    let problems = check::check_run(&config, catalog)
        .into_iter()
        .chain(check::check_placement(&config, resources, pruning))
        .collect();
    Ok(Built {
        config,
        applied,
        dropped,
        problems,
    })
}

/// The configuration of one run: `base` with the swept `assignments` and the run's seed. Each
/// swept value was checked on its own; together they can still clash (a swept table that
/// lacks a key that a swept key below it needs).
fn run_config(
    base: &toml::Table,
    assignments: &[(String, toml::Value)],
    seed: i64,
) -> Result<RunConfig, Diagnostic> {
    let mut table = base.clone();
    for (key, value) in assignments {
        sweep::assign(&mut table, key, value.clone())?;
    }
    table.insert("seed".into(), toml::Value::Integer(seed));
    toml::Value::Table(table).try_into().map_err(|e| {
        let keys: Vec<&str> = assignments.iter().map(|(key, _)| key.as_str()).collect();
        Diagnostic::new(
            "sweep.parameters",
            format!(
                "the swept values of `{}` do not fit together: {}",
                keys.join("`, `"),
                plain_types(e.message().trim(), None)
            ),
        )
        .with_hint(
            "a swept table replaces the whole table: give it every key that the keys swept \
             below it need",
        )
    })
}

/// Checks one swept value against the schema by deserializing the run sections with it.
fn check_value(base: &toml::Table, key: &str, value: toml::Value) -> Result<(), Diagnostic> {
    let mut table = base.clone();
    sweep::assign(&mut table, key, value.clone())?;
    table.insert("seed".into(), toml::Value::Integer(0));
    toml::Value::Table(table)
        .try_into::<RunConfig>()
        .map(drop)
        .map_err(|e| {
            let mut problem = from_toml_error(&e, &Locator::new(""));
            let shown = ranges::show(&value);
            // A type error of the value itself speaks of the swept key's range.
            let message = match problem.hint {
                None => plain_types(e.message().trim(), ranges::range_of(key)),
                Some(_) => problem.message,
            };
            problem.message = out_of_type_range(e.message(), key, &format!("swept value {shown}"))
                .unwrap_or_else(|| format!("swept value {shown}: {message}"));
            problem.key = key.to_string();
            problem.span = None;
            problem
        })
}

/// The run sections of the spec as a table: the spec minus `[experiment]` and `[sweep]`.
/// Fails where the schema's types read what a table cannot hold (an integer past `i64::MAX`).
fn run_table(source: &str) -> Result<toml::Table, toml::de::Error> {
    let mut table: toml::Table = source.parse()?;
    table.retain(|key, _| RUN_SECTIONS.contains(&key));
    Ok(table)
}

/// The span of the axis that `key` is, or lies under.
fn axis_for(key: &str, axes: &[Axis], spans: &[Range<usize>]) -> Option<Range<usize>> {
    axes.iter()
        .zip(spans)
        .find(|(axis, _)| key == axis.key || key.starts_with(&format!("{}.", axis.key)))
        .map(|(_, span)| span.clone())
}

/// Turns a toml error into a diagnostic, with a "did you mean" for unknown keys and variants,
/// and the dotted key of a value of the wrong type or out of its range.
fn from_toml_error(error: &toml::de::Error, locator: &Locator) -> Diagnostic {
    let message = error.message().trim().to_string();
    let diagnostic = Diagnostic::new("", message.clone()).at(error.span());
    if let Some(span) = error.span() {
        if message.starts_with("duplicate key")
            && let Some((message, hint)) = duplicates::explain(locator.source, &span)
        {
            return Diagnostic {
                message,
                hint: Some(hint),
                ..diagnostic
            };
        }
        // A letter that looks like an ASCII one but is not: say which, as the parser cannot.
        if let Some(c) = locator
            .source
            .get(span.start..)
            .and_then(|s| s.chars().next())
            && c.is_alphanumeric()
            && let Some(not_ascii) = not_ascii(&c.to_string())
        {
            return Diagnostic {
                message: format!("{message}: {not_ascii}"),
                ..diagnostic
            };
        }
    }
    for kind in ["field", "variant"] {
        let Some(rest) = message.strip_prefix(&format!("unknown {kind} `")) else {
            continue;
        };
        let Some((word, expected)) = rest.split_once('`') else {
            continue;
        };
        let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let what = if kind == "field" { "key" } else { "value" };
        // A key with a look-alike of an ASCII letter prints as the key it imitates.
        if let Some(not_ascii) = not_ascii(word) {
            return Diagnostic {
                message: format!("unknown {what} `{word}`: {not_ascii}"),
                hint: Some(format!("expected one of {}", quoted(&candidates))),
                ..diagnostic
            };
        }
        let message = format!("unknown {what} `{word}`");
        let hint = match (did_you_mean(word, candidates.iter().copied()), kind) {
            (Some(near), "field") => format!("did you mean `{near}`?"),
            (Some(near), _) => format!("did you mean `{near}`? (one of {})", quoted(&candidates)),
            (None, _) if candidates.is_empty() => "this table takes no keys".to_string(),
            (None, _) => format!("expected one of {}", quoted(&candidates)),
        };
        return Diagnostic {
            message,
            hint: Some(hint),
            ..diagnostic
        };
    }
    // An empty span is the whole document's (a missing section).
    let key = error
        .span()
        .filter(|span| !span.is_empty())
        .and_then(|span| locator.key_at(&span))
        .unwrap_or_default();
    let written = error.span().and_then(|span| locator.source.get(span));
    let message = written
        .and_then(|written| out_of_type_range(&message, &key, written.trim()))
        .unwrap_or_else(|| plain_types(&message, ranges::range_of(&key)));
    Diagnostic {
        key,
        message,
        ..diagnostic
    }
}

/// The message of a toml error about an integer that its key's type cannot hold, `written`
/// as it is: out of range, with the key's range (a TOML integer's, for a key without one),
/// rather than of the wrong type or in Rust's words (`as i128`).
fn out_of_type_range(message: &str, key: &str, written: &str) -> Option<String> {
    let too_large = message.starts_with("u64 value was too large")
        || message.starts_with("invalid value: integer")
        || (message.starts_with("invalid type: integer") && message.contains(" as i128"));
    if !too_large {
        return None;
    }
    let range = ranges::range_of(key).unwrap_or(ranges::Range::Integer(i64::MIN, i64::MAX));
    Some(ranges::out_of_range(key, written, range).message)
}

/// Serde's Rust type names in a message, in the words of a spec's author; an integer type is
/// the key's `range` when it has one.
fn plain_types(message: &str, range: Option<ranges::Range>) -> String {
    let message = match range {
        Some(range) => ["usize", "u64", "u32", "u8"]
            .iter()
            .fold(message.to_string(), |text, rust| {
                text.replace(&format!("expected {rust}"), &format!("expected {range}"))
            }),
        None => message.to_string(),
    };
    // `expected struct ModelSection`: a table, whatever its Rust name.
    let message = match message.split_once("expected struct ") {
        Some((before, after)) => {
            let name_end = after
                .find(|c: char| !c.is_alphanumeric() && c != '_')
                .unwrap_or(after.len());
            format!("{before}expected a table{}", &after[name_end..])
        }
        None => message,
    };
    [
        ("wanted string or table", "expected a name in quotes"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: sequence", "invalid type: list"),
        ("expected usize", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u8", "expected an integer from 0 to 255"),
        ("missing field", "missing key"),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected a list"),
        ("expected a string", "expected a string in quotes"),
    ]
    .iter()
    .fold(message, |text, (rust, plain)| text.replace(rust, plain))
}

fn quoted(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds where a dotted key's value is written in the source.
struct Locator<'a> {
    source: &'a str,
    document: Option<toml::Spanned<toml::de::DeTable<'a>>>,
}

impl<'a> Locator<'a> {
    fn new(source: &'a str) -> Self {
        Self {
            source,
            document: toml::de::DeTable::parse(source).ok(),
        }
    }

    /// The dotted key whose value holds `span`, the deepest one (a table of an array of
    /// tables adds no index: `resources.slots.workers`). Every table is searched: one made by
    /// a header or a dotted key has no span around its keys.
    fn key_at(&self, span: &Range<usize>) -> Option<String> {
        fn in_value(
            value: &toml::Spanned<toml::de::DeValue<'_>>,
            span: &Range<usize>,
        ) -> Option<Vec<String>> {
            let deeper = match value.get_ref() {
                toml::de::DeValue::Table(table) => in_table(table, span),
                toml::de::DeValue::Array(items) => {
                    items.iter().find_map(|item| in_value(item, span))
                }
                _ => None,
            };
            let holds = value.span().start <= span.start && span.end <= value.span().end;
            deeper.or_else(|| holds.then(Vec::new))
        }
        fn in_table(table: &toml::de::DeTable<'_>, span: &Range<usize>) -> Option<Vec<String>> {
            table.iter().find_map(|(key, value)| {
                let mut path = in_value(value, span)?;
                path.insert(0, key.get_ref().to_string());
                Some(path)
            })
        }
        let path = in_table(self.document.as_ref()?.get_ref(), span)?;
        let bare = |part: &str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let parts: Vec<String> = path
            .into_iter()
            .map(|part| {
                if bare(&part) {
                    part
                } else {
                    format!("{part:?}")
                }
            })
            .collect();
        Some(parts.join("."))
    }

    /// The span of the value at `key` (`seed` is `experiment.seed`), or of the closest table
    /// written above it.
    fn value_span(&self, key: &str) -> Option<Range<usize>> {
        self.span(key).map(|(span, _)| span)
    }

    /// The span of the value at `key`, when it is written.
    fn written_span(&self, key: &str) -> Option<Range<usize>> {
        self.span(key)
            .filter(|(_, written)| *written)
            .map(|(span, _)| span)
    }

    /// The span of the value at `key` or of the closest table above it, and whether it is the
    /// key's own.
    fn span(&self, key: &str) -> Option<(Range<usize>, bool)> {
        let key = if key == "seed" {
            "experiment.seed"
        } else {
            key
        };
        let document = self.document.as_ref()?;
        let mut parts = key.split('.');
        let mut current = document.get_ref().get(parts.next()?)?;
        for part in parts {
            match current.get_ref().get(part) {
                Some(next) => current = next,
                None => return Some((current.span(), false)),
            }
        }
        Some((current.span(), true))
    }
}

#[cfg(test)]
mod edges;
#[cfg(test)]
mod every_error;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;
