//! A saved model opened in PyTorch: for an MLP autoencoder on standardised tabular data
//! (shuttle) and a conv VAE on MNIST, `crates/models/python/hourglass_torch.py` rebuilds the
//! model from `model.json` and `model.safetensors` alone and reconstructs 100 test examples
//! as hourglass does, within 1e-5 (largest absolute difference). Needs torch's Python: the
//! virtual environment that `cargo xtask ci` (or `cargo xtask setup-libtorch`) installs, named
//! by `VIRTUAL_ENV`; hence the `tch` feature, as for the other tests of the torch install.

#[allow(dead_code, reason = "this target uses only part of the shared helpers")]
mod common;

use std::path::Path;
use std::process::Command;

use common::{read_json, repo, run_dirs, run_sweep, text};
use hourglass_spec::model_card::{CARD_FILE, MODEL_FILE};
use hourglass_spec::{Backend, DeviceName};

/// Test examples reconstructed on both sides.
const EXAMPLES: usize = 100;
/// The largest absolute difference allowed between the two reconstructions.
const TOLERANCE: f64 = 1e-5;

#[test]
fn pytorch_reproduces_an_mlp_autoencoders_reconstructions() {
    reproduce_in_pytorch(
        "shuttle-mlp",
        "[data]\ndataset = \"shuttle\"\ntrain_limit = 2000\n\n\
         [model]\nhidden = [32, 16]\nlatent = 4\nactivation = \"tanh\"\n\n\
         [train]\nepochs = 2\n",
    );
}

#[test]
fn pytorch_reproduces_a_conv_vaes_reconstructions() {
    reproduce_in_pytorch(
        "mnist-conv-vae",
        "[data]\ndataset = \"mnist\"\ntrain_limit = 1000\ntest_limit = 200\n\n\
         [model]\nkind = \"vae\"\narchitecture = \"conv\"\nchannels = [8, 16]\nhidden = [64]\n\
         latent = 8\n\n[train]\nepochs = 1\n",
    );
}

#[test]
fn pytorch_reproduces_a_vq_vaes_reconstructions_from_its_codebook() {
    reproduce_in_pytorch(
        "mnist-vqvae",
        "[data]\ndataset = \"mnist\"\ntrain_limit = 1000\ntest_limit = 200\n\n\
         [model]\nkind = \"vqvae\"\nhidden = [64]\nlatent = 6\n\
         codebook = { size = 32, dim = 4 }\n\n[train]\nepochs = 1\n",
    );
}

/// Trains the one run of `sections` under `name`, reconstructs [`EXAMPLES`] test examples with
/// its saved model in hourglass and in PyTorch, and compares.
fn reproduce_in_pytorch(name: &str, sections: &str) {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join(format!("{name}.toml"));
    std::fs::write(
        &spec,
        format!("[experiment]\nname = \"{name}\"\n\n{sections}"),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let output = run_sweep(&spec, &reports);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let [run_dir] = run_dirs(&reports.join(name)).try_into().unwrap();
    assert_eq!(
        read_json(&run_dir.join("result.json"))["status"],
        "completed"
    );
    assert!(run_dir.join(MODEL_FILE).is_file() && run_dir.join(CARD_FILE).is_file());

    let device = hourglass_train::backend::device(Backend::Flex, DeviceName::Cpu).unwrap();
    let saved = hourglass_train::load(&run_dir, &device).unwrap();
    let registry = hourglass_data::Registry::discover(&repo().join("datasets")).unwrap();
    let test = registry.load(&saved.card.data.dataset, "test").unwrap();
    let inputs = test.inputs[..EXAMPLES * test.features()].to_vec();
    let mut standardized = inputs.clone();
    saved.standardize(&mut standardized);
    let reconstructions = saved.reconstruct(standardized, &device);

    let rows = |values: &[f32]| -> Vec<Vec<f32>> {
        values
            .chunks(test.features())
            .map(<[f32]>::to_vec)
            .collect()
    };
    let io = dir.path().join("io.json");
    std::fs::write(
        &io,
        serde_json::json!({"inputs": rows(&inputs), "reconstructions": rows(&reconstructions)})
            .to_string(),
    )
    .unwrap();
    let measured = run_python(&run_dir, &io);
    let difference = measured["max_abs_difference"].as_f64().unwrap();
    eprintln!("{name}: largest absolute difference {difference:e}");
    assert_eq!(measured["examples"], EXAMPLES);
    assert!(
        difference <= TOLERANCE,
        "{name}: {difference:e} > {TOLERANCE:e}"
    );
}

/// Runs the loader's check on `run_dir` with torch's Python, and reads what it prints.
fn run_python(run_dir: &Path, io: &Path) -> serde_json::Value {
    let venv = std::env::var_os("VIRTUAL_ENV").expect(
        "VIRTUAL_ENV names no Python environment with torch: run `cargo xtask ci`, or source the \
         env.sh that `cargo xtask setup-libtorch` prints",
    );
    let output = Command::new(Path::new(&venv).join("bin/python"))
        .arg(repo().join("crates/models/python/hourglass_torch.py"))
        .arg(run_dir)
        .arg(io)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    serde_json::from_str(text(&output.stdout).trim()).unwrap()
}
