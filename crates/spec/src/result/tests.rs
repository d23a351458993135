//! Tests of the result contract: atomic and first-wins writes, old and unknown formats.

use super::*;

#[test]
fn atomic_write_replaces_content_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("result.json")]);
}

#[test]
fn failed_atomic_write_keeps_the_old_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    write_atomic(&path, b"kept").unwrap();
    // A folder where the file would go makes the rename fail.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), b"").unwrap();
    assert!(write_atomic(&blocked, b"new").is_err());
    assert_eq!(std::fs::read(&path).unwrap(), b"kept");
}

#[test]
fn the_first_write_once_wins_and_the_later_ones_leave_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("result.json");
    assert!(write_once(&path, b"first").unwrap());
    assert!(!write_once(&path, b"second").unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), b"first");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("result.json")]);
}

/// The folder of fixture `name` under `fixtures/results/`.
fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/results")
        .join(name)
}

/// A result of the quickstart's first run.
fn completed() -> RunResult {
    let source = include_str!("../../../../experiments/quickstart.toml");
    let experiment = crate::tests::parse_str(source).unwrap();
    let run = &experiment.runs[0];
    RunResult {
        id: run.id.clone(),
        status: RunStatus::Completed,
        error: None,
        config: RecordedConfig::from(&run.config),
        metrics: BTreeMap::from([(metric::TEST_MSE.to_string(), 0.04)]),
        not_measured: Default::default(),
    }
}

#[test]
fn a_result_of_the_first_format_reads_back() {
    // Written by hourglass before results had a format_version: the format of version 1.
    let result = read(&fixture("v1")).unwrap().unwrap();
    assert_eq!(result.id.as_str(), "d15429cdfdec");
    assert_eq!(result.status, RunStatus::Completed);
    assert_eq!(result.error, None);
    assert_eq!(result.metrics[metric::TEST_MSE], 0.0412);
    assert_eq!(result.metrics.len(), 9);
    assert_eq!(result.config.model_kind(), "vanilla");
    assert_eq!(result.config.latent(), 2);
    let settings = result.config.settings();
    assert_eq!(settings["train.epochs"], 5);
    assert_eq!(settings["model.hidden"], serde_json::json!([512, 256]));
    assert_eq!(settings.len(), 17, "{settings:?}");
}

#[test]
fn settings_this_version_does_not_know_are_kept_not_refused() {
    // A result whose config holds keys that no RunConfig has (renamed or removed settings, or
    // a later version's), and a field that no RunResult has.
    let result = read(&fixture("unknown-keys")).unwrap().unwrap();
    assert_eq!(result.status, RunStatus::Completed);
    assert_eq!(result.config.model_kind(), "vanilla");
    let settings = result.config.settings();
    assert_eq!(settings["train.warmup_epochs"], 2);
    assert_eq!(settings["model.dropout"], 0.1);
    assert_eq!(settings["schedule.kind"], "cosine");
    // They are written back as they were read.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(write(dir.path(), &result).unwrap(), Recorded::Written);
    assert_eq!(read(dir.path()).unwrap().unwrap(), result);
}

#[test]
fn a_written_result_names_its_format_and_reads_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let result = completed();
    assert_eq!(write(dir.path(), &result).unwrap(), Recorded::Written);
    let text = std::fs::read_to_string(dir.path().join(RESULT_FILE)).unwrap();
    assert!(
        text.starts_with(&format!(
            "{{\n  \"format_version\": {FORMAT_VERSION},\n  \"id\": "
        )),
        "{text}"
    );
    assert_eq!(read(dir.path()).unwrap().unwrap(), result);
}

#[test]
fn a_missing_result_is_none_and_an_unreadable_one_is_an_error_naming_its_file() {
    let dir = tempfile::tempdir().unwrap();
    assert!(read(dir.path()).unwrap().is_none());
    let path = dir.path().join(RESULT_FILE);
    let reading = |text: String| {
        std::fs::write(&path, text).unwrap();
        read(dir.path()).unwrap_err()
    };
    let half_written = reading("{\"id\": \"abc\", \"sta".into());
    assert!(matches!(half_written, ResultError::Invalid { .. }));
    assert!(
        half_written
            .to_string()
            .contains(&path.display().to_string()),
        "{half_written}"
    );
    let json = serde_json::to_value(completed()).unwrap();
    let mut without_latent = json.clone();
    without_latent["config"]["model"]
        .as_object_mut()
        .unwrap()
        .remove("latent");
    let error = reading(without_latent.to_string()).to_string();
    assert!(error.contains("config.model.latent"), "{error}");
    let mut newer = json;
    newer["format_version"] = (FORMAT_VERSION + 1).into();
    let error = reading(newer.to_string());
    assert!(
        matches!(error, ResultError::Newer { found, .. } if found == FORMAT_VERSION + 1),
        "{error}"
    );
}

#[test]
fn a_run_completing_as_it_is_pruned_keeps_the_first_result_whole() {
    // The worker records the run's completion while the orchestrator records its pruning: one
    // of them wins, the other learns which result stands, and the file holds that one.
    let completed = completed();
    let pruned = RunResult {
        status: RunStatus::Pruned,
        error: Some("pruned at epoch 2".into()),
        ..completed.clone()
    };
    for _ in 0..50 {
        let dir = tempfile::tempdir().unwrap();
        let start = std::sync::Barrier::new(2);
        let (worker, orchestrator) = std::thread::scope(|scope| {
            let racing = |result: &RunResult| {
                let (start, dir) = (&start, dir.path());
                let result = result.clone();
                scope.spawn(move || {
                    start.wait();
                    write(dir, &result).unwrap()
                })
            };
            let worker = racing(&completed);
            let orchestrator = racing(&pruned);
            (worker.join().unwrap(), orchestrator.join().unwrap())
        });
        let stands = read(dir.path()).unwrap().unwrap();
        match (worker, orchestrator) {
            (Recorded::Written, Recorded::Lost(first)) => {
                assert_eq!((&first, &stands), (&completed, &completed));
            }
            (Recorded::Lost(first), Recorded::Written) => {
                assert_eq!((&first, &stands), (&pruned, &pruned));
            }
            outcome => panic!("not one winner: {outcome:?}"),
        }
    }
}

#[test]
fn a_file_that_is_not_a_result_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(RESULT_FILE), "{\"id\": \"abc\", \"sta").unwrap();
    assert!(!is_recorded(
        &tempfile::tempdir().unwrap().path().join("none")
    ));
    assert!(is_recorded(dir.path()));
    assert_eq!(write(dir.path(), &completed()).unwrap(), Recorded::Written);
    assert_eq!(read(dir.path()).unwrap().unwrap(), completed());
}

#[test]
fn an_amended_result_replaces_the_completed_one_with_its_tasks_added() {
    let dir = tempfile::tempdir().unwrap();
    let first = completed();
    assert_eq!(first.config.tasks(), ["reconstruction"]);
    write(dir.path(), &first).unwrap();
    let mut amended = first.clone();
    amended.config = first
        .config
        .with_tasks(&["compression".into(), "reconstruction".into()]);
    amended
        .metrics
        .insert(metric::QUANTIZED_PSNR_DB.to_string(), 21.5);
    amend(dir.path(), &amended).unwrap();
    let read_back = read(dir.path()).unwrap().unwrap();
    assert_eq!(read_back, amended);
    assert_eq!(read_back.config.tasks(), ["reconstruction", "compression"]);
    // Everything else of the configuration is as it was.
    let mut settings = read_back.config.settings();
    settings.remove("evaluate.tasks");
    let mut before = first.config.settings();
    before.remove("evaluate.tasks");
    assert_eq!(settings, before);
}

#[test]
fn why_a_metric_was_not_measured_is_kept_until_it_is_measured() {
    let dir = tempfile::tempdir().unwrap();
    let mut result = completed();
    let why = "the training examples carry one label".to_string();
    result
        .not_measured
        .insert(metric::PROBE_ACCURACY.into(), why.clone());
    write(dir.path(), &result).unwrap();
    let read_back = read(dir.path()).unwrap().unwrap();
    assert_eq!(read_back.not_measured[metric::PROBE_ACCURACY], why);
    // Evaluated again with labels: measured, so no longer missing; a new reason is added.
    let mut evaluated = read_back;
    evaluated.add(Measured {
        metrics: [(metric::PROBE_ACCURACY.to_string(), 0.9)].into(),
        not_measured: [(metric::JPEG_PSNR_DB.to_string(), "not images".into())].into(),
    });
    assert_eq!(evaluated.metrics[metric::PROBE_ACCURACY], 0.9);
    assert_eq!(
        evaluated.not_measured.keys().collect::<Vec<_>>(),
        [metric::JPEG_PSNR_DB]
    );
    // A result without reasons writes no `not_measured` key.
    let quiet = tempfile::tempdir().unwrap();
    write(quiet.path(), &completed()).unwrap();
    let text = std::fs::read_to_string(quiet.path().join(RESULT_FILE)).unwrap();
    assert!(!text.contains("not_measured"), "{text}");
}
