//! Model-based sweeps (`strategy = "tpe"` or `"nsga2"`): the configurations the search
//! proposes, replayed from the results on disk.
//!
//! Proposals come in batches of as many configurations as the sweep trains at once
//! ([`batch_size`]: the workers of every slot times `resources.pack`, over the repeats), so
//! model-based search fills every worker and every pack. Proposal `k` of a batch sees the
//! batch's earlier proposals as running (the constant liar: they join the worse group, so a
//! batch spreads) and the results of every batch before it; a batch is proposed only once every
//! run of the batches before it has a result. The proposals are thus a function of
//! `experiment.seed`, the batch size and the results on disk: a sweep killed and resumed
//! replays the batches whose runs finished and proposes what it would have proposed.
//!
//! While the sampler would draw at random (TPE's first 10 finished trials, NSGA-II's first
//! generation), it proposes the configurations `strategy = "random"` draws with the same seed,
//! in the same order: a search and its random baseline start from the same runs.
//!
//! A configuration's trial is the mean objective over its repeats when all completed; pruned
//! when one was pruned (its last epoch and the pruning metric then, as Optuna counts a pruned
//! trial's last intermediate value); left out of the search when one failed (Optuna's TPE
//! ignores failed trials). A proposal that the spec's checks refuse (values that do not fit
//! together) is reported and left out the same way.

use std::collections::BTreeSet;

use hourglass_search::{Goal, Outcome, Parameter, Trial, nsga2};
use hourglass_spec::result::{EpochMetric, RunResult, RunStatus, metric};
use hourglass_spec::{Direction, Experiment, RunId, RunSpec, Search, SearchDomain, SearchMethod};

/// The runs a search has proposed so far, as an experiment of the spec's.
pub(crate) struct Round {
    /// The spec's experiment with the runs proposed so far, in the order proposed.
    pub experiment: Experiment,
    /// Whether the search has proposed its whole budget.
    pub last: bool,
    /// Proposals of this round that the spec's checks refused, with why.
    pub refused: Vec<String>,
}

/// Configurations proposed at once: as many as the sweep's slots train at once (workers times
/// `resources.pack` runs, over `experiment.repeats` runs a configuration), at least one and at
/// most the budget.
pub(crate) fn batch_size(experiment: &Experiment, search: &Search) -> usize {
    let resources = &experiment.resources;
    let workers =
        (resources.slots.iter()).fold(0usize, |sum, slot| sum.saturating_add(slot.workers));
    let runs = workers.saturating_mul(resources.pack);
    let repeats = usize::try_from(experiment.repeats)
        .unwrap_or(usize::MAX)
        .max(1);
    (runs / repeats).clamp(1, search.samples.max(1))
}

/// How a run ended, for the search: its result, unless it is to be trained (again).
pub(crate) type Finished<'f> = dyn Fn(&RunId) -> Option<RunResult> + 'f;

/// A search's proposals, replayed from the results on disk and extended batch by batch. The
/// batches before the first unfinished one are settled: their proposals and results are kept,
/// not replayed or read again, in later rounds of the same invocation.
pub(crate) struct Replay<'e> {
    experiment: &'e Experiment,
    search: &'e Search,
    space: Vec<Parameter>,
    batch: usize,
    configurations: Vec<Configuration>,
    /// Configurations in settled batches: every run of them has a result.
    settled: usize,
}

impl<'e> Replay<'e> {
    /// The replay of `experiment`'s `search`, before any proposal.
    pub fn new(experiment: &'e Experiment, search: &'e Search) -> Self {
        Self {
            experiment,
            search,
            space: (search.parameters.iter())
                .map(|p| parameter(&p.domain))
                .collect(),
            batch: batch_size(experiment, search),
            configurations: Vec::new(),
            settled: 0,
        }
    }

    /// The runs the search proposes given the results `finished` gives: every batch whose
    /// predecessors all finished, up to the first batch with a run to train, or the whole
    /// budget.
    pub fn round(&mut self, finished: &Finished<'_>) -> Round {
        let (search, samples) = (self.search, self.search.samples);
        let mut refused = Vec::new();
        loop {
            let start = self.settled;
            if start == self.configurations.len() {
                if start == samples {
                    break;
                }
                self.propose_batch(start, (start + self.batch).min(samples), &mut refused);
            }
            for configuration in &mut self.configurations[start..] {
                configuration.results = (configuration.runs.iter())
                    .map(|run| finished(&run.id))
                    .collect();
            }
            let unfinished = (self.configurations[start..].iter())
                .any(|c| c.results.iter().any(Option::is_none));
            if unfinished {
                break;
            }
            self.settled = self.configurations.len();
        }
        let mut seen = BTreeSet::new();
        let runs: Vec<RunSpec> = (self.configurations.iter())
            .flat_map(|c| c.runs.iter().cloned())
            .filter(|run| seen.insert(run.id.clone()))
            .collect();
        Round {
            experiment: Experiment {
                runs,
                ..self.experiment.clone()
            },
            last: self.configurations.len() == search.samples,
            refused,
        }
    }

    /// Proposes configurations `start..end`, one batch; those the spec's checks refuse are
    /// added to `refused`, without runs.
    fn propose_batch(&mut self, start: usize, end: usize, refused: &mut Vec<String>) {
        let search = self.search;
        let pruning = self.experiment.pruning.map(|p| p.metric);
        for k in start..end {
            let values = propose(search, pruning, &self.space, &self.configurations, start, k);
            let toml_values: Vec<toml::Value> = (search.parameters.iter())
                .zip(&values)
                .map(|(p, &x)| toml_value(&p.domain, x))
                .collect();
            let runs = search.runs(&toml_values).unwrap_or_else(|reason| {
                refused.push(format!("configuration {}: {reason}", k + 1));
                Vec::new()
            });
            self.configurations.push(Configuration {
                values,
                runs,
                results: Vec::new(),
            });
        }
    }
}

/// A proposed configuration, its runs and their results (once read).
struct Configuration {
    values: Vec<f64>,
    runs: Vec<RunSpec>,
    results: Vec<Option<RunResult>>,
}

/// Proposal `k` of the batch that starts at `batch_start`, given the `configurations` before
/// it; pruned runs count by the `pruned_by` metric they were stopped on.
fn propose(
    search: &Search,
    pruned_by: Option<EpochMetric>,
    space: &[Parameter],
    configurations: &[Configuration],
    batch_start: usize,
    k: usize,
) -> Vec<f64> {
    let seed = search
        .seed
        .wrapping_add((k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let running = |i: usize| i >= batch_start;
    // While the sampler would draw at random, the random sweep's draw is taken instead.
    let random = || {
        let draw = search.random_draws.get(k)?;
        (search.parameters.iter().zip(draw))
            .map(|(p, value)| search_value(&p.domain, value))
            .collect::<Option<Vec<f64>>>()
    };
    match search.method {
        SearchMethod::Tpe => {
            let pruned_by = pruned_by.map(|metric| metric.name());
            let objective = &search.objectives[0];
            let trials: Vec<Trial> = (configurations.iter().enumerate())
                .filter(|(_, c)| !c.runs.is_empty())
                .filter_map(|(i, c)| {
                    let outcome = if running(i) {
                        Outcome::Running
                    } else {
                        outcome(c, &objective.metric, objective.goal, pruned_by)?
                    };
                    Some(Trial {
                        values: c.values.clone(),
                        outcome,
                    })
                })
                .collect();
            let goal = match objective.goal {
                Direction::Minimize => Goal::Minimize,
                Direction::Maximize => Goal::Maximize,
            };
            let finished = (trials.iter())
                .filter(|t| t.outcome != Outcome::Running)
                .count();
            (finished < hourglass_search::STARTUP_TRIALS)
                .then(random)
                .flatten()
                .unwrap_or_else(|| hourglass_search::propose(space, &trials, goal, seed))
        }
        SearchMethod::Nsga2 => {
            let trials: Vec<nsga2::MultiTrial> = (configurations.iter().enumerate())
                .map(|(i, c)| nsga2::MultiTrial {
                    values: c.values.clone(),
                    objectives: (!running(i))
                        .then(|| {
                            (search.objectives.iter())
                                .map(|o| {
                                    let mean = completed_mean(c, &o.metric)?;
                                    Some(match o.goal {
                                        Direction::Minimize => mean,
                                        Direction::Maximize => -mean,
                                    })
                                })
                                .collect::<Option<Vec<f64>>>()
                        })
                        .flatten(),
                })
                .collect();
            (k < nsga2::POPULATION)
                .then(random)
                .flatten()
                .unwrap_or_else(|| nsga2::propose(space, &trials, seed))
        }
    }
}

/// The mean of `metric` over a configuration's runs, when every one completed with it.
fn completed_mean(configuration: &Configuration, metric_name: &str) -> Option<f64> {
    let values = (configuration.results.iter())
        .map(|result| {
            let result = result.as_ref()?;
            (result.status == RunStatus::Completed)
                .then(|| result.metrics.get(metric_name).copied())
                .flatten()
                .filter(|value| value.is_finite())
        })
        .collect::<Option<Vec<f64>>>()?;
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// How a finished configuration went, for TPE; `None` to leave it out (a run failed, or
/// completed without the objective).
fn outcome(
    configuration: &Configuration,
    metric_name: &str,
    goal: Direction,
    pruned_by: Option<&str>,
) -> Option<Outcome> {
    let pruned = (configuration.results.iter().flatten())
        .filter(|result| result.status == RunStatus::Pruned)
        .find_map(|result| {
            let step = *result.metrics.get(metric::EPOCHS_RUN)?;
            // The pruning metric is lower-better; the search ranks pruned trials by the goal.
            let value = *result.metrics.get(pruned_by?)?;
            Some(Outcome::Pruned {
                step: step as usize,
                value: match goal {
                    Direction::Minimize => value,
                    Direction::Maximize => -value,
                },
            })
        });
    pruned.or_else(|| completed_mean(configuration, metric_name).map(Outcome::Completed))
}

/// The search's view of a key's values.
fn parameter(domain: &SearchDomain) -> Parameter {
    match domain {
        SearchDomain::Choice(values) => Parameter::Categorical {
            choices: values.len(),
        },
        &SearchDomain::Float { low, high, log } => Parameter::Float { low, high, log },
        &SearchDomain::Int { low, high } => Parameter::Int {
            low,
            high,
            log: false,
        },
    }
}

/// The search's view of `value`, a value of a key in `domain`.
fn search_value(domain: &SearchDomain, value: &toml::Value) -> Option<f64> {
    match domain {
        SearchDomain::Choice(values) => values.iter().position(|v| v == value).map(|i| i as f64),
        SearchDomain::Float { .. } => value.as_float(),
        SearchDomain::Int { .. } => value.as_integer().map(|i| i as f64),
    }
}

/// The value of a key that the search proposed as `x`.
fn toml_value(domain: &SearchDomain, x: f64) -> toml::Value {
    match domain {
        SearchDomain::Choice(values) => values[(x.max(0.0) as usize).min(values.len() - 1)].clone(),
        // The spec's ranges are half-open: the search's closed one may reach `high`.
        &SearchDomain::Float { low, high, .. } => {
            toml::Value::Float(x.clamp(low, high.next_down()))
        }
        &SearchDomain::Int { low, high } => {
            toml::Value::Integer((x.round() as i64).clamp(low, high))
        }
    }
}
