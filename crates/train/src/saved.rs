//! A run's trained model, kept: its weights in `model.safetensors` (burn-store's safetensors
//! format, tensors named by their place in the module without enum variants, in burn's
//! layouts) beside its card, `model.json`, which says how to rebuild and use it.
//!
//! Both are written atomically when a run finishes, lone or packed; [`load`] rebuilds the
//! model from them without the spec.

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn_store::{ModuleSnapshot, SafetensorsStore};
use hourglass_data::{Split, Standardization};
use hourglass_models::{Autoencoder, AutoencoderConfig};
use hourglass_spec::Reconstruction;
use hourglass_spec::model_card::{
    self, CARD_FILE, CARD_FORMAT_VERSION, CardError, CodeRanges, DataProvenance, FeatureStatistics,
    MODEL_FILE, ModelArchitecture, ModelCard, Provenance, TensorEntry,
};
use hourglass_spec::result::write_atomic;
use safetensors::SafeTensors;

use crate::{TrainError, anomaly, batch, evaluate};

/// What a card says of a run's model besides its weights.
pub(crate) struct CardFacts {
    pub(crate) run_id: String,
    pub(crate) model: ModelArchitecture,
    pub(crate) loss: Reconstruction,
    pub(crate) data: DataProvenance,
    pub(crate) standardization: Option<FeatureStatistics>,
    pub(crate) code_ranges: Option<CodeRanges>,
}

/// Writes `model`'s weights and card into `run_dir`; the weights first, so that a card is
/// never without its weights.
pub(crate) fn save(
    model: &Autoencoder,
    facts: CardFacts,
    run_dir: &Path,
) -> Result<(), TrainError> {
    let weights_path = run_dir.join(MODEL_FILE);
    let mut store = SafetensorsStore::from_bytes(None)
        .skip_enum_variants(true)
        .metadata("hourglass_run", facts.run_id.clone());
    let bytes = model
        .save_into(&mut store)
        .and_then(|()| store.get_bytes())
        .map_err(|error| TrainError::Write {
            path: weights_path.clone(),
            source: std::io::Error::other(error.to_string()),
        })?;
    write_atomic(&weights_path, &bytes).map_err(|source| TrainError::Write {
        path: weights_path,
        source,
    })?;
    let card = ModelCard {
        format_version: CARD_FORMAT_VERSION,
        run_id: facts.run_id,
        tensors: tensor_entries(model),
        model: facts.model,
        loss: facts.loss,
        data: facts.data,
        standardization: facts.standardization,
        code_ranges: facts.code_ranges,
        provenance: Provenance {
            hourglass_version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("HOURGLASS_GIT_COMMIT").map(str::to_string),
        },
    };
    write_card(&card, run_dir)
}

/// Writes `card` into `run_dir`, atomically.
pub(crate) fn write_card(card: &ModelCard, run_dir: &Path) -> Result<(), TrainError> {
    model_card::write(run_dir, card).map_err(|source| TrainError::Write {
        path: run_dir.join(model_card::CARD_FILE),
        source,
    })
}

/// The name, shape and layout of each of `model`'s tensors, as saved.
fn tensor_entries(model: &Autoencoder) -> Vec<TensorEntry> {
    model
        .collect(None, None, true)
        .into_iter()
        .map(|tensor| {
            let shape = tensor.shape.to_vec();
            TensorEntry {
                layout: layout(&tensor.name, shape.len()).to_string(),
                name: tensor.name,
                shape,
            }
        })
        .collect()
}

/// What the axes of the tensor `name` of rank `rank` are, and where PyTorch differs.
fn layout(name: &str, rank: usize) -> &'static str {
    let bias = name.ends_with(".bias");
    if name == "quantizer.codebook" {
        "[size, dim]: a VQ-VAE's codebook; each run of dim encoder outputs becomes its nearest \
         row (squared Euclidean distance)"
    } else if name == "quantizer.counts" || name == "quantizer.sums" {
        "training state of the codebook: moving averages of each entry's use [size] and, for \
         the moving-average update, of its outputs' sum [size, dim]; not needed to encode or \
         decode"
    } else if name.contains(".deconvs.") {
        if bias {
            "[out_channels]"
        } else {
            "[in_channels, out_channels, 3, 3]: 3x3 transposed convolution, stride 2, padding 1, \
             output padding 1 (as PyTorch's nn.ConvTranspose2d holds it)"
        }
    } else if name.contains(".convs.") {
        if bias {
            "[out_channels]"
        } else {
            "[out_channels, in_channels, 3, 3]: 3x3 convolution, stride 2, padding 1 (as \
             PyTorch's nn.Conv2d holds it)"
        }
    } else if bias {
        "[out]"
    } else if rank == 2 {
        "[in, out]: y = x W + b; PyTorch's nn.Linear holds the transpose, [out, in]"
    } else {
        "unknown"
    }
}

/// A model read back from a run folder.
pub struct SavedModel {
    /// The module, with the saved weights.
    pub model: Autoencoder,
    /// Its card.
    pub card: ModelCard,
}

impl SavedModel {
    /// `inputs` (rows as stored) standardised as the model's training inputs were; images
    /// are used as stored.
    pub fn standardize(&self, inputs: &mut [f32]) {
        if let Some(statistics) = &self.card.standardization {
            Standardization::from_statistics(statistics.mean.clone(), statistics.std.clone())
                .apply_to_rows(inputs);
        }
    }

    /// The reconstructions of `inputs` (standardised rows of the card's input shape) on
    /// `device`, row-major: a VAE decodes its mean.
    ///
    /// # Panics
    /// When `inputs` is not whole rows.
    pub fn reconstruct(&self, inputs: Vec<f32>, device: &Device) -> Vec<f32> {
        let features = self.card.model.input_shape.iter().product();
        self.model
            .forward(crate::batch::tensor(inputs, features, device))
            .reconstruction
            .into_data()
            .try_to_vec()
            .expect("f32 reconstructions")
    }
}

/// What a saved model makes of new examples.
pub struct Applied {
    /// Each example's code (a VAE's mean; a VQ-VAE's entry indices), the card's `latent`
    /// values per example.
    pub codes: Vec<f32>,
    /// Each example's reconstruction, in the units of the inputs (standardisation undone).
    pub reconstructions: Vec<f32>,
    /// Each example's anomaly score, as the anomaly task scores test examples: the
    /// reconstruction's negative log-likelihood in nats (plus the KL term for a VAE).
    pub scores: Vec<f64>,
}

impl SavedModel {
    /// Encodes, reconstructs and scores `inputs`: whole rows of the card's input shape, as
    /// stored (standardised here as the training inputs were).
    ///
    /// # Panics
    /// When `inputs` is not whole rows.
    pub fn apply(&self, mut inputs: Vec<f32>, device: &Device) -> Applied {
        self.standardize(&mut inputs);
        let shape = self.card.model.input_shape.clone();
        let count = inputs.len() / shape.iter().product::<usize>();
        let split = Split {
            shape,
            inputs,
            labels: vec![0; count],
        };
        let mut reconstructions = Vec::with_capacity(split.inputs.len());
        for chunk in evaluate::chunks(&split) {
            let input = batch::inputs(&split, &chunk, device);
            let output = self.model.forward(input).reconstruction;
            reconstructions.extend(output.into_data().iter::<f32>());
        }
        if let Some(statistics) = &self.card.standardization {
            for row in reconstructions.chunks_exact_mut(statistics.mean.len()) {
                for ((value, mean), std) in
                    row.iter_mut().zip(&statistics.mean).zip(&statistics.std)
                {
                    *value = *value * std + mean;
                }
            }
        }
        let codes = if self.model.quantizer().is_some() {
            let indices = evaluate::code_indices(&self.model, &split, device);
            indices.into_iter().map(|i| i as f32).collect()
        } else {
            evaluate::codes(&self.model, &split, device)
        };
        Applied {
            codes,
            reconstructions,
            scores: anomaly::scores(&self.model, self.card.loss, &split, device),
        }
    }
}

/// Why a saved model cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The card is missing or unreadable.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The weights are missing, unreadable or do not fit the card.
    #[error("cannot load the weights {}: {message}", path.display())]
    Weights {
        /// `model.safetensors`.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Reads the model saved in `run_dir` onto `device`.
pub fn load(run_dir: &Path, device: &Device) -> Result<SavedModel, LoadError> {
    let card = model_card::read(run_dir)?;
    let path = run_dir.join(MODEL_FILE);
    let failed = |message: String| LoadError::Weights {
        path: path.clone(),
        message,
    };
    let bytes = std::fs::read(&path).map_err(|e| failed(e.to_string()))?;
    let config = AutoencoderConfig::from_card(&card.model);
    // Before building the module: an edited card must not make it allocate more than the
    // file holds.
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| failed(e.to_string()))?;
    let stored = header.tensors().values().try_fold(0usize, |sum, info| {
        let numbers = (info.shape.iter()).try_fold(1usize, |n, &d| n.checked_mul(d))?;
        sum.checked_add(numbers)
    });
    let described = config.parameter_count();
    if described.is_none() || described != stored {
        return Err(failed(format!(
            "they hold {} numbers, where the model card {} describes {}",
            stored.map_or("too many".into(), |n| n.to_string()),
            run_dir.join(CARD_FILE).display(),
            described.map_or("too many to count".into(), |n| n.to_string()),
        )));
    }
    let mut model = config.init(device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).skip_enum_variants(true);
    let applied = model
        .load_from(&mut store)
        .map_err(|e| failed(e.to_string()))?;
    if !applied.missing.is_empty() || !applied.errors.is_empty() || !applied.unused.is_empty() {
        return Err(failed(format!(
            "they do not fit the card's model (missing: {:?}, not in the model: {:?}, \
             errors: {:?})",
            applied.missing, applied.unused, applied.errors
        )));
    }
    Ok(SavedModel { model, card })
}
