//! The local executor: a worker process per pack on the slots of `[resources]` (a device, the
//! backends it offers, its worker count). A pack goes to the first slot with a free worker
//! that offers its runs' backend; runs start in queue order, except that a run waits while the
//! slots offering its backend are busy.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hourglass_spec::Resources;

use crate::executor::{Ending, Executor, Job, Launch, Placed};
use crate::queue::Queue;
use crate::{SweepError, WORKER_LOG, WorkerCommand, io};

/// Worker processes of this machine, on the slots of `[resources]`.
pub(crate) struct LocalPool<'s> {
    resources: &'s Resources,
    worker: &'s WorkerCommand,
    /// Compute threads of each worker, when set.
    threads: Option<usize>,
}

/// A worker process of the pool.
pub(crate) struct LocalWorker {
    child: Child,
    started: Instant,
    /// The slot it occupies.
    slot: usize,
}

impl<'s> LocalPool<'s> {
    /// The pool of `resources`' slots, starting `worker`.
    pub fn new(resources: &'s Resources, worker: &'s WorkerCommand) -> Self {
        Self {
            resources,
            worker,
            threads: threads_per_worker(resources),
        }
    }

    /// How long a worker on `runs` runs may take: a pack trains its runs together, so K runs
    /// may take K runs' time (no limit past what a `Duration` holds).
    fn time_limit(&self, runs: usize) -> Option<Duration> {
        self.resources.timeout.map(|limit| {
            u32::try_from(runs)
                .ok()
                .and_then(|runs| limit.checked_mul(runs))
                .unwrap_or(Duration::MAX)
        })
    }

    /// Starts `WORKER RUN_DIR... --device DEVICE` with its output in the `worker.log` of every
    /// run (one file, linked into each folder of a pack).
    fn spawn(&self, launch: &Launch<'_>) -> Result<Result<LocalWorker, Ending>, SweepError> {
        let run_dirs: Vec<_> = launch.runs.iter().map(|(_, run_dir)| *run_dir).collect();
        let log_path = run_dirs[0].join(WORKER_LOG);
        let log = File::create(&log_path).map_err(io("cannot create", &log_path))?;
        for run_dir in &run_dirs[1..] {
            let link = run_dir.join(WORKER_LOG);
            std::fs::hard_link(&log_path, &link).map_err(io("cannot link", &link))?;
        }
        let mut command = Command::new(&self.worker.program);
        command
            .args(&self.worker.args)
            .args(&run_dirs)
            .arg("--device")
            .arg(self.resources.slots[launch.slot].device.to_string())
            .env(crate::ORCHESTRATOR_PID, std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io("cannot share", &log_path))?)
            .stderr(log);
        // A process group of its own: a Ctrl-C at the terminal reaches the orchestrator, which
        // lets running workers finish, rather than killing them mid-run.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        if let Some(threads) = self.threads {
            command
                .env("RAYON_NUM_THREADS", threads.to_string())
                .env("OMP_NUM_THREADS", threads.to_string());
        }
        Ok(match command.spawn() {
            Ok(child) => Ok(LocalWorker {
                child,
                started: Instant::now(),
                slot: launch.slot,
            }),
            Err(e) => Err(Ending(format!(
                "cannot start worker {}: {e}",
                self.worker.program.display()
            ))),
        })
    }
}

impl Executor for LocalPool<'_> {
    type Handle = LocalWorker;

    /// Stopped, local workers finish their runs: the orchestrator waits for them.
    const CANCELS_WHEN_STOPPED: bool = false;

    fn place(&self, queue: &mut Queue<'_>, running: &[Job<LocalWorker>]) -> Vec<Placed> {
        let slots = &self.resources.slots;
        let mut busy = vec![0; slots.len()];
        for job in running {
            busy[job.handle.slot] += 1;
        }
        let mut placed = Vec::new();
        while let Some((position, slot)) = queue.first_fitting(|run| {
            let backend = run.config.train.backend;
            (0..slots.len())
                .find(|&i| busy[i] < slots[i].workers && slots[i].backends.contains(&backend))
        }) {
            busy[slot] += 1;
            placed.push(Placed {
                slot,
                runs: queue.take_pack(position),
            });
        }
        placed
    }

    fn start(
        &mut self,
        launches: &[Launch<'_>],
    ) -> Result<Vec<Result<LocalWorker, Ending>>, SweepError> {
        launches.iter().map(|launch| self.spawn(launch)).collect()
    }

    /// A worker past its time limit is killed first.
    fn ended(&mut self, job: &mut Job<LocalWorker>) -> Option<Ending> {
        let limit = self.time_limit(job.members.len());
        let worker = &mut job.handle;
        match worker.child.try_wait() {
            Ok(Some(status)) => Some(Ending(format!("worker exited without a result ({status})"))),
            Ok(None) => match limit {
                Some(limit) if worker.started.elapsed() > limit => {
                    worker.stop();
                    Some(Ending(format!(
                        "timed out after {limit:.0?} and was killed"
                    )))
                }
                _ => None,
            },
            Err(e) => Some(Ending(format!("lost track of the worker: {e}"))),
        }
    }

    fn cancel(&mut self, jobs: Vec<Job<LocalWorker>>) -> Result<(), SweepError> {
        for mut job in jobs {
            job.handle.stop();
        }
        Ok(())
    }
}

impl LocalWorker {
    /// Kills the worker and waits for it.
    fn stop(&mut self) {
        // A kill that fails means the worker has just exited: wait reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Compute threads of each local worker: `resources.threads_per_worker`, or else the cores
/// shared out among the workers that run at once (all of them for one worker), so that
/// workers whose backends use every core do not crowd each other out.
fn threads_per_worker(resources: &Resources) -> Option<usize> {
    resources.threads_per_worker.or_else(|| {
        let workers = resources.workers();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        (workers > 1).then(|| (cores / workers).max(1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packs_time_limit_saturates_instead_of_overflowing() {
        let worker = WorkerCommand {
            program: "hourglass".into(),
            args: Vec::new(),
        };
        let mut resources = Resources {
            timeout: Some(Duration::from_secs(10)),
            ..Resources::default()
        };
        let pool = LocalPool::new(&resources, &worker);
        assert_eq!(pool.time_limit(3), Some(Duration::from_secs(30)));
        resources.timeout = Some(Duration::MAX / 2);
        let pool = LocalPool::new(&resources, &worker);
        assert_eq!(pool.time_limit(3), Some(Duration::MAX));
        assert_eq!(pool.time_limit(usize::MAX), Some(Duration::MAX));
        resources.timeout = None;
        assert_eq!(LocalPool::new(&resources, &worker).time_limit(3), None);
    }
}
