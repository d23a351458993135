//! Tests of collecting saved runs and writing the table and page, on a fixed fixture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hourglass_spec::result::{EpochRecord, RecordedConfig, RunResult, RunStatus};
use hourglass_spec::sweep_record::SweepRecord;
use hourglass_spec::{Backend, Catalog, PrimaryMetric};

use super::*;

/// The experiment of an MNIST spec.
fn parse_spec(source: &str) -> hourglass_spec::Experiment {
    let catalog = Catalog {
        datasets: [("mnist".into(), vec![1, 28, 28])].into(),
        backends: vec![Backend::Flex],
        ..Default::default()
    };
    hourglass_spec::parse(Path::new("spec.toml"), source, &catalog).unwrap()
}

/// Writes `result` as `run_dir/result.json`.
fn write_result(run_dir: &Path, result: &RunResult) {
    hourglass_spec::result::write(run_dir, result).unwrap();
}

/// Writes a sweep of three runs (latent 2, 8 and 32; the last one failed) into `dir`.
fn write_fixture(dir: &Path) {
    let source = "[experiment]\nname = \"fixture\"\n[data]\ndataset = \"mnist\"\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 8, 32]\n";
    let experiment = parse_spec(source);
    SweepRecord::of(&experiment).write(dir).unwrap();
    for (i, run) in experiment.runs.iter().enumerate() {
        let run_dir = dir.join("runs").join(run.id.as_str());
        std::fs::create_dir_all(&run_dir).unwrap();
        let failed = i == 2;
        let metrics = if failed {
            BTreeMap::new()
        } else {
            BTreeMap::from([
                ("test_mse".to_string(), 0.04 / (i + 1) as f64),
                ("test_psnr_db".to_string(), 14.0 + 3.0 * i as f64),
                ("epochs_run".to_string(), 2.0),
            ])
        };
        let result = RunResult {
            id: run.id.clone(),
            status: if failed {
                RunStatus::Failed
            } else {
                RunStatus::Completed
            },
            error: failed
                .then(|| "diverged at epoch 2, step 7: training loss is NaN <b>".to_string()),
            config: RecordedConfig::from(&run.config),
            metrics,
            // The first two runs could not run the latent task's probe.
            not_measured: (i < 2)
                .then(|| ("probe_accuracy".into(), "one label <only>".into()))
                .into_iter()
                .collect(),
        };
        write_result(&run_dir, &result);
        let epochs: String = (1..=2)
            .map(|epoch| {
                let record = EpochRecord {
                    epoch,
                    train_loss: 0.1 / epoch as f64,
                    val_loss: Some(0.11 / epoch as f64),
                    val_mse: Some(0.11 / epoch as f64),
                    seconds: epoch as f64,
                };
                serde_json::to_string(&record).unwrap() + "\n"
            })
            .collect();
        // A killed run leaves a half-written last line; it must be ignored.
        std::fs::write(
            run_dir.join("metrics.jsonl"),
            epochs + "{\"epoch\": 3, \"tra",
        )
        .unwrap();
    }
}

#[test]
fn csv_has_one_row_per_run_with_varied_keys_and_contract_metrics() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let csv = std::fs::read_to_string(files.csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,status,model.latent,test_mse,test_psnr_db,epochs_run,error"
    );
    assert_eq!(lines.count(), 3);
    insta::assert_snapshot!(csv);
}

#[test]
fn markdown_table_pins_the_fixture() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let markdown = std::fs::read_to_string(files.markdown).unwrap();
    insta::assert_snapshot!(markdown);
}

#[test]
fn parquet_holds_every_setting_and_the_experiment_with_typed_columns() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let file = std::fs::File::open(&files.parquet).unwrap();
    let frame = ParquetReader::new(file).finish().unwrap();
    let scoped = scoped(dir.path(), Coverage::Current).unwrap();
    let expected = ResultsTable::full(&scoped.current, "test_mse", "fixture")
        .to_frame()
        .unwrap();
    assert!(frame.equals_missing(&expected), "{frame}\n{expected}");
    assert_eq!(frame.height(), 3);
    // Every setting, not only the swept one, and the experiment's name.
    assert_eq!(
        frame.column("experiment").unwrap().str().unwrap().get(0),
        Some("fixture")
    );
    assert_eq!(
        frame
            .column("train.learning_rate")
            .unwrap()
            .f64()
            .unwrap()
            .get(0),
        Some(1e-3)
    );
    assert_eq!(
        frame.column("model.latent").unwrap().dtype(),
        &DataType::Int64
    );
    assert_eq!(
        frame.column("test_mse").unwrap().dtype(),
        &DataType::Float64
    );
}

/// The HTML of the section with `id` in `html`.
fn section<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<section id=\"{id}\""))
        .unwrap_or_else(|| panic!("no section {id}"));
    let end = start + html[start..].find("</section>").unwrap();
    &html[start..end]
}

#[test]
fn page_has_a_row_per_run_plots_per_kind_and_setting_and_escapes_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    // The page's title is the experiment's name in the sweep's record, escaped.
    let mut record = SweepRecord::read(dir.path()).unwrap().unwrap();
    record.experiment = "fixture <sweep>".into();
    record.write(dir.path()).unwrap();
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let html = std::fs::read_to_string(files.html).unwrap();
    let results = section(&html, "results");
    assert_eq!(
        results.matches("<tr").count(),
        1 + 3,
        "header row plus one per run"
    );
    assert!(results.contains("class=\"sortable\"") && html.contains("<script>"));
    // One kind: one plot of overlaid curves; one numeric setting: one plot against it.
    assert_eq!(section(&html, "curves").matches("<svg").count(), 1);
    assert_eq!(section(&html, "parameters").matches("<svg").count(), 1);
    // Two completed runs of one setting: parallel coordinates and history, too few runs for
    // importances.
    assert_eq!(section(&html, "search").matches("<svg").count(), 2);
    assert_eq!(html.matches("<svg").count(), 4);
    let summary = section(&html, "summary");
    assert!(
        summary.contains("3 runs: 2 completed, 1 failed, 0 pruned"),
        "{summary}"
    );
    assert!(
        summary.contains("<td>vanilla</td><td><a href=\"runs/3d20b2c561f4/result.json\">"),
        "{summary}"
    );
    assert!(html.contains("fixture &lt;sweep&gt;"));
    assert!(html.contains("training loss is NaN &lt;b&gt;"));
    assert!(!html.contains("NaN <b>"));
    assert!(html.contains("1 failed"));
    // Why a task's metric is missing, once for the runs that give the same reason.
    let missing = section(&html, "not-measured");
    assert!(
        missing.contains("<code>probe_accuracy</code> (2 runs): one label &lt;only&gt;"),
        "{missing}"
    );
}

#[test]
fn collect_reads_the_epochs_up_to_a_torn_line() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let records = collect(dir.path()).unwrap().records;
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.epochs.len() == 2));
}

#[test]
fn a_corrupt_result_is_left_out_and_named_and_the_report_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    write_fixture(dir.path());
    let corrupt = dir.path().join("runs/0corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    std::fs::write(corrupt.join("result.json"), "{\"id\": \"0corrupt\", \"sta").unwrap();
    // A run folder without a result is unfinished, not unreadable.
    std::fs::create_dir_all(dir.path().join("runs/1unfinished")).unwrap();
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let named = corrupt.join("result.json").display().to_string();
    assert_eq!(files.unreadable.len(), 1, "{:?}", files.unreadable);
    assert!(
        files.unreadable[0].contains(&named),
        "{:?}",
        files.unreadable
    );
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(html.contains("Unreadable results") && html.contains(&named));
    assert!(html.contains("3 runs: 2 completed, 1 failed"), "{html}");
    assert_eq!(
        std::fs::read_to_string(files.csv).unwrap().lines().count(),
        4
    );
}

#[test]
fn an_empty_sweep_is_an_error_not_an_empty_page() {
    let dir = tempfile::tempdir().unwrap();
    let err = write_report(dir.path(), &References::default(), Coverage::Current).unwrap_err();
    assert!(err.to_string().contains("no finished run"), "{err}");
}

#[test]
fn seeds_of_one_configuration_are_summarised_as_mean_and_std() {
    let dir = tempfile::tempdir().unwrap();
    let source = "[experiment]\nname = \"seeds\"\nrepeats = 2\n[data]\ndataset = \"mnist\"\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 8]\n";
    let experiment = parse_spec(source);
    // Latent 2: both seeds complete (mse 1 and 3); latent 8: one completes, one fails.
    for (i, run) in experiment.runs.iter().enumerate() {
        let run_dir = dir.path().join("runs").join(run.id.as_str());
        std::fs::create_dir_all(&run_dir).unwrap();
        let failed = i == 3;
        let result = RunResult {
            id: run.id.clone(),
            status: if failed {
                RunStatus::Failed
            } else {
                RunStatus::Completed
            },
            error: failed.then(|| "boom".to_string()),
            config: RecordedConfig::from(&run.config),
            metrics: if failed {
                BTreeMap::new()
            } else {
                BTreeMap::from([("test_mse".to_string(), [1.0, 3.0, 0.5][i])])
            },
            not_measured: Default::default(),
        };
        write_result(&run_dir, &result);
    }
    let records = collect(dir.path()).unwrap().records;
    let primary = PrimaryMetric::named("test_mse").unwrap();
    let table = ResultsTable::by_configuration(&records, &primary);
    assert_eq!(
        table.columns,
        ["seeds", "model.latent", "test_mse_mean", "test_mse_std"]
    );
    let row = |latent: f64| {
        table
            .rows
            .iter()
            .find(|row| row[1] == Cell::Number(latent))
            .unwrap()
            .clone()
    };
    assert_eq!(
        row(2.0)[..3],
        [Cell::Number(2.0), Cell::Number(2.0), Cell::Number(2.0)]
    );
    let Cell::Number(std) = row(2.0)[3] else {
        panic!("no std")
    };
    assert!((std - 2f64.sqrt()).abs() < 1e-12);
    assert_eq!(
        row(8.0),
        [
            Cell::Number(1.0),
            Cell::Number(8.0),
            Cell::Number(0.5),
            Cell::Missing
        ]
    );
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let csv = std::fs::read_to_string(files.configurations).unwrap();
    assert!(
        csv.starts_with("seeds,model.latent,test_mse_mean,test_mse_std\n"),
        "{csv}"
    );
    let html = std::fs::read_to_string(files.html).unwrap();
    assert!(html.contains("<td class=\"num\">2 ± 1.414</td>"), "{html}");
}

/// Writes the sweep of the spec `source` into `dir`: its record, and a completed result for
/// each run that `metrics` gives metrics for.
fn write_sweep(
    dir: &Path,
    source: &str,
    metrics: impl Fn(&hourglass_spec::RunSpec) -> Option<BTreeMap<String, f64>>,
) {
    let experiment = parse_spec(source);
    std::fs::create_dir_all(dir).unwrap();
    SweepRecord::of(&experiment).write(dir).unwrap();
    for run in &experiment.runs {
        let Some(metrics) = metrics(run) else {
            continue;
        };
        let run_dir = dir.join("runs").join(run.id.as_str());
        std::fs::create_dir_all(&run_dir).unwrap();
        let result = RunResult {
            id: run.id.clone(),
            status: RunStatus::Completed,
            error: None,
            config: RecordedConfig::from(&run.config),
            metrics,
            not_measured: Default::default(),
        };
        write_result(&run_dir, &result);
    }
}

/// Writes completed runs of a two-seed sweep over latent 2, 8 and 32 into `dir`, with the
/// test MSE `mse(latent, seed)`; runs whose MSE is `None` are left out.
fn write_seeded_sweep(dir: &Path, mse: impl Fn(usize, u64) -> Option<f64>) {
    let source = "[experiment]\nname = \"seeded\"\nrepeats = 2\n[data]\ndataset = \"mnist\"\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 8, 32]\n";
    write_sweep(dir, source, |run| {
        let value = mse(run.config.model.latent, run.config.seed)?;
        Some(BTreeMap::from([("test_mse".to_string(), value)]))
    });
}

#[test]
fn a_comparison_matches_configurations_and_marks_differences_beyond_the_seed_spread() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    // Seeds 0 and 1: latent 2 moves by 0.5 with a spread of 0.14 (marked); latent 8 moves by
    // 0.05 within a spread of 0.28 (not marked); latent 32 is only in a.
    write_seeded_sweep(a.path(), |latent, seed| match latent {
        2 => Some(1.0 + 0.2 * seed as f64),
        8 => Some(2.0 + 0.4 * seed as f64),
        _ => Some(3.0),
    });
    write_seeded_sweep(b.path(), |latent, seed| match latent {
        2 => Some(1.5 + 0.2 * seed as f64),
        8 => Some(2.05 + 0.4 * seed as f64),
        _ => None,
    });
    let (differing, table) = comparison(
        &collect(a.path()).unwrap().records,
        &collect(b.path()).unwrap().records,
        "test_mse",
    );
    assert!(differing.is_empty(), "{differing:?}");
    assert_eq!(
        table.columns,
        [
            "seeds_a",
            "seeds_b",
            "model.latent",
            "test_mse_a",
            "test_mse_b",
            "test_mse_delta",
            "test_mse_beyond_spread"
        ]
    );
    assert_eq!(table.rows.len(), 2);
    let row = |latent: f64| {
        table
            .rows
            .iter()
            .find(|row| row[2] == Cell::Number(latent))
            .unwrap()
    };
    let Cell::Number(delta) = row(2.0)[5] else {
        panic!("no delta")
    };
    assert!((delta - 0.5).abs() < 1e-12);
    assert_eq!(row(2.0)[3], Cell::Text("1.100 ± 0.1414".into()));
    assert_eq!(row(2.0)[6], Cell::Text("yes".into()));
    assert_eq!(row(8.0)[6], Cell::Text("no".into()));

    let out = tempfile::tempdir().unwrap();
    let files = write_comparison(a.path(), b.path(), out.path()).unwrap();
    assert_eq!(files.shared, 2);
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert_eq!(html.matches("<mark>yes</mark>").count(), 1);
    let markdown = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(
        markdown.starts_with("| seeds_a | seeds_b | model.latent | test_mse_a |"),
        "{markdown}"
    );
}

/// Writes a sweep "tasks" of two completed runs (latent 2 and 8) with compression and anomaly
/// metrics, and the ROC curve of the second.
fn write_task_fixture(dir: &Path) {
    let source = "[experiment]\nname = \"tasks\"\n[data]\ndataset = \"mnist\"\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 8]\n";
    let experiment = parse_spec(source);
    SweepRecord::of(&experiment).write(dir).unwrap();
    for (i, run) in experiment.runs.iter().enumerate() {
        let run_dir = dir.join("runs").join(run.id.as_str());
        std::fs::create_dir_all(&run_dir).unwrap();
        let metrics = BTreeMap::from([
            ("test_mse".to_string(), 0.04 / (i + 1) as f64),
            ("quantized_psnr_db".to_string(), 15.0 + 4.0 * i as f64),
            ("pca_psnr_db".to_string(), 12.0 + 2.0 * i as f64),
            (
                "compression_ratio".to_string(),
                784.0 / run.config.model.latent as f64,
            ),
            ("anomaly_auroc".to_string(), 0.93 + 0.04 * i as f64),
            ("pca_auroc".to_string(), 0.90),
            ("iforest_auroc".to_string(), 0.95 + 0.02 * i as f64),
            ("knn_auroc".to_string(), 0.80),
        ]);
        let result = RunResult {
            id: run.id.clone(),
            status: RunStatus::Completed,
            error: None,
            config: RecordedConfig::from(&run.config),
            metrics,
            not_measured: Default::default(),
        };
        write_result(&run_dir, &result);
        if i == 1 {
            let roc = "false_positive_rate,true_positive_rate\n0,0\n0,0.5\n0.2,1\n1,1\n";
            std::fs::write(run_dir.join("roc.csv"), roc).unwrap();
            let baselines = "detector,false_positive_rate,true_positive_rate\n\
                             pca,0,0\npca,0.5,1\npca,1,1\n\
                             iforest,0,0\niforest,0.1,1\niforest,1,1\n\
                             knn,0,0\nknn,0.5,0.5\nknn,1,1\n";
            std::fs::write(run_dir.join("baselines_roc.csv"), baselines).unwrap();
        }
    }
}

#[test]
fn task_sections_show_rate_distortion_roc_curves_and_verdicts_on_references() {
    let dir = tempfile::tempdir().unwrap();
    write_task_fixture(dir.path());
    let references: References = toml::from_str(
        r#"
        [[reference]]
        experiment = "tasks"
        metric = "anomaly_auroc"
        value = 0.94
        goal = "at_least"
        source = "mean of both"
        setup = "s"

        [[reference]]
        experiment = "tasks"
        metric = "anomaly_auroc"
        value = 0.95
        goal = "at_least"
        where = { "model.latent" = 2 }
        source = "latent 2 only"
        origin = "measured"
        setup = "s"

        [[reference]]
        experiment = "tasks"
        metric = "test_mse"
        value = 0.025
        goal = "at_most"
        tolerance = 0.01
        source = "a loss"
        setup = "s"

        [[reference]]
        experiment = "other"
        metric = "anomaly_auroc"
        value = 0.5
        goal = "at_least"
        source = "another experiment's"
        setup = "s"
        "#,
    )
    .unwrap();
    let files = write_report(dir.path(), &references, Coverage::Current).unwrap();
    let html = std::fs::read_to_string(files.html).unwrap();

    let compression = section(&html, "compression");
    assert_eq!(compression.matches("<svg").count(), 1);
    // Header row and one row per run, by bytes; no JPEG figure fits.
    assert_eq!(compression.matches("<tr").count(), 1 + 2);
    assert!(
        compression.find("<td class=\"num\">15</td>")
            < compression.find("<td class=\"num\">19</td>")
    );
    assert_eq!(compression.matches("does not fit").count(), 2);

    let anomaly = section(&html, "anomaly");
    assert!(
        anomaly.contains("AUROC: best 0.9700, mean 0.9500, worst 0.9300"),
        "{anomaly}"
    );
    assert_eq!(anomaly.matches("<svg").count(), 1, "one run has a roc.csv");
    // The best run's baselines are drawn with it, named with their AUROC.
    for curve in ["PCA residual AUROC 0.9000", "Isolation Forest AUROC 0.9700"] {
        assert!(anomaly.contains(curve), "{curve}: {anomaly}");
    }
    // The autoencoders' mean, 0.95, against the detectors' means: the Isolation Forest's
    // 0.96 is ahead of it.
    let baselines = anomaly
        .split("<table id=\"anomaly-baselines\">")
        .nth(1)
        .expect("a table of the baselines");
    assert!(
        baselines.contains(
            "<td>mnist</td><td>vanilla</td><td class=\"num\">2</td><td class=\"num\">0.9500</td><td class=\"num\">0.9700</td>\
             <td class=\"num\">0.9000</td><td class=\"num\">0.9600</td>\
             <td class=\"num\">0.8000</td><td>2 of 4 (behind Isolation Forest)</td>"
        ),
        "{baselines}"
    );

    let verdicts = section(&html, "references");
    assert_eq!(verdicts.matches("<tr").count(), 1 + 3, "{verdicts}");
    // At most 0.025 within 0.01: the mean loss 0.03 is below 0.035, and the bound says so.
    assert!(
        verdicts.contains("≤ 0.02500 + 0.01000</td><td class=\"num\">0.03000"),
        "{verdicts}"
    );
    assert!(!verdicts.contains("another experiment"));
    // Mean of 0.93 and 0.97 is 0.95 ± 0.02828 over 2 runs: reaches 0.94.
    assert!(
        verdicts.contains("0.9500 ± 0.02828 (2)</td><td><span class=\"best\">reproduced"),
        "{verdicts}"
    );
    // The latent-2 run alone (0.93) falls short of 0.95.
    assert!(
        verdicts.contains("0.9300 (1)</td><td>not reproduced"),
        "{verdicts}"
    );
    // A figure measured by running the source's code says it is not published.
    assert!(
        verdicts
            .contains("latent 2 only (measured here by running its code; not a published figure)"),
        "{verdicts}"
    );
    assert!(!verdicts.contains("mean of both (measured"), "{verdicts}");
}

/// A spec over latent 2 and 8 with `learning_rate`, evaluated for `tasks`, named `name`.
fn spec(name: &str, learning_rate: f64, tasks: &str) -> String {
    format!(
        "[experiment]\nname = \"{name}\"\n[data]\ndataset = \"mnist\"\n\
         [noise]\nkind = \"gaussian\"\nlevel = 0.3\n\
         [train]\nlearning_rate = {learning_rate:e}\n[evaluate]\ntasks = [{tasks}]\n\
         [sweep.parameters]\n\"model.latent\" = [2, 8]\n"
    )
}

#[test]
fn a_spec_edited_and_swept_again_reports_only_its_current_runs_and_lists_the_others_apart() {
    let dir = tempfile::tempdir().unwrap();
    let mse = |run: &hourglass_spec::RunSpec| {
        Some(BTreeMap::from([(
            "test_mse".to_string(),
            run.config.train.learning_rate * run.config.model.latent as f64,
        )]))
    };
    // The first version's runs are better by test_mse than any of the second's.
    write_sweep(dir.path(), &spec("edited", 1e-5, "\"reconstruction\""), mse);
    write_sweep(dir.path(), &spec("edited", 1e-3, "\"reconstruction\""), mse);
    assert_eq!(collect(dir.path()).unwrap().records.len(), 4);

    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    assert_eq!(files.earlier, 2);
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2, "{csv}");
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(
        section(&html, "summary").contains("2 runs: 2 completed"),
        "{html}"
    );
    // The best run is the current spec's best (latent 2 at 1e-3: 0.002), not an old one.
    assert!(
        section(&html, "summary").contains("<td class=\"num\">0.002000</td>"),
        "{html}"
    );
    let earlier = section(&html, "earlier");
    assert_eq!(earlier.matches("<tr>").count(), 1 + 2, "{earlier}");
    assert!(earlier.contains("hourglass report --all"));

    let all = write_report(dir.path(), &References::default(), Coverage::All).unwrap();
    assert_eq!(all.earlier, 0);
    let csv = std::fs::read_to_string(&all.csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
}

#[test]
fn the_primary_metric_ranks_runs_orders_the_tables_and_names_the_best_run() {
    let dir = tempfile::tempdir().unwrap();
    // Denoising: latent 2 denoises better (higher PSNR) though latent 8 reconstructs better.
    write_sweep(
        dir.path(),
        &spec("denoise", 1e-3, "\"reconstruction\", \"denoising\""),
        |run| {
            let latent = run.config.model.latent as f64;
            Some(BTreeMap::from([
                ("test_mse".to_string(), 0.1 / latent),
                ("denoise_psnr_db".to_string(), 30.0 - latent),
                ("train_seconds".to_string(), 3.0),
            ]))
        },
    );
    let record = SweepRecord::read(dir.path()).unwrap().unwrap();
    assert_eq!(record.primary_metric.name, "denoise_psnr_db");
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    let mut lines = csv.lines();
    // Swept settings, primary metric, reconstruction, timing; best first.
    assert_eq!(
        lines.next().unwrap(),
        "id,status,model.latent,denoise_psnr_db,test_mse,train_seconds,error"
    );
    assert!(lines.next().unwrap().contains(",2,28,"), "{csv}");
    let html = std::fs::read_to_string(&files.html).unwrap();
    let summary = section(&html, "summary");
    assert!(
        summary.contains("denoise_psnr_db (higher is better)"),
        "{summary}"
    );
    assert!(summary.contains("<td class=\"num\">28</td>"), "{summary}");
    let results = section(&html, "results");
    let bold = &results[results.find("<tr class=\"best\">").unwrap()..];
    assert!(bold[..bold.find("</tr>").unwrap()].contains("<td class=\"num\">2</td>"));
    assert!(
        section(&html, "parameters")
            .contains("denoise_psnr_db (higher is better) against model.latent")
    );
}

#[test]
fn a_comparison_of_sweeps_that_differ_in_one_fixed_setting_names_it_and_matches_the_rest() {
    let (a, b, out) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let metrics = |offset: f64| {
        move |run: &hourglass_spec::RunSpec| {
            Some(BTreeMap::from([
                (
                    "test_mse".to_string(),
                    offset + run.config.model.latent as f64,
                ),
                ("test_psnr_db".to_string(), 20.0),
                ("parameters".to_string(), 1000.0),
            ]))
        }
    };
    write_sweep(
        a.path(),
        &spec("slow", 1e-4, "\"reconstruction\""),
        metrics(0.0),
    );
    write_sweep(
        b.path(),
        &spec("fast", 1e-2, "\"reconstruction\""),
        metrics(0.5),
    );
    let files = write_comparison(a.path(), b.path(), out.path()).unwrap();
    assert_eq!(files.differing, ["train.learning_rate: 0.0001 vs 0.01"]);
    assert_eq!(files.shared, 2);
    // The Markdown shows the swept setting and the metrics that matter; the CSV has them all.
    let markdown = std::fs::read_to_string(&files.markdown).unwrap();
    let header = markdown.lines().next().unwrap();
    assert_eq!(
        header,
        "| seeds_a | seeds_b | model.latent | test_mse_a | test_mse_b | test_mse_delta | test_mse_beyond_spread |"
    );
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    assert!(
        csv.lines().next().unwrap().contains("test_psnr_db_delta"),
        "{csv}"
    );
    assert!(
        csv.lines().skip(1).all(|line| line.contains(",0.5,")),
        "{csv}"
    );
    let html = std::fs::read_to_string(&files.html).unwrap();
    assert!(section(&html, "differences").contains("train.learning_rate: 0.0001 vs 0.01"));
}

#[test]
fn gathered_sweeps_keep_the_setting_that_tells_them_apart() {
    let root = tempfile::tempdir().unwrap();
    let mse = |run: &hourglass_spec::RunSpec| {
        Some(BTreeMap::from([(
            "test_mse".to_string(),
            run.config.train.learning_rate,
        )]))
    };
    write_sweep(
        &root.path().join("slow"),
        &spec("slow", 1e-4, "\"reconstruction\""),
        mse,
    );
    write_sweep(
        &root.path().join("fast"),
        &spec("fast", 1e-2, "\"reconstruction\""),
        mse,
    );
    std::fs::create_dir_all(root.path().join("not-a-sweep")).unwrap();
    let gathered = gather(root.path(), Coverage::Current).unwrap();
    assert_eq!(gathered.sweeps, 2);
    let table = &gathered.table;
    assert_eq!(table.rows.len(), 4);
    let column = |name: &str| table.columns.iter().position(|c| c == name).unwrap();
    let pairs: BTreeSet<(String, String)> = (table.rows.iter())
        .map(|row| {
            (
                row[column("experiment")].text(),
                row[column("train.learning_rate")].text(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        BTreeSet::from([
            ("fast".to_string(), "0.01000".to_string()),
            ("slow".to_string(), "1.000e-4".to_string())
        ])
    );
    // It encodes, as the command writes it.
    let frame = table.to_frame().unwrap();
    assert_eq!(frame.height(), 4);
}

#[test]
fn an_effect_plot_draws_one_line_per_value_of_the_other_swept_setting() {
    let dir = tempfile::tempdir().unwrap();
    let source = "[experiment]\nname = \"grid\"\nrepeats = 2\n[data]\ndataset = \"mnist\"\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 8]\n\
                  \"train.learning_rate\" = [1e-3, 1e-2]\n";
    // An interaction: latent helps at one learning rate and hurts at the other.
    write_sweep(dir.path(), source, |run| {
        let (latent, rate) = (
            run.config.model.latent as f64,
            run.config.train.learning_rate,
        );
        let mse = if rate < 5e-3 { latent } else { 10.0 - latent } + run.config.seed as f64 * 0.1;
        Some(BTreeMap::from([("test_mse".to_string(), mse)]))
    });
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    let effects = section(&html, "parameters");
    // Two figures (one per setting), each with a line per value of the other setting.
    assert_eq!(effects.matches("<svg").count(), 2);
    assert_eq!(effects.matches("<li>").count(), 4, "{effects}");
    assert!(
        effects.contains("train.learning_rate=0.001</li>"),
        "{effects}"
    );
    assert!(effects.contains("model.latent=8</li>"), "{effects}");
}

#[test]
fn the_search_views_rank_the_setting_the_metric_depends_on_first() {
    let dir = tempfile::tempdir().unwrap();
    let source = "[experiment]\nname = \"search\"\nrepeats = 2\n[data]\ndataset = \"mnist\"\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 8, 32]\n\
                  \"train.learning_rate\" = [1e-3, 1e-2]\n";
    // The metric follows the latent size alone, whatever the learning rate.
    write_sweep(dir.path(), source, |run| {
        let mse = 1.0 / run.config.model.latent as f64 + run.config.seed as f64 * 1e-4;
        Some(BTreeMap::from([("test_mse".to_string(), mse)]))
    });
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    let search = section(&html, "search");
    // Parallel coordinates, importance, history.
    assert_eq!(search.matches("<svg").count(), 3, "{search}");
    let importance = &search[search.find("<table id=\"importance\"").unwrap()..];
    let first = &importance[importance.find("<tbody><tr><td>").unwrap() + 15..];
    assert!(first.starts_with("model.latent</td>"), "{importance}");
    let share: f64 = first["model.latent</td><td class=\"num\">".len()..]
        .split('<')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(share > 0.9, "{importance}");
}

#[test]
fn a_multi_objective_sweep_draws_lists_and_measures_its_pareto_front() {
    let dir = tempfile::tempdir().unwrap();
    let source = "[experiment]\nname = \"front\"\n[data]\ndataset = \"mnist\"\n\
                  [evaluate]\ntasks = [\"reconstruction\", \"compression\"]\n\
                  [sweep.parameters]\n\"model.latent\" = [2, 4, 8, 16, 32, 64]\n";
    // Larger codes reconstruct better and cost more bits; latent 16 is beaten by latent 8 on
    // both, so it is off the front.
    let point = |latent: usize| {
        let mse = if latent == 16 {
            1.0
        } else {
            1.0 / latent as f64
        };
        (mse, 32.0 * latent as f64)
    };
    write_sweep(dir.path(), source, |run| {
        let (mse, bits) = point(run.config.model.latent);
        Some(BTreeMap::from([
            ("test_mse".to_string(), mse),
            ("code_bits".to_string(), bits),
        ]))
    });
    let mut record = SweepRecord::read(dir.path()).unwrap().unwrap();
    record.objectives = ["test_mse", "code_bits"]
        .map(|metric| hourglass_spec::Objective {
            metric: metric.into(),
            goal: hourglass_spec::Direction::Minimize,
        })
        .to_vec();
    record.write(dir.path()).unwrap();
    let files = write_report(dir.path(), &References::default(), Coverage::Current).unwrap();
    let html = std::fs::read_to_string(&files.html).unwrap();
    let pareto = section(&html, "pareto");
    assert_eq!(pareto.matches("<svg").count(), 1, "{pareto}");
    let listed = pareto[pareto.find("<table id=\"front\"").unwrap()..]
        .matches("<tr><td><code>")
        .count();
    assert_eq!(listed, 5, "{pareto}");
    assert!(
        pareto.contains("5 of 6 completed runs are on the front"),
        "{pareto}"
    );
    // The staircase area up to the nadir moved out by a tenth of each range.
    let mut front: Vec<(f64, f64)> = [2, 4, 8, 32, 64].map(point).to_vec();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    let reference = (
        1.0 + 0.1 * (1.0 - 1.0 / 64.0),
        2048.0 + 0.1 * (2048.0 - 64.0),
    );
    let expected: f64 = (0..front.len())
        .map(|i| {
            let next_x = front.get(i + 1).map_or(reference.0, |p| p.0);
            (next_x - front[i].0) * (reference.1 - front[i].1)
        })
        .sum();
    let shown = &pareto[pareto.find("id=\"hypervolume\">").unwrap() + 17..];
    let hypervolume: f64 = shown.split('<').next().unwrap().parse().unwrap();
    assert!(
        (hypervolume - expected).abs() < 1e-3 * expected,
        "{hypervolume} against {expected}"
    );
}
