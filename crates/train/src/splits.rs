//! The splits of one run: the data set's training split partitioned into training and
//! validation, limits applied, the anomaly task's normal examples kept, and standardisation
//! fitted on the training examples alone.
//!
//! The data set's splits are shared, not copied, by the runs of a worker that use them as
//! they are: a run's training examples are rows of the shared split. Sixteen runs of a pack
//! each copying MNIST's training split spent 22 s of a 65 s sweep allocating memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use hourglass_data::{DataError, Manifest, Registry, Split, Standardization};
use hourglass_spec::{RunConfig, Task};

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

pub(crate) fn load_splits(config: &RunConfig, registry: &Registry) -> Result<Splits, DataError> {
    let data = &config.data;
    let manifest = registry.manifest(&data.dataset)?;
    let normal = Normal::of(config, manifest);
    let mut examples = registry.load(&data.dataset, "train")?;
    if let Some(normal) = normal {
        examples = Arc::new(normal.filter(&examples));
    }
    let (mut train_rows, validation_rows) = examples.partition_rows(data.validation, config.seed);
    if let Some(limit) = data.train_limit {
        train_rows.truncate(limit);
    }
    let mut validation = examples.select(&validation_rows);
    let mut test = registry.load(&data.dataset, "test")?;
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
