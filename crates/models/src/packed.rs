//! Several MLP autoencoders of one configuration trained as one model: every weight gains a
//! leading run dimension (`[runs, input, output]`), so that one batched matrix product per
//! layer does the work of one small product per run. The runs share nothing else: each run's
//! loss depends on its own weights only, so the gradient of the summed losses is, for each
//! run's weights, that run's own gradient.

use burn::prelude::*;

use crate::autoencoder::{Autoencoder, AutoencoderOutput};
use crate::loss::{reconstruction_loss_per_example, reconstruction_nats_per_example};
use crate::objective::{Objective, ObjectiveTerms};
use crate::penalty;

/// A fully connected layer of every run of a pack.
#[derive(Debug, Clone)]
struct PackedLinear {
    /// `[runs, input, output]`
    weight: Tensor<3>,
    /// `[runs, 1, output]`
    bias: Tensor<3>,
}

impl PackedLinear {
    /// # Shapes
    /// - input: `[runs, batch, input]`
    /// - output: `[runs, batch, output]`
    fn forward(&self, input: Tensor<3>) -> Tensor<3> {
        input.matmul(self.weight.clone()) + self.bias.clone()
    }
}

/// MLP autoencoders of one [`AutoencoderConfig`](crate::AutoencoderConfig), packed.
#[derive(Debug, Clone)]
pub struct PackedAutoencoder {
    /// The first run's model: the layout and activations every run shares (its weights are
    /// not used).
    template: Autoencoder,
    /// Encoder layers, then decoder layers, input side first.
    layers: Vec<PackedLinear>,
    /// How many of `layers` are the encoder's.
    encoder_layers: usize,
}

impl PackedAutoencoder {
    /// Packs `models`, which share one configuration; `None` when they are conv models (or
    /// there are none).
    ///
    /// # Panics
    /// When the models' layers differ in number or shape.
    pub fn pack(models: &[Autoencoder]) -> Option<Self> {
        let template = models.first()?.clone();
        let [encoder, decoder] = template.mlps()?;
        let encoder_layers = encoder.layers().len();
        let layer_count = encoder_layers + decoder.layers().len();
        let layers_of = |model: &Autoencoder| {
            let [encoder, decoder] = model.mlps().expect("a pack's models are all MLPs");
            let layers: Vec<_> = encoder
                .layers()
                .iter()
                .chain(decoder.layers())
                .cloned()
                .collect();
            assert_eq!(layers.len(), layer_count, "a pack's models have one layout");
            layers
        };
        let per_model: Vec<_> = models.iter().map(layers_of).collect();
        let layers = (0..layer_count)
            .map(|i| {
                let weights = per_model.iter().map(|layers| layers[i].weight.val());
                let biases = per_model.iter().map(|layers| {
                    let bias = layers[i].bias.as_ref().expect("MLP layers have biases");
                    bias.val().unsqueeze::<2>() // [1, output]
                });
                PackedLinear {
                    weight: Tensor::stack(weights.collect(), 0),
                    bias: Tensor::stack(biases.collect(), 0),
                }
            })
            .collect();
        Some(Self {
            template,
            layers,
            encoder_layers,
        })
    }

    /// How many runs the pack holds.
    pub fn runs(&self) -> usize {
        self.layers[0].weight.dims()[0]
    }

    /// Each run's model, in pack order, detached from any graph.
    pub fn unpack(&self) -> Vec<Autoencoder> {
        (0..self.runs())
            .map(|run| {
                let mut parameters = self.layers.iter().map(|layer| {
                    let [_, input, output] = layer.weight.dims();
                    // Out of the graph: each model's parameters become leaves of their own.
                    let weight = layer
                        .weight
                        .clone()
                        .set_require_grad(false)
                        .narrow(0, run, 1);
                    let bias = layer.bias.clone().set_require_grad(false).narrow(0, run, 1);
                    (weight.reshape([input, output]), bias.reshape([output]))
                });
                let encoder = parameters.by_ref().take(self.encoder_layers).collect();
                self.template
                    .with_mlp_parameters(encoder, parameters.collect())
            })
            .collect()
    }

    /// Every parameter tensor (each layer's weight, then its bias), in a fixed order.
    pub fn parameters(&self) -> Vec<Tensor<3>> {
        self.layers
            .iter()
            .flat_map(|layer| [layer.weight.clone(), layer.bias.clone()])
            .collect()
    }

    /// Replaces every parameter by `update` of it, given in the order of [`Self::parameters`].
    /// Each parameter is handed over, not cloned, so an update may reuse its memory.
    pub fn update_parameters(&mut self, mut update: impl FnMut(usize, Tensor<3>) -> Tensor<3>) {
        self.layers = std::mem::take(&mut self.layers)
            .into_iter()
            .enumerate()
            .map(|(i, layer)| PackedLinear {
                weight: update(2 * i, layer.weight),
                bias: update(2 * i + 1, layer.bias),
            })
            .collect();
    }

    /// The weight matrices of every run (not the biases), input side first.
    fn weights(&self) -> impl Iterator<Item = Tensor<3>> + '_ {
        self.layers.iter().map(|layer| layer.weight.clone())
    }

    /// Every run encodes and decodes its own batch as in training: a VAE decodes
    /// `μ + σ · ε` with the given ε.
    ///
    /// # Shapes
    /// - input: `[runs, batch, input]`
    /// - noise: `[runs, batch, latent]`
    /// - every tensor of the output: run-major, `[runs · batch, …]`
    pub fn forward(&self, input: Tensor<3>, noise: Option<Tensor<3>>) -> AutoencoderOutput {
        let [runs, batch, _] = input.dims();
        let [encoder, decoder] = self.template.mlps().expect("a pack's models are MLPs");
        let (encoder_layers, decoder_layers) = self.layers.split_at(self.encoder_layers);
        let encoded = encoder_layers
            .iter()
            .enumerate()
            .fold(input, |x, (i, layer)| {
                encoder.activated(i, layer.forward(x))
            });
        let code = self.template.code_of(flatten(encoded)); // [runs · batch, latent]
        let decoded = self.template.sample(&code, noise.map(flatten));
        let latent = self.template.latent();
        let logits = decoder_layers.iter().enumerate().fold(
            decoded.clone().reshape([runs, batch, latent]),
            |x, (i, layer)| decoder.activated(i, layer.forward(x)),
        );
        let logits = flatten(logits); // [runs · batch, input]
        AutoencoderOutput {
            code,
            decoded,
            reconstruction: self.template.output_of(logits.clone()),
            logits,
        }
    }
}

/// `[runs, batch, width]` as `[runs · batch, width]`.
fn flatten(tensor: Tensor<3>) -> Tensor<2> {
    let [runs, batch, width] = tensor.dims();
    tensor.reshape([runs * batch, width])
}

/// The objectives of the runs of a pack, each with its own weights.
#[derive(Debug, Clone, PartialEq)]
pub struct PackedObjective {
    runs: Vec<Objective>,
}

impl PackedObjective {
    /// The objectives of a pack's runs in pack order; `None` when they cannot be trained as
    /// one: a contractive penalty (its estimator differentiates through a model of its
    /// own), or different reconstruction losses.
    pub fn new(runs: Vec<Objective>) -> Option<Self> {
        let first = runs.first()?;
        let packable = runs.iter().all(|objective| {
            objective.contractive.is_none() && objective.reconstruction == first.reconstruction
        });
        packable.then_some(Self { runs })
    }

    /// The objectives of the runs at `positions` only, in that order.
    pub fn select(&self, positions: &[usize]) -> Self {
        Self {
            runs: positions.iter().map(|&i| self.runs[i].clone()).collect(),
        }
    }

    /// Each run's objective on its own batch, as [`Objective::terms`] computes it for one
    /// run: every field of the terms holds one value per run, `[runs]`. `input` is what the
    /// encoders see, `target` the clean batches, `noise` a VAE's ε.
    ///
    /// # Shapes
    /// - input, target: `[runs, batch, input]`
    /// - noise: `[runs, batch, latent]`
    pub fn terms(
        &self,
        model: &PackedAutoencoder,
        input: Tensor<3>,
        target: Tensor<3>,
        noise: Option<Tensor<3>>,
        epochs_done: f64,
    ) -> ObjectiveTerms {
        let [runs, batch, _] = input.dims();
        let device = input.device();
        let output = model.forward(input, noise);
        let target = flatten(target);
        let mean_per_run = |per_example: Tensor<1>| {
            per_example
                .reshape([runs, batch])
                .mean_dim(1)
                .reshape([runs])
        };
        let per_run = |value: &dyn Fn(&Objective) -> f64| {
            let values: Vec<f32> = self.runs.iter().map(|o| value(o) as f32).collect();
            Tensor::<1>::from_data(TensorData::new(values, [runs]), &device)
        };
        let kind = self.runs[0].reconstruction;
        let mut terms = match &output.code.log_var {
            Some(log_var) => {
                let reconstruction =
                    mean_per_run(reconstruction_nats_per_example(kind, &output, target));
                let kl = mean_per_run(penalty::gaussian_kl_per_example(
                    output.code.mean.clone(),
                    log_var.clone(),
                ));
                let kl_weight = per_run(&|o| o.kl_weight(epochs_done));
                ObjectiveTerms {
                    total: reconstruction.clone() + kl.clone() * kl_weight,
                    reconstruction,
                    kl: Some(kl),
                    quantized_code: None,
                }
            }
            None => {
                let reconstruction =
                    mean_per_run(reconstruction_loss_per_example(kind, &output, target));
                ObjectiveTerms {
                    total: reconstruction.clone(),
                    reconstruction,
                    kl: None,
                    quantized_code: None,
                }
            }
        };
        let code = &output.code.mean; // [runs · batch, latent]
        if self.runs.iter().any(|o| o.activation_l1 > 0.0) {
            let l1 = mean_per_run(penalty::activation_l1_per_example(code.clone()));
            terms.total = terms.total + l1 * per_run(&|o| o.activation_l1);
        }
        if self.runs.iter().any(|o| o.sparsity.is_some()) {
            // A run without the penalty gets weight 0 and any target that keeps it finite.
            let target = per_run(&|o| o.sparsity.map_or(0.5, |(target, _)| target));
            let weight = per_run(&|o| o.sparsity.map_or(0.0, |(_, weight)| weight));
            let [_, latent] = code.dims();
            let kl = penalty::sparsity_kl_per_run(
                code.clone().reshape([runs, batch, latent]),
                target.reshape([runs, 1, 1]),
            );
            terms.total = terms.total + kl * weight;
        }
        if self.runs.iter().any(|o| o.weight_l1 > 0.0)
            && let Some(l1) = penalty::weight_l1_per_run(model.weights())
        {
            terms.total = terms.total + l1 * per_run(&|o| o.weight_l1);
        }
        terms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AutoencoderConfig;
    use crate::tests::RNG;
    use burn::tensor::Distribution;
    use hourglass_spec::{Activation, CodeActivation, OutputActivation};

    fn config(variational: bool) -> AutoencoderConfig {
        AutoencoderConfig {
            shape: vec![6],
            conv_channels: None,
            hidden: vec![5],
            latent: 2,
            activation: Activation::Relu,
            code_activation: CodeActivation::Sigmoid,
            output: OutputActivation::Sigmoid,
            variational,
            codebook: None,
        }
    }

    fn values(tensor: Tensor<2>) -> Vec<f32> {
        tensor.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn a_pack_computes_what_each_model_computes_and_unpacks_to_them() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(11);
        for variational in [false, true] {
            let models: Vec<Autoencoder> =
                (0..3).map(|_| config(variational).init(&device)).collect();
            let pack = PackedAutoencoder::pack(&models).unwrap();
            assert_eq!(pack.runs(), 3);
            let input = Tensor::<3>::random([3, 4, 6], Distribution::Default, &device);
            let noise = Tensor::<3>::random([3, 4, 2], Distribution::Normal(0.0, 1.0), &device);
            let packed = pack.forward(input.clone(), Some(noise.clone()));
            for (run, model) in models.iter().enumerate() {
                let alone = model.forward_with_noise(
                    input.clone().narrow(0, run, 1).reshape([4, 6]),
                    Some(noise.clone().narrow(0, run, 1).reshape([4, 2])),
                );
                let mine = packed.reconstruction.clone().narrow(0, 4 * run, 4);
                let (a, b) = (values(alone.reconstruction), values(mine));
                for (a, b) in a.iter().zip(&b) {
                    assert!((a - b).abs() < 1e-6, "run {run}: {a} vs {b}");
                }
            }
            for (unpacked, model) in pack.unpack().iter().zip(&models) {
                let input = Tensor::<2>::random([2, 6], Distribution::Default, &device);
                assert_eq!(
                    values(unpacked.forward(input.clone()).reconstruction),
                    values(model.forward(input).reconstruction)
                );
            }
        }
    }

    #[test]
    fn each_run_gets_its_own_objective_with_its_own_weights() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(12);
        let scalar = |t: Tensor<1>| t.into_scalar::<f32>();
        let cases = [
            (
                false,
                vec![
                    "[model]\nkind = \"vanilla\"\n",
                    "[model]\nkind = \"sparse\"\n\n[regularizers]\nactivation_l1 = 0.3\nweight_l1 = 0.01\n",
                    "[model]\nkind = \"sparse\"\ncode_activation = \"sigmoid\"\n\n[regularizers]\nsparsity = { target = 0.1, weight = 0.5 }\n",
                ],
            ),
            (
                true,
                vec![
                    "[model]\nkind = \"vae\"\n",
                    "[model]\nkind = \"vae\"\n\n[regularizers]\nkl = { beta = 4, warmup_epochs = 2 }\n",
                ],
            ),
        ];
        for (variational, specs) in cases {
            let runs = specs.len();
            let objectives: Vec<Objective> = specs
                .iter()
                .map(|tail| crate::tests::objective(tail))
                .collect();
            let models: Vec<Autoencoder> = (0..runs)
                .map(|_| config(variational).init(&device))
                .collect();
            let pack = PackedAutoencoder::pack(&models).unwrap();
            let packed_objective = PackedObjective::new(objectives.clone()).unwrap();
            let input = Tensor::<3>::random([runs, 4, 6], Distribution::Default, &device);
            let noise = Tensor::<3>::random([runs, 4, 2], Distribution::Normal(0.0, 1.0), &device);
            let packed = packed_objective.terms(
                &pack,
                input.clone(),
                input.clone(),
                Some(noise.clone()),
                0.5,
            );
            let totals: Vec<f32> = packed.total.into_data().try_to_vec().unwrap();
            for (run, (model, objective)) in models.iter().zip(&objectives).enumerate() {
                let x = input.clone().narrow(0, run, 1).reshape([4, 6]);
                let eps = noise.clone().narrow(0, run, 1).reshape([4, 2]);
                let alone = scalar(objective.terms(model, x.clone(), x, Some(eps), 0.5).total);
                assert!(
                    (alone - totals[run]).abs() < 1e-5 * alone.abs().max(1.0),
                    "run {run}: {alone} alone, {} packed",
                    totals[run]
                );
            }
        }
    }

    #[test]
    fn contractive_runs_and_mixed_losses_do_not_pack() {
        let vanilla = crate::tests::objective("[model]\nkind = \"vanilla\"\n");
        let contractive = crate::tests::objective(
            "[model]\nkind = \"contractive\"\n\n[regularizers]\ncontractive = { weight = 0.5 }\n",
        );
        let bce = crate::tests::objective(
            "[model]\nkind = \"vanilla\"\n\n[loss]\nreconstruction = \"bce\"\n",
        );
        assert!(PackedObjective::new(vec![vanilla.clone(), contractive]).is_none());
        assert!(PackedObjective::new(vec![vanilla.clone(), bce]).is_none());
        assert!(PackedObjective::new(vec![vanilla.clone(), vanilla]).is_some());
    }

    #[test]
    fn conv_models_do_not_pack() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        let conv = AutoencoderConfig {
            shape: vec![1, 8, 8],
            conv_channels: Some(vec![2]),
            ..config(false)
        };
        assert!(PackedAutoencoder::pack(&[conv.init(&device)]).is_none());
    }
}
