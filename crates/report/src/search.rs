//! The views people read a sweep by, in every report: parallel coordinates of the swept
//! settings coloured by the primary metric, each setting's importance to it (permutation
//! importance of a random forest, `hourglass_metrics::importance`), and the optimisation
//! history, the metric of each run in the order the runs finished with the best so far.

use std::fmt::Write as _;

use hourglass_metrics::permutation_importance;
use hourglass_spec::PrimaryMetric;
use hourglass_spec::result::RunStatus;

use crate::html::escape;
use crate::plot::{self, ParallelAxis, ParallelLine, Series, Style};
use crate::table::{Cell, ResultsTable, number};
use crate::{ReportError, RunRecord};

/// Completed runs below which setting importances say more of chance than of the settings.
pub(crate) const IMPORTANCE_RUNS: usize = 10;
/// Most category names an axis labels.
const CATEGORY_LABELS: usize = 12;

/// How a swept setting's (or the metric's) values map onto an axis.
#[derive(Debug, Clone, PartialEq)]
enum Scale {
    /// Numbers, linearly between the least and the greatest.
    Linear(f64, f64),
    /// Positive numbers spanning two decades or more, by their logarithm.
    Log(f64, f64),
    /// Text, or numbers mixed with text: the distinct values, evenly spaced in order.
    Categories(Vec<String>),
}

impl Scale {
    /// The scale of `cells` (missing cells ignored).
    fn of(cells: &[&Cell]) -> Scale {
        let numbers: Option<Vec<f64>> = (cells.iter())
            .filter(|cell| !matches!(cell, Cell::Missing))
            .map(|cell| match cell {
                Cell::Number(x) => Some(*x),
                _ => None,
            })
            .collect();
        match numbers {
            Some(numbers) if !numbers.is_empty() => {
                let low = numbers.iter().copied().fold(f64::INFINITY, f64::min);
                let high = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                if low > 0.0 && high / low >= 100.0 {
                    Scale::Log(low, high)
                } else {
                    Scale::Linear(low, high)
                }
            }
            _ => {
                let mut names: Vec<String> = (cells.iter())
                    .filter(|cell| !matches!(cell, Cell::Missing))
                    .map(|cell| cell.text())
                    .collect();
                names.sort();
                names.dedup();
                Scale::Categories(names)
            }
        }
    }

    /// Where `cell` lies on the axis, in [0, 1]; `None` when it is missing.
    fn height(&self, cell: &Cell) -> Option<f64> {
        let within = |value: f64, low: f64, high: f64| {
            if high > low {
                (value - low) / (high - low)
            } else {
                0.5
            }
        };
        match (self, cell) {
            (_, Cell::Missing) => None,
            (Scale::Linear(low, high), Cell::Number(x)) => Some(within(*x, *low, *high)),
            (Scale::Log(low, high), Cell::Number(x)) => Some(within(x.ln(), low.ln(), high.ln())),
            (Scale::Categories(names), cell) => {
                let at = names.iter().position(|name| *name == cell.text())?;
                Some(if names.len() > 1 {
                    at as f64 / (names.len() - 1) as f64
                } else {
                    0.5
                })
            }
            // A number on a scale of numbers always matches an arm above.
            _ => None,
        }
    }

    /// The labels of the axis: its ends (and middle) for numbers, its categories.
    fn ticks(&self) -> Vec<(f64, String)> {
        match self {
            Scale::Linear(low, high) if high > low => vec![
                (0.0, number(*low)),
                (0.5, number((low + high) / 2.0)),
                (1.0, number(*high)),
            ],
            Scale::Linear(low, _) => vec![(0.5, number(*low))],
            Scale::Log(low, high) => vec![
                (0.0, number(*low)),
                (0.5, number((low * high).sqrt())),
                (1.0, number(*high)),
            ],
            Scale::Categories(names) => {
                let step = names.len().div_ceil(CATEGORY_LABELS).max(1);
                (names.iter().enumerate())
                    .step_by(step)
                    .map(|(at, name)| {
                        let height = if names.len() > 1 {
                            at as f64 / (names.len() - 1) as f64
                        } else {
                            0.5
                        };
                        (height, name.clone())
                    })
                    .collect()
            }
        }
    }

    /// The value a forest splits on: the number (its logarithm on a log scale), or the
    /// category's index; `None` when the cell is missing.
    fn feature(&self, cell: &Cell) -> Option<f64> {
        match (self, cell) {
            (_, Cell::Missing) => None,
            (Scale::Log(..), Cell::Number(x)) => Some(x.ln()),
            (Scale::Linear(..), Cell::Number(x)) => Some(*x),
            (Scale::Categories(names), cell) => {
                (names.iter().position(|name| *name == cell.text())).map(|at| at as f64)
            }
            _ => None,
        }
    }
}

/// The section of the three views; nothing when fewer than two runs completed with the
/// primary metric.
pub(crate) fn section(
    html: &mut String,
    records: &[RunRecord],
    table: &ResultsTable,
    primary: &PrimaryMetric,
) -> Result<(), ReportError> {
    let metric = primary.name.as_str();
    // (row of the table, the metric), for the completed runs that measured it.
    let runs: Vec<(usize, f64)> = (records.iter().enumerate())
        .filter(|(_, r)| r.result.status == RunStatus::Completed)
        .filter_map(|(i, r)| Some((i, *r.result.metrics.get(metric)?)))
        .filter(|(_, value)| value.is_finite())
        .collect();
    if runs.len() < 2 {
        return Ok(());
    }
    // A setting that takes one value wherever it applies (a codebook's size in a sweep of
    // kinds) says nothing its kind does not.
    let distinct = |column: usize| {
        let mut values: Vec<String> = (runs.iter())
            .map(|&(i, _)| &table.rows[i][column])
            .filter(|cell| !matches!(cell, Cell::Missing))
            .map(Cell::text)
            .collect();
        values.sort();
        values.dedup();
        values.len()
    };
    let settings: Vec<usize> = (2..2 + table.varied)
        .filter(|&column| table.columns[column] != "seed" && distinct(column) > 1)
        .collect();
    let scales: Vec<Scale> = (settings.iter())
        .map(|&column| {
            let cells: Vec<&Cell> = runs.iter().map(|&(i, _)| &table.rows[i][column]).collect();
            Scale::of(&cells)
        })
        .collect();
    let better = primary.direction.better_word();
    let mut figures = String::new();
    if !settings.is_empty() {
        let svg = parallel_coordinates(table, &runs, &settings, &scales, primary)?;
        let _ = write!(
            figures,
            "<figure class=\"wide\">{svg}<figcaption>parallel coordinates: one line per \
             completed run through its swept settings and <code>{m}</code> ({better} is \
             better); the brighter, the better, the best drawn last; a line below an axis has \
             no value there (a setting of another kind)</figcaption></figure>",
            m = escape(metric)
        );
    }
    if settings.len() >= 2 && runs.len() >= IMPORTANCE_RUNS {
        let shares = importance(table, &runs, &settings, &scales);
        let svg = plot::bars(
            &format!("importance for {metric}"),
            "share of the importance",
            &shares,
        )?;
        let rows: String = (shares.iter())
            .map(|(setting, share)| {
                format!(
                    "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                    escape(setting),
                    number(*share)
                )
            })
            .collect();
        let _ = write!(
            figures,
            "<figure>{svg}<figcaption>how much each swept setting matters to <code>{m}</code>: \
             permutation importance of a random forest fitted to the completed runs (the \
             growth of its out-of-bag squared error when the setting is shuffled, as shares \
             of the total; not Optuna's fANOVA)</figcaption><table id=\"importance\"><thead>\
             <tr><th>setting</th><th>share</th></tr></thead><tbody>{rows}</tbody></table>\
             </figure>",
            m = escape(metric)
        );
    }
    let svg = history(records, &runs, primary)?;
    let _ = write!(
        figures,
        "<figure>{svg}<figcaption>optimisation history: <code>{m}</code> of each completed run \
         in the order the runs finished (their result files' times), and the best so \
         far</figcaption></figure>",
        m = escape(metric)
    );
    let _ = writeln!(
        html,
        "<section id=\"search\"><h2>The search</h2><div class=\"curves\">{figures}</div>\
         </section>"
    );
    Ok(())
}

fn parallel_coordinates(
    table: &ResultsTable,
    runs: &[(usize, f64)],
    settings: &[usize],
    scales: &[Scale],
    primary: &PrimaryMetric,
) -> Result<String, ReportError> {
    let metric_cells: Vec<Cell> = runs.iter().map(|&(_, v)| Cell::Number(v)).collect();
    let metric_scale = Scale::of(&metric_cells.iter().collect::<Vec<_>>());
    let mut axes: Vec<ParallelAxis> = (settings.iter().zip(scales))
        .map(|(&column, scale)| ParallelAxis {
            name: table.columns[column].clone(),
            ticks: scale.ticks(),
        })
        .collect();
    axes.push(ParallelAxis {
        name: primary.name.clone(),
        ticks: metric_scale.ticks(),
    });
    let mut lines: Vec<ParallelLine> = (runs.iter().zip(&metric_cells))
        .map(|(&(i, _), metric)| {
            let height = metric_scale.height(metric).unwrap_or(0.5);
            let mut heights: Vec<Option<f64>> = (settings.iter().zip(scales))
                .map(|(&column, scale)| scale.height(&table.rows[i][column]))
                .collect();
            heights.push(Some(height));
            let shade = match primary.direction {
                hourglass_spec::Direction::Minimize => 1.0 - height,
                hourglass_spec::Direction::Maximize => height,
            };
            ParallelLine { heights, shade }
        })
        .collect();
    lines.sort_by(|a, b| a.shade.total_cmp(&b.shade));
    plot::parallel_coordinates("swept settings and the metric", &axes, &lines)
}

/// Each setting's share of the importance, the largest first.
fn importance(
    table: &ResultsTable,
    runs: &[(usize, f64)],
    settings: &[usize],
    scales: &[Scale],
) -> Vec<(String, f64)> {
    let mut features: Vec<Vec<f64>> = vec![Vec::with_capacity(settings.len()); runs.len()];
    for (&column, scale) in settings.iter().zip(scales) {
        let values: Vec<Option<f64>> = (runs.iter())
            .map(|&(i, _)| scale.feature(&table.rows[i][column]))
            .collect();
        // A missing value (a setting of another kind) sorts below every present one.
        let least = values.iter().flatten().copied().fold(0.0, f64::min);
        for (row, value) in features.iter_mut().zip(values) {
            row.push(value.unwrap_or(least - 1.0));
        }
    }
    let targets: Vec<f64> = runs.iter().map(|&(_, v)| v).collect();
    let shares = permutation_importance(&features, &targets, 0);
    let mut bars: Vec<(String, f64)> = (settings.iter().zip(shares))
        .map(|(&column, share)| (table.columns[column].clone(), share))
        .collect();
    bars.sort_by(|a, b| b.1.total_cmp(&a.1));
    bars
}

fn history(
    records: &[RunRecord],
    runs: &[(usize, f64)],
    primary: &PrimaryMetric,
) -> Result<String, ReportError> {
    let mut finished: Vec<(usize, f64)> = runs.to_vec();
    finished.sort_by_key(|&(i, _)| (records[i].finished, records[i].result.id.clone()));
    let each: Vec<(f64, f64)> = (finished.iter().enumerate())
        .map(|(order, &(_, value))| ((order + 1) as f64, value))
        .collect();
    let mut best_so_far = Vec::with_capacity(each.len());
    for &(x, value) in &each {
        let best = match best_so_far.last() {
            Some(&(_, best)) if !primary.direction.better(value, best) => best,
            _ => value,
        };
        best_so_far.push((x, best));
    }
    let series = [
        Series::new("each run", each).drawn_as(Style::Dots),
        Series::new("best so far", best_so_far),
    ];
    plot::overlaid(
        "optimisation history",
        ("run, in the order finished", &primary.name),
        &series,
        false,
        Style::Lines,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_spanning_decades_take_a_log_axis_and_text_takes_categories() {
        let cells = [Cell::Number(1e-4), Cell::Number(1e-2), Cell::Missing];
        let scale = Scale::of(&cells.iter().collect::<Vec<_>>());
        assert_eq!(scale, Scale::Log(1e-4, 1e-2));
        assert!((scale.height(&Cell::Number(1e-3)).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(scale.height(&Cell::Missing), None);

        let cells = [
            Cell::Text("relu".into()),
            Cell::Number(2.0),
            Cell::Text("tanh".into()),
        ];
        let scale = Scale::of(&cells.iter().collect::<Vec<_>>());
        assert_eq!(
            scale,
            Scale::Categories(vec!["2".into(), "relu".into(), "tanh".into()])
        );
        assert_eq!(scale.height(&Cell::Text("tanh".into())), Some(1.0));
        assert_eq!(scale.feature(&Cell::Text("relu".into())), Some(1.0));

        let cells = [Cell::Number(8.0), Cell::Number(32.0)];
        let scale = Scale::of(&cells.iter().collect::<Vec<_>>());
        assert_eq!(scale, Scale::Linear(8.0, 32.0));
        assert_eq!(scale.height(&Cell::Number(14.0)), Some(0.25));
    }
}
