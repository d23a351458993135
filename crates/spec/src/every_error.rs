//! Every error message a spec can produce, pinned in one snapshot (`every_spec_error`).
//!
//! Each case is a minimal spec that triggers exactly one problem. The test checks that it does,
//! and that the rendered error mentions the key the case aims at, so a case that drifts to
//! another error fails instead of pinning the wrong message. Cases are grouped by the source
//! file that produces their message.
//!
//! A new error site in this crate (a `Diagnostic::new`, a `problem(..)` of a check, a new
//! `SpecError` variant, a new kind of toml error) needs a case here, in its file's group.

use std::fmt::Write as _;
use std::path::Path;

use super::*;

/// The path every case's spec is parsed as, which each rendered error names.
const PATH: &str = "spec.toml";

/// A valid spec that most cases extend.
const MINIMAL: &str = "[experiment]\nname = \"minimal\"\n\n[data]\ndataset = \"mnist\"\n";

fn catalog() -> Catalog {
    Catalog {
        datasets: [
            ("mnist".to_string(), vec![1, 28, 28]),
            ("shuttle".to_string(), vec![9]),
        ]
        .into(),
        backends: vec![Backend::Flex],
        labels: [
            (
                "mnist".to_string(),
                Labels {
                    classes: Some(10),
                    anomaly_label: None,
                },
            ),
            (
                "shuttle".to_string(),
                Labels {
                    classes: Some(2),
                    anomaly_label: Some(1),
                },
            ),
        ]
        .into(),
    }
}

/// One spec that is refused with one problem.
struct Case {
    /// The snapshot's heading.
    name: &'static str,
    /// What the rendered error must mention: the key the case aims at, or the offending word.
    key: &'static str,
    /// The whole spec.
    source: String,
}

/// A case whose spec is written out whole.
fn case(name: &'static str, key: &'static str, source: &str) -> Case {
    Case {
        name,
        key,
        source: source.to_string(),
    }
}

/// A case whose spec is [`MINIMAL`] followed by `extra` (which continues `[data]` unless it
/// opens a section).
fn minimal(name: &'static str, key: &'static str, extra: &str) -> Case {
    case(name, key, &format!("{MINIMAL}{extra}"))
}

/// Appends a case's heading, input (indented) and rendered error to `out`, after checking
/// that the error is the single problem the case aims at.
fn record(out: &mut String, name: &str, key: &str, input: &str, error: &SpecError) {
    let text = error.to_string();
    assert!(
        error.diagnostics().len() <= 1,
        "{name}: more than one problem:\n{text}"
    );
    assert!(
        text.contains(key),
        "{name}: the error does not mention `{key}`:\n{text}"
    );
    let input: String = input
        .lines()
        .map(|line| format!("    {}\n", crate::diagnostic::cut(line, 100)))
        .collect();
    writeln!(out, "## {name}\n\n{input}\n{text}\n").expect("string write");
}

/// `lib.rs`: toml errors as `from_toml_error` words them, the experiment section, keys that
/// apply to no run, and the sweep's keys, zip groups and strategy.
fn lib_rs() -> Vec<Case> {
    vec![
        case("toml syntax error", "name", "[experiment]\nname = \"x\n"),
        case(
            "missing section",
            "data",
            "[experiment]\nname = \"no-data\"\n",
        ),
        case(
            "missing required key",
            "dataset",
            "[experiment]\nname = \"x\"\n\n[data]\nvalidation = 0.1\n",
        ),
        minimal(
            "unknown key near a known one",
            "laten",
            "\n[model]\nlaten = 16\n",
        ),
        minimal(
            "unknown key far from every known one",
            "colour",
            "\n[model]\ncolour = \"red\"\n",
        ),
        minimal("unknown section", "modle", "\n[modle]\nlatent = 16\n"),
        minimal(
            "unknown value near a known one",
            "vanila",
            "\n[model]\nkind = \"vanila\"\n",
        ),
        minimal(
            "unknown value far from every known one",
            "pca",
            "\n[model]\nkind = \"pca\"\n",
        ),
        minimal(
            "string for a non-negative integer",
            "large",
            "\n[train]\nbatch_size = \"large\"\n",
        ),
        minimal("negative size", "-1", "\n[model]\nlatent = -1\n"),
        case(
            "negative seed",
            "-1",
            "[experiment]\nname = \"x\"\nseed = -1\n\n[data]\ndataset = \"mnist\"\n",
        ),
        case(
            "fractional repeats",
            "2.5",
            "[experiment]\nname = \"x\"\nrepeats = 2.5\n\n[data]\ndataset = \"mnist\"\n",
        ),
        minimal(
            "string for a number",
            "fast",
            "\n[train]\nlearning_rate = \"fast\"\n",
        ),
        minimal(
            "string for an optional number",
            "high",
            "\n[train]\noptimizer = \"sgd\"\nmomentum = \"high\"\n",
        ),
        minimal("number for a list", "64", "\n[model]\nhidden = 64\n"),
        minimal(
            "number for a table",
            "train.early_stopping",
            "\n[train]\nearly_stopping = 3\n",
        ),
        minimal("number for a name", "model.kind", "\n[model]\nkind = 5\n"),
        minimal(
            "integer past the largest toml integer",
            "model.latent",
            "\n[model]\nlatent = 18446744073709551615\n",
        ),
        minimal(
            "integer below the smallest toml integer",
            "model.latent",
            "\n[model]\nlatent = -9223372036854775809\n",
        ),
        minimal(
            "count past its range",
            "model.hidden",
            "\n[model]\nhidden = [64, 4294967296]\n",
        ),
        minimal(
            "very long string for a number",
            "train.learning_rate",
            &format!("\n[train]\nlearning_rate = \"{}\"\n", "9".repeat(10_000)),
        ),
        minimal(
            "error far into a long line",
            "model.hidden",
            &format!("\n[model]\nhidden = [{}\"wide\"]\n", "64, ".repeat(2_000)),
        ),
        minimal(
            "table written twice",
            "table [model]",
            "\n[model]\nlatent = 8\n\n[model]\nhidden = [64]\n",
        ),
        minimal(
            "table given with a header and with dotted keys",
            "table `train.early_stopping`",
            "\n[train.early_stopping]\npatience = 3\n\n[train]\nearly_stopping.min_delta = 0.1\n",
        ),
        minimal(
            "key given twice",
            "train.epochs",
            "\n[train]\nepochs = 5\nbatch_size = 32\nepochs = 6\n",
        ),
        minimal(
            "unquoted key with a letter that is not ascii",
            "U+0435",
            "\n[model]\nlat\u{435}nt = 8\n",
        ),
        minimal(
            "quoted key with a letter that is not ascii",
            "U+0435",
            "\n[model]\n\"lat\u{435}nt\" = 8\n",
        ),
        minimal(
            "value with a letter that is not ascii",
            "U+0430",
            "\n[model]\nkind = \"v\u{430}e\"\n",
        ),
        case(
            "number for a string",
            "5",
            "[experiment]\nname = \"x\"\n\n[data]\ndataset = 5\n",
        ),
        minimal(
            "label too large for a byte",
            "300",
            "normal_class = 300\n\n[evaluate]\ntasks = [\"anomaly\"]\n",
        ),
        minimal(
            "negative worker count",
            "-2",
            "\n[resources]\nworkers = -2\n",
        ),
        case(
            "name that is not a folder name",
            "experiment.name",
            "[experiment]\nname = \"../../etc\"\n\n[data]\ndataset = \"mnist\"\n",
        ),
        case(
            "name longer than a folder name may be",
            "experiment.name",
            &format!(
                "[experiment]\nname = \"{}\"\n\n[data]\ndataset = \"mnist\"\n",
                "a".repeat(101)
            ),
        ),
        case(
            "seeds beyond a toml integer",
            "experiment.seed",
            "[experiment]\nname = \"x\"\nseed = 9223372036854775807\nrepeats = 2\n\n\
             [data]\ndataset = \"mnist\"\n",
        ),
        case(
            "zero repeats",
            "experiment.repeats",
            "[experiment]\nname = \"x\"\nrepeats = 0\n\n[data]\ndataset = \"mnist\"\n",
        ),
        case(
            "repeats beyond the run limit",
            "experiment.repeats",
            "[experiment]\nname = \"x\"\nrepeats = 10001\n\n[data]\ndataset = \"mnist\"\n",
        ),
        minimal(
            "momentum without sgd",
            "train.momentum",
            "\n[train]\nmomentum = 0.9\n",
        ),
        minimal(
            "channels without the conv architecture",
            "model.channels",
            "\n[model]\nchannels = [8, 16]\n",
        ),
        minimal(
            "code activation of a vae",
            "model.code_activation",
            "\n[model]\nkind = \"vae\"\ncode_activation = \"sigmoid\"\n",
        ),
        minimal(
            "activation l1 without a sparse kind",
            "regularizers.activation_l1",
            "\n[regularizers]\nactivation_l1 = 1e-3\n",
        ),
        minimal(
            "sparsity without a sparse kind",
            "regularizers.sparsity",
            "\n[regularizers]\nsparsity = { weight = 1e-3 }\n",
        ),
        minimal(
            "contractive penalty without the contractive kind",
            "regularizers.contractive",
            "\n[regularizers]\ncontractive = { weight = 0.1 }\n",
        ),
        minimal(
            "kl term without a vae",
            "regularizers.kl",
            "\n[regularizers]\nkl = { beta = 0.5 }\n",
        ),
        minimal(
            "sweep key outside the run sections, near one",
            "modle.latent",
            "\n[sweep.parameters]\n\"modle.latent\" = [8, 16]\n",
        ),
        minimal(
            "sweep key outside the run sections, far from all",
            "experiment.seed",
            "\n[sweep.parameters]\n\"experiment.seed\" = [1, 2]\n",
        ),
        minimal(
            "sweep key with a letter that is not ascii",
            "U+043E",
            "\n[sweep.parameters]\n\"m\u{43e}del.latent\" = [8, 16]\n",
        ),
        minimal(
            "unknown swept key",
            "laten",
            "\n[sweep.parameters]\n\"model.laten\" = [8]\n",
        ),
        minimal(
            "swept value of the wrong type",
            "train.epochs",
            "\n[sweep.parameters]\n\"train.epochs\" = [1, \"two\"]\n",
        ),
        minimal(
            "swept integer out of its range",
            "data.normal_class",
            "\n[evaluate]\ntasks = [\"anomaly\"]\n\n[sweep.parameters]\n\"data.normal_class\" = [3, 300]\n",
        ),
        minimal(
            "swept values that do not fit together",
            "regularizers.sparsity.target",
            "\n[model]\nkind = \"sparse\"\ncode_activation = \"sigmoid\"\n\n\
             [regularizers]\nsparsity = { weight = 1e-3 }\n\n[sweep.parameters]\n\
             \"regularizers\" = [{ activation_l1 = 0.1 }]\n\"regularizers.sparsity.target\" = [0.1]\n",
        ),
        minimal(
            "key in two zip groups",
            "sweep.zip",
            "\n[sweep]\nzip = [[\"model.latent\", \"train.epochs\"], [\"model.latent\", \"train.batch_size\"]]\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16]\n\"train.epochs\" = [1, 2]\n\
             \"train.batch_size\" = [32, 64]\n",
        ),
        minimal(
            "zipped key that is not swept",
            "sweep.zip",
            "\n[sweep]\nzip = [[\"model.latent\", \"train.epochs\"]]\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16]\n",
        ),
        minimal(
            "random sweep without samples",
            "sweep.samples",
            "\n[sweep]\nstrategy = \"random\"\n\n[sweep.parameters]\n\"model.latent\" = [8, 16]\n",
        ),
        minimal(
            "samples of a grid sweep",
            "sweep.samples",
            "\n[sweep]\nsamples = 4\n\n[sweep.parameters]\n\"model.latent\" = [8, 16]\n",
        ),
    ]
}

/// `space.rs`: how swept values are written, and how they combine.
fn space_rs() -> Vec<Case> {
    let swept = |name, key, value: &str| {
        minimal(
            name,
            key,
            &format!("\n[sweep.parameters]\n\"model.latent\" = {value}\n"),
        )
    };
    vec![
        swept("empty list of values", "model.latent", "[]"),
        swept("single value instead of a list", "model.latent", "8"),
        swept(
            "unknown distribution",
            "model.latent",
            "{ normal = [8, 16] }",
        ),
        swept(
            "two distributions at once",
            "model.latent",
            "{ choice = [8], int_uniform = [8, 16], samples = 2 }",
        ),
        swept("empty choice", "model.latent", "{ choice = [] }"),
        swept(
            "samples that are not positive",
            "model.latent.samples",
            "{ int_uniform = [8, 16], samples = 0 }",
        ),
        swept(
            "bounds out of order",
            "model.latent.int_uniform",
            "{ int_uniform = [16, 8], samples = 2 }",
        ),
        swept(
            "bounds that are not a pair",
            "model.latent.int_uniform",
            "{ int_uniform = [8], samples = 2 }",
        ),
        minimal(
            "log-uniform range reaching 0",
            "train.learning_rate.log_uniform",
            "\n[sweep.parameters]\n\"train.learning_rate\" = { log_uniform = [0, 0.1], samples = 2 }\n",
        ),
        minimal(
            "distribution bounds that are not finite",
            "train.learning_rate.uniform",
            "\n[sweep.parameters]\n\"train.learning_rate\" = { uniform = [1e-4, inf], samples = 2 }\n",
        ),
        minimal(
            "distribution bounds whose span overflows",
            "regularizers.weight_decay.uniform",
            "\n[sweep.parameters]\n\"regularizers.weight_decay\" = { uniform = [-1e308, 1e308], samples = 2 }\n",
        ),
        minimal(
            "log-uniform bounds too close to draw between",
            "regularizers.weight_decay.log_uniform",
            "\n[sweep.parameters]\n\"regularizers.weight_decay\" = \
             { log_uniform = [1e308, 1.0000000000000002e308], samples = 2 }\n",
        ),
        swept(
            "distribution bounds that are not numbers",
            "model.latent.int_uniform",
            "{ int_uniform = [\"8\", 16], samples = 2 }",
        ),
        swept(
            "integer draws that can leave the key's range",
            "model.latent.int_uniform",
            "{ int_uniform = [1, 9223372036854775807], samples = 2 }",
        ),
        minimal(
            "float draws that can leave the key's range",
            "train.momentum.uniform",
            "\n[train]\noptimizer = \"sgd\"\n\n[sweep.parameters]\n\
             \"train.momentum\" = { uniform = [0.5, 1.5], samples = 2 }\n",
        ),
        swept(
            "fractional integer bounds",
            "model.latent.int_uniform",
            "{ int_uniform = [4.5, 16], samples = 2 }",
        ),
        swept(
            "distribution in a grid without samples",
            "model.latent",
            "{ int_uniform = [8, 16] }",
        ),
        minimal(
            "zipped lists of different lengths in a grid",
            "train.epochs",
            "\n[sweep]\nzip = [[\"model.latent\", \"train.epochs\"]]\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16]\n\"train.epochs\" = [1, 2, 3]\n",
        ),
        swept(
            "distribution samples beyond the run limit",
            "model.latent.samples",
            "{ int_uniform = [8, 16], samples = 10001 }",
        ),
        minimal(
            "grid beyond the run limit",
            "sweep.parameters",
            "\n[sweep.parameters]\n\"model.latent\" = { int_uniform = [8, 16], samples = 200 }\n\
             \"train.epochs\" = { int_uniform = [1, 9], samples = 200 }\n",
        ),
        case(
            "grid times repeats beyond the run limit",
            "sweep.parameters",
            "[experiment]\nname = \"x\"\nrepeats = 2000\n\n[data]\ndataset = \"mnist\"\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16, 32, 64, 128, 256]\n",
        ),
        minimal(
            "random samples beyond the run limit",
            "sweep.samples",
            "\n[sweep]\nstrategy = \"random\"\nsamples = 10001\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16]\n",
        ),
        minimal(
            "per-key samples in a random sweep",
            "model.latent.samples",
            "\n[sweep]\nstrategy = \"random\"\nsamples = 4\n\n\
             [sweep.parameters]\n\"model.latent\" = { int_uniform = [8, 16], samples = 2 }\n",
        ),
        minimal(
            "zipped lists of different lengths in a random sweep",
            "train.epochs",
            "\n[sweep]\nstrategy = \"random\"\nsamples = 4\nzip = [[\"model.latent\", \"train.epochs\"]]\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16]\n\"train.epochs\" = [1, 2, 3]\n",
        ),
        minimal(
            "zipped distribution in a random sweep",
            "train.epochs",
            "\n[sweep]\nstrategy = \"random\"\nsamples = 4\nzip = [[\"model.latent\", \"train.epochs\"]]\n\n\
             [sweep.parameters]\n\"model.latent\" = [8, 16]\n\"train.epochs\" = { int_uniform = [1, 9] }\n",
        ),
    ]
}

/// `sweep.rs`: writing a swept value into the spec's table.
fn sweep_rs() -> Vec<Case> {
    vec![minimal(
        "swept key below a value",
        "model.latent.size",
        "\n[model]\nlatent = 8\n\n[sweep.parameters]\n\"model.latent.size\" = [8]\n",
    )]
}

/// `resources.rs`: `[resources]` with its slots or Slurm settings, and `[sweep.pruning]`.
fn resources_rs() -> Vec<Case> {
    let resources = |name, key, body: &str| minimal(name, key, &format!("\n[resources]\n{body}"));
    let slot =
        |name, key, body: &str| minimal(name, key, &format!("\n[[resources.slots]]\n{body}"));
    let slurm = |name, key, body: &str| {
        resources(
            name,
            key,
            &format!("executor = \"slurm\"\n\n[resources.slurm]\n{body}"),
        )
    };
    vec![
        resources("zero workers", "resources.workers", "workers = 0\n"),
        resources(
            "zero threads per worker",
            "resources.threads_per_worker",
            "threads_per_worker = 0\n",
        ),
        resources("pack of zero runs", "resources.pack", "pack = 0\n"),
        resources(
            "timeout without a unit",
            "resources.timeout",
            "timeout = \"90\"\n",
        ),
        resources(
            "timeout past a year",
            "resources.timeout",
            "timeout = \"1e300h\"\n",
        ),
        resources(
            "timeout too short to be a duration",
            "resources.timeout",
            "timeout = \"1e-300s\"\n",
        ),
        resources(
            "count past its range",
            "resources.workers",
            "workers = 4294967296\n",
        ),
        resources(
            "workers together with slots",
            "resources.workers",
            "workers = 2\n\n[[resources.slots]]\ndevice = \"cpu\"\nbackends = [\"flex\"]\n",
        ),
        resources("no slots", "resources.slots", "slots = []\n"),
        slot(
            "slot with zero workers",
            "resources.slots.workers",
            "device = \"cpu\"\nbackends = [\"flex\"]\nworkers = 0\n",
        ),
        slot(
            "unknown device",
            "resources.slots.device",
            "device = \"tpu:0\"\nbackends = [\"flex\"]\n",
        ),
        slot(
            "slot without backends",
            "resources.slots.backends",
            "device = \"cpu\"\nbackends = []\n",
        ),
        slot(
            "backend on a device it cannot run on",
            "resources.slots.backends",
            "device = \"cpu\"\nbackends = [\"flex\", \"cuda\"]\n",
        ),
        resources(
            "workers with the slurm executor",
            "resources.workers",
            "executor = \"slurm\"\nworkers = 2\n",
        ),
        resources(
            "slots with the slurm executor",
            "resources.slots",
            "executor = \"slurm\"\n\n[[resources.slots]]\ndevice = \"cpu\"\nbackends = [\"flex\"]\n",
        ),
        resources(
            "timeout with the slurm executor",
            "resources.timeout",
            "executor = \"slurm\"\ntimeout = \"2h\"\n",
        ),
        resources(
            "slurm settings with the local executor",
            "resources.slurm",
            "\n[resources.slurm]\npartition = \"gpu\"\n",
        ),
        slurm(
            "partition that is not a name",
            "resources.slurm.partition",
            "partition = \"gpu; rm -rf ~\"\n",
        ),
        slurm(
            "memory that is not a size",
            "resources.slurm.mem",
            "mem = \"8 GB\"\n",
        ),
        slurm(
            "time limit without a unit",
            "resources.slurm.time_limit",
            "time_limit = \"120\"\n",
        ),
        slurm(
            "time limit past a year",
            "resources.slurm.time_limit",
            "time_limit = \"9000h\"\n",
        ),
        slurm(
            "zero cpus per task",
            "resources.slurm.cpus_per_task",
            "cpus_per_task = 0\n",
        ),
        slurm(
            "zero gpus per task",
            "resources.slurm.gpus_per_task",
            "gpus_per_task = 0\n",
        ),
        slurm(
            "signal grace not shorter than the time limit",
            "resources.slurm.signal_grace",
            "time_limit = \"1m\"\nsignal_grace = \"60s\"\n",
        ),
        slurm(
            "signal grace longer than sbatch takes",
            "resources.slurm.signal_grace",
            "signal_grace = \"20h\"\n",
        ),
        slurm(
            "zero array parallelism",
            "resources.slurm.array_parallelism",
            "array_parallelism = 0\n",
        ),
        slurm(
            "extra argument that is not one option",
            "resources.slurm.extra_args",
            "extra_args = [\"-A lab\"]\n",
        ),
        slurm(
            "extra argument that hourglass sets",
            "resources.slurm.extra_args",
            "extra_args = [\"--array=0-3\"]\n",
        ),
        slurm(
            "extra argument that sbatch reads as one hourglass sets",
            "resources.slurm.extra_args",
            "extra_args = [\"--outp=/tmp/x\"]\n",
        ),
        slurm(
            "extra argument that sbatch could read as one of two that hourglass sets",
            "resources.slurm.extra_args",
            "extra_args = [\"--e=x\"]\n",
        ),
        minimal(
            "zero grace epochs",
            "sweep.pruning.grace_epochs",
            "\n[sweep.pruning]\ngrace_epochs = 0\n",
        ),
        minimal(
            "reduction factor below 2",
            "sweep.pruning.reduction_factor",
            "\n[sweep.pruning]\nreduction_factor = 1\n",
        ),
    ]
}

/// `check.rs`: the semantic checks of each run, its tasks and its placement.
fn check_rs() -> Vec<Case> {
    vec![
        case(
            "unknown data set near a known one",
            "data.dataset",
            "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"mnsit\"\n",
        ),
        case(
            "unknown data set far from every known one",
            "data.dataset",
            "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"cifar10\"\n",
        ),
        case(
            "data set name with a letter that is not ascii",
            "U+0456",
            "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"mn\u{456}st\"\n",
        ),
        minimal(
            "validation fraction of 1",
            "data.validation",
            "validation = 1.0\n",
        ),
        minimal("train limit of 0", "data.train_limit", "train_limit = 0\n"),
        minimal("test limit of 0", "data.test_limit", "test_limit = 0\n"),
        minimal(
            "latent size of 0",
            "model.latent",
            "\n[model]\nlatent = 0\n",
        ),
        minimal(
            "latent size not below the input",
            "model.latent",
            "\n[model]\nlatent = 784\n",
        ),
        minimal(
            "hidden layer of width 0",
            "model.hidden",
            "\n[model]\nhidden = [64, 0]\n",
        ),
        minimal(
            "binary cross-entropy with identity outputs",
            "loss.reconstruction",
            "\n[model]\noutput = \"identity\"\n\n[loss]\nreconstruction = \"bce\"\n",
        ),
        minimal(
            "vae combined with another kind",
            "model.also",
            "\n[model]\nalso = [\"vae\"]\n",
        ),
        minimal(
            "conv without channels",
            "model.channels",
            "\n[model]\narchitecture = \"conv\"\nchannels = []\n",
        ),
        case(
            "conv on data that is not images",
            "model.architecture",
            "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"shuttle\"\n\n\
             [model]\narchitecture = \"conv\"\nlatent = 4\n",
        ),
        minimal(
            "negative weight decay",
            "regularizers.weight_decay",
            "\n[regularizers]\nweight_decay = -1e-4\n",
        ),
        minimal(
            "negative weight l1",
            "regularizers.weight_l1",
            "\n[regularizers]\nweight_l1 = -1e-4\n",
        ),
        minimal(
            "negative activation l1",
            "regularizers.activation_l1",
            "\n[model]\nkind = \"sparse\"\n\n[regularizers]\nactivation_l1 = -1e-3\n",
        ),
        minimal(
            "negative sparsity weight",
            "regularizers.sparsity.weight",
            "\n[model]\nkind = \"sparse\"\ncode_activation = \"sigmoid\"\n\n\
             [regularizers]\nsparsity = { weight = -1e-3 }\n",
        ),
        minimal(
            "negative contractive weight",
            "regularizers.contractive.weight",
            "\n[model]\nkind = \"contractive\"\n\n[regularizers]\ncontractive = { weight = -0.1 }\n",
        ),
        minimal(
            "negative kl beta",
            "regularizers.kl.beta",
            "\n[model]\nkind = \"vae\"\n\n[regularizers]\nkl = { beta = -1.0 }\n",
        ),
        minimal(
            "negative kl warm-up",
            "regularizers.kl.warmup_epochs",
            "\n[model]\nkind = \"vae\"\n\n[regularizers]\nkl = { warmup_epochs = -2.0 }\n",
        ),
        minimal(
            "negative early stopping delta",
            "train.early_stopping.min_delta",
            "\n[train]\nearly_stopping = { patience = 3, min_delta = -0.1 }\n",
        ),
        minimal(
            "sparse kind without a penalty",
            "model.kind",
            "\n[model]\nkind = \"sparse\"\n",
        ),
        minimal(
            "sparsity target outside (0, 1)",
            "regularizers.sparsity.target",
            "\n[model]\nkind = \"sparse\"\ncode_activation = \"sigmoid\"\n\n\
             [regularizers]\nsparsity = { target = 1.5, weight = 1e-3 }\n",
        ),
        minimal(
            "sparsity without sigmoid codes",
            "regularizers.sparsity",
            "\n[model]\nkind = \"sparse\"\n\n[regularizers]\nsparsity = { weight = 1e-3 }\n",
        ),
        minimal(
            "contractive kind without a penalty",
            "model.kind",
            "\n[model]\nkind = \"contractive\"\n",
        ),
        minimal(
            "contractive estimator without projections",
            "regularizers.contractive.projections",
            "\n[model]\nkind = \"contractive\"\n\n\
             [regularizers]\ncontractive = { weight = 0.1, projections = 0 }\n",
        ),
        minimal(
            "denoising kind without noise",
            "model.kind",
            "\n[model]\nkind = \"denoising\"\n",
        ),
        minimal(
            "gaussian noise of level 0",
            "noise.level",
            "\n[noise]\nkind = \"gaussian\"\nlevel = 0.0\n",
        ),
        minimal(
            "masking noise above 1",
            "noise.level",
            "\n[noise]\nkind = \"masking\"\nlevel = 1.5\n",
        ),
        minimal(
            "learning rate of 0",
            "train.learning_rate",
            "\n[train]\nlearning_rate = 0.0\n",
        ),
        minimal(
            "learning rate far below 0",
            "-1e30",
            "\n[train]\nlearning_rate = -1e30\n",
        ),
        minimal(
            "checkpoint interval without a unit",
            "train.checkpoint_every",
            "\n[train]\ncheckpoint_every = \"5\"\n",
        ),
        minimal(
            "momentum of 1 or more",
            "train.momentum",
            "\n[train]\noptimizer = \"sgd\"\nmomentum = 1.0\n",
        ),
        minimal(
            "batch size of 0",
            "train.batch_size",
            "\n[train]\nbatch_size = 0\n",
        ),
        minimal(
            "patience of 0",
            "train.early_stopping.patience",
            "\n[train]\nearly_stopping = { patience = 0 }\n",
        ),
        minimal(
            "early stopping without validation",
            "train.early_stopping",
            "validation = 0.0\n\n[train]\nearly_stopping = { patience = 3 }\n",
        ),
        minimal("zero epochs", "train.epochs", "\n[train]\nepochs = 0\n"),
        minimal(
            "backend not compiled in",
            "train.backend",
            "\n[train]\nbackend = \"tch\"\n",
        ),
        minimal(
            "no evaluation task",
            "evaluate.tasks",
            "\n[evaluate]\ntasks = []\n",
        ),
        minimal(
            "denoising task without noise",
            "evaluate.tasks",
            "\n[evaluate]\ntasks = [\"denoising\"]\n",
        ),
        minimal(
            "normal class without the anomaly task",
            "data.normal_class",
            "normal_class = 3\n",
        ),
        minimal(
            "normal class beyond the classes",
            "data.normal_class",
            "normal_class = 12\n\n[evaluate]\ntasks = [\"anomaly\"]\n",
        ),
        minimal(
            "likelihood task of a kind that is not a VAE",
            "evaluate.tasks",
            "\n[evaluate]\ntasks = [\"likelihood\"]\n",
        ),
        minimal(
            "importance-weighted samples of a kind that is not an IWAE",
            "model.samples",
            "\n[model]\nkind = \"vae\"\nsamples = 50\n",
        ),
        minimal(
            "an IWAE without samples",
            "model.samples",
            "\n[model]\nkind = \"iwae\"\nsamples = 0\n",
        ),
        minimal(
            "IWAE combined with another kind",
            "model.also",
            "\n[model]\nalso = [\"iwae\"]\n",
        ),
        minimal(
            "a codebook of a kind that is not a VQ-VAE",
            "model.codebook",
            "\n[model]\nkind = \"vae\"\ncodebook = { size = 16 }\n",
        ),
        minimal(
            "a codebook of one entry",
            "model.codebook.size",
            "\n[model]\nkind = \"vqvae\"\ncodebook = { size = 1 }\n",
        ),
        minimal(
            "a codebook decay of one",
            "model.codebook.decay",
            "\n[model]\nkind = \"vqvae\"\ncodebook = { decay = 1.0 }\n",
        ),
        minimal(
            "codebook entries too long for the code positions",
            "model.codebook.dim",
            "\n[model]\nkind = \"vqvae\"\nlatent = 700\ncodebook = { dim = 10000000 }\n",
        ),
        minimal(
            "an unknown codebook update",
            "kmeans",
            "\n[model]\nkind = \"vqvae\"\ncodebook = { update = \"kmeans\" }\n",
        ),
        minimal(
            "a sparse VQ-VAE",
            "model.also",
            "\n[model]\nkind = \"vqvae\"\nalso = [\"sparse\"]\n\n[regularizers]\nactivation_l1 = 0.1\n",
        ),
        minimal(
            "importance samples without the likelihood task",
            "evaluate.importance_samples",
            "\n[model]\nkind = \"vae\"\n\n[evaluate]\nimportance_samples = 100\n",
        ),
        case(
            "binarised table",
            "data.binarize",
            "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"shuttle\"\nbinarize = \"static\"\n\n\
             [model]\nlatent = 4\n",
        ),
        minimal(
            "anomaly task without a normal class or an anomaly label",
            "evaluate.tasks",
            "\n[evaluate]\ntasks = [\"anomaly\"]\n",
        ),
        minimal(
            "no slot offering the backend",
            "train.backend",
            "\n[[resources.slots]]\ndevice = \"cuda:0\"\nbackends = [\"cuda\"]\n",
        ),
        minimal(
            "backend that cannot run on the slurm tasks' device",
            "train.backend",
            "\n[resources]\nexecutor = \"slurm\"\n\n[resources.slurm]\ngpus_per_task = 1\n",
        ),
        minimal(
            "pruning on validation without validation",
            "sweep.pruning.metric",
            "validation = 0.0\n\n[sweep.pruning]\nmetric = \"val_loss\"\n",
        ),
    ]
}

/// `primary.rs`: the metric `[report]` ranks runs by.
fn primary_rs() -> Vec<Case> {
    vec![
        minimal(
            "report metric that runs cannot be ranked by",
            "report.metric",
            "\n[report]\nmetric = \"accuracy\"\n",
        ),
        minimal(
            "report metric of a task no run is evaluated for",
            "report.metric",
            "\n[report]\nmetric = \"anomaly_auroc\"\n",
        ),
    ]
}

#[test]
fn every_spec_error() {
    let catalog = catalog();
    let mut text = String::new();
    for (file, cases) in [
        ("lib.rs", lib_rs()),
        ("space.rs", space_rs()),
        ("sweep.rs", sweep_rs()),
        ("resources.rs", resources_rs()),
        ("check.rs", check_rs()),
        ("primary.rs", primary_rs()),
    ] {
        writeln!(text, "# {file}\n").expect("string write");
        for case in cases {
            let error = parse(Path::new(PATH), &case.source, &catalog)
                .expect_err(&format!("{}: the spec should be refused", case.name));
            record(&mut text, case.name, case.key, &case.source, &error);
        }
    }
    // `load` reads the file before anything can be parsed.
    let missing = "experiments/missing.toml";
    let error = load(Path::new(missing), &catalog).expect_err("the spec does not exist");
    writeln!(text, "# lib.rs: load\n").expect("string write");
    record(
        &mut text,
        "spec file that cannot be read",
        missing,
        "(no file)",
        &error,
    );
    // A file that is not UTF-8 text: Latin-1 `é` on line 2, and a lone continuation byte.
    let dir = tempfile::tempdir().expect("a temporary folder");
    for (name, bytes) in [
        (
            "latin-1 text",
            b"[experiment]\nname = \"caf\xe9\"\n\n[data]\ndataset = \"mnist\"\n".as_slice(),
        ),
        (
            "a continuation byte first",
            b"\x80[experiment]\n".as_slice(),
        ),
    ] {
        let path = dir.path().join("spec.toml");
        std::fs::write(&path, bytes).expect("the spec is written");
        let error = load(&path, &catalog).expect_err("the spec is not UTF-8");
        let shown = error
            .to_string()
            .replace(&dir.path().display().to_string(), "<tmp>");
        assert_eq!(error.diagnostics().len(), 1, "{shown}");
        assert!(shown.starts_with("error: the file is not UTF-8"), "{shown}");
        let input = bytes.escape_ascii().to_string().replace("\\n", "\n    ");
        writeln!(
            text,
            "## spec file that is not UTF-8: {name}\n\n    {input}\n{shown}\n"
        )
        .expect("string write");
    }
    insta::assert_snapshot!("every_spec_error", text);
}
