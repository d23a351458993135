//! The sections of the evaluation tasks: ROC curves of anomaly detectors with the classical
//! detectors beside them, and the rate–distortion of codes against the PCA and JPEG
//! baselines.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use hourglass_spec::ModelKind;
use hourglass_spec::result::{ANOMALY_BASELINES, BASELINE_ROC_FILE, ROC_FILE, RunStatus, metric};

use crate::html::{escape, means_by_x, varied_labels};
use crate::plot::{self, Series, Style};
use crate::table::{ResultsTable, mean_and_std, number};
use crate::{ReportError, RunRecord};

/// Most ROC curves drawn on one plot: the runs with the highest AUROC.
const ROC_CURVES: usize = 10;
/// Most points drawn of one ROC curve (evenly spaced along it, ends kept).
const ROC_POINTS: usize = 200;

/// ROC curves of the runs with the best AUROC, with a table of the anomaly metrics.
pub(crate) fn anomaly(
    html: &mut String,
    records: &[RunRecord],
    table: &ResultsTable,
) -> Result<(), ReportError> {
    let mut ranked: Vec<(usize, &RunRecord, f64)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.result.status == RunStatus::Completed)
        .filter_map(|(i, r)| Some((i, r, *r.result.metrics.get(metric::ANOMALY_AUROC)?)))
        .collect();
    if ranked.is_empty() {
        return Ok(());
    }
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
    let rows: Vec<usize> = ranked.iter().map(|&(i, _, _)| i).collect();
    let labels = varied_labels(table, &rows, &[]);
    let mut series: Vec<Series> = ranked
        .iter()
        .zip(&labels)
        .take(ROC_CURVES)
        .filter_map(|(&(_, record, auroc), label)| {
            Some(Series::new(
                format!("{label} AUROC {}", number(auroc)),
                thinned(read_roc(&record.dir.join(ROC_FILE))?),
            ))
        })
        .collect();
    let autoencoder_curves = series.len();
    let best = ranked[0].1;
    let baseline_curves = read_baseline_rocs(&best.dir.join(BASELINE_ROC_FILE));
    for baseline in &ANOMALY_BASELINES {
        if let (Some(curve), Some(&auroc)) = (
            baseline_curves.get(baseline.name),
            best.result.metrics.get(baseline.auroc),
        ) {
            // Dashed, to tell them from the autoencoders.
            series.push(Series {
                dashed: thinned(curve.clone()),
                ..Series::new(
                    format!(
                        "{} AUROC {} (best run's data)",
                        baseline.label,
                        number(auroc)
                    ),
                    Vec::new(),
                )
            });
        }
    }
    let aurocs: Vec<f64> = ranked.iter().map(|r| r.2).collect();
    let mean = aurocs.iter().sum::<f64>() / aurocs.len() as f64;
    let _ = write!(
        html,
        "<section id=\"anomaly\"><h2>Anomaly detection</h2><p>{} runs scored their test examples \
         by reconstruction error (a VAE by its negative ELBO). AUROC: best {}, mean {}, worst {}. \
         The results table holds each run's AUROC, AUPRC and the rank of its highest-scored \
         anomaly (<code>anomaly_top_rank_percent</code>).</p>",
        ranked.len(),
        number(aurocs[0]),
        number(mean),
        number(aurocs[aurocs.len() - 1]),
    );
    against_baselines(html, &ranked);
    if autoencoder_curves > 0 {
        let svg = plot::overlaid(
            "ROC",
            ("false positive rate", "true positive rate"),
            &series,
            false,
            Style::Lines,
        )?;
        let _ = write!(
            html,
            "<figure>{svg}<figcaption>ROC curves of the {} runs with the highest AUROC, and of \
             the classical detectors on the best run's data (dashed)</figcaption></figure>",
            autoencoder_curves
        );
    }
    html.push_str("</section>\n");
    Ok(())
}

/// The autoencoder's AUROC against the classical detectors' on the same data, per data set
/// (and normal class) and model kind: the mean of each over the runs, and where the
/// autoencoder ranks.
fn against_baselines(html: &mut String, ranked: &[(usize, &RunRecord, f64)]) {
    type Group<'a> = Vec<(&'a RunRecord, f64)>;
    let mut groups: BTreeMap<(String, &str), Group> = BTreeMap::new();
    for &(_, record, auroc) in ranked {
        let settings = record.result.config.settings();
        let mut data = settings
            .get("data.dataset")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        if let Some(class) = settings.get("data.normal_class") {
            data += &format!(", normal class {class}");
        }
        let kind = record.result.config.model_kind();
        groups
            .entry((data, kind))
            .or_default()
            .push((record, auroc));
    }
    let has_baselines = |group: &Group| {
        group
            .iter()
            .any(|(r, _)| r.result.metrics.contains_key(ANOMALY_BASELINES[0].auroc))
    };
    if !groups.values().any(has_baselines) {
        return;
    }
    html.push_str(
        "<p>Beside the autoencoder, each run scores the same test split with three classical \
         detectors fitted on the same normal training examples: the residual of a PCA with as \
         many components as the code, an Isolation Forest (100 trees of 256 examples) and the \
         distance to the 5th nearest normal example. Means over the runs; the rank counts the \
         autoencoder's mean among the four.</p><table id=\"anomaly-baselines\"><thead><tr>\
         <th>data</th><th>kind</th><th>runs</th><th>autoencoder</th><th>best run</th>",
    );
    for baseline in &ANOMALY_BASELINES {
        let _ = write!(html, "<th>{}</th>", baseline.label);
    }
    html.push_str("<th>autoencoder's rank</th></tr></thead><tbody>");
    for ((data, kind), group) in groups.iter().filter(|(_, g)| has_baselines(g)) {
        let aurocs: Vec<f64> = group.iter().map(|g| g.1).collect();
        let autoencoder = mean_and_std(&aurocs).0.unwrap_or(f64::NAN);
        let best = aurocs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{kind}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td>",
            escape(data),
            group.len(),
            number(autoencoder),
            number(best),
        );
        let mut rank = 1;
        let mut ahead = Vec::new();
        for baseline in &ANOMALY_BASELINES {
            let values: Vec<f64> = group
                .iter()
                .filter_map(|(r, _)| r.result.metrics.get(baseline.auroc).copied())
                .collect();
            match mean_and_std(&values).0 {
                Some(mean) => {
                    if mean > autoencoder {
                        rank += 1;
                        ahead.push(baseline.label);
                    }
                    let _ = write!(html, "<td class=\"num\">{}</td>", number(mean));
                }
                None => html.push_str("<td>not measured</td>"),
            }
        }
        let behind = if ahead.is_empty() {
            "ahead of all three".to_string()
        } else {
            format!("behind {}", ahead.join(", "))
        };
        let _ = write!(
            html,
            "<td>{rank} of {} ({behind})</td></tr>",
            ANOMALY_BASELINES.len() + 1
        );
    }
    html.push_str("</tbody></table>");
}

/// Reads a run's `baselines_roc.csv` into one curve per detector; empty when it is missing
/// or malformed.
fn read_baseline_rocs(path: &std::path::Path) -> BTreeMap<String, Vec<(f64, f64)>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    let mut curves: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        let (Some(name), Some(x), Some(y)) = (fields.next(), fields.next(), fields.next()) else {
            return BTreeMap::new();
        };
        let (Ok(x), Ok(y)) = (x.parse(), y.parse()) else {
            return BTreeMap::new();
        };
        curves.entry(name.to_string()).or_default().push((x, y));
    }
    curves
}

/// Reads a run's `roc.csv`; `None` when it is missing or malformed.
fn read_roc(path: &std::path::Path) -> Option<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .skip(1)
        .map(|line| {
            let (x, y) = line.split_once(',')?;
            Some((x.parse().ok()?, y.parse().ok()?))
        })
        .collect()
}

/// At most [`ROC_POINTS`] points of a curve, evenly spaced along it, first and last kept.
fn thinned(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= ROC_POINTS {
        return points;
    }
    let last = points.len() - 1;
    (0..ROC_POINTS)
        .map(|k| points[k * last / (ROC_POINTS - 1)])
        .collect()
}

/// PSNR against bytes per example: each kind's stored codes (8-bit, or a VQ-VAE's packed
/// entry indices), PCA at the same bytes, and JPEG where it fits, with the table of the same
/// figures.
pub(crate) fn rate_distortion(html: &mut String, records: &[RunRecord]) -> Result<(), ReportError> {
    let completed: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.result.status == RunStatus::Completed)
        .filter(|r| r.result.metrics.contains_key(metric::QUANTIZED_PSNR_DB))
        .collect();
    if completed.is_empty() {
        return Ok(());
    }
    // Recorded since the VQ-VAE; before it, every code was 8-bit: `latent` bytes.
    let bytes = |r: &RunRecord| {
        (r.result.metrics.get(metric::CODE_BYTES).copied())
            .unwrap_or(r.result.config.latent() as f64)
    };
    let points = |metric: &str, runs: &mut dyn Iterator<Item = &&RunRecord>| {
        let mut points: Vec<(f64, f64)> = runs
            .filter_map(|r| Some((bytes(r), *r.result.metrics.get(metric)?)))
            .collect();
        means_by_x(&mut points)
    };
    let mut kinds: Vec<&str> = completed
        .iter()
        .map(|r| r.result.config.model_kind())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut series: Vec<Series> = kinds
        .iter()
        .map(|&kind| {
            let stored = if kind == ModelKind::Vqvae.name() {
                "entry indices"
            } else {
                "8-bit code"
            };
            Series::new(
                format!("{kind} ({stored})"),
                points(
                    metric::QUANTIZED_PSNR_DB,
                    &mut completed
                        .iter()
                        .filter(|r| r.result.config.model_kind() == kind),
                ),
            )
        })
        .collect();
    series.push(Series::new(
        "PCA (8-bit coefficients)",
        points(metric::PCA_PSNR_DB, &mut completed.iter()),
    ));
    let mut jpeg: Vec<(f64, f64)> = completed
        .iter()
        .filter_map(|r| {
            let m = &r.result.metrics;
            Some((*m.get(metric::JPEG_BYTES)?, *m.get(metric::JPEG_PSNR_DB)?))
        })
        .collect();
    jpeg.sort_by(|a, b| a.0.total_cmp(&b.0));
    jpeg.dedup();
    if !jpeg.is_empty() {
        series.push(Series::new("JPEG (entropy-coded bytes)", jpeg));
    }
    let svg = plot::overlaid(
        "rate–distortion",
        ("bytes per example", "PSNR (dB)"),
        &series,
        true,
        Style::LinesAndDots,
    )?;
    let _ = write!(
        html,
        "<section id=\"compression\"><h2>Compression</h2><p>PSNR of test reconstructions against \
         the bytes that encode one example: the code at 8 bits per dimension (a VQ-VAE's entry \
         indices at log2 of its codebook size bits each), PCA with as many components as the \
         code has bytes (coefficients at 8 bits), and JPEG at the highest quality that fits in \
         as many entropy-coded bytes (headers left out, in JPEG's favour).</p>\
         <figure>{svg}<figcaption>rate–distortion, mean over seeds</figcaption></figure>\
         <table id=\"rate-distortion\"><thead><tr><th>run</th><th>kind</th><th>bytes</th>\
         <th>ratio</th><th>code dB</th><th>PCA dB</th><th>JPEG dB (quality, bytes)</th></tr>\
         </thead><tbody>"
    );
    let mut rows = completed.clone();
    rows.sort_by(|a, b| bytes(a).total_cmp(&bytes(b)));
    for run in rows {
        let m = &run.result.metrics;
        let cell = |name: &str| m.get(name).map_or(String::new(), |&v| number(v));
        let jpeg = match m.get(metric::JPEG_PSNR_DB) {
            Some(&db) => format!(
                "{} (q{}, {} B)",
                number(db),
                cell(metric::JPEG_QUALITY),
                cell(metric::JPEG_BYTES)
            ),
            None => "does not fit".into(),
        };
        let _ = write!(
            html,
            "<tr><td>{id}</td><td>{kind}</td><td class=\"num\">{bytes}</td>\
             <td class=\"num\">{ratio}</td><td class=\"num\">{code}</td>\
             <td class=\"num\">{pca}</td><td class=\"num\">{jpeg}</td></tr>",
            id = escape(run.result.id.as_str()),
            kind = run.result.config.model_kind(),
            bytes = number(bytes(run)),
            ratio = cell(metric::COMPRESSION_RATIO),
            code = cell(metric::QUANTIZED_PSNR_DB),
            pca = cell(metric::PCA_PSNR_DB),
        );
    }
    html.push_str("</tbody></table></section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_the_ends_and_at_most_the_limit() {
        let curve: Vec<(f64, f64)> = (0..=1000).map(|i| (i as f64 / 1000.0, 1.0)).collect();
        let thin = thinned(curve);
        assert_eq!(thin.len(), ROC_POINTS);
        assert_eq!((thin[0].0, thin[ROC_POINTS - 1].0), (0.0, 1.0));
        assert!(thin.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
