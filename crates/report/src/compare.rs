//! Two sweeps side by side: the configurations they share (every setting but the seed), each
//! metric's mean ± std over seeds in both, the difference, and a mark where the difference is
//! larger than the seed spread of either sweep.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::html::escape;
use crate::table::{
    Cell, Configuration, ResultsTable, Settings, config_cell, configurations, mean_and_std,
    metric_names, number, varied_keys,
};
use crate::{ReportError, RunRecord, collect, write_file};

/// The comparison of sweeps `a` and `b` as a table: the settings that vary among the shared
/// configurations, then for each metric `M` the columns `M_a`, `M_b` (mean ± std as text), `M_delta`
/// (b − a) and `M_beyond_spread` (`yes` when |delta| exceeds the larger seed std, `no`, or empty
/// without seeds to measure a spread).
pub fn comparison(a: &[RunRecord], b: &[RunRecord]) -> ResultsTable {
    let groups_b: BTreeMap<String, Configuration<'_>> = configurations(b)
        .into_iter()
        .map(|group| (group.key.clone(), group))
        .collect();
    let groups_a = configurations(a);
    let shared: Vec<(&Settings, &[&RunRecord], &[&RunRecord])> = groups_a
        .iter()
        .filter_map(|group| {
            let runs_b = &groups_b.get(&group.key)?.runs;
            Some((&group.settings, group.runs.as_slice(), runs_b.as_slice()))
        })
        .collect();
    let settings: Vec<Settings> = shared.iter().map(|(s, _, _)| (*s).clone()).collect();
    let varied = varied_keys(&settings);
    let metrics: Vec<String> = {
        let in_a = metric_names(shared.iter().flat_map(|(_, runs, _)| runs.iter().copied()));
        let in_b = metric_names(shared.iter().flat_map(|(_, _, runs)| runs.iter().copied()));
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
    ResultsTable {
        columns,
        rows,
        varied: varied.len(),
    }
}

/// The files of a comparison.
#[derive(Debug, Clone)]
pub struct ComparisonFiles {
    /// The HTML page.
    pub html: PathBuf,
    /// The table in Markdown.
    pub markdown: PathBuf,
    /// Configurations found in both sweeps.
    pub shared: usize,
    /// The `result.json` files of either sweep left out because they could not be read, each
    /// with why (the page lists them too).
    pub unreadable: Vec<String>,
}

/// Compares the sweeps in folders `a` and `b`, writing `compare-<A>-vs-<B>.html` and `.md` into
/// `out`.
pub fn write_comparison(a: &Path, b: &Path, out: &Path) -> Result<ComparisonFiles, ReportError> {
    let name = |dir: &Path| {
        dir.file_name()
            .map_or_else(|| "sweep".into(), |n| n.to_string_lossy().into_owned())
    };
    let (name_a, name_b) = (name(a), name(b));
    let (a, b) = (collect(a)?, collect(b)?);
    let table = comparison(&a.records, &b.records);
    let stem = format!("compare-{name_a}-vs-{name_b}");
    let files = ComparisonFiles {
        html: out.join(format!("{stem}.html")),
        markdown: out.join(format!("{stem}.md")),
        shared: table.rows.len(),
        unreadable: [a.unreadable, b.unreadable].concat(),
    };
    write_file(&files.markdown, table.to_markdown().as_bytes())?;
    let page = page(&name_a, &name_b, &table, &files.unreadable);
    write_file(&files.html, page.as_bytes())?;
    Ok(files)
}

fn page(name_a: &str, name_b: &str, table: &ResultsTable, unreadable: &[String]) -> String {
    let (a, b) = (escape(name_a), escape(name_b));
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{a} vs {b} · hourglass</title><style>{}</style></head><body>\n\
         <h1>{a} (a) vs {b} (b)</h1>\n<p>{} configurations appear in both sweeps. For each metric: \
         mean ± std over seeds in a and in b, the difference b − a, and <mark>beyond spread</mark> \
         where the difference is larger than the larger of the two seed standard deviations (a \
         rough screen, not a test; it needs at least two seeds on one side).</p>\n",
        crate::html::STYLE,
        table.rows.len()
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
    crate::html::unreadable_results(&mut html, unreadable);
    html.push_str("</body></html>\n");
    html
}
