//! `[resources]` and `[sweep.pruning]`, validated: how a sweep's runs are executed and when
//! the orchestrator stops unpromising ones. Neither is part of any run's configuration or id.

use std::fmt;
use std::time::Duration;

use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::result::EpochMetric;
use crate::schema::{Backend, PruningSection, ResourcesSection, SlotSection};

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
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            slots: vec![Slot::cpu(1)],
            threads_per_worker: None,
            timeout: None,
            retries: 0,
        }
    }
}

impl Resources {
    /// Worker processes at once, over all slots.
    pub fn workers(&self) -> usize {
        self.slots.iter().map(|slot| slot.workers).sum()
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
    /// Whether `epoch` is a rung.
    pub fn is_rung(&self, epoch: usize) -> bool {
        let mut rung = self.grace_epochs;
        while rung < epoch {
            rung *= self.reduction_factor;
        }
        rung == epoch
    }

    /// Whether a run whose metric is `value` at a rung continues, given the `recorded` values
    /// of the runs that reached this rung before it.
    pub fn promotes(&self, value: f64, recorded: &[f64]) -> bool {
        let mut values: Vec<f64> = recorded.iter().copied().chain([value]).collect();
        values.sort_by(f64::total_cmp);
        let kept = (values.len() / self.reduction_factor).max(1);
        value <= values[kept - 1]
    }
}

/// Checks `[resources]`.
pub(crate) fn check_resources(section: &ResourcesSection) -> Result<Resources, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let workers = at_least_one(&mut problems, "resources.workers", &section.workers);
    let threads_per_worker = at_least_one(
        &mut problems,
        "resources.threads_per_worker",
        &section.threads_per_worker,
    );
    let timeout = section.timeout.as_ref().and_then(|text| {
        let parsed = parse_duration(text.get_ref());
        if parsed.is_none() {
            problems.push(
                Diagnostic::new(
                    "resources.timeout",
                    format!("cannot read {:?} as a duration", text.get_ref()),
                )
                .with_hint("write a positive number with a unit: \"90s\", \"30m\" or \"2h\"")
                .at(Some(text.span())),
            );
        }
        parsed
    });
    let slots = match &section.slots {
        None => vec![Slot::cpu(workers.unwrap_or(1))],
        Some(slots) => {
            if let Some(workers) = &section.workers {
                problems.push(
                    Diagnostic::new("resources.workers", "is set together with resources.slots")
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
    };
    if problems.is_empty() {
        Ok(Resources {
            slots,
            threads_per_worker,
            timeout,
            retries: section.retries,
        })
    } else {
        Err(problems)
    }
}

fn at_least_one(
    problems: &mut Vec<Diagnostic>,
    key: &str,
    value: &Option<Spanned<usize>>,
) -> Option<usize> {
    let value = value.as_ref()?;
    if *value.get_ref() == 0 {
        problems.push(Diagnostic::new(key, "must be at least 1").at(Some(value.span())));
        return None;
    }
    Some(*value.get_ref())
}

fn check_slot(slot: &SlotSection, problems: &mut Vec<Diagnostic>) -> Option<Slot> {
    let workers = at_least_one(problems, "resources.slots.workers", &slot.workers).unwrap_or(1);
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

/// Checks `[sweep.pruning]`.
pub(crate) fn check_pruning(section: &PruningSection) -> Result<Pruning, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let grace_epochs = at_least_one(
        &mut problems,
        "sweep.pruning.grace_epochs",
        &section.grace_epochs,
    );
    let reduction_factor = section.reduction_factor.as_ref().map(|eta| {
        if *eta.get_ref() < 2 {
            problems.push(
                Diagnostic::new("sweep.pruning.reduction_factor", "must be at least 2")
                    .at(Some(eta.span())),
            );
        }
        *eta.get_ref()
    });
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

/// `"90s"`, `"1.5m"`, `"2h"` as a duration.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        _ => return None,
    };
    let number: f64 = text[..text.len() - 1].trim().parse().ok()?;
    (number > 0.0 && number.is_finite()).then(|| Duration::from_secs_f64(number * scale))
}
