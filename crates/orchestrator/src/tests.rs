//! Tests of skipping, failure isolation and result recording, with `sh` scripts standing in for
//! the worker (the real worker is exercised by the end-to-end tests in `tests/`).

use std::path::Path;

use hourglass_spec::sweep_record::SweepRecord;
use hourglass_spec::{Backend, Catalog};

use super::*;
use hourglass_spec::result::{CONFIG_FILE, METRICS_FILE, RESULT_FILE, read_epochs};

/// An experiment of `runs` runs (latent 1, 2, ...) with `resources` appended to its
/// `[resources]` (which may open further sections).
fn experiment(runs: usize, resources: &str) -> Experiment {
    let latents: Vec<String> = (1..=runs).map(|latent| latent.to_string()).collect();
    parse(&format!(
        "[resources]\n{resources}\n[sweep.parameters]\n\"model.latent\" = [{}]\n",
        latents.join(", ")
    ))
}

/// The experiment of an MNIST spec with `sections` after its `[data]`.
fn parse(sections: &str) -> Experiment {
    let source =
        format!("[experiment]\nname = \"orchestra\"\n[data]\ndataset = \"mnist\"\n{sections}");
    let catalog = Catalog {
        datasets: [("mnist".into(), vec![1, 28, 28])].into(),
        backends: vec![Backend::Flex, Backend::Tch],
        ..Default::default()
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

/// A worker that runs `first` (a `sh` command line, with the run folder as `$1`), then
/// completes as [`completing_worker`] does.
fn completing_after(root: &Path, first: &str) -> WorkerCommand {
    let completing = completing_worker(root);
    let script = completing.args[1].to_str().unwrap();
    sh(&format!("{first}; {script}"))
}

#[test]
fn second_invocation_trains_nothing() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(3, "");
    let layout = prepare(&experiment, reports.path());
    let worker = completing_worker(&layout.root);

    let first = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(
        first,
        SweepSummary {
            now: Ended {
                completed: 3,
                failed: 0,
                pruned: 0
            },
            before: Ended {
                completed: 0,
                ..Ended::default()
            },
            unfinished: 0
        }
    );
    let second = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(
        second,
        SweepSummary {
            now: Ended {
                completed: 0,
                failed: 0,
                pruned: 0
            },
            before: Ended {
                completed: 3,
                ..Ended::default()
            },
            unfinished: 0
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
    let experiment = experiment(2, "");
    let layout = SweepLayout::new(reports.path(), &experiment);
    let worker = sh(
        "printf 'epoch 1/2\\nthread main panicked at src/x.rs:3:5:\\nboom\\nstack backtrace:\\n' >&2; \
         for i in $(seq 30); do echo \"  $i: frame\" >&2; done; exit 3",
    );

    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(
        summary,
        SweepSummary {
            now: Ended {
                completed: 0,
                failed: 2,
                pruned: 0
            },
            before: Ended {
                completed: 0,
                ..Ended::default()
            },
            unfinished: 0
        }
    );
    for run in &experiment.runs {
        let result = finished_result(&layout.run_dir(run)).unwrap();
        assert_eq!(result.status, RunStatus::Failed);
        assert_eq!(result.id, run.id);
        let error = result.error.unwrap();
        assert!(
            error.starts_with(
                "worker exited without a result (exit status: 3): \
                 thread main panicked at src/x.rs:3:5: boom; log tail:"
            ) && error.ends_with("30: frame"),
            "{error}"
        );
    }
}

#[test]
fn a_second_invocation_counts_each_earlier_ending_once() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(2, "");
    let layout = prepare(&experiment, reports.path());
    // The first run's worker fails, the second's completes.
    let first_id = experiment.runs[0].id.as_str();
    let worker = completing_after(
        &layout.root,
        &format!("case \"$1\" in *{first_id}) exit 3;; esac"),
    );
    let first = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!((first.now.completed, first.now.failed), (1, 1), "{first:?}");

    let second = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(
        second,
        SweepSummary {
            now: Ended::default(),
            before: Ended {
                completed: 1,
                failed: 1,
                pruned: 0
            },
            unfinished: 0
        }
    );
    assert_eq!(second.failed(), 1);
    assert_eq!(
        second.to_string(),
        "0 completed, 0 failed, 0 pruned, 2 already finished (skipped: 1 completed, 1 failed)"
    );
    assert_eq!(
        first.to_string(),
        "1 completed, 1 failed, 0 pruned, 0 already finished (skipped)"
    );
}

#[test]
fn a_finished_run_under_its_former_id_is_adopted_not_trained_again() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = parse("[evaluate]\ntasks = [\"compression\"]\n");
    let run = &experiment.runs[0];
    let former = RunId::former(&run.config).expect("the tasks were in the former id");
    let layout = prepare(&experiment, reports.path());
    // A run finished by hourglass before 0.2, in the folder of its former id.
    let former_dir = layout.run_dir_of(&former);
    std::fs::create_dir_all(&former_dir).unwrap();
    let finished = RunResult {
        id: former.clone(),
        status: RunStatus::Completed,
        error: None,
        config: (&run.config).into(),
        metrics: [("test_mse".to_string(), 0.5)].into(),
        not_measured: Default::default(),
    };
    result::write(&former_dir, &finished).unwrap();

    let worker = completing_worker(&layout.root);
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!((summary.now.total(), summary.before.completed), (0, 1));
    assert!(!former_dir.exists());
    let adopted = finished_result(&layout.run_dir(run)).unwrap();
    assert_eq!(adopted.id, run.id);
    assert_eq!(adopted.metrics, finished.metrics);
}

#[test]
fn a_half_written_result_counts_as_unfinished() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(RESULT_FILE), "{\"id\": \"abc\", \"sta").unwrap();
    assert!(finished_result(dir.path()).is_none());
}

#[test]
fn a_result_of_a_newer_format_stops_the_sweep_instead_of_being_trained_over() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(1, "");
    let layout = prepare(&experiment, reports.path());
    let run_dir = layout.run_dir(&experiment.runs[0]);
    std::fs::create_dir_all(&run_dir).unwrap();
    let newer = "{\"format_version\": 99, \"shape\": \"unknown\"}";
    std::fs::write(run_dir.join(RESULT_FILE), newer).unwrap();
    let error = sweep(&experiment, &layout, &completing_worker(&layout.root)).unwrap_err();
    assert!(error.to_string().contains("format_version 99"), "{error}");
    assert_eq!(
        std::fs::read_to_string(run_dir.join(RESULT_FILE)).unwrap(),
        newer
    );
}

#[test]
fn a_missing_worker_program_is_a_failed_run_not_a_crash() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(1, "");
    let layout = SweepLayout::new(reports.path(), &experiment);
    let worker = WorkerCommand {
        program: "/nonexistent/hourglass".into(),
        args: vec![],
    };
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(summary.now.failed, 1);
    let error = recorded_error(&layout, &experiment.runs[0]);
    assert!(
        error.contains("cannot start worker /nonexistent/hourglass"),
        "{error}"
    );
}

/// The error recorded for `run`'s failed result.
fn recorded_error(layout: &SweepLayout, run: &RunSpec) -> String {
    finished_result(&layout.run_dir(run))
        .unwrap()
        .error
        .unwrap()
}

/// Runs the sweep of `experiment` with default options and no progress output.
fn sweep(
    experiment: &Experiment,
    layout: &SweepLayout,
    worker: &WorkerCommand,
) -> Result<SweepSummary, SweepError> {
    run_sweep(
        experiment,
        "spec",
        layout,
        worker,
        &SweepOptions::default(),
        &mut NoProgress,
    )
}

/// Runs the sweep of `experiment` with `--retry-failed`.
fn sweep_retrying(
    experiment: &Experiment,
    layout: &SweepLayout,
    worker: &WorkerCommand,
) -> Result<SweepSummary, SweepError> {
    let options = SweepOptions {
        retry_failed: true,
        ..SweepOptions::default()
    };
    run_sweep(
        experiment,
        "spec",
        layout,
        worker,
        &options,
        &mut NoProgress,
    )
}

struct NoProgress;
impl SweepProgress for NoProgress {}

/// A worker that logs its start and end time (ns) to `spans.log`, sleeps, then completes.
fn timed_worker(root: &Path, seconds: f64) -> WorkerCommand {
    completing_after(
        root,
        &format!(
            "start=$(date +%s%N); sleep {seconds}; echo \"$start $(date +%s%N)\" >> {spans}",
            spans = root.join("spans.log").display(),
        ),
    )
}

fn prepare(experiment: &Experiment, reports: &Path) -> SweepLayout {
    let layout = SweepLayout::new(reports, experiment);
    std::fs::create_dir_all(&layout.root).unwrap();
    let config_json = serde_json::to_string(&experiment.runs[0].config).unwrap();
    std::fs::write(layout.root.join("config.json"), config_json).unwrap();
    layout
}

/// The largest number of workers alive at one instant, from their logged spans.
fn peak_concurrency(spans: &str) -> usize {
    let spans: Vec<(u128, u128)> = spans
        .lines()
        .map(|line| {
            let (start, end) = line.split_once(' ').unwrap();
            (start.parse().unwrap(), end.parse().unwrap())
        })
        .collect();
    spans
        .iter()
        .map(|&(start, _)| {
            spans
                .iter()
                .filter(|&&(s, e)| s <= start && start < e)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn workers_run_in_parallel_up_to_the_limit() {
    for workers in [1, 3] {
        let reports = tempfile::tempdir().unwrap();
        let experiment = experiment(6, &format!("workers = {workers}"));
        let layout = prepare(&experiment, reports.path());
        let worker = timed_worker(&layout.root, 0.3);
        let summary = sweep(&experiment, &layout, &worker).unwrap();
        assert_eq!(summary.now.completed, 6);
        let spans = std::fs::read_to_string(layout.root.join("spans.log")).unwrap();
        assert_eq!(peak_concurrency(&spans), workers, "{spans}");
    }
}

#[test]
fn workers_share_the_cores_unless_told_their_threads() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let half = (cores / 2).max(1).to_string();
    for (resources, expected) in [
        ("", "all"),
        ("workers = 2", half.as_str()),
        ("workers = 2\nthreads_per_worker = 3", "3"),
    ] {
        let reports = tempfile::tempdir().unwrap();
        let experiment = experiment(2, resources);
        let layout = prepare(&experiment, reports.path());
        let threads = layout.root.join("threads.log");
        let worker = completing_after(
            &layout.root,
            &format!("echo ${{RAYON_NUM_THREADS:-all}} >> {}", threads.display()),
        );
        assert_eq!(
            sweep(&experiment, &layout, &worker).unwrap().now.completed,
            2
        );
        let seen = std::fs::read_to_string(&threads).unwrap();
        assert_eq!(seen, format!("{expected}\n{expected}\n"), "{resources}");
    }
}

#[test]
fn a_run_past_its_timeout_is_killed_and_recorded() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(1, "timeout = \"0.2s\"");
    let layout = prepare(&experiment, reports.path());
    let worker = sh("echo started; sleep 30");
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(summary.now.failed, 1);
    let error = recorded_error(&layout, &experiment.runs[0]);
    assert!(
        error.contains("timed out after 200ms") && error.contains("started"),
        "{error}"
    );
}

#[test]
fn a_dead_worker_is_retried_and_a_recorded_failure_is_not() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(1, "retries = 2");
    let layout = prepare(&experiment, reports.path());
    // Dies on the first two attempts, completes on the third.
    let attempts = layout.root.join("attempts.log");
    let worker = completing_after(
        &layout.root,
        &format!(
            "echo x >> {a}; if [ $(wc -l < {a}) -lt 3 ]; then kill -9 $$; fi",
            a = attempts.display()
        ),
    );
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!((summary.now.completed, summary.now.failed), (1, 0));
    assert_eq!(
        std::fs::read_to_string(&attempts).unwrap().lines().count(),
        3
    );
}

#[test]
fn retry_failed_reruns_failed_runs_only() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(2, "");
    let layout = prepare(&experiment, reports.path());
    let failing = sh("exit 1");
    let first = sweep(&experiment, &layout, &failing).unwrap();
    assert_eq!(first.now.failed, 2);
    let worker = completing_worker(&layout.root);
    let plain = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!((plain.now.total(), plain.before.failed), (0, 2));
    let retried = sweep_retrying(&experiment, &layout, &worker).unwrap();
    assert_eq!(
        (
            retried.now.completed,
            retried.now.failed,
            retried.before.total()
        ),
        (2, 0, 0)
    );
    let again = sweep_retrying(&experiment, &layout, &worker).unwrap();
    assert_eq!((again.now.total(), again.before.completed), (0, 2));
}

#[test]
fn a_live_lock_holder_is_named_and_a_dead_one_is_taken_over() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(1, "");
    let layout = prepare(&experiment, reports.path());
    let worker = completing_worker(&layout.root);
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let lock = layout.root.join("sweep.lock");
    std::fs::write(&lock, format!("{}\n", holder.id())).unwrap();
    let error = sweep(&experiment, &layout, &worker).unwrap_err();
    assert!(
        error.to_string().contains(&format!("pid {}", holder.id())),
        "{error}"
    );
    assert!(finished_result(&layout.run_dir(&experiment.runs[0])).is_none());
    holder.kill().unwrap();
    holder.wait().unwrap();
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(summary.now.completed, 1);
    assert!(!lock.exists(), "the lock is released when the sweep ends");
}

#[test]
fn a_stop_request_lets_running_runs_finish_and_starts_no_more() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = experiment(3, "");
    let layout = prepare(&experiment, reports.path());
    let worker = timed_worker(&layout.root, 0.5);
    let options = SweepOptions::default();
    let stop = options.stop.clone();
    let requester = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::SeqCst);
    });
    let summary = run_sweep(
        &experiment,
        "spec",
        &layout,
        &worker,
        &options,
        &mut NoProgress,
    )
    .unwrap();
    requester.join().unwrap();
    assert_eq!(
        (
            summary.now.completed,
            summary.now.failed,
            summary.unfinished
        ),
        (1, 0, 2)
    );
    assert!(finished_result(&layout.run_dir(&experiment.runs[1])).is_none());
    let resumed = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!((resumed.now.completed, resumed.before.total()), (2, 1));
}

#[test]
fn runs_go_only_to_slots_that_offer_their_backend() {
    let reports = tempfile::tempdir().unwrap();
    let experiment = parse(
        "[[resources.slots]]\ndevice = \"cpu\"\nbackends = [\"flex\"]\n\
         [[resources.slots]]\ndevice = \"cuda:1\"\nbackends = [\"tch\"]\n\
         [sweep.parameters]\n\"train.backend\" = [\"flex\", \"tch\"]\n\"model.latent\" = [2, 3]\n",
    );
    let layout = prepare(&experiment, reports.path());
    let devices = layout.root.join("devices.log");
    let worker = completing_after(
        &layout.root,
        &format!(
            "echo \"$(basename \"$1\") $2 $3\" >> {}; sleep 0.2",
            devices.display()
        ),
    );
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(summary.now.completed, 4);
    let log = std::fs::read_to_string(devices).unwrap();
    for run in &experiment.runs {
        let device = match run.config.train.backend {
            Backend::Flex => "cpu",
            _ => "cuda:1",
        };
        let line = format!("{} --device {device}", run.id);
        assert!(log.lines().any(|l| l == line), "{line} not in\n{log}");
    }
    // One worker per slot: the two slots ran side by side, never more.
    assert_eq!(log.lines().count(), 4);
}

/// A worker that trains its runs (one, or a pack) for four epochs, 0.3 s apart, appending to
/// each run's `metrics.jsonl` a record with `val_loss` v / epoch, where v is the `values` entry
/// at the run's latent size (1-based), then completes them. As the real worker does, it drops
/// a run whose result appears meanwhile (pruned), and leaves a result already there alone.
fn epoch_worker(root: &Path, values: &str) -> WorkerCommand {
    sh(&format!(
        "set -C; for e in 1 2 3 4; do \
           for dir in \"$@\"; do \
             [ \"$dir\" = --device ] && break; \
             [ -e \"$dir/result.json\" ] && continue; \
             latent=$(sed -n 's/^latent = //p' \"$dir/config.toml\"); \
             v=$(echo '{values}' | cut -d' ' -f$latent); \
             loss=$(awk \"BEGIN {{ print $v / $e }}\"); \
             echo \"{{\\\"epoch\\\":$e,\\\"train_loss\\\":1.0,\\\"val_loss\\\":$loss,\\\"seconds\\\":0.3}}\" >> \"$dir/metrics.jsonl\"; \
           done; \
           sleep 0.3; \
         done; \
         for dir in \"$@\"; do \
           [ \"$dir\" = --device ] && break; \
           printf '{{\"id\":\"%s\",\"status\":\"completed\",\"config\":%s,\"metrics\":{{\"test_mse\":0.5}}}}' \
             \"$(basename \"$dir\")\" \"$(cat {config_json})\" > \"$dir/result.json\" 2>/dev/null; \
         done; true",
        config_json = root.join("config.json").display(),
    ))
}

#[test]
fn successive_halving_prunes_runs_outside_the_best_fraction_of_each_rung_alone_or_packed() {
    for pack in [1, 6] {
        let reports = tempfile::tempdir().unwrap();
        // One worker, so runs reach the rungs in sweep order; rungs at epochs 1 and 2 (4 is
        // last). Packed, the six runs train in that one worker together.
        let experiment = experiment(
            6,
            &format!(
                "pack = {pack}\n[train]\nepochs = 4\n\
                 [sweep.pruning]\ngrace_epochs = 1\nreduction_factor = 2\n"
            ),
        );
        let layout = prepare(&experiment, reports.path());
        let worker = epoch_worker(&layout.root, "3 5 1 4 2 6");
        let summary = sweep(&experiment, &layout, &worker).unwrap();
        assert_eq!(
            (summary.now.completed, summary.now.pruned),
            (2, 4),
            "{summary:?}"
        );
        // Epoch 1: 3 goes on (first); 5 > 3 stops; 1 goes on; 4 is not in the best 2 of
        // {3, 5, 1, 4}; 2 is in the best 2 of five; 6 is not in the best 3 of six.
        // Epoch 2: 1.5 goes on (first); 0.5 goes on; 1.0 is not the best of {1.5, 0.5, 1.0}.
        let expected = [
            (1, RunStatus::Completed, 4.0),
            (2, RunStatus::Pruned, 1.0),
            (3, RunStatus::Completed, 4.0),
            (4, RunStatus::Pruned, 1.0),
            (5, RunStatus::Pruned, 2.0),
            (6, RunStatus::Pruned, 1.0),
        ];
        for (run, (latent, status, epochs)) in experiment.runs.iter().zip(expected) {
            assert_eq!(run.config.model.latent, latent);
            let run_dir = layout.run_dir(run);
            let result = finished_result(&run_dir).unwrap();
            assert_eq!(
                result.status, status,
                "pack {pack}, latent {latent}: {result:?}"
            );
            let trained = read_epochs(&run_dir.join(METRICS_FILE)).len();
            if status == RunStatus::Pruned {
                assert_eq!(result.metrics["epochs_run"], epochs, "latent {latent}");
                let reason = result.error.unwrap();
                assert!(
                    reason.starts_with(&format!("pruned at epoch {epochs}: val_loss")),
                    "{reason}"
                );
                // Its worker stopped training it, while a packed one trained the others on.
                assert!(
                    trained < 4,
                    "pack {pack}, latent {latent}: {trained} epochs"
                );
            } else {
                assert_eq!(trained, 4, "pack {pack}, latent {latent}");
            }
        }
        // A resumed sweep keeps the pruned runs as they are.
        let again = sweep(&experiment, &layout, &worker).unwrap();
        assert_eq!(
            (again.now.total(), again.before.total(), again.before.pruned),
            (0, 6, 4)
        );
    }
}

#[test]
fn runs_that_agree_train_in_packs_of_at_most_resources_pack_and_end_one_by_one() {
    let reports = tempfile::tempdir().unwrap();
    // Five MLP runs that differ in learning rate pack as 3 + 2; the conv runs train alone.
    let experiment = parse(
        "[resources]\npack = 3\n[sweep]\nzip = [[\"train.learning_rate\", \"model.architecture\"]]\n\
         [sweep.parameters]\n\
         \"train.learning_rate\" = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]\n\
         \"model.architecture\" = [\"mlp\", \"mlp\", \"mlp\", \"mlp\", \"mlp\", \"conv\", \"conv\"]\n",
    );
    assert_eq!(experiment.runs.len(), 7);
    let layout = prepare(&experiment, reports.path());
    // Each worker logs its run folders on one line, then completes them one at a time.
    let calls = layout.root.join("calls.log");
    let worker = sh(&format!(
        "echo \"$*\" >> {calls}; for dir in \"$@\"; do \
         [ \"$dir\" = --device ] && break; \
         printf '{{\"id\":\"%s\",\"status\":\"completed\",\"config\":%s,\"metrics\":{{}}}}' \
         \"$(basename \"$dir\")\" \"$(cat {config_json})\" > \"$dir/result.json\"; done",
        calls = calls.display(),
        config_json = layout.root.join("config.json").display(),
    ));
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(summary.now.completed, 7);
    let calls = std::fs::read_to_string(&calls).unwrap();
    let runs_per_worker: Vec<usize> = calls
        .lines()
        .map(|line| line.split(' ').take_while(|arg| *arg != "--device").count())
        .collect();
    let planned: Vec<usize> = packs(&experiment).iter().map(Vec::len).collect();
    assert_eq!(planned, runs_per_worker, "{calls}");
    let mut sizes = runs_per_worker;
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 1, 2, 3], "{calls}");
    for run in &experiment.runs {
        assert!(
            finished_result(&layout.run_dir(run)).is_some(),
            "{}",
            run.id.as_str()
        );
        // One log, linked into every folder of the pack.
        assert!(layout.run_dir(run).join(WORKER_LOG).exists());
    }
}

/// A TPE search of `samples` learning rates in packs of 3, whose runs' `test_mse` is
/// `ln(lr / optimum)²`, swept by a worker that completes each run of its pack; with the layout
/// and the worker.
fn learning_rate_search(
    reports: &Path,
    samples: usize,
    optimum: f64,
) -> (Experiment, SweepLayout, WorkerCommand) {
    let experiment = parse(&format!(
        "[resources]\npack = 3\n[sweep]\nstrategy = \"tpe\"\nsamples = {samples}\n\
         [sweep.parameters]\n\"train.learning_rate\" = {{ log_uniform = [1e-4, 1e-1] }}\n"
    ));
    let layout = SweepLayout::new(reports, &experiment);
    std::fs::create_dir_all(&layout.root).unwrap();
    let search = experiment.search.as_ref().unwrap();
    let config = &search.runs(&[toml::Value::Float(1e-3)]).unwrap()[0].config;
    let config_json = layout.root.join("config.json");
    std::fs::write(&config_json, serde_json::to_string(config).unwrap()).unwrap();
    let worker = sh(&format!(
        "echo \"$*\" >> {calls}; for dir in \"$@\"; do \
         [ \"$dir\" = --device ] && break; \
         lr=$(sed -n 's/^learning_rate = //p' \"$dir/config.toml\"); \
         mse=$(awk -v lr=\"$lr\" 'BEGIN {{ d = log(lr / {optimum}); printf \"%.17g\", d * d }}'); \
         printf '{{\"id\":\"%s\",\"status\":\"completed\",\"config\":%s,\"metrics\":{{\"test_mse\":%s}}}}' \
         \"$(basename \"$dir\")\" \"$(cat {config_json})\" \"$mse\" > \"$dir/result.json\"; done",
        calls = layout.root.join("calls.log").display(),
        config_json = config_json.display(),
    ));
    (experiment, layout, worker)
}

/// The runs the sweep record of `layout` lists, in the order proposed.
fn recorded_runs(layout: &SweepLayout) -> Vec<RunId> {
    SweepRecord::read(&layout.root).unwrap().unwrap().runs
}

/// The learning rate of run `id`, from the configuration its worker was given.
fn learning_rate(layout: &SweepLayout, id: &RunId) -> f64 {
    let text = std::fs::read_to_string(layout.run_dir_of(id).join(CONFIG_FILE)).unwrap();
    let config: toml::Table = text.parse().unwrap();
    config["train"]["learning_rate"].as_float().unwrap()
}

#[test]
fn a_tpe_search_fills_each_pack_learns_from_results_and_resumes_what_it_would_have_proposed() {
    let reports = tempfile::tempdir().unwrap();
    let (experiment, layout, worker) = learning_rate_search(reports.path(), 13, 3e-3);
    let summary = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!(summary.now.completed, 13);
    // Batches of 3 (one pack of the one worker), proposed once the batch before has finished.
    let calls = std::fs::read_to_string(layout.root.join("calls.log")).unwrap();
    let packs: Vec<usize> = (calls.lines())
        .map(|line| line.split(' ').take_while(|arg| *arg != "--device").count())
        .collect();
    assert_eq!(packs, [3, 3, 3, 3, 1], "{calls}");
    let proposed = recorded_runs(&layout);
    assert_eq!(proposed.len(), 13);

    // A sweep of a smaller budget proposes the first configurations, and growing its budget
    // resumes it into the same sweep.
    let other = tempfile::tempdir().unwrap();
    let (smaller, grown_layout, grown_worker) = learning_rate_search(other.path(), 7, 3e-3);
    sweep(&smaller, &grown_layout, &grown_worker).unwrap();
    assert_eq!(recorded_runs(&grown_layout), proposed[..7]);
    let grown = sweep(&experiment, &grown_layout, &grown_worker).unwrap();
    assert_eq!((grown.before.completed, grown.now.completed), (7, 6));
    assert_eq!(recorded_runs(&grown_layout), proposed);

    // A sweep killed in its last batch trains that batch's unfinished runs, and nothing else.
    for id in &proposed[11..] {
        std::fs::remove_file(layout.run_dir_of(id).join(RESULT_FILE)).unwrap();
    }
    let resumed = sweep(&experiment, &layout, &worker).unwrap();
    assert_eq!((resumed.before.completed, resumed.now.completed), (11, 2));
    assert_eq!(recorded_runs(&layout), proposed);

    // The first 12 configurations are drawn at random (10 startup trials, and the batch that
    // holds the 10th); the 13th comes from the results, toward each objective's optimum.
    let elsewhere = tempfile::tempdir().unwrap();
    let (low, low_layout, low_worker) = learning_rate_search(elsewhere.path(), 13, 1e-4);
    sweep(&low, &low_layout, &low_worker).unwrap();
    let low_proposed = recorded_runs(&low_layout);
    assert_eq!(low_proposed[..12], proposed[..12]);
    // Those are the draws of the random sweep it is measured against.
    let random = parse(
        "[resources]\npack = 3\n[sweep]\nstrategy = \"random\"\nsamples = 13\n\
         [sweep.parameters]\n\"train.learning_rate\" = { log_uniform = [1e-4, 1e-1] }\n",
    );
    let random_ids: Vec<RunId> = random.runs.iter().map(|run| run.id.clone()).collect();
    assert_eq!(random_ids[..12], proposed[..12]);
    assert_ne!(random_ids[12], proposed[12]);
    let (toward_high, toward_low) = (
        learning_rate(&layout, &proposed[12]),
        learning_rate(&low_layout, &low_proposed[12]),
    );
    assert!(
        toward_low < toward_high,
        "the 13th learning rate: {toward_low} toward 1e-4, {toward_high} toward 3e-3"
    );
}
