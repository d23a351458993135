//! Asynchronous successive halving: the values runs reached at each rung, and the verdict on a
//! run that reaches one. The rule itself is [`Pruning::promotes`]; this keeps its memory.

use std::collections::BTreeMap;

use hourglass_spec::Pruning;
use hourglass_spec::result::EpochRecord;

/// The metric values recorded at each rung of a sweep.
pub(crate) struct Rungs {
    pruning: Pruning,
    values: BTreeMap<usize, Vec<f64>>,
}

/// A run that reached a rung and is not promoted.
pub(crate) struct Pruned {
    /// The metric's value at the rung.
    pub value: f64,
    /// Why, in words.
    pub reason: String,
}

impl Rungs {
    pub fn new(pruning: Pruning) -> Self {
        Self {
            pruning,
            values: BTreeMap::new(),
        }
    }

    /// The pruning metric's name.
    pub fn metric(&self) -> &'static str {
        self.pruning.metric.name()
    }

    /// Adds the rung values of a run finished before this invocation, so a resumed sweep
    /// compares new runs with old ones too.
    pub fn remember(&mut self, epochs: &[EpochRecord]) {
        for record in epochs {
            if let Some(value) = self.rung_value(record) {
                self.values.entry(record.epoch).or_default().push(value);
            }
        }
    }

    /// Records `record` of a running run that trains `epochs` in all; `Some` if the run
    /// reached a rung before its last epoch and is pruned there.
    pub fn judge(&mut self, record: &EpochRecord, epochs: usize) -> Option<Pruned> {
        let value = self.rung_value(record)?;
        let recorded = self.values.entry(record.epoch).or_default();
        let promoted = record.epoch >= epochs || self.pruning.promotes(value, recorded);
        let reached = recorded.len() + 1;
        recorded.push(value);
        (!promoted).then(|| Pruned {
            value,
            reason: format!(
                "pruned at epoch {}: {} {value:.5} is not in the best 1/{} of the {reached} runs \
                 that reached this rung",
                record.epoch,
                self.pruning.metric.name(),
                self.pruning.reduction_factor,
            ),
        })
    }

    /// The metric of `record` if its epoch is a rung. A NaN is not a value to compare: the
    /// run's own divergence check ends it.
    fn rung_value(&self, record: &EpochRecord) -> Option<f64> {
        if !self.pruning.is_rung(record.epoch) {
            return None;
        }
        self.pruning
            .metric
            .of(record)
            .filter(|value| !value.is_nan())
    }
}

#[cfg(test)]
mod tests {
    use hourglass_spec::result::EpochMetric;

    use super::*;

    fn at(epoch: usize, value: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: value,
            val_loss: Some(value),
            val_mse: None,
            seconds: 1.0,
        }
    }

    #[test]
    fn huge_rungs_and_epochs_are_judged_without_overflow() {
        // Rungs past usize::MAX: reading back a resumed sweep's epochs must not panic.
        let mut rungs = Rungs::new(Pruning {
            metric: EpochMetric::ValLoss,
            grace_epochs: usize::MAX / 2,
            reduction_factor: usize::MAX / 4,
        });
        rungs.remember(&[at(1, 0.5), at(usize::MAX / 2, 0.5), at(usize::MAX, 0.4)]);
        assert!(rungs.judge(&at(usize::MAX, 0.3), usize::MAX).is_none());
        // At the one rung: 0.9 is not in the best quarter of {0.5, 0.9}.
        let pruned = rungs.judge(&at(usize::MAX / 2, 0.9), usize::MAX).unwrap();
        assert_eq!(pruned.value, 0.9);
    }
}
