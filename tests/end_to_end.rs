//! End-to-end tests: the real `hourglass` binary on real MNIST (small subsets), in a temporary
//! reports folder, checking the files a user and later tools rely on.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{hourglass, read_json, run_dirs, run_id, run_sweep, sweep_command, text};
use serde_json::Value;

/// Writes a spec of two small MNIST runs (latent 4 and 16) into `dir`.
fn small_spec(dir: &Path, name: &str, train: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    let spec = format!(
        "[experiment]\nname = \"{name}\"\nseed = 3\n\n[data]\ndataset = \"mnist\"\nvalidation = 0.05\n\
         train_limit = 2000\ntest_limit = 500\n\n[model]\nhidden = [64]\n\n[train]\n{train}\n\
         batch_size = 100\nepochs = 2\n\n[sweep.parameters]\n\"model.latent\" = [4, 16]\n"
    );
    std::fs::write(&path, spec).unwrap();
    path
}

#[test]
fn validate_lists_the_runs_of_the_quickstart() {
    let output = hourglass(&["validate", "experiments/quickstart.toml"]);
    assert!(output.status.success());
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("quickstart: 3 runs: 3 vanilla\n"),
        "{stdout}"
    );
    for latent in ["model.latent=2", "model.latent=8", "model.latent=32"] {
        assert_eq!(stdout.matches(latent).count(), 1, "{stdout}");
    }
}

#[test]
fn validate_refuses_a_bad_spec_with_its_location() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"bad\"\n[data]\ndataset = \"mnist\"\n[model]\nlatnet = 3\n",
    )
    .unwrap();
    let output = hourglass(&["validate", spec.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("bad.toml:6:1"), "{stderr}");
    assert!(stderr.contains("did you mean `latent`?"), "{stderr}");
}

#[test]
fn a_spec_cannot_make_the_sweep_write_or_read_outside_its_folders() {
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("deep/reports");
    std::fs::create_dir_all(&reports).unwrap();
    for (name, dataset) in [
        ("../../escaped", "mnist"),
        ("/tmp/escaped", "mnist"),
        ("inside", "../../../etc"),
        ("inside", "/etc"),
    ] {
        let spec = dir.path().join("spec.toml");
        std::fs::write(
            &spec,
            format!("[experiment]\nname = {name:?}\n[data]\ndataset = {dataset:?}\n"),
        )
        .unwrap();
        let output = run_sweep(&spec, &reports);
        assert_eq!(output.status.code(), Some(1), "{name} {dataset}");
        let stderr = text(&output.stderr);
        let expected = if name == "inside" {
            format!("unknown data set `{dataset}`")
        } else {
            format!("name {name:?} cannot be a folder name")
        };
        assert!(stderr.contains(&expected), "{stderr}");
        // Nothing was written: not under reports/, not beside it, not in /tmp.
        assert_eq!(std::fs::read_dir(&reports).unwrap().count(), 0);
        assert!(!dir.path().join("escaped").exists() && !Path::new("/tmp/escaped").exists());
    }
}

#[test]
fn sweep_writes_every_file_and_a_second_sweep_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_spec(dir.path(), "e2e", "learning_rate = 3e-3");
    let reports = dir.path().join("reports");

    let output = run_sweep(&spec, &reports);
    assert!(output.status.success());
    let sweep = reports.join("e2e");
    let runs = run_dirs(&sweep);
    assert_eq!(runs.len(), 2);
    for run in &runs {
        for file in [
            "config.toml",
            "metrics.jsonl",
            "result.json",
            "worker.log",
            "codes.csv",
            "model.safetensors",
            "model.json",
        ] {
            assert!(run.join(file).is_file(), "{} lacks {file}", run.display());
        }
        let card = read_json(&run.join("model.json"));
        assert_eq!(card["run_id"], run.file_name().unwrap().to_str().unwrap());
        assert_eq!(card["model"]["input_shape"], serde_json::json!([1, 28, 28]));
        assert_eq!(card["data"]["dataset"], "mnist");
        let result = read_json(&run.join("result.json"));
        assert_eq!(result["status"], "completed", "{result}");
        assert_eq!(
            result["id"].as_str().unwrap(),
            run.file_name().unwrap().to_str().unwrap()
        );
        let metrics = &result["metrics"];
        for name in [
            "test_mse",
            "test_psnr_db",
            "test_loss",
            "train_seconds",
            "samples_per_second",
        ] {
            assert!(metrics[name].as_f64().unwrap() > 0.0, "{name} in {metrics}");
        }
        assert_eq!(metrics["epochs_run"], 2.0);
        let mse = metrics["test_mse"].as_f64().unwrap();
        let psnr = metrics["test_psnr_db"].as_f64().unwrap();
        assert!(
            mse < 0.1,
            "two epochs should beat the 0.11 of predicting zeros: {mse}"
        );
        assert!((psnr - 10.0 * (1.0 / mse).log10()).abs() < 1e-9);
        let epochs = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        assert_eq!(epochs.lines().count(), 2);
        let last: Value = serde_json::from_str(epochs.lines().last().unwrap()).unwrap();
        assert!(last["val_loss"].as_f64().unwrap() > 0.0);
    }
    let csv = std::fs::read_to_string(sweep.join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    // Swept settings, the primary metric, reconstruction, the other metrics, then timing.
    assert_eq!(
        header,
        "id,status,model.latent,test_mse,test_psnr_db,test_loss,jacobian_frobenius,\
         mean_code_activation,train_seconds,samples_per_second,epochs_run,parameters,error"
    );
    assert_eq!(csv.lines().count(), 3);
    let html = std::fs::read_to_string(sweep.join("index.html")).unwrap();
    // Loss curves, test_mse against the latent size, the best run's latent map, and the
    // search's parallel coordinates and history (two runs are too few for importances).
    assert_eq!(html.matches("<svg").count(), 5);

    let modified = |run: &Path| {
        std::fs::metadata(run.join("metrics.jsonl"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before: Vec<_> = runs.iter().map(|r| modified(r)).collect();
    let again = run_sweep(&spec, &reports);
    assert!(again.status.success());
    assert!(
        text(&again.stdout).contains("e2e: 0 completed, 0 failed, 0 pruned, 2 already finished")
    );
    let after: Vec<_> = runs.iter().map(|r| modified(r)).collect();
    assert_eq!(before, after, "a finished run was trained again");

    let rebuilt = hourglass(&["report", sweep.to_str().unwrap()]);
    assert!(rebuilt.status.success());
    assert_eq!(
        std::fs::read_to_string(sweep.join("results.csv")).unwrap(),
        csv
    );

    // A task added to the spec evaluates the saved models: the same runs, nothing trained.
    let mut text_of_spec = std::fs::read_to_string(&spec).unwrap();
    text_of_spec.push_str("\n[evaluate]\ntasks = [\"reconstruction\", \"compression\"]\n");
    std::fs::write(&spec, text_of_spec).unwrap();
    let evaluated = run_sweep(&spec, &reports);
    assert!(evaluated.status.success());
    let stdout = text(&evaluated.stdout);
    assert_eq!(
        stdout.matches(": evaluated compression").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("e2e: 0 completed, 0 failed, 0 pruned, 2 already finished"));
    assert_eq!(run_dirs(&sweep), runs);
    let after: Vec<_> = runs.iter().map(|r| modified(r)).collect();
    assert_eq!(before, after, "a finished run was trained again");
    for run in &runs {
        let result = read_json(&run.join("result.json"));
        assert!(result["metrics"]["quantized_psnr_db"].as_f64().unwrap() > 0.0);
        assert_eq!(
            result["metrics"]["epochs_run"], 2.0,
            "training metrics are kept"
        );
        assert_eq!(
            result["config"]["evaluate"]["tasks"],
            serde_json::json!(["reconstruction", "compression"])
        );
        let card = read_json(&run.join("model.json"));
        assert_eq!(
            card["code_ranges"]["low"].as_array().unwrap().len(),
            card["model"]["latent"].as_u64().unwrap() as usize
        );
    }
    assert!(
        std::fs::read_to_string(sweep.join("results.csv"))
            .unwrap()
            .contains("quantized_psnr_db")
    );

    // `hourglass evaluate` does the same from the command line.
    let latent = hourglass(&["evaluate", sweep.to_str().unwrap(), "--tasks", "latent"]);
    assert!(latent.status.success());
    assert_eq!(
        text(&latent.stdout).matches(": evaluated latent").count(),
        2
    );
    for run in &runs {
        let result = read_json(&run.join("result.json"));
        assert!(result["metrics"]["probe_accuracy"].as_f64().unwrap() > 0.1);
        assert!(result["metrics"]["quantized_psnr_db"].as_f64().is_some());
        assert!(run.join("latent.csv").is_file());
    }
    // A saved MNIST model applied to an IDX file, then to the PNGs it wrote.
    let applied = dir.path().join("applied");
    let run = runs[0].to_str().unwrap();
    let idx = common::repo().join("datasets/mnist/t10k-images.idx3-ubyte.gz");
    let output = hourglass(&[
        "apply",
        run,
        idx.to_str().unwrap(),
        "--output",
        applied.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let pngs = applied.join("reconstructions");
    assert_eq!(std::fs::read_dir(&pngs).unwrap().count(), 10_000);
    let again = dir.path().join("again");
    let output = hourglass(&[
        "apply",
        run,
        pngs.to_str().unwrap(),
        "--output",
        again.to_str().unwrap(),
    ]);
    assert!(output.status.success());
    let codes = std::fs::read_to_string(again.join("codes.csv")).unwrap();
    assert_eq!(codes.lines().count(), 10_001);
    assert!(
        codes.starts_with("example,z0,z1,z2,z3\nimage-1.png,"),
        "{}",
        &codes[..80]
    );
    for file in ["codes.parquet", "scores.csv", "scores.parquet"] {
        assert!(again.join(file).is_file(), "{file}");
    }
    // Misfit input is refused, naming what the model expects, and leaves nothing behind.
    let misfit = dir.path().join("misfit.csv");
    std::fs::write(&misfit, "a,b\n1,2\n").unwrap();
    let refused = dir.path().join("refused");
    let output = hourglass(&[
        "apply",
        run,
        misfit.to_str().unwrap(),
        "--output",
        refused.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("2 columns, but the model takes 784 features per example"),
        "{}",
        text(&output.stderr)
    );
    assert!(!refused.exists());
    assert_eq!(
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("partial"))
            .count(),
        0
    );

    let unknown = hourglass(&["evaluate", sweep.to_str().unwrap(), "--tasks", "compresion"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("no task is named `compresion`"));

    // The spec edited (another learning rate) and swept again: two new runs, and the report
    // covers them alone, with the first two kept and listed apart.
    let spec = small_spec(dir.path(), "e2e", "learning_rate = 1e-3");
    let output = run_sweep(&spec, &reports);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("2 runs of earlier versions of the spec kept in runs/"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(run_dirs(&sweep).len(), 4);
    let rows = |csv: &Path| std::fs::read_to_string(csv).unwrap().lines().count() - 1;
    assert_eq!(rows(&sweep.join("results.csv")), 2);
    let page = std::fs::read_to_string(sweep.join("index.html")).unwrap();
    assert!(page.contains("Runs not in the current spec"));
    let all = hourglass(&["report", sweep.to_str().unwrap(), "--all"]);
    assert!(all.status.success(), "{}", text(&all.stderr));
    assert_eq!(rows(&sweep.join("results.csv")), 4);
    // Every sweep under the folder in one table, with every setting.
    let gathered = dir.path().join("all.csv");
    let output = hourglass(&[
        "results",
        reports.to_str().unwrap(),
        "--out",
        gathered.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let table = std::fs::read_to_string(&gathered).unwrap();
    assert!(table.starts_with("experiment,id,status,"), "{table}");
    assert!(
        table
            .lines()
            .next()
            .unwrap()
            .contains("train.learning_rate")
    );
    assert_eq!(table.lines().count(), 1 + 2, "{table}");
}

#[test]
fn a_diverging_run_is_recorded_as_failed_and_the_sweep_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let spec = small_spec(
        dir.path(),
        "diverge",
        "optimizer = \"sgd\"\nlearning_rate = 1e30",
    );
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec, &reports);
    assert_eq!(output.status.code(), Some(1));
    let sweep = reports.join("diverge");
    for run in run_dirs(&sweep) {
        let result = read_json(&run.join("result.json"));
        assert_eq!(result["status"], "failed");
        let error = result["error"].as_str().unwrap();
        assert!(error.starts_with("diverged at epoch 1, step "), "{error}");
    }
    let html = std::fs::read_to_string(sweep.join("index.html")).unwrap();
    assert!(html.contains("Failed runs") && html.contains("diverged at epoch 1"));
}

/// Six runs on two workers, zipped so that one learning rate diverges; a seventh fault, a
/// panic, is injected into another run. The other four complete and the report lists both.
#[test]
fn a_diverging_and_a_panicking_run_fail_alone_in_a_sweep_of_six() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("faults.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"faults\"\nseed = 5\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.05\ntrain_limit = 1000\ntest_limit = 200\n\n[model]\nhidden = [32]\n\n\
         [train]\nbatch_size = 100\nepochs = 2\n\n\
         [resources]\nworkers = 2\nthreads_per_worker = 1\n\n\
         [sweep]\nzip = [[\"model.latent\", \"train.optimizer\", \"train.learning_rate\"]]\n\n\
         [sweep.parameters]\n\"model.latent\" = [2, 4, 8, 16, 32, 64]\n\
         \"train.optimizer\" = [\"adam\", \"adam\", \"sgd\", \"adam\", \"adam\", \"adam\"]\n\
         \"train.learning_rate\" = [3e-3, 3e-3, 1e30, 3e-3, 3e-3, 3e-3]\n",
    )
    .unwrap();
    let validate = hourglass(&["validate", spec.to_str().unwrap()]);
    let listing = text(&validate.stdout);
    assert!(
        listing.starts_with("faults: 6 runs: 6 vanilla\n"),
        "{listing}"
    );
    // The run of latent 64 panics.
    let panicking = run_id(&listing, "-32-64 on mnist");

    let reports = dir.path().join("reports");
    let output = sweep_command(&spec, &reports)
        .env("HOURGLASS_INJECT_PANIC", &panicking)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    eprintln!("{stdout}");
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("faults: 4 completed, 2 failed, 0 pruned"),
        "{stdout}"
    );
    let sweep = reports.join("faults");
    let mut errors = Vec::new();
    for run in run_dirs(&sweep) {
        let result = read_json(&run.join("result.json"));
        let status = result["status"].as_str().unwrap();
        if result["config"]["model"]["latent"] == 64 {
            assert_eq!(run.file_name().unwrap().to_str().unwrap(), panicking);
        }
        match status {
            "completed" => assert!(result["metrics"]["test_mse"].as_f64().unwrap() < 0.1),
            "failed" => errors.push(result["error"].as_str().unwrap().to_string()),
            other => panic!("unexpected status {other}"),
        }
    }
    errors.sort();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("diverged at epoch 1, step "),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("worker exited without a result")
            && errors[1].contains("injected by HOURGLASS_INJECT_PANIC after epoch 1"),
        "{errors:?}"
    );
    let html = std::fs::read_to_string(sweep.join("index.html")).unwrap();
    assert!(html.contains("Failed runs"));
    assert!(
        html.contains("diverged at epoch 1") && html.contains("injected by HOURGLASS_INJECT_PANIC")
    );
}

/// Kills the orchestrator with SIGKILL at several moments of a 12-run sweep (two workers),
/// resuming each time, and checks that no result is ever partial and that the last invocation
/// trains exactly the runs that had no result, each once.
#[test]
fn a_sweep_killed_again_and_again_resumes_to_twelve_complete_runs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("resume.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"resume\"\nseed = 5\n\n[data]\ndataset = \"mnist\"\n\
         train_limit = 300\ntest_limit = 100\n\n[model]\nhidden = [16]\n\n[train]\n\
         batch_size = 50\nepochs = 2\n\n[resources]\nworkers = 2\nthreads_per_worker = 1\n\n\
         [sweep.parameters]\n\"model.latent\" = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let sweep = reports.join("resume");
    let results = || -> Vec<PathBuf> {
        if !sweep.join("runs").exists() {
            return Vec::new();
        }
        run_dirs(&sweep)
            .into_iter()
            .filter(|run| run.join("result.json").exists())
            .collect()
    };
    // Each round kills once the sweep has reached a number of results, plus a delay from a
    // fixed linear congruential sequence: at varied moments of training, but reproducibly.
    let mut state = 12_345u64;
    for (round, target) in [0usize, 2, 4, 7, 10].into_iter().enumerate() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = 50 + (state >> 33) % 700;
        let mut child = sweep_command(&spec, &reports)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while results().len() < target && child.try_wait().unwrap().is_none() {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Orphaned workers notice within 200 ms and stop.
        std::thread::sleep(std::time::Duration::from_millis(400));
        for run in results() {
            let result = read_json(&run.join("result.json"));
            assert_eq!(
                result["status"],
                "completed",
                "round {round}: {}",
                run.display()
            );
        }
        eprintln!(
            "round {round}: killed {delay} ms after {target} results, {} results",
            results().len()
        );
    }
    // The last killed orchestrator saw runs finish long before it died, and rewrote the
    // results table after each: it is readable while a sweep runs.
    let table = std::fs::read_to_string(sweep.join("results.csv")).unwrap();
    assert!(table.lines().count() > 1, "{table}");
    let finished_before: Vec<PathBuf> = results();
    let output = sweep_command(&spec, &reports).output().unwrap();
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    let all = run_dirs(&sweep);
    assert_eq!(all.len(), 12);
    for run in &all {
        let id = run.file_name().unwrap().to_str().unwrap();
        let result = read_json(&run.join("result.json"));
        assert_eq!(result["status"], "completed", "{id}");
        let starts = stdout
            .lines()
            .filter(|l| l.starts_with('[') && l.contains(id))
            .count();
        let expected = usize::from(!finished_before.contains(run));
        assert_eq!(
            starts, expected,
            "{id} started {starts} times in the last invocation"
        );
        let names: Vec<String> = std::fs::read_dir(run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            !names.iter().any(|n| n.contains(".tmp-")),
            "{id}: leftover {names:?}"
        );
    }
    assert!(!sweep.join("sweep.lock").exists());
}

#[test]
fn early_stopping_ends_a_run_once_validation_stops_improving() {
    let dir = tempfile::tempdir().unwrap();
    // No decrease is ever as large as min_delta: the best epoch is the first, and with a
    // patience of 1 training ends after the second of the five epochs.
    let spec_path = small_spec(
        dir.path(),
        "early",
        "early_stopping = { patience = 1, min_delta = 1e9 }",
    );
    let five_epochs = std::fs::read_to_string(&spec_path)
        .unwrap()
        .replace("epochs = 2", "epochs = 5");
    std::fs::write(&spec_path, five_epochs).unwrap();
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec_path, &reports);
    assert!(output.status.success());
    for run in run_dirs(&reports.join("early")) {
        let result = read_json(&run.join("result.json"));
        assert_eq!(result["metrics"]["epochs_run"], 2.0, "{result}");
        let lines = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 2);
    }
}

/// Ctrl-C (SIGINT) stops scheduling: the running run finishes and is kept, nothing is marked
/// failed, the exit code is 130 with a hint to resume, and the same command finishes the rest.
/// The sweep is interrupted, then resumed by pasting the command it printed into a shell: the
/// spec and the reports lie in a folder whose name has a space.
#[test]
fn an_interrupted_sweep_finishes_its_running_run_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("my sweeps");
    std::fs::create_dir(&folder).unwrap();
    let spec = small_spec(&folder, "interrupt", "learning_rate = 1e-3");
    let four_runs = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("[4, 16]", "[4, 8, 12, 16]");
    std::fs::write(&spec, four_runs).unwrap();
    let reports = folder.join("reports");
    let child = sweep_command(&spec, &reports)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let runs = reports.join("interrupt").join("runs");
    while !std::fs::read_dir(&runs).is_ok_and(|mut entries| entries.next().is_some()) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let signal = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(signal.success());
    let output = child.wait_with_output().unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("interrupted"), "{stdout}");
    let finished: Vec<PathBuf> = run_dirs(&reports.join("interrupt"))
        .into_iter()
        .filter(|run| run.join("result.json").exists())
        .collect();
    assert_eq!(finished.len(), 1, "{stdout}");
    assert_eq!(
        read_json(&finished[0].join("result.json"))["status"],
        "completed"
    );

    let hint = stdout
        .lines()
        .find_map(|line| line.split_once("to resume, run the same command again: "))
        .map(|(_, command)| command.to_string())
        .unwrap_or_else(|| panic!("no resume hint in {stdout}"));
    let binaries = Path::new(env!("CARGO_BIN_EXE_hourglass")).parent().unwrap();
    let path = format!("{}:{}", binaries.display(), std::env::var("PATH").unwrap());
    let output = Command::new("sh")
        .args(["-c", &hint])
        .env("PATH", path)
        .current_dir(common::repo())
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{hint}\n{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("3 completed, 0 failed, 0 pruned, 1 already finished"),
        "{stdout}"
    );
}

/// Every command finds the project from a folder inside it, and says which flag to pass from
/// a folder outside any project.
#[test]
fn commands_work_from_any_folder_of_the_project_and_name_the_flag_outside_it() {
    let inside = common::repo().join("crates/cli");
    let output = Command::new(env!("CARGO_BIN_EXE_hourglass"))
        .current_dir(&inside)
        .args(["validate", "../../experiments/quickstart.toml"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("quickstart: 3 runs"));

    let outside = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hourglass"))
        .current_dir(outside.path())
        .arg("datasets")
        .output()
        .unwrap();
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: no hourglass project in") && stderr.contains("--datasets DIR"),
        "{stderr}"
    );
}

/// A reader that stops reading (`hourglass validate SPEC --runs | head -1`) ends the program
/// quietly, with no panic.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    // 4,000 runs (2 configurations, 2,000 seeds): far more listing than a pipe buffers.
    let spec = small_spec(dir.path(), "pipe", "learning_rate = 1e-3")
        .to_string_lossy()
        .into_owned();
    let text_of_spec = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(
        &spec,
        text_of_spec.replace("seed = 3\n", "seed = 3\nrepeats = 2000\n"),
    )
    .unwrap();
    for args in [vec!["validate", spec.as_str(), "--runs"], vec!["datasets"]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hourglass"))
            .current_dir(common::repo())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = text(&output.stderr);
        assert!(!first.is_empty(), "{args:?}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// Five SGD runs that differ in learning rate, packed four to a worker: one run diverges in
/// its pack and fails alone; every other run ends with the test error it has unpacked.
#[test]
fn packed_runs_match_their_unpacked_twins_and_a_diverging_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let spec_with = |pack: usize| {
        let path = dir.path().join(format!("packed-{pack}.toml"));
        std::fs::write(
            &path,
            format!(
                "[experiment]\nname = \"packed\"\nseed = 4\n\n[data]\ndataset = \"mnist\"\n\
                 validation = 0.05\ntrain_limit = 1000\ntest_limit = 200\n\n[model]\n\
                 hidden = [32]\nlatent = 8\n\n[train]\noptimizer = \"sgd\"\nbatch_size = 100\n\
                 epochs = 2\n\n[resources]\npack = {pack}\n\n[sweep.parameters]\n\
                 \"train.learning_rate\" = [0.05, 0.1, 0.2, 1e30, 0.3]\n"
            ),
        )
        .unwrap();
        path
    };
    let (packed, alone) = (spec_with(4), spec_with(1));
    let listing = text(&hourglass(&["validate", packed.to_str().unwrap()]).stdout);
    assert!(
        listing.contains("2 worker processes (resources.pack = 4), run by 1 at a time:"),
        "{listing}"
    );
    assert!(listing.contains("worker 1: 4 runs packed: "), "{listing}");
    assert!(listing.contains("worker 2: 1 run alone: "), "{listing}");

    let test_errors = |spec: &Path, reports: &str| {
        let reports = dir.path().join(reports);
        let output = run_sweep(spec, &reports);
        let stdout = text(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}");
        assert!(stdout.contains("packed: 4 completed, 1 failed"), "{stdout}");
        let mut errors = std::collections::BTreeMap::new();
        for run in run_dirs(&reports.join("packed")) {
            let result = read_json(&run.join("result.json"));
            let id = run.file_name().unwrap().to_string_lossy().to_string();
            let outcome = match result["status"].as_str().unwrap() {
                "completed" => Ok(result["metrics"]["test_mse"].as_f64().unwrap()),
                _ => Err(result["error"].as_str().unwrap().to_string()),
            };
            errors.insert(id, outcome);
        }
        errors
    };
    let in_packs = test_errors(&packed, "reports-packed");
    let one_by_one = test_errors(&alone, "reports-alone");
    assert_eq!(in_packs.len(), 5);
    for (id, outcome) in &in_packs {
        match (outcome, &one_by_one[id]) {
            (Ok(packed), Ok(alone)) => {
                assert!(
                    (packed - alone).abs() <= 1e-6 * alone,
                    "{id}: {packed} vs {alone}"
                );
            }
            (Err(packed), Err(alone)) => {
                assert!(packed.starts_with("diverged at epoch 1, step "), "{packed}");
                assert_eq!(packed, alone);
            }
            other => panic!("{id}: {other:?}"),
        }
    }
}

/// Four runs in one pack under successive halving: a run outside the best half at a rung gets
/// its pruned result from the orchestrator and leaves the pack there, while the others train
/// on to their last epoch.
#[test]
fn a_run_pruned_in_a_pack_leaves_it_and_the_others_train_on() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("pruned-pack.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"pruned-pack\"\nseed = 5\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.1\ntrain_limit = 2000\ntest_limit = 200\n\n[model]\nhidden = [64]\n\
         latent = 8\n\n[train]\nbatch_size = 20\nepochs = 8\n\n[resources]\npack = 4\n\n\
         [sweep.pruning]\ngrace_epochs = 1\nreduction_factor = 2\n\n[sweep.parameters]\n\
         \"train.learning_rate\" = [3e-3, 1e-3, 3e-4, 1e-4]\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec, &reports);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let (mut pruned, mut completed) = (0, 0);
    for run in run_dirs(&reports.join("pruned-pack")) {
        let result = read_json(&run.join("result.json"));
        let trained = std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count();
        match result["status"].as_str().unwrap() {
            "pruned" => {
                pruned += 1;
                let reason = result["error"].as_str().unwrap();
                assert!(reason.starts_with("pruned at epoch "), "{reason}");
                assert!(trained < 8, "a pruned run trained on: {trained} epochs");
            }
            status => {
                assert_eq!(status, "completed", "{result}");
                completed += 1;
                assert_eq!(trained, 8);
            }
        }
    }
    assert!(pruned >= 1 && completed >= 1, "{stdout}");
    let summary = format!("pruned-pack: {completed} completed, 0 failed, {pruned} pruned");
    assert!(stdout.contains(&summary), "{stdout}");
}

#[test]
fn a_saved_shuttle_model_scores_a_new_csv_and_refuses_misfit_rows() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("shuttle.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"shuttle\"\n\n[data]\ndataset = \"shuttle\"\ntrain_limit = 3000\n\n\
         [model]\nhidden = [16]\nlatent = 3\n\n[train]\nepochs = 2\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    assert!(run_sweep(&spec, &reports).status.success());
    let [run] = run_dirs(&reports.join("shuttle")).try_into().unwrap();
    let card = read_json(&run.join("model.json"));
    assert_eq!(card["standardization"]["mean"].as_array().unwrap().len(), 9);
    // Standardised inputs: the report leaves PSNR out and says what test_mse is in.
    let table = std::fs::read_to_string(reports.join("shuttle/results.csv")).unwrap();
    assert!(!table.contains("test_psnr_db"), "{table}");
    let page = std::fs::read_to_string(reports.join("shuttle/index.html")).unwrap();
    assert!(page.contains("in the units of the standardised inputs"));

    // Readings as a user keeps them: a header, nine sensor columns, an anomaly far out.
    let rows = "f1,f2,f3,f4,f5,f6,f7,f8,f9\n50,21,77,0,28,0,27,48,22\n53,0,82,0,52,-5,29,30,2\n\
                37,0,76,0,28,18,40,48,8\n9000,-9000,9000,9000,-9000,9000,9000,-9000,9000\n";
    let input = dir.path().join("readings.csv");
    std::fs::write(&input, rows).unwrap();
    let scored = dir.path().join("scored");
    let run = run.to_str().unwrap();
    let args = [
        "apply",
        run,
        input.to_str().unwrap(),
        "--output",
        scored.to_str().unwrap(),
    ];
    assert!(hourglass(&args).status.success());
    let scores = std::fs::read_to_string(scored.join("scores.csv")).unwrap();
    let values: Vec<f64> = scores
        .lines()
        .skip(1)
        .map(|line| line.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(values.len(), 4, "{scores}");
    let typical = values[..3].iter().cloned().fold(f64::MIN, f64::max);
    assert!(
        values[3] > 100.0 * typical,
        "the far-out reading scores highest: {values:?}"
    );
    let reconstructions = std::fs::read_to_string(scored.join("reconstructions.csv")).unwrap();
    assert!(
        reconstructions.starts_with("example,f1,f2,"),
        "{reconstructions}"
    );

    // A non-numeric cell and a NaN are refused with their row and column.
    for (cells, expected) in [
        (
            "50,21,77,0,28,0,27,48,x",
            "row 3, column `f9`: empty or not a number",
        ),
        (
            "50,21,77,0,28,0,27,48,NaN",
            "row 3, column `f9`: NaN is not finite",
        ),
    ] {
        let bad = dir.path().join("bad.csv");
        std::fs::write(
            &bad,
            format!("{}{cells}\n", &rows[..rows.find("37,").unwrap()]),
        )
        .unwrap();
        let out = dir.path().join("bad-out");
        let output = hourglass(&[
            "apply",
            run,
            bad.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(1));
        assert!(
            text(&output.stderr).contains(expected),
            "{}",
            text(&output.stderr)
        );
        assert!(!out.exists());
    }

    // An edited card is refused by name before a module is built: one that describes a
    // model of 900 million numbers the weights file does not hold, one that no model fits.
    let card_path = Path::new(run).join("model.json");
    let original = std::fs::read_to_string(&card_path).unwrap();
    for (key, value, expected) in [
        ("hidden", serde_json::json!([100_000_000]), "describes"),
        ("latent", serde_json::json!(0), "`model.latent`"),
    ] {
        let mut card: serde_json::Value = serde_json::from_str(&original).unwrap();
        card["model"][key] = value;
        std::fs::write(&card_path, card.to_string()).unwrap();
        let out = dir.path().join("edited-out");
        let output = hourglass(&[
            "apply",
            run,
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(expected) && stderr.contains("model.json"),
            "{stderr}"
        );
        assert!(!out.exists());
    }
    std::fs::write(&card_path, original).unwrap();
}

/// Two runs of a VAE that also denoises (so its data order, corruption and ε streams all
/// matter), checkpointed every 0.2 s and after every epoch, trained by two workers at once
/// (`pack` 1) or by one worker as a pack.
fn resumable_spec(dir: &Path, pack: usize, retries: u32) -> PathBuf {
    let path = dir.join(format!("resumable-{pack}-{retries}.toml"));
    std::fs::write(
        &path,
        format!(
            "[experiment]\nname = \"resumable\"\nseed = 9\nrepeats = 2\n\n[data]\n\
             dataset = \"mnist\"\nvalidation = 0.1\ntrain_limit = 3000\ntest_limit = 300\n\n\
             [model]\nkind = \"vae\"\nalso = [\"denoising\"]\nhidden = [64]\nlatent = 4\n\n\
             [noise]\nkind = \"gaussian\"\nlevel = 0.2\n\n[train]\nbatch_size = 25\n\
             epochs = 4\ncheckpoint_every = \"0.2s\"\n\n[resources]\npack = {pack}\n\
             workers = {workers}\nretries = {retries}\n",
            workers = if pack == 1 { 2 } else { 1 },
        ),
    )
    .unwrap();
    path
}

/// The process ids of the workers training runs under `sweep`.
fn worker_pids(sweep: &Path) -> Vec<String> {
    let sweep = sweep.to_str().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|pid| {
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let command = String::from_utf8_lossy(&command);
            pid.parse::<u32>().is_ok() && command.contains("\0worker\0") && command.contains(sweep)
        })
        .collect()
}

/// Trains the runs of `resumable_spec` once uninterrupted with `killed_pack`, once with their
/// worker killed with `signal` (`-KILL`, `-TERM`) about 0.7 s into epoch 2 and trained again with `resumed_pack`:
/// restarted by `resources.retries` when the two are the same, else by a second sweep with
/// `--retry-failed`. The restarted worker resumes from the checkpoints, every epoch is
/// recorded once, and each run ends with the uninterrupted run's epoch records and metrics
/// (but for the timings): bit for bit when it trains as it did (flex on a fixed thread count
/// is deterministic), within 1e-6 relative when a run checkpointed in a pack goes on as a
/// pack of one (a per-run matrix product of another batch shape).
fn a_killed_worker_resumes_to_the_uninterrupted_result(
    killed_pack: usize,
    resumed_pack: usize,
    signal: &str,
) {
    let dir = tempfile::tempdir().unwrap();
    let uninterrupted = dir.path().join("uninterrupted");
    let output = run_sweep(&resumable_spec(dir.path(), killed_pack, 0), &uninterrupted);
    assert!(output.status.success(), "{}", text(&output.stdout));

    let reports = dir.path().join("killed");
    let sweep = reports.join("resumable");
    let same = killed_pack == resumed_pack;
    // After SIGTERM the runs are looked at before they are retried.
    let retries = u32::from(same && signal == "-KILL");
    let mut child = sweep_command(&resumable_spec(dir.path(), killed_pack, retries), &reports)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let epochs_recorded = || -> usize {
        let runs = sweep.join("runs");
        let runs = std::fs::read_dir(runs).into_iter().flatten().flatten();
        let records = runs.map(|run| std::fs::read_to_string(run.path().join("metrics.jsonl")));
        records
            .flatten()
            .map(|text| text.lines().count())
            .min()
            .unwrap_or(0)
    };
    while epochs_recorded() < 1 {
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended first");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Into epoch 2, past a checkpoint within it (SIGKILL); SIGTERM stops it at the next step.
    let into_epoch_2 = if signal == "-KILL" { 700 } else { 300 };
    std::thread::sleep(std::time::Duration::from_millis(into_epoch_2));
    let workers = worker_pids(&sweep);
    assert_eq!(workers.len(), 2 / killed_pack, "{workers:?}");
    for worker in workers {
        let killed = Command::new("kill").args([signal, &worker]).status();
        assert!(killed.unwrap().success());
    }
    assert_eq!(child.wait().unwrap().success(), retries > 0);
    // After SIGTERM, each run checkpointed at the step it was at and resumes there.
    let resumes_at = |run: &PathBuf| -> Option<String> {
        let id = run.file_name().unwrap().to_string_lossy();
        let log = std::fs::read_to_string(run.join("worker.log")).unwrap();
        let stopped = log
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{id}: interrupted after ")));
        let [epochs, "epochs", "and", steps, ..] = stopped?.split(' ').collect::<Vec<_>>()[..]
        else {
            panic!("{log}");
        };
        Some(format!(
            "resuming from the checkpoint after epoch {epochs}, step {steps}"
        ))
    };
    let stopped_at: Vec<Option<String>> = run_dirs(&sweep).iter().map(resumes_at).collect();
    if signal == "-TERM" {
        assert!(stopped_at.iter().all(Option::is_some), "{stopped_at:?}");
        for run in run_dirs(&sweep) {
            // The orchestrator records the failure of a worker that left no result.
            let result = read_json(&run.join("result.json"));
            assert_eq!(result["status"], "failed", "{result}");
            assert!(run.join("checkpoint.safetensors").exists(), "{run:?}");
        }
    }
    if retries == 0 {
        let spec = resumable_spec(dir.path(), resumed_pack, 0);
        let output = hourglass(&[
            "sweep",
            spec.to_str().unwrap(),
            "--reports",
            reports.to_str().unwrap(),
            "--retry-failed",
        ]);
        assert!(output.status.success(), "{}", text(&output.stdout));
    }

    let bitwise = same || killed_pack == 1;
    let agree = |want: &Value, got: &Value| match (want.as_f64(), got.as_f64()) {
        (Some(want), Some(got)) if !bitwise => (want - got).abs() <= 1e-6 * want.abs(),
        _ => want == got,
    };
    let expected = run_dirs(&uninterrupted.join("resumable"));
    let resumed = run_dirs(&sweep);
    assert_eq!(resumed.len(), 2);
    for ((expected, resumed), stopped_at) in expected.iter().zip(&resumed).zip(stopped_at) {
        let id = resumed.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(expected.file_name(), resumed.file_name());
        let log = std::fs::read_to_string(resumed.join("worker.log")).unwrap();
        // After epoch 1 or within epoch 2 (a checkpoint every 0.2 s), wherever the kill fell.
        let resumed_at = log
            .lines()
            .find(|line| line.starts_with("resuming from the checkpoint"));
        eprintln!("{id}: {resumed_at:?}");
        assert!(resumed_at.is_some(), "{id}: {log}");
        if let Some(stopped_at) = stopped_at {
            assert_eq!(resumed_at, Some(stopped_at.as_str()), "{id}: {log}");
        }
        let records = |run: &Path| -> Vec<Value> {
            let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
            let lines = text.lines().map(|line| serde_json::from_str(line).unwrap());
            lines.collect()
        };
        let (expected_records, resumed_records) = (records(expected), records(resumed));
        assert_eq!(resumed_records.len(), 4, "{id}: {resumed_records:?}");
        for (want, got) in expected_records.iter().zip(&resumed_records) {
            for key in ["epoch", "train_loss", "val_loss", "val_mse"] {
                assert!(agree(&want[key], &got[key]), "{id}: {key}: {want} vs {got}");
            }
        }
        let metrics = |run: &Path| read_json(&run.join("result.json"))["metrics"].clone();
        let (want, got) = (metrics(expected), metrics(resumed));
        let (want, got) = (want.as_object().unwrap(), got.as_object().unwrap());
        assert_eq!(want.len(), got.len(), "{id}: {want:?} vs {got:?}");
        for (name, value) in want {
            if !["train_seconds", "samples_per_second"].contains(&name.as_str()) {
                assert!(
                    agree(value, &got[name]),
                    "{id}: {name}: {value} vs {}",
                    got[name]
                );
            }
        }
        assert!(!resumed.join("checkpoint.safetensors").exists(), "{id}");
    }
}

#[test]
fn a_run_whose_worker_is_killed_resumes_to_the_uninterrupted_result() {
    a_killed_worker_resumes_to_the_uninterrupted_result(1, 1, "-KILL");
}

#[test]
fn a_pack_whose_worker_is_killed_resumes_to_the_uninterrupted_result() {
    a_killed_worker_resumes_to_the_uninterrupted_result(2, 2, "-KILL");
}

/// SIGTERM, the signal Slurm preempts a task with: the pack's worker checkpoints every run at
/// the step it is at and exits without a result, and the retry resumes them there.
#[test]
fn a_pack_whose_worker_is_terminated_resumes_from_where_it_stopped() {
    a_killed_worker_resumes_to_the_uninterrupted_result(2, 2, "-TERM");
}

/// A run checkpointed in a pack goes on as a pack of one when the sweep resumes without packs,
/// and one checkpointed alone goes on alone when it resumes in a pack.
#[test]
fn runs_resume_across_a_change_of_resources_pack() {
    a_killed_worker_resumes_to_the_uninterrupted_result(2, 1, "-KILL");
    a_killed_worker_resumes_to_the_uninterrupted_result(1, 2, "-KILL");
}

/// The rows of the real shuttle table (`datasets/shuttle`): nine features and the 0/1
/// anomaly column.
fn shuttle_rows() -> (Vec<f32>, Vec<i64>) {
    let gzipped = std::fs::read(common::repo().join("datasets/shuttle/shuttle.csv.gz")).unwrap();
    let mut csv = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gzipped[..]), &mut csv)
        .unwrap();
    let (mut features, mut labels) = (Vec::new(), Vec::new());
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        features.extend(cells[..9].iter().map(|c| c.parse::<f32>().unwrap()));
        labels.push(cells[9].parse::<i64>().unwrap());
    }
    (features, labels)
}

/// `.npy` bytes of `values` in `shape`.
fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], values: &[T]) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let mut writer = (npyz::WriteOptions::new().default_dtype().shape(shape))
        .writer(&mut bytes)
        .begin_nd()
        .unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
    bytes
}

#[test]
fn a_users_csv_parquet_and_npy_files_become_data_sets_that_train_alike() {
    let dir = tempfile::tempdir().unwrap();
    let datasets = dir.path().join("datasets");
    std::fs::create_dir(&datasets).unwrap();
    // The same real rows as a gzipped CSV (the file as shipped), a Parquet table and an NPY
    // pair, as a user would hold them.
    let (features, labels) = shuttle_rows();
    let rows = labels.len();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let column = |j: usize| -> Vec<f32> { features.iter().skip(j).step_by(9).copied().collect() };
    let mut columns: Vec<polars::prelude::Column> = (0..9)
        .map(|j| polars::prelude::Column::new(format!("f{}", j + 1).into(), column(j)))
        .collect();
    columns.push(polars::prelude::Column::new(
        "anomaly".into(),
        labels.clone(),
    ));
    let mut frame = polars::prelude::DataFrame::new(rows, columns).unwrap();
    let parquet = std::fs::File::create(inbox.join("shuttle.parquet")).unwrap();
    polars::prelude::ParquetWriter::new(parquet)
        .finish(&mut frame)
        .unwrap();
    std::fs::write(inbox.join("x.npy"), npy(&[rows as u64, 9], &features)).unwrap();
    std::fs::write(inbox.join("y.npy"), npy(&[rows as u64], &labels)).unwrap();

    let shipped = common::repo().join("datasets/shuttle/shuttle.csv.gz");
    let sources: [(&str, Vec<PathBuf>, &[&str]); 3] = [
        ("from-csv", vec![shipped], &["--label", "anomaly"]),
        (
            "from-parquet",
            vec![inbox.join("shuttle.parquet")],
            &["--label", "anomaly"],
        ),
        (
            "from-npy",
            vec![inbox.join("x.npy"), inbox.join("y.npy")],
            &[],
        ),
    ];
    for (name, files, label) in &sources {
        let mut args = vec!["datasets", "add", name];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        args.extend(*label);
        args.extend([
            "--anomaly-label",
            "1",
            "--test-fraction",
            "0.4",
            "--standardize",
        ]);
        let output = common::hourglass_with_datasets(&datasets, &args);
        assert!(output.status.success());
        let said = text(&output.stdout);
        assert!(said.contains("examples: 29458 train, 19639 test"), "{said}");
        assert!(
            said.contains("anomalies (label 1): 3511 of 49097 (7.2 %)"),
            "{said}"
        );
    }
    // A second add of a name is refused, and the first stays as it was.
    let again = common::hourglass_with_datasets(
        &datasets,
        &[
            "datasets",
            "add",
            "from-npy",
            inbox.join("x.npy").to_str().unwrap(),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("pass --force"));
    let listed = text(&common::hourglass_with_datasets(&datasets, &["datasets"]).stdout);
    assert!(listed.contains("from-npy") && listed.contains("49097 examples, 40 % test"));

    let spec = dir.path().join("own.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"own\"\nseed = 5\n\n[data]\ndataset = \"from-csv\"\n\
         train_limit = 3000\ntest_limit = 2000\n\n[model]\nhidden = [16]\nlatent = 3\n\
         output = \"identity\"\n\n[train]\nepochs = 2\nbatch_size = 100\n\n\
         [evaluate]\ntasks = [\"reconstruction\", \"anomaly\"]\n\n\
         [sweep.parameters]\n\"data.dataset\" = [\"from-csv\", \"from-parquet\", \"from-npy\"]\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let swept = common::hourglass_with_datasets(
        &datasets,
        &[
            "sweep",
            spec.to_str().unwrap(),
            "--reports",
            reports.to_str().unwrap(),
        ],
    );
    assert!(swept.status.success());
    let results: Vec<Value> = run_dirs(&reports.join("own"))
        .iter()
        .map(|run| read_json(&run.join("result.json")))
        .collect();
    assert_eq!(results.len(), 3);
    let metric = |result: &Value, name: &str| result["metrics"][name].as_f64().unwrap();
    for result in &results {
        assert_eq!(result["status"], "completed", "{result}");
        assert!(metric(result, "anomaly_auroc") > 0.8, "{result}");
    }
    // The same rows in three formats train to the same model, and the classical detectors
    // beside it score them alike.
    for name in [
        "test_mse",
        "anomaly_auroc",
        "iforest_auroc",
        "knn_auroc",
        "pca_auroc",
    ] {
        let values: Vec<f64> = results.iter().map(|r| metric(r, name)).collect();
        assert!(values.iter().all(|v| *v == values[0]), "{name}: {values:?}");
    }
}

#[test]
fn colour_photo_patches_train_with_the_conv_autoencoder_and_render_in_colour() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("photos.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"photos\"\nseed = 3\n\n[data]\ndataset = \"photo-patches\"\n\n\
         [model]\narchitecture = \"conv\"\nchannels = [16, 32]\nhidden = []\nlatent = 48\n\n\
         [noise]\nkind = \"gaussian\"\nlevel = 0.2\n\n\
         [train]\nepochs = 3\nbatch_size = 32\nlearning_rate = 2e-3\n\n\
         [evaluate]\ntasks = [\"reconstruction\", \"compression\", \"denoising\", \"latent\"]\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    assert!(run_sweep(&spec, &reports).status.success());
    let [run] = run_dirs(&reports.join("photos")).try_into().unwrap();
    let result = read_json(&run.join("result.json"));
    let metric = |name: &str| result["metrics"][name].as_f64().unwrap();
    assert_eq!(result["status"], "completed", "{result}");
    // SSIM averaged over the three channels, and JPEG in colour at the code's size.
    assert!(metric("denoise_ssim") > metric("noisy_ssim"), "{result}");
    assert!(metric("jpeg_bytes") <= 48.0 * 4.0, "{result}");
    assert!(metric("test_psnr_db") > 12.0, "{result}");
    let card = read_json(&run.join("model.json"));
    assert_eq!(card["model"]["input_shape"], serde_json::json!([3, 32, 32]));
    // The data set's class names travel with the model and label the latent map's legend.
    let names = serde_json::json!(["astronaut", "chelsea", "coffee"]);
    assert_eq!(card["data"]["class_names"], names, "{card}");

    // The grid is a colour PNG whose original tiles hold the patches' colours.
    let grid = image::open(run.join("reconstructions.png")).unwrap();
    assert!(grid.color().has_color());
    let grid = grid.into_rgb8();
    let coloured = grid
        .pixels()
        .filter(|p| p.0[0] != p.0[1] || p.0[1] != p.0[2])
        .count();
    assert!(
        coloured > grid.pixels().len() / 4,
        "{coloured} coloured pixels"
    );
    let html = std::fs::read_to_string(reports.join("photos/index.html")).unwrap();
    let id = run.file_name().unwrap().to_str().unwrap();
    assert!(html.contains(&format!("runs/{id}/reconstructions.png")));
    for legend in ["0: astronaut", "1: chelsea", "2: coffee"] {
        assert!(html.contains(legend), "no legend entry {legend}");
    }
    // Latent traversals: ten of the 48 dimensions, nine steps each, in colour, in the report.
    let traversals = image::open(run.join("traversals.png")).unwrap();
    assert!(traversals.color().has_color());
    let tile = 32 + 2;
    let size = (traversals.width(), traversals.height());
    assert_eq!(size, (9 * tile + 2, 10 * tile + 2));
    assert!(html.contains(&format!("runs/{id}/traversals.png")));
    // The test split's labels are what the probe reads: three classes, measured.
    assert!(metric("probe_accuracy") > 1.0 / 3.0, "{result}");
}

#[test]
fn a_tpe_search_trains_its_budget_in_packs_with_pruning_and_a_second_sweep_trains_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("search.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"search\"\nseed = 2\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.1\ntrain_limit = 1000\ntest_limit = 200\n\n[model]\nhidden = [32]\n\
         latent = 8\n\n[train]\nbatch_size = 50\nepochs = 4\n\n[resources]\npack = 3\n\n\
         [sweep]\nstrategy = \"tpe\"\nsamples = 6\nobjective = { metric = \"test_mse\" }\n\n\
         [sweep.pruning]\ngrace_epochs = 1\nreduction_factor = 2\n\n[sweep.parameters]\n\
         \"train.learning_rate\" = { log_uniform = [1e-4, 1e-2] }\n",
    )
    .unwrap();
    let validated = hourglass(&["validate", spec.to_str().unwrap()]);
    let said = text(&validated.stdout);
    assert!(
        said.contains("TPE search of 6 configurations x 1 seed = 6 runs, to minimize test_mse")
            && said.contains("proposed 3 configurations at a time"),
        "{said}"
    );
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec, &reports);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let sweep_dir = reports.join("search");
    let record = read_json(&sweep_dir.join("sweep.json"));
    assert_eq!(record["runs"].as_array().unwrap().len(), 6, "{record}");
    assert_eq!(record["objectives"][0]["metric"], "test_mse", "{record}");
    let statuses: Vec<String> = run_dirs(&sweep_dir)
        .iter()
        .map(|run| {
            read_json(&run.join("result.json"))["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(statuses.len(), 6);
    assert!(
        statuses.iter().any(|s| s == "pruned"),
        "{statuses:?}\n{stdout}"
    );
    assert!(
        statuses.iter().all(|s| s != "failed"),
        "{statuses:?}\n{stdout}"
    );
    // Two batches of one pack each.
    assert!(stdout.contains("[6/6]"), "{stdout}");
    let html = std::fs::read_to_string(sweep_dir.join("index.html")).unwrap();
    assert!(html.contains("<section id=\"search\">"));

    // The spec gains a task that does not change training: the second sweep trains nothing
    // and evaluates the finished runs' saved models for it.
    let mut text_of_spec = std::fs::read_to_string(&spec).unwrap();
    text_of_spec.push_str("\n[evaluate]\ntasks = [\"reconstruction\", \"latent\"]\n");
    std::fs::write(&spec, text_of_spec).unwrap();
    let again = run_sweep(&spec, &reports);
    let stdout = text(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(
        stdout.contains("search: 0 completed, 0 failed, 0 pruned, 6 already finished"),
        "{stdout}"
    );
    for run in run_dirs(&sweep_dir) {
        let result = read_json(&run.join("result.json"));
        let probed = result["metrics"]["probe_accuracy"].as_f64().is_some();
        assert_eq!(probed, result["status"] == "completed", "{result}");
    }
}

#[test]
fn an_nsga2_search_reports_the_pareto_front_of_its_objectives() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("front.toml");
    std::fs::write(
        &spec,
        "[experiment]\nname = \"front\"\nseed = 4\n\n[data]\ndataset = \"mnist\"\n\
         validation = 0.1\ntrain_limit = 1000\ntest_limit = 200\n\n[model]\nlatent = 8\n\n\
         [train]\nbatch_size = 50\nepochs = 1\n\n[resources]\npack = 2\n\n[sweep]\n\
         strategy = \"nsga2\"\nsamples = 4\n\
         objectives = [{ metric = \"test_mse\" }, { metric = \"parameters\" }]\n\n\
         [sweep.parameters]\n\"model.hidden\" = [[16], [32], [64], [128]]\n\
         \"train.learning_rate\" = { log_uniform = [1e-3, 1e-2] }\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec, &reports);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let sweep_dir = reports.join("front");
    let record = read_json(&sweep_dir.join("sweep.json"));
    assert_eq!(record["objectives"][1]["metric"], "parameters", "{record}");
    let html = std::fs::read_to_string(sweep_dir.join("index.html")).unwrap();
    let start = html
        .find("<section id=\"pareto\">")
        .expect("a Pareto section");
    let pareto = &html[start..start + html[start..].find("</section>").unwrap()];
    assert!(
        pareto.contains("<svg") && pareto.contains("id=\"hypervolume\""),
        "{pareto}"
    );
    let on_front = pareto.matches("<tr><td><code>").count();
    assert!((1..=4).contains(&on_front), "{pareto}");
}
