//! What a sweep shows while it runs: indicatif bars on a terminal (the sweep's runs done,
//! running, failed and pruned with an ETA, and one bar per running run with its epoch and
//! loss), one plain line per event otherwise. Either way the sweep's results table and report
//! are rewritten after each finished run, so they can be read while the sweep goes on.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use hourglass_orchestrator::{Ended, SweepProgress};
use hourglass_report::{Coverage, References};
use hourglass_spec::result::{EpochRecord, RunResult, RunStatus, metric};
use hourglass_spec::{PrimaryMetric, RunSpec};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The display of one sweep.
pub struct SweepDisplay<'a> {
    root: &'a Path,
    references: &'a References,
    /// What each finished run's line reports first.
    primary: &'a PrimaryMetric,
    bars: Option<Bars>,
    running: usize,
    /// Runs ended, by how (only `failed` and `pruned` are shown).
    ended: Ended,
}

/// The terminal's bars.
struct Bars {
    multi: MultiProgress,
    sweep: ProgressBar,
    runs: HashMap<String, ProgressBar>,
}

impl<'a> SweepDisplay<'a> {
    /// The display of the sweep in `root` of `total` runs: bars when stderr is a terminal.
    pub fn new(
        root: &'a Path,
        total: usize,
        references: &'a References,
        primary: &'a PrimaryMetric,
    ) -> Self {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let sweep = multi.add(ProgressBar::new(total as u64));
            sweep.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} runs · {msg} · ETA {eta}",
                )
                .expect("the template is valid")
                .progress_chars("=> "),
            );
            sweep.enable_steady_tick(Duration::from_millis(200));
            Bars {
                multi,
                sweep,
                runs: HashMap::new(),
            }
        });
        Self {
            root,
            references,
            primary,
            bars,
            running: 0,
            ended: Ended::default(),
        }
    }

    /// Prints `line` above the bars, or on its own.
    fn say(&self, line: String) {
        match &self.bars {
            Some(bars) => bars.multi.println(line).unwrap_or_default(),
            None => println!("{line}"),
        }
    }

    fn update_counts(&self) {
        if let Some(bars) = &self.bars {
            bars.sweep.set_message(format!(
                "{} running · {} failed · {} pruned",
                self.running, self.ended.failed, self.ended.pruned
            ));
        }
    }

    /// Clears the bars once the sweep is over.
    pub fn finish(&self) {
        if let Some(bars) = &self.bars {
            bars.sweep.finish_and_clear();
        }
    }
}

impl SweepProgress for SweepDisplay<'_> {
    fn run_skipped(&mut self, run: &RunSpec, result: &RunResult) {
        self.ended.count(result.status);
        let hint = if result.status == RunStatus::Failed {
            " (--retry-failed trains it again)"
        } else {
            ""
        };
        self.say(format!(
            "{} already {}, skipped{hint}",
            run.id,
            result.status.name()
        ));
        if let Some(bars) = &self.bars {
            bars.sweep.inc(1);
            // Skipped runs took no time: leave them out of the ETA.
            bars.sweep.reset_eta();
        }
        self.update_counts();
    }

    fn run_started(&mut self, run: &RunSpec, index: usize, total: usize) {
        self.running += 1;
        self.update_counts();
        let line = format!("[{}/{total}] {}", index + 1, run.summary());
        let Some(bars) = &mut self.bars else {
            return println!("{line}");
        };
        bars.multi.println(line).unwrap_or_default();
        let bar = bars
            .multi
            .add(ProgressBar::new(run.config.train.epochs as u64));
        bar.set_style(
            ProgressStyle::with_template("  {prefix} [{bar:20}] epoch {pos}/{len} {msg}")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(run.id.to_string());
        bars.runs.insert(run.id.to_string(), bar);
    }

    fn epoch_ended(&mut self, run: &RunSpec, record: &EpochRecord, _epochs: usize) {
        if let Some(bar) = self
            .bars
            .as_ref()
            .and_then(|bars| bars.runs.get(run.id.as_str()))
        {
            bar.set_position(record.epoch as u64);
            let validation = record
                .val_loss
                .map(|v| format!(" · val_loss {v:.5}"))
                .unwrap_or_default();
            bar.set_message(format!("loss {:.5}{validation}", record.train_loss));
        }
    }

    fn run_finished(&mut self, run: &RunSpec, result: &RunResult) {
        self.running = self.running.saturating_sub(1);
        self.ended.count(result.status);
        if let Some(bars) = &mut self.bars {
            if let Some(bar) = bars.runs.remove(run.id.as_str()) {
                bar.finish_and_clear();
                bars.multi.remove(&bar);
            }
            bars.sweep.inc(1);
        }
        self.update_counts();
        self.say(outcome(run, result, self.primary));
        // A report failure is reported but does not undo or fail the training that finished.
        if let Err(error) =
            hourglass_report::write_report(self.root, self.references, Coverage::Current)
        {
            self.say(format!("warning: report not updated: {error}"));
        }
    }

    fn stopping(&mut self, running: usize) {
        self.say(format!(
            "interrupted: starting no more runs; waiting for {running} running to finish \
             (interrupt again to stop them now: they are trained again on resume)"
        ));
    }

    fn configuration_refused(&mut self, reason: &str) {
        self.say(format!(
            "warning: the search proposed a {reason}; it is left out of the search"
        ));
    }

    fn cancelled(&mut self, tasks: usize) {
        self.say(format!(
            "interrupted: cancelled {tasks} Slurm tasks; their runs are trained again on resume"
        ));
    }
}

/// One line on how a run ended: a completed run's primary metric, and its `test_mse`.
fn outcome(run: &RunSpec, result: &RunResult, primary: &PrimaryMetric) -> String {
    let first_line = |text: &str| text.lines().next().unwrap_or_default().to_string();
    match (result.status, &result.error) {
        (RunStatus::Completed, _) => {
            let shown: Vec<String> = [primary.name.as_str(), metric::TEST_MSE]
                .iter()
                .enumerate()
                .filter(|&(i, name)| i == 0 || *name != primary.name)
                .filter_map(|(_, name)| Some(format!("{name} {:.5}", result.metrics.get(*name)?)))
                .collect();
            if shown.is_empty() {
                format!("{} completed", run.id)
            } else {
                format!("{} completed: {}", run.id, shown.join(", "))
            }
        }
        (status, Some(reason)) => format!("{} {}: {}", run.id, status.name(), first_line(reason)),
        (status, None) => format!("{} {}", run.id, status.name()),
    }
}
