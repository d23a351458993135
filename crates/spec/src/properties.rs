//! Property tests of the spec as a file format, on random valid run configurations:
//!
//! - a spec written from a configuration parses back to exactly that configuration;
//! - a run's id does not depend on how the spec is spelled: the order of sections and keys,
//!   inline tables, dotted keys or sub-table headers, and the spelling of numbers
//!   (`0.001`, `1e-3`, `1.00000000000000002e-3`, `+1E-3`, `0x20`);
//! - a run's id is the same in another process;
//! - a sweep's size is the product of its axes times the repeats.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::tests::parse_str;
use crate::*;

/// Random valid run configurations: every kind, architecture, penalty, noise and task, with
/// the settings each needs and none that it would drop.
fn valid_config() -> impl Strategy<Value = RunConfig> {
    let data = (
        prop::sample::select(vec!["mnist", "shuttle", "breast-cancer"]),
        prop_oneof![Just(0.0), 0.01f64..0.5],
        prop::option::of(1usize..100_000),
        prop::option::of(1usize..10_000),
        0u8..10,
    );
    let model = (
        prop::sample::select(vec![
            ModelKind::Vanilla,
            ModelKind::Sparse,
            ModelKind::Denoising,
            ModelKind::Contractive,
            ModelKind::Vae,
            ModelKind::Iwae,
            ModelKind::Vqvae,
        ]),
        prop::sample::subsequence(
            vec![
                ModelKind::Sparse,
                ModelKind::Denoising,
                ModelKind::Contractive,
            ],
            0..=2,
        ),
        any::<bool>(),
        prop::collection::vec(1usize..64, 1..=2),
        prop::collection::vec(1usize..512, 0..3),
        1usize..9,
        prop::sample::select(vec![
            Activation::Relu,
            Activation::LeakyRelu,
            Activation::Tanh,
            Activation::Sigmoid,
        ]),
        prop::sample::select(vec![
            CodeActivation::Identity,
            CodeActivation::Sigmoid,
            CodeActivation::Tanh,
            CodeActivation::Relu,
        ]),
        any::<bool>(),
        (
            2usize..70_000,
            1usize..64,
            0.0f64..2.0,
            any::<bool>(),
            0.0f64..1.0,
        ),
    );
    let penalties = (
        prop_oneof![Just(0.0), 1e-8f64..1.0],
        prop_oneof![Just(0.0), 1e-8f64..1.0],
        prop_oneof![Just(0.0), 1e-8f64..1.0],
        prop::option::of((0.001f64..0.999, 1e-6f64..10.0)),
        (1e-6f64..10.0, 1usize..8),
        (0.0f64..4.0, prop_oneof![Just(0.0), 0.5f64..20.0]),
        1usize..60,
    );
    let noise = (
        any::<bool>(),
        prop::sample::select(vec![
            NoiseKind::Gaussian,
            NoiseKind::Masking,
            NoiseKind::SaltAndPepper,
        ]),
        0.001f64..1.0,
    );
    let train = (
        any::<bool>(),
        1e-6f64..1.0,
        prop::option::of(0.0f64..0.999),
        1usize..1024,
        1usize..500,
        prop::option::of((1usize..20, 0.0f64..0.1)),
        prop::sample::subsequence(Task::ALL.to_vec(), 1..=Task::ALL.len()),
        any::<bool>(),
    );
    (any::<u32>(), data, model, penalties, noise, train).prop_map(
        |(seed, data, model, penalties, noise, train)| {
            let (dataset, validation, train_limit, test_limit, class) = data;
            let (kind, also, conv, channels, hidden, latent, activation, code, bce, codebook) =
                model;
            let (weight_decay, weight_l1, activation_l1, sparsity, contractive, kl, samples) =
                penalties;
            let (noisy, noise_kind, level) = noise;
            let (sgd, learning_rate, momentum, batch_size, epochs, early, mut tasks, reverse) =
                train;
            if reverse {
                tasks.reverse();
            }
            let vqvae = kind == ModelKind::Vqvae;
            // A VQ-VAE combines with denoising alone.
            let also: Vec<ModelKind> = also
                .into_iter()
                .filter(|k| *k != kind && (!vqvae || *k == ModelKind::Denoising))
                .collect();
            let is = |k: ModelKind| kind == k || also.contains(&k);
            let (sparse, contractive_kind, denoising) = (
                is(ModelKind::Sparse),
                is(ModelKind::Contractive),
                is(ModelKind::Denoising),
            );
            let (vae, variational) = (kind == ModelKind::Vae, kind.is_variational());
            // The likelihood task is a VAE's or an IWAE's.
            if !variational {
                tasks.retain(|&task| task != Task::Likelihood);
                if tasks.is_empty() {
                    tasks.push(Task::Reconstruction);
                }
            }
            // KL sparsity needs sigmoid codes, and a VAE's code is a Gaussian sample.
            let sparsity = sparsity
                .filter(|_| sparse && !variational)
                .map(|(target, weight)| SparsityPenalty { target, weight });
            let code_activation = match (kind.has_code_activation(), &sparsity) {
                (false, _) => CodeActivation::Identity,
                (true, Some(_)) => CodeActivation::Sigmoid,
                (true, None) => code,
            };
            let activation_l1 = match (sparse, sparsity.is_some()) {
                (false, _) => 0.0,
                (true, false) if activation_l1 == 0.0 => 1e-3,
                (true, _) => activation_l1,
            };
            let conv = conv && dataset == "mnist";
            let features = match dataset {
                "mnist" => 784,
                "shuttle" => 9,
                _ => 30,
            };
            // One-class MNIST needs its normal class; the tabular sets mark their anomalies.
            let normal_class = match (tasks.contains(&Task::Anomaly), dataset) {
                (false, _) => None,
                (true, "mnist") => Some(class),
                (true, _) => (class < 2).then_some(class),
            };
            let noise =
                (noisy || denoising || tasks.contains(&Task::Denoising)).then_some(NoiseSection {
                    kind: noise_kind,
                    level,
                });
            let validation = if early.is_some() && validation == 0.0 {
                0.1
            } else {
                validation
            };
            RunConfig {
                seed: u64::from(seed),
                data: DataSection {
                    dataset: dataset.to_string(),
                    validation,
                    train_limit,
                    test_limit,
                    normal_class,
                    binarize: None,
                },
                model: ModelSection {
                    kind,
                    also,
                    architecture: if conv {
                        Architecture::Conv
                    } else {
                        Architecture::Mlp
                    },
                    channels: conv.then_some(channels),
                    hidden,
                    latent: latent.min(features - 1),
                    activation,
                    code_activation,
                    output: if bce {
                        OutputActivation::Sigmoid
                    } else {
                        OutputActivation::Identity
                    },
                    samples: (kind == ModelKind::Iwae).then_some(samples),
                    codebook: vqvae.then(|| {
                        let (size, dim, commitment, ema, decay) = codebook;
                        Codebook {
                            size: size.min(65_536),
                            dim,
                            commitment,
                            update: if ema {
                                CodebookUpdate::Ema
                            } else {
                                CodebookUpdate::Loss
                            },
                            decay,
                        }
                    }),
                },
                loss: LossSection {
                    reconstruction: if bce {
                        Reconstruction::Bce
                    } else {
                        Reconstruction::Mse
                    },
                },
                regularizers: RegularizersSection {
                    weight_decay,
                    weight_l1,
                    activation_l1,
                    sparsity,
                    contractive: contractive_kind.then_some(ContractivePenalty {
                        weight: contractive.0,
                        projections: contractive.1,
                    }),
                    kl: vae.then_some(KlPenalty {
                        beta: kl.0,
                        warmup_epochs: kl.1,
                    }),
                },
                noise,
                train: TrainSection {
                    optimizer: if sgd { Optimizer::Sgd } else { Optimizer::Adam },
                    learning_rate,
                    momentum: momentum.filter(|_| sgd),
                    batch_size,
                    epochs,
                    early_stopping: early.map(|(patience, min_delta)| EarlyStopping {
                        patience,
                        min_delta,
                    }),
                    backend: Backend::Flex,
                    checkpoint_every: None,
                },
                evaluate: EvaluateSection {
                    tasks,
                    importance_samples: None,
                },
            }
        },
    )
}

/// The run sections of `config` as a TOML table, and its seed.
fn run_sections(config: &RunConfig) -> (toml::Table, u64) {
    let mut table = toml::Table::try_from(config).expect("a run config serializes to TOML");
    table.remove("seed");
    (table, config.seed)
}

/// A spec of the single run `config`, written by the `toml` crate.
fn plain_spec(config: &RunConfig) -> String {
    let (table, seed) = run_sections(config);
    format!(
        "[experiment]\nname = \"property\"\nseed = {seed}\n\n{}",
        toml::to_string(&table).expect("a table serializes")
    )
}

/// The same spec as [`plain_spec`], spelled at random: sections and keys shuffled, nested
/// tables inline, dotted or under their own header, numbers in varied notations.
fn respelled_spec(config: &RunConfig, rng: &mut ChaCha8Rng) -> String {
    let (table, seed) = run_sections(config);
    let mut sections: Vec<String> = table
        .iter()
        .map(|(name, value)| {
            let section = value.as_table().expect("run sections are tables");
            respelled_section(name, section, rng)
        })
        .collect();
    sections.push(format!(
        "[experiment]\nseed = {}\nname = 'property'\n",
        integer(seed as i64, rng)
    ));
    sections.shuffle(rng);
    sections.join("\n")
}

fn respelled_section(name: &str, section: &toml::Table, rng: &mut ChaCha8Rng) -> String {
    let mut keys: Vec<(&String, &toml::Value)> = section.iter().collect();
    keys.shuffle(rng);
    let mut lines = format!("[{name}]\n");
    let mut headers = String::new();
    for (key, value) in keys {
        match value {
            toml::Value::Table(inner) => match rng.random_range(0..3) {
                0 => writeln!(lines, "{key} = {}", respelled(value, rng)),
                1 => {
                    let mut entries: Vec<_> = inner.iter().collect();
                    entries.shuffle(rng);
                    entries
                        .into_iter()
                        .try_for_each(|(k, v)| writeln!(lines, "{key}.{k} = {}", respelled(v, rng)))
                }
                _ => {
                    headers.push('\n');
                    headers.push_str(&respelled_section(&format!("{name}.{key}"), inner, rng));
                    Ok(())
                }
            },
            _ => writeln!(lines, "{key} = {}", respelled(value, rng)),
        }
        .expect("writing to a string");
    }
    lines + &headers
}

/// `value` in one of the spellings TOML allows for it.
fn respelled(value: &toml::Value, rng: &mut ChaCha8Rng) -> String {
    match value {
        toml::Value::Float(x) => match rng.random_range(0..5) {
            0 => format!("{x:?}"),
            1 => format!("{x:e}"),
            2 => format!("{x:E}"),
            3 => format!("{x:.20e}"),
            _ => format!("+{x:?}"),
        },
        toml::Value::Integer(i) => integer(*i, rng),
        toml::Value::String(s) if rng.random_bool(0.5) => format!("'{s}'"),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(|v| respelled(v, rng)).collect();
            let trailing = if !items.is_empty() && rng.random_bool(0.5) {
                ","
            } else {
                ""
            };
            format!("[ {}{trailing} ]", items.join(",\n  "))
        }
        toml::Value::Table(table) => {
            let mut entries: Vec<String> = table
                .iter()
                .map(|(k, v)| format!("{k} = {}", respelled(v, rng)))
                .collect();
            entries.shuffle(rng);
            format!("{{ {} }}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

fn integer(i: i64, rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..3) {
        0 => i.to_string(),
        1 if i >= 0 => format!("0x{i:x}"),
        _ => format!("+{i}"),
    }
}

fn single_run(source: &str) -> RunSpec {
    let experiment = parse_str(source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    assert_eq!(experiment.runs.len(), 1, "{source}");
    experiment.runs.into_iter().next().expect("one run")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_valid_spec_parses_back_to_the_configuration_it_was_written_from(
        config in valid_config(),
    ) {
        let run = single_run(&plain_spec(&config));
        prop_assert_eq!(&run.config, &config);
        prop_assert_eq!(run.id, RunId::of(&config));
    }

    #[test]
    fn run_ids_do_not_depend_on_key_order_or_number_spelling(
        config in valid_config(),
        spelling in any::<u64>(),
    ) {
        let mut rng = ChaCha8Rng::seed_from_u64(spelling);
        let respelled = respelled_spec(&config, &mut rng);
        let run = single_run(&respelled);
        prop_assert_eq!(&run.config, &config, "{}", respelled);
        prop_assert_eq!(run.id, RunId::of(&config));
    }

    #[test]
    fn sweep_size_is_the_product_of_the_axes_times_repeats(
        latents in prop::collection::btree_set(1usize..700, 1..4),
        epochs in prop::collection::btree_set(1usize..50, 1..4),
        rates in prop::collection::btree_set(1u32..1000, 1..3),
        repeats in 1u32..4,
    ) {
        let list = |items: Vec<String>| items.join(", ");
        let source = format!(
            "[experiment]\nname = \"p\"\nrepeats = {repeats}\n[data]\ndataset = \"mnist\"\n\
             [sweep.parameters]\n\"model.latent\" = [{}]\n\"train.epochs\" = [{}]\n\
             \"train.learning_rate\" = [{}]\n",
            list(latents.iter().map(|v| v.to_string()).collect()),
            list(epochs.iter().map(|v| v.to_string()).collect()),
            list(rates.iter().map(|v| format!("{v}e-5")).collect()),
        );
        let experiment = parse_str(&source).unwrap();
        let product = latents.len() * epochs.len() * rates.len() * repeats as usize;
        prop_assert_eq!(experiment.expanded, product);
        prop_assert_eq!(experiment.runs.len(), product);
        let ids: BTreeSet<_> = experiment.runs.iter().map(|r| &r.id).collect();
        prop_assert_eq!(ids.len(), product);
    }
}

/// Environment variable through which [`ids_are_the_same_in_another_process`] hands specs to
/// [`print_run_ids`] in a child process.
const SPECS_FOR_CHILD: &str = "HOURGLASS_SPECS_FOR_CHILD";
const SEPARATOR: &str = "\n#--- next spec ---\n";

#[test]
#[ignore = "the child half of ids_are_the_same_in_another_process"]
fn print_run_ids() {
    let specs = std::env::var(SPECS_FOR_CHILD).expect("specs from the parent process");
    for spec in specs.split(SEPARATOR) {
        println!("run id: {}", single_run(spec).id);
    }
}

#[test]
fn ids_are_the_same_in_another_process() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let configs: Vec<RunConfig> = (0..20)
        .map(|_| {
            valid_config()
                .new_tree(&mut runner)
                .expect("a configuration")
                .current()
        })
        .collect();
    let specs: Vec<String> = configs.iter().map(plain_spec).collect();
    let output = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "properties::print_run_ids",
            "--ignored",
            "--nocapture",
        ])
        .env(SPECS_FOR_CHILD, specs.join(SEPARATOR))
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let theirs: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("run id: "))
        .collect();
    let ours: Vec<String> = configs.iter().map(|c| RunId::of(c).to_string()).collect();
    assert_eq!(theirs, ours);
}
