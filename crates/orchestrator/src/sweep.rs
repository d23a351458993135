//! The state of a sweep in progress, whatever executes its runs: the queue, the running jobs,
//! the rungs of pruning and the summary, with the steps of the sweep's loop (`run_sweep`):
//! resume, adopt, start, poll, stop.

use hourglass_spec::result::{self, METRICS_FILE, ResultError, RunResult, RunStatus, read_epochs};
use std::collections::BTreeSet;

use hourglass_spec::{Experiment, RunId, RunSpec};

use crate::asha::Rungs;
use crate::executor::{Ending, Executor, Job, Launch, Member};
use crate::queue::{Queue, Queued};
use crate::run_folder::{self, prepare, record_death, record_pruned};
use crate::{SweepError, SweepLayout, SweepProgress, SweepSummary, finished_result};

/// A sweep in progress on an executor whose jobs are followed by `H`s.
pub(crate) struct SweepState<'s, H> {
    experiment: &'s Experiment,
    layout: &'s SweepLayout,
    progress: &'s mut dyn SweepProgress,
    /// Runs waiting to start.
    queue: Queue<'s>,
    /// Jobs started (or adopted) and not yet ended.
    running: Vec<Job<H>>,
    /// With `[sweep.pruning]`: the values runs reached at each rung.
    rungs: Option<Rungs>,
    summary: SweepSummary,
    /// Whether the sweep was asked to stop.
    stopping: bool,
}

impl<'s, H> SweepState<'s, H> {
    /// The sweep of `experiment` in `layout`, its finished runs skipped (and remembered at
    /// their rungs) and the others queued; failed runs are queued too with `retry_failed`.
    /// Runs in `counted` ended in an earlier round of this invocation: they are remembered at
    /// their rungs but neither counted nor reported again.
    pub fn resume(
        experiment: &'s Experiment,
        layout: &'s SweepLayout,
        retry_failed: bool,
        counted: &BTreeSet<RunId>,
        progress: &'s mut dyn SweepProgress,
    ) -> Result<Self, SweepError> {
        let mut sweep = Self {
            experiment,
            layout,
            progress,
            queue: Queue::new(experiment),
            running: Vec::new(),
            rungs: experiment.pruning.map(Rungs::new),
            summary: SweepSummary::default(),
            stopping: false,
        };
        for (index, run) in experiment.runs.iter().enumerate() {
            run_folder::adopt_former_folder(run, layout)?;
            let run_dir = layout.run_dir(run);
            match result::read(&run_dir) {
                Ok(Some(result)) if !(retry_failed && result.status == RunStatus::Failed) => {
                    if let Some(rungs) = &mut sweep.rungs {
                        rungs.remember(&read_epochs(&run_dir.join(METRICS_FILE)));
                    }
                    if !counted.contains(&run.id) {
                        sweep.summary.before.count(result.status);
                        sweep.progress.run_skipped(run, &result);
                    }
                }
                // Training the run again would replace a result that a newer hourglass wrote.
                Err(error @ ResultError::Newer { .. }) => return Err(error.into()),
                // Unfinished, failed and retried, or a result that cannot be read: trained.
                _ => sweep.queue.push_back(Queued { index, attempt: 0 }),
            }
        }
        Ok(sweep)
    }

    /// Whether nothing is left to start or to wait for.
    pub fn is_done(&self) -> bool {
        self.queue.is_empty() && self.running.is_empty()
    }

    /// What the sweep did.
    pub fn summary(&self) -> SweepSummary {
        self.summary.clone()
    }

    /// Follows the jobs that an earlier orchestrator of this sweep left running.
    pub fn adopt<E: Executor<Handle = H>>(&mut self, executor: &mut E) -> Result<(), SweepError> {
        for (handle, runs) in executor.adopt(&mut self.queue)? {
            let members = self.members(runs);
            self.running.push(Job { handle, members });
        }
        Ok(())
    }

    /// Starts what the executor places of the queue, each pack's folders prepared first; the
    /// runs of a worker that could not start are recorded failed.
    pub fn start<E: Executor<Handle = H>>(&mut self, executor: &mut E) -> Result<(), SweepError> {
        let placed = executor.place(&mut self.queue, &self.running);
        if placed.is_empty() {
            return Ok(());
        }
        let experiment = self.experiment;
        let mut packs = Vec::with_capacity(placed.len());
        for pack in placed {
            let members = self.members(pack.runs);
            for member in &members {
                prepare(&experiment.runs[member.index], &member.run_dir)?;
            }
            packs.push((pack.slot, members));
        }
        let launches: Vec<Launch<'_>> = packs
            .iter()
            .map(|(slot, members)| Launch {
                slot: *slot,
                runs: members
                    .iter()
                    .map(|member| (&experiment.runs[member.index], member.run_dir.as_path()))
                    .collect(),
            })
            .collect();
        let started = executor.start(&launches)?;
        for ((_, members), started) in packs.into_iter().zip(started) {
            match started {
                Ok(handle) => self.running.push(Job { handle, members }),
                Err(ending) => {
                    for member in members {
                        let run = &experiment.runs[member.index];
                        let result = record_death(run, &member.run_dir, &ending, member.attempt)?;
                        self.finished(run, &result);
                    }
                }
            }
        }
        Ok(())
    }

    /// Looks at every running job: its runs' new epochs (for progress and pruning), the
    /// results of a pack's runs as they end, and how the job ended, if it has.
    pub fn poll<E: Executor<Handle = H>>(&mut self, executor: &mut E) -> Result<(), SweepError> {
        for mut job in std::mem::take(&mut self.running) {
            self.follow(&mut job)?;
            if job.members.len() == 1 && job.members[0].ended {
                // A pruned lone run's worker trains on: it is stopped. A pack's worker drops
                // its pruned runs and exits once every run has ended.
                executor.cancel(vec![job])?;
                continue;
            }
            match executor.ended(&mut job) {
                Some(ending) => self.settle(job, &ending)?,
                None => self.running.push(job),
            }
        }
        Ok(())
    }

    /// Stops the sweep (once): no run starts any more; running jobs are cancelled, and their
    /// runs left unfinished, if the executor cancels when stopped, or else left to finish.
    pub fn stop<E: Executor<Handle = H>>(&mut self, executor: &mut E) -> Result<(), SweepError> {
        if self.stopping {
            return Ok(());
        }
        self.stopping = true;
        self.summary.unfinished = self.queue.len();
        self.queue.clear();
        if E::CANCELS_WHEN_STOPPED {
            // Cancelled jobs leave no result: their runs are trained on the next sweep.
            let jobs = std::mem::take(&mut self.running);
            let (count, unfinished) = (
                jobs.len(),
                jobs.iter()
                    .flat_map(|job| &job.members)
                    .filter(|member| !member.ended)
                    .count(),
            );
            executor.cancel(jobs)?;
            self.summary.unfinished += unfinished;
            self.progress.cancelled(count);
        } else {
            self.progress.stopping(self.running.len());
        }
        Ok(())
    }

    /// The members of `runs`, each reported started on its first attempt.
    fn members(&mut self, runs: Vec<Queued>) -> Vec<Member> {
        // A search's runs are numbered out of its whole budget.
        let total = match &self.experiment.search {
            Some(search) => search
                .samples
                .saturating_mul(self.experiment.repeats as usize),
            None => self.experiment.runs.len(),
        };
        runs.into_iter()
            .map(|queued| {
                let run = &self.experiment.runs[queued.index];
                if queued.attempt == 0 {
                    self.progress.run_started(run, queued.index, total);
                }
                Member::new(queued, self.layout.run_dir(run))
            })
            .collect()
    }

    /// Hands the epochs each unfinished run of `job` recorded since the last look to the
    /// progress display and to pruning, which may end the run; a pack's runs also end as their
    /// results appear, while the worker trains the others (a lone run's result is read when
    /// its worker exits).
    fn follow(&mut self, job: &mut Job<H>) -> Result<(), SweepError> {
        let experiment = self.experiment;
        let packed = job.members.len() > 1;
        for member in job.members.iter_mut().filter(|member| !member.ended) {
            let run = &experiment.runs[member.index];
            let epochs = run.config.train.epochs;
            let mut pruned = None;
            for record in member.new_epochs() {
                self.progress.epoch_ended(run, &record, epochs);
                if let Some(rungs) = &mut self.rungs
                    && let Some(verdict) = rungs.judge(&record, epochs)
                {
                    pruned = Some((record, rungs.metric(), verdict));
                    break;
                }
            }
            // A pruned run's result is recorded here; the worker of a pack sees it and drops
            // the run, a lone run's worker is stopped. Should the worker have recorded the
            // run's own result first, that one stands.
            let result = match pruned {
                Some((record, metric, verdict)) => Some(record_pruned(
                    run,
                    &member.run_dir,
                    &record,
                    (metric, verdict.value),
                    verdict.reason,
                )?),
                None if packed => finished_result(&member.run_dir),
                None => None,
            };
            if let Some(result) = result {
                member.ended = true;
                self.finished(run, &result);
            }
        }
        Ok(())
    }

    /// Takes the results of the runs of `job`, which ended; a run without one is queued again
    /// (first) while it has retries left, and recorded failed otherwise.
    fn settle(&mut self, job: Job<H>, ending: &Ending) -> Result<(), SweepError> {
        let experiment = self.experiment;
        for member in job.members.iter().filter(|member| !member.ended) {
            let run = &experiment.runs[member.index];
            let result = match finished_result(&member.run_dir) {
                Some(result) => result,
                None if member.attempt < experiment.resources.retries => {
                    self.queue.push_front(Queued {
                        index: member.index,
                        attempt: member.attempt + 1,
                    });
                    continue;
                }
                None => record_death(run, &member.run_dir, ending, member.attempt)?,
            };
            self.finished(run, &result);
        }
        Ok(())
    }

    /// Counts and reports a run that ended with `result` in this invocation.
    fn finished(&mut self, run: &RunSpec, result: &RunResult) {
        self.summary.now.count(result.status);
        self.progress.run_finished(run, result);
    }
}
