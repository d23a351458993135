//! Values at the edges of their types, in every numeric key, duration and distribution: a spec
//! holding them is refused or accepted, never a panic; a value outside its key's documented
//! range ([`crate::ranges`]) is refused with the key named; an accepted spec expands to runs
//! whose ids, configurations and results serialize and read back.
//!
//! Each spec is written as dotted keys over a base spec in which every key applies (the sparse,
//! contractive, denoising conv kind; a VAE for `regularizers.kl`; Slurm for its settings).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use crate::ranges::{RANGES, range_of};
use crate::result::{RecordedConfig, RunResult, RunStatus};
use crate::tests::catalog;
use crate::*;

/// Edge values as TOML spells them: 0, ±1, the limits of u8, u32, i64 and u64 (the last is
/// no TOML integer), ±inf, NaN, ±1e308, the largest float and the smallest subnormal.
const EDGES: [&str; 21] = [
    "0",
    "1",
    "-1",
    "-0.0",
    "0.5",
    "255",
    "256",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "inf",
    "-inf",
    "nan",
    "1e308",
    "-1e308",
    "1.7976931348623157e308",
    "5e-324",
    "1e30",
    "1e-30",
];

/// Keys whose value is a duration.
const DURATIONS: [&str; 4] = [
    "resources.timeout",
    "resources.slurm.time_limit",
    "resources.slurm.signal_grace",
    "train.checkpoint_every",
];

/// The keys of the main base spec, in which every key but the VAE's and Slurm's applies.
const BASE: [(&str, &str); 31] = [
    ("experiment.name", "\"edges\""),
    ("experiment.seed", "7"),
    ("experiment.repeats", "2"),
    ("data.dataset", "\"mnist\""),
    ("data.validation", "0.1"),
    ("data.train_limit", "100"),
    ("data.test_limit", "50"),
    ("data.normal_class", "3"),
    ("model.kind", "\"sparse\""),
    ("model.also", "[\"contractive\", \"denoising\"]"),
    ("model.architecture", "\"conv\""),
    ("model.channels", "[4]"),
    ("model.hidden", "[16]"),
    ("model.latent", "8"),
    ("model.code_activation", "\"sigmoid\""),
    ("regularizers.activation_l1", "1e-3"),
    ("regularizers.sparsity", "{ target = 0.05, weight = 1e-3 }"),
    (
        "regularizers.contractive",
        "{ weight = 0.1, projections = 1 }",
    ),
    ("noise", "{ kind = \"gaussian\", level = 0.3 }"),
    ("train.optimizer", "\"sgd\""),
    ("train.momentum", "0.9"),
    ("train.early_stopping", "{ patience = 3, min_delta = 0.0 }"),
    ("train.epochs", "2"),
    ("evaluate.tasks", "[\"anomaly\"]"),
    ("sweep.strategy", "\"random\""),
    ("sweep.samples", "2"),
    (
        "sweep.pruning",
        "{ grace_epochs = 1, reduction_factor = 3 }",
    ),
    ("resources.workers", "2"),
    ("resources.timeout", "\"2h\""),
    ("resources.retries", "1"),
    ("resources.pack", "2"),
];

/// A spec: dotted keys (as TOML writes them) to values, written at the top level.
type Spec = BTreeMap<String, String>;

/// The base spec in which `key` applies.
fn base_for(key: &str) -> Spec {
    let mut spec: Spec = BASE
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let vae = key.starts_with("regularizers.kl") || key == "evaluate.importance_samples";
    let vqvae = key.starts_with("model.codebook");
    if vae || vqvae || key == "model.samples" {
        // The variational kinds and the VQ-VAE take none of the other kinds' settings.
        for owned in [
            "model.also",
            "model.code_activation",
            "regularizers.activation_l1",
            "regularizers.sparsity",
            "regularizers.contractive",
        ] {
            spec.remove(owned);
        }
        let kind = match (vae, vqvae) {
            (true, _) => "\"vae\"",
            (_, true) => "\"vqvae\"",
            _ => "\"iwae\"",
        };
        spec.insert("model.kind".into(), kind.into());
    }
    if vae {
        spec.insert(
            "regularizers.kl".into(),
            "{ beta = 1.0, warmup_epochs = 0.0 }".into(),
        );
        spec.insert(
            "evaluate.tasks".into(),
            "[\"anomaly\", \"likelihood\"]".into(),
        );
    }
    if key.starts_with("resources.slurm") {
        spec.remove("resources.workers");
        spec.remove("resources.timeout");
        spec.insert("resources.executor".into(), "\"slurm\"".into());
        spec.insert(
            "resources.slurm".into(),
            "{ time_limit = \"1h\", cpus_per_task = 2, array_parallelism = 4 }".into(),
        );
    }
    if key == "resources.slots.workers" {
        spec.remove("resources.workers");
    }
    spec
}

/// Sets the dotted `key` to `value` in `spec`, inside an inline table written for a prefix of
/// the key.
fn set(spec: &mut Spec, key: &str, value: &str) {
    if key == "resources.slots.workers" {
        spec.insert(
            "resources.slots".into(),
            format!("[{{ device = \"cpu\", backends = [\"flex\"], workers = {value} }}]"),
        );
        return;
    }
    let prefix = spec
        .keys()
        .find(|written| key.starts_with(&format!("{written}.")))
        .cloned();
    let Some(prefix) = prefix else {
        spec.insert(key.to_string(), value.to_string());
        return;
    };
    // `{ a = 1, b = 2 }` with `key`'s member replaced.
    let inline = spec.remove(&prefix).expect("the prefix is written");
    let member = &key[prefix.len() + 1..];
    let mut members: Vec<String> = inline
        .trim_matches(|c| c == '{' || c == '}' || c == ' ')
        .split(", ")
        .filter(|m| m.split(" = ").next() != Some(member))
        .map(str::to_string)
        .collect();
    members.push(format!("{member} = {value}"));
    spec.insert(prefix, format!("{{ {} }}", members.join(", ")));
}

/// The value of `key` in an edge spec: a list for a list key, a quoted duration for a
/// duration.
fn written(key: &str, edge: &str, unit: &str) -> String {
    match key {
        "model.hidden" | "model.channels" => format!("[{edge}]"),
        key if DURATIONS.contains(&key) => format!("\"{edge}{unit}\""),
        _ => edge.to_string(),
    }
}

fn text(spec: &Spec) -> String {
    spec.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
}

/// Parses `source` and checks what holds of any outcome; returns the error text, if refused.
fn outcome(source: &str) -> Result<Experiment, String> {
    let experiment = match parse(Path::new("edges.toml"), source, &catalog()) {
        Ok(experiment) => experiment,
        Err(error) => {
            let text = error.to_string();
            assert!(text.contains("error:"), "{text}");
            return Err(text);
        }
    };
    assert!(!experiment.runs.is_empty(), "{source}");
    if let Some(pruning) = experiment.pruning {
        for epoch in [0, 1, 2, 1 << 40, usize::MAX] {
            pruning.is_rung(epoch);
        }
        pruning.promotes(f64::NAN, &[1.0, f64::INFINITY]);
    }
    experiment.resources.workers();
    if let Executor::Slurm(slurm) = &experiment.resources.executor {
        slurm.sbatch_options();
    }
    for run in &experiment.runs {
        assert_eq!(run.id, RunId::of(&run.config), "{source}");
        run.summary();
        run.config.pack_key();
        let written = toml::to_string(&run.config).expect("a run config serializes");
        let read: RunConfig = toml::from_str(&written).expect("config.toml reads back");
        assert_eq!(read, run.config, "{written}");
        let result = RunResult {
            id: run.id.clone(),
            status: RunStatus::Completed,
            error: None,
            config: RecordedConfig::from(&run.config),
            metrics: [("test_mse".to_string(), 0.5)].into(),
            not_measured: Default::default(),
        };
        let json = serde_json::to_string(&result).expect("a result serializes");
        let back: RunResult = serde_json::from_str(&json).expect("result.json reads back");
        assert_eq!(back, result, "{json}");
    }
    Ok(experiment)
}

#[test]
fn the_base_specs_are_valid() {
    for key in [
        "train.epochs",
        "regularizers.kl.beta",
        "resources.slurm.mem",
    ] {
        let source = text(&base_for(key));
        if let Err(error) = outcome(&source) {
            panic!("{error}\n{source}");
        }
    }
}

#[test]
fn every_numeric_key_refuses_edge_values_outside_its_range() {
    for (key, range) in RANGES {
        for edge in EDGES {
            let mut spec = base_for(key);
            set(&mut spec, key, &written(key, edge, ""));
            let source = text(&spec);
            let value: f64 = edge.parse().expect("edges are numbers");
            let result = outcome(&source);
            if !range.contains(value) {
                let error = result.err().unwrap_or_else(|| {
                    panic!("`{key}` = {edge} is outside {range} but accepted:\n{source}")
                });
                assert!(error.contains(key), "{key} = {edge}:\n{error}");
            }
        }
    }
}

#[test]
fn durations_past_a_year_or_not_positive_are_refused() {
    for key in DURATIONS {
        for edge in EDGES {
            for unit in ["s", "m", "h"] {
                let mut spec = base_for(key);
                set(&mut spec, key, &written(key, edge, unit));
                let seconds = edge.parse::<f64>().expect("a number")
                    * match unit {
                        "s" => 1.0,
                        "m" => 60.0,
                        _ => 3600.0,
                    };
                let result = outcome(&text(&spec));
                if !(seconds > 0.0 && seconds <= 365.0 * 24.0 * 3600.0) || seconds < 1e-9 {
                    let error = result.expect_err(&format!("{key} = {edge}{unit} accepted"));
                    assert!(error.contains(key), "{error}");
                }
            }
        }
    }
}

/// `spec` sweeping `key` over `{ kind = [low, high] }`, drawing `samples` values in a grid, or
/// one per configuration of a random sweep.
fn swept_spec(
    mut spec: Spec,
    key: &str,
    kind: &str,
    (low, high): (&str, &str),
    samples: Option<&str>,
) -> Spec {
    let mut distribution = format!("{{ {kind} = [{low}, {high}]");
    if let Some(samples) = samples {
        distribution.push_str(&format!(", samples = {samples}"));
        spec.remove("sweep.samples");
        spec.insert("sweep.strategy".into(), "\"grid\"".into());
    }
    distribution.push_str(" }");
    spec.insert(format!("sweep.parameters.\"{key}\""), distribution);
    spec
}

/// Checks that every value an accepted `experiment` draws for `key` lies in its range.
fn draws_in_range(experiment: &Experiment, key: &str) -> bool {
    let range = range_of(key).expect("swept keys are numeric");
    experiment.runs.iter().all(|run| {
        run.assignments.iter().all(|(swept, value)| {
            let value = value.as_float().or(value.as_integer().map(|i| i as f64));
            swept != key || value.is_none_or(|value| range.contains(value))
        })
    })
}

#[test]
fn every_distribution_with_edge_bounds_is_refused_or_draws_in_range() {
    for key in ["regularizers.weight_decay", "train.epochs"] {
        for kind in ["uniform", "log_uniform", "int_uniform", "choice"] {
            for low in EDGES {
                for high in EDGES {
                    let source = text(&swept_spec(base_for(key), key, kind, (low, high), None));
                    if let Ok(experiment) = outcome(&source) {
                        assert!(draws_in_range(&experiment, key), "{source}");
                    }
                }
            }
        }
        // Neighbouring floats: a span of one ulp, logarithms that are the same float.
        for (low, high) in [
            ("1", "1.0000000000000002"),
            ("1e308", "1.0000000000000002e308"),
            ("5e-324", "1e-323"),
        ] {
            for kind in ["uniform", "log_uniform"] {
                let source = text(&swept_spec(base_for(key), key, kind, (low, high), None));
                if let Ok(experiment) = outcome(&source) {
                    assert!(draws_in_range(&experiment, key), "{source}");
                }
            }
        }
        for samples in EDGES {
            let source = text(&swept_spec(
                base_for(key),
                key,
                "uniform",
                ("1", "2"),
                Some(samples),
            ));
            if let Ok(experiment) = outcome(&source) {
                assert!(draws_in_range(&experiment, key), "{source}");
            }
        }
    }
}

/// A swept key with a distribution of edge bounds: the key, the distribution, the bounds, and
/// whether the sweep is a grid with per-key `samples` (also an edge) or random.
fn distribution() -> impl Strategy<Value = (String, &'static str, String, String, Option<String>)> {
    let keys: Vec<&str> = RANGES
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| RUN_SECTIONS.contains(&key.split('.').next().unwrap_or_default()))
        .collect();
    (
        prop::sample::select(keys),
        prop::sample::select(vec!["uniform", "log_uniform", "int_uniform", "choice"]),
        prop::sample::select(EDGES.to_vec()),
        prop::sample::select(EDGES.to_vec()),
        prop::option::of(prop::sample::select(EDGES.to_vec())),
    )
        .prop_map(|(key, kind, low, high, samples)| {
            (
                key.to_string(),
                kind,
                low.to_string(),
                high.to_string(),
                samples.map(str::to_string),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn edge_values_in_several_keys_and_a_distribution_never_panic(
        assignments in prop::collection::vec(
            (prop::sample::select(RANGES.to_vec()), prop::sample::select(EDGES.to_vec())),
            0..4,
        ),
        swept in prop::option::of(distribution()),
    ) {
        let first = assignments.first().map_or("", |((key, _), _)| *key);
        let mut spec = match &swept {
            Some((key, kind, low, high, samples)) => {
                swept_spec(base_for(first), key, kind, (low, high), samples.as_deref())
            }
            None => base_for(first),
        };
        for ((key, _), edge) in &assignments {
            set(&mut spec, key, &written(key, edge, "h"));
        }
        let source = text(&spec);
        let result = outcome(&source);
        // A value outside its key's range is never accepted (the last one written of a key,
        // unless the sweep sets the key).
        let last: BTreeMap<&str, &str> =
            assignments.iter().map(|((key, _), edge)| (*key, *edge)).collect();
        for (key, edge) in last {
            let range = range_of(key).expect("a key of the table");
            let value: f64 = edge.parse().expect("edges are numbers");
            let swept_over = swept.as_ref().is_some_and(|(swept, ..)| swept == key);
            if !range.contains(value) && !swept_over {
                prop_assert!(result.is_err(), "`{}` = {} accepted:\n{}", key, edge, source);
            }
        }
        if let (Ok(experiment), Some((key, _, _, _, _))) = (&result, &swept) {
            prop_assert!(draws_in_range(experiment, key), "{}", source);
        }
    }
}
