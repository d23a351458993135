//! Semantic checks of one run's configuration: the rules that types alone cannot state.
//!
//! Each rule names the key it is about, so the caller can point into the file; all rules run,
//! so one pass reports every problem.

use crate::catalog::Catalog;
use crate::diagnostic::{Diagnostic, did_you_mean, not_ascii, number};
use crate::ranges;
use crate::resources::{Executor, Pruning, Resources};
use crate::schema::{
    Architecture, CodeActivation, ModelKind, NoiseKind, OutputActivation, Reconstruction,
    RunConfig, Task,
};

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
    let shape = catalog.datasets.get(&data.dataset);
    // A data set's shape comes from its dataset.toml: saturate rather than overflow.
    let input_features = shape.map(|shape| shape.iter().fold(1usize, |n, &d| n.saturating_mul(d)));
    if input_features.is_none() {
        let known: Vec<&str> = catalog.datasets.keys().map(String::as_str).collect();
        let found = format!("data sets found under datasets/: {}", list_or_none(&known));
        let (message, hint) = match (
            not_ascii(&data.dataset),
            did_you_mean(&data.dataset, known.iter().copied()),
        ) {
            (Some(not_ascii), _) => (
                format!("unknown data set `{}`: {not_ascii}", data.dataset),
                found,
            ),
            (None, Some(name)) => (
                format!("unknown data set `{}`", data.dataset),
                format!("did you mean `{name}`?"),
            ),
            (None, None) => (format!("unknown data set `{}`", data.dataset), found),
        };
        problem("data.dataset", message, Some(hint));
    }
    if !(0.0..1.0).contains(&data.validation) {
        problem(
            "data.validation",
            format!(
                "validation fraction {} is outside [0, 1)",
                number(data.validation)
            ),
            Some("use e.g. 0.1 to hold out a tenth of the training split".into()),
        );
    }
    let model = &config.model;
    // Counts, each in its documented range.
    let counts = [
        ("data.train_limit", data.train_limit),
        ("data.test_limit", data.test_limit),
        (
            "evaluate.importance_samples",
            config.evaluate.importance_samples,
        ),
        ("model.latent", Some(model.latent)),
        ("model.samples", model.samples),
        (
            "model.codebook.size",
            model.codebook.as_ref().map(|c| c.size),
        ),
        ("model.codebook.dim", model.codebook.as_ref().map(|c| c.dim)),
        ("train.batch_size", Some(config.train.batch_size)),
        ("train.epochs", Some(config.train.epochs)),
        (
            "train.early_stopping.patience",
            config.train.early_stopping.as_ref().map(|e| e.patience),
        ),
        (
            "regularizers.contractive.projections",
            config
                .regularizers
                .contractive
                .as_ref()
                .map(|c| c.projections),
        ),
    ]
    .into_iter()
    .filter_map(|(key, count)| Some((key, count?)))
    .chain(model.hidden.iter().map(|&width| ("model.hidden", width)))
    .chain(
        model
            .channels
            .iter()
            .flatten()
            .map(|&channels| ("model.channels", channels)),
    );
    for (key, count) in counts {
        if let Some(diagnostic) = ranges::check_integer(key, count as i128) {
            problem(key, diagnostic.message, diagnostic.hint);
        }
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

    for kind in &model.also {
        if matches!(kind, ModelKind::Vanilla) || kind.is_variational() {
            problem(
                "model.also",
                format!("`{}` cannot be combined with another kind", kind.name()),
                Some("`also` takes \"sparse\", \"denoising\" and \"contractive\"".into()),
            );
        } else if model.kind == ModelKind::Vqvae && *kind != ModelKind::Denoising {
            problem(
                "model.also",
                format!(
                    "a VQ-VAE's code is a codebook entry: `{}` has no code activity or \
                     Jacobian to penalise",
                    kind.name()
                ),
                Some("a VQ-VAE takes `also = [\"denoising\"]` alone".into()),
            );
        }
    }
    if model.architecture == Architecture::Conv {
        let channels = model.conv_channels();
        if channels.is_empty() {
            problem(
                "model.channels",
                "the conv architecture needs at least one convolution".into(),
                None,
            );
        }
        if let Some(shape) = shape {
            let scale = 1usize << channels.len().min(16);
            let fits = matches!(shape.as_slice(), [_, h, w] if h % scale == 0 && w % scale == 0);
            if !fits {
                problem(
                    "model.architecture",
                    format!(
                        "the conv architecture needs images [channels, height, width] with height \
                         and width divisible by {scale} (2 per convolution), but `{}` has shape {shape:?}",
                        data.dataset
                    ),
                    Some(if shape.len() == 3 {
                        "use `architecture = \"mlp\"` or fewer `model.channels`".into()
                    } else {
                        "use `architecture = \"mlp\"`: the data set is not images".into()
                    }),
                );
            }
        }
    }

    let regularizers = &config.regularizers;
    // Weights and amounts that must be finite and ≥ 0, wherever they are set.
    let mut amounts = vec![
        ("regularizers.weight_decay", regularizers.weight_decay),
        ("regularizers.weight_l1", regularizers.weight_l1),
        ("regularizers.activation_l1", regularizers.activation_l1),
    ];
    if let Some(sparsity) = &regularizers.sparsity {
        amounts.push(("regularizers.sparsity.weight", sparsity.weight));
    }
    if let Some(contractive) = &regularizers.contractive {
        amounts.push(("regularizers.contractive.weight", contractive.weight));
    }
    if let Some(kl) = &regularizers.kl {
        amounts.push(("regularizers.kl.beta", kl.beta));
        amounts.push(("regularizers.kl.warmup_epochs", kl.warmup_epochs));
    }
    if let Some(early) = &config.train.early_stopping {
        amounts.push(("train.early_stopping.min_delta", early.min_delta));
    }
    if let Some(codebook) = &model.codebook {
        let width = model.latent.checked_mul(codebook.dim);
        if width.is_none_or(|width| width > crate::ranges::COUNT_MAX as usize) {
            problem(
                "model.codebook.dim",
                format!(
                    "the encoder would emit latent × dim = {} × {} numbers per example, more \
                     than {}",
                    model.latent,
                    codebook.dim,
                    crate::ranges::COUNT_MAX
                ),
                Some("choose fewer code positions or shorter entries".into()),
            );
        }
        amounts.push(("model.codebook.commitment", codebook.commitment));
        if !(0.0..1.0).contains(&codebook.decay) {
            problem(
                "model.codebook.decay",
                format!(
                    "moving-average decay {} is outside [0, 1)",
                    number(codebook.decay)
                ),
                Some("the paper's 0.99 keeps about the last 100 steps".into()),
            );
        }
    }
    for (key, value) in amounts {
        if !non_negative(value) {
            problem(
                key,
                format!("{} must be a finite number ≥ 0", number(value)),
                None,
            );
        }
    }
    if model.is(ModelKind::Sparse)
        && regularizers.activation_l1 == 0.0
        && regularizers.sparsity.is_none()
    {
        problem(
            "model.kind",
            "a sparse autoencoder needs a sparsity penalty".into(),
            Some(
                "set `regularizers.activation_l1` or `regularizers.sparsity = { target = 0.05, weight = 1e-3 }`"
                    .into(),
            ),
        );
    }
    if let Some(sparsity) = &regularizers.sparsity {
        if !(sparsity.target > 0.0 && sparsity.target < 1.0) {
            problem(
                "regularizers.sparsity.target",
                format!(
                    "target activation {} is outside (0, 1)",
                    number(sparsity.target)
                ),
                None,
            );
        }
        if model.code_activation != CodeActivation::Sigmoid {
            problem(
                "regularizers.sparsity",
                "the KL sparsity penalty compares mean activations in (0, 1) and needs sigmoid codes"
                    .into(),
                Some("set `model.code_activation = \"sigmoid\"` or use `activation_l1`".into()),
            );
        }
    }
    match &regularizers.contractive {
        None if model.is(ModelKind::Contractive) => problem(
            "model.kind",
            "a contractive autoencoder needs `regularizers.contractive`".into(),
            Some("set `regularizers.contractive = { weight = 0.1 }`".into()),
        ),
        _ => {}
    }
    match &config.noise {
        None if model.is(ModelKind::Denoising) => problem(
            "model.kind",
            "a denoising autoencoder needs a `[noise]` section saying how inputs are corrupted"
                .into(),
            Some("add `[noise]` with `kind = \"gaussian\"` and `level = 0.3`".into()),
        ),
        Some(noise) => {
            let valid = match noise.kind {
                NoiseKind::Gaussian => noise.level > 0.0 && noise.level.is_finite(),
                NoiseKind::Masking | NoiseKind::SaltAndPepper => {
                    noise.level > 0.0 && noise.level <= 1.0
                }
            };
            if !valid {
                let expected = match noise.kind {
                    NoiseKind::Gaussian => "a standard deviation > 0",
                    _ => "a fraction of inputs in (0, 1]",
                };
                problem(
                    "noise.level",
                    format!("noise level {} is not {expected}", number(noise.level)),
                    None,
                );
            }
        }
        None => {}
    }

    let train = &config.train;
    if let Some(every) = &train.checkpoint_every
        && let Err((message, hint)) = crate::resources::checked_duration(every)
    {
        problem("train.checkpoint_every", message, Some(hint));
    }
    if !(train.learning_rate > 0.0 && train.learning_rate.is_finite()) {
        problem(
            "train.learning_rate",
            format!(
                "learning rate {} must be a finite number > 0",
                number(train.learning_rate)
            ),
            Some("typical values are 1e-4 to 1e-2".into()),
        );
    }
    if let Some(momentum) = train.momentum
        && !(0.0..1.0).contains(&momentum)
    {
        problem(
            "train.momentum",
            format!("momentum {} is outside [0, 1)", number(momentum)),
            None,
        );
    }
    if train.early_stopping.is_some() && data.validation == 0.0 {
        problem(
            "train.early_stopping",
            "early stopping watches the validation loss, but `data.validation` is 0".into(),
            Some("hold out a validation split, e.g. `data.validation = 0.1`".into()),
        );
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
    for (key, message, hint) in check_tasks(config, catalog) {
        problem(key, message, hint);
    }
    problems
}

/// Problems of the tasks' prerequisites: what to corrupt, what is normal, what has a
/// likelihood, what can be binarised.
fn check_tasks(
    config: &RunConfig,
    catalog: &Catalog,
) -> Vec<(&'static str, String, Option<String>)> {
    let mut problems = Vec::new();
    let evaluate = &config.evaluate;
    if evaluate.has(Task::Likelihood) && !config.model.kind.is_variational() {
        problems.push((
            "evaluate.tasks",
            format!(
                "the likelihood task samples codes from a VAE's or an IWAE's encoder, and \
                 model.kind is `{}`",
                config.model.kind.name()
            ),
            Some("set `model.kind = \"vae\"` or \"iwae\", or remove \"likelihood\"".into()),
        ));
    }
    if evaluate.importance_samples.is_some() && !evaluate.has(Task::Likelihood) {
        problems.push((
            "evaluate.importance_samples",
            "`evaluate.importance_samples` is only used by the likelihood task".into(),
            Some("add \"likelihood\" to `evaluate.tasks`, or remove the key".into()),
        ));
    }
    if config.data.binarize.is_some()
        && let Some(shape) = catalog.datasets.get(&config.data.dataset)
        && shape.len() != 3
    {
        problems.push((
            "data.binarize",
            format!(
                "binarisation draws the pixels of images, and data set `{}` holds rows of {} \
                 features",
                config.data.dataset,
                shape.iter().product::<usize>()
            ),
            Some("remove the key, or use an image data set such as `mnist`".into()),
        ));
    }
    if evaluate.has(Task::Denoising) && config.noise.is_none() {
        problems.push((
            "evaluate.tasks",
            "the denoising task needs a `[noise]` section saying how test inputs are corrupted"
                .into(),
            Some("add `[noise]` with `kind = \"gaussian\"` and `level = 0.3`".into()),
        ));
    }
    let labels = catalog.labels.get(&config.data.dataset);
    match (config.data.normal_class, evaluate.has(Task::Anomaly)) {
        (Some(_), false) => problems.push((
            "data.normal_class",
            "`data.normal_class` is only used by the anomaly task".into(),
            Some("add \"anomaly\" to `evaluate.tasks`, or remove the key".into()),
        )),
        (Some(class), true) => {
            if let Some(classes) = labels.and_then(|l| l.classes)
                && usize::from(class) >= classes
            {
                problems.push((
                    "data.normal_class",
                    format!("class {class} is not one of the data set's {classes} classes"),
                    Some(format!("use a label in 0..{classes}")),
                ));
            }
        }
        (None, true) if labels.and_then(|l| l.anomaly_label).is_none() => problems.push((
            "evaluate.tasks",
            format!(
                "the anomaly task needs to know which examples are normal, and data set `{}` \
                 marks no anomaly label",
                config.data.dataset
            ),
            Some(
                "set `data.normal_class`, e.g. `data.normal_class = 0` for one-class MNIST".into(),
            ),
        )),
        (None, _) => {}
    }
    problems
}

/// Why the latent task of `config` can record no `probe_accuracy` (its training examples carry
/// one label), if it cannot: the task still writes each code dimension's variance.
pub(crate) fn probe_without_labels(config: &RunConfig, catalog: &Catalog) -> Option<Diagnostic> {
    if !config.evaluate.has(Task::Latent) {
        return None;
    }
    let dataset = &config.data.dataset;
    let classes = catalog.labels.get(dataset).and_then(|l| l.classes);
    let why = if classes.is_none_or(|classes| classes < 2) {
        format!("data set `{dataset}` has no class labels")
    } else if config.evaluate.has(Task::Anomaly) {
        "the anomaly task trains on normal examples alone, one class".to_string()
    } else {
        return None;
    };
    Some(
        Diagnostic::new(
            "evaluate.tasks",
            format!("the latent task's linear probe needs two classes or more, and {why}: no `probe_accuracy` will be recorded"),
        )
        .with_hint("the task still records each code dimension's variance (`latent.csv`)"),
    )
}

fn non_negative(value: f64) -> bool {
    value >= 0.0 && value.is_finite()
}

fn list_or_none(items: &[&str]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Problems of placing the run of `config` on the slots of `resources`, and of pruning it.
pub(crate) fn check_placement(
    config: &RunConfig,
    resources: &Resources,
    pruning: Option<&Pruning>,
) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let backend = config.train.backend;
    if !resources.offers(backend) {
        let problem = match &resources.executor {
            Executor::Slurm(slurm) => Diagnostic::new(
                "train.backend",
                format!(
                    "backend `{}` cannot train on the Slurm tasks' device, {}",
                    backend.name(),
                    slurm.device()
                ),
            )
            .with_hint(
                "tasks with `resources.slurm.gpus_per_task` train on their GPU (backends tch, \
                 cuda), the others on the CPU (flex, tch)",
            ),
            Executor::Local => {
                let slots: Vec<String> = resources
                    .slots
                    .iter()
                    .map(|slot| slot.device.to_string())
                    .collect();
                Diagnostic::new(
                    "train.backend",
                    format!(
                        "no slot of [resources] offers backend `{}` (slots: {})",
                        backend.name(),
                        slots.join(", ")
                    ),
                )
                .with_hint(format!(
                    "add it to the backends of a slot whose device it runs on, e.g. \
                     `[[resources.slots]]` with `backends = [\"{}\"]`",
                    backend.name()
                ))
            }
        };
        problems.push(problem);
    }
    if let Some(pruning) = pruning
        && pruning.metric.needs_validation()
        && config.data.validation == 0.0
    {
        problems.push(
            Diagnostic::new(
                "sweep.pruning.metric",
                format!(
                    "pruning compares `{}`, but `data.validation` is 0",
                    pruning.metric.name()
                ),
            )
            .with_hint("hold out a validation split, e.g. `data.validation = 0.1`, or compare `train_loss`"),
        );
    }
    problems
}
