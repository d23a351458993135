//! Tests of skipping, failure isolation and result recording, with `sh` scripts standing in for
//! the worker (the real worker is exercised by the end-to-end tests in `tests/`).

use std::path::Path;

use hourglass_spec::{Backend, Catalog};

use super::*;

fn experiment(latents: &str) -> Experiment {
    let source = format!(
        "[experiment]\nname = \"orchestra\"\n[data]\ndataset = \"mnist\"\n\
         [sweep.parameters]\n\"model.latent\" = [{latents}]\n"
    );
    let catalog = Catalog {
        datasets: [("mnist".into(), vec![1, 28, 28])].into(),
        backends: vec![Backend::Flex],
    };
    hourglass_spec::parse(Path::new("orchestra.toml"), &source, &catalog).unwrap()
}

/// A worker that runs `script` with the run folder as `$1`.
fn sh(script: &str) -> WorkerCommand {
    WorkerCommand {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into(), "worker".into()],
    }
}

/// A worker that records its call in `calls.log` beside the runs and writes a completed result
/// built from the run's id (the folder name).
fn completing_worker(root: &Path) -> WorkerCommand {
    sh(&format!(
        "echo \"$1\" >> {calls}; id=$(basename \"$1\"); \
         printf '{{\"id\":\"%s\",\"status\":\"completed\",\"config\":%s,\"metrics\":{{\"test_mse\":0.5}}}}' \
         \"$id\" \"$(cat {config_json})\" > \"$1/result.json\"",
        calls = root.join("calls.log").display(),
        config_json = root.join("config.json").display(),
    ))
}

#[test]
fn second_invocation_trains_nothing() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment("2, 8, 32");
    let layout = SweepLayout::new(reports.path(), &experiment);
    std::fs::create_dir_all(&layout.root).unwrap();
    let config_json = serde_json::to_string(&experiment.runs[0].config).unwrap();
    std::fs::write(layout.root.join("config.json"), config_json).unwrap();
    let worker = completing_worker(&layout.root);

    let first = run_sweep(&experiment, "spec", &layout, &worker, &mut NoProgress).unwrap();
    assert_eq!(
        first,
        SweepSummary {
            completed: 3,
            failed: 0,
            skipped: 0
        }
    );
    let second = run_sweep(&experiment, "spec", &layout, &worker, &mut NoProgress).unwrap();
    assert_eq!(
        second,
        SweepSummary {
            completed: 0,
            failed: 0,
            skipped: 3
        }
    );
    let calls = std::fs::read_to_string(layout.root.join("calls.log")).unwrap();
    assert_eq!(calls.lines().count(), 3, "workers started: {calls}");
    for run in &experiment.runs {
        let written: hourglass_spec::RunConfig = toml::from_str(
            &std::fs::read_to_string(layout.run_dir(run).join(CONFIG_FILE)).unwrap(),
        )
        .unwrap();
        assert_eq!(written, run.config);
    }
}

#[test]
fn a_crashing_worker_is_recorded_as_failed_and_the_sweep_goes_on() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment("2, 8");
    let layout = SweepLayout::new(reports.path(), &experiment);
    let worker = sh("echo 'thread main panicked: boom' >&2; exit 3");

    let summary = run_sweep(&experiment, "spec", &layout, &worker, &mut NoProgress).unwrap();
    assert_eq!(
        summary,
        SweepSummary {
            completed: 0,
            failed: 2,
            skipped: 0
        }
    );
    for run in &experiment.runs {
        let result = finished_result(&layout.run_dir(run)).unwrap();
        assert_eq!(result.status, RunStatus::Failed);
        assert_eq!(result.id, run.id);
        let error = result.error.unwrap();
        assert!(
            error.contains("exit status: 3") && error.contains("panicked: boom"),
            "{error}"
        );
    }
}

#[test]
fn a_half_written_result_counts_as_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(RESULT_FILE), "{\"id\": \"abc\", \"sta").unwrap();
    assert!(finished_result(dir.path()).is_none());
}

#[test]
fn a_missing_worker_program_is_a_failed_run_not_a_crash() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment("2");
    let layout = SweepLayout::new(reports.path(), &experiment);
    let worker = WorkerCommand {
        program: "/nonexistent/hourglass".into(),
        args: vec![],
    };
    let summary = run_sweep(&experiment, "spec", &layout, &worker, &mut NoProgress).unwrap();
    assert_eq!(summary.failed, 1);
    let error = finished_result(&layout.run_dir(&experiment.runs[0]))
        .unwrap()
        .error
        .unwrap();
    assert!(
        error.contains("cannot start worker /nonexistent/hourglass"),
        "{error}"
    );
}

struct NoProgress;
impl SweepProgress for NoProgress {}
