//! The splits of one run: the data set's training split partitioned into training and
//! validation, limits applied, the anomaly task's normal examples kept, and standardisation
//! fitted on the training examples alone, or binarisation (`data.binarize`).
//!
//! The data set's splits are shared, not copied, by the runs of a worker that use them as
//! they are: a run's training examples are rows of the shared split. Sixteen runs of a pack
//! each copying MNIST's training split spent 22 s of a 65 s sweep allocating memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use hourglass_data::{Manifest, Registry, Split, Standardization, binarize_static};
use hourglass_spec::{Binarize, RunConfig, Task};

use crate::TrainError;

/// Splits of a run after partitioning, limits, the anomaly task's filter and standardisation.
pub(crate) struct Splits {
    /// The examples the run's training examples are drawn from.
    examples: Arc<Split>,
    /// Which rows of `examples` the run trains on, in the order of its training split.
    train_rows: Vec<usize>,
    pub(crate) validation: Split,
    pub(crate) test: Arc<Split>,
    /// Which label is normal, for the anomaly task.
    pub(crate) normal: Option<Normal>,
    /// The standardisation of the inputs, fitted on the training examples; `None` for
    /// inputs used as stored (in [0, 1]).
    pub(crate) standardization: Option<Standardization>,
    /// The sha256 of each of the data set's files, by file name.
    pub(crate) files: BTreeMap<String, String>,
    /// The data set's class names, by label, when its manifest gives them.
    pub(crate) class_names: Option<Vec<String>>,
}

/// What the anomaly task calls normal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Normal {
    /// Exactly this label (one-class set-ups such as one-class MNIST).
    Class(u8),
    /// Every label but the data set's anomaly label.
    Not(u8),
}

impl Normal {
    fn of(config: &RunConfig, manifest: &Manifest) -> Option<Self> {
        if !config.evaluate.has(Task::Anomaly) {
            return None;
        }
        config
            .data
            .normal_class
            .map(Normal::Class)
            .or(manifest.anomaly_label.map(Normal::Not))
    }

    /// Whether an example with `label` is normal.
    pub(crate) fn is_normal(self, label: u8) -> bool {
        match self {
            Normal::Class(class) => label == class,
            Normal::Not(anomaly) => label != anomaly,
        }
    }

    /// The normal examples of `split`.
    fn filter(self, split: &Split) -> Split {
        let normal: Vec<usize> = (0..split.len())
            .filter(|&i| self.is_normal(split.labels[i]))
            .collect();
        split.select(&normal)
    }
}

/// The streams of static binarisation, one per split of the data set.
const TRAIN_STREAM: u64 = 0;
const TEST_STREAM: u64 = 1;

pub(crate) fn load_splits(config: &RunConfig, registry: &Registry) -> Result<Splits, TrainError> {
    let data = &config.data;
    let manifest = registry.manifest(&data.dataset)?;
    if data.binarize.is_some() && manifest.standardize {
        return Err(TrainError::NotGreyLevels {
            dataset: data.dataset.clone(),
        });
    }
    let normal = Normal::of(config, manifest);
    let mut examples = registry.load(&data.dataset, "train")?;
    let mut test = registry.load(&data.dataset, "test")?;
    // Drawn over the whole splits, before any filter or limit, so that every run sees the
    // same binary image of an example.
    let mut binary_examples = None;
    if data.binarize.is_some() {
        let mut binary = Split::clone(&examples);
        binarize_static(&mut binary.inputs, TRAIN_STREAM);
        binary_examples = Some(Arc::new(binary));
        binarize_static(&mut Arc::make_mut(&mut test).inputs, TEST_STREAM);
    }
    // Dynamically binarised training examples stay grey, to be drawn again at every step.
    if data.binarize == Some(Binarize::Static) {
        examples = binary_examples.take().expect("binarised above");
    }
    if let Some(normal) = normal {
        examples = Arc::new(normal.filter(&examples));
        binary_examples = binary_examples.map(|binary| Arc::new(normal.filter(&binary)));
    }
    let (mut train_rows, validation_rows) = examples.partition_rows(data.validation, config.seed);
    if let Some(limit) = data.train_limit {
        train_rows.truncate(limit);
    }
    let mut validation = binary_examples
        .as_deref()
        .unwrap_or(examples.as_ref())
        .select(&validation_rows);
    if let Some(limit) = data.test_limit {
        test = Arc::new(test.head(limit));
    }
    let standardization = manifest.standardize.then(|| {
        let standardization = Standardization::fit(&examples.select(&train_rows));
        for split in [&mut examples, &mut test] {
            standardization.apply(Arc::make_mut(split));
        }
        standardization.apply(&mut validation);
        standardization
    });
    Ok(Splits {
        examples,
        train_rows,
        validation,
        test,
        normal,
        standardization,
        files: manifest.sha256.clone(),
        class_names: manifest.class_names.clone(),
    })
}

impl Splits {
    /// The number of training examples.
    pub(crate) fn train_len(&self) -> usize {
        self.train_rows.len()
    }

    /// The shape of one example.
    pub(crate) fn shape(&self) -> &[usize] {
        &self.examples.shape
    }

    /// The number of input features of one example.
    pub(crate) fn features(&self) -> usize {
        self.examples.features()
    }

    /// The inputs of the training examples at `positions` of the training split, row-major.
    pub(crate) fn train_inputs(&self, positions: &[usize]) -> Vec<f32> {
        let rows: Vec<usize> = positions.iter().map(|&i| self.train_rows[i]).collect();
        crate::batch::rows(&self.examples, &rows)
    }

    /// A copy of the first `n` training examples (all of them when `n` is `None`), for the
    /// evaluation tasks that fit on them.
    pub(crate) fn train(&self, n: Option<usize>) -> Split {
        let n = n.unwrap_or(usize::MAX).min(self.train_rows.len());
        self.examples.select(&self.train_rows[..n])
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use hourglass_spec::{Backend, Catalog};

    use super::*;

    /// The splits of a 200-example MNIST run binarised as `binarize`, with `seed`.
    fn mnist_splits(binarize: &str, seed: u64) -> Splits {
        let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
        let registry = Registry::discover(&datasets).unwrap();
        let catalog = Catalog {
            datasets: registry.shapes(),
            labels: registry.labels(),
            backends: vec![Backend::Flex],
        };
        let spec = format!(
            "[experiment]\nname = \"b\"\nseed = {seed}\n[data]\ndataset = \"mnist\"\n\
             train_limit = 200\ntest_limit = 100\nbinarize = \"{binarize}\"\n"
        );
        let experiment = hourglass_spec::parse(Path::new("b.toml"), &spec, &catalog).unwrap();
        load_splits(&experiment.runs[0].config, &registry).unwrap()
    }

    fn binary(values: &[f32]) -> bool {
        values.iter().all(|&v| v == 0.0 || v == 1.0)
    }

    #[test]
    fn binarised_splits_are_drawn_once_for_every_run_and_dynamic_training_stays_grey() {
        let first = mnist_splits("static", 1);
        assert!(binary(&first.train(None).inputs));
        assert!(binary(&first.validation.inputs) && binary(&first.test.inputs));
        // About 13 % of an MNIST digit's pixels are drawn as ones.
        let ones = first.test.inputs.iter().sum::<f32>() / first.test.inputs.len() as f32;
        assert!((0.08..0.2).contains(&ones), "{ones}");
        // Another run, another seed: the same test images.
        assert_eq!(mnist_splits("static", 2).test.inputs, first.test.inputs);

        let dynamic = mnist_splits("dynamic", 1);
        assert!(
            !binary(&dynamic.train(None).inputs),
            "drawn at every step instead"
        );
        assert!(binary(&dynamic.validation.inputs));
        assert_eq!(dynamic.validation.inputs, first.validation.inputs);
        assert_eq!(dynamic.test.inputs, first.test.inputs);
    }
}
