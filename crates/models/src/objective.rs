//! The training objective of a run: its reconstruction term and every regularizer its kinds
//! ask for, summed into one scalar.

use burn::prelude::*;
use hourglass_spec::{KlPenalty, ModelKind, Reconstruction, RunConfig};

use crate::autoencoder::{Autoencoder, AutoencoderOutput};
use crate::loss::{reconstruction_loss, reconstruction_nats};
use crate::penalty;

/// What a run minimises. For a VAE it is the negative ELBO per example in nats (with β and
/// warm-up on the KL term); for the other kinds the mean per-element reconstruction loss.
/// Penalties are added with their weights on that scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Objective {
    reconstruction: Reconstruction,
    activation_l1: f64,
    sparsity: Option<(f64, f64)>,
    contractive: Option<(f64, usize)>,
    kl: Option<KlPenalty>,
    weight_l1: f64,
}

/// The terms of one evaluation of the objective.
#[derive(Debug, Clone)]
pub struct ObjectiveTerms {
    /// The sum that is minimised.
    pub total: Tensor<1>,
    /// Its reconstruction term (nats per example for a VAE).
    pub reconstruction: Tensor<1>,
    /// A VAE's KL term in nats per example, before β.
    pub kl: Option<Tensor<1>>,
}

impl Objective {
    /// The objective of `config`; its kinds decide which penalties apply.
    pub fn from_config(config: &RunConfig) -> Self {
        let regularizers = &config.regularizers;
        let model = &config.model;
        Self {
            reconstruction: config.loss.reconstruction,
            activation_l1: if model.is(ModelKind::Sparse) {
                regularizers.activation_l1
            } else {
                0.0
            },
            sparsity: regularizers
                .sparsity
                .as_ref()
                .filter(|_| model.is(ModelKind::Sparse))
                .map(|s| (s.target, s.weight)),
            contractive: regularizers
                .contractive
                .as_ref()
                .filter(|_| model.is(ModelKind::Contractive))
                .map(|c| (c.weight, c.projections)),
            kl: (model.kind == ModelKind::Vae).then(|| regularizers.kl.clone().unwrap_or_default()),
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

    /// The objective of `model` on a batch: `input` is what the encoder sees (corrupted for
    /// a denoising run), `target` the clean input.
    ///
    /// # Shapes
    /// - input, target: `[batch, input]`
    pub fn terms(
        &self,
        model: &Autoencoder,
        input: Tensor<2>,
        target: Tensor<2>,
        epochs_done: f64,
    ) -> ObjectiveTerms {
        let output = model.forward_sampled(input.clone());
        let mut terms = self.reconstruction_terms(&output, target, epochs_done);
        let code = &output.code.mean;
        if self.activation_l1 > 0.0 {
            terms.total = terms.total + penalty::activation_l1(code.clone()) * self.activation_l1;
        }
        if let Some((target, weight)) = self.sparsity {
            terms.total = terms.total + penalty::sparsity_kl(code.clone(), target) * weight;
        }
        if let Some((weight, projections)) = self.contractive {
            terms.total =
                terms.total + penalty::jacobian_penalty(model, input, projections) * weight;
        }
        if self.weight_l1 > 0.0
            && let Some(l1) = penalty::weight_l1(model.weights())
        {
            terms.total = terms.total + l1 * self.weight_l1;
        }
        terms
    }

    /// The reconstruction and KL terms of a forward pass, without the other penalties: what
    /// validation and test report as the loss.
    pub fn reconstruction_terms(
        &self,
        output: &AutoencoderOutput,
        target: Tensor<2>,
        epochs_done: f64,
    ) -> ObjectiveTerms {
        match &output.code.log_var {
            Some(log_var) => {
                let reconstruction = reconstruction_nats(self.reconstruction, output, target);
                let kl = penalty::gaussian_kl(output.code.mean.clone(), log_var.clone());
                ObjectiveTerms {
                    total: reconstruction.clone() + kl.clone() * self.kl_weight(epochs_done),
                    reconstruction,
                    kl: Some(kl),
                }
            }
            None => {
                let reconstruction = reconstruction_loss(self.reconstruction, output, target);
                ObjectiveTerms {
                    total: reconstruction.clone(),
                    reconstruction,
                    kl: None,
                }
            }
        }
    }
}
