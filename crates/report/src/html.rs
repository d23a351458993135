//! The self-contained HTML page of a sweep: summary, results table, loss curves, failures.
//! Every string that comes from a spec or a result is escaped.

use std::fmt::Write as _;

use hourglass_spec::result::RunStatus;

use crate::table::{Cell, DisplayTable, ResultsTable, number};
use crate::{ReportError, RunRecord, plot};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:80rem}\
table{border-collapse:collapse;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}\
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tr.failed{background:#fde8e8}.best{font-weight:bold}.curves{display:flex;flex-wrap:wrap;gap:1rem}\
figure{margin:0}figcaption{font-size:.85rem;color:#555}pre{background:#f6f6f6;padding:.5rem;\
white-space:pre-wrap}";

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub(crate) fn page(
    title: &str,
    records: &[RunRecord],
    table: &ResultsTable,
    configurations: &ResultsTable,
) -> Result<String, ReportError> {
    let title = escape(title);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · hourglass</title>\
         <style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    summary(&mut html, records);
    how_to_read(&mut html);
    results(&mut html, table);
    seed_statistics(&mut html, configurations);
    curves(&mut html, records, table)?;
    stopped_runs(&mut html, records, RunStatus::Failed, "Failed runs");
    stopped_runs(&mut html, records, RunStatus::Pruned, "Pruned runs");
    html.push_str("<p>Raw data: <a href=\"results.csv\">results.csv</a> and <code>runs/&lt;id&gt;/</code>.</p>\n</body></html>\n");
    Ok(html)
}

fn summary(html: &mut String, records: &[RunRecord]) {
    let completed: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.result.status == RunStatus::Completed)
        .collect();
    let failed = records.len() - completed.len();
    // Folded from +0: an empty f64 sum is -0, which would print as "-0 s".
    let seconds = records
        .iter()
        .filter_map(|r| r.result.metrics.get("train_seconds"))
        .fold(0.0, |total, s| total + s);
    let _ = write!(
        html,
        "<section id=\"summary\"><h2>Summary</h2><p>{} runs: {} completed, {failed} failed; \
         {:.0} s of training in all.",
        records.len(),
        completed.len(),
        seconds
    );
    let best = completed
        .iter()
        .filter_map(|r| r.result.metrics.get("test_mse").map(|m| (m, r)))
        .min_by(|a, b| a.0.total_cmp(b.0));
    if let Some((mse, run)) = best {
        let _ = write!(
            html,
            " Lowest test MSE: <a href=\"#run-{id}\">{id}</a> with {}.",
            number(*mse),
            id = escape(run.result.id.as_str())
        );
    }
    html.push_str("</p></section>\n");
}

fn how_to_read(html: &mut String) {
    html.push_str(
        "<section id=\"how-to-read\"><h2>How to read this report</h2><ul>\
         <li>Each row of the table is one run: a configuration and a seed. Only the settings that \
         differ between runs are shown; the full configuration is in <code>runs/&lt;id&gt;/config.toml</code>.</li>\
         <li><code>test_mse</code> is the mean squared error per input value (inputs in [0, 1]) on the \
         test split; <code>test_psnr_db</code> is 10·log10(1/MSE), higher is better; \
         <code>test_loss</code> is the training objective on the test split.</li>\
         <li>Loss curves show the training objective per epoch (mean over the epoch's steps) and on \
         the validation split after each epoch. A validation curve that rises while the training \
         curve falls is overfitting.</li>\
         <li>The best run is in bold. Failed runs are shaded and their errors are listed at the end.</li>\
         </ul></section>\n",
    );
}

fn results(html: &mut String, table: &ResultsTable) {
    let mse_column = table.columns.iter().position(|c| c == "test_mse");
    let best_row = mse_column.and_then(|col| {
        table
            .rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| {
                if let Cell::Number(v) = row[col] {
                    Some((i, v))
                } else {
                    None
                }
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    });
    html.push_str("<section id=\"results\"><h2>Results</h2><table><thead><tr>");
    for column in &table.columns {
        let _ = write!(html, "<th>{}</th>", escape(column));
    }
    html.push_str("</tr></thead><tbody>\n");
    for (i, row) in table.rows.iter().enumerate() {
        let failed = matches!(&row[1], Cell::Text(s) if s == "failed");
        let class = match (failed, Some(i) == best_row) {
            (true, _) => " class=\"failed\"",
            (false, true) => " class=\"best\"",
            _ => "",
        };
        let _ = write!(html, "<tr{class}>");
        for (j, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(text) if j == 0 => {
                    let _ = write!(html, "<td><a href=\"#run-{0}\">{0}</a></td>", escape(text));
                }
                Cell::Text(text) => {
                    let first_line = text.lines().next().unwrap_or_default();
                    let _ = write!(html, "<td>{}</td>", escape(first_line));
                }
                Cell::Number(v) => {
                    let _ = write!(html, "<td class=\"num\">{}</td>", number(*v));
                }
                Cell::Missing => html.push_str("<td></td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></section>\n");
}

/// Mean ± standard deviation over seeds per configuration, when some configuration has
/// several seeds.
fn seed_statistics(html: &mut String, configurations: &ResultsTable) {
    let repeated = configurations
        .rows
        .iter()
        .any(|row| matches!(row[0], Cell::Number(seeds) if seeds > 1.0));
    if !repeated {
        return;
    }
    html.push_str(
        "<section id=\"configurations\"><h2>Configurations: mean ± std over seeds</h2>",
    );
    display_table(html, &configurations.display(), "configurations-table");
    html.push_str("<p>Raw data: <a href=\"configurations.csv\">configurations.csv</a>, \
                   <a href=\"configurations.md\">configurations.md</a>.</p></section>\n");
}

/// A plain table of text cells, numbers right-aligned.
fn display_table(html: &mut String, table: &DisplayTable, id: &str) {
    let _ = write!(html, "<table id=\"{id}\" class=\"sortable\"><thead><tr>");
    for header in &table.headers {
        let _ = write!(html, "<th>{}</th>", escape(header));
    }
    html.push_str("</tr></thead><tbody>\n");
    for row in &table.rows {
        html.push_str("<tr>");
        for (cell, &numeric) in row.iter().zip(&table.numeric) {
            let class = if numeric { " class=\"num\"" } else { "" };
            let _ = write!(html, "<td{class}>{}</td>", escape(cell));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
}

fn curves(
    html: &mut String,
    records: &[RunRecord],
    table: &ResultsTable,
) -> Result<(), ReportError> {
    html.push_str("<section id=\"curves\"><h2>Loss curves</h2><div class=\"curves\">\n");
    for (record, row) in records.iter().zip(&table.rows) {
        let id = record.result.id.as_str();
        let varied: Vec<String> = table.columns[2..2 + table.varied]
            .iter()
            .zip(&row[2..2 + table.varied])
            .map(|(key, cell)| match cell {
                Cell::Text(t) => format!("{key}={t}"),
                Cell::Number(v) => format!("{key}={v}"),
                Cell::Missing => format!("{key}=–"),
            })
            .collect();
        let _ = write!(html, "<figure id=\"run-{}\">", escape(id));
        if record.epochs.is_empty() {
            html.push_str("<p>No epoch finished.</p>");
        } else {
            html.push_str(&plot::loss_curves(id, &record.epochs)?);
        }
        let _ = writeln!(
            html,
            "<figcaption>{} {}</figcaption></figure>",
            escape(id),
            escape(&varied.join(", "))
        );
    }
    html.push_str("</div></section>\n");
    Ok(())
}

/// A section listing the runs that ended with `status` and why (failed or pruned runs).
fn stopped_runs(html: &mut String, records: &[RunRecord], status: RunStatus, title: &str) {
    let stopped: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.result.status == status)
        .collect();
    if stopped.is_empty() {
        return;
    }
    let _ = writeln!(html, "<section id=\"{}\"><h2>{title}</h2>", status.name());
    for record in stopped {
        let _ = writeln!(
            html,
            "<h3>{}</h3><pre>{}</pre>",
            escape(record.result.id.as_str()),
            escape(
                record
                    .result
                    .error
                    .as_deref()
                    .unwrap_or("no error recorded")
            )
        );
    }
    html.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn numbers_keep_four_significant_digits() {
        assert_eq!(number(0.006412345), "0.006412");
        assert_eq!(number(21.56789), "21.57");
        assert_eq!(number(14200.4), "14200");
        assert_eq!(number(1.5e-5), "1.500e-5");
        assert_eq!(number(32.0), "32");
    }
}
