//! `cargo xtask`: the project's commands, built from cargo invocations; no domain logic here.
//!
//! - `cargo xtask sweep SPEC`: build `hourglass` and run the sweep (then open its report).
//! - `cargo xtask report SWEEP_DIR`: rebuild a sweep's report from its saved results.
//! - `cargo xtask compare A B`: two sweeps side by side.
//! - `cargo xtask schema`: write the JSON Schemas of the files in `experiments/`.
//! - `cargo xtask fuzz [RUNS]`: fuzz spec parsing (cargo fuzz, nightly), a million inputs by
//!   default.
//! - `cargo xtask bench`: training throughput of the default backend, and the time to build
//!   a 500-run report.
//! - `cargo xtask ci`: everything CI checks, installing what the tests need first and starting
//!   a local Slurm for the Slurm tests (`xtask/slurm/stop-slurm.sh` stops it).

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <sweep SPEC | report SWEEP_DIR | compare A B | validate SPEC | schema | fuzz [RUNS] | bench | ci>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("sweep" | "report" | "compare" | "validate" | "datasets") => hourglass(&args),
        Some("schema") => schema(),
        Some("fuzz") => fuzz(args.get(1).map_or("1000000", String::as_str)),
        Some("bench") => bench(),
        Some("ci") => ci(),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `command`, failing with its description when it does not succeed.
fn run(command: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {command:?}");
    let status = command
        .status()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// `hourglass ARGS...`, built in the dev profile (dependencies are optimised there, see
/// Cargo.toml), so a sweep shares its build with the tests.
fn hourglass(args: &[String]) -> Result<(), String> {
    run(cargo()
        .args([
            "run",
            "--quiet",
            "--package",
            "hourglass-cli",
            "--bin",
            "hourglass",
            "--",
        ])
        .args(args))
}

/// Regenerates the committed schemas that editors and taplo check `experiments/*.toml` with.
fn schema() -> Result<(), String> {
    for (of, file) in [
        ("spec", "experiments/hourglass.schema.json"),
        ("references", "experiments/references.schema.json"),
    ] {
        hourglass(&["schema".into(), of.into(), "--out".into(), file.into()])?;
    }
    Ok(())
}

/// Runs the spec parser's fuzz target for `runs` inputs, starting from the example specs, with
/// a dictionary of the spec's keys; installs cargo-fuzz first when it is missing. Inputs that
/// break the parser land in `crates/spec/fuzz/artifacts/`; copy them to
/// `tests/fuzz-regressions/` once fixed.
fn fuzz(runs: &str) -> Result<(), String> {
    let fuzz_dir = workspace_root().join("crates/spec/fuzz");
    let corpus = fuzz_dir.join("corpus/parse");
    std::fs::create_dir_all(&corpus).map_err(|e| format!("cannot create {corpus:?}: {e}"))?;
    for source in [
        workspace_root().join("experiments"),
        workspace_root().join("tests/fuzz-regressions"),
    ] {
        let entries =
            std::fs::read_dir(&source).map_err(|e| format!("cannot read {source:?}: {e}"))?;
        for entry in entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        {
            std::fs::copy(entry.path(), corpus.join(entry.file_name()))
                .map_err(|e| format!("cannot copy {:?}: {e}", entry.path()))?;
        }
    }
    let installed = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        run(Command::new("cargo").args(["install", "--locked", "cargo-fuzz"]))?;
    }
    run(Command::new("cargo")
        .current_dir(&fuzz_dir)
        .args([
            "+nightly",
            "fuzz",
            "run",
            "parse",
            "-O",
            "--",
            "-dict=spec.dict",
        ])
        .arg(format!("-runs={runs}"))
        .args([
            "-max_len=4096",
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
        ]))
}

fn bench() -> Result<(), String> {
    for (package, bench) in [
        ("hourglass-train", "throughput"),
        ("hourglass-report", "report"),
    ] {
        run(cargo().args([
            "bench",
            "--profile",
            "dev",
            "--package",
            package,
            "--bench",
            bench,
        ]))?;
    }
    Ok(())
}

/// Debian packages the tests need, with a file each installs: the report's browser test drives
/// Chromium through chromedriver; npm installs taplo.
const TEST_PACKAGES: [(&str, &str); 3] = [
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("npm", "/usr/bin/npm"),
];

/// The npm package of taplo, which `tests/spec_schema.rs` checks `experiments/` with.
const TAPLO_PACKAGE: &str = "@taplo/cli@0.7.0";

/// Installs [`TAPLO_PACKAGE`] under `target/tools` when it is not there yet.
fn install_taplo() -> Result<(), String> {
    let tools = workspace_root().join("target/tools");
    if tools.join("node_modules/.bin/taplo").exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&tools).map_err(|e| format!("cannot create {tools:?}: {e}"))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&tools)
        .arg(TAPLO_PACKAGE))
}

/// `program`, run as root: directly when we are root, otherwise through sudo.
fn as_root(program: &str) -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"));
    if root {
        Command::new(program)
    } else {
        let mut sudo = Command::new("sudo");
        sudo.arg(program);
        sudo
    }
}

/// Starts the single-node Slurm cluster of the Slurm tests on this machine, installing its
/// Debian packages when missing (`xtask/slurm/start-slurm.sh`; idempotent).
fn start_slurm() -> Result<(), String> {
    run(as_root("bash").arg(workspace_root().join("xtask/slurm/start-slurm.sh")))
}

/// Installs the missing [`TEST_PACKAGES`] with apt-get (as root, or through sudo).
fn install_test_packages() -> Result<(), String> {
    let missing: Vec<&str> = TEST_PACKAGES
        .iter()
        .filter(|(_, file)| !std::path::Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let apt = |args: &[&str]| {
        let mut command = as_root("apt-get");
        command.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        command
    };
    run(&mut apt(&["update", "-q"]))?;
    run(apt(&["install", "-y", "-q"]).args(&missing))
}

fn ci() -> Result<(), String> {
    install_test_packages()?;
    install_taplo()?;
    start_slurm()?;
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["test", "--workspace", "--all-targets", "--no-fail-fast"]))?;
    run(cargo().args(["test", "--workspace", "--doc"]))
}
