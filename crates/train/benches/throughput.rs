//! Training throughput of the benchmark autoencoders on every CPU backend compiled in (flex,
//! and tch with `--features tch`): the MLP 784-256-64-256-784 and the conv autoencoder of
//! `channels = [32, 64]`, `hidden = [256]`, `latent = 32`, at batch 64, 128 and 256, Adam.
//!
//! Random inputs, so the figure is the model's and the backend's, not the data loader's; the
//! loss is read back every step, as training does. Each configuration runs until warm, then
//! several repetitions of about half a second; the median samples/s is printed as one JSON
//! object per line, which `cargo xtask bench` sets beside PyTorch's twins
//! (`xtask/bench/pytorch_twin.py`).
//!
//! Arguments after `--` keep only the configurations whose `backend/model/batch` name contains
//! one of them (`cargo bench --bench throughput -- flex/conv`), for profiling one. Under `cargo
//! test` (no `--bench` argument) each configuration runs a few steps once, as a smoke test.

use std::time::{Duration, Instant};

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use hourglass_models::{Autoencoder, AutoencoderConfig, reconstruction_loss};
use hourglass_spec::{Activation, CodeActivation, DeviceName, OutputActivation, Reconstruction};

/// The allocator of the `hourglass` binary, which trains.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCHES: [usize; 3] = [64, 128, 256];
/// How long a configuration is timed: warm-up steps at least, then repetitions of about
/// `repetition` each, of which the median counts.
struct Timing {
    warm_up_steps: usize,
    repetitions: usize,
    repetition: Duration,
}

/// `cargo bench`'s timing.
const FULL: Timing = Timing {
    warm_up_steps: 5,
    repetitions: 5,
    repetition: Duration::from_millis(500),
};

/// `cargo test`'s: the code runs, the figure means little.
const SMOKE: Timing = Timing {
    warm_up_steps: 1,
    repetitions: 1,
    repetition: Duration::ZERO,
};

fn model(name: &str) -> AutoencoderConfig {
    let conv = name == "conv";
    AutoencoderConfig {
        shape: if conv { vec![1, 28, 28] } else { vec![784] },
        conv_channels: conv.then(|| vec![32, 64]),
        hidden: vec![256],
        latent: if conv { 32 } else { 64 },
        activation: Activation::Relu,
        code_activation: CodeActivation::Identity,
        output: OutputActivation::Sigmoid,
        variational: false,
        codebook: None,
    }
}

/// Median training samples/s of `config` at `batch` on `device`.
fn samples_per_second(
    config: &AutoencoderConfig,
    batch: usize,
    device: &Device,
    timing: &Timing,
) -> f64 {
    device.seed(0);
    let mut model = config.init(device);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let batches: Vec<Tensor<2>> = (0..8)
        .map(|_| Tensor::random([batch, 784], Distribution::Default, device))
        .collect();
    let mut step = |model: Autoencoder, i: usize| {
        let input = batches[i % batches.len()].clone();
        let output = model.forward(input.clone());
        let loss = reconstruction_loss(Reconstruction::Mse, &output, input);
        let _: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optimizer.step(1e-3, model, grads)
    };
    // Warm up, and size a repetition from the warm steps.
    let started = Instant::now();
    let mut steps = 0;
    while steps < timing.warm_up_steps || started.elapsed() < timing.repetition / 2 {
        model = step(model, steps);
        steps += 1;
    }
    let per_repetition = ((timing.repetition.as_secs_f64() * steps as f64
        / started.elapsed().as_secs_f64()) as usize)
        .max(3);
    let mut rates = Vec::with_capacity(timing.repetitions);
    for _ in 0..timing.repetitions {
        let started = Instant::now();
        for i in 0..per_repetition {
            model = step(model, i);
        }
        rates.push((per_repetition * batch) as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    rates[timing.repetitions / 2]
}

fn main() {
    // As training does, so the figures are those of a run.
    hourglass_train::on_a_thread_pool(bench);
}

fn bench() {
    let timing = if std::env::args().any(|arg| arg == "--bench") {
        FULL
    } else {
        SMOKE
    };
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let backends = hourglass_train::backend::compiled()
        .into_iter()
        .filter(|backend| backend.runs_on(DeviceName::Cpu));
    for backend in backends {
        let device = hourglass_train::backend::device(backend, DeviceName::Cpu)
            .expect("a compiled CPU backend")
            .autodiff();
        for name in ["mlp", "conv"] {
            for batch in BATCHES {
                let name_of_run = format!("{}/{name}/{batch}", backend.name());
                if !filters.is_empty() && !filters.iter().any(|f| name_of_run.contains(f.as_str()))
                {
                    continue;
                }
                let rate = samples_per_second(&model(name), batch, &device, &timing);
                println!(
                    "{}",
                    serde_json::json!({
                        "backend": backend.name(),
                        "model": name,
                        "batch": batch,
                        "samples_per_s": rate,
                    })
                );
            }
        }
    }
}
