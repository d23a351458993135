//! Sweep expansion: the grid of swept values times the seeds, each a [`RunSpec`] with a stable id.
//!
//! Values are applied to the spec's TOML table before it is deserialized, so any key of the
//! run sections can be swept and every swept value is type-checked exactly like a written one.

use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, number};
use crate::ranges;
use crate::schema::RunConfig;

/// One swept key and the values it takes, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted key path, e.g. `model.latent`.
    pub key: String,
    /// The values, in the order written.
    pub values: Vec<toml::Value>,
}

/// A short content hash of a run's effective configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// Hex digits kept of the SHA-256 (48 bits: collisions are negligible below millions of runs).
    const LEN: usize = 12;

    /// The id of a configuration: SHA-256 of its canonical JSON (keys sorted, shortest floats),
    /// without the evaluation tasks that do not change training: adding one to a finished
    /// run evaluates its saved model instead of training a new run. The checkpoint interval and
    /// the likelihood task's samples are left out too: they do not change what is trained.
    pub fn of(config: &RunConfig) -> Self {
        let mut trained = config.clone();
        trained.evaluate.tasks = config.evaluate.training_tasks();
        trained.evaluate.importance_samples = None;
        Self::of_whole(&trained)
    }

    /// The id that hourglass before 0.2 gave `config`, its evaluation tasks included, when it
    /// differs from [`RunId::of`]: the folder a finished run of it may have.
    pub fn former(config: &RunConfig) -> Option<Self> {
        let former = Self::of_whole(config);
        (former != Self::of(config)).then_some(former)
    }

    /// The SHA-256 of `config`'s canonical JSON, without its checkpoint interval (which
    /// hourglass before 0.2 did not have).
    fn of_whole(config: &RunConfig) -> Self {
        let mut config = config.clone();
        config.train.checkpoint_every = None;
        let value = serde_json::to_value(&config).expect("run configs serialize to JSON");
        let mut canonical = String::new();
        write_canonical(&value, &mut canonical);
        let digest = Sha256::digest(canonical.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        RunId(hex[..Self::LEN].to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// JSON with object keys sorted, independent of serde_json's `preserve_order` feature.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write!(out, "{}:", serde_json::Value::String(key.clone())).expect("string write");
                write_canonical(value, out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => write!(out, "{scalar}").expect("string write"),
    }
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// Content hash of `config`.
    pub id: RunId,
    /// The effective configuration.
    pub config: RunConfig,
    /// The swept values that produced this run, in axis order.
    pub assignments: Vec<(String, toml::Value)>,
}

impl RunSpec {
    /// One line describing the run: id, shape, optimisation and swept values, numbers in the
    /// shorter of plain and scientific notation.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let mut widths = vec!["in".to_string()];
        widths.extend(c.model.hidden.iter().map(|w| w.to_string()));
        widths.push(c.model.latent.to_string());
        let mut line = format!(
            "{}  {:?} {:?} {} on {}  {:?} lr={} batch={} epochs={} seed={}",
            self.id,
            c.model.kind,
            c.model.architecture,
            widths.join("-"),
            c.data.dataset,
            c.train.optimizer,
            number(c.train.learning_rate),
            c.train.batch_size,
            c.train.epochs,
            c.seed,
        )
        .to_lowercase();
        for (key, value) in &self.assignments {
            write!(line, "  {key}={}", ranges::show(value)).expect("string write");
        }
        line
    }
}

/// Sets `key` (dotted) in `table` to `value`, creating missing tables on the way.
pub(crate) fn assign(
    table: &mut toml::Table,
    key: &str,
    value: toml::Value,
) -> Result<(), Diagnostic> {
    let mut parts = key.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            current.insert(part.to_string(), value);
            return Ok(());
        }
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            Diagnostic::new(
                key,
                format!("`{part}` is a value, not a table, so it has no keys"),
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assign_creates_tables_and_refuses_to_descend_into_values() {
        let mut table: toml::Table = "[model]\nlatent = 4\n".parse().unwrap();
        assign(&mut table, "model.latent", toml::Value::Integer(8)).unwrap();
        assign(&mut table, "train.epochs", toml::Value::Integer(2)).unwrap();
        assert_eq!(table["model"]["latent"].as_integer(), Some(8));
        assert_eq!(table["train"]["epochs"].as_integer(), Some(2));
        let err = assign(&mut table, "model.latent.x", toml::Value::Integer(1)).unwrap_err();
        assert!(
            err.message.contains("`latent` is a value"),
            "{}",
            err.message
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value = serde_json::json!({"b": {"y": 1, "x": [2.5, {"d": 1, "c": 2}]}, "a": 0.001});
        let mut out = String::new();
        write_canonical(&value, &mut out);
        assert_eq!(out, r#"{"a":0.001,"b":{"x":[2.5,{"c":2,"d":1}],"y":1}}"#);
    }
}
