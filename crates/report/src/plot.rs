//! Plots as SVG strings (plotters' SVG backend writes text as `<text>`, so no fonts are read).

use hourglass_spec::result::EpochRecord;
use plotters::prelude::*;

use crate::ReportError;

/// Size of a loss-curve plot, in pixels.
const SIZE: (u32, u32) = (460, 280);

/// Training and validation loss against the epoch.
pub(crate) fn loss_curves(title: &str, epochs: &[EpochRecord]) -> Result<String, ReportError> {
    let failed = |e: &dyn std::fmt::Display| ReportError::Plot {
        what: format!("loss curves of {title}"),
        message: e.to_string(),
    };
    let train: Vec<(f64, f64)> = epochs
        .iter()
        .map(|e| (e.epoch as f64, e.train_loss))
        .collect();
    let validation: Vec<(f64, f64)> = epochs
        .iter()
        .filter_map(|e| e.val_loss.map(|v| (e.epoch as f64, v)))
        .collect();
    let values = train
        .iter()
        .chain(&validation)
        .map(|p| p.1)
        .filter(|v| v.is_finite());
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (low, high) = if low.is_finite() {
        (low, high)
    } else {
        (0.0, 1.0)
    };
    let pad = ((high - low) * 0.05).max(high.abs() * 1e-3).max(1e-9);
    let last_epoch = epochs.last().map_or(1, |e| e.epoch).max(2) as f64;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(64)
            .build_cartesian_2d(1.0..last_epoch, (low - pad)..(high + pad))
            .map_err(|e| failed(&e))?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .y_label_formatter(&|v| format!("{v:.4}"))
            .draw()
            .map_err(|e| failed(&e))?;
        for (points, colour, label) in [(&train, BLUE, "train"), (&validation, RED, "validation")] {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| failed(&e))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}
