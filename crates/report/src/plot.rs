//! Plots as SVG strings (plotters' SVG backend writes text as `<text>`, so no fonts are read).

use plotters::prelude::*;

use crate::ReportError;

/// Size of a plot, in pixels: two side by side on a 1,300 px screen, half a page in print.
const SIZE: (u32, u32) = (600, 380);

/// One line (or set of dots) of an overlaid plot.
pub(crate) struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points in x order.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`: the spread over seeds at each point, drawn as a band around a line
    /// ([`Style::Lines`]) or as error bars on dots; empty when there is none.
    pub spread: Vec<(f64, f64, f64)>,
    /// Another line in the same colour, dashed (the training loss under the validation loss);
    /// empty when there is none.
    pub dashed: Vec<(f64, f64)>,
}

impl Series {
    /// A series of `points` alone.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            spread: Vec::new(),
            dashed: Vec::new(),
        }
    }
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

/// Most series an overlaid plot names in its legend; more are drawn without one.
const LEGEND_LIMIT: usize = 12;

/// Several series on one chart (`log_x` for a log-scaled x axis), as an SVG followed by an
/// HTML legend (outside the plot area, so it never hides data) when there are two to
/// [`LEGEND_LIMIT`] series. Axes whose values are all whole numbers get whole-number ticks.
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
    let valid = |(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!log_x || *x > 0.0);
    let points = || {
        series
            .iter()
            .flat_map(|s| {
                let spread = s
                    .spread
                    .iter()
                    .flat_map(|&(x, low, high)| [(x, low), (x, high)]);
                s.points
                    .iter()
                    .copied()
                    .chain(s.dashed.iter().copied())
                    .chain(spread)
            })
            .filter(valid)
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
    let x_ticks = Ticks {
        whole: points().all(|p| p.0.fract() == 0.0),
        span: x_high - x_low,
        log: log_x,
    };
    let y_ticks = Ticks {
        whole: points().all(|p| p.1.fract() == 0.0),
        span: y_range.end - y_range.start,
        log: false,
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(44)
            .y_label_area_size(72);
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart.map_err(|e| failed(&e))?;
                chart
                    .configure_mesh()
                    .x_desc(x_desc)
                    .y_desc(y_desc)
                    .label_style(("sans-serif", 14))
                    .axis_desc_style(("sans-serif", 15))
                    .x_label_formatter(&|v| x_ticks.label(*v))
                    .y_label_formatter(&|v| y_ticks.label(*v))
                    .draw()
                    .map_err(|e| failed(&e))?;
                for (i, line) in series.iter().enumerate() {
                    let colour = Palette99::pick(i).to_rgba();
                    let spread: Vec<(f64, f64, f64)> = (line.spread.iter().copied())
                        .filter(|&(x, low, high)| valid(&(x, low)) && valid(&(x, high)))
                        .collect();
                    if style != Style::Lines || spread.len() < 2 {
                        chart
                            .draw_series(spread.iter().map(|&(x, low, high)| {
                                ErrorBar::new_vertical(
                                    x,
                                    low,
                                    (low + high) / 2.0,
                                    high,
                                    colour.stroke_width(1),
                                    8,
                                )
                            }))
                            .map_err(|e| failed(&e))?;
                    } else {
                        let band: Vec<(f64, f64)> = (spread.iter().map(|&(x, _, high)| (x, high)))
                            .chain(spread.iter().rev().map(|&(x, low, _)| (x, low)))
                            .collect();
                        chart
                            .draw_series(std::iter::once(Polygon::new(
                                band,
                                colour.mix(0.18).filled(),
                            )))
                            .map_err(|e| failed(&e))?;
                    }
                    let dashed: Vec<(f64, f64)> =
                        line.dashed.iter().copied().filter(valid).collect();
                    if !dashed.is_empty() {
                        chart
                            .draw_series(DashedLineSeries::new(
                                dashed,
                                6,
                                4,
                                colour.stroke_width(2),
                            ))
                            .map_err(|e| failed(&e))?;
                    }
                    let shown: Vec<(f64, f64)> =
                        line.points.iter().copied().filter(valid).collect();
                    let dot = if style == Style::Dots { 2 } else { 4 };
                    if style != Style::Dots {
                        chart
                            .draw_series(LineSeries::new(shown.clone(), colour.stroke_width(2)))
                            .map_err(|e| failed(&e))?;
                    }
                    if style != Style::Lines {
                        chart
                            .draw_series(
                                shown.iter().map(|&p| Circle::new(p, dot, colour.filled())),
                            )
                            .map_err(|e| failed(&e))?;
                    }
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
    if (2..=LEGEND_LIMIT).contains(&series.len()) {
        svg.push_str(&legend(series));
    }
    Ok(svg)
}

/// The legend of `series` as an HTML list: a swatch of each series' colour and its label.
fn legend(series: &[Series]) -> String {
    let mut html = String::from("<ul class=\"legend\">");
    for (i, line) in series.iter().enumerate() {
        let (r, g, b) = Palette99::pick(i).to_rgba().rgb();
        html.push_str(&format!(
            "<li><span class=\"swatch\" style=\"background:rgb({r},{g},{b})\"></span>{}</li>",
            crate::html::escape(&line.label)
        ));
    }
    html.push_str("</ul>");
    html
}

/// How an axis labels its ticks.
#[derive(Debug, Clone, Copy)]
struct Ticks {
    /// Every value on the axis is a whole number (epochs, latent sizes): only whole ticks
    /// are labelled.
    whole: bool,
    /// The axis's span, which sets the decimals shown.
    span: f64,
    /// A log-scaled axis, whose ticks span decades.
    log: bool,
}

impl Ticks {
    /// The label of the tick at `v`: empty for a fractional tick on a whole-number axis; no
    /// more decimals than the span needs; scientific notation for tiny or huge values.
    fn label(self, v: f64) -> String {
        if self.whole && v.fract() != 0.0 {
            return String::new();
        }
        let magnitude = if self.log {
            v.abs()
        } else {
            self.span.abs().max(v.abs())
        };
        if v != 0.0 && (magnitude >= 1e6 || (self.log || self.span < 1e-3) && v.abs() < 1e-3) {
            return scientific(v);
        }
        let decimals = if self.whole || self.log {
            (-v.abs().log10().floor()).clamp(0.0, 6.0) as usize
        } else {
            (2.0 - self.span.log10().floor()).clamp(0.0, 8.0) as usize
        };
        let text = format!("{v:.decimals$}");
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
        if text == "-0" { "0".into() } else { text }
    }
}

/// `v` in scientific notation without trailing zeros in the mantissa: `1e-4`, `2.5e6`.
fn scientific(v: f64) -> String {
    let text = format!("{v:.2e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
    format!("{mantissa}e{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear(span: f64) -> Ticks {
        Ticks {
            whole: false,
            span,
            log: false,
        }
    }

    #[test]
    fn ticks_are_whole_on_whole_axes_and_as_precise_as_the_span_needs() {
        let epochs = Ticks {
            whole: true,
            span: 1.0,
            log: false,
        };
        assert_eq!(epochs.label(1.1), "");
        assert_eq!(epochs.label(2.0), "2");
        assert_eq!(linear(0.004).label(0.0123), "0.0123");
        assert_eq!(linear(0.004).label(-0.0), "0");
        assert_eq!(linear(30.0).label(12.5), "12.5");
        assert_eq!(linear(30.0).label(12.0), "12");
        assert_eq!(linear(1e-5).label(2e-5), "2e-5");
        let log = Ticks {
            whole: false,
            span: 0.01,
            log: true,
        };
        assert_eq!(log.label(1e-4), "1e-4");
        assert_eq!(log.label(0.01), "0.01");
    }

    #[test]
    fn a_plot_of_several_series_has_its_legend_outside_the_svg() {
        let series = [
            Series::new("latent=2", vec![(1.0, 0.5), (2.0, 0.25)]),
            Series::new("latent=8 <b>", vec![(1.0, 0.4), (2.0, 0.2)]),
        ];
        let html = overlaid("t", ("epoch", "loss"), &series, false, Style::Lines).unwrap();
        let (svg, legend) = html.split_at(html.find("<ul class=\"legend\">").unwrap());
        assert!(!svg.contains("latent=2"), "the SVG holds no legend");
        assert_eq!(legend.matches("<li>").count(), 2);
        assert!(legend.contains("latent=8 &lt;b&gt;"));
        // Whole epochs: no fractional tick is labelled.
        assert!(!svg.contains(">1.5<"), "{svg}");
    }
}
