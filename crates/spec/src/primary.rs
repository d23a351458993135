//! The primary metric of a sweep: the one final metric, with its direction, that names the
//! best run, orders the tables and is plotted against each swept setting. A spec names it in
//! `[report] metric`; without one it is the natural metric of the spec's tasks
//! (`anomaly_auroc` for anomaly detection, `denoise_psnr_db` for denoising, `test_mse`
//! otherwise).

use serde::{Deserialize, Serialize};

use crate::Task;
use crate::diagnostic::Diagnostic;
use crate::result::metric;

/// Whether lower or higher values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Lower is better (an error, a loss, seconds).
    Minimize,
    /// Higher is better (a PSNR, an AUROC, an accuracy).
    Maximize,
}

impl Direction {
    /// Whether `a` is better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }

    /// `minimize` or `maximize`.
    pub fn verb(self) -> &'static str {
        match self {
            Direction::Minimize => "minimize",
            Direction::Maximize => "maximize",
        }
    }

    /// `lower` or `higher`, as in "lower is better".
    pub fn better_word(self) -> &'static str {
        match self {
            Direction::Minimize => "lower",
            Direction::Maximize => "higher",
        }
    }
}

/// A metric runs are ranked by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryMetric {
    /// Its name in `result.json`.
    pub name: String,
    /// Which way is better.
    pub direction: Direction,
}

/// The final metrics a sweep can be ranked by: name, direction, and the task that records it
/// (`None`: every run does).
const RANKABLE: [(&str, Direction, Option<Task>); 18] = [
    (metric::TEST_MSE, Direction::Minimize, None),
    (metric::PARAMETERS, Direction::Minimize, None),
    (
        metric::CODE_BITS,
        Direction::Minimize,
        Some(Task::Compression),
    ),
    (
        metric::CODE_BYTES,
        Direction::Minimize,
        Some(Task::Compression),
    ),
    (metric::TEST_PSNR_DB, Direction::Maximize, None),
    (metric::TEST_LOSS, Direction::Minimize, None),
    (metric::JACOBIAN_FROBENIUS, Direction::Minimize, None),
    (metric::TRAIN_SECONDS, Direction::Minimize, None),
    (
        metric::DENOISE_PSNR_DB,
        Direction::Maximize,
        Some(Task::Denoising),
    ),
    (
        metric::DENOISE_PSNR_GAIN_DB,
        Direction::Maximize,
        Some(Task::Denoising),
    ),
    (
        metric::DENOISE_SSIM,
        Direction::Maximize,
        Some(Task::Denoising),
    ),
    (
        metric::ANOMALY_AUROC,
        Direction::Maximize,
        Some(Task::Anomaly),
    ),
    (
        metric::ANOMALY_AUPRC,
        Direction::Maximize,
        Some(Task::Anomaly),
    ),
    (
        metric::QUANTIZED_PSNR_DB,
        Direction::Maximize,
        Some(Task::Compression),
    ),
    (
        metric::PROBE_ACCURACY,
        Direction::Maximize,
        Some(Task::Latent),
    ),
    (metric::TEST_ELBO_NATS, Direction::Minimize, None),
    (metric::TEST_IWAE_BOUND_NATS, Direction::Minimize, None),
    (
        metric::TEST_NLL_NATS,
        Direction::Minimize,
        Some(Task::Likelihood),
    ),
];

/// The entry of [`RANKABLE`] called `name`.
fn rankable(name: &str) -> Option<(&'static str, Direction, Option<Task>)> {
    RANKABLE.iter().find(|(known, ..)| *known == name).copied()
}

impl PrimaryMetric {
    /// The metric called `name`, if runs can be ranked by it.
    pub fn named(name: &str) -> Option<Self> {
        rankable(name).map(|(name, direction, _)| Self {
            name: name.to_string(),
            direction,
        })
    }

    /// The natural metric of runs evaluated for `tasks`: `anomaly_auroc` when one is anomaly
    /// detection, else `denoise_psnr_db` when one is denoising, else `test_mse`.
    pub fn natural(tasks: &[Task]) -> Self {
        let name = if tasks.contains(&Task::Anomaly) {
            metric::ANOMALY_AUROC
        } else if tasks.contains(&Task::Denoising) {
            metric::DENOISE_PSNR_DB
        } else {
            metric::TEST_MSE
        };
        Self::named(name).expect("the natural metrics are rankable")
    }

    /// The natural metric for the tasks of results recorded under these names (see
    /// [`Self::natural`]); unknown names are ignored.
    pub fn natural_for_names<'a>(tasks: impl IntoIterator<Item = &'a str>) -> Self {
        let tasks: Vec<Task> = tasks
            .into_iter()
            .filter_map(|name| Task::ALL.into_iter().find(|task| task.name() == name))
            .collect();
        Self::natural(&tasks)
    }
}

/// The primary metric of a spec whose runs are evaluated for `tasks`: `written` (the value of
/// `[report] metric`) checked against the rankable metrics and the tasks, or the natural one.
pub(crate) fn primary_metric(
    written: Option<&str>,
    tasks: &[Task],
) -> Result<PrimaryMetric, Diagnostic> {
    match written {
        Some(name) => rankable_metric("report.metric", name, tasks),
        None => Ok(PrimaryMetric::natural(tasks)),
    }
}

/// The metric `name`, written at `key`, checked against the rankable metrics and the `tasks`
/// the runs are evaluated for.
pub(crate) fn rankable_metric(
    key: &str,
    name: &str,
    tasks: &[Task],
) -> Result<PrimaryMetric, Diagnostic> {
    let Some((name, direction, task)) = rankable(name) else {
        let known: Vec<&str> = RANKABLE.iter().map(|(name, ..)| *name).collect();
        return Err(Diagnostic::new(
            key,
            format!("`{name}` is not a metric runs can be ranked by"),
        )
        .with_hint(format!("expected one of {}", known.join(", "))));
    };
    if let Some(task) = task.filter(|task| !tasks.contains(task)) {
        return Err(Diagnostic::new(
            key,
            format!(
                "`{name}` is recorded by the `{}` task, which no run of this spec is evaluated for",
                task.name()
            ),
        )
        .with_hint(format!(
            "add \"{}\" to `evaluate.tasks`, or rank by another metric",
            task.name()
        )));
    }
    Ok(PrimaryMetric {
        name: name.to_string(),
        direction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_natural_metric_follows_the_tasks() {
        let natural = |tasks: &[Task]| PrimaryMetric::natural(tasks).name;
        assert_eq!(natural(&[Task::Reconstruction]), "test_mse");
        assert_eq!(
            natural(&[Task::Reconstruction, Task::Denoising]),
            "denoise_psnr_db"
        );
        assert_eq!(natural(&[Task::Anomaly, Task::Denoising]), "anomaly_auroc");
        assert_eq!(
            PrimaryMetric::natural_for_names(["reconstruction", "denoising"]).direction,
            Direction::Maximize
        );
    }

    #[test]
    fn a_written_metric_must_be_rankable_and_recorded_by_a_task_of_the_spec() {
        let tasks = [Task::Reconstruction, Task::Denoising];
        let chosen = primary_metric(Some("denoise_ssim"), &tasks).unwrap();
        assert_eq!(chosen.direction, Direction::Maximize);
        let unknown = primary_metric(Some("accuracy"), &tasks).unwrap_err();
        assert!(unknown.hint.as_deref().unwrap().contains("probe_accuracy"));
        let missing = primary_metric(Some("anomaly_auroc"), &tasks).unwrap_err();
        assert!(
            missing.message.contains("`anomaly` task"),
            "{}",
            missing.message
        );
    }

    #[test]
    fn directions_compare_values() {
        assert!(Direction::Minimize.better(0.1, 0.2));
        assert!(Direction::Maximize.better(0.9, 0.5));
        assert!(!Direction::Maximize.better(0.5, 0.5));
    }
}
