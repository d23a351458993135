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
    /// How this series is drawn, when not as the plot's other series are.
    pub style: Option<Style>,
    /// Drawn pale, behind the series that matter.
    pub faded: bool,
}

impl Series {
    /// A series of `points` alone.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            points,
            spread: Vec::new(),
            dashed: Vec::new(),
            style: None,
            faded: false,
        }
    }

    /// This series drawn pale.
    pub fn faded(self) -> Self {
        Self {
            faded: true,
            ..self
        }
    }

    /// This series drawn in `style` whatever the plot's style.
    pub fn drawn_as(self, style: Style) -> Self {
        Self {
            style: Some(style),
            ..self
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
                    let colour = Palette99::pick(i).mix(if line.faded { 0.3 } else { 1.0 });
                    let style = line.style.unwrap_or(style);
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

/// One axis of a parallel-coordinates plot.
pub(crate) struct ParallelAxis {
    /// Its name, above it.
    pub name: String,
    /// Labels beside it at heights in [0, 1].
    pub ticks: Vec<(f64, String)>,
}

/// One line of a parallel-coordinates plot.
pub(crate) struct ParallelLine {
    /// Its height on each axis, in [0, 1]; `None` draws it at the foot, below the axis.
    pub heights: Vec<Option<f64>>,
    /// Its colour's place on the colour map, in [0, 1]: 1 the brightest.
    pub shade: f64,
}

/// A parallel-coordinates plot: one vertical axis per entry of `axes`, each line a polyline
/// across them coloured on the viridis map by its shade, drawn in the order given (the last
/// on top), fainter when there are many.
pub(crate) fn parallel_coordinates(
    title: &str,
    axes: &[ParallelAxis],
    lines: &[ParallelLine],
) -> Result<String, ReportError> {
    let failed = |e: &dyn std::fmt::Display| ReportError::Plot {
        what: title.to_string(),
        message: e.to_string(),
    };
    // Below every axis: where a line with no value on it passes.
    const FOOT: f64 = -0.08;
    let width = (160 * axes.len() as u32).max(SIZE.0);
    let last = axes.len().saturating_sub(1) as f64;
    let opacity = if lines.len() > 100 { 0.35 } else { 0.8 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, SIZE.1 + 40)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(20)
            .build_cartesian_2d(-0.2..last + 0.6, (FOOT - 0.06)..1.14)
            .map_err(|e| failed(&e))?;
        for line in lines {
            let colour = ViridisRGB.get_color(line.shade.clamp(0.0, 1.0) as f32);
            let points: Vec<(f64, f64)> = (line.heights.iter().enumerate())
                .map(|(axis, height)| (axis as f64, height.unwrap_or(FOOT)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, colour.mix(opacity).stroke_width(1)))
                .map_err(|e| failed(&e))?;
        }
        let label = ("sans-serif", 13).into_font().color(&BLACK);
        let name = ("sans-serif", 14).into_font().color(&BLACK);
        for (at, axis) in axes.iter().enumerate() {
            let x = at as f64;
            chart
                .draw_series(LineSeries::new([(x, 0.0), (x, 1.0)], BLACK.stroke_width(2)))
                .map_err(|e| failed(&e))?;
            // Names alternate between two heights, so long neighbours do not overlap.
            let height = if at % 2 == 0 { 1.04 } else { 1.1 };
            chart
                .draw_series(std::iter::once(Text::new(
                    axis.name.clone(),
                    (x - 0.15, height),
                    name.clone(),
                )))
                .map_err(|e| failed(&e))?;
            let ticks = (axis.ticks.iter())
                .map(|(height, text)| Text::new(text.clone(), (x + 0.03, *height), label.clone()));
            chart.draw_series(ticks).map_err(|e| failed(&e))?;
        }
        root.present().map_err(|e| failed(&e))?;
    }
    Ok(svg)
}

/// Horizontal bars of `values` (each in [0, 1]), one per label, the first at the top.
pub(crate) fn bars(
    title: &str,
    x_desc: &str,
    bars: &[(String, f64)],
) -> Result<String, ReportError> {
    let failed = |e: &dyn std::fmt::Display| ReportError::Plot {
        what: title.to_string(),
        message: e.to_string(),
    };
    let count = bars.len();
    let height = (40 + 30 * count as u32).max(160) + 80;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (SIZE.0, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(200)
            .build_cartesian_2d(0.0..1.0, (0..count).into_segmented())
            .map_err(|e| failed(&e))?;
        // The first bar at the top: segment i holds bar count − 1 − i.
        let name_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < count => bars[count - 1 - i].0.clone(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(x_desc)
            .y_labels(count)
            .y_label_formatter(&name_of)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(|e| failed(&e))?;
        let colour = Palette99::pick(0).to_rgba();
        chart
            .draw_series((bars.iter().enumerate()).map(|(i, (_, value))| {
                let at = count - 1 - i;
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(at)),
                        (value.clamp(0.0, 1.0), SegmentValue::Exact(at + 1)),
                    ],
                    colour.filled(),
                )
            }))
            .map_err(|e| failed(&e))?;
        root.present().map_err(|e| failed(&e))?;
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
