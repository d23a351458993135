//! Trains several runs as one [`PackedAutoencoder`]: one batched matrix product per layer
//! does the work of one small product per run.
//!
//! Each run keeps everything that makes it itself: its weights drawn from its seed, its own
//! data order, corruption and ε streams, its own optimizer state and learning rate, its
//! `metrics.jsonl`, early stopping and result. The step minimises the sum of the runs' losses,
//! whose gradient with respect to each run's weights is that run's own. A run that diverges,
//! stops early, is pruned or cannot load its data leaves the pack and the others go on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::TensorData;
use hourglass_data::Registry;
use hourglass_models::{PackedAutoencoder, PackedObjective};
use hourglass_spec::RunConfig;
use hourglass_spec::result::{EpochRecord, Measured};

use crate::checkpoint::OptimizerState;
use crate::packed_optimizer::{PackedOptimizer, RunSettings};
use crate::run::{self, Batch, Position, Resumed, Run};
use crate::{Progress, TrainError, on_a_thread_pool};

/// Receives the events of a pack's runs, each named by its position in the pack.
pub trait PackProgress: Send {
    /// Run `run` recorded an epoch.
    fn epoch_ended(&mut self, _run: usize, _record: &EpochRecord, _epochs: usize) {}
    /// Run `run` ended, with its final metrics or why it failed; called once per run, as
    /// soon as the run ends.
    fn run_finished(&mut self, run: usize, outcome: Result<Measured, TrainError>);
    /// Whether run `run` was ended from outside the pack (pruned by the orchestrator, which
    /// recorded its result): it then leaves the pack with no further event. Asked for every
    /// run after every step.
    fn stopped(&mut self, _run: usize) -> bool {
        false
    }
    /// Whether the whole pack should stop now: see [`Progress::interrupted`].
    fn interrupted(&mut self) -> bool {
        false
    }
}

/// Trains the runs `configs`, whose folders are `run_dirs`, as one pack on `device`, on a
/// thread pool as [`crate::train_run`] does. Every run ends through `progress.run_finished`,
/// except those stopped from outside ([`PackProgress::stopped`]); runs whose
/// [`RunConfig::pack_key`]s differ from the first run's fail without training.
pub fn train_pack(
    configs: &[RunConfig],
    registry: &Registry,
    run_dirs: &[PathBuf],
    device: &Device,
    progress: &mut dyn PackProgress,
) {
    on_a_thread_pool(|| train_on_this_thread(configs, registry, run_dirs, device, progress));
}

/// A run of the pack with its position among the runs given to [`train_pack`].
struct Member<'a> {
    position: usize,
    run: Run<'a>,
    /// The run's order of the training examples in the current epoch.
    order: Vec<usize>,
}

/// What makes a run leave the pack.
enum Leaving {
    /// It finished its epochs or stopped early: it is evaluated and its metrics recorded.
    Finished,
    /// It failed.
    Failed(TrainError),
    /// It was ended from outside ([`PackProgress::stopped`]).
    Stopped,
}

/// The runs being trained together, with their packed model, objective and optimizer, all
/// in the same run order.
struct Pack<'a> {
    members: Vec<Member<'a>>,
    model: PackedAutoencoder,
    objective: PackedObjective,
    optimizer: PackedOptimizer,
}

/// Time spent by the pack, which each run reports as its own.
struct Clock {
    started: Instant,
    /// Seconds trained before this process, from the runs' checkpoints.
    before: f64,
    stepping_seconds: f64,
    /// When the runs' checkpoints were last written.
    checkpointed: Instant,
}

impl Clock {
    /// Seconds trained in all.
    fn seconds(&self) -> f64 {
        self.before + self.started.elapsed().as_secs_f64()
    }
}

fn train_on_this_thread(
    configs: &[RunConfig],
    registry: &Registry,
    run_dirs: &[PathBuf],
    device: &Device,
    progress: &mut dyn PackProgress,
) {
    let key = configs.first().and_then(RunConfig::pack_key);
    // Runs resumed from one step train together; so do the runs that start afresh.
    let mut groups: BTreeMap<Position, Vec<(Member, Option<Resumed>)>> = BTreeMap::new();
    let mut alone = Vec::new();
    for (position, (config, run_dir)) in configs.iter().zip(run_dirs).enumerate() {
        if key.is_none() || config.pack_key() != key {
            progress.run_finished(position, Err(TrainError::Unpackable));
            continue;
        }
        match Run::open(config, registry, run_dir) {
            // Checkpointed alone, its optimizer state is burn's: it goes on alone.
            Ok((_, Some(resumed))) if matches!(resumed.optimizer, OptimizerState::Module(_)) => {
                alone.push(position);
            }
            Ok((run, resumed)) => {
                let member = Member {
                    position,
                    run,
                    order: Vec::new(),
                };
                let group = groups.entry(member.run.start).or_default();
                group.push((member, resumed));
            }
            Err(error) => progress.run_finished(position, Err(error)),
        }
    }
    for group in groups.into_values() {
        train_group(group, device, progress);
    }
    for position in alone {
        let mut run_progress = RunProgress {
            progress: &mut *progress,
            run: position,
        };
        let (config, run_dir) = (&configs[position], &run_dirs[position]);
        let outcome =
            crate::train_on_this_thread(config, registry, run_dir, device, &mut run_progress);
        progress.run_finished(position, outcome);
    }
}

/// Trains `config`'s run, checkpointed in a pack, as a pack of one: see [`train_pack`].
pub(crate) fn train_alone(
    config: &RunConfig,
    registry: &Registry,
    run_dir: &Path,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<Measured, TrainError> {
    /// Forwards the events of a pack of one.
    struct One<'p> {
        progress: &'p mut dyn Progress,
        outcome: Option<Result<Measured, TrainError>>,
    }
    impl PackProgress for One<'_> {
        fn epoch_ended(&mut self, _run: usize, record: &EpochRecord, epochs: usize) {
            self.progress.epoch_ended(record, epochs);
        }
        fn run_finished(&mut self, _run: usize, outcome: Result<Measured, TrainError>) {
            self.outcome = Some(outcome);
        }
    }
    let mut one = One {
        progress,
        outcome: None,
    };
    let (configs, run_dirs) = (std::slice::from_ref(config), [run_dir.to_path_buf()]);
    train_on_this_thread(configs, registry, &run_dirs, device, &mut one);
    one.outcome.unwrap_or_else(|| {
        Err(TrainError::Checkpoint(
            "the run left its pack unended".into(),
        ))
    })
}

/// Trains the runs of `group`, which start from the same step (each fresh, or each resumed
/// from its checkpoint), as one pack.
fn train_group(
    group: Vec<(Member<'_>, Option<Resumed>)>,
    device: &Device,
    progress: &mut dyn PackProgress,
) {
    let eval_device = device.clone().inner();
    let device = device.clone().autodiff();
    let mut members = Vec::new();
    let mut models = Vec::new();
    let mut moments = Vec::new();
    let mut time = 0;
    for (member, resumed) in group {
        let model = member.run.init_model(&device);
        let Some(resumed) = resumed else {
            models.push(model);
            members.push(member);
            continue;
        };
        let OptimizerState::Packed {
            time: steps,
            moments: of_run,
        } = resumed.optimizer
        else {
            unreachable!("runs checkpointed alone do not join a pack")
        };
        match model.try_load_record(resumed.model) {
            Ok(model) => {
                models.push(model);
                members.push(member);
                moments.push(of_run);
                time = steps;
            }
            Err(error) => {
                let error = TrainError::Checkpoint(error.to_string());
                progress.run_finished(member.position, Err(error));
            }
        }
    }
    let Some(first) = members.first().map(|m| m.run.config) else {
        return;
    };
    let mut model = PackedAutoencoder::pack(&models).expect("pack keys admit MLPs only");
    model.update_parameters(|_, parameter| parameter.inner().autodiff().require_grad());
    let objectives = members.iter().map(|m| m.run.objective.clone()).collect();
    let objective = PackedObjective::new(objectives).expect("pack keys admit these objectives");
    let settings = members
        .iter()
        .map(|m| RunSettings::of(m.run.config))
        .collect();
    let on_host = crate::backend::is_cpu(&eval_device);
    let mut optimizer = PackedOptimizer::new(
        first.train.optimizer,
        settings,
        &model,
        &eval_device,
        on_host,
    );
    if !moments.is_empty()
        && let Err(why) = optimizer.restore(time, &moments)
    {
        for member in members {
            let error = TrainError::Checkpoint(why.clone());
            progress.run_finished(member.position, Err(error));
        }
        return;
    }
    let start = members[0].run.start;
    let mut clock = Clock {
        started: Instant::now(),
        before: members[0].run.seconds_before,
        stepping_seconds: members[0].run.stepping_before,
        checkpointed: Instant::now(),
    };
    let mut pack = Pack {
        members,
        model,
        objective,
        optimizer,
    };
    // Runs resumed after their last epoch have only their evaluation left.
    let trained = (0..pack.members.len())
        .filter(|&index| pack.members[index].run.trained())
        .map(|index| (index, Leaving::Finished))
        .collect();
    pack.leave(trained, &clock, &eval_device, progress);
    if pack.members.is_empty() {
        return;
    }

    let (batch_size, epochs) = (first.train.batch_size, first.train.epochs);
    let checkpoint_every = pack.members[0].run.checkpoint_every;
    for epoch in start.epochs + 1..=epochs {
        for member in &mut pack.members {
            member.order = member.run.order(epoch);
        }
        let examples = pack.members[0].order.len();
        let steps_per_epoch = examples.div_ceil(batch_size);
        let skipped = if epoch == start.epochs + 1 {
            start.step
        } else {
            0
        };
        let epoch_started = Instant::now();
        for step in skipped..steps_per_epoch {
            let range = step * batch_size..((step + 1) * batch_size).min(examples);
            let done = run::epochs_done(epoch, step, steps_per_epoch);
            let mut leaving = pack.step(range, epoch, step + 1, done, &device);
            pack.add_stopped(&mut leaving, progress);
            let position = Position {
                epochs: epoch - 1,
                step: step + 1,
            };
            let within_epoch = step + 1 < steps_per_epoch;
            let interrupted = within_epoch && progress.interrupted();
            if interrupted || (within_epoch && clock.checkpointed.elapsed() >= checkpoint_every) {
                let stepping = clock.stepping_seconds + epoch_started.elapsed().as_secs_f64();
                pack.checkpoint(position, clock.seconds(), stepping, &mut leaving);
                clock.checkpointed = Instant::now();
            }
            // A diverged run's weights are its own: the others' are as if it had not been there.
            pack.leave(leaving, &clock, &eval_device, progress);
            if pack.members.is_empty() {
                return;
            }
            if interrupted {
                return pack.interrupt(position, progress);
            }
        }
        clock.stepping_seconds += epoch_started.elapsed().as_secs_f64();
        let mut leaving = pack.end_epoch(epoch, &clock, &eval_device, progress);
        let position = Position {
            epochs: epoch,
            step: 0,
        };
        pack.checkpoint(
            position,
            clock.seconds(),
            clock.stepping_seconds,
            &mut leaving,
        );
        clock.checkpointed = Instant::now();
        pack.leave(leaving, &clock, &eval_device, progress);
        if pack.members.is_empty() {
            return;
        }
        if progress.interrupted() {
            return pack.interrupt(position, progress);
        }
    }
}

impl Pack<'_> {
    /// One training step of every run on the examples at positions `range` of its epoch's
    /// order (`epoch`, 1-based `step`, `done` epochs of training behind); returns the runs
    /// whose loss was not finite.
    fn step(
        &mut self,
        range: std::ops::Range<usize>,
        epoch: usize,
        step: usize,
        done: f64,
        device: &Device,
    ) -> Vec<(usize, Leaving)> {
        let batches: Vec<Batch> = self
            .members
            .iter_mut()
            .map(|member| member.run.batch(&member.order[range.clone()]))
            .collect();
        let rows = range.len();
        let stacked = |values: Vec<f32>, width: usize| {
            let shape = [batches.len(), rows, width];
            Tensor::<3>::from_data(TensorData::new(values, shape), device)
        };
        let features = self.members[0].run.splits.features();
        let clean = batches.iter().flat_map(|b| b.clean.iter().copied());
        let target = stacked(clean.collect(), features); // [runs, rows, features]
        let input = if batches.iter().any(|b| b.corrupted.is_some()) {
            let seen = batches
                .iter()
                .flat_map(|b| b.corrupted.as_ref().unwrap_or(&b.clean).iter().copied());
            stacked(seen.collect(), features)
        } else {
            target.clone()
        }; // [runs, rows, features]
        let noise = batches[0].noise.is_some().then(|| {
            let latent = self.members[0].run.config.model.latent;
            let noise = batches
                .iter()
                .flat_map(|b| b.noise.iter().flatten().copied());
            stacked(noise.collect(), latent) // [runs, rows, latent]
        });
        let losses = self
            .objective
            .terms(&self.model, input, target, noise, done)
            .total; // [runs]
        let values: Vec<f32> = losses.clone().into_data().try_to_vec().expect("f32 losses");
        let grads = losses.sum().backward();
        self.optimizer.step(&mut self.model, &grads);
        self.members
            .iter_mut()
            .zip(values)
            .enumerate()
            .filter_map(|(index, (member, loss))| {
                let recorded = member.run.record_step(loss, epoch, step, rows);
                recorded.err().map(|error| (index, Leaving::Failed(error)))
            })
            .collect()
    }

    /// Ends `epoch` for every run (validation, its record, early stopping); returns the runs
    /// that end with it.
    fn end_epoch(
        &mut self,
        epoch: usize,
        clock: &Clock,
        eval_device: &Device,
        progress: &mut dyn PackProgress,
    ) -> Vec<(usize, Leaving)> {
        let seconds = clock.seconds();
        let trained = self.model.unpack();
        let mut leaving = Vec::new();
        for (index, (member, trained)) in self.members.iter_mut().zip(trained).enumerate() {
            let mut run_progress = RunProgress {
                progress: &mut *progress,
                run: member.position,
            };
            let model = trained.valid();
            match member
                .run
                .end_epoch(epoch, &model, seconds, eval_device, &mut run_progress)
            {
                Ok(false) if epoch < member.run.config.train.epochs => {}
                Ok(_) => leaving.push((index, Leaving::Finished)),
                Err(error) => leaving.push((index, Leaving::Failed(error))),
            }
        }
        leaving
    }

    /// Writes the checkpoint of every run at `position`, but those already `leaving` (which
    /// stays in ascending order of index); a run whose checkpoint cannot be written fails.
    fn checkpoint(
        &mut self,
        position: Position,
        seconds: f64,
        stepping_seconds: f64,
        leaving: &mut Vec<(usize, Leaving)>,
    ) {
        let models = self.model.unpack();
        let time = self.optimizer.time();
        for (index, (member, model)) in self.members.iter_mut().zip(models).enumerate() {
            if leaving.iter().any(|(left, _)| *left == index) {
                continue;
            }
            let optimizer = OptimizerState::Packed {
                time,
                moments: self.optimizer.moments_of(index),
            };
            let written = member.run.write_checkpoint(
                position,
                &model,
                &optimizer,
                seconds,
                stepping_seconds,
            );
            if let Err(error) = written {
                leaving.push((index, Leaving::Failed(error)));
            }
        }
        leaving.sort_by_key(|(index, _)| *index);
    }

    /// Ends every run of the pack as interrupted at `position`, where its checkpoint is.
    fn interrupt(self, position: Position, progress: &mut dyn PackProgress) {
        for member in self.members {
            progress.run_finished(member.position, Err(position.interrupted()));
        }
    }

    /// Adds the runs ended from outside ([`PackProgress::stopped`]) to `leaving`, which stays
    /// in ascending order of index.
    fn add_stopped(&self, leaving: &mut Vec<(usize, Leaving)>, progress: &mut dyn PackProgress) {
        for (index, member) in self.members.iter().enumerate() {
            let left = leaving.iter().any(|(leaving, _)| *leaving == index);
            if !left && progress.stopped(member.position) {
                leaving.push((index, Leaving::Stopped));
            }
        }
        leaving.sort_by_key(|(index, _)| *index);
    }

    /// Takes the `leaving` runs (by index in the pack, ascending) out of the pack, finishing
    /// or failing each, and shrinks the model, objective and optimizer to the runs that stay.
    fn leave(
        &mut self,
        leaving: Vec<(usize, Leaving)>,
        clock: &Clock,
        eval_device: &Device,
        progress: &mut dyn PackProgress,
    ) {
        if leaving.is_empty() {
            return;
        }
        let staying: Vec<usize> = (0..self.members.len())
            .filter(|index| leaving.iter().all(|(leaving, _)| leaving != index))
            .collect();
        // Only a finishing run needs its model: failed ones leave without unpacking.
        let finishing = leaving.iter().any(|(_, r)| matches!(r, Leaving::Finished));
        let mut trained = if finishing {
            self.model.unpack()
        } else {
            Vec::new()
        };
        // From the back, so that the indices still to come stay valid.
        for (index, reason) in leaving.into_iter().rev() {
            let member = self.members.remove(index);
            let outcome = match reason {
                Leaving::Finished => {
                    let trained = trained.remove(index).valid();
                    let seconds = clock.seconds();
                    member
                        .run
                        .finish(&trained, seconds, clock.stepping_seconds, eval_device)
                }
                Leaving::Failed(error) => Err(error),
                // Pruned: it is not resumed.
                Leaving::Stopped => {
                    if let Err(error) = crate::checkpoint::remove(member.run.run_dir()) {
                        eprintln!("cannot remove a pruned run's checkpoint: {error}");
                    }
                    continue;
                }
            };
            progress.run_finished(member.position, outcome);
        }
        if staying.is_empty() {
            return;
        }
        let indices: Vec<i64> = staying.iter().map(|&i| i as i64).collect();
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(indices, [staying.len()]), eval_device);
        self.model.update_parameters(|_, parameter| {
            parameter
                .inner()
                .select(0, indices.clone())
                .autodiff()
                .require_grad()
        });
        self.objective = self.objective.select(&staying);
        self.optimizer.select(&staying);
    }
}

/// The [`Progress`] of one run of a pack.
struct RunProgress<'p> {
    progress: &'p mut dyn PackProgress,
    run: usize,
}

impl Progress for RunProgress<'_> {
    fn epoch_ended(&mut self, record: &EpochRecord, epochs: usize) {
        self.progress.epoch_ended(self.run, record, epochs);
    }

    fn interrupted(&mut self) -> bool {
        self.progress.interrupted()
    }
}
