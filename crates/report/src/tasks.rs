//! The sections of the evaluation tasks: ROC curves of anomaly detectors and the
//! rate–distortion of codes against the PCA and JPEG baselines.

use std::fmt::Write as _;

use hourglass_spec::result::{ROC_FILE, RunStatus, metric};

use crate::html::{escape, means_by_x, varied_labels};
use crate::plot::{self, Series, Style};
use crate::table::{ResultsTable, number};
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
    let series: Vec<Series> = ranked
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
    if !series.is_empty() {
        let svg = plot::overlaid(
            "ROC",
            ("false positive rate", "true positive rate"),
            &series,
            false,
            Style::Lines,
        )?;
        let _ = write!(
            html,
            "<figure>{svg}<figcaption>ROC curves of the {} runs with the highest AUROC</figcaption></figure>",
            series.len()
        );
    }
    html.push_str("</section>\n");
    Ok(())
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

/// PSNR against bytes per example: each kind's 8-bit codes, PCA at the same bytes, and JPEG
/// where it fits, with the table of the same figures.
pub(crate) fn rate_distortion(html: &mut String, records: &[RunRecord]) -> Result<(), ReportError> {
    let completed: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.result.status == RunStatus::Completed)
        .filter(|r| r.result.metrics.contains_key(metric::QUANTIZED_PSNR_DB))
        .collect();
    if completed.is_empty() {
        return Ok(());
    }
    // An 8-bit code of `latent` dimensions takes `latent` bytes.
    let bytes = |r: &RunRecord| r.result.config.latent() as f64;
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
            Series::new(
                format!("{kind} (8-bit code)"),
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
         the bytes that encode one example: the code at 8 bits per dimension, PCA with as many \
         components (coefficients at 8 bits), and JPEG at the highest quality that fits in as \
         many entropy-coded bytes (headers left out, in JPEG's favour).</p>\
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
