//! The training objective of a run: its reconstruction term and every regularizer its kinds
//! ask for, summed into one scalar.

use burn::prelude::*;
use hourglass_spec::{CodebookUpdate, KlPenalty, ModelKind, Reconstruction, RunConfig};

use crate::autoencoder::{Autoencoder, AutoencoderOutput, Code};
use crate::importance::{importance_weighted_bound, importance_weights};
use crate::loss::{reconstruction_loss, reconstruction_nats};
use crate::penalty;

/// What a run minimises. For a VAE it is the negative ELBO per example in nats (with β and
/// warm-up on the KL term), for an IWAE the negative K-sample importance-weighted bound per
/// example in nats; for the other kinds the mean per-element reconstruction loss. Penalties
/// are added with their weights on that scale; a VQ-VAE's commitment loss `β ‖z_e − sg(e)‖²`
/// and codebook loss `‖sg(z_e) − e‖²` (its `loss` update) are means over code elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    pub(crate) reconstruction: Reconstruction,
    pub(crate) activation_l1: f64,
    /// Target and weight.
    pub(crate) sparsity: Option<(f64, f64)>,
    /// Weight and projections.
    pub(crate) contractive: Option<(f64, usize)>,
    kl: Option<KlPenalty>,
    /// An IWAE's K.
    importance_samples: Option<usize>,
    /// A VQ-VAE's commitment weight β, and whether its codebook learns by the codebook loss.
    codebook: Option<(f64, bool)>,
    pub(crate) weight_l1: f64,
}

/// The terms of one evaluation of the objective.
#[derive(Debug, Clone)]
pub struct ObjectiveTerms {
    /// The sum that is minimised.
    pub total: Tensor<1>,
    /// Its reconstruction term (nats per example for a VAE; for an IWAE their mean over the
    /// K codes).
    pub reconstruction: Tensor<1>,
    /// A VAE's or an IWAE's KL term in nats per example, before β (in an IWAE's objective
    /// only through the weights, reported as the encoder's distance from the prior).
    pub kl: Option<Tensor<1>>,
    /// A VQ-VAE's encoding of the batch, whose entry assignments update its codebook's
    /// moving averages after the step ([`Autoencoder::with_codebook_step`]).
    pub quantized_code: Option<Code>,
}

impl Objective {
    /// The objective of `config`. The spec has already dropped the penalties that do not
    /// belong to the run's kinds, so every penalty left in the config applies; a VAE without
    /// `regularizers.kl` gets the plain ELBO (β = 1).
    pub fn from_config(config: &RunConfig) -> Self {
        let regularizers = &config.regularizers;
        Self {
            reconstruction: config.loss.reconstruction,
            activation_l1: regularizers.activation_l1,
            sparsity: regularizers.sparsity.as_ref().map(|s| (s.target, s.weight)),
            contractive: regularizers
                .contractive
                .as_ref()
                .map(|c| (c.weight, c.projections)),
            kl: (config.model.kind == ModelKind::Vae)
                .then(|| regularizers.kl.clone().unwrap_or_default()),
            importance_samples: (config.model.kind == ModelKind::Iwae)
                .then(|| config.model.iwae_samples()),
            codebook: (config.model.kind == ModelKind::Vqvae).then(|| {
                let codebook = config.model.vq_codebook();
                (codebook.commitment, codebook.update == CodebookUpdate::Loss)
            }),
            weight_l1: regularizers.weight_l1,
        }
    }

    /// The KL weight after `epochs_done` epochs (fractional within an epoch): β, reached
    /// linearly over the warm-up.
    pub fn kl_weight(&self, epochs_done: f64) -> f64 {
        self.kl.as_ref().map_or(0.0, |kl| {
            if kl.warmup_epochs > 0.0 {
                kl.beta * (epochs_done / kl.warmup_epochs).min(1.0)
            } else {
                kl.beta
            }
        })
    }

    /// Codes drawn per example in a step and in an evaluation: an IWAE's K, one for a VAE.
    pub fn samples_per_example(&self) -> usize {
        self.importance_samples.unwrap_or(1)
    }

    /// The objective of `model` on a batch: `input` is what the encoder sees (corrupted for
    /// a denoising run), `target` the clean input, `noise` a variational model's ε, example
    /// i's [`samples_per_example`](Self::samples_per_example) draws side by side.
    ///
    /// # Shapes
    /// - input, target: `[batch, input]`
    /// - noise: `[batch · samples per example, latent]`
    pub fn terms(
        &self,
        model: &Autoencoder,
        input: Tensor<2>,
        target: Tensor<2>,
        noise: Option<Tensor<2>>,
        epochs_done: f64,
    ) -> ObjectiveTerms {
        let (mut terms, code) = match self.importance_samples {
            Some(samples) => {
                let code = model.encode(input.clone());
                let noise = noise.expect("an IWAE's step draws its ε");
                let terms = self.importance_weighted_terms(model, &code, target, noise, samples);
                (terms, code)
            }
            None => {
                let output = model.forward_with_noise(input.clone(), noise);
                let terms = self.reconstruction_terms(&output, target, epochs_done);
                (terms, output.code)
            }
        };
        if let (Some((commitment, codebook_loss)), Some(quantized)) =
            (self.codebook, &code.quantized)
        {
            let (encoded, entries) = (code.pre_activation.clone(), quantized.entries.clone());
            let squared = |a: Tensor<2>, b: Tensor<2>| (a - b).square().mean();
            terms.total =
                terms.total + squared(encoded.clone(), entries.clone().detach()) * commitment;
            if codebook_loss {
                terms.total = terms.total + squared(encoded.detach(), entries);
            }
            terms.quantized_code = Some(code.clone());
        }
        if self.activation_l1 > 0.0 {
            terms.total =
                terms.total + penalty::activation_l1(code.mean.clone()) * self.activation_l1;
        }
        if let Some((target, weight)) = self.sparsity {
            terms.total = terms.total + penalty::sparsity_kl(code.mean.clone(), target) * weight;
        }
        if let Some((weight, projections)) = self.contractive {
            let [_, features] = input.dims();
            let device = input.device();
            let directions = |batch| penalty::rademacher(projections * batch, features, &device);
            terms.total =
                terms.total + penalty::jacobian_penalty(model, input, || code, directions) * weight;
        }
        if self.weight_l1 > 0.0
            && let Some(l1) = penalty::weight_l1(model.weights())
        {
            terms.total = terms.total + l1 * self.weight_l1;
        }
        terms
    }

    /// The negative bound on `log p(x)` that validation and test report for a variational
    /// model, in nats per example and without β: a VAE's negative ELBO of one drawn code, an
    /// IWAE's negative K-sample bound.
    ///
    /// # Shapes
    /// - input: `[batch, input]`
    /// - noise: `[batch · samples per example, latent]`
    pub fn variational_terms(
        &self,
        model: &Autoencoder,
        input: Tensor<2>,
        noise: Tensor<2>,
    ) -> ObjectiveTerms {
        match self.importance_samples {
            Some(samples) => {
                let code = model.encode(input.clone());
                self.importance_weighted_terms(model, &code, input, noise, samples)
            }
            None => {
                let output = model.forward_with_noise(input.clone(), Some(noise));
                self.elbo_terms(&output, input, 1.0)
                    .expect("a variational model's code has a variance")
            }
        }
    }

    /// An IWAE's terms: the negative bound of `samples` codes per example.
    fn importance_weighted_terms(
        &self,
        model: &Autoencoder,
        code: &Code,
        target: Tensor<2>,
        noise: Tensor<2>,
        samples: usize,
    ) -> ObjectiveTerms {
        let weights = importance_weights(model, self.reconstruction, code, target, noise, samples);
        let log_var = code.log_var.clone().expect("an IWAE's code has a variance");
        ObjectiveTerms {
            total: importance_weighted_bound(weights.log_weights).neg().mean(),
            reconstruction: weights.reconstruction_nats.mean(),
            kl: Some(penalty::gaussian_kl(code.mean.clone(), log_var)),
            quantized_code: None,
        }
    }

    /// A VAE's reconstruction and KL terms, the KL weighted by `kl_weight` in the total;
    /// `None` for a code without variance.
    fn elbo_terms(
        &self,
        output: &AutoencoderOutput,
        target: Tensor<2>,
        kl_weight: f64,
    ) -> Option<ObjectiveTerms> {
        let log_var = output.code.log_var.clone()?;
        let reconstruction = reconstruction_nats(self.reconstruction, output, target);
        let kl = penalty::gaussian_kl(output.code.mean.clone(), log_var);
        Some(ObjectiveTerms {
            total: reconstruction.clone() + kl.clone() * kl_weight,
            reconstruction,
            kl: Some(kl),
            quantized_code: None,
        })
    }

    /// The reconstruction and β-weighted KL terms of a forward pass, without the other
    /// penalties: a VAE's step, and the loss that validation and test report for a
    /// deterministic code.
    pub fn reconstruction_terms(
        &self,
        output: &AutoencoderOutput,
        target: Tensor<2>,
        epochs_done: f64,
    ) -> ObjectiveTerms {
        match self.elbo_terms(output, target.clone(), self.kl_weight(epochs_done)) {
            Some(terms) => terms,
            None => {
                let reconstruction = reconstruction_loss(self.reconstruction, output, target);
                ObjectiveTerms {
                    total: reconstruction.clone(),
                    reconstruction,
                    kl: None,
                    quantized_code: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::objective;

    #[test]
    fn the_kl_weight_rises_linearly_over_the_warm_up() {
        let warm = objective(
            "[model]\nkind = \"vae\"\n\n[regularizers]\nkl = { beta = 0.5, warmup_epochs = 2 }\n",
        );
        assert_eq!(warm.kl_weight(0.0), 0.0);
        assert_eq!(warm.kl_weight(1.0), 0.25);
        assert_eq!(warm.kl_weight(5.0), 0.5);
        let cold = objective("[model]\nkind = \"vae\"\n");
        assert_eq!(cold.kl_weight(0.0), 1.0);
    }

    #[test]
    fn penalties_apply_to_their_kinds_only() {
        let sparse_denoising = objective(
            "[model]\nkind = \"sparse\"\nalso = [\"denoising\"]\n\n[regularizers]\nactivation_l1 = 0.1\n\n[noise]\nkind = \"masking\"\nlevel = 0.2\n",
        );
        assert_eq!(sparse_denoising.activation_l1, 0.1);
        assert_eq!(sparse_denoising.kl, None);
        let vae = objective("[model]\nkind = \"vae\"\n");
        assert_eq!(
            (vae.activation_l1, vae.sparsity, vae.contractive),
            (0.0, None, None)
        );
    }

    #[test]
    fn an_iwae_trains_and_reports_its_k_sample_bound_which_tightens_with_k() {
        let _rng = crate::tests::RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(7);
        let model = crate::AutoencoderConfig {
            shape: vec![6],
            conv_channels: None,
            hidden: vec![4],
            latent: 2,
            activation: hourglass_spec::Activation::Tanh,
            code_activation: hourglass_spec::CodeActivation::Identity,
            output: hourglass_spec::OutputActivation::Sigmoid,
            variational: true,
            codebook: None,
        }
        .init(&device);
        // Eight examples, each 500 times: the mean over copies estimates each expectation.
        let examples = Tensor::<2>::random([8, 6], burn::tensor::Distribution::Default, &device);
        let input = examples
            .unsqueeze_dim::<3>(0)
            .expand([500, 8, 6])
            .reshape([4000, 6]);
        let mut bounds = Vec::new();
        for samples in [1, 5, 50] {
            let iwae = objective(&format!(
                "[model]\nkind = \"iwae\"\nsamples = {samples}\n\n[loss]\nreconstruction = \"bce\"\n"
            ));
            assert_eq!(iwae.samples_per_example(), samples);
            let noise = Tensor::<2>::random(
                [4000 * samples, 2],
                burn::tensor::Distribution::Normal(0.0, 1.0),
                &device,
            );
            let trained = iwae.terms(
                &model,
                input.clone(),
                input.clone(),
                Some(noise.clone()),
                0.0,
            );
            let reported = iwae.variational_terms(&model, input.clone(), noise);
            let total = trained.total.into_scalar::<f32>();
            assert_eq!(total, reported.total.into_scalar::<f32>());
            bounds.push(f64::from(total));
        }
        // E[−log (1/K) Σ wₖ] falls as K grows (Burda et al. 2016, theorem 1).
        eprintln!("negative bounds for K = 1, 5, 50: {bounds:?}");
        assert!(
            bounds[0] > bounds[1] + 0.01 && bounds[1] > bounds[2] + 0.01,
            "{bounds:?}"
        );
    }

    #[test]
    fn penalties_add_to_the_reconstruction_term() {
        let _rng = crate::tests::RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(5);
        let config = crate::AutoencoderConfig {
            shape: vec![6],
            conv_channels: None,
            hidden: vec![],
            latent: 2,
            activation: hourglass_spec::Activation::Relu,
            code_activation: hourglass_spec::CodeActivation::Sigmoid,
            output: hourglass_spec::OutputActivation::Sigmoid,
            variational: false,
            codebook: None,
        };
        let model = config.init(&device);
        let input = Tensor::<2>::random([4, 6], burn::tensor::Distribution::Default, &device);
        let plain = objective("[model]\nkind = \"vanilla\"\n");
        let contractive = objective(
            "[model]\nkind = \"contractive\"\n\n[regularizers]\ncontractive = { weight = 0.5 }\n",
        );
        let scalar = |t: Tensor<1>| t.into_scalar::<f32>();
        let base = scalar(
            plain
                .terms(&model, input.clone(), input.clone(), None, 0.0)
                .total,
        );
        let with = contractive.terms(&model, input.clone(), input.clone(), None, 0.0);
        let code = || model.encode(input.clone());
        let directions = |batch| penalty::rademacher(batch, 6, &device);
        let penalty = scalar(penalty::jacobian_penalty(
            &model,
            input.clone(),
            code,
            directions,
        ));
        assert!((scalar(with.reconstruction) - base).abs() < 1e-6);
        assert!((scalar(with.total) - base - 0.5 * penalty).abs() < 1e-5);
    }
}
