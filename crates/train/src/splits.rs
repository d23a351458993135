//! The splits of one run: the data set's training split partitioned into training and
//! validation, limits applied, the anomaly task's normal examples kept, and standardisation
//! fitted on the training examples alone.

use hourglass_data::{DataError, Manifest, Registry, Split, Standardization};
use hourglass_spec::{RunConfig, Task};

/// Splits of a run after partitioning, limits, the anomaly task's filter and standardisation.
pub(crate) struct Splits {
    pub(crate) train: Split,
    pub(crate) validation: Split,
    pub(crate) test: Split,
    /// Which label is normal, for the anomaly task.
    pub(crate) normal: Option<Normal>,
    /// Whether inputs were standardised (otherwise they lie in [0, 1]).
    pub(crate) standardized: bool,
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
    let mut full_train = registry.load(&data.dataset, "train")?;
    if let Some(normal) = normal {
        full_train = normal.filter(&full_train);
    }
    let (mut train, mut validation) = full_train.partition(data.validation, config.seed);
    if let Some(limit) = data.train_limit {
        train = train.truncated(limit);
    }
    let mut test = registry.load(&data.dataset, "test")?;
    if let Some(limit) = data.test_limit {
        test = test.truncated(limit);
    }
    if manifest.standardize {
        let standardization = Standardization::fit(&train);
        for split in [&mut train, &mut validation, &mut test] {
            standardization.apply(split);
        }
    }
    Ok(Splits {
        train,
        validation,
        test,
        normal,
        standardized: manifest.standardize,
    })
}
