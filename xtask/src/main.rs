//! `cargo xtask`: the project's commands, built from cargo invocations; no domain logic here.
//!
//! - `cargo xtask sweep SPEC`: build `hourglass` and run the sweep (then open its report).
//! - `cargo xtask report SWEEP_DIR`: rebuild a sweep's report from its saved results.
//! - `cargo xtask compare A B`: two sweeps side by side.
//! - `cargo xtask results DIR --out FILE`: every sweep under a folder in one table.
//! - `cargo xtask evaluate SWEEP_DIR`, `cargo xtask apply RUN_DIR INPUT --output DIR`: saved
//!   models evaluated again, or applied to new examples.
//! - `cargo xtask schema`: write the JSON Schemas of the files in `experiments/`.
//! - `cargo xtask fuzz [spec|data] [RUNS]`: fuzz spec parsing, or the readers of users' data
//!   files (cargo fuzz, nightly), a million inputs by default.
//! - `cargo xtask setup-libtorch`: a virtual environment with the torch wheel that the `tch`
//!   backend builds and runs against, and the environment it needs.
//! - `cargo xtask bench`: training throughput of the default backend, and the time to build
//!   a 500-run report.
//! - `cargo xtask ci`: everything CI checks, installing what the tests need first and starting
//!   a local Slurm for the Slurm tests (`xtask/slurm/stop-slurm.sh` stops it).

mod bench;
#[cfg(test)]
mod tidy;

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <sweep SPEC | report SWEEP_DIR [--all] | compare A B | results DIR --out FILE | evaluate SWEEP_DIR | apply RUN_DIR INPUT --output DIR | validate SPEC | schema | fuzz [spec|data] [RUNS] | setup-libtorch | bench [detectors | search] | ci>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some(
            "sweep" | "report" | "compare" | "results" | "validate" | "datasets" | "evaluate"
            | "apply",
        ) => hourglass(&args),
        Some("schema") => schema(),
        Some("setup-libtorch") => setup_libtorch().map(|env| print_exports(&env)),
        Some("fuzz") => {
            let (target, runs) = match args.get(1).map(String::as_str) {
                Some(target @ ("spec" | "data")) => (target, args.get(2)),
                _ => ("spec", args.get(1)),
            };
            fuzz(target, runs.map_or("1000000", String::as_str))
        }
        Some("bench") => match args.get(1).map(String::as_str) {
            None => bench::run_all(),
            Some("detectors") => bench::detectors(),
            Some("search") => bench::search(),
            Some(_) => Err(USAGE.to_string()),
        },
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
    succeeded(command, status)
}

/// `Ok` when `command` exited with `status` successfully, else its description.
fn succeeded(command: &Command, status: std::process::ExitStatus) -> Result<(), String> {
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

/// `cargo`, in the workspace, without the variables that `cargo run` set for xtask itself
/// (`CARGO_MANIFEST_DIR` and the like). Left in, a build script that reads one of them (ring
/// declares `rerun-if-env-changed=CARGO_MANIFEST_DIR`) saw a new value in every clone, and a
/// warm CI rebuilt ring, rustls, torch-sys, tch and burn (4 minutes).
fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(set_by_cargo_run) {
            command.env_remove(name);
        }
    }
    command
}

/// Whether `cargo run` sets the variable `name` for the program it runs (`CARGO`, the path
/// to cargo itself, is kept: it picks the same toolchain).
fn set_by_cargo_run(name: &str) -> bool {
    name.starts_with("CARGO_MANIFEST_")
        || name.starts_with("CARGO_PKG_")
        || matches!(
            name,
            "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
        )
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

/// The PyTorch release whose libtorch burn's `tch` backend (torch-sys 0.22) builds against.
const TORCH_VERSION: &str = "2.9.0";

/// Environment variables as (name, value, whether the value goes before the variable's
/// current value, as a search path).
type Env = Vec<(&'static str, String, bool)>;

/// `env` applied to the current environment, as (name, value).
fn resolved(env: &Env) -> Vec<(&'static str, String)> {
    env.iter()
        .map(|(name, value, prepended)| match std::env::var(name) {
            Ok(current) if *prepended && !current.is_empty() => {
                (*name, format!("{value}:{current}"))
            }
            _ => (*name, value.clone()),
        })
        .collect()
}

/// `env` as shell `export` lines.
fn exports(env: &Env) -> String {
    env.iter()
        .map(|(name, value, prepended)| {
            let rest = if *prepended {
                format!("\"${{{name}:+:${name}}}\"")
            } else {
                String::new()
            };
            format!("export {name}='{value}'{rest}\n")
        })
        .collect()
}

/// The folder of what xtask installs once per machine rather than once per clone:
/// `$HOURGLASS_CACHE`, else `$XDG_CACHE_HOME/hourglass`, else `~/.cache/hourglass`. A fresh
/// clone on a machine that has run CI before finds torch and its build cache there.
pub fn machine_cache() -> Result<std::path::PathBuf, String> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("HOURGLASS_CACHE") {
        return Ok(dir.into());
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(std::path::PathBuf::from(dir).join("hourglass"));
    }
    var("HOME")
        .map(|home| std::path::PathBuf::from(home).join(".cache/hourglass"))
        .ok_or_else(|| "set HOURGLASS_CACHE or HOME: xtask keeps torch and CI's build there".into())
}

/// The virtual environment of torch [`TORCH_VERSION`], keyed by that version in the
/// [`machine_cache`].
pub fn libtorch_venv() -> Result<std::path::PathBuf, String> {
    Ok(machine_cache()?.join(format!("torch-{TORCH_VERSION}")))
}

/// Makes [`libtorch_venv`], a virtual environment with torch [`TORCH_VERSION`] from PyPI
/// (the CUDA build: 3.8 GB of wheels with its nvidia-* ones, which libtorch loads even on a
/// CPU, 6.8 GB installed), when it is not there yet; returns the environment that building
/// and running with the `tch` feature need: torch-sys finds libtorch through the
/// environment's Python, and the binaries find its shared libraries on `LD_LIBRARY_PATH`.
/// Also written to `env.sh` in that environment.
fn setup_libtorch() -> Result<Env, String> {
    let venv = libtorch_venv()?;
    let python = venv.join("bin/python");
    let torch_version = || {
        Command::new(&python)
            .args(["-c", "import torch; print(torch.__version__)"])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if torch_version().is_none_or(|v| v.split('+').next() != Some(TORCH_VERSION)) {
        if !python.exists() {
            std::fs::create_dir_all(&venv).map_err(|e| format!("cannot create {venv:?}: {e}"))?;
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        install_torch(&python, &venv)?;
    }
    let lib = Command::new(&python)
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .map_err(|e| format!("cannot run {python:?}: {e}"))?;
    let lib = String::from_utf8_lossy(&lib.stdout).trim().to_string();
    let env: Env = vec![
        ("LIBTORCH_USE_PYTORCH", "1".into(), false),
        ("VIRTUAL_ENV", venv.display().to_string(), false),
        ("PATH", venv.join("bin").display().to_string(), true),
        ("LD_LIBRARY_PATH", lib, true),
    ];
    let script_path = venv.join("env.sh");
    std::fs::write(&script_path, exports(&env))
        .map_err(|e| format!("cannot write {script_path:?}: {e}"))?;
    Ok(env)
}

/// Installs torch into the environment of `python` one wheel at a time: pip resolves the
/// whole set first (`--dry-run --report`), then installs each pinned wheel alone, torch last.
/// A single `pip install torch` holds every downloaded wheel (3.8 GB) until it has installed
/// them all, and copies each into pip's cache: with the 6.8 GB install that needed over
/// 10 GB free, and CI's disk ran out. This way the disk holds the install and one wheel.
fn install_torch(python: &std::path::Path, venv: &std::path::Path) -> Result<(), String> {
    let pip_install = |args: &[&str]| {
        run(Command::new(python)
            .args(["-m", "pip", "install", "--no-input", "--no-cache-dir"])
            .args(["--progress-bar", "off"])
            .args(args))
        .map_err(|e| format!("{e}; torch needs about 8 GB free under {venv:?}"))
    };
    let report = venv.join("torch-resolution.json");
    let torch = format!("torch=={TORCH_VERSION}");
    pip_install(&[
        "--dry-run",
        "--quiet",
        "--report",
        &report.to_string_lossy(),
        &torch,
    ])?;
    let text = std::fs::read_to_string(&report)
        .map_err(|e| format!("cannot read pip's report {report:?}: {e}"))?;
    let resolution: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("pip's report {report:?} is not JSON: {e}"))?;
    let mut pins: Vec<String> = resolution["install"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let metadata = &item["metadata"];
            Some(format!(
                "{}=={}",
                metadata["name"].as_str()?,
                metadata["version"].as_str()?
            ))
        })
        .collect();
    // Its requirements first, so that torch never sits installed without them.
    pins.sort_by_key(|pin| pin.to_lowercase().starts_with("torch=="));
    for pin in &pins {
        pip_install(&["--no-deps", pin])?;
    }
    Ok(())
}

fn print_exports(env: &Env) {
    let script =
        libtorch_venv().map_or_else(|e| e, |venv| venv.join("env.sh").display().to_string());
    eprintln!(
        "xtask: libtorch {TORCH_VERSION} is ready; build and run with `--features tch` after \
         these lines (also in {script}):"
    );
    print!("{}", exports(env));
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

/// Runs a fuzz target for `runs` inputs; installs cargo-fuzz first when it is missing.
/// `spec`: the spec parser, starting from the example specs, with a dictionary of the spec's
/// keys; inputs that break it land in `crates/spec/fuzz/artifacts/`; copy them to
/// `tests/fuzz-regressions/` once fixed. `data`: the readers of users' data files, with a
/// dictionary of the formats' magic numbers and headers (`crates/data/fuzz/artifacts/`).
fn fuzz(target: &str, runs: &str) -> Result<(), String> {
    let (fuzz_dir, name, dict, max_len) = match target {
        "data" => (
            workspace_root().join("crates/data/fuzz"),
            "readers",
            "data.dict",
            "8192",
        ),
        _ => (
            workspace_root().join("crates/spec/fuzz"),
            "parse",
            "spec.dict",
            "4096",
        ),
    };
    let corpus = fuzz_dir.join("corpus").join(name);
    std::fs::create_dir_all(&corpus).map_err(|e| format!("cannot create {corpus:?}: {e}"))?;
    if target == "spec" {
        seed_spec_corpus(&corpus)?;
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
        .args(["+nightly", "fuzz", "run", name, "-O", "--"])
        .arg(format!("-dict={dict}"))
        .arg(format!("-runs={runs}"))
        .arg(format!("-max_len={max_len}"))
        .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"]))
}

/// Copies the example specs and the regression inputs into the spec target's corpus.
fn seed_spec_corpus(corpus: &std::path::Path) -> Result<(), String> {
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
        command
            .env("DEBIAN_FRONTEND", "noninteractive")
            // Waits for another apt-get, such as the Slurm script's, rather than failing.
            .args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args);
        command
    };
    run(&mut apt(&["update", "-q"]))?;
    run(apt(&["install", "-y", "-q"]).args(&missing))
}

/// The features CI builds and tests with: every backend whose build needs no GPU toolkit and
/// whose tests run on a CPU: libtorch's `tch` (libtorch comes from [`setup_libtorch`]).
const CI_FEATURES: &str = "hourglass-cli/tch";

/// The GPU backend CI compiles but cannot run: wgpu, type-checked (`cargo check`) in the one
/// crate whose code names it (`hourglass-train`; the cli's feature only forwards), while torch
/// downloads. Built into the tests instead, its whole stack (wgpu, naga, cubecl, cubek)
/// compiled with optimisations, and the cold build took longer than the check. The cuda
/// feature is left out: its build script (cubecl-llvm's tracel-llvm-bundler) downloads LLVM
/// from GitHub, which CI cannot reach.
const CHECKED_GPU_FEATURE: &str = "wgpu";

/// The target folder of CI's build: in the [`machine_cache`], so that a fresh clone on a
/// machine that has run CI before rebuilds only the workspace's crates. Cargo hashes a path
/// dependency by its place in the workspace, not on the disk, so clones in other folders
/// share the artifacts; it locks the folder while it builds.
pub fn ci_target() -> Result<std::path::PathBuf, String> {
    Ok(machine_cache()?.join("target"))
}

/// `cargo` with CI's target folder and `libtorch`'s environment.
fn ci_cargo(libtorch: &[(&'static str, String)]) -> Result<Command, String> {
    let mut command = cargo();
    command
        .envs(libtorch.iter().cloned())
        .env("CARGO_TARGET_DIR", ci_target()?);
    Ok(command)
}

/// How long each step of `cargo xtask ci` took, printed at the end.
#[derive(Default)]
struct Steps(Vec<(&'static str, std::time::Duration)>);

impl Steps {
    /// Runs `step`, recording its time as `name`.
    fn time<T>(&mut self, name: &'static str, step: impl FnOnce() -> T) -> T {
        let started = std::time::Instant::now();
        let result = step();
        self.0.push((name, started.elapsed()));
        result
    }

    fn print(&self, total: std::time::Duration) {
        eprintln!("xtask: ci steps (seconds):");
        for (name, took) in &self.0 {
            eprintln!("xtask:   {:>7.0}  {name}", took.as_secs_f64());
        }
        eprintln!("xtask:   {:>7.0}  in all", total.as_secs_f64());
    }
}

/// Runs `command` with each line it writes to standard error (cargo's `Running` lines,
/// which start each test binary) prefixed by the seconds since `clock`, so that CI's log
/// shows where its time goes. Standard output, where the tests' results go, is unchanged.
fn run_with_times(command: &mut Command, clock: std::time::Instant) -> Result<(), String> {
    use std::io::BufRead as _;
    eprintln!("xtask: running {command:?}");
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let stderr = child.stderr.take().expect("standard error is piped");
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.map_err(|e| format!("cannot read the output of {command:?}: {e}"))?;
        eprintln!("[{:>5.0} s] {line}", clock.elapsed().as_secs_f64());
    }
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for {command:?}: {e}"))?;
    succeeded(command, status)
}

/// Everything CI checks. What only the tests need (Debian's packages, taplo, Slurm) installs
/// beside torch and the build, which need none of it.
fn ci() -> Result<(), String> {
    let clock = std::time::Instant::now();
    let mut steps = Steps::default();
    let installs = std::thread::spawn(|| {
        let started = std::time::Instant::now();
        install_test_packages()?;
        install_taplo()?;
        start_slurm()?;
        Ok::<_, String>(started.elapsed())
    });
    let torch = std::thread::spawn(|| {
        let started = std::time::Instant::now();
        setup_libtorch().map(|env| (env, started.elapsed()))
    });
    steps.time("cargo fmt --check", || {
        run(cargo().args(["fmt", "--all", "--check"]))
    })?;
    steps.time("cargo check of the wgpu backend", || {
        run(ci_cargo(&[])?
            .args(["check", "--package", "hourglass-train", "--lib"])
            .args(["--features", CHECKED_GPU_FEATURE]))
    })?;
    let (libtorch, installed) = steps.time("waiting for torch", || {
        torch
            .join()
            .map_err(|_| "the install of torch panicked".to_string())?
    })?;
    steps.0.push(("torch (beside the above)", installed));
    let libtorch = resolved(&libtorch);
    steps.time("build (cargo test --no-run)", || {
        run(ci_cargo(&libtorch)?
            .args(["test", "--workspace", "--all-targets", "--no-run"])
            .args(["--features", CI_FEATURES]))
    })?;
    let installed = steps.time("waiting for the test packages", || {
        installs
            .join()
            .map_err(|_| "the installs of the test packages panicked".to_string())?
    })?;
    steps
        .0
        .push(("test packages, taplo, Slurm (beside the above)", installed));
    let tests = steps.time("tests", || {
        run_with_times(
            ci_cargo(&libtorch)?
                .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
                .args(["--features", CI_FEATURES]),
            clock,
        )
    });
    let doc_tests = steps.time("doc tests", || {
        run(ci_cargo(&libtorch)?
            .args(["test", "--workspace", "--doc"])
            .args(["--features", CI_FEATURES]))
    });
    steps.print(clock.elapsed());
    tests.and(doc_tests)
}
