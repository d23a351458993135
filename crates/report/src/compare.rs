//! Two sweeps side by side: the configurations they share (every setting but the seed), each
//! metric's mean ± std over seeds in both, the difference, and a mark where the difference is
//! larger than the seed spread of either sweep.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::html::escape;
use crate::table::{
    Cell, Configuration, ResultsTable, Settings, config_cell, configurations, mean_and_std,
    metric_names, number, varied_keys,
};
use crate::{Coverage, ReportError, RunRecord, scoped, write_file};
use hourglass_spec::PrimaryMetric;

/// Settings that are the same in every configuration of each sweep but differ between the two
/// sweeps (a learning rate changed between them), each with its value in `a` and in `b`
/// (`None`: not set).
pub type Differences = Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)>;

/// The settings fixed within each side of `groups` but set differently on the two sides.
fn differences(a: &[Configuration<'_>], b: &[Configuration<'_>]) -> Differences {
    let fixed = |groups: &[Configuration<'_>], key: &str| {
        let first = groups.first().and_then(|g| g.settings.get(key));
        groups
            .iter()
            .all(|g| g.settings.get(key) == first)
            .then(|| first.cloned())
    };
    let keys: BTreeSet<&String> = (a.iter().chain(b))
        .flat_map(|g| g.settings.keys())
        .collect();
    keys.into_iter()
        .filter_map(|key| match (fixed(a, key), fixed(b, key)) {
            (Some(in_a), Some(in_b)) if in_a != in_b => Some((key.clone(), in_a, in_b)),
            _ => None,
        })
        .collect()
}

/// The comparison of sweeps `a` and `b`: the settings that differ between them
/// ([`Differences`]), and a table of the configurations they share once those settings are set
/// aside (every other setting but the seed equal): the settings that vary among the shared
/// configurations, then for each metric `M` the columns `M_a`, `M_b` (mean ± std as text),
/// `M_delta` (b − a) and `M_beyond_spread` (`yes` when |delta| exceeds the larger seed std,
/// `no`, or empty without seeds to measure a spread).
pub fn comparison(a: &[RunRecord], b: &[RunRecord], primary: &str) -> (Differences, ResultsTable) {
    let groups_a = configurations(a);
    let groups_b = configurations(b);
    let differing = differences(&groups_a, &groups_b);
    let matched = |group: &Configuration<'_>| {
        let mut settings = group.settings.clone();
        for (key, ..) in &differing {
            settings.remove(key);
        }
        settings
    };
    let index_b: BTreeMap<String, &Configuration<'_>> = groups_b
        .iter()
        .map(|group| (canonical(&matched(group)), group))
        .collect();
    let shared: Vec<(Settings, &[&RunRecord], &[&RunRecord])> = groups_a
        .iter()
        .filter_map(|group| {
            let settings = matched(group);
            let runs_b = &index_b.get(&canonical(&settings))?.runs;
            Some((settings, group.runs.as_slice(), runs_b.as_slice()))
        })
        .collect();
    let settings: Vec<Settings> = shared.iter().map(|(s, _, _)| s.clone()).collect();
    let varied = varied_keys(&settings);
    let metrics: Vec<String> = {
        let in_a = metric_names(
            shared.iter().flat_map(|(_, runs, _)| runs.iter().copied()),
            primary,
        );
        let in_b = metric_names(
            shared.iter().flat_map(|(_, _, runs)| runs.iter().copied()),
            primary,
        );
        in_a.into_iter().filter(|m| in_b.contains(m)).collect()
    };
    let mut columns = vec!["seeds_a".to_string(), "seeds_b".to_string()];
    columns.extend(varied.iter().cloned());
    for metric in &metrics {
        for suffix in ["a", "b", "delta", "beyond_spread"] {
            columns.push(format!("{metric}_{suffix}"));
        }
    }
    let rows = shared
        .iter()
        .map(|(settings, runs_a, runs_b)| {
            let mut row = vec![
                Cell::Number(runs_a.len() as f64),
                Cell::Number(runs_b.len() as f64),
            ];
            row.extend(varied.iter().map(|key| config_cell(settings.get(key))));
            for metric in &metrics {
                let values = |runs: &[&RunRecord]| -> Vec<f64> {
                    runs.iter()
                        .filter_map(|r| r.result.metrics.get(metric).copied())
                        .collect()
                };
                let (mean_a, std_a) = mean_and_std(&values(runs_a));
                let (mean_b, std_b) = mean_and_std(&values(runs_b));
                let shown = |mean: Option<f64>, std: Option<f64>| match (mean, std) {
                    (Some(m), Some(s)) => Cell::Text(format!("{} ± {}", number(m), number(s))),
                    (Some(m), None) => Cell::Number(m),
                    _ => Cell::Missing,
                };
                row.push(shown(mean_a, std_a));
                row.push(shown(mean_b, std_b));
                let delta = mean_a.zip(mean_b).map(|(a, b)| b - a);
                row.push(delta.map_or(Cell::Missing, Cell::Number));
                let spread = match (std_a, std_b) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (one, other) => one.or(other),
                };
                row.push(match (delta, spread) {
                    (Some(d), Some(s)) => Cell::Text(if d.abs() > s { "yes" } else { "no" }.into()),
                    _ => Cell::Missing,
                });
            }
            row
        })
        .collect();
    let table = ResultsTable {
        columns,
        rows,
        varied: varied.len(),
    };
    (differing, table)
}

/// Settings as canonical JSON, to match configurations by.
fn canonical(settings: &Settings) -> String {
    serde_json::to_string(settings).expect("settings serialize")
}

/// The files of a comparison.
#[derive(Debug, Clone)]
pub struct ComparisonFiles {
    /// The HTML page.
    pub html: PathBuf,
    /// The table in Markdown: the settings that vary, and the metrics that matter.
    pub markdown: PathBuf,
    /// The whole table, every metric, in CSV.
    pub csv: PathBuf,
    /// Configurations found in both sweeps.
    pub shared: usize,
    /// The settings that differ between the two sweeps, as `key: A vs B`.
    pub differing: Vec<String>,
    /// The `result.json` files of either sweep left out because they could not be read, each
    /// with why (the page lists them too).
    pub unreadable: Vec<String>,
}

/// Metrics the Markdown and HTML tables show besides the primary one; the CSV has them all.
const SHOWN_METRICS: [&str; 2] = ["test_mse", "train_seconds"];

/// Compares the current runs of the sweeps in folders `a` and `b` by `a`'s primary metric,
/// writing `compare-<A>-vs-<B>.html`, `.md` and `.csv` into `out`.
pub fn write_comparison(a: &Path, b: &Path, out: &Path) -> Result<ComparisonFiles, ReportError> {
    let name = |dir: &Path| {
        dir.file_name()
            .map_or_else(|| "sweep".into(), |n| n.to_string_lossy().into_owned())
    };
    let (name_a, name_b) = (name(a), name(b));
    let (a, b) = (scoped(a, Coverage::Current)?, scoped(b, Coverage::Current)?);
    let primary = &a.primary;
    let (differing, table) = comparison(&a.current, &b.current, &primary.name);
    let hidden: BTreeSet<&String> = (table.columns[2 + table.varied..].iter())
        .filter(|column| {
            let metric = ["_a", "_b", "_delta", "_beyond_spread"]
                .iter()
                .find_map(|suffix| column.strip_suffix(suffix));
            metric.is_some_and(|m| m != primary.name && !SHOWN_METRICS.contains(&m))
        })
        .collect();
    let shown = table.select(|column| !hidden.contains(&column.to_string()));
    let stem = format!("compare-{name_a}-vs-{name_b}");
    let value = |v: &Option<serde_json::Value>| match v {
        None => "(not set)".to_string(),
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    let files = ComparisonFiles {
        html: out.join(format!("{stem}.html")),
        markdown: out.join(format!("{stem}.md")),
        csv: out.join(format!("{stem}.csv")),
        shared: table.rows.len(),
        differing: differing
            .iter()
            .map(|(key, in_a, in_b)| format!("{key}: {} vs {}", value(in_a), value(in_b)))
            .collect(),
        unreadable: [a.unreadable, b.unreadable].concat(),
    };
    write_file(&files.csv, &table.to_csv()?)?;
    write_file(&files.markdown, shown.to_markdown().as_bytes())?;
    let page = page(&name_a, &name_b, &files, primary, &shown);
    write_file(&files.html, page.as_bytes())?;
    Ok(files)
}

fn page(
    name_a: &str,
    name_b: &str,
    files: &ComparisonFiles,
    primary: &PrimaryMetric,
    table: &ResultsTable,
) -> String {
    let (a, b) = (escape(name_a), escape(name_b));
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{a} vs {b} · hourglass</title><style>{}</style></head><body>\n\
         <h1>{a} (a) vs {b} (b)</h1>\n",
        crate::html::STYLE,
    );
    html.push_str("<section id=\"differences\"><h2>Settings that differ</h2>");
    if files.differing.is_empty() {
        html.push_str("<p>None: the two sweeps fix the same settings.</p>");
    } else {
        html.push_str("<ul>");
        for difference in &files.differing {
            let _ = write!(html, "<li><code>{}</code></li>", escape(difference));
        }
        html.push_str(
            "</ul><p>Configurations are matched on every other setting but the seed.</p>",
        );
    }
    let _ = write!(
        html,
        "</section>\n<p>{} configurations appear in both sweeps. For <code>{}</code> (the primary \
         metric of a; {} is better) and {}: mean ± std over seeds in a and in b, the difference \
         b − a, and <mark>beyond spread</mark> where the difference is larger than the larger of \
         the two seed standard deviations (a rough screen, not a test; it needs at least two seeds \
         on one side). Every metric is in <a href=\"{}\">the CSV</a>.</p>\n",
        table.rows.len(),
        escape(&primary.name),
        primary.direction.better_word(),
        SHOWN_METRICS
            .map(|m| format!("<code>{m}</code>"))
            .join(", "),
        escape(&files.csv.file_name().unwrap_or_default().to_string_lossy()),
    );
    let display = table.display();
    html.push_str("<div class=\"wide\"><table id=\"comparison\"><thead><tr>");
    for header in &display.headers {
        let _ = write!(html, "<th>{}</th>", escape(header));
    }
    html.push_str("</tr></thead><tbody>\n");
    for row in &display.rows {
        html.push_str("<tr>");
        for (header, cell) in display.headers.iter().zip(row) {
            let marked = header.ends_with("_beyond_spread") && cell == "yes";
            let cell = escape(cell);
            let _ = if marked {
                write!(html, "<td><mark>{cell}</mark></td>")
            } else {
                write!(html, "<td>{cell}</td>")
            };
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
    crate::html::unreadable_results(&mut html, &files.unreadable);
    html.push_str("</body></html>\n");
    html
}
