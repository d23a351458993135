//! The self-contained HTML page of a sweep: summary, results table, loss curves, failures.
//! Every string that comes from a spec or a result is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hourglass_spec::ModelKind;
use hourglass_spec::result::{CODES_FILE, LATENT_FILE, RunStatus};

use crate::latent::{project_2d, read_codes, read_variances};
use crate::plot::{self, Series, Style};
use crate::references::{self, Reference};
use crate::table::{Cell, DisplayTable, ResultsTable, number};
use crate::{ReportError, RunRecord, tasks};

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:80rem}\
table{border-collapse:collapse;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}\
th{background:#f0f0f0}td{max-width:24rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.wide{overflow-x:auto}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tr.failed{background:#fde8e8}.best{font-weight:bold}.curves{display:flex;flex-wrap:wrap;gap:1rem}\
figure{margin:0}img{image-rendering:pixelated;width:420px;border:1px solid #ccc}figcaption{font-size:.85rem;color:#555}pre{background:#f6f6f6;padding:.5rem;\
white-space:pre-wrap}";

/// Sorts a table with class `sortable` by the column whose header is clicked (numbers as
/// numbers, empty cells last); a second click reverses the order.
const SORT_SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(th=>{\
th.title='click to sort';th.style.cursor='pointer';th.addEventListener('click',()=>{\
const body=th.closest('table').tBodies[0],i=th.cellIndex,up=th.dataset.up!=='1';\
th.dataset.up=up?'1':'0';const key=r=>{const t=(r.cells[i]||{}).textContent||'';\
const n=parseFloat(t);return isNaN(n)?t.trim():n};[...body.rows].sort((a,b)=>{\
const x=key(a),y=key(b);if(x===''||y==='')return (x==='')-(y==='');\
return (x<y?-1:x>y?1:0)*(up?1:-1)}).forEach(r=>body.appendChild(r))})});";

/// The metric by which runs are ranked: lower is better.
const RANKING_METRIC: &str = "test_mse";

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
    unreadable: &[String],
    table: &ResultsTable,
    configurations: &ResultsTable,
    references: &[&Reference],
) -> Result<String, ReportError> {
    let title = escape(title);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · hourglass</title>\
         <style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let best = best_per_kind(records);
    let kinds = by_kind(records);
    summary(&mut html, records, &best);
    references::section(&mut html, references, records);
    how_to_read(&mut html);
    results(&mut html, table);
    seed_statistics(&mut html, configurations);
    parameter_effects(&mut html, &kinds, table)?;
    curves(&mut html, &kinds, table)?;
    images(&mut html, &best);
    latent_maps(&mut html, &best)?;
    tasks::rate_distortion(&mut html, records)?;
    tasks::anomaly(&mut html, records, table)?;
    stopped_runs(&mut html, records, RunStatus::Failed, "Failed runs");
    stopped_runs(&mut html, records, RunStatus::Pruned, "Pruned runs");
    unreadable_results(&mut html, unreadable);
    html.push_str(
        "<p>Raw data: <a href=\"results.csv\">results.csv</a>, \
         <a href=\"results.parquet\">results.parquet</a>, <a href=\"results.md\">results.md</a> \
         and <code>runs/&lt;id&gt;/</code>.</p>\n",
    );
    let _ = write!(html, "<script>{SORT_SCRIPT}</script>\n</body></html>\n");
    Ok(html)
}

fn summary(html: &mut String, records: &[RunRecord], best: &BestPerKind<'_>) {
    let count = |status| records.iter().filter(|r| r.result.status == status).count();
    // Folded from +0: an empty f64 sum is -0, which would print as "-0 s".
    let seconds = records
        .iter()
        .filter_map(|r| r.result.metrics.get("train_seconds"))
        .fold(0.0, |total, s| total + s);
    let _ = write!(
        html,
        "<section id=\"summary\"><h2>Summary</h2><p>{} runs: {} completed, {} failed, {} pruned; \
         {:.0} s of training in all.</p>",
        records.len(),
        count(RunStatus::Completed),
        count(RunStatus::Failed),
        count(RunStatus::Pruned),
        seconds
    );
    if !best.is_empty() {
        let _ = write!(
            html,
            "<table id=\"best\"><thead><tr><th>model kind</th><th>best run</th>\
             <th>{RANKING_METRIC}</th></tr></thead><tbody>"
        );
        for (kind, run) in best {
            let _ = write!(
                html,
                "<tr><td>{kind}</td><td><a href=\"runs/{id}/result.json\">{id}</a></td>\
                 <td class=\"num\">{}</td></tr>",
                number(run.result.metrics[RANKING_METRIC]),
                id = escape(run.result.id.as_str()),
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>\n");
}

/// The completed run with the lowest [`RANKING_METRIC`] of each model kind, by kind name.
type BestPerKind<'a> = BTreeMap<&'a str, &'a RunRecord>;

/// Records (with their row index) by model kind.
type ByKind<'a> = BTreeMap<&'a str, Vec<(usize, &'a RunRecord)>>;

/// The best run of each kind (see [`BestPerKind`]).
fn best_per_kind(records: &[RunRecord]) -> BestPerKind<'_> {
    let mut best = BestPerKind::new();
    for record in records {
        let Some(&value) = record.result.metrics.get(RANKING_METRIC) else {
            continue;
        };
        if record.result.status != RunStatus::Completed {
            continue;
        }
        let kind = record.result.config.model_kind();
        let better = best
            .get(kind)
            .is_none_or(|current| value < current.result.metrics[RANKING_METRIC]);
        if better {
            best.insert(kind, record);
        }
    }
    best
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
         <li>The best run (lowest <code>test_mse</code>) is in bold. Failed runs are shaded and \
         their errors are listed at the end, with the reasons of pruned runs. Click a column's \
         header to sort by it.</li>\
         <li>With several seeds per configuration, the second table gives mean ± sample standard \
         deviation over the seeds; a difference smaller than the deviations is not evidence.</li>\
         <li>The plots of <code>test_mse</code> against each swept setting show one line per model \
         kind (a log axis when the values span two decades or more).</li>\
         <li>The latent maps place the codes of test examples on the plane (their first two \
         principal components when the code is larger), coloured by label: classes that form \
         separate clusters are ones the code tells apart without supervision.</li>\
         <li>Tasks add their own metrics: <code>probe_accuracy</code> is the test accuracy of a \
         linear classifier trained on the codes; <code>anomaly_auroc</code> is the chance that a \
         random anomaly scores above a random normal example (0.5 is guessing); \
         <code>quantized_psnr_db</code>, <code>pca_psnr_db</code> and <code>jpeg_psnr_db</code> \
         compare codecs at the same bytes per example.</li>\
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
    html.push_str(
        "<section id=\"results\"><h2>Results</h2><div class=\"wide\">\
         <table id=\"results-table\" class=\"sortable\"><thead><tr>",
    );
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
                    let _ = write!(
                        html,
                        "<td><a href=\"runs/{0}/result.json\">{0}</a></td>",
                        escape(text)
                    );
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
    html.push_str("</tbody></table></div></section>\n");
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
    html.push_str("<section id=\"configurations\"><h2>Configurations: mean ± std over seeds</h2>");
    display_table(html, &configurations.display(), "configurations-table");
    html.push_str(
        "<p>Raw data: <a href=\"configurations.csv\">configurations.csv</a>, \
                   <a href=\"configurations.md\">configurations.md</a>.</p></section>\n",
    );
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

/// For the rows `rows` of `table`, the settings that vary among them as `key=value` text.
pub(crate) fn varied_labels(table: &ResultsTable, rows: &[usize]) -> Vec<String> {
    let varying: Vec<usize> = (2..2 + table.varied)
        .filter(|&column| {
            rows.iter()
                .any(|&row| table.rows[row][column] != table.rows[rows[0]][column])
        })
        .collect();
    rows.iter()
        .map(|&row| {
            let pairs: Vec<String> = varying
                .iter()
                .map(|&column| {
                    format!(
                        "{}={}",
                        table.columns[column],
                        table.rows[row][column].text()
                    )
                })
                .collect();
            pairs.join(" ")
        })
        .collect()
}

/// Groups `records` (with their row index) by model kind.
fn by_kind(records: &[RunRecord]) -> ByKind<'_> {
    let mut groups = ByKind::new();
    for (i, record) in records.iter().enumerate() {
        groups
            .entry(record.result.config.model_kind())
            .or_default()
            .push((i, record));
    }
    groups
}

/// Validation loss (training loss where there is no validation split) per epoch, every run of a
/// model kind overlaid on one plot.
fn curves(html: &mut String, kinds: &ByKind<'_>, table: &ResultsTable) -> Result<(), ReportError> {
    html.push_str("<section id=\"curves\"><h2>Loss curves</h2><div class=\"curves\">\n");
    for (kind, members) in kinds {
        let rows: Vec<usize> = members.iter().map(|&(i, _)| i).collect();
        let labels = varied_labels(table, &rows);
        let series: Vec<Series> = members
            .iter()
            .zip(&labels)
            .filter(|((_, record), _)| !record.epochs.is_empty())
            .map(|(&(_, record), label)| Series {
                label: format!("{} {label}", record.result.id),
                points: record
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, e.val_loss.unwrap_or(e.train_loss)))
                    .collect(),
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let svg = plot::overlaid(
            kind,
            ("epoch", "validation loss"),
            &series,
            false,
            Style::Lines,
        )?;
        let _ = writeln!(
            html,
            "<figure>{svg}<figcaption>{kind}: {} runs</figcaption></figure>",
            series.len()
        );
    }
    html.push_str("</div></section>\n");
    Ok(())
}

/// For each numeric swept setting, [`RANKING_METRIC`] of the completed runs against it, one
/// line per model kind.
fn parameter_effects(
    html: &mut String,
    kinds: &ByKind<'_>,
    table: &ResultsTable,
) -> Result<(), ReportError> {
    let mut figures = String::new();
    for column in 2..2 + table.varied {
        let key = &table.columns[column];
        if key == "seed" {
            continue;
        }
        let mut series = Vec::new();
        for (kind, members) in kinds {
            let mut points: Vec<(f64, f64)> = members
                .iter()
                .filter_map(|&(i, record)| match table.rows[i][column] {
                    Cell::Number(x) => Some((x, *record.result.metrics.get(RANKING_METRIC)?)),
                    _ => None,
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            series.push(Series {
                label: kind.to_string(),
                points: means_by_x(&mut points),
            });
        }
        let xs = || series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
        // A setting that varies only between kinds (β of VAEs, say) has one value per kind.
        let mut distinct: Vec<f64> = xs().collect();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        if distinct.len() < 2 {
            continue;
        }
        let (low, high) = xs().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let log_x = low > 0.0 && high / low >= 100.0;
        let svg = plot::overlaid(
            key,
            (key, RANKING_METRIC),
            &series,
            log_x,
            Style::LinesAndDots,
        )?;
        let _ = writeln!(
            figures,
            "<figure>{svg}<figcaption>{RANKING_METRIC} (mean over seeds) against {}</figcaption></figure>",
            escape(key)
        );
    }
    if !figures.is_empty() {
        let _ = writeln!(
            html,
            "<section id=\"parameters\"><h2>Effect of each swept setting</h2>\
             <div class=\"curves\">{figures}</div></section>"
        );
    }
    Ok(())
}

/// The mean y of the points at each x (seeds of one setting), in x order.
pub(crate) fn means_by_x(points: &mut [(f64, f64)]) -> Vec<(f64, f64)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
        .chunk_by(|a, b| a.0 == b.0)
        .map(|same_x| {
            let mean = same_x.iter().map(|p| p.1).sum::<f64>() / same_x.len() as f64;
            (same_x[0].0, mean)
        })
        .collect()
}

/// The codes of the best run of each kind on the plane (PCA beyond two dimensions), coloured
/// by label, and with the latent task the variance of each code dimension.
fn latent_maps(html: &mut String, best: &BestPerKind<'_>) -> Result<(), ReportError> {
    let mut figures = String::new();
    for (kind, run) in best {
        let Some(codes) = read_codes(&run.dir.join(CODES_FILE)) else {
            continue;
        };
        let dims = codes.points[0].len();
        let mut by_label: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
        for (label, point) in codes.labels.iter().zip(project_2d(&codes.points)) {
            by_label.entry(label).or_default().push(point);
        }
        let series: Vec<Series> = by_label
            .into_iter()
            .map(|(label, points)| Series {
                label: label.to_string(),
                points,
            })
            .collect();
        let axes = if dims > 2 {
            ("PC 1", "PC 2")
        } else {
            ("z0", "z1")
        };
        let svg = plot::overlaid(kind, axes, &series, false, Style::Dots)?;
        let how = if dims > 2 {
            format!("first two principal components of the {dims}-dimensional codes")
        } else {
            "the codes".to_string()
        };
        let _ = write!(
            figures,
            "<figure>{svg}<figcaption>{kind}, best run {id}: {how} of {} test examples, \
             coloured by label</figcaption></figure>",
            codes.points.len(),
            id = escape(run.result.id.as_str()),
        );
        if let Some(variances) = read_variances(&run.dir.join(LATENT_FILE)) {
            let series = [Series {
                label: "variance".into(),
                points: (1..).map(f64::from).zip(variances).collect(),
            }];
            let svg = plot::overlaid(
                &format!("{kind}: code variance"),
                ("dimension, by variance", "variance over test"),
                &series,
                false,
                Style::LinesAndDots,
            )?;
            let _ = write!(
                figures,
                "<figure>{svg}<figcaption>{kind}, best run {id}: variance of each code \
                 dimension over the test split, largest first (dimensions near 0 are unused)\
                 </figcaption></figure>",
                id = escape(run.result.id.as_str()),
            );
        }
    }
    if !figures.is_empty() {
        let _ = writeln!(
            html,
            "<section id=\"latent\"><h2>Latent space</h2><div class=\"curves\">{figures}</div></section>"
        );
    }
    Ok(())
}

/// Image grids of the best run of each model kind: reconstructions (originals above their
/// reconstructions), samples and interpolations.
fn images(html: &mut String, best: &BestPerKind<'_>) {
    let mut figures = String::new();
    for (kind, run) in best {
        let samples = if run.result.config.model_kind() == ModelKind::Vae.name() {
            "samples from the prior"
        } else {
            "samples from a Gaussian fitted to the training codes"
        };
        for (file, what) in [
            (
                "reconstructions.png",
                "test inputs (top) and reconstructions (bottom)",
            ),
            ("samples.png", samples),
            ("interpolations.png", "interpolations between test codes"),
        ] {
            if !run.images.iter().any(|image| image == file) {
                continue;
            }
            let _ = write!(
                figures,
                "<figure><img src=\"runs/{id}/{file}\" alt=\"{kind} {what}\">\
                 <figcaption>{kind}, best run {id}: {what}</figcaption></figure>",
                id = escape(run.result.id.as_str()),
            );
        }
    }
    if !figures.is_empty() {
        let _ = writeln!(
            html,
            "<section id=\"images\"><h2>Best run of each kind</h2><div class=\"curves\">{figures}</div></section>"
        );
    }
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

/// A section listing the `result.json` files that could not be read, each with why; their runs
/// are in no table or plot.
pub(crate) fn unreadable_results(html: &mut String, unreadable: &[String]) {
    if unreadable.is_empty() {
        return;
    }
    html.push_str(
        "<section id=\"unreadable\"><h2>Unreadable results</h2><p>These result files could not \
         be read, so their runs are left out of this report:</p><ul>",
    );
    for reason in unreadable {
        let _ = write!(html, "<li><code>{}</code></li>", escape(reason));
    }
    html.push_str("</ul></section>\n");
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
