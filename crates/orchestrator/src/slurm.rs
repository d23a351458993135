//! The Slurm executor ([`Executor`]): a sweep's unfinished runs go to the cluster as one job
//! array per submission (`sbatch --array=0-N%P`), task `i` training the run on line `i + 1`
//! of the array's run list (`hourglass worker --run-list LIST`), or the runs of a pack, whose
//! folders share the line, separated by tabs. The reports and data set folders
//! must be shared between this machine and the nodes: results come back as the workers'
//! `result.json` files, exactly as from local workers.
//!
//! Every submission is recorded in `slurm/jobs.json` in the sweep folder before it is
//! followed, so an orchestrator started again after being killed adopts the tasks still
//! pending or running instead of submitting their runs a second time. Task states come from
//! `scontrol show job` (one call per job array and refresh); a task's log is copied into its
//! run folder as `worker.log` once it ends. Nothing from a spec reaches a shell: sbatch gets
//! its arguments as a list, and the batch script holds only paths hourglass made.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hourglass_spec::result::write_atomic;
use hourglass_spec::{RunSpec, Slurm};
use serde::{Deserialize, Serialize};

use crate::executor::{Ending, Executor, Job, Launch, Placed};
use crate::queue::{Queue, Queued};
use crate::{SweepError, WORKER_LOG, WorkerCommand, io};

/// The sweep folder's subfolder of batch scripts, run lists, task logs and `jobs.json`.
pub const SLURM_DIR: &str = "slurm";
const JOBS_FILE: &str = "jobs.json";

/// Least time between two queries of the tasks' states.
const REFRESH: Duration = Duration::from_secs(1);

/// One array task: the job array's id and the task's index in it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Task {
    pub job: String,
    pub index: usize,
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.job, self.index)
    }
}

/// A submitted job array as `jobs.json` records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Submission {
    job: String,
    /// The runs of each task, by task index.
    runs: Vec<TaskRuns>,
}

/// The runs an array task trains.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum TaskRuns {
    /// One run's id (a plain string in `jobs.json`, as before packs).
    Alone(String),
    /// The ids of a pack's runs.
    Pack(Vec<String>),
}

impl TaskRuns {
    fn of(runs: &[(&RunSpec, &Path)]) -> Self {
        match runs {
            [(run, _)] => Self::Alone(run.id.to_string()),
            _ => Self::Pack(runs.iter().map(|(run, _)| run.id.to_string()).collect()),
        }
    }

    fn contains(&self, id: &str) -> bool {
        match self {
            Self::Alone(run) => run == id,
            Self::Pack(runs) => runs.iter().any(|run| run == id),
        }
    }
}

/// Where a task stands, as `scontrol` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TaskState {
    /// Pending, configuring, running, completing, suspended: it will run or is running.
    Live,
    /// Ended, with Slurm's state (`COMPLETED`, `FAILED`, `CANCELLED`, `TIMEOUT`, ...) and exit
    /// code (`3:0`: status 3, no signal).
    Ended { state: String, exit_code: String },
    /// Slurm no longer knows the task (its record aged out, or the controller lost it).
    Unknown,
}

/// The sweep's job arrays and their tasks' last known states.
pub(crate) struct SlurmExecutor {
    settings: Slurm,
    dir: PathBuf,
    worker: WorkerCommand,
    threads: Option<usize>,
    job_name: String,
    submissions: Vec<Submission>,
    states: BTreeMap<Task, TaskState>,
    refreshed: Option<Instant>,
}

impl SlurmExecutor {
    /// The executor of the sweep in `sweep_dir`, with the submissions an earlier orchestrator
    /// recorded there.
    pub fn new(
        settings: &Slurm,
        sweep_dir: &Path,
        experiment_name: &str,
        worker: &WorkerCommand,
        threads: Option<usize>,
    ) -> Result<Self, SweepError> {
        let dir = std::path::absolute(sweep_dir.join(SLURM_DIR))
            .map_err(io("cannot resolve", sweep_dir))?;
        std::fs::create_dir_all(dir.join("logs")).map_err(io("cannot create", &dir))?;
        let jobs = dir.join(JOBS_FILE);
        let submissions = match std::fs::read_to_string(&jobs) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| SweepError::Slurm {
                message: format!("cannot read {}: {e}", jobs.display()),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io("cannot read", &jobs)(e)),
        };
        Ok(Self {
            settings: settings.clone(),
            dir,
            worker: worker.clone(),
            threads: threads.or(settings.cpus_per_task),
            job_name: format!("hourglass-{experiment_name}"),
            submissions,
            states: BTreeMap::new(),
            refreshed: None,
        })
    }

    /// The live task of an earlier submission that trains run `id`, to follow instead of
    /// submitting the run again (as of the last [`Self::refresh_states`]).
    fn adoptable(&self, id: &str) -> Option<Task> {
        self.tasks_of(id)
            .into_iter()
            .find(|task| self.states.get(task) == Some(&TaskState::Live))
    }

    fn tasks_of(&self, id: &str) -> Vec<Task> {
        self.submissions
            .iter()
            .flat_map(|submission| {
                submission
                    .runs
                    .iter()
                    .enumerate()
                    .filter(move |(_, runs)| runs.contains(id))
                    .map(|(index, _)| Task {
                        job: submission.job.clone(),
                        index,
                    })
            })
            .collect()
    }

    /// Submits `tasks`, each one run or a pack's runs (with their folders), as one job array
    /// and records it; returns each one's array task, in order.
    fn submit(&mut self, tasks: &[Launch<'_>]) -> Result<Vec<Task>, SweepError> {
        let number = self.submissions.len();
        let list = self.dir.join(format!("array-{number}.runs"));
        let mut lines = String::new();
        for launch in tasks {
            let mut folders = Vec::with_capacity(launch.runs.len());
            for (_, run_dir) in &launch.runs {
                let run_dir =
                    std::path::absolute(run_dir).map_err(io("cannot resolve", run_dir))?;
                let folder = utf8(&run_dir)?;
                if folder.contains(['\t', '\n']) {
                    return Err(SweepError::Slurm {
                        message: format!(
                            "{folder:?} holds a tab or a newline, which separate run folders in an array's run list"
                        ),
                    });
                }
                folders.push(folder);
            }
            lines.push_str(&folders.join("\t"));
            lines.push('\n');
        }
        write_atomic(&list, lines.as_bytes()).map_err(io("cannot write", &list))?;
        let script = self.dir.join(format!("array-{number}.sh"));
        write_atomic(&script, self.batch_script(&list)?.as_bytes())
            .map_err(io("cannot write", &script))?;

        let mut array = format!("--array=0-{}", tasks.len() - 1);
        if let Some(parallel) = self.settings.array_parallelism {
            array.push_str(&format!("%{parallel}"));
        }
        let mut sbatch = Command::new("sbatch");
        sbatch
            .arg("--parsable")
            .arg(format!("--job-name={}", self.job_name))
            .arg(array)
            .arg(format!(
                "--output={}",
                utf8(&self.dir.join("logs/%A_%a.log"))?
            ))
            .args(self.settings.sbatch_options())
            .arg(&script);
        if let Some(threads) = self.threads {
            sbatch
                .env("RAYON_NUM_THREADS", threads.to_string())
                .env("OMP_NUM_THREADS", threads.to_string());
        }
        let stdout = call(&mut sbatch)?;
        // `--parsable` prints `JOBID` or `JOBID;CLUSTER`.
        let job = stdout
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
            return Err(SweepError::Slurm {
                message: format!("sbatch printed {stdout:?}, not a job id"),
            });
        }
        let submission = Submission {
            job: job.clone(),
            runs: tasks
                .iter()
                .map(|launch| TaskRuns::of(&launch.runs))
                .collect(),
        };
        self.submissions.push(submission);
        let jobs = self.dir.join(JOBS_FILE);
        let json = serde_json::to_vec_pretty(&self.submissions).expect("submissions serialize");
        write_atomic(&jobs, &json).map_err(io("cannot write", &jobs))?;
        Ok((0..tasks.len())
            .map(|index| {
                let task = Task {
                    job: job.clone(),
                    index,
                };
                self.states.insert(task.clone(), TaskState::Live);
                task
            })
            .collect())
    }

    /// `#!/bin/sh` and one `exec` of the worker with single-quoted arguments. SIGUSR1 (the
    /// time limit's warning) is ignored until the worker handles it: by default it would end
    /// the task without a checkpoint.
    fn batch_script(&self, list: &Path) -> Result<String, SweepError> {
        let mut words = vec![quote(&utf8(&self.worker.program)?)];
        for arg in &self.worker.args {
            let arg = arg.to_str().ok_or_else(|| SweepError::Slurm {
                message: format!("worker argument {arg:?} is not UTF-8"),
            })?;
            words.push(quote(arg));
        }
        words.push("--run-list".into());
        words.push(quote(&utf8(list)?));
        words.push("--device".into());
        words.push(quote(&self.settings.device().to_string()));
        Ok(format!(
            "#!/bin/sh\n# {}: array task i trains the runs on line i + 1 of the list.\ntrap '' USR1\nexec {}\n",
            self.job_name,
            words.join(" ")
        ))
    }

    /// Queries the states of the tasks that were live at the last query, at most once per
    /// [`REFRESH`] unless `now`.
    fn refresh_states(&mut self, now: bool) -> Result<(), SweepError> {
        if !now && self.refreshed.is_some_and(|at| at.elapsed() < REFRESH) {
            return Ok(());
        }
        self.refreshed = Some(Instant::now());
        let mut jobs: Vec<&str> = self
            .submissions
            .iter()
            .filter(|s| {
                (0..s.runs.len()).any(|index| {
                    let task = Task {
                        job: s.job.clone(),
                        index,
                    };
                    matches!(self.states.get(&task), None | Some(TaskState::Live))
                })
            })
            .map(|s| s.job.as_str())
            .collect();
        jobs.dedup();
        let mut states = BTreeMap::new();
        for job in jobs {
            let output = Command::new("scontrol")
                .args(["--oneliner", "show", "job", job])
                .output()
                .map_err(|e| SweepError::Slurm {
                    message: format!("cannot run scontrol: {e}"),
                })?;
            // A job Slurm has forgotten is not an error: its tasks are unknown.
            if output.status.success() {
                parse_job_states(job, &String::from_utf8_lossy(&output.stdout), &mut states);
            }
        }
        for submission in &self.submissions {
            for index in 0..submission.runs.len() {
                let task = Task {
                    job: submission.job.clone(),
                    index,
                };
                if matches!(self.states.get(&task), None | Some(TaskState::Live)) {
                    let state = states.remove(&task).unwrap_or(TaskState::Unknown);
                    self.states.insert(task, state);
                }
            }
        }
        Ok(())
    }

    /// Cancels `tasks` (`scancel JOB_INDEX ...`).
    fn cancel_tasks<'a>(
        &self,
        tasks: impl IntoIterator<Item = &'a Task>,
    ) -> Result<(), SweepError> {
        let tasks: Vec<String> = tasks.into_iter().map(Task::to_string).collect();
        if tasks.is_empty() {
            return Ok(());
        }
        call(Command::new("scancel").args(tasks))?;
        Ok(())
    }
}

impl Executor for SlurmExecutor {
    type Handle = Task;

    /// Tasks would run on without the orchestrator: stopped, it cancels them.
    const CANCELS_WHEN_STOPPED: bool = true;

    /// Tasks that an earlier orchestrator submitted and that are still pending or running are
    /// followed, not submitted again; the unfinished runs of a pack's task as one job again.
    fn adopt(&mut self, queue: &mut Queue<'_>) -> Result<Vec<(Task, Vec<Queued>)>, SweepError> {
        self.refresh_states(true)?;
        let mut adopted: BTreeMap<Task, Vec<Queued>> = BTreeMap::new();
        for (task, queued) in queue.extract(|run| self.adoptable(run.id.as_str())) {
            adopted.entry(task).or_default().push(queued);
        }
        Ok(adopted.into_iter().collect())
    }

    /// Every queued run goes now, one array task per pack.
    fn place(&self, queue: &mut Queue<'_>, _running: &[Job<Task>]) -> Vec<Placed> {
        let mut placed = Vec::new();
        while !queue.is_empty() {
            placed.push(Placed {
                slot: 0,
                runs: queue.take_pack(0),
            });
        }
        placed
    }

    fn start(&mut self, launches: &[Launch<'_>]) -> Result<Vec<Result<Task, Ending>>, SweepError> {
        Ok(self.submit(launches)?.into_iter().map(Ok).collect())
    }

    /// Task states are queried at most once per [`REFRESH`].
    fn refresh(&mut self) -> Result<(), SweepError> {
        self.refresh_states(false)
    }

    /// Once the task has ended, its log is copied into each of its runs' folders.
    fn ended(&mut self, job: &mut Job<Task>) -> Option<Ending> {
        let task = &job.handle;
        let reason = match self.states.get(task)? {
            TaskState::Live => return None,
            TaskState::Ended { state, exit_code } => {
                let status = exit_code.split(':').next().unwrap_or(exit_code);
                format!("Slurm task {task} ended {state} without a result (exit code {status})")
            }
            TaskState::Unknown => {
                format!("Slurm no longer knows task {task}, and it left no result")
            }
        };
        let log = self.dir.join("logs").join(format!("{task}.log"));
        for member in &job.members {
            // A task that never started has no log; its state says why.
            let _ = std::fs::copy(&log, member.run_dir.join(WORKER_LOG));
        }
        Some(Ending(reason))
    }

    fn cancel(&mut self, jobs: Vec<Job<Task>>) -> Result<(), SweepError> {
        self.cancel_tasks(jobs.iter().map(|job| &job.handle))
    }
}

/// Reads `scontrol --oneliner show job` of job array `job` into `states`: one line per task,
/// or per range of pending tasks (`ArrayTaskId=3-5%2`).
fn parse_job_states(job: &str, text: &str, states: &mut BTreeMap<Task, TaskState>) {
    for line in text.lines() {
        let fields: BTreeMap<&str, &str> = line
            .split_whitespace()
            .filter_map(|field| field.split_once('='))
            .collect();
        if fields.get("ArrayJobId") != Some(&job) {
            continue;
        }
        let (Some(ids), Some(state)) = (fields.get("ArrayTaskId"), fields.get("JobState")) else {
            continue;
        };
        let state = match *state {
            "PENDING" | "CONFIGURING" | "RUNNING" | "COMPLETING" | "SUSPENDED" | "REQUEUED"
            | "RESIZING" | "STAGE_OUT" | "SIGNALING" => TaskState::Live,
            ended => TaskState::Ended {
                state: ended.to_string(),
                exit_code: fields.get("ExitCode").unwrap_or(&"?").to_string(),
            },
        };
        for index in task_indices(ids) {
            states.insert(
                Task {
                    job: job.to_string(),
                    index,
                },
                state.clone(),
            );
        }
    }
}

/// `3`, `3-5`, `1,3-5%2` as task indices.
fn task_indices(ids: &str) -> Vec<usize> {
    let ids = ids.split('%').next().unwrap_or_default();
    ids.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((low, high)) => match (low.parse::<usize>(), high.parse::<usize>()) {
                (Ok(low), Ok(high)) => (low..=high).collect(),
                _ => Vec::new(),
            },
            None => part.parse().into_iter().collect(),
        })
        .collect()
}

/// Runs a Slurm command; its stdout, or an error with its stderr.
fn call(command: &mut Command) -> Result<String, SweepError> {
    let output = command.output().map_err(|e| SweepError::Slurm {
        message: format!(
            "cannot run {:?}: {e} (is Slurm installed?)",
            command.get_program()
        ),
    })?;
    if !output.status.success() {
        return Err(SweepError::Slurm {
            message: format!(
                "{:?} failed ({}): {}",
                command.get_program(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn utf8(path: &Path) -> Result<String, SweepError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| SweepError::Slurm {
            message: format!("{} is not a UTF-8 path", path.display()),
        })
}

/// `word` in single quotes for `sh`, with `'` written as `'\''`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scontrol_lines_give_each_tasks_state() {
        let text = "JobId=12 ArrayJobId=10 ArrayTaskId=2 JobState=FAILED ExitCode=3:0 Name=x\n\
                    JobId=11 ArrayJobId=10 ArrayTaskId=0 JobState=COMPLETED ExitCode=0:0\n\
                    JobId=10 ArrayJobId=10 ArrayTaskId=3-5%2 JobState=PENDING ExitCode=0:0\n\
                    JobId=13 ArrayJobId=10 ArrayTaskId=1 JobState=RUNNING ExitCode=0:0\n";
        let mut states = BTreeMap::new();
        parse_job_states("10", text, &mut states);
        let state = |index| {
            states
                .get(&Task {
                    job: "10".into(),
                    index,
                })
                .cloned()
        };
        assert_eq!(
            state(2),
            Some(TaskState::Ended {
                state: "FAILED".into(),
                exit_code: "3:0".into()
            })
        );
        assert_eq!(state(1), Some(TaskState::Live));
        assert_eq!(state(4), Some(TaskState::Live));
        assert_eq!(states.len(), 6);
        assert_eq!(task_indices("1,3-4%2"), [1, 3, 4]);
    }

    #[test]
    fn jobs_json_names_lone_runs_by_their_id_and_packs_by_their_ids() {
        // A lone run's id is a plain string, as in the `jobs.json` of sweeps before packs.
        let text = r#"[{"job": "7", "runs": ["a", ["b", "c"]]}, {"job": "8", "runs": ["c"]}]"#;
        let submissions: Vec<Submission> = serde_json::from_str(text).unwrap();
        let executor = SlurmExecutor {
            settings: Slurm::default(),
            dir: PathBuf::new(),
            worker: WorkerCommand {
                program: PathBuf::new(),
                args: Vec::new(),
            },
            threads: None,
            job_name: String::new(),
            submissions,
            states: BTreeMap::new(),
            refreshed: None,
        };
        let task = |job: &str, index| Task {
            job: job.into(),
            index,
        };
        assert_eq!(executor.tasks_of("a"), [task("7", 0)]);
        assert_eq!(executor.tasks_of("b"), [task("7", 1)]);
        assert_eq!(executor.tasks_of("c"), [task("7", 1), task("8", 0)]);
        let written = serde_json::to_string(&executor.submissions).unwrap();
        assert_eq!(written, text.replace(' ', ""));
    }

    #[test]
    fn quoting_keeps_a_word_whole_for_sh() {
        let word = "it's a $HOME `dir`";
        let output = Command::new("sh")
            .args(["-c", &format!("printf %s {}", quote(word))])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), word);
    }
}
