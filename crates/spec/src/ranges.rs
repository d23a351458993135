//! The documented range of every numeric key: one table that validation checks integer counts
//! against, that the JSON Schema states, that parse-time messages quote for a value out of
//! range, and that the edge-value tests hold validation to.
//!
//! Counts stop at [`COUNT_MAX`] (2^32 - 1), so that a product of two counts (a pack's time
//! limit, workers summed over slots) fits in 64 bits; floats are finite.

use std::fmt;

use crate::diagnostic::{Diagnostic, number};
use crate::space::MAX_RUNS;

/// The largest count a spec may give: epochs, widths, workers, limits.
pub(crate) const COUNT_MAX: i64 = u32::MAX as i64;

/// What values a numeric key accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Range {
    /// Integers from the first to the second, both included.
    Integer(i64, i64),
    /// Finite floats between `min` and `max`, an end excluded where it is `open`.
    Float {
        min: f64,
        min_open: bool,
        max: f64,
        max_open: bool,
    },
}

/// Finite floats `≥ 0`.
const NON_NEGATIVE: Range = Range::Float {
    min: 0.0,
    min_open: false,
    max: f64::MAX,
    max_open: false,
};
/// Finite floats `> 0`.
const POSITIVE: Range = Range::Float {
    min: 0.0,
    min_open: true,
    max: f64::MAX,
    max_open: false,
};
/// A count of at least one.
const COUNT: Range = Range::Integer(1, COUNT_MAX);
/// [`MAX_RUNS`] as a TOML integer.
const RUNS: i64 = MAX_RUNS as i64;

/// Every numeric key of a spec and its range; a list key (`model.hidden`) ranges each item.
pub(crate) const RANGES: [(&str, Range); 42] = [
    ("experiment.seed", Range::Integer(0, i64::MAX)),
    ("experiment.repeats", Range::Integer(1, RUNS)),
    (
        "data.validation",
        Range::Float {
            min: 0.0,
            min_open: false,
            max: 1.0,
            max_open: true,
        },
    ),
    ("data.train_limit", COUNT),
    ("data.test_limit", COUNT),
    ("data.normal_class", Range::Integer(0, 255)),
    ("evaluate.importance_samples", COUNT),
    ("model.channels", COUNT),
    ("model.hidden", COUNT),
    ("model.latent", COUNT),
    // The IWAE paper's evaluation K; a step decodes batch_size · K codes.
    ("model.samples", Range::Integer(1, 5000)),
    // Two entries make one bit; 65536 keep the distances of a batch's codes in memory.
    ("model.codebook.size", Range::Integer(2, 65_536)),
    ("model.codebook.dim", COUNT),
    ("model.codebook.commitment", NON_NEGATIVE),
    (
        "model.codebook.decay",
        Range::Float {
            min: 0.0,
            min_open: false,
            max: 1.0,
            max_open: true,
        },
    ),
    ("regularizers.weight_decay", NON_NEGATIVE),
    ("regularizers.weight_l1", NON_NEGATIVE),
    ("regularizers.activation_l1", NON_NEGATIVE),
    (
        "regularizers.sparsity.target",
        Range::Float {
            min: 0.0,
            min_open: true,
            max: 1.0,
            max_open: true,
        },
    ),
    ("regularizers.sparsity.weight", NON_NEGATIVE),
    ("regularizers.contractive.weight", NON_NEGATIVE),
    ("regularizers.contractive.projections", COUNT),
    ("regularizers.kl.beta", NON_NEGATIVE),
    ("regularizers.kl.warmup_epochs", NON_NEGATIVE),
    ("noise.level", POSITIVE),
    ("train.learning_rate", POSITIVE),
    (
        "train.momentum",
        Range::Float {
            min: 0.0,
            min_open: false,
            max: 1.0,
            max_open: true,
        },
    ),
    ("train.batch_size", COUNT),
    ("train.epochs", COUNT),
    ("train.early_stopping.patience", COUNT),
    ("train.early_stopping.min_delta", NON_NEGATIVE),
    ("sweep.samples", Range::Integer(1, RUNS)),
    ("sweep.pruning.grace_epochs", COUNT),
    (
        "sweep.pruning.reduction_factor",
        Range::Integer(2, COUNT_MAX),
    ),
    ("resources.workers", COUNT),
    ("resources.threads_per_worker", COUNT),
    ("resources.retries", Range::Integer(0, COUNT_MAX)),
    ("resources.pack", COUNT),
    ("resources.slots.workers", COUNT),
    ("resources.slurm.cpus_per_task", COUNT),
    ("resources.slurm.gpus_per_task", COUNT),
    ("resources.slurm.array_parallelism", COUNT),
];

/// The range of `key`, if it is numeric.
pub(crate) fn range_of(key: &str) -> Option<Range> {
    RANGES
        .iter()
        .find(|(known, _)| *known == key)
        .map(|(_, range)| *range)
}

impl Range {
    /// Whether `value` lies in the range.
    pub fn contains(&self, value: f64) -> bool {
        match *self {
            Range::Integer(min, max) => {
                value.fract() == 0.0 && value >= min as f64 && value <= max as f64
            }
            Range::Float {
                min,
                min_open,
                max,
                max_open,
            } => {
                let above = if min_open { value > min } else { value >= min };
                let below = if max_open { value < max } else { value <= max };
                above && below && value.is_finite()
            }
        }
    }

    /// Whether the integer `value` lies in the range.
    pub fn contains_integer(&self, value: i128) -> bool {
        match *self {
            Range::Integer(min, max) => (i128::from(min)..=i128::from(max)).contains(&value),
            Range::Float { .. } => self.contains(value as f64),
        }
    }

    /// The range as the JSON Schema's validation keywords (draft 7).
    pub fn json_keywords(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut keywords = serde_json::Map::new();
        match *self {
            Range::Integer(min, max) => {
                keywords.insert("minimum".into(), min.into());
                keywords.insert("maximum".into(), max.into());
            }
            Range::Float {
                min,
                min_open,
                max,
                max_open,
            } => {
                let name = |open, end: &str| {
                    if open {
                        format!("exclusive{}", end[..1].to_uppercase() + &end[1..])
                    } else {
                        end.to_string()
                    }
                };
                keywords.insert(name(min_open, "minimum"), min.into());
                keywords.insert(name(max_open, "maximum"), max.into());
            }
        }
        keywords
    }
}

impl fmt::Display for Range {
    /// `an integer from 1 to 4294967295`, `a finite number ≥ 0`, `a number in [0, 1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Range::Integer(min, max) => write!(f, "an integer from {min} to {max}"),
            Range::Float {
                min,
                min_open,
                max,
                max_open: false,
            } if max == f64::MAX => {
                let op = if min_open { ">" } else { "≥" };
                write!(f, "a finite number {op} {}", number(min))
            }
            Range::Float {
                min,
                min_open,
                max,
                max_open,
            } => write!(
                f,
                "a number in {}{}, {}{}",
                if min_open { "(" } else { "[" },
                number(min),
                number(max),
                if max_open { ")" } else { "]" }
            ),
        }
    }
}

/// Where a key's values usually lie: a value outside is allowed but warned of, as it is more
/// often a slip (`1e6` for `1e-6`, a width in bytes) than a choice. A list key ranges each item.
const USUAL: [(&str, f64, f64); 12] = [
    ("train.learning_rate", 1e-6, 1.0),
    ("train.epochs", 1.0, 10_000.0),
    ("train.batch_size", 1.0, 65_536.0),
    ("model.hidden", 1.0, 65_536.0),
    ("model.latent", 1.0, 65_536.0),
    ("model.channels", 1.0, 4_096.0),
    ("regularizers.weight_decay", 0.0, 1.0),
    ("regularizers.weight_l1", 0.0, 1.0),
    ("regularizers.activation_l1", 0.0, 10.0),
    ("regularizers.sparsity.weight", 0.0, 100.0),
    ("regularizers.contractive.weight", 0.0, 100.0),
    ("regularizers.kl.beta", 0.0, 1_000.0),
];

/// The keys whose values have a usual range.
pub(crate) fn keys_with_usual_range() -> impl Iterator<Item = &'static str> {
    USUAL.iter().map(|(key, _, _)| *key)
}

/// A warning when `value`, given to `key`, lies outside the key's usual range.
pub(crate) fn unusual(key: &str, value: &toml::Value) -> Option<Diagnostic> {
    let &(_, low, high) = USUAL.iter().find(|(usual, _, _)| *usual == key)?;
    let as_float = |value: &toml::Value| match value {
        toml::Value::Integer(n) => Some(*n as f64),
        toml::Value::Float(x) => Some(*x),
        _ => None,
    };
    let outside = |value: &toml::Value| as_float(value).is_some_and(|x| x < low || x > high);
    let offending = match value {
        toml::Value::Array(items) => items.iter().find(|item| outside(item))?,
        value if outside(value) => value,
        _ => return None,
    };
    Some(
        Diagnostic::new(
            key,
            format!(
                "{} is far outside the usual range [{}, {}]",
                show(offending),
                number(low),
                number(high)
            ),
        )
        .with_hint("the spec is used as written; check the value if it is a slip"),
    )
}

/// A TOML value as messages and summaries write it, numbers in the shorter of plain and
/// scientific notation (`1e30`, not 31 digits).
pub(crate) fn show(value: &toml::Value) -> String {
    match value {
        toml::Value::Float(x) => number(*x),
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        toml::Value::Table(table) => {
            let entries: Vec<String> = table
                .iter()
                .map(|(key, value)| format!("{key} = {}", show(value)))
                .collect();
            format!("{{ {} }}", entries.join(", "))
        }
        other => other.to_string(),
    }
}

/// The problem with the integer `value` of `key` when it is outside `key`'s range.
pub(crate) fn check_integer(key: &str, value: i128) -> Option<Diagnostic> {
    let range = range_of(key)?;
    (!range.contains_integer(value)).then(|| out_of_range(key, &value.to_string(), range))
}

/// The problem with a value of `key`, written `value`, that lies outside `range`.
pub(crate) fn out_of_range(key: &str, value: &str, range: Range) -> Diagnostic {
    Diagnostic::new(key, format!("{value} is out of range: expected {range}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_include_their_closed_ends_only() {
        let momentum = range_of("train.momentum").unwrap();
        assert!(momentum.contains(0.0) && !momentum.contains(1.0) && !momentum.contains(f64::NAN));
        assert_eq!(momentum.to_string(), "a number in [0, 1)");
        let rate = range_of("train.learning_rate").unwrap();
        assert!(!rate.contains(0.0) && rate.contains(f64::MAX) && !rate.contains(f64::INFINITY));
        assert_eq!(rate.to_string(), "a finite number > 0");
        let epochs = range_of("train.epochs").unwrap();
        assert!(epochs.contains_integer(1) && epochs.contains_integer(i128::from(COUNT_MAX)));
        assert!(!epochs.contains_integer(0) && !epochs.contains_integer(i128::from(u64::MAX)));
        assert_eq!(
            check_integer("train.epochs", 0).unwrap().message,
            "0 is out of range: expected an integer from 1 to 4294967295"
        );
        assert_eq!(check_integer("train.epochs", 7), None);
    }

    #[test]
    fn the_reference_spec_states_every_range() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../experiments/reference.toml");
        let reference = std::fs::read_to_string(path).expect("the reference spec is readable");
        for (key, range) in RANGES {
            let stated = reference.lines().any(|line| {
                let line = line.trim_start_matches('#');
                line.split_whitespace().next() == Some(key) && line.ends_with(&range.to_string())
            });
            assert!(
                stated,
                "experiments/reference.toml does not state `{key}`: {range}"
            );
        }
    }

    #[test]
    fn every_key_is_listed_once() {
        let mut keys: Vec<&str> = RANGES.iter().map(|(key, _)| *key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), RANGES.len());
    }
}
