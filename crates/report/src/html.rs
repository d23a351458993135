//! The self-contained HTML page of a sweep: summary, results table, loss curves, failures.
//! Every string that comes from a spec or a result is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::prelude::{BASE64_STANDARD, Engine as _};
use hourglass_spec::result::{CODES_FILE, EpochRecord, LATENT_FILE, RunStatus};

use crate::latent::{project_2d, read_codes, read_variances};
use crate::plot::{self, Series, Style};
use crate::references::{self, Reference};
use crate::table::{Cell, DisplayTable, ResultsTable, mean_and_std, number};
use crate::{ReportError, RunRecord, pareto, search, tasks};
use hourglass_spec::{Objective, PrimaryMetric};

pub(crate) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse;font-size:.9rem}th,td{border:1px solid #ccc;padding:.25rem .5rem}\
th{background:#f0f0f0}td{max-width:24rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}\
.wide{overflow-x:auto}td.num{text-align:right;font-variant-numeric:tabular-nums}\
tr.failed{background:#fde8e8}.best{font-weight:bold}.curves{display:flex;flex-wrap:wrap;gap:1rem}\
figure{margin:0;max-width:600px}figure.wide{max-width:none}figure svg{max-width:100%;height:auto}\
img{image-rendering:pixelated;width:600px;max-width:100%;border:1px solid #ccc}figcaption{font-size:.85rem;color:#555}\
ul.legend{list-style:none;padding:0;margin:.25rem 0;font-size:.85rem;display:flex;flex-wrap:wrap;gap:.25rem 1rem}\
.swatch{display:inline-block;width:1.2rem;height:.6rem;margin-right:.3rem;vertical-align:middle}pre{background:#f6f6f6;padding:.5rem;\
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

/// The sweep a page reports.
pub(crate) struct Sweep<'a> {
    /// The experiment's name.
    pub title: &'a str,
    /// What ranks the runs.
    pub primary: &'a PrimaryMetric,
    /// What the sweep's search optimised (none for a grid).
    pub objectives: &'a [Objective],
    /// Whether every run's inputs were standardised (z-scores).
    pub standardized: bool,
    /// The runs of the spec, best first.
    pub records: &'a [RunRecord],
    /// Finished runs the spec no longer asks for.
    pub earlier: &'a [RunRecord],
    /// Result files that could not be read, each with why.
    pub unreadable: &'a [String],
}

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
    sweep: &Sweep<'_>,
    table: &ResultsTable,
    configurations: &ResultsTable,
    references: &[&Reference],
) -> Result<String, ReportError> {
    let (records, primary) = (sweep.records, sweep.primary);
    let title = escape(sweep.title);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} · hourglass</title>\
         <style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    let best = best_per_kind(records, primary);
    let kinds = by_kind(records);
    summary(&mut html, records, &best, primary);
    references::section(&mut html, references, records);
    how_to_read(&mut html, primary, sweep.standardized);
    results(&mut html, table, primary);
    not_measured(&mut html, records);
    seed_statistics(&mut html, configurations);
    parameter_effects(&mut html, &kinds, table, primary)?;
    search::section(&mut html, records, table, primary)?;
    pareto::section(&mut html, records, sweep.objectives)?;
    curves(&mut html, &kinds, table)?;
    images(&mut html, &best);
    latent_maps(&mut html, &best)?;
    tasks::rate_distortion(&mut html, records)?;
    tasks::anomaly(&mut html, records, table)?;
    stopped_runs(&mut html, records, RunStatus::Failed, "Failed runs");
    stopped_runs(&mut html, records, RunStatus::Pruned, "Pruned runs");
    earlier_runs(&mut html, sweep.earlier, primary);
    unreadable_results(&mut html, sweep.unreadable);
    html.push_str(
        "<p>Raw data: <a href=\"results.csv\">results.csv</a>, \
         <a href=\"results.parquet\">results.parquet</a>, <a href=\"results.md\">results.md</a> \
         and <code>runs/&lt;id&gt;/</code>.</p>\n",
    );
    let _ = write!(html, "<script>{SORT_SCRIPT}</script>\n</body></html>\n");
    Ok(html)
}

fn summary(
    html: &mut String,
    records: &[RunRecord],
    best: &BestPerKind<'_>,
    primary: &PrimaryMetric,
) {
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
             <th>{} ({} is better)</th></tr></thead><tbody>",
            escape(&primary.name),
            primary.direction.better_word()
        );
        for (kind, run) in best {
            let _ = write!(
                html,
                "<tr><td>{kind}</td><td><a href=\"runs/{id}/result.json\">{id}</a></td>\
                 <td class=\"num\">{}</td></tr>",
                number(run.result.metrics[&primary.name]),
                id = escape(run.result.id.as_str()),
            );
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>\n");
}

/// The completed run with the best primary metric of each model kind, by kind name.
type BestPerKind<'a> = BTreeMap<&'a str, &'a RunRecord>;

/// Records (with their row index) by model kind.
type ByKind<'a> = BTreeMap<&'a str, Vec<(usize, &'a RunRecord)>>;

/// The best run of each kind (see [`BestPerKind`]).
fn best_per_kind<'a>(records: &'a [RunRecord], primary: &PrimaryMetric) -> BestPerKind<'a> {
    let mut best = BestPerKind::new();
    for record in records {
        let Some(&value) = record.result.metrics.get(&primary.name) else {
            continue;
        };
        if record.result.status != RunStatus::Completed {
            continue;
        }
        let kind = record.result.config.model_kind();
        let better = best.get(kind).is_none_or(|current| {
            primary
                .direction
                .better(value, current.result.metrics[&primary.name])
        });
        if better {
            best.insert(kind, record);
        }
    }
    best
}

fn how_to_read(html: &mut String, primary: &PrimaryMetric, standardized: bool) {
    let metric = escape(&primary.name);
    let better = primary.direction.better_word();
    let errors = if standardized {
        "<code>test_mse</code> is the mean squared error per input value on the test split, in \
         the units of the standardised inputs (each feature scaled to mean 0 and standard \
         deviation 1 on the training split), so 1 is no better than predicting each feature's \
         mean; PSNR, which assumes inputs in [0, 1], is left out"
    } else {
        "<code>test_mse</code> is the mean squared error per input value on the test split, \
         inputs in [0, 1]; <code>test_psnr_db</code> is 10·log10(1/MSE)"
    };
    let _ = write!(
        html,
        "<section id=\"how-to-read\"><h2>How to read this report</h2><ul>\
         <li>Runs are ranked by <code>{metric}</code> ({better} is better), the spec's primary \
         metric (<code>[report] metric</code>; by default <code>anomaly_auroc</code> for anomaly \
         detection, <code>denoise_psnr_db</code> for denoising, else <code>test_mse</code>). \
         The best run is in bold and the tables are sorted by it, best first.</li>\
         <li>Each row of the results table is one run: a configuration and a seed. Only the \
         settings that differ between runs are shown; the full configuration is in \
         <code>runs/&lt;id&gt;/config.toml</code> and in <code>results.parquet</code>.</li>\
         <li>{errors}; <code>test_loss</code> is the training objective on the test split.</li>\
         <li>Loss curves show the training objective per epoch (mean over the epoch's steps) and \
         on the validation split after each epoch. A validation curve that rises while the \
         training curve falls is overfitting.</li>\
         <li>Failed runs are shaded and their errors are listed at the end, with the reasons of \
         pruned runs. Click a column's header to sort by it.</li>\
         <li>With several seeds per configuration, the second table gives mean ± sample standard \
         deviation over the seeds; a difference smaller than the deviations is not evidence.</li>\
         <li>The plots of <code>{metric}</code> against each swept setting show one line per \
         model kind (a log axis when the values span two decades or more).</li>\
         <li>The latent maps place the codes of test examples on the plane (their first two \
         principal components when the code is larger), coloured by label: classes that form \
         separate clusters are ones the code tells apart without supervision.</li>\
         <li>Tasks add their own metrics: <code>probe_accuracy</code> is the test accuracy of a \
         linear classifier trained on the codes; <code>anomaly_auroc</code> is the chance that a \
         random anomaly scores above a random normal example (0.5 is guessing), and \
         <code>pca_auroc</code>, <code>iforest_auroc</code> and <code>knn_auroc</code> are the \
         same for classical detectors that need no training, the bar to clear; \
         <code>quantized_psnr_db</code>, <code>pca_psnr_db</code> and <code>jpeg_psnr_db</code> \
         compare codecs at the same bytes per example.</li>\
         </ul></section>\n",
    );
}

/// The metrics that runs' tasks give but that some runs could not measure, each with why
/// and in how many runs.
fn not_measured(html: &mut String, records: &[RunRecord]) {
    let mut reasons: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for record in records {
        for (metric, why) in &record.result.not_measured {
            *reasons.entry((metric, why)).or_default() += 1;
        }
    }
    if reasons.is_empty() {
        return;
    }
    html.push_str("<section id=\"not-measured\"><h2>Not measured</h2><ul>");
    for ((metric, why), runs) in reasons {
        let runs = if runs == 1 {
            "1 run".to_string()
        } else {
            format!("{runs} runs")
        };
        let _ = write!(
            html,
            "<li><code>{}</code> ({runs}): {}</li>",
            escape(metric),
            escape(why)
        );
    }
    html.push_str("</ul></section>\n");
}

fn results(html: &mut String, table: &ResultsTable, primary: &PrimaryMetric) {
    let column = table.columns.iter().position(|c| *c == primary.name);
    let best_row = column.and_then(|col| {
        (table.rows.iter().enumerate())
            .filter_map(|(i, row)| match row[col] {
                Cell::Number(v) if matches!(&row[1], Cell::Text(s) if s == "completed") => {
                    Some((i, v))
                }
                _ => None,
            })
            .reduce(|best, next| {
                if primary.direction.better(next.1, best.1) {
                    next
                } else {
                    best
                }
            })
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
    html.push_str(
        "<section id=\"configurations\"><h2>Configurations: mean ± std over seeds</h2>\
         <div class=\"wide\">",
    );
    display_table(html, &configurations.display(), "configurations-table");
    html.push_str("</div>");
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

/// For the rows `rows` of `table`, the settings that vary among them, but those named in
/// `except`, as `key=value` text; a setting a run does not have (a VAE's `regularizers.kl`
/// on a vanilla run) is left out of its label.
pub(crate) fn varied_labels(table: &ResultsTable, rows: &[usize], except: &[&str]) -> Vec<String> {
    let varying: Vec<usize> = (2..2 + table.varied)
        .filter(|&column| {
            !except.contains(&table.columns[column].as_str())
                && rows
                    .iter()
                    .any(|&row| table.rows[row][column] != table.rows[rows[0]][column])
        })
        .collect();
    rows.iter()
        .map(|&row| {
            let pairs: Vec<String> = varying
                .iter()
                .filter(|&&column| table.rows[row][column] != Cell::Missing)
                .map(|&column| {
                    let value = match &table.rows[row][column] {
                        // As written in specs: 0.2, 0.001, not 0.2000.
                        Cell::Number(v) if v.to_string().len() <= 8 => v.to_string(),
                        cell => cell.text(),
                    };
                    format!("{}={value}", table.columns[column])
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

/// The loss curves of each model kind: per configuration, the validation loss per epoch
/// (solid; the training loss where there is no validation split) and the training loss
/// (dashed), each the mean over the configuration's seeds, with a band of ± one standard
/// deviation over them; labelled by the settings that vary.
fn curves(html: &mut String, kinds: &ByKind<'_>, table: &ResultsTable) -> Result<(), ReportError> {
    html.push_str("<section id=\"curves\"><h2>Loss curves</h2><div class=\"curves\">\n");
    for (kind, members) in kinds {
        let members: Vec<&(usize, &RunRecord)> = members
            .iter()
            .filter(|(_, r)| !r.epochs.is_empty())
            .collect();
        let rows: Vec<usize> = members.iter().map(|&&(i, _)| i).collect();
        if rows.is_empty() {
            continue;
        }
        let labels = varied_labels(table, &rows, &["seed"]);
        let mut groups: Vec<(&str, Vec<&RunRecord>)> = Vec::new();
        for (&&(_, record), label) in members.iter().zip(&labels) {
            match groups.iter_mut().find(|(l, _)| l == label) {
                Some((_, runs)) => runs.push(record),
                None => groups.push((label, vec![record])),
            }
        }
        let validated = members
            .iter()
            .any(|(_, r)| r.epochs.iter().any(|e| e.val_loss.is_some()));
        let series: Vec<Series> = groups
            .iter()
            .map(|(label, runs)| {
                let per_epoch = |value: &dyn Fn(&EpochRecord) -> f64| {
                    let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
                    for epoch in runs.iter().flat_map(|r| &r.epochs) {
                        by_epoch.entry(epoch.epoch).or_default().push(value(epoch));
                    }
                    by_epoch
                        .into_iter()
                        .map(|(epoch, values)| {
                            let (mean, std) = mean_and_std(&values);
                            (epoch as f64, mean.unwrap_or(f64::NAN), std)
                        })
                        .collect::<Vec<_>>()
                };
                let solid = per_epoch(&|e| e.val_loss.unwrap_or(e.train_loss));
                let label = if label.is_empty() {
                    kind.to_string()
                } else {
                    label.to_string()
                };
                Series {
                    label: match runs.len() {
                        1 => label,
                        seeds => format!("{label} ({seeds} seeds)"),
                    },
                    points: solid.iter().map(|&(x, y, _)| (x, y)).collect(),
                    spread: (solid.iter())
                        .filter_map(|&(x, y, std)| Some((x, y - std?, y + std?)))
                        .collect(),
                    dashed: if validated {
                        per_epoch(&|e| e.train_loss)
                            .iter()
                            .map(|&(x, y, _)| (x, y))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    style: None,
                    faded: false,
                }
            })
            .collect();
        let y_desc = if validated {
            "loss (solid: validation, dashed: training)"
        } else {
            "training loss"
        };
        let svg = plot::overlaid(kind, ("epoch", y_desc), &series, false, Style::Lines)?;
        let _ = writeln!(
            html,
            "<figure>{svg}<figcaption>{kind}: {} runs in {} configurations; lines are means over \
             seeds, bands ± one standard deviation</figcaption></figure>",
            rows.len(),
            series.len()
        );
    }
    html.push_str("</div></section>\n");
    Ok(())
}

/// For each numeric swept setting, the primary metric of the completed runs against it: one
/// line per model kind and value of the other swept settings (so an interaction shows as
/// lines that are not parallel), each point the mean over seeds with a bar of ± one standard
/// deviation.
fn parameter_effects(
    html: &mut String,
    kinds: &ByKind<'_>,
    table: &ResultsTable,
    primary: &PrimaryMetric,
) -> Result<(), ReportError> {
    let metric = primary.name.as_str();
    let several_kinds = kinds.len() > 1;
    let mut figures = String::new();
    for column in 2..2 + table.varied {
        let key = &table.columns[column];
        if key == "seed" {
            continue;
        }
        let mut series = Vec::new();
        for (kind, members) in kinds {
            let completed: Vec<(usize, f64, f64)> = members
                .iter()
                .filter_map(|&(i, record)| match table.rows[i][column] {
                    Cell::Number(x) if record.result.status == RunStatus::Completed => {
                        Some((i, x, *record.result.metrics.get(metric)?))
                    }
                    _ => None,
                })
                .collect();
            if completed.is_empty() {
                continue;
            }
            let rows: Vec<usize> = completed.iter().map(|p| p.0).collect();
            let others = varied_labels(table, &rows, &["seed", key]);
            let mut lines: Vec<(&str, Vec<(f64, f64)>)> = Vec::new();
            for (&(_, x, y), other) in completed.iter().zip(&others) {
                match lines.iter_mut().find(|(l, _)| l == other) {
                    Some((_, points)) => points.push((x, y)),
                    None => lines.push((other, vec![(x, y)])),
                }
            }
            for (other, mut points) in lines {
                let label = match (several_kinds, other.is_empty()) {
                    (true, true) => kind.to_string(),
                    (true, false) => format!("{kind} {other}"),
                    (false, true) => metric.to_string(),
                    (false, false) => other.to_string(),
                };
                let stats = stats_by_x(&mut points);
                series.push(Series {
                    label,
                    points: stats.iter().map(|&(x, mean, _)| (x, mean)).collect(),
                    spread: (stats.iter())
                        .filter_map(|&(x, mean, std)| Some((x, mean - std?, mean + std?)))
                        .collect(),
                    dashed: Vec::new(),
                    style: None,
                    faded: false,
                });
            }
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
        let svg = plot::overlaid(key, (key, metric), &series, log_x, Style::LinesAndDots)?;
        let _ = writeln!(
            figures,
            "<figure>{svg}<figcaption>{} ({} is better) against {}: means over seeds, bars ± one \
             standard deviation; one line per value of the other swept settings</figcaption></figure>",
            escape(metric),
            primary.direction.better_word(),
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

/// The mean and sample standard deviation (with two values or more) of the y of the points at
/// each x (seeds of one setting), in x order.
fn stats_by_x(points: &mut [(f64, f64)]) -> Vec<(f64, f64, Option<f64>)> {
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    points
        .chunk_by(|a, b| a.0 == b.0)
        .map(|same_x| {
            let values: Vec<f64> = same_x.iter().map(|p| p.1).collect();
            let (mean, std) = mean_and_std(&values);
            (same_x[0].0, mean.unwrap_or(f64::NAN), std)
        })
        .collect()
}

/// The mean y of the points at each x (seeds of one setting), in x order.
pub(crate) fn means_by_x(points: &mut [(f64, f64)]) -> Vec<(f64, f64)> {
    (stats_by_x(points).into_iter())
        .map(|(x, mean, _)| (x, mean))
        .collect()
}

/// The name of the class with `label` (as `codes.csv` writes it), from the data set's
/// `names` by label; the label itself when the data set names no classes.
fn class_name(label: &str, names: &[String]) -> String {
    (label.parse::<usize>().ok())
        .and_then(|label| names.get(label))
        .map_or_else(|| label.to_string(), |name| format!("{label}: {name}"))
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
        // Labels in numeric order (10 after 9).
        let mut by_label: BTreeMap<_, Vec<(f64, f64)>> = BTreeMap::new();
        for (label, point) in codes.labels.iter().zip(project_2d(&codes.points)) {
            let key: (Option<usize>, &str) = (label.parse().ok(), label.as_str());
            by_label.entry(key).or_default().push(point);
        }
        let series: Vec<Series> = by_label
            .into_iter()
            .map(|((_, label), points)| Series::new(class_name(label, &run.class_names), points))
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
            let series = [Series::new(
                "variance",
                (1..).map(f64::from).zip(variances).collect(),
            )];
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
        let ranked = if run.result.config.is_variational() {
            "by KL from the prior"
        } else {
            "by variance"
        };
        let what = format!(
            "latent traversals: each row decodes the mean training code with one dimension \
             swept from −3 to +3 standard deviations (at most 10 dimensions, {ranked}, largest \
             first)"
        );
        image_figure(&mut figures, kind, run, "traversals.png", &what);
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
        let samples = if run.result.config.is_variational() {
            "samples from the prior"
        } else {
            "samples from a Gaussian fitted to the training codes"
        };
        for (file, what) in [
            (
                "reconstructions.png",
                "test inputs (top) and reconstructions (bottom)",
            ),
            (
                "denoising.png",
                "test inputs, the same corrupted, and their reconstructions (rows of three)",
            ),
            ("samples.png", samples),
            ("interpolations.png", "interpolations between test codes"),
        ] {
            image_figure(&mut figures, kind, run, file, what);
        }
    }
    if !figures.is_empty() {
        let _ = writeln!(
            html,
            "<section id=\"images\"><h2>Best run of each kind</h2><div class=\"curves\">{figures}</div></section>"
        );
    }
}

/// The figure of `run`'s image grid `file` with the caption `what`, when the run has it. The
/// PNG is embedded, so that the page is one file; the link opens the run's own file.
fn image_figure(figures: &mut String, kind: &str, run: &RunRecord, file: &str, what: &str) {
    if !run.images.iter().any(|image| image == file) {
        return;
    }
    let Ok(png) = std::fs::read(run.dir.join(file)) else {
        return;
    };
    let _ = write!(
        figures,
        "<figure><a href=\"runs/{id}/{file}\"><img src=\"data:image/png;base64,{png}\" \
         alt=\"{kind} {what}\"></a>\
         <figcaption>{kind}, best run {id}: {what}</figcaption></figure>",
        id = escape(run.result.id.as_str()),
        png = BASE64_STANDARD.encode(png),
    );
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

/// A section listing the finished runs that the spec no longer asks for: kept on disk, in no
/// table or plot.
fn earlier_runs(html: &mut String, earlier: &[RunRecord], primary: &PrimaryMetric) {
    if earlier.is_empty() {
        return;
    }
    let _ = write!(
        html,
        "<section id=\"earlier\"><h2>Runs not in the current spec</h2><p>{} finished runs in \
         <code>runs/</code> were trained for an earlier version of the spec. They are kept on disk \
         and left out of every table and plot above; <code>hourglass report --all</code> includes \
         them.</p><table id=\"earlier-table\"><thead><tr><th>id</th><th>status</th><th>{}</th>\
         </tr></thead><tbody>",
        earlier.len(),
        escape(&primary.name)
    );
    for run in earlier {
        let value = run
            .result
            .metrics
            .get(&primary.name)
            .map_or(String::new(), |v| number(*v));
        let _ = write!(
            html,
            "<tr><td><a href=\"runs/{id}/config.toml\">{id}</a></td><td>{}</td>\
             <td class=\"num\">{value}</td></tr>",
            run.result.status.name(),
            id = escape(run.result.id.as_str()),
        );
    }
    html.push_str("</tbody></table></section>\n");
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
    fn labels_name_what_varies_and_leave_out_settings_a_run_does_not_have() {
        let table = ResultsTable {
            columns: [
                "id",
                "status",
                "model.kind",
                "regularizers.kl.beta",
                "test_mse",
            ]
            .map(String::from)
            .to_vec(),
            rows: vec![
                vec![
                    Cell::Text("a".into()),
                    Cell::Text("completed".into()),
                    Cell::Text("vae".into()),
                    Cell::Number(0.5),
                    Cell::Number(0.1),
                ],
                vec![
                    Cell::Text("b".into()),
                    Cell::Text("completed".into()),
                    Cell::Text("vanilla".into()),
                    Cell::Missing,
                    Cell::Number(0.2),
                ],
            ],
            varied: 2,
        };
        assert_eq!(
            varied_labels(&table, &[0, 1], &[]),
            [
                "model.kind=vae regularizers.kl.beta=0.5",
                "model.kind=vanilla"
            ]
        );
    }

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
