//! Published numbers that experiments set out to reproduce (`experiments/references.toml`),
//! and the verdict of a sweep on each: reproduced or not, with both numbers.
//!
//! A reference names the experiment that reproduces it, the metric, the published value and
//! whether ours must reach at least or at most that value (within a tolerance); `where`
//! narrows it to the runs with given settings (one digit of one-class MNIST, say). Ours is the
//! mean over the matching completed runs (seeds included).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hourglass_spec::result::RunStatus;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::html::escape;
use crate::table::{mean_and_std, number};
use crate::{ReportError, RunRecord};

/// The references of `references.toml`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct References {
    /// Each `[[reference]]`.
    #[serde(default, rename = "reference")]
    pub entries: Vec<Reference>,
}

/// One published number and the experiment that reproduces it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    /// Name of the experiment (`experiment.name`) whose sweep reproduces it.
    pub experiment: String,
    /// The metric of the result contract compared.
    pub metric: String,
    /// The published value.
    pub value: f64,
    /// Whether ours must reach at least or at most the value.
    pub goal: Goal,
    /// How far short of the value ours may fall and still count as reproduced.
    #[serde(default)]
    pub tolerance: f64,
    /// Settings (dotted keys of the run configuration) the compared runs must have.
    #[serde(default, rename = "where")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub filter: BTreeMap<String, toml::Value>,
    /// Where the number comes from, precisely: repository and file, or paper and table.
    pub source: String,
    /// Whether the number was published, or measured here by running the source's own code
    /// (a figure its authors do not state).
    #[serde(default)]
    pub origin: Origin,
    /// The published set-up, exactly enough to tell whether ours matches it.
    pub setup: String,
}

/// Where a reference's number comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Stated by the source.
    #[default]
    Published,
    /// Measured here by running the source's code; the source states no such figure.
    Measured,
}

/// Which side of a published value counts as reproducing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Ours ≥ value − tolerance (an accuracy, an AUROC).
    AtLeast,
    /// Ours ≤ value + tolerance (a loss).
    AtMost,
}

/// How a sweep does against one reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Mean of the metric over the matching runs.
    pub mean: f64,
    /// Its sample standard deviation, with two runs or more.
    pub std: Option<f64>,
    /// Matching completed runs.
    pub runs: usize,
    /// Whether the mean reaches the published value within the tolerance.
    pub reproduced: bool,
}

impl References {
    /// Reads `path`; a missing file means no references.
    pub fn read(path: &Path) -> Result<Self, ReportError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ReportError::Io {
                    what: "cannot read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ReportError::Result {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// The JSON Schema of `references.toml`, for editors (committed as
    /// `experiments/references.schema.json`).
    pub fn json_schema() -> String {
        hourglass_spec::schema_text::<Self>(
            "hourglass references",
            "Published numbers that experiments set out to reproduce. Written by \
             `hourglass schema references`.",
        )
    }

    /// The references of experiment `name`.
    pub fn of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Reference> + 'a {
        self.entries.iter().filter(move |r| r.experiment == name)
    }
}

impl Reference {
    /// The verdict on `records`; `None` when no completed run matches or has the metric.
    pub fn verdict(&self, records: &[RunRecord]) -> Option<Verdict> {
        let values: Vec<f64> = records
            .iter()
            .filter(|r| r.result.status == RunStatus::Completed && self.matches(r))
            .filter_map(|r| r.result.metrics.get(&self.metric).copied())
            .collect();
        let (mean, std) = mean_and_std(&values);
        let mean = mean?;
        let reproduced = match self.goal {
            Goal::AtLeast => mean >= self.value - self.tolerance,
            Goal::AtMost => mean <= self.value + self.tolerance,
        };
        Some(Verdict {
            mean,
            std,
            runs: values.len(),
            reproduced,
        })
    }

    fn matches(&self, record: &RunRecord) -> bool {
        let settings = record.result.config.settings();
        self.filter.iter().all(|(key, wanted)| {
            let wanted = serde_json::to_value(wanted).unwrap_or_default();
            match (settings.get(key), wanted.as_f64()) {
                (Some(have), Some(number)) => have.as_f64() == Some(number),
                (Some(have), None) => *have == wanted,
                (None, _) => false,
            }
        })
    }

    /// `key = value` pairs of the filter, for display.
    fn filter_text(&self) -> String {
        let pairs: Vec<String> = self
            .filter
            .iter()
            .map(|(key, value)| format!("{key} = {value}"))
            .collect();
        pairs.join(", ")
    }
}

/// The section comparing a sweep with the references of its experiment.
pub(crate) fn section(html: &mut String, references: &[&Reference], records: &[RunRecord]) {
    if references.is_empty() {
        return;
    }
    html.push_str(
        "<section id=\"references\"><h2>References</h2><table><thead><tr>\
         <th>source</th><th>set-up</th><th>runs</th><th>metric</th><th>reference</th>\
         <th>ours (mean ± std, runs)</th><th>verdict</th></tr></thead><tbody>",
    );
    for reference in references {
        // The bound ours is held to: the value less the tolerance for at least, plus for at most.
        let (goal, slack) = match reference.goal {
            Goal::AtLeast => ("≥", "−"),
            Goal::AtMost => ("≤", "+"),
        };
        let (ours, verdict) = match reference.verdict(records) {
            Some(v) => (
                format!(
                    "{}{} ({})",
                    number(v.mean),
                    v.std.map_or(String::new(), |s| format!(" ± {}", number(s))),
                    v.runs
                ),
                if v.reproduced {
                    "<span class=\"best\">reproduced</span>"
                } else {
                    "not reproduced"
                },
            ),
            None => (String::new(), "no matching run"),
        };
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{goal} {}{}</td>\
             <td class=\"num\">{ours}</td><td>{verdict}</td></tr>",
            escape(&reference.source)
                + match reference.origin {
                    Origin::Published => "",
                    Origin::Measured =>
                        " (measured here by running its code; not a published figure)",
                },
            escape(&reference.setup),
            escape(&reference.filter_text()),
            escape(&reference.metric),
            number(reference.value),
            if reference.tolerance > 0.0 {
                format!(" {slack} {}", number(reference.tolerance))
            } else {
                String::new()
            },
        );
    }
    html.push_str("</tbody></table></section>\n");
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::References;

    fn experiments() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments")
    }

    #[test]
    fn committed_json_schema_is_current() {
        let path = experiments().join("references.schema.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == References::json_schema(),
            "{} is stale: run `cargo xtask schema`",
            path.display()
        );
    }

    #[test]
    fn committed_references_are_valid() {
        let references = References::read(&experiments().join("references.toml")).unwrap();
        assert!(references.entries.len() >= 5, "{references:?}");
    }
}
