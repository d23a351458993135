//! Packed training is the same training: a run trained in a pack gives the metrics it gives
//! trained alone, for every kind that packs and both optimizers, and a run that diverges in a
//! pack fails alone, and one stopped from outside leaves it, while the others finish as if
//! neither had been there.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use burn::prelude::Device;
use hourglass_spec::RunConfig;
use hourglass_spec::result::{EpochRecord, METRICS_FILE, Measured, metric, read_epochs};
use hourglass_train::{PackProgress, Silent, TrainError, train_pack, train_run};

/// burn's seed is process-global: the tests take turns.
static TURNS: Mutex<()> = Mutex::new(());

/// One run of a test pack: its seed, lines added to `[model]` and `[train]`, and further
/// tables.
type Variant<'a> = (u64, &'a str, &'a str, &'a str);

/// The runs of MNIST specs (640 training examples, 3 epochs of batches of 64) that share the
/// `model` and `train` lines, one per variant.
fn runs(model: &str, train: &str, variants: &[Variant]) -> Vec<RunConfig> {
    let (_, catalog) = common::registry_and_catalog();
    variants
        .iter()
        .map(|(seed, more_model, more_train, tables)| {
            let spec = format!(
                "[experiment]\nname = \"pack\"\nseed = {seed}\n\n[data]\ndataset = \"mnist\"\n\
                 train_limit = 640\ntest_limit = 500\nvalidation = 0.1\n\n[model]\n{model}\n\
                 {more_model}\n\n[train]\nbatch_size = 64\nepochs = 3\n{train}\n{more_train}\n\n\
                 {tables}"
            );
            let experiment = hourglass_spec::parse(Path::new("pack.toml"), &spec, &catalog)
                .unwrap_or_else(|e| panic!("{spec}\n{e}"));
            experiment.runs[0].config.clone()
        })
        .collect()
}

/// A run's outcome: its metrics and its epoch records.
type Outcome = Result<(BTreeMap<String, f64>, Vec<EpochRecord>), String>;

fn epochs(dir: &Path) -> Vec<EpochRecord> {
    read_epochs(&dir.join(METRICS_FILE))
}

/// Each run trained alone.
fn alone(configs: &[RunConfig]) -> Vec<Outcome> {
    let (registry, _) = common::registry_and_catalog();
    configs
        .iter()
        .map(|config| {
            let dir = tempfile::tempdir().unwrap();
            train_run(config, &registry, dir.path(), &Device::flex(), &mut Silent)
                .map(|measured| (measured.metrics, epochs(dir.path())))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Collects each run's outcome; stops run `stop` after its first epoch, as the orchestrator
/// stops a pruned run.
struct Outcomes {
    outcomes: Vec<Option<Result<BTreeMap<String, f64>, String>>>,
    stop: Option<usize>,
    stopping: bool,
}

impl PackProgress for Outcomes {
    fn epoch_ended(&mut self, run: usize, _record: &EpochRecord, _epochs: usize) {
        self.stopping |= Some(run) == self.stop;
    }

    fn run_finished(&mut self, run: usize, outcome: Result<Measured, TrainError>) {
        assert!(self.outcomes[run].is_none(), "run {run} ended twice");
        assert_ne!(Some(run), self.stop, "a stopped run ended");
        let outcome = outcome.map(|measured| measured.metrics);
        self.outcomes[run] = Some(outcome.map_err(|e| e.to_string()));
    }

    fn stopped(&mut self, run: usize) -> bool {
        self.stopping && Some(run) == self.stop
    }
}

/// The runs trained as one pack, run `stop` stopped after its first epoch: each run's outcome
/// (`None` if it never ended) and epoch records.
fn packed_stopping(
    configs: &[RunConfig],
    stop: Option<usize>,
) -> Vec<(
    Option<Result<BTreeMap<String, f64>, String>>,
    Vec<EpochRecord>,
)> {
    let (registry, _) = common::registry_and_catalog();
    let dirs: Vec<tempfile::TempDir> = configs
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let paths: Vec<PathBuf> = dirs.iter().map(|d| d.path().to_path_buf()).collect();
    let mut outcomes = Outcomes {
        outcomes: vec![None; configs.len()],
        stop,
        stopping: false,
    };
    train_pack(configs, &registry, &paths, &Device::flex(), &mut outcomes);
    outcomes
        .outcomes
        .into_iter()
        .zip(&dirs)
        .map(|(outcome, dir)| (outcome, epochs(dir.path())))
        .collect()
}

/// The runs trained as one pack.
fn packed(configs: &[RunConfig]) -> Vec<Outcome> {
    packed_stopping(configs, None)
        .into_iter()
        .map(|(outcome, records)| {
            let outcome = outcome.expect("every run of a pack ends");
            outcome.map(|metrics| (metrics, records))
        })
        .collect()
}

/// Asserts that two outcomes of a run agree: the same error, or every metric but the timings
/// and every epoch's losses within `tolerance` (relative); returns the largest relative
/// difference.
fn assert_same(run: usize, alone: &Outcome, packed: &Outcome, tolerance: f64) -> f64 {
    let ((metrics, records), (packed_metrics, packed_records)) = match (alone, packed) {
        (Ok(alone), Ok(packed)) => (alone, packed),
        (Err(alone), Err(packed)) => {
            assert_eq!(alone, packed, "run {run}");
            return 0.0;
        }
        _ => panic!("run {run}: {alone:?} alone, {packed:?} in the pack"),
    };
    let timing = [metric::TRAIN_SECONDS, metric::SAMPLES_PER_SECOND];
    let names: Vec<&String> = metrics
        .keys()
        .filter(|k| !timing.contains(&k.as_str()))
        .collect();
    assert_eq!(
        names,
        packed_metrics
            .keys()
            .filter(|k| !timing.contains(&k.as_str()))
            .collect::<Vec<_>>(),
        "run {run}"
    );
    let mut pairs: Vec<(String, f64, f64)> = names
        .iter()
        .map(|&name| (name.clone(), metrics[name], packed_metrics[name]))
        .collect();
    assert_eq!(records.len(), packed_records.len(), "run {run}: epochs");
    for (a, b) in records.iter().zip(packed_records) {
        pairs.push((
            format!("epoch {} train_loss", a.epoch),
            a.train_loss,
            b.train_loss,
        ));
        pairs.push((
            format!("epoch {} val_loss", a.epoch),
            a.val_loss.unwrap(),
            b.val_loss.unwrap(),
        ));
    }
    let mut largest = 0.0f64;
    let mut mismatches = Vec::new();
    for (name, a, b) in pairs {
        let difference = (a - b).abs() / a.abs().max(1e-3);
        if difference > tolerance {
            mismatches.push(format!("{name} is {a} alone, {b} packed"));
        }
        largest = largest.max(difference);
    }
    assert!(
        mismatches.is_empty(),
        "run {run}: {}",
        mismatches.join("; ")
    );
    largest
}

/// Relative tolerance between a run alone and packed: the per-run means add in another order,
/// so the last bits may differ (measured: at most 5e-8 over these runs).
const TOLERANCE: f64 = 1e-6;

#[test]
fn every_kind_that_packs_trains_in_a_pack_as_it_trains_alone() {
    let _turn = TURNS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let groups = [
        (
            "the kinds that share a shape, with Adam",
            runs(
                "hidden = [64]\nlatent = 8\ncode_activation = \"sigmoid\"",
                "",
                &[
                    (1, "", "", ""),
                    (
                        2,
                        "kind = \"sparse\"",
                        "learning_rate = 0.003",
                        "[regularizers]\nactivation_l1 = 0.05\nweight_decay = 0.001",
                    ),
                    (
                        3,
                        "kind = \"sparse\"",
                        "",
                        "[regularizers]\nsparsity = { target = 0.1, weight = 0.3 }\nweight_l1 = 0.0001",
                    ),
                    (
                        4,
                        "kind = \"denoising\"",
                        "",
                        "[noise]\nkind = \"masking\"\nlevel = 0.3",
                    ),
                ],
            ),
        ),
        (
            "VAEs",
            runs(
                "kind = \"vae\"\nhidden = [64]\nlatent = 4",
                "learning_rate = 0.002",
                &[
                    (5, "", "", ""),
                    (
                        6,
                        "",
                        "",
                        "[regularizers]\nkl = { beta = 4, warmup_epochs = 2 }",
                    ),
                ],
            ),
        ),
        (
            "SGD with and without momentum",
            runs(
                "hidden = [64]\nlatent = 8",
                "optimizer = \"sgd\"",
                &[
                    (7, "", "learning_rate = 0.5\nmomentum = 0.9", ""),
                    (8, "", "learning_rate = 1.0", ""),
                ],
            ),
        ),
    ];
    for (what, configs) in groups {
        let key = configs[0].pack_key();
        assert!(
            key.is_some() && configs.iter().all(|c| c.pack_key() == key),
            "{what}"
        );
        let (alone, packed) = (alone(&configs), packed(&configs));
        let largest = (0..configs.len())
            .map(|run| assert_same(run, &alone[run], &packed[run], TOLERANCE))
            .fold(0.0, f64::max);
        eprintln!("{what}: largest relative difference {largest:.2e}");
    }
}

#[test]
fn a_run_that_diverges_or_is_stopped_leaves_the_pack_and_the_others_train_on() {
    let _turn = TURNS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let configs = runs(
        "hidden = [64]\nlatent = 8\noutput = \"identity\"",
        "optimizer = \"sgd\"",
        &[
            (9, "", "learning_rate = 0.01", ""),
            (10, "", "learning_rate = 1000.0", ""),
            (11, "", "learning_rate = 0.02", ""),
            (12, "", "learning_rate = 0.03", ""),
        ],
    );
    let alone = alone(&configs[..3]);
    let mut packed = packed_stopping(&configs, Some(3));
    let (stopped, records) = packed.pop().unwrap();
    assert!(stopped.is_none(), "{stopped:?}");
    assert_eq!(records.len(), 1, "the stopped run trained on: {records:?}");
    let packed: Vec<Outcome> = packed
        .into_iter()
        .map(|(outcome, records)| outcome.unwrap().map(|metrics| (metrics, records)))
        .collect();
    for outcome in [&alone[1], &packed[1]] {
        assert!(
            matches!(outcome, Err(error) if error.starts_with("diverged at epoch")),
            "{outcome:?}"
        );
    }
    for run in [0, 2] {
        assert_same(run, &alone[run], &packed[run], TOLERANCE);
    }
}
