//! Training throughput of the MLP 784-256-64-256-784 (batch 128, Adam) on the default backend.
//!
//! Random inputs, so the figure is the model's and the backend's, not the data loader's.
//! Prints the median samples/s of several timed repetitions after a warm-up.

use std::time::Instant;

use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use hourglass_models::{Autoencoder, AutoencoderConfig, reconstruction_loss};
use hourglass_spec::{Activation, CodeActivation, OutputActivation, Reconstruction};

const BATCH: usize = 128;
const STEPS_PER_REPETITION: usize = 50;
const REPETITIONS: usize = 7;

fn main() {
    let device = Device::flex().autodiff();
    device.seed(0);
    // Encoder 784-256-64, decoder mirrored: 784-256-64-256-784.
    let config = AutoencoderConfig {
        shape: vec![784],
        conv_channels: None,
        hidden: vec![256],
        latent: 64,
        activation: Activation::Relu,
        code_activation: CodeActivation::Identity,
        output: OutputActivation::Sigmoid,
        variational: false,
    };
    let mut model = config.init(&device);
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let batches: Vec<Tensor<2>> = (0..8)
        .map(|_| Tensor::random([BATCH, 784], Distribution::Default, &device))
        .collect();

    let mut step = |model: Autoencoder, i: usize| {
        let input = batches[i % batches.len()].clone();
        let output = model.forward(input.clone());
        let loss = reconstruction_loss(Reconstruction::Mse, &output, input);
        let _: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        optimizer.step(1e-3, model, grads)
    };
    for i in 0..20 {
        model = step(model, i);
    }
    let mut rates = Vec::new();
    for _ in 0..REPETITIONS {
        let started = Instant::now();
        for i in 0..STEPS_PER_REPETITION {
            model = step(model, i);
        }
        rates.push((STEPS_PER_REPETITION * BATCH) as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let flops_per_sample = 6.0 * (784.0 * 256.0 + 256.0 * 64.0) * 2.0;
    let median = rates[REPETITIONS / 2];
    println!(
        "mlp 784-256-64-256-784, batch {BATCH}, adam, flex: median {median:.0} samples/s \
         (min {:.0}, max {:.0}; {:.1} GFLOP/s)",
        rates[0],
        rates[REPETITIONS - 1],
        median * flops_per_sample / 1e9
    );
}
