//! Model-based searches (`strategy = "tpe"` and `"nsga2"`): what they optimise, and the runs of
//! a configuration they propose. The proposing itself is the orchestrator's, from the results
//! on disk; the spec checks the search before anything runs and builds each proposed
//! configuration's runs exactly as it builds a grid's.

use std::collections::BTreeMap;

use crate::diagnostic::{Diagnostic, number};
use crate::primary::{self, Direction, PrimaryMetric};
use crate::resources::{Pruning, Resources};
use crate::schema::{ObjectiveSection, Strategy, SweepSection};
use crate::space::{self, Domain};
use crate::{Catalog, EvaluateSection, RunId, RunSpec, Task};

/// Which model-based search proposes the configurations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMethod {
    /// The Tree-structured Parzen Estimator, one objective.
    Tpe,
    /// NSGA-II, two or more objectives.
    Nsga2,
}

/// A final metric a search optimises, and which way.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Objective {
    /// Its name in `result.json`.
    pub metric: String,
    /// Whether lower or higher is better.
    pub goal: Direction,
}

/// The values a searched key can take.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchDomain {
    /// One of these values, unordered.
    Choice(Vec<toml::Value>),
    /// A float in `[low, high)`, on a log scale when `log`.
    Float {
        /// The least value.
        low: f64,
        /// The bound above every value.
        high: f64,
        /// Searched by its logarithm.
        log: bool,
    },
    /// An integer in `[low, high]`.
    Int {
        /// The least value.
        low: i64,
        /// The greatest value.
        high: i64,
    },
}

/// `one of 16, 32`, `log-uniform in [1e-5, 0.1)`, `an integer in [2, 8]`.
impl std::fmt::Display for SearchDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchDomain::Choice(values) => {
                let values: Vec<String> = values.iter().map(crate::ranges::show).collect();
                write!(f, "one of {}", values.join(", "))
            }
            SearchDomain::Float { low, high, log } => write!(
                f,
                "{} in [{}, {})",
                if *log { "log-uniform" } else { "uniform" },
                number(*low),
                number(*high)
            ),
            SearchDomain::Int { low, high } => write!(f, "an integer in [{low}, {high}]"),
        }
    }
}

/// A key the search sets, and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParameter {
    /// Dotted key path, e.g. `train.learning_rate`.
    pub key: String,
    /// What it can be.
    pub domain: SearchDomain,
}

/// A model-based search of a spec: its space, budget and objectives, and how a proposed
/// configuration becomes runs.
#[derive(Debug, Clone)]
pub struct Search {
    /// Which search.
    pub method: SearchMethod,
    /// The searched keys, in key order.
    pub parameters: Vec<SearchParameter>,
    /// Configurations the search proposes (`sweep.samples`); each is `repeats` runs.
    pub samples: usize,
    /// What it optimises: one for TPE, two or more for NSGA-II.
    pub objectives: Vec<Objective>,
    /// `experiment.seed`: proposals are a function of it and of the results so far.
    pub seed: u64,
    /// The configurations that `strategy = "random"` with the same seed and `samples` draws,
    /// in order, each a value per parameter: what the search proposes while it draws at
    /// random (TPE's startup trials, NSGA-II's first generation), so that a search and the
    /// random sweep it is measured against start from the same runs.
    pub random_draws: Vec<Vec<toml::Value>>,
    pub(crate) template: RunTemplate,
}

/// What a configuration's runs are built from.
#[derive(Debug, Clone)]
pub(crate) struct RunTemplate {
    pub base: toml::Table,
    pub first_seed: i64,
    pub repeats: u32,
    pub catalog: Catalog,
    pub resources: Resources,
    pub pruning: Option<Pruning>,
}

impl Search {
    /// The tasks of the spec's `[evaluate]` section, which every run of the search runs.
    pub fn tasks(&self) -> Vec<Task> {
        let section = self.template.base.get("evaluate").cloned();
        // The base passed the spec's checks, so its section parses.
        (section.and_then(|section| section.try_into::<EvaluateSection>().ok()))
            .unwrap_or_default()
            .tasks
    }

    /// The runs of the configuration that sets each searched key to its value in `values`
    /// (in [`Search::parameters`] order): one per repeat. A configuration that the spec's
    /// checks refuse (two values that do not fit together) is an error naming why.
    pub fn runs(&self, values: &[toml::Value]) -> Result<Vec<RunSpec>, String> {
        let assignments: Vec<(String, toml::Value)> = (self.parameters.iter())
            .map(|p| p.key.clone())
            .zip(values.iter().cloned())
            .collect();
        let t = &self.template;
        (0..t.repeats)
            .map(|repeat| {
                let seed = t.first_seed + i64::from(repeat);
                let built = crate::build_run(
                    &t.base,
                    &assignments,
                    seed,
                    &t.catalog,
                    &t.resources,
                    t.pruning.as_ref(),
                )
                .map_err(|problem| located(&problem))?;
                if let Some(problem) = built.problems.first() {
                    return Err(located(problem));
                }
                Ok(RunSpec {
                    id: RunId::of(&built.config),
                    config: built.config,
                    assignments: built.applied,
                })
            })
            .collect()
    }
}

/// `key: message`.
fn located(problem: &Diagnostic) -> String {
    format!("{}: {}", problem.key, problem.message)
}

/// The search parameters of a sweep's parsed parameters.
pub(crate) fn parameters(parsed: &[space::Parameter]) -> Vec<SearchParameter> {
    parsed
        .iter()
        .map(|p| SearchParameter {
            key: p.key.clone(),
            domain: match &p.domain {
                Domain::List(values) => SearchDomain::Choice(values.clone()),
                Domain::Uniform(low, high) => SearchDomain::Float {
                    low: *low,
                    high: *high,
                    log: false,
                },
                Domain::LogUniform(low, high) => SearchDomain::Float {
                    low: *low,
                    high: *high,
                    log: true,
                },
                Domain::IntUniform(low, high) => SearchDomain::Int {
                    low: *low,
                    high: *high,
                },
            },
        })
        .collect()
}

/// The search method of a strategy, if it is model-based.
pub(crate) fn method(strategy: Strategy) -> Option<SearchMethod> {
    match strategy {
        Strategy::Grid | Strategy::Random => None,
        Strategy::Tpe => Some(SearchMethod::Tpe),
        Strategy::Nsga2 => Some(SearchMethod::Nsga2),
    }
}

/// The objectives of `sweep`, checked against its strategy and the `tasks` its runs are
/// evaluated for; `primary` is the report's metric, TPE's objective when none is written.
pub(crate) fn objectives(
    sweep: &SweepSection,
    tasks: &[Task],
    primary: &PrimaryMetric,
) -> Result<Vec<Objective>, Vec<Diagnostic>> {
    let objective = |key: &str, section: &ObjectiveSection| {
        let metric = primary::rankable_metric(key, &section.metric, tasks)?;
        Ok(Objective {
            goal: section.goal.unwrap_or(metric.direction),
            metric: metric.name,
        })
    };
    let misplaced = |key: &str, strategy: &str| {
        Diagnostic::new(key, format!("`{key}` is for `strategy = \"{strategy}\"`"))
    };
    match method(sweep.strategy) {
        None => {
            let mut problems = Vec::new();
            if sweep.objective.is_some() {
                problems.push(misplaced("sweep.objective", "tpe").with_hint(
                    "a grid or random sweep trains every configuration it lists; rank them \
                     with `[report] metric`",
                ));
            }
            if !sweep.objectives.is_empty() {
                problems.push(misplaced("sweep.objectives", "nsga2"));
            }
            if problems.is_empty() {
                Ok(Vec::new())
            } else {
                Err(problems)
            }
        }
        Some(SearchMethod::Tpe) => {
            if !sweep.objectives.is_empty() {
                return Err(vec![misplaced("sweep.objectives", "nsga2").with_hint(
                    "TPE optimises one `objective`; NSGA-II trades off several",
                )]);
            }
            match &sweep.objective {
                Some(section) => objective("sweep.objective.metric", section)
                    .map(|o| vec![o])
                    .map_err(|problem| vec![problem]),
                None => Ok(vec![Objective {
                    metric: primary.name.clone(),
                    goal: primary.direction,
                }]),
            }
        }
        Some(SearchMethod::Nsga2) => {
            if sweep.objective.is_some() {
                return Err(vec![misplaced("sweep.objective", "tpe").with_hint(
                    "NSGA-II trades off `objectives = [{ metric = ... }, { metric = ... }]`",
                )]);
            }
            if sweep.objectives.len() < 2 {
                return Err(vec![
                    Diagnostic::new(
                        "sweep.objectives",
                        format!(
                            "NSGA-II trades off two or more objectives, found {}",
                            sweep.objectives.len()
                        ),
                    )
                    .with_hint(
                        "e.g. objectives = [{ metric = \"test_mse\" }, { metric = \"code_bits\" }], \
                         or `strategy = \"tpe\"` for one",
                    ),
                ]);
            }
            let mut seen = BTreeMap::new();
            let mut problems = Vec::new();
            let mut objectives = Vec::new();
            for (i, section) in sweep.objectives.iter().enumerate() {
                match objective("sweep.objectives", section) {
                    Ok(o) if seen.insert(o.metric.clone(), i).is_some() => {
                        problems.push(Diagnostic::new(
                            "sweep.objectives",
                            format!("`{}` is an objective twice", o.metric),
                        ))
                    }
                    Ok(o) => objectives.push(o),
                    Err(problem) => problems.push(problem),
                }
            }
            if problems.is_empty() {
                Ok(objectives)
            } else {
                Err(problems)
            }
        }
    }
}
