//! Which runs of a sweep can train together as one packed model: those whose tensors have the
//! same shapes, that read the same data in batches of the same size for as many epochs, with
//! the same loss and kind of optimizer, on the same backend. They may differ in seed, learning
//! rate, optimizer settings, regularizer and noise weights, and kind, where the kinds share a
//! shape (every kind but the VAE).

use crate::schema::{
    Architecture, Backend, DataSection, ModelKind, ModelSection, Optimizer, Reconstruction,
    RunConfig,
};

/// What the runs of one pack share.
#[derive(Debug, Clone, PartialEq)]
pub struct PackKey {
    data: DataSection,
    /// The model with its kinds reduced to what fixes the shapes: VAE or not.
    model: ModelSection,
    reconstruction: Reconstruction,
    optimizer: Optimizer,
    batch_size: usize,
    epochs: usize,
    backend: Backend,
}

impl RunConfig {
    /// The key of the packs this run can join, or `None` when it trains alone: conv models
    /// (not packed yet), contractive ones (the penalty differentiates through the model),
    /// IWAEs (a step decodes K codes per example: not packed yet) and VQ-VAEs (a codebook
    /// between encoder and decoder: not packed yet).
    pub fn pack_key(&self) -> Option<PackKey> {
        let model = &self.model;
        if model.architecture == Architecture::Conv
            || model.is(ModelKind::Contractive)
            || matches!(model.kind, ModelKind::Iwae | ModelKind::Vqvae)
        {
            return None;
        }
        let shape_kind = if model.kind.is_variational() {
            ModelKind::Vae
        } else {
            ModelKind::Vanilla
        };
        Some(PackKey {
            data: self.data.clone(),
            model: ModelSection {
                kind: shape_kind,
                also: Vec::new(),
                ..model.clone()
            },
            reconstruction: self.loss.reconstruction,
            optimizer: self.train.optimizer,
            batch_size: self.train.batch_size,
            epochs: self.train.epochs,
            backend: self.train.backend,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::parse_str;

    /// The pack key of the first run of an MNIST spec ending in `tail`.
    fn key(tail: &str) -> Option<super::PackKey> {
        let spec = format!("[experiment]\nname = \"p\"\n\n[data]\ndataset = \"mnist\"\n\n{tail}");
        parse_str(&spec).unwrap().runs[0].config.pack_key()
    }

    #[test]
    fn runs_pack_across_kinds_and_weights_but_not_across_shapes() {
        let vanilla = key("[model]\nhidden = [32]\n");
        assert!(vanilla.is_some());
        for same in [
            "[model]\nhidden = [32]\nkind = \"sparse\"\n[regularizers]\nactivation_l1 = 0.1\n",
            "[model]\nhidden = [32]\nkind = \"denoising\"\n[noise]\nkind = \"masking\"\nlevel = 0.2\n",
            "[model]\nhidden = [32]\n[train]\nlearning_rate = 0.01\n",
            "[model]\nhidden = [32]\n[regularizers]\nweight_decay = 0.001\n",
        ] {
            assert_eq!(key(same), vanilla, "{same}");
        }
        for different in [
            "[model]\nhidden = [64]\n",
            "[model]\nhidden = [32]\nkind = \"vae\"\n",
            "[model]\nhidden = [32]\n[train]\nbatch_size = 32\n",
            "[model]\nhidden = [32]\n[train]\noptimizer = \"sgd\"\n",
            "[model]\nhidden = [32]\n[loss]\nreconstruction = \"bce\"\n",
        ] {
            assert_ne!(key(different), vanilla, "{different}");
        }
        assert_eq!(key("[model]\narchitecture = \"conv\"\n"), None);
        let contractive =
            "[model]\nkind = \"contractive\"\n[regularizers]\ncontractive = { weight = 0.1 }\n";
        assert_eq!(key(contractive), None);
        assert_eq!(key("[model]\nkind = \"iwae\"\n"), None);
        assert_eq!(key("[model]\nkind = \"vqvae\"\n"), None);
    }
}
