//! The result of a multi-objective search (`strategy = "nsga2"`): its Pareto front, the
//! completed runs that no other run beats on every objective. Drawn over the first two
//! objectives (the front marked, the other runs faded), listed as a table, and measured by its
//! hypervolume against a stated reference point.

use std::fmt::Write as _;

use hourglass_search::nsga2::{fronts, hypervolume_2d};
use hourglass_spec::result::RunStatus;
use hourglass_spec::{Direction, Objective};

use crate::html::escape;
use crate::plot::{self, Series, Style};
use crate::table::number;
use crate::{ReportError, RunRecord};

/// Writes the section when the sweep searched two or more `objectives` and at least two
/// completed runs measured them all.
pub(crate) fn section(
    html: &mut String,
    records: &[RunRecord],
    objectives: &[Objective],
) -> Result<(), ReportError> {
    if objectives.len() < 2 {
        return Ok(());
    }
    // (record, its objectives as written), for the completed runs that measured every one.
    let runs: Vec<(&RunRecord, Vec<f64>)> = (records.iter())
        .filter(|r| r.result.status == RunStatus::Completed)
        .filter_map(|r| {
            let values = (objectives.iter())
                .map(|o| r.result.metrics.get(&o.metric).copied())
                .collect::<Option<Vec<f64>>>()?;
            values.iter().all(|v| v.is_finite()).then_some((r, values))
        })
        .collect();
    if runs.len() < 2 {
        return Ok(());
    }
    // Every objective minimised, as the search saw them.
    let minimised: Vec<Vec<f64>> = (runs.iter())
        .map(|(_, values)| {
            (values.iter().zip(objectives))
                .map(|(&v, o)| match o.goal {
                    Direction::Minimize => v,
                    Direction::Maximize => -v,
                })
                .collect()
        })
        .collect();
    let points: Vec<&[f64]> = minimised.iter().map(Vec::as_slice).collect();
    let mut front = fronts(&points).into_iter().next().unwrap_or_default();
    front.sort_by(|&a, &b| runs[a].1[0].total_cmp(&runs[b].1[0]));

    let (x, y) = (&objectives[0].metric, &objectives[1].metric);
    let pair = |i: usize| (runs[i].1[0], runs[i].1[1]);
    let others: Vec<(f64, f64)> = (0..runs.len())
        .filter(|i| !front.contains(i))
        .map(pair)
        .collect();
    let series = [
        Series::new("other runs", others)
            .drawn_as(Style::Dots)
            .faded(),
        Series::new("Pareto front", front.iter().map(|&i| pair(i)).collect()),
    ];
    let svg = plot::overlaid("Pareto front", (x, y), &series, false, Style::LinesAndDots)?;

    // Hypervolume of the first two objectives, minimised, against the nadir of the runs moved
    // out by a tenth of each objective's range (Optuna's habit for an unstated reference).
    let reference = [0, 1].map(|k| {
        let values = minimised.iter().map(|m| m[k]);
        let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        high + 0.1 * (high - low).max(f64::MIN_POSITIVE)
    });
    let front_points: Vec<[f64; 2]> = front
        .iter()
        .map(|&i| [minimised[i][0], minimised[i][1]])
        .collect();
    let hypervolume = hypervolume_2d(&front_points, reference);
    let shown_reference = |k: usize| match objectives[k].goal {
        Direction::Minimize => reference[k],
        Direction::Maximize => -reference[k],
    };

    let header: String = (objectives.iter())
        .map(|o| format!("<th>{} ({})</th>", escape(&o.metric), o.goal.verb()))
        .collect();
    let rows: String = (front.iter())
        .map(|&i| {
            let (record, values) = &runs[i];
            let cells: String = (values.iter())
                .map(|&v| format!("<td class=\"num\">{}</td>", number(v)))
                .collect();
            format!(
                "<tr><td><code>{}</code></td>{cells}</tr>",
                escape(record.result.id.as_str())
            )
        })
        .collect();
    let _ = writeln!(
        html,
        "<section id=\"pareto\"><h2>Pareto front</h2>\
         <p>{front} of {all} completed runs are on the front: no other run is as good on every \
         objective and better on one. Hypervolume of the front over <code>{xe}</code> and \
         <code>{ye}</code> (both minimised, the area they dominate up to the reference point \
         ({rx}, {ry}), the worst value of each objective over the runs plus a tenth of its \
         range): <strong id=\"hypervolume\">{hv}</strong>.</p>\
         <div class=\"curves\"><figure>{svg}<figcaption>each completed run by <code>{xe}</code> \
         and <code>{ye}</code>; the front joined, the other runs faded</figcaption></figure>\
         </div><table id=\"front\"><thead><tr><th>run</th>{header}</tr></thead><tbody>{rows}\
         </tbody></table></section>",
        front = front.len(),
        all = runs.len(),
        xe = escape(x),
        ye = escape(y),
        rx = number(shown_reference(0)),
        ry = number(shown_reference(1)),
        hv = number(hypervolume),
    );
    Ok(())
}
