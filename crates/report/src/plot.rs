//! Plots as SVG strings (plotters' SVG backend writes text as `<text>`, so no fonts are read).

use plotters::prelude::*;

use crate::ReportError;

/// Size of a plot, in pixels.
const SIZE: (u32, u32) = (460, 280);

/// One line of an overlaid plot.
pub(crate) struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points in x order.
    pub points: Vec<(f64, f64)>,
}

/// How an overlaid plot draws each series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Lines through the points.
    Lines,
    /// Lines, and a dot on each point.
    LinesAndDots,
    /// Dots only (a scatter plot).
    Dots,
}

/// Most lines an overlaid plot labels in its legend; more are drawn without labels.
const LEGEND_LIMIT: usize = 10;

/// Several lines on one chart (`log_x` for a log-scaled x axis); the legend lists at most
/// [`LEGEND_LIMIT`] of them.
pub(crate) fn overlaid(
    title: &str,
    (x_desc, y_desc): (&str, &str),
    series: &[Series],
    log_x: bool,
    style: Style,
) -> Result<String, ReportError> {
    let failed = |e: &dyn std::fmt::Display| ReportError::Plot {
        what: title.to_string(),
        message: e.to_string(),
    };
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0))
    };
    let range = |values: &mut dyn Iterator<Item = f64>| {
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if low.is_finite() {
            (low, high)
        } else {
            (0.0, 1.0)
        }
    };
    let (x_low, x_high) = range(&mut points().map(|p| p.0));
    let (y_low, y_high) = range(&mut points().map(|p| p.1));
    let y_pad = ((y_high - y_low) * 0.05).max(y_high.abs() * 1e-3).max(1e-9);
    let y_range = (y_low - y_pad)..(y_high + y_pad);
    let legend_at = legend_corner(points(), (x_low + x_high) / 2.0, (y_low + y_high) / 2.0);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(32)
            .y_label_area_size(64);
        let labelled = series.len() <= LEGEND_LIMIT;
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart.map_err(|e| failed(&e))?;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .y_label_formatter(&|v| format!("{v:.4}"))
                    .draw()
                    .map_err(|e| failed(&e))?;
                for (i, line) in series.iter().enumerate() {
                    let colour = Palette99::pick(i).to_rgba();
                    let valid =
                        line.points.iter().copied().filter(|(x, y)| {
                            x.is_finite() && y.is_finite() && (!log_x || *x > 0.0)
                        });
                    let drawn = if style == Style::Dots {
                        chart.draw_series(valid.clone().map(|p| Circle::new(p, 2, colour.filled())))
                    } else {
                        chart.draw_series(LineSeries::new(valid.clone(), colour.stroke_width(2)))
                    }
                    .map_err(|e| failed(&e))?;
                    if labelled {
                        drawn.label(line.label.clone()).legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
                        });
                    }
                    if style == Style::LinesAndDots {
                        chart
                            .draw_series(valid.map(|p| Circle::new(p, 3, colour.filled())))
                            .map_err(|e| failed(&e))?;
                    }
                }
                if labelled {
                    chart
                        .configure_series_labels()
                        .position(legend_at.clone())
                        .background_style(WHITE.mix(0.8))
                        .border_style(BLACK)
                        .draw()
                        .map_err(|e| failed(&e))?;
                }
            }};
        }
        if log_x {
            draw!(
                builder
                    .build_cartesian_2d((x_low * 0.8..x_high * 1.25).log_scale(), y_range.clone())
            );
        } else {
            let span = x_high - x_low;
            let x_pad = if span > 0.0 { span * 0.05 } else { 0.5 };
            draw!(builder.build_cartesian_2d((x_low - x_pad)..(x_high + x_pad), y_range.clone()));
        }
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

/// The right-hand corner for the legend with fewer points behind it: upper right, unless the
/// curves rise into it (ROC curves, rate–distortion) and the lower right is emptier.
/// `(x_middle, y_middle)` splits the data's range in four; a log-scaled x splits it the same way,
/// which is close enough to choose a corner.
fn legend_corner(
    points: impl Iterator<Item = (f64, f64)>,
    x_middle: f64,
    y_middle: f64,
) -> SeriesLabelPosition {
    let (mut upper, mut lower) = (0usize, 0usize);
    for (_, y) in points.filter(|&(x, _)| x > x_middle) {
        if y > y_middle {
            upper += 1;
        } else {
            lower += 1;
        }
    }
    if lower < upper {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legend_goes_where_the_curves_are_not() {
        let rising = [(0.0, 0.0), (0.6, 0.9), (0.8, 1.0), (1.0, 1.0)];
        let falling = [(0.0, 1.0), (0.6, 0.2), (1.0, 0.1)];
        let corner = |points: &[(f64, f64)]| legend_corner(points.iter().copied(), 0.5, 0.5);
        assert!(matches!(corner(&rising), SeriesLabelPosition::LowerRight));
        assert!(matches!(corner(&falling), SeriesLabelPosition::UpperRight));
    }
}
