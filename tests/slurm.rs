//! Sweeps through a real Slurm: `executor = "slurm"` on the single-node cluster that
//! `cargo xtask ci` starts on this machine (slurmctld, slurmd and munge from Debian, through
//! `xtask/slurm/start-slurm.sh`). Each run, or each pack of runs, is a task of a job array
//! running the real worker.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{hourglass, read_json, run_dirs, run_id, run_sweep, sweep_command, text};

/// Fails the test with what to do when no Slurm answers.
fn require_slurm() {
    let up = Command::new("sinfo")
        .args(["--noheader", "--format=%a"])
        .output()
        .is_ok_and(|out| out.status.success() && text(&out.stdout).contains("up"));
    assert!(
        up,
        "no Slurm cluster answers `sinfo`: `cargo xtask ci` starts one on this machine \
         (xtask/slurm/start-slurm.sh, as root)"
    );
}

/// A spec of six small MNIST runs (latent 2 to 64) through Slurm, two at once.
fn slurm_spec(dir: &Path, name: &str, epochs: usize) -> PathBuf {
    spec_through_slurm(
        dir,
        name,
        epochs,
        "",
        "\"model.latent\" = [2, 4, 8, 16, 32, 64]",
    )
}

/// A spec of small MNIST runs through Slurm, two tasks at once, with `resources` added to its
/// `[resources]` and the sweep `parameters`; an sbatch option hourglass does not set passes
/// through `extra_args`.
fn spec_through_slurm(
    dir: &Path,
    name: &str,
    epochs: usize,
    resources: &str,
    parameters: &str,
) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let spec = format!(
        "[experiment]\nname = \"{name}\"\nseed = 11\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.05\ntrain_limit = 1000\ntest_limit = 200\n\n[model]\nhidden = [32]\n\n\
         [train]\nbatch_size = 100\nlearning_rate = 3e-3\nepochs = {epochs}\n\n\
         [resources]\nexecutor = \"slurm\"\nthreads_per_worker = 1\n{resources}\n\
         [resources.slurm]\ncpus_per_task = 1\narray_parallelism = 2\ntime_limit = \"10m\"\n\
         extra_args = [\"--comment=hourglass test\"]\n\n\
         [sweep.parameters]\n{parameters}\n"
    );
    std::fs::write(&path, spec).unwrap();
    path
}

/// The runs of each array task the sweep submitted, from `slurm/jobs.json`: a lone run's id,
/// or a pack's ids.
fn submitted_tasks(sweep: &Path) -> Vec<Vec<String>> {
    let id = |run: &serde_json::Value| run.as_str().unwrap().to_string();
    read_json(&sweep.join("slurm/jobs.json"))
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|job| job["runs"].as_array().unwrap().clone())
        .map(|task| match task.as_array() {
            Some(pack) => pack.iter().map(id).collect(),
            None => vec![id(&task)],
        })
        .collect()
}

/// The runs each job array of the sweep was submitted with.
fn submitted_runs(sweep: &Path) -> Vec<String> {
    submitted_tasks(sweep).into_iter().flatten().collect()
}

/// The statuses of the runs with a result so far.
fn statuses(sweep: &Path) -> Vec<String> {
    if !sweep.join("runs").exists() {
        return Vec::new();
    }
    run_dirs(sweep)
        .iter()
        .filter_map(|run| {
            let result = run.join("result.json");
            result
                .exists()
                .then(|| read_json(&result)["status"].as_str().unwrap().to_string())
        })
        .collect()
}

#[test]
fn six_runs_complete_as_array_tasks_and_a_failing_task_reports_its_exit_code() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let spec = slurm_spec(dir.path(), "slurm-six", 2);
    let listing = text(&hourglass(&["validate", spec.to_str().unwrap()]).stdout);
    let panicking = run_id(&listing, "-32-8 on mnist");
    let reports = dir.path().join("reports");
    // The environment reaches the tasks (sbatch exports it): one worker panics.
    let output = sweep_command(&spec, &reports)
        .env("HOURGLASS_INJECT_PANIC", &panicking)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    eprintln!("{stdout}\n{}", text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("slurm-six: 5 completed, 1 failed"),
        "{stdout}"
    );
    let sweep = reports.join("slurm-six");
    assert_eq!(submitted_runs(&sweep).len(), 6);
    for run in run_dirs(&sweep) {
        let result = read_json(&run.join("result.json"));
        let log = std::fs::read_to_string(run.join("worker.log")).unwrap();
        if run.ends_with(&panicking) {
            let error = result["error"].as_str().unwrap();
            assert!(
                error.starts_with("Slurm task ")
                    && error.contains("ended FAILED without a result (exit code 101)")
                    && error.contains("injected by HOURGLASS_INJECT_PANIC after epoch 1"),
                "{error}"
            );
        } else {
            assert_eq!(result["status"], "completed", "{result}");
            assert!(result["metrics"]["test_mse"].as_f64().unwrap() < 0.1);
            assert!(log.contains("epoch 2/2"), "{log}");
        }
    }
    // A second sweep submits nothing: every run has its result.
    let again = run_sweep(&spec, &reports);
    assert!(text(&again.stdout).contains("6 already finished"));
    assert_eq!(submitted_runs(&sweep).len(), 6);
}

/// A spec of one MNIST run of about two minutes on one core; through Slurm in tasks limited
/// to one minute, told to stop 45 s before it, or else on this machine. slurmctld looks for
/// tasks to signal every 30 s, so a grace under 30 s can be missed.
fn long_run_spec(dir: &Path, executor: &str) -> PathBuf {
    let path = dir.join(format!("long-{executor}.toml"));
    let slurm = if executor == "slurm" {
        "[resources.slurm]\ncpus_per_task = 1\ntime_limit = \"1m\"\nsignal_grace = \"45s\"\n"
    } else {
        ""
    };
    let spec = format!(
        "[experiment]\nname = \"long\"\nseed = 5\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.05\ntrain_limit = 30000\ntest_limit = 500\n\n[model]\nhidden = [256]\n\
         latent = 16\n\n[train]\nbatch_size = 100\nlearning_rate = 1e-3\nepochs = 40\n\n\
         [resources]\nexecutor = \"{executor}\"\nthreads_per_worker = 1\n\n{slurm}"
    );
    std::fs::write(&path, spec).unwrap();
    path
}

/// Lets the requeued tasks of job array `job` start at once: Slurm holds a requeued batch job
/// for two minutes (`Reason=BeginTime`) before it may run again.
fn release_requeued(job: &str) {
    let pending = Command::new("squeue")
        .args(["--noheader", "--array", "--jobs", job, "--states=PENDING"])
        .args(["--format=%i %r"])
        .output()
        .unwrap();
    for line in text(&pending.stdout).lines() {
        if let Some((task, "BeginTime")) = line.split_once(' ') {
            let update = Command::new("scontrol")
                .args(["update", &format!("JobId={task}"), "StartTime=now"])
                .status()
                .unwrap();
            assert!(update.success(), "cannot release {task}");
        }
    }
}

#[test]
fn a_run_longer_than_the_time_limit_finishes_over_requeued_tasks_with_the_same_result() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    // The run trained in one go, on this machine's second core meanwhile.
    let local_reports = dir.path().join("local");
    let mut local = sweep_command(&long_run_spec(dir.path(), "local"), &local_reports)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let reports = dir.path().join("slurm");
    let sweep = reports.join("long");
    let mut orchestrator = sweep_command(&long_run_spec(dir.path(), "slurm"), &reports)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(900);
    while orchestrator.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the run did not finish in 15 minutes"
        );
        if let Ok(jobs) = std::fs::read_to_string(sweep.join("slurm/jobs.json")) {
            let jobs: serde_json::Value = serde_json::from_str(&jobs).unwrap();
            release_requeued(jobs[0]["job"].as_str().unwrap());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let output = orchestrator.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(local.wait().unwrap().success());
    assert_eq!(
        submitted_runs(&sweep).len(),
        1,
        "the run was submitted again"
    );

    let job = read_json(&sweep.join("slurm/jobs.json"))[0]["job"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = Command::new("scontrol")
        .args(["--oneliner", "show", "job", &job])
        .output()
        .unwrap();
    let restarts: usize = text(&shown.stdout)
        .split_whitespace()
        .find_map(|field| field.strip_prefix("Restarts="))
        .and_then(|count| count.parse().ok())
        .unwrap();
    let run = &run_dirs(&sweep)[0];
    let log = std::fs::read_to_string(run.join("worker.log")).unwrap();
    eprintln!("{restarts} restarts\n{log}");
    assert!(restarts >= 1, "{log}");
    // The log of every task of the run, in turn.
    assert_eq!(
        log.matches("requeueing Slurm job").count(),
        restarts,
        "{log}"
    );
    assert_eq!(
        log.matches("resuming from the checkpoint").count(),
        restarts,
        "{log}"
    );

    let expected = &run_dirs(&local_reports.join("long"))[0];
    assert_eq!(expected.file_name(), run.file_name());
    let records = |run: &Path| std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let losses = |text: String| -> Vec<(serde_json::Value, serde_json::Value)> {
        text.lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .map(|record| (record["train_loss"].clone(), record["val_loss"].clone()))
            .collect()
    };
    let (want, got) = (losses(records(expected)), losses(records(run)));
    assert_eq!(got.len(), 40);
    assert_eq!(
        want, got,
        "the epochs' losses differ from the uninterrupted run's"
    );
    let metrics = |run: &Path| read_json(&run.join("result.json"))["metrics"]["test_mse"].clone();
    assert_eq!(metrics(expected), metrics(run));
    assert!(!run.join("checkpoint.safetensors").exists());
}

#[test]
fn a_pack_of_runs_trains_in_one_array_task() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let spec = spec_through_slurm(
        dir.path(),
        "slurm-packs",
        2,
        "pack = 3",
        "\"train.learning_rate\" = [1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3]",
    );
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec, &reports);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("slurm-packs: 6 completed"), "{stdout}");
    let sweep = reports.join("slurm-packs");
    let tasks = submitted_tasks(&sweep);
    assert_eq!(tasks.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3]);
    for run in run_dirs(&sweep) {
        let result = read_json(&run.join("result.json"));
        assert_eq!(result["status"], "completed", "{result}");
        // The task's log, copied to each of its runs, has every run's epochs.
        let id = run.file_name().unwrap().to_str().unwrap();
        let task = tasks
            .iter()
            .find(|task| task.iter().any(|r| r == id))
            .unwrap();
        let log = std::fs::read_to_string(run.join("worker.log")).unwrap();
        for packed in task {
            assert!(log.contains(&format!("{packed}: epoch 2/2")), "{log}");
        }
    }
    let again = run_sweep(&spec, &reports);
    assert!(text(&again.stdout).contains("6 already finished"));
    assert_eq!(submitted_runs(&sweep).len(), 6);
}

#[test]
fn a_killed_orchestrator_adopts_its_running_tasks_instead_of_resubmitting() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let spec = slurm_spec(dir.path(), "slurm-resume", 4);
    let reports = dir.path().join("reports");
    let sweep = reports.join("slurm-resume");
    let mut orchestrator = sweep_command(&spec, &reports).spawn().unwrap();
    // Kill it once the first runs have finished, while others are queued or running.
    let deadline = Instant::now() + Duration::from_secs(300);
    while statuses(&sweep).is_empty() {
        assert!(Instant::now() < deadline, "no run finished in time");
        std::thread::sleep(Duration::from_millis(200));
    }
    orchestrator.kill().unwrap();
    orchestrator.wait().unwrap();
    let finished_at_kill = statuses(&sweep).len();
    assert!(finished_at_kill < 6, "every run finished before the kill");

    let output = run_sweep(&spec, &reports);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert_eq!(statuses(&sweep), vec!["completed"; 6]);
    // One job array of six tasks, none submitted twice.
    let mut submitted = submitted_runs(&sweep);
    submitted.sort();
    submitted.dedup();
    assert_eq!(submitted.len(), 6);
    assert_eq!(submitted_runs(&sweep).len(), 6, "a run was submitted again");
    assert!(
        stdout.contains("already finished"),
        "the resumed sweep skipped nothing: {stdout}"
    );
}

#[test]
fn an_interrupted_sweep_cancels_its_tasks() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let spec = slurm_spec(dir.path(), "slurm-cancel", 20);
    let reports = dir.path().join("reports");
    let sweep = reports.join("slurm-cancel");
    let mut orchestrator = sweep_command(&spec, &reports).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !sweep.join("slurm/jobs.json").exists() {
        assert!(Instant::now() < deadline, "nothing was submitted");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    let interrupt = Command::new("kill")
        .args(["-INT", &orchestrator.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupt.success());
    let status = orchestrator.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let job = read_json(&sweep.join("slurm/jobs.json"))[0]["job"]
        .as_str()
        .unwrap()
        .to_string();
    // Cancelled tasks leave the queue within a few seconds and record no result.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let queue = Command::new("squeue")
            .args([
                "--noheader",
                "--array",
                "--jobs",
                &job,
                "--states=PENDING,RUNNING",
            ])
            .output()
            .unwrap();
        if text(&queue.stdout).trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "tasks still queued: {}",
            text(&queue.stdout)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(statuses(&sweep).is_empty(), "{:?}", statuses(&sweep));
}

/// The real sbatch reads an unambiguous prefix of a long option as the option
/// (`getopt_long`), so a prefix of an option hourglass sets would override it: validate
/// refuses every prefix of each.
#[test]
fn validate_refuses_every_prefix_of_the_options_hourglass_gives_sbatch() {
    require_slurm();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("by-prefix.log");
    let submitted = Command::new("sbatch")
        .args(["--wait", "--quiet", "--wrap=echo read as --output"])
        .arg(format!("--outp={}", log.display()))
        .output()
        .unwrap();
    assert!(submitted.status.success(), "{}", text(&submitted.stderr));
    let written = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(written.contains("read as --output"), "{written:?}");

    for option in hourglass_spec::RESERVED_SBATCH_OPTIONS {
        for end in 3..=option.len() {
            let prefix = &option[..end];
            let spec = spec_through_slurm(dir.path(), "prefix", 1, "", "\"model.latent\" = [2]");
            let text_of_spec = std::fs::read_to_string(&spec).unwrap().replace(
                "extra_args = [\"--comment=hourglass test\"]",
                &format!("extra_args = [\"{prefix}=x\"]"),
            );
            std::fs::write(&spec, text_of_spec).unwrap();
            let output = hourglass(&["validate", spec.to_str().unwrap()]);
            let stderr = text(&output.stderr);
            assert_eq!(output.status.code(), Some(1), "{prefix}: {stderr}");
            assert!(stderr.contains(option), "{prefix}: {stderr}");
        }
    }
}
