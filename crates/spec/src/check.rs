//! Semantic checks of one run's configuration: the rules that types alone cannot state.
//!
//! Each rule names the key it is about, so the caller can point into the file; all rules run,
//! so one pass reports every problem.

use crate::catalog::Catalog;
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::schema::{OutputActivation, Reconstruction, RunConfig};

/// Every problem in `config`, each naming its key.
pub(crate) fn check_run(config: &RunConfig, catalog: &Catalog) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, message: String, hint: Option<String>| {
        let diagnostic = Diagnostic::new(key, message);
        problems.push(match hint {
            Some(hint) => diagnostic.with_hint(hint),
            None => diagnostic,
        });
    };

    let data = &config.data;
    let input_features = catalog.datasets.get(&data.dataset).copied();
    if input_features.is_none() {
        let known: Vec<&str> = catalog.datasets.keys().map(String::as_str).collect();
        let hint = match did_you_mean(&data.dataset, known.iter().copied()) {
            Some(name) => format!("did you mean `{name}`?"),
            None => format!("data sets found under datasets/: {}", list_or_none(&known)),
        };
        problem(
            "data.dataset",
            format!("unknown data set `{}`", data.dataset),
            Some(hint),
        );
    }
    if !(0.0..1.0).contains(&data.validation) {
        problem(
            "data.validation",
            format!("validation fraction {} is outside [0, 1)", data.validation),
            Some("use e.g. 0.1 to hold out a tenth of the training split".into()),
        );
    }
    for (key, limit) in [
        ("data.train_limit", data.train_limit),
        ("data.test_limit", data.test_limit),
    ] {
        if limit == Some(0) {
            problem(
                key,
                "a limit of 0 examples leaves nothing to use".into(),
                None,
            );
        }
    }

    let model = &config.model;
    if model.latent == 0 {
        problem(
            "model.latent",
            "latent size must be at least 1".into(),
            None,
        );
    }
    if let Some(features) = input_features
        && model.latent >= features
    {
        problem(
            "model.latent",
            format!(
                "latent size {} is not smaller than the input ({features} features of `{}`)",
                model.latent, data.dataset
            ),
            Some("an autoencoder compresses: choose a latent size below the input size".into()),
        );
    }
    if model.hidden.contains(&0) {
        problem(
            "model.hidden",
            "hidden layer widths must be at least 1".into(),
            None,
        );
    }
    if config.loss.reconstruction == Reconstruction::Bce
        && model.output == OutputActivation::Identity
    {
        problem(
            "loss.reconstruction",
            "binary cross-entropy needs outputs in (0, 1), but `model.output` is \"identity\""
                .into(),
            Some("set `model.output = \"sigmoid\"` or use `reconstruction = \"mse\"`".into()),
        );
    }

    let regularizers = &config.regularizers;
    if !(regularizers.weight_decay >= 0.0 && regularizers.weight_decay.is_finite()) {
        problem(
            "regularizers.weight_decay",
            format!(
                "weight decay {} must be a finite number ≥ 0",
                regularizers.weight_decay
            ),
            None,
        );
    }

    let train = &config.train;
    if !(train.learning_rate > 0.0 && train.learning_rate.is_finite()) {
        problem(
            "train.learning_rate",
            format!(
                "learning rate {} must be a finite number > 0",
                train.learning_rate
            ),
            Some("typical values are 1e-4 to 1e-2".into()),
        );
    }
    if let Some(momentum) = train.momentum
        && !(0.0..1.0).contains(&momentum)
    {
        problem(
            "train.momentum",
            format!("momentum {momentum} is outside [0, 1)"),
            None,
        );
    }
    if train.batch_size == 0 {
        problem(
            "train.batch_size",
            "batch size must be at least 1".into(),
            None,
        );
    }
    if train.epochs == 0 {
        problem("train.epochs", "epochs must be at least 1".into(), None);
    }
    if !catalog.backends.contains(&train.backend) {
        let compiled: Vec<&str> = catalog.backends.iter().map(|b| b.name()).collect();
        problem(
            "train.backend",
            format!(
                "backend `{}` is not compiled into this build (compiled in: {})",
                train.backend.name(),
                list_or_none(&compiled)
            ),
            Some(format!(
                "rebuild with `--features {}` to enable it",
                train.backend.cargo_feature()
            )),
        );
    }
    if config.evaluate.tasks.is_empty() {
        problem(
            "evaluate.tasks",
            "no evaluation task: the run would measure nothing".into(),
            None,
        );
    }
    problems
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
