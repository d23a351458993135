//! `[resources]` and `[sweep.pruning]`, validated: how a sweep's runs are executed and when
//! the orchestrator stops unpromising ones. Neither is part of any run's configuration or id.

use std::fmt;
use std::time::Duration;

use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::ranges;
use crate::result::EpochMetric;
use crate::schema::{
    Backend, ExecutorKind, PruningSection, ResourcesSection, SlotSection, SlurmSection,
};

/// `[resources]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Resources {
    /// Where runs execute; a run goes only to a slot that offers its backend.
    pub slots: Vec<Slot>,
    /// Compute threads of each worker; `None` leaves the backend's default (all cores).
    pub threads_per_worker: Option<usize>,
    /// Longest a run may take before its worker is killed and the run recorded as failed.
    pub timeout: Option<Duration>,
    /// Restarts of a run whose worker died or timed out without recording a result.
    pub retries: u32,
    /// Where the workers run.
    pub executor: Executor,
    /// Runs trained together as one packed model, at most (1: each alone); see
    /// [`RunConfig::pack_key`](crate::RunConfig::pack_key) for which runs pack.
    pub pack: usize,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            slots: vec![Slot::cpu(1)],
            threads_per_worker: None,
            timeout: None,
            retries: 0,
            executor: Executor::Local,
            pack: 1,
        }
    }
}

/// Where a sweep's workers run.
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// Processes on this machine, placed on `Resources::slots`.
    Local,
    /// Tasks of Slurm job arrays, with these sbatch settings.
    Slurm(Slurm),
}

/// `[resources.slurm]`, validated: every value is safe to pass to sbatch as one argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Slurm {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, in minutes.
    pub time_limit_minutes: Option<u64>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<usize>,
    /// `--gpus-per-task`.
    pub gpus_per_task: Option<usize>,
    /// `--mem`.
    pub mem: Option<String>,
    /// The `%N` of `--array`.
    pub array_parallelism: Option<usize>,
    /// Seconds before the time limit at which a task is told to checkpoint and requeue.
    pub signal_grace_seconds: u64,
    /// Further options, one argument each.
    pub extra_args: Vec<String>,
}

/// `resources.slurm.signal_grace` when absent, in seconds (submitit's default too).
pub const DEFAULT_SIGNAL_GRACE_SECONDS: u64 = 90;

/// The longest grace sbatch's `--signal` takes, in seconds.
const MAX_SIGNAL_GRACE_SECONDS: u64 = 65535;

impl Default for Slurm {
    fn default() -> Self {
        Self {
            partition: None,
            time_limit_minutes: None,
            cpus_per_task: None,
            gpus_per_task: None,
            mem: None,
            array_parallelism: None,
            signal_grace_seconds: DEFAULT_SIGNAL_GRACE_SECONDS,
            extra_args: Vec::new(),
        }
    }
}

impl Slurm {
    /// The sbatch options of a job array, without `--array` itself. Each task's worker is sent
    /// SIGUSR1 the grace before its time limit, and may requeue its task; a requeued task
    /// appends to its log.
    pub fn sbatch_options(&self) -> Vec<String> {
        let mut options = Vec::new();
        let mut push = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                options.push(format!("--{name}={value}"));
            }
        };
        push("partition", self.partition.clone());
        push("time", self.time_limit_minutes.map(|m| m.to_string()));
        push("cpus-per-task", self.cpus_per_task.map(|n| n.to_string()));
        push("gpus-per-task", self.gpus_per_task.map(|n| n.to_string()));
        push("mem", self.mem.clone());
        push(
            "signal",
            Some(format!("B:USR1@{}", self.signal_grace_seconds)),
        );
        options.extend(["--requeue".to_string(), "--open-mode=append".to_string()]);
        options.extend(self.extra_args.iter().cloned());
        options
    }

    /// The device a task trains on: its first GPU when it has one.
    pub fn device(&self) -> DeviceName {
        match self.gpus_per_task {
            Some(gpus) if gpus > 0 => DeviceName::Cuda(0),
            _ => DeviceName::Cpu,
        }
    }
}

/// sbatch options that hourglass sets itself and `extra_args` may not, in full or in part:
/// sbatch reads long options with `getopt_long`, which takes any unambiguous prefix of a name
/// as that option (`--outp=FILE` sets `--output`), and refuses an ambiguous one.
pub const RESERVED_SBATCH_OPTIONS: [&str; 10] = [
    "--array",
    "--signal",
    "--requeue",
    "--open-mode",
    "--output",
    "--error",
    "--wrap",
    "--parsable",
    "--job-name",
    "--export",
];

impl Resources {
    /// Worker processes at once, over all slots (saturating: no count overflows).
    pub fn workers(&self) -> usize {
        self.slots
            .iter()
            .fold(0, |workers, slot| workers.saturating_add(slot.workers))
    }

    /// Whether some slot offers `backend`.
    pub fn offers(&self, backend: Backend) -> bool {
        self.slots
            .iter()
            .any(|slot| slot.backends.contains(&backend))
    }
}

/// A device with the backends runs may use on it and how many workers it takes at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// The device, e.g. `cpu` or `cuda:0`.
    pub device: DeviceName,
    /// Backends offered on the device.
    pub backends: Vec<Backend>,
    /// Worker processes on the device at once.
    pub workers: usize,
}

impl Slot {
    /// The slot used when `[resources]` names none: the CPU with every CPU backend.
    pub fn cpu(workers: usize) -> Self {
        let backends = Backend::ALL
            .into_iter()
            .filter(|b| b.runs_on(DeviceName::Cpu))
            .collect();
        Self {
            device: DeviceName::Cpu,
            backends,
            workers,
        }
    }
}

/// A device as a spec names it: `cpu`, `cuda:N` (an NVIDIA GPU) or `gpu:N` (any GPU through
/// wgpu).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceName {
    /// The host CPU.
    Cpu,
    /// CUDA device N.
    Cuda(usize),
    /// wgpu adapter N.
    Gpu(usize),
}

impl DeviceName {
    /// Reads `cpu`, `cuda:N` or `gpu:N`.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "cpu" {
            return Some(Self::Cpu);
        }
        let (kind, index) = text.split_once(':')?;
        let index = index.parse().ok()?;
        match kind {
            "cuda" => Some(Self::Cuda(index)),
            "gpu" => Some(Self::Gpu(index)),
            _ => None,
        }
    }
}

impl fmt::Display for DeviceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(index) => write!(f, "cuda:{index}"),
            Self::Gpu(index) => write!(f, "gpu:{index}"),
        }
    }
}

impl Backend {
    /// Every backend, compiled in or not.
    pub const ALL: [Backend; 4] = [Backend::Flex, Backend::Tch, Backend::Cuda, Backend::Wgpu];

    /// Whether the backend can train on `device`.
    pub fn runs_on(self, device: DeviceName) -> bool {
        matches!(
            (self, device),
            (Backend::Flex, DeviceName::Cpu)
                | (Backend::Tch, DeviceName::Cpu | DeviceName::Cuda(_))
                | (Backend::Cuda, DeviceName::Cuda(_))
                | (Backend::Wgpu, DeviceName::Gpu(_))
        )
    }
}

/// `[sweep.pruning]`, validated: asynchronous successive halving (ASHA) across the runs.
///
/// Rungs are at epochs `grace_epochs · reduction_factor^k`. A run reaching a rung continues
/// only if its metric is among the best `1/reduction_factor` of the values recorded at that
/// rung so far (the first run at a rung always continues); otherwise it is stopped and
/// recorded as pruned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pruning {
    /// The per-epoch metric compared, lower is better.
    pub metric: EpochMetric,
    /// Epochs every run trains before it can be pruned: the first rung.
    pub grace_epochs: usize,
    /// η: each rung keeps about 1/η of the runs that reach it.
    pub reduction_factor: usize,
}

impl Pruning {
    /// Whether `epoch` is a rung. Rungs past what a `usize` holds do not exist, so any
    /// `grace_epochs`, `reduction_factor` and epoch give an answer (the epochs read back from a
    /// resumed sweep's `metrics.jsonl` included).
    pub fn is_rung(&self, epoch: usize) -> bool {
        let mut rung = self.grace_epochs;
        while rung < epoch {
            match rung.checked_mul(self.reduction_factor) {
                Some(next) if next > rung => rung = next,
                // Past usize::MAX, or a factor below 2 that never climbs.
                _ => return false,
            }
        }
        rung == epoch
    }

    /// Whether a run whose metric is `value` at a rung continues, given the `recorded` values
    /// of the runs that reached this rung before it.
    pub fn promotes(&self, value: f64, recorded: &[f64]) -> bool {
        let mut values: Vec<f64> = recorded.iter().copied().chain([value]).collect();
        values.sort_by(f64::total_cmp);
        let kept = (values.len() / self.reduction_factor.max(1)).max(1);
        value <= values[kept - 1]
    }
}

/// Checks `[resources]`.
pub(crate) fn check_resources(section: &ResourcesSection) -> Result<Resources, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let workers = count(&mut problems, "resources.workers", &section.workers);
    let threads_per_worker = count(
        &mut problems,
        "resources.threads_per_worker",
        &section.threads_per_worker,
    );
    let pack = count(&mut problems, "resources.pack", &section.pack);
    let timeout = duration(&mut problems, "resources.timeout", &section.timeout);
    let executor = match (
        section.executor.as_ref().map(|e| *e.get_ref()),
        &section.slurm,
    ) {
        (Some(ExecutorKind::Slurm), slurm) => {
            let slurm = check_slurm(
                slurm.as_ref().unwrap_or(&SlurmSection::default()),
                &mut problems,
            );
            const PLACES: &str = "limit the runs at once with `resources.slurm.array_parallelism`";
            let local_only = [
                (
                    "resources.workers",
                    section.workers.as_ref().map(|w| Some(w.span())),
                    PLACES,
                ),
                (
                    "resources.slots",
                    section.slots.as_ref().map(|_| None),
                    PLACES,
                ),
                (
                    "resources.timeout",
                    section.timeout.as_ref().map(|t| Some(t.span())),
                    "Slurm ends runs at `resources.slurm.time_limit`",
                ),
            ];
            for (key, span, hint) in local_only {
                if let Some(span) = span {
                    problems.push(
                        Diagnostic::new(key, "is for the local executor, not Slurm")
                            .with_hint(hint)
                            .at(span),
                    );
                }
            }
            Executor::Slurm(slurm)
        }
        (_, Some(_)) => {
            problems.push(
                Diagnostic::new("resources.slurm", "is set but the executor is local").with_hint(
                    "add `executor = \"slurm\"` to [resources], or remove [resources.slurm]",
                ),
            );
            Executor::Local
        }
        (_, None) => Executor::Local,
    };
    let slots = match (&executor, &section.slots) {
        (Executor::Slurm(slurm), _) => vec![Slot {
            device: slurm.device(),
            backends: Backend::ALL
                .into_iter()
                .filter(|b| b.runs_on(slurm.device()))
                .collect(),
            workers: slurm.array_parallelism.unwrap_or(usize::MAX),
        }],
        (Executor::Local, slots) => match slots {
            None => vec![Slot::cpu(workers.unwrap_or(1))],
            Some(slots) => {
                if let Some(workers) = &section.workers {
                    problems.push(
                        Diagnostic::new(
                            "resources.workers",
                            "is set together with resources.slots",
                        )
                        .with_hint("give each slot its own `workers` instead")
                        .at(Some(workers.span())),
                    );
                }
                if slots.is_empty() {
                    problems.push(Diagnostic::new(
                        "resources.slots",
                        "is empty: no run could be placed",
                    ));
                }
                slots
                    .iter()
                    .filter_map(|slot| check_slot(slot, &mut problems))
                    .collect()
            }
        },
    };
    if problems.is_empty() {
        Ok(Resources {
            slots,
            threads_per_worker,
            timeout,
            retries: section.retries,
            executor,
            pack: pack.unwrap_or(1),
        })
    } else {
        Err(problems)
    }
}

/// The count at `key`, when it is set and in its range (a problem otherwise).
fn count(
    problems: &mut Vec<Diagnostic>,
    key: &str,
    value: &Option<Spanned<usize>>,
) -> Option<usize> {
    let value = value.as_ref()?;
    if let Some(problem) = ranges::check_integer(key, *value.get_ref() as i128) {
        problems.push(problem.at(Some(value.span())));
        return None;
    }
    Some(*value.get_ref())
}

/// The longest duration a spec may give, a year: far beyond any run, and small enough that a
/// pack's time limit (K runs' worth) is still a `Duration`.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// The duration at `key`, when it is set and readable (a problem otherwise).
fn duration(
    problems: &mut Vec<Diagnostic>,
    key: &str,
    value: &Option<Spanned<String>>,
) -> Option<Duration> {
    let value = value.as_ref()?;
    checked_duration(value.get_ref())
        .map_err(|(message, hint)| {
            let problem = Diagnostic::new(key, message).with_hint(hint);
            problems.push(problem.at(Some(value.span())));
        })
        .ok()
}

/// The duration `text`, or what is wrong with it and a hint.
pub(crate) fn checked_duration(text: &str) -> Result<Duration, (String, String)> {
    let message = match parse_duration(text) {
        Some(Ok(duration)) => return Ok(duration),
        Some(Err(())) => format!(
            "duration {text:?} is out of range: expected more than 0s and at most {}h (365 days)",
            MAX_DURATION.as_secs() / 3600
        ),
        None => format!("cannot read {text:?} as a duration"),
    };
    let hint = "write a positive number with a unit: \"90s\", \"30m\" or \"2h\"";
    Err((message, hint.to_string()))
}

fn check_slot(slot: &SlotSection, problems: &mut Vec<Diagnostic>) -> Option<Slot> {
    let workers = count(problems, "resources.slots.workers", &slot.workers).unwrap_or(1);
    let Some(device) = DeviceName::parse(slot.device.get_ref()) else {
        problems.push(
            Diagnostic::new(
                "resources.slots.device",
                format!("{:?} is not a device", slot.device.get_ref()),
            )
            .with_hint("write \"cpu\", \"cuda:N\" or \"gpu:N\"")
            .at(Some(slot.device.span())),
        );
        return None;
    };
    let backends = slot.backends.get_ref();
    if backends.is_empty() {
        problems.push(
            Diagnostic::new("resources.slots.backends", "is empty").at(Some(slot.backends.span())),
        );
    }
    for backend in backends.iter().filter(|b| !b.runs_on(device)) {
        let devices: Vec<String> = [DeviceName::Cpu, DeviceName::Cuda(0), DeviceName::Gpu(0)]
            .into_iter()
            .filter(|d| backend.runs_on(*d))
            .map(|d| d.to_string().replace(":0", ":N"))
            .collect();
        problems.push(
            Diagnostic::new(
                "resources.slots.backends",
                format!("backend `{}` cannot run on {device}", backend.name()),
            )
            .with_hint(format!("it runs on {}", devices.join(" or ")))
            .at(Some(slot.backends.span())),
        );
    }
    Some(Slot {
        device,
        backends: backends.clone(),
        workers,
    })
}

/// Checks `[resources.slurm]`: names and sizes sbatch reads as one option each.
fn check_slurm(section: &SlurmSection, problems: &mut Vec<Diagnostic>) -> Slurm {
    let mut text =
        |key: &str, value: &Option<Spanned<String>>, valid: fn(&str) -> bool, hint: &str| {
            let value = value.as_ref()?;
            if valid(value.get_ref()) {
                return Some(value.get_ref().clone());
            }
            problems.push(
                Diagnostic::new(key, format!("{:?} is not valid here", value.get_ref()))
                    .with_hint(hint)
                    .at(Some(value.span())),
            );
            None
        };
    let partition = text(
        "resources.slurm.partition",
        &section.partition,
        |p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.,".contains(c))
        },
        "a partition name: letters, digits, '-', '_', '.' (',' between several)",
    );
    let mem = text(
        "resources.slurm.mem",
        &section.mem,
        |m| {
            let digits = m.strip_suffix(['K', 'M', 'G', 'T']).unwrap_or(m);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        },
        "a size in megabytes or with a unit: \"4000\", \"8G\"",
    );
    let time_limit_minutes = duration(problems, "resources.slurm.time_limit", &section.time_limit)
        .map(|limit| limit.as_secs().div_ceil(60).max(1));
    let signal_grace_seconds = signal_grace(section, time_limit_minutes, problems);
    let cpus_per_task = count(
        problems,
        "resources.slurm.cpus_per_task",
        &section.cpus_per_task,
    );
    let gpus_per_task = count(
        problems,
        "resources.slurm.gpus_per_task",
        &section.gpus_per_task,
    );
    let array_parallelism = count(
        problems,
        "resources.slurm.array_parallelism",
        &section.array_parallelism,
    );
    let mut extra_args = Vec::new();
    for arg in section.extra_args.iter().flat_map(|args| args.get_ref()) {
        let name = arg.split('=').next().unwrap_or_default();
        let plain_name = name.len() > 2
            && name[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        let problem = if !name.starts_with("--") || !plain_name || arg.chars().any(char::is_control)
        {
            Some("is not one sbatch option: write `--name=value` as one string".to_string())
        } else {
            reserved_sbatch_option(name)
        };
        match problem {
            Some(message) => problems.push(
                Diagnostic::new("resources.slurm.extra_args", format!("{arg:?}: {message}"))
                    .at(section.extra_args.as_ref().map(Spanned::span)),
            ),
            None => extra_args.push(arg.clone()),
        }
    }
    Slurm {
        partition,
        time_limit_minutes,
        cpus_per_task,
        gpus_per_task,
        mem,
        array_parallelism,
        signal_grace_seconds,
        extra_args,
    }
}

/// `resources.slurm.signal_grace` in whole seconds: at most what `--signal` takes, and shorter
/// than the tasks' time limit of `time_limit_minutes` (a task told to stop as it starts would
/// never train); when absent, [`DEFAULT_SIGNAL_GRACE_SECONDS`] or half the time limit.
fn signal_grace(
    section: &SlurmSection,
    time_limit_minutes: Option<u64>,
    problems: &mut Vec<Diagnostic>,
) -> u64 {
    let key = "resources.slurm.signal_grace";
    let Some(grace) = duration(problems, key, &section.signal_grace) else {
        let half_the_limit =
            time_limit_minutes.map_or(u64::MAX, |minutes| minutes.saturating_mul(30));
        return DEFAULT_SIGNAL_GRACE_SECONDS.min(half_the_limit);
    };
    let seconds = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
    let problem = match time_limit_minutes {
        _ if seconds > MAX_SIGNAL_GRACE_SECONDS => Some((
            format!("{seconds} s is longer than sbatch's `--signal` takes"),
            format!("at most \"{MAX_SIGNAL_GRACE_SECONDS}s\""),
        )),
        Some(minutes) if seconds >= minutes.saturating_mul(60) => Some((
            format!(
                "{seconds} s is not shorter than the tasks' time limit of {minutes} min: every task would be told to stop as it starts"
            ),
            "a grace of a few minutes at most, well under `resources.slurm.time_limit`".to_string(),
        )),
        _ => None,
    };
    if let Some((message, hint)) = problem {
        let span = section.signal_grace.as_ref().map(Spanned::span);
        problems.push(Diagnostic::new(key, message).with_hint(hint).at(span));
    }
    seconds
}

/// Why the long option `name` (`--` included) may not be given, when sbatch could read it as
/// an option hourglass sets: one of them in full, or a prefix of one or more.
fn reserved_sbatch_option(name: &str) -> Option<String> {
    let matches: Vec<&str> = RESERVED_SBATCH_OPTIONS
        .into_iter()
        .filter(|option| option.starts_with(name))
        .collect();
    match matches[..] {
        [] => None,
        [option] if option == name => Some(format!("`{name}` is set by hourglass itself")),
        [option] => Some(format!(
            "sbatch may read `{name}` as `{option}`, which hourglass sets itself"
        )),
        _ => Some(format!(
            "sbatch could read `{name}` as {}, which hourglass sets itself",
            matches
                .iter()
                .map(|option| format!("`{option}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

/// Checks `[sweep.pruning]`.
pub(crate) fn check_pruning(section: &PruningSection) -> Result<Pruning, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let grace_epochs = count(
        &mut problems,
        "sweep.pruning.grace_epochs",
        &section.grace_epochs,
    );
    let reduction_factor = count(
        &mut problems,
        "sweep.pruning.reduction_factor",
        &section.reduction_factor,
    );
    if problems.is_empty() {
        Ok(Pruning {
            metric: section.metric,
            grace_epochs: grace_epochs.unwrap_or(1),
            reduction_factor: reduction_factor.unwrap_or(3),
        })
    } else {
        Err(problems)
    }
}

/// `"90s"`, `"1.5m"`, `"2h"` as a duration: `None` when it cannot be read, `Err` when it is
/// not more than 0s and at most [`MAX_DURATION`].
pub(crate) fn parse_duration(text: &str) -> Option<Result<Duration, ()>> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        _ => return None,
    };
    let number: f64 = text[..text.len() - 1].trim().parse().ok()?;
    let seconds = number * scale;
    let in_range = seconds > 0.0 && seconds <= MAX_DURATION.as_secs_f64();
    Some(
        in_range
            .then(|| Duration::from_secs_f64(seconds))
            .filter(|duration| !duration.is_zero())
            .ok_or(()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prefix_of_an_option_hourglass_sets_is_refused_and_other_options_pass() {
        for option in RESERVED_SBATCH_OPTIONS {
            for end in 3..=option.len() {
                let prefix = &option[..end];
                let why = reserved_sbatch_option(prefix)
                    .unwrap_or_else(|| panic!("{prefix} (a prefix of {option}) passed"));
                assert!(why.contains(option), "{prefix}: {why}");
            }
        }
        for allowed in [
            "--account",
            "--qos",
            "--comment",
            "--exclusive",
            "--partition",
        ] {
            assert_eq!(reserved_sbatch_option(allowed), None, "{allowed}");
        }
    }
}
