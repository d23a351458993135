//! Tests of parsing, validation and expansion through the public entry point.

use std::path::Path;

use super::*;
use crate::result::EpochMetric;

pub(crate) fn catalog() -> Catalog {
    Catalog {
        datasets: [
            ("mnist".to_string(), vec![1, 28, 28]),
            ("fashion-mnist".to_string(), vec![1, 28, 28]),
            ("shuttle".to_string(), vec![9]),
            ("breast-cancer".to_string(), vec![30]),
            ("ucr-internal-bleeding-16".to_string(), vec![64]),
            ("photo-patches".to_string(), vec![3, 32, 32]),
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
                "fashion-mnist".to_string(),
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
            (
                "breast-cancer".to_string(),
                Labels {
                    classes: Some(2),
                    anomaly_label: Some(0),
                },
            ),
            (
                "ucr-internal-bleeding-16".to_string(),
                Labels {
                    classes: Some(2),
                    anomaly_label: Some(1),
                },
            ),
            (
                "photo-patches".to_string(),
                Labels {
                    classes: Some(3),
                    anomaly_label: None,
                },
            ),
        ]
        .into(),
    }
}

pub(crate) fn parse_str(source: &str) -> Result<Experiment, SpecError> {
    parse(Path::new("experiments/test.toml"), source, &catalog())
}

fn error_text(source: &str) -> String {
    parse_str(source)
        .expect_err("spec should be refused")
        .to_string()
}

const MINIMAL: &str = r#"
[experiment]
name = "minimal"

[data]
dataset = "mnist"
"#;

#[test]
fn minimal_spec_gets_the_documented_defaults() {
    let experiment = parse_str(MINIMAL).unwrap();
    assert_eq!(experiment.runs.len(), 1);
    let config = &experiment.runs[0].config;
    assert_eq!(config.seed, 0);
    assert_eq!(config.model.hidden, vec![256]);
    assert_eq!(config.model.latent, 32);
    assert_eq!(config.train.learning_rate, 1e-3);
    assert_eq!(config.train.batch_size, 128);
    assert_eq!(config.train.epochs, 10);
    assert_eq!(config.data.validation, 0.1);
    assert_eq!(config.evaluate.tasks, vec![Task::Reconstruction]);
}

#[test]
fn reference_spec_is_valid_and_documents_every_key() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/reference.toml");
    let source = std::fs::read_to_string(&path).unwrap();
    let experiment = parse(&path, &source, &catalog()).unwrap();
    assert!(!experiment.runs.is_empty());
    // Every key of every run's effective configuration appears in the reference, set or
    // commented.
    fn keys(prefix: &str, table: &toml::Table, found: &mut BTreeSet<String>) {
        for (key, value) in table {
            found.insert(format!("{prefix}{key}"));
            if let Some(inner) = value.as_table() {
                keys(&format!("{prefix}{key}."), inner, found);
            }
        }
    }
    let mut found = BTreeSet::new();
    for run in &experiment.runs {
        let config = toml::Value::try_from(&run.config).unwrap();
        keys("", config.as_table().unwrap(), &mut found);
    }
    for path in found.iter().filter(|path| path.contains('.')) {
        let key = path.rsplit('.').next().unwrap();
        assert!(
            source.contains(&format!("{key} =")),
            "experiments/reference.toml does not document `{path}`"
        );
    }
    assert!(found.contains("regularizers.kl.warmup_epochs") && found.contains("noise.level"));
    for key in [
        "name =",
        "description =",
        "repeats =",
        "strategy =",
        "[sweep.parameters]",
    ] {
        assert!(
            source.contains(key),
            "reference.toml does not document `{key}`"
        );
    }
}

#[test]
fn every_example_spec_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        // references.toml lists published numbers, not an experiment.
        if path.extension().is_some_and(|e| e == "toml") && !path.ends_with("references.toml") {
            let source = std::fs::read_to_string(&path).unwrap();
            if let Err(e) = parse(&path, &source, &catalog()) {
                panic!("{e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected the example specs, found {checked}");
}

#[test]
fn committed_json_schema_is_current() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/hourglass.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == crate::json_schema(),
        "{} is stale: run `cargo xtask schema`",
        path.display()
    );
}

#[test]
fn sweeps_too_large_to_expand_are_refused_before_expansion() {
    // Each of these once exhausted memory or ran for minutes (found with the fuzz target).
    let draws = error_text(&format!(
        "{MINIMAL}[sweep.parameters]\n\"model.latent\" = {{ int_uniform = [1, 9], samples = 100000000 }}\n"
    ));
    let grid = error_text(&format!(
        "{MINIMAL}[sweep.parameters]\n\"model.latent\" = {{ int_uniform = [1, 9], samples = 1000 }}\n\
         \"train.epochs\" = {{ int_uniform = [1, 9], samples = 1000 }}\n"
    ));
    let random = error_text(&format!(
        "{MINIMAL}[sweep]\nstrategy = \"random\"\nsamples = 100000000\n\
         [sweep.parameters]\n\"model.latent\" = [1, 2]\n"
    ));
    let repeats = error_text(&MINIMAL.replace(
        "name = \"minimal\"",
        "name = \"minimal\"\nrepeats = 4000000000",
    ));
    insta::assert_snapshot!(format!("{draws}\n{grid}\n{random}\n{repeats}"));
    let mut largest = MINIMAL.replace("name = \"minimal\"", "name = \"minimal\"\nrepeats = 10");
    largest.push_str(
        "[sweep.parameters]\n\"train.epochs\" = { int_uniform = [1, 1000], samples = 1000 }\n",
    );
    assert_eq!(parse_str(&largest).unwrap().expanded, space::MAX_RUNS);
}

#[test]
fn unknown_key_points_at_it_and_suggests_the_right_one() {
    let text = error_text(&format!("{MINIMAL}\n[model]\nlaten = 16\n"));
    insta::assert_snapshot!(text);
}

#[test]
fn errors_of_independent_sections_come_in_one_pass() {
    // A semantic error in [experiment], a wrong type in [model], an unknown key in [train], a
    // semantic error in [resources]: the sections that cannot be read do not hide the others.
    let source = "[experiment]\nname = \"x\"\nrepeats = 0\n\n[data]\ndataset = \"mnist\"\n\n\
                  [model]\nlatent = \"eight\"\n\n[train]\nlearning_rat = 0.1\n\n\
                  [resources]\nworkers = 0\n";
    let error = parse(Path::new("spec.toml"), source, &catalog()).unwrap_err();
    let keys: Vec<&str> = (error.diagnostics().iter())
        .map(|diagnostic| diagnostic.key.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "experiment.repeats",
            "model.latent",
            "", // an unknown key is named in the message
            "resources.workers"
        ],
        "{error}"
    );
    insta::assert_snapshot!(error.to_string());
}

#[test]
fn a_latent_task_without_two_classes_to_probe_is_warned_of() {
    let latent = "\n[evaluate]\ntasks = [\"reconstruction\", \"latent\"]\n";
    let mut catalog = catalog();
    catalog.datasets.insert("my-table".into(), vec![50]);
    let parse = |source: &str| {
        parse(Path::new("experiments/test.toml"), source, &catalog)
            .unwrap()
            .warnings
    };
    assert!(parse(&format!("{MINIMAL}{latent}")).is_empty());
    let unlabelled = parse(&format!(
        "[experiment]\nname = \"x\"\n[data]\ndataset = \"my-table\"\n{latent}"
    ));
    let [warning] = unlabelled.as_slice() else {
        panic!("{unlabelled:#?}")
    };
    assert!(
        warning.contains("data set `my-table` has no class labels")
            && warning.contains("no `probe_accuracy` will be recorded")
            && warning.contains("experiments/test.toml:"),
        "{warning}"
    );
    let one_class = parse(&format!(
        "{MINIMAL}normal_class = 0\n\n[evaluate]\ntasks = [\"anomaly\", \"latent\"]\n"
    ));
    assert_eq!(one_class.len(), 1, "{one_class:#?}");
    assert!(
        one_class[0].contains("normal examples alone"),
        "{}",
        one_class[0]
    );
}

#[test]
fn values_far_outside_their_usual_range_are_warned_of_not_refused() {
    let written = parse_str(&format!("{MINIMAL}\n[train]\nlearning_rate = 1e6\n")).unwrap();
    assert_eq!(written.warnings.len(), 1, "{:#?}", written.warnings);
    insta::assert_snapshot!(written.warnings[0]);

    let swept = parse_str(&format!(
        "{MINIMAL}\n[sweep.parameters]\n\"model.hidden\" = [[256], [128, 1000000]]\n"
    ))
    .unwrap();
    assert_eq!(swept.runs.len(), 2);
    let [warning] = swept.warnings.as_slice() else {
        panic!("{:#?}", swept.warnings)
    };
    assert!(
        warning.starts_with("warning: `model.hidden`: 1000000 is far outside the usual range")
            && warning.contains("experiments/test.toml:"),
        "{warning}"
    );

    let usual = parse_str(&format!(
        "{MINIMAL}\n[train]\nlearning_rate = 1e-3\nepochs = 50\n\n[model]\nhidden = [512, 64]\n"
    ))
    .unwrap();
    assert!(usual.warnings.is_empty(), "{:#?}", usual.warnings);
}

#[test]
fn wrong_type_points_at_the_value() {
    let text = error_text(&format!("{MINIMAL}\n[train]\nbatch_size = \"large\"\n"));
    insta::assert_snapshot!(text);
}

#[test]
fn unknown_model_kind_lists_the_kinds() {
    let text = error_text(&format!("{MINIMAL}\n[model]\nkind = \"vanila\"\n"));
    insta::assert_snapshot!(text);
}

#[test]
fn missing_dataset_suggests_a_near_name() {
    let text = error_text("[experiment]\nname = \"x\"\n\n[data]\ndataset = \"mnsit\"\n");
    insta::assert_snapshot!(text);
}

#[test]
fn out_of_range_values_are_all_reported_together() {
    let source = format!(
        "{MINIMAL}\n[model]\nlatent = 784\n\n[train]\nlearning_rate = -0.1\nbatch_size = 0\n"
    );
    let err = parse_str(&source).unwrap_err();
    assert_eq!(err.diagnostics().len(), 3);
    insta::assert_snapshot!(err.to_string());
}

#[test]
fn tasks_without_their_prerequisites_are_refused() {
    let source =
        format!("{MINIMAL}normal_class = 12\n\n[evaluate]\ntasks = [\"denoising\", \"anomaly\"]\n");
    let err = parse_str(&source).unwrap_err();
    assert_eq!(err.diagnostics().len(), 2, "{err}");
    insta::assert_snapshot!(err.to_string());
    let unlabelled = format!("{MINIMAL}\n[evaluate]\ntasks = [\"anomaly\"]\n");
    insta::assert_snapshot!(error_text(&unlabelled));
    let unused = format!("{MINIMAL}normal_class = 3\n");
    insta::assert_snapshot!(error_text(&unused));
}

#[test]
fn one_class_mnist_makes_a_run_per_normal_digit() {
    let source = format!(
        "{MINIMAL}\n[evaluate]\ntasks = [\"anomaly\"]\n\n\
         [sweep.parameters]\n\"data.normal_class\" = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    );
    let experiment = parse_str(&source).unwrap();
    let classes: Vec<Option<u8>> = experiment
        .runs
        .iter()
        .map(|run| run.config.data.normal_class)
        .collect();
    assert_eq!(classes, (0..10).map(Some).collect::<Vec<_>>());
    let shuttle = "[experiment]\nname = \"s\"\n[data]\ndataset = \"shuttle\"\n\
                   [model]\nlatent = 4\noutput = \"identity\"\n[evaluate]\ntasks = [\"anomaly\"]\n";
    assert!(parse_str(shuttle).is_ok(), "{:?}", parse_str(shuttle).err());
}

#[test]
fn out_of_range_swept_value_points_at_the_sweep_entry() {
    let source = format!("{MINIMAL}\n[sweep.parameters]\n\"model.latent\" = [2, 1000]\n");
    insta::assert_snapshot!(error_text(&source));
}

#[test]
fn swept_value_of_the_wrong_type_points_at_the_sweep_entry() {
    let source = format!("{MINIMAL}\n[sweep.parameters]\n\"train.epochs\" = [1, \"two\"]\n");
    let text = error_text(&source);
    assert!(
        text.contains(
            "swept value \"two\": invalid type: string \"two\", expected an integer from 1 to 4294967295"
        ),
        "{text}"
    );
    assert!(text.contains("experiments/test.toml:9:18"), "{text}");
}

#[test]
fn unknown_swept_key_is_refused_with_a_suggestion() {
    let source = format!("{MINIMAL}\n[sweep.parameters]\n\"model.laten\" = [2, 4]\n");
    let text = error_text(&source);
    assert!(text.contains("did you mean `latent`?"), "{text}");
    assert!(text.contains("test.toml:9:"), "{text}");
}

#[test]
fn syntax_error_has_line_and_column() {
    let text = error_text("[experiment]\nname = \"x\n");
    assert!(text.contains("--> experiments/test.toml:2:"), "{text}");
}

#[test]
fn momentum_does_not_change_the_id_of_an_adam_run() {
    let plain = parse_str(MINIMAL).unwrap();
    let swept = parse_str(&format!(
        "{MINIMAL}\n[train]\nmomentum = 0.5\n\n[sweep.parameters]\n\"train.optimizer\" = [\"adam\", \"sgd\"]\n"
    ))
    .unwrap();
    assert_eq!(swept.runs.len(), 2);
    assert_eq!(plain.runs[0].id, swept.runs[0].id);
    assert_ne!(plain.runs[0].id, swept.runs[1].id);
    assert_eq!(swept.runs[1].config.train.momentum, Some(0.5));
}

#[test]
fn a_key_that_applies_to_no_run_is_refused_with_its_owner() {
    let text = error_text(&format!("{MINIMAL}\n[train]\nmomentum = 0.5\n"));
    insta::assert_snapshot!(text);
}

/// A zoo: every kind's settings in one spec, the kind swept.
const ZOO: &str = r#"
[experiment]
name = "zoo"

[data]
dataset = "mnist"

[model]
code_activation = "sigmoid"

[regularizers]
sparsity = { target = 0.05, weight = 1e-3 }
contractive = { weight = 0.1 }
kl = { beta = 0.5 }

[noise]
kind = "gaussian"
level = 0.3

[sweep.parameters]
"model.kind" = ["sparse", "denoising", "contractive", "vae"]
"#;

#[test]
fn each_kind_keeps_only_its_own_settings() {
    let experiment = parse_str(ZOO).unwrap();
    let [sparse, denoising, contractive, vae] = &experiment.runs[..] else {
        panic!("expected four runs, got {}", experiment.runs.len());
    };
    let regularizers = |run: &RunSpec| run.config.regularizers.clone();
    assert!(regularizers(sparse).sparsity.is_some() && regularizers(sparse).contractive.is_none());
    assert!(
        regularizers(denoising).sparsity.is_none() && regularizers(denoising).contractive.is_none()
    );
    assert!(
        regularizers(contractive).contractive.is_some()
            && regularizers(contractive).sparsity.is_none()
    );
    assert_eq!(regularizers(vae).kl.map(|kl| kl.beta), Some(0.5));
    assert!(
        [sparse, denoising, contractive]
            .iter()
            .all(|run| run.config.regularizers.kl.is_none())
    );
    assert_eq!(vae.config.model.code_activation, CodeActivation::Identity);
    assert_eq!(sparse.config.model.code_activation, CodeActivation::Sigmoid);
    // The noise stays with every run: it is how each is evaluated.
    assert!(experiment.runs.iter().all(|run| run.config.noise.is_some()));
}

#[test]
fn also_combines_kinds_in_one_run() {
    let source = ZOO.replace(
        "\"model.kind\" = [\"sparse\", \"denoising\", \"contractive\", \"vae\"]",
        "\"model.also\" = [[\"denoising\"], [\"denoising\", \"sparse\", \"denoising\"]]",
    );
    let source = source
        .replace("[model]\n", "[model]\nkind = \"sparse\"\n")
        .replace("contractive = { weight = 0.1 }\nkl = { beta = 0.5 }\n", "");
    let experiment = parse_str(&source).unwrap();
    // `also` is normalised (sorted, deduplicated, without the primary kind): one run.
    assert_eq!(experiment.runs.len(), 1, "{:?}", experiment.runs);
    let model = &experiment.runs[0].config.model;
    assert!(model.is(ModelKind::Sparse) && model.is(ModelKind::Denoising));
    assert!(!model.is(ModelKind::Contractive));
}

#[test]
fn a_vae_gets_the_default_kl_term_spelled_out() {
    let plain = parse_str(&format!("{MINIMAL}\n[model]\nkind = \"vae\"\n")).unwrap();
    let explicit = parse_str(&format!(
        "{MINIMAL}\n[model]\nkind = \"vae\"\n\n[regularizers]\nkl = {{ beta = 1.0 }}\n"
    ))
    .unwrap();
    assert_eq!(plain.runs[0].id, explicit.runs[0].id);
    assert_eq!(
        plain.runs[0].config.regularizers.kl,
        Some(KlPenalty::default())
    );
}

#[test]
fn kinds_without_their_settings_are_refused() {
    for (kind, expected) in [
        ("sparse", "needs a sparsity penalty"),
        ("denoising", "needs a `[noise]` section"),
        ("contractive", "needs `regularizers.contractive`"),
    ] {
        let text = error_text(&format!("{MINIMAL}\n[model]\nkind = \"{kind}\"\n"));
        assert!(text.contains(expected), "{kind}: {text}");
        assert!(text.contains("test.toml:9:8"), "{kind}: {text}");
    }
}

#[test]
fn kl_sparsity_needs_sigmoid_codes() {
    let text = error_text(&format!(
        "{MINIMAL}\n[model]\nkind = \"sparse\"\n\n[regularizers]\nsparsity = {{ weight = 1e-3 }}\n"
    ));
    insta::assert_snapshot!(text);
}

#[test]
fn conv_needs_images_that_halve_evenly() {
    let text = error_text(&format!(
        "{MINIMAL}\n[model]\narchitecture = \"conv\"\nchannels = [8, 16, 32]\n"
    ));
    assert!(text.contains("divisible by 8"), "{text}");
    assert!(text.contains("[1, 28, 28]"), "{text}");
    assert!(parse_str(&format!("{MINIMAL}\n[model]\narchitecture = \"conv\"\n")).is_ok());
}

#[test]
fn duplicate_configurations_collapse_into_one_run() {
    let source = format!("{MINIMAL}\n[sweep.parameters]\n\"model.latent\" = [8, 8, 16]\n");
    let experiment = parse_str(&source).unwrap();
    assert_eq!(experiment.expanded, 3);
    assert_eq!(experiment.runs.len(), 2);
}

#[test]
fn backend_not_compiled_in_names_the_feature() {
    let text = error_text(&format!("{MINIMAL}\n[train]\nbackend = \"tch\"\n"));
    assert!(text.contains("rebuild with `--features tch`"), "{text}");
}

#[test]
fn unsafe_experiment_name_is_refused() {
    let text = error_text("[experiment]\nname = \"../../etc\"\n[data]\ndataset = \"mnist\"\n");
    assert!(text.contains("cannot be a folder name"), "{text}");
}

#[test]
fn run_ids_do_not_depend_on_key_order_or_float_spelling() {
    let a = "[experiment]\nname = \"a\"\n[data]\ndataset = \"mnist\"\n[train]\nlearning_rate = 0.001\nepochs = 3\n";
    let b = "[train]\nepochs = 3\nlearning_rate = 1e-3\n[data]\ndataset = \"mnist\"\n[experiment]\nname = \"b\"\n";
    assert_eq!(
        parse_str(a).unwrap().runs[0].id,
        parse_str(b).unwrap().runs[0].id
    );
}

#[test]
fn run_ids_are_pinned() {
    // A change of this id silently orphans every finished run on users' disks: change the
    // schema compatibly (new keys with defaults that are dropped when unused) or say so loudly.
    assert_eq!(
        parse_str(MINIMAL).unwrap().runs[0].id.as_str(),
        "0e0e7ea05e18"
    );
}

#[test]
fn tasks_that_do_not_change_training_keep_the_run_id() {
    let pinned = parse_str(MINIMAL).unwrap().runs.remove(0);
    assert_eq!(RunId::former(&pinned.config), None);
    let with_tasks = parse_str(&format!(
        "{MINIMAL}\n[evaluate]\ntasks = [\"compression\", \"latent\", \"generation\"]\n"
    ))
    .unwrap()
    .runs
    .remove(0);
    assert_eq!(with_tasks.id, pinned.id);
    // Before, the tasks were part of the id: that folder is where a finished run may be.
    let former = RunId::former(&with_tasks.config).expect("the tasks changed the former id");
    assert_ne!(former, pinned.id);
    assert_eq!(former.as_str().len(), 12);

    // Anomaly trains on normal examples only: another run.
    let anomaly = parse_str(&format!(
        "{MINIMAL}normal_class = 3\n\n[evaluate]\ntasks = [\"anomaly\"]\n"
    ))
    .unwrap();
    assert_ne!(anomaly.runs[0].id, pinned.id);
}

#[test]
fn task_names_are_the_names_specs_write() {
    for task in Task::ALL {
        let written = serde_json::to_value(task).unwrap();
        assert_eq!(written, task.name());
        assert_eq!(Task::named(task.name()), Some(task));
    }
    assert_eq!(Task::named("compresion"), None);
}

#[test]
fn configurations_differing_only_in_evaluation_are_one_run_with_all_their_tasks() {
    let experiment = parse_str(&format!(
        "{MINIMAL}\n[sweep.parameters]\n\"evaluate.tasks\" = [[\"compression\"], [\"latent\"]]\n"
    ))
    .unwrap();
    assert_eq!(experiment.expanded, 2);
    assert_eq!(experiment.runs.len(), 1);
    assert_eq!(
        experiment.runs[0].config.evaluate.tasks,
        [Task::Compression, Task::Latent]
    );
}

#[test]
fn zip_groups_and_kind_owned_keys_expand_and_collapse() {
    let source = r#"
[experiment]
name = "zip"
repeats = 1

[data]
dataset = "mnist"

[model]
code_activation = "sigmoid"

[regularizers]
sparsity = { target = 0.05, weight = 1e-3 }

[sweep]
zip = [["model.kind", "regularizers.sparsity.weight"]]

[sweep.parameters]
"model.kind" = ["vanilla", "vanilla", "sparse", "sparse"]
"regularizers.sparsity.weight" = [1e-3, 1e-2, 1e-3, 1e-2]
"model.latent" = [8, 16]
"#;
    let experiment = parse_str(source).unwrap();
    // 4 zipped pairs × 2 latents; the two vanilla pairs differ only in a weight that vanilla
    // drops, so they collapse.
    assert_eq!(experiment.expanded, 8);
    assert_eq!(experiment.runs.len(), 6);
    let described: Vec<String> = experiment
        .runs
        .iter()
        .map(|run| {
            let sparsity = run.config.regularizers.sparsity.as_ref().map(|s| s.weight);
            format!(
                "{} {} {sparsity:?}",
                run.config.model.kind.name(),
                run.config.model.latent
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            "vanilla 8 None",
            "vanilla 16 None",
            "sparse 8 Some(0.001)",
            "sparse 16 Some(0.001)",
            "sparse 8 Some(0.01)",
            "sparse 16 Some(0.01)",
        ]
    );
    // A vanilla run's summary does not claim the weight it dropped.
    assert!(
        !experiment.runs[0].summary().contains("sparsity"),
        "{}",
        experiment.runs[0].summary()
    );
}

#[test]
fn a_random_sweep_draws_its_samples_and_checks_each_draw() {
    let source = format!(
        "{MINIMAL}\n[sweep]\nstrategy = \"random\"\nsamples = 5\n\n[sweep.parameters]\n\"train.learning_rate\" = {{ log_uniform = [1e-4, 1e-2] }}\n\"model.latent\" = {{ int_uniform = [4, 64] }}\n"
    );
    let experiment = parse_str(&source).unwrap();
    assert_eq!(experiment.expanded, 5);
    assert_eq!(experiment.runs.len(), 5);
    for run in &experiment.runs {
        assert!((1e-4..1e-2).contains(&run.config.train.learning_rate));
        assert!((4..=64).contains(&run.config.model.latent));
    }
    let text = error_text(&source.replace("samples = 5\n", ""));
    assert!(text.contains("a random sweep needs `samples`"), "{text}");
    let text = error_text(&source.replace("[4, 64]", "[4.5, 64]"));
    assert!(text.contains("expected integer bounds"), "{text}");
}

#[test]
fn resources_are_read_and_checked() {
    let experiment = parse_str(&format!(
        "{MINIMAL}\n[resources]\nworkers = 2\nthreads_per_worker = 1\ntimeout = \"1.5m\"\nretries = 2\npack = 8\n"
    ))
    .unwrap();
    assert_eq!(
        experiment.resources,
        Resources {
            slots: vec![Slot::cpu(2)],
            threads_per_worker: Some(1),
            timeout: Some(std::time::Duration::from_secs(90)),
            retries: 2,
            executor: Executor::Local,
            pack: 8,
        }
    );
    assert_eq!(parse_str(MINIMAL).unwrap().resources, Resources::default());
    let text = error_text(&format!(
        "{MINIMAL}\n[resources]\nworkers = 0\ntimeout = \"soon\"\n"
    ));
    assert!(
        text.contains(
            "`resources.workers`: 0 is out of range: expected an integer from 1 to 4294967295"
        ),
        "{text}"
    );
    assert!(
        text.contains("cannot read \"soon\" as a duration"),
        "{text}"
    );
}

#[test]
fn runs_are_placed_only_on_slots_that_offer_their_backend() {
    let slots = "[[resources.slots]]\ndevice = \"cpu\"\nbackends = [\"flex\"]\nworkers = 2\n\n\
                 [[resources.slots]]\ndevice = \"cuda:0\"\nbackends = [\"tch\", \"cuda\"]\n";
    let experiment = parse_str(&format!("{MINIMAL}\n{slots}")).unwrap();
    assert_eq!(
        experiment.resources.slots,
        vec![
            Slot {
                device: DeviceName::Cpu,
                backends: vec![Backend::Flex],
                workers: 2
            },
            Slot {
                device: DeviceName::Cuda(0),
                backends: vec![Backend::Tch, Backend::Cuda],
                workers: 1
            },
        ]
    );
    assert_eq!(experiment.resources.workers(), 3);

    let only_gpu = "[[resources.slots]]\ndevice = \"cuda:0\"\nbackends = [\"cuda\"]\n";
    let text = error_text(&format!("{MINIMAL}\n{only_gpu}"));
    assert!(
        text.contains("no slot of [resources] offers backend `flex` (slots: cuda:0)"),
        "{text}"
    );
    let mismatched = "[resources]\nworkers = 2\n\n[[resources.slots]]\ndevice = \"tpu\"\n\
                      backends = [\"flex\"]\n\n[[resources.slots]]\ndevice = \"gpu:1\"\nbackends = [\"flex\"]\n";
    let text = error_text(&format!("{MINIMAL}\n{mismatched}"));
    assert!(text.contains("\"tpu\" is not a device"), "{text}");
    assert!(
        text.contains("backend `flex` cannot run on gpu:1"),
        "{text}"
    );
    assert!(text.contains("it runs on cpu"), "{text}");
    assert!(
        text.contains("is set together with resources.slots"),
        "{text}"
    );
}

#[test]
fn pruning_is_read_and_checked() {
    let experiment = parse_str(&format!(
        "{MINIMAL}\n[sweep.pruning]\ngrace_epochs = 2\nreduction_factor = 2\n"
    ))
    .unwrap();
    assert_eq!(
        experiment.pruning,
        Some(Pruning {
            metric: EpochMetric::ValLoss,
            grace_epochs: 2,
            reduction_factor: 2
        })
    );
    assert_eq!(parse_str(MINIMAL).unwrap().pruning, None);
    let text = error_text(
        "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"mnist\"\nvalidation = 0.0\n\n\
         [sweep.pruning]\nreduction_factor = 1\n",
    );
    assert!(
        text.contains("`sweep.pruning.reduction_factor`: 1 is out of range: expected an integer from 2 to 4294967295"),
        "{text}"
    );
    let text = error_text(
        "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"mnist\"\nvalidation = 0.0\n\n\
         [sweep.pruning]\nmetric = \"val_mse\"\n",
    );
    assert!(
        text.contains("pruning compares `val_mse`, but `data.validation` is 0"),
        "{text}"
    );
}

#[test]
fn pruning_rungs_grow_geometrically_and_keep_the_best_fraction() {
    let pruning = Pruning {
        metric: EpochMetric::ValLoss,
        grace_epochs: 2,
        reduction_factor: 3,
    };
    let rungs: Vec<usize> = (1..=60).filter(|&e| pruning.is_rung(e)).collect();
    assert_eq!(rungs, vec![2, 6, 18, 54]);
    // The first run at a rung always continues; then the best third (at least one) does.
    assert!(pruning.promotes(9.0, &[]));
    assert!(!pruning.promotes(9.0, &[1.0]));
    assert!(pruning.promotes(0.5, &[1.0]));
    assert!(pruning.promotes(1.5, &[1.0, 2.0, 3.0, 4.0, 5.0]));
    assert!(!pruning.promotes(2.5, &[1.0, 2.0, 3.0, 4.0, 5.0]));
}

#[test]
fn rungs_and_worker_counts_of_huge_values_neither_overflow_nor_panic() {
    let huge = Pruning {
        metric: EpochMetric::ValLoss,
        grace_epochs: usize::MAX / 2 + 1,
        reduction_factor: 3,
    };
    assert!(huge.is_rung(usize::MAX / 2 + 1));
    assert!(!huge.is_rung(usize::MAX));
    let steep = Pruning {
        grace_epochs: 2,
        reduction_factor: usize::MAX,
        ..huge
    };
    assert!(steep.is_rung(2) && !steep.is_rung(3) && !steep.is_rung(usize::MAX));
    let flat = Pruning {
        grace_epochs: 2,
        reduction_factor: 1,
        ..huge
    };
    assert!(flat.is_rung(2) && !flat.is_rung(4));
    let resources = Resources {
        slots: vec![Slot::cpu(usize::MAX), Slot::cpu(usize::MAX)],
        ..Resources::default()
    };
    assert_eq!(resources.workers(), usize::MAX);
}

#[test]
fn early_stopping_waits_for_patience_epochs_after_the_best() {
    let rule = EarlyStopping {
        patience: 2,
        min_delta: 0.01,
    };
    assert!(!rule.should_stop(&[]));
    assert!(!rule.should_stop(&[1.0, 0.9]));
    assert!(!rule.should_stop(&[1.0, 0.9, 0.95]));
    assert!(rule.should_stop(&[1.0, 0.9, 0.95, 0.92]));
    // An improvement smaller than min_delta does not reset the count.
    assert!(rule.should_stop(&[1.0, 0.9, 0.895, 0.899]));
    assert!(!rule.should_stop(&[1.0, 0.9, 0.95, 0.85]));
    let text = error_text(
        "[experiment]\nname = \"x\"\n\n[data]\ndataset = \"mnist\"\nvalidation = 0.0\n\n\
         [train]\nearly_stopping = { patience = 3 }\n",
    );
    assert!(text.contains("`data.validation` is 0"), "{text}");
}

#[test]
fn slurm_settings_become_sbatch_options() {
    let source = format!(
        "{MINIMAL}[resources]\nexecutor = \"slurm\"\nthreads_per_worker = 2\n\n\
         [resources.slurm]\npartition = \"gpu-a100\"\ntime_limit = \"90s\"\ncpus_per_task = 4\n\
         mem = \"8G\"\narray_parallelism = 3\n\
         extra_args = [\"--account=lab\", \"--qos=short\"]\n"
    );
    let experiment = parse_str(&source).unwrap();
    let Executor::Slurm(slurm) = &experiment.resources.executor else {
        panic!("{:?}", experiment.resources.executor);
    };
    assert_eq!(
        slurm.sbatch_options(),
        [
            "--partition=gpu-a100",
            "--time=2",
            "--cpus-per-task=4",
            "--mem=8G",
            // 90 s by default, but at most half of a 2-minute limit.
            "--signal=B:USR1@60",
            "--requeue",
            "--open-mode=append",
            "--account=lab",
            "--qos=short"
        ]
    );
    assert_eq!(slurm.array_parallelism, Some(3));
    assert_eq!(experiment.resources.slots[0].device, DeviceName::Cpu);
    let graced = parse_str(&source.replace(
        "time_limit = \"90s\"",
        "time_limit = \"1h\"\nsignal_grace = \"2m\"",
    ));
    let Executor::Slurm(graced) = graced.unwrap().resources.executor else {
        panic!("not Slurm");
    };
    assert!(
        graced
            .sbatch_options()
            .contains(&"--signal=B:USR1@120".to_string())
    );
    // A GPU task trains on its GPU, where flex cannot.
    let gpu = error_text(&source.replace("mem =", "gpus_per_task = 1\nmem ="));
    assert!(
        gpu.contains("backend `flex` cannot train on the Slurm tasks' device, cuda:0"),
        "{gpu}"
    );
}

#[test]
fn slurm_settings_that_could_reach_a_shell_or_clash_are_refused() {
    let text = error_text(&format!(
        "{MINIMAL}[resources]\nexecutor = \"slurm\"\nworkers = 2\n\n\
         [resources.slurm]\npartition = \"debug; rm -rf ~\"\nmem = \"lots\"\ntime_limit = \"soon\"\n\
         cpus_per_task = 0\nextra_args = [\"--array=0-99\", \"-p debug\", \"--comment=a\\nb\"]\n"
    ));
    insta::assert_snapshot!(text);
    let local = error_text(&format!(
        "{MINIMAL}[resources.slurm]\npartition = \"debug\"\n"
    ));
    assert!(
        local.contains("is set but the executor is local"),
        "{local}"
    );
}

const SEARCH: &str = r#"
[sweep]
strategy = "tpe"
samples = 12
objective = { metric = "test_psnr_db" }

[sweep.parameters]
"train.learning_rate" = { log_uniform = [1e-4, 1e-2] }
"model.latent" = { int_uniform = [4, 64] }
"model.code_activation" = ["identity", "sigmoid"]
"#;

#[test]
fn a_tpe_search_proposes_its_runs_and_builds_each_configurations_repeats() {
    let source = MINIMAL.replace("name = \"minimal\"", "name = \"minimal\"\nrepeats = 2");
    let experiment = parse_str(&format!("{source}{SEARCH}")).unwrap();
    let search = experiment.search.as_ref().expect("a search");
    assert_eq!(search.method, SearchMethod::Tpe);
    assert!(
        experiment.runs.is_empty(),
        "runs are proposed as results come in"
    );
    assert_eq!((search.samples, experiment.expanded), (12, 24));
    // The objective's own direction, and the report ranks by it.
    let objective = Objective {
        metric: "test_psnr_db".into(),
        goal: Direction::Maximize,
    };
    assert_eq!(search.objectives, vec![objective]);
    assert_eq!(experiment.primary_metric.name, "test_psnr_db");
    let keys: Vec<&str> = search.parameters.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "model.code_activation",
            "model.latent",
            "train.learning_rate"
        ]
    );
    assert_eq!(
        search.parameters[2].domain,
        SearchDomain::Float {
            low: 1e-4,
            high: 1e-2,
            log: true
        }
    );
    let values = [
        toml::Value::String("sigmoid".into()),
        toml::Value::Integer(16),
        toml::Value::Float(3e-3),
    ];
    let runs = search.runs(&values).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!((runs[0].config.seed, runs[1].config.seed), (0, 1));
    assert_eq!(runs[0].config.model.latent, 16);
    assert_eq!(runs[0].config.train.learning_rate, 3e-3);
    assert_eq!(
        runs[0].config.model.code_activation,
        CodeActivation::Sigmoid
    );
    assert_ne!(runs[0].id, runs[1].id);
    // It starts from the draws of the random sweep of the same seed and budget.
    let random_spec = format!("{source}{SEARCH}").replace("\"tpe\"", "\"random\"");
    let random_spec = random_spec.replace("objective = { metric = \"test_psnr_db\" }", "");
    let random = parse_str(&random_spec).unwrap();
    let drawn: Vec<Vec<toml::Value>> = (random.runs.iter().step_by(2))
        .map(|run| run.assignments.iter().map(|(_, v)| v.clone()).collect())
        .collect();
    assert_eq!(search.random_draws, drawn);
    // A value the run checks refuse is an error naming its key, not a panic.
    let too_wide = [
        values[0].clone(),
        toml::Value::Integer(100_000),
        values[2].clone(),
    ];
    let refused = search.runs(&too_wide).unwrap_err();
    assert!(refused.starts_with("model.latent"), "{refused}");
}

#[test]
fn an_nsga2_search_trades_off_two_objectives_in_their_own_directions() {
    let sweep = SEARCH.replace("\"tpe\"", "\"nsga2\"").replace(
        "objective = { metric = \"test_psnr_db\" }",
        "objectives = [{ metric = \"test_mse\" }, { metric = \"code_bits\", goal = \"minimize\" }]",
    );
    let tasks = "[evaluate]\ntasks = [\"reconstruction\", \"compression\"]\n";
    let experiment = parse_str(&format!("{MINIMAL}{tasks}{sweep}")).unwrap();
    let search = experiment.search.unwrap();
    assert_eq!(search.method, SearchMethod::Nsga2);
    let goals: Vec<(&str, Direction)> = (search.objectives.iter())
        .map(|o| (o.metric.as_str(), o.goal))
        .collect();
    assert_eq!(
        goals,
        [
            ("test_mse", Direction::Minimize),
            ("code_bits", Direction::Minimize)
        ]
    );
}

#[test]
fn a_search_is_refused_without_budget_objectives_or_with_zip_groups() {
    let refused =
        |from: &str, to: &str| error_text(&format!("{MINIMAL}{}", SEARCH.replace(from, to)));
    let text = refused("samples = 12\n", "");
    assert!(
        text.contains("a model-based search needs `samples` ≥ 1"),
        "{text}"
    );
    let text = refused("\"tpe\"", "\"nsga2\"");
    assert!(
        text.contains("`sweep.objective` is for `strategy = \"tpe\"`"),
        "{text}"
    );
    let text = refused(
        "objective = { metric = \"test_psnr_db\" }",
        "objectives = [{ metric = \"test_mse\" }]",
    );
    assert!(
        text.contains("`sweep.objectives` is for `strategy = \"nsga2\"`"),
        "{text}"
    );
    let text = refused("test_psnr_db", "psnr");
    assert!(
        text.contains("`psnr` is not a metric runs can be ranked by"),
        "{text}"
    );
    let text = refused("test_psnr_db", "code_bits");
    assert!(
        text.contains("recorded by the `compression` task"),
        "{text}"
    );
    let text = refused("\"tpe\"", "\"random\"");
    assert!(
        text.contains("`sweep.objective` is for `strategy = \"tpe\"`"),
        "{text}"
    );
    let text = refused(
        "[sweep.parameters]",
        "zip = [[\"model.latent\", \"train.learning_rate\"]]\n[sweep.parameters]",
    );
    assert!(text.contains("proposes each key on its own"), "{text}");
    let nsga = SEARCH.replace("\"tpe\"", "\"nsga2\"").replace(
        "objective = { metric = \"test_psnr_db\" }",
        "objectives = [{ metric = \"test_mse\" }]",
    );
    let text = error_text(&format!("{MINIMAL}{nsga}"));
    assert!(text.contains("two or more objectives, found 1"), "{text}");
}
