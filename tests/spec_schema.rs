//! The JSON Schemas of `experiments/` as editors use them: taplo, the checker behind the Even
//! Better TOML extension, validates every file there against the committed schemas (through
//! each file's `#:schema` line), and refuses specs with an unknown key, a wrong type or a
//! malformed sweep. taplo is `@taplo/cli` from npm, installed by `cargo xtask ci` into
//! `target/tools` (or named by `$TAPLO`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn taplo() -> PathBuf {
    let path = std::env::var_os("TAPLO")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/tools/node_modules/.bin/taplo"));
    assert!(
        path.exists(),
        "taplo not found at {}: `cargo xtask ci` installs it (npm install @taplo/cli)",
        path.display()
    );
    path
}

fn taplo_check(files: &[PathBuf]) -> Output {
    Command::new(taplo())
        .arg("check")
        .args(files)
        .output()
        .expect("taplo runs")
}

#[test]
fn every_file_in_experiments_is_valid_against_its_schema() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("experiments"))
        .expect("experiments/ is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a spec is readable");
        assert!(
            text.starts_with("#:schema ./"),
            "{} does not name its schema on its first line",
            file.display()
        );
    }
    let output = taplo_check(&files);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn taplo_refuses_what_the_schema_forbids() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::copy(
        workspace().join("experiments/hourglass.schema.json"),
        dir.path().join("hourglass.schema.json"),
    )
    .expect("the schema is copied");
    let spec = |name: &str, body: &str| {
        let path = dir.path().join(format!("{name}.toml"));
        let text = format!(
            "#:schema ./hourglass.schema.json\n[experiment]\nname = \"{name}\"\n\
             [data]\ndataset = \"mnist\"\n{body}"
        );
        std::fs::write(&path, text).expect("the spec is written");
        path
    };
    let valid = spec(
        "valid",
        "[model]\nkind = \"vae\"\nhidden = [64]\n[sweep.parameters]\n\
         \"model.latent\" = [2, 8]\n\"train.learning_rate\" = { log_uniform = [1e-4, 1e-2] }\n",
    );
    let output = taplo_check(&[valid]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for (name, body, expected) in [
        (
            "unknown-key",
            "[model]\nhiden = [64]\n",
            "'hiden' was unexpected",
        ),
        (
            "wrong-type",
            "[model]\nlatent = \"big\"\n",
            "\"big\" is not of type",
        ),
        ("unknown-kind", "[model]\nkind = \"vea\"\n", "\"vea\""),
        (
            "sweep-key",
            "[sweep.parameters]\n\"modle.latent\" = [2, 8]\n",
            "modle.latent",
        ),
        (
            "distribution",
            "[sweep.parameters]\n\"train.learning_rate\" = { log_uniform = [0.0, 1e-2] }\n",
            "log_uniform",
        ),
        (
            "out-of-range",
            "[train]\noptimizer = \"sgd\"\nmomentum = 1.0\n",
            "greater than or equal to the maximum of 1.0",
        ),
        (
            "count-past-its-range",
            "[resources]\nworkers = 4294967296\n",
            "greater than the maximum of 4294967295",
        ),
    ] {
        let output = taplo_check(&[spec(name, body)]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name} passed taplo");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
}
