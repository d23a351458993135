//! The runs waiting to start, in order, and the rule that packs them: runs whose
//! [`RunConfig::pack_key`](hourglass_spec::RunConfig::pack_key)s agree train in one worker, up
//! to `resources.pack` of them, in queue order.

use std::collections::VecDeque;

use hourglass_spec::{Experiment, RunSpec};

/// A run waiting to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Queued {
    /// The run's index in the experiment.
    pub index: usize,
    /// 0 for the first start of the run in this invocation, then one more per retry.
    pub attempt: u32,
}

/// The runs of an experiment waiting to start.
pub(crate) struct Queue<'e> {
    experiment: &'e Experiment,
    runs: VecDeque<Queued>,
}

impl<'e> Queue<'e> {
    /// An empty queue of `experiment`'s runs.
    pub fn new(experiment: &'e Experiment) -> Self {
        Self {
            experiment,
            runs: VecDeque::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.runs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Queues a run behind the others.
    pub fn push_back(&mut self, queued: Queued) {
        self.runs.push_back(queued);
    }

    /// Queues a run before the others (a retry goes first).
    pub fn push_front(&mut self, queued: Queued) {
        self.runs.push_front(queued);
    }

    /// Empties the queue.
    pub fn clear(&mut self) {
        self.runs.clear();
    }

    /// The position of the first queued run for which `fits` names a place, with that place.
    pub fn first_fitting<P>(
        &self,
        mut fits: impl FnMut(&RunSpec) -> Option<P>,
    ) -> Option<(usize, P)> {
        self.runs.iter().enumerate().find_map(|(position, queued)| {
            fits(&self.experiment.runs[queued.index]).map(|place| (position, place))
        })
    }

    /// Takes out the queued runs for which `pick` gives a key, in queue order, with their keys.
    pub fn extract<K>(&mut self, mut pick: impl FnMut(&RunSpec) -> Option<K>) -> Vec<(K, Queued)> {
        let mut picked = Vec::new();
        let experiment = self.experiment;
        self.runs
            .retain(|&queued| match pick(&experiment.runs[queued.index]) {
                Some(key) => {
                    picked.push((key, queued));
                    false
                }
                None => true,
            });
        picked
    }

    /// Takes the queued run at `position` out of the queue, with the queued runs that can train
    /// in one pack with it (the same `pack_key`, up to `resources.pack` in all, in queue
    /// order). `position` must be in the queue.
    pub fn take_pack(&mut self, position: usize) -> Vec<Queued> {
        let runs = &self.experiment.runs;
        let first = self
            .runs
            .remove(position)
            .expect("position is in the queue");
        let mut pack = vec![first];
        let Some(key) = runs[first.index].config.pack_key() else {
            return pack;
        };
        let mut position = 0;
        while pack.len() < self.experiment.resources.pack && position < self.runs.len() {
            if runs[self.runs[position].index].config.pack_key().as_ref() == Some(&key) {
                pack.extend(self.runs.remove(position));
            } else {
                position += 1;
            }
        }
        pack
    }
}
