//! The model card, `model.json`: everything needed to rebuild a run's trained model from
//! `model.safetensors` and use it without the spec (architecture, tensor names and layouts,
//! the data it was trained on, the input standardisation, the compression quantiser's code
//! ranges, provenance).
//!
//! Both files are kept: a card carries a `format_version`, and [`read`] reads every version up
//! to [`CARD_FORMAT_VERSION`], ignoring keys it does not know (a later hourglass may add some).
//! A card is a file users may edit: [`read`] also checks that its sizes describe a model that
//! can be built (every size at least 1, products within [`crate::ranges`]' counts, a conv
//! model's image divisible by 2 per convolution) and that its statistics fit the input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ranges::COUNT_MAX;
use crate::result::write_atomic;
use crate::{
    Activation, Architecture, CodeActivation, Codebook, ModelKind, ModelSection, OutputActivation,
    Reconstruction,
};

/// A run's trained weights, in safetensors (named as in [`ModelCard::tensors`]).
pub const MODEL_FILE: &str = "model.safetensors";
/// A run's model card.
pub const CARD_FILE: &str = "model.json";
/// The `format_version` that [`write`] writes and the newest that [`read`] reads.
pub const CARD_FORMAT_VERSION: u32 = 1;

/// What `model.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The version of this format.
    pub format_version: u32,
    /// The run the model was trained by.
    pub run_id: String,
    /// How to rebuild the module.
    pub model: ModelArchitecture,
    /// The reconstruction loss it was trained with, which its anomaly score is the negative
    /// log-likelihood of (`mse`: Gaussian, `bce`: Bernoulli).
    pub loss: Reconstruction,
    /// Every tensor of `model.safetensors`, in module order.
    pub tensors: Vec<TensorEntry>,
    /// The data the model was trained on.
    pub data: DataProvenance,
    /// The standardisation applied to every input before the encoder, fitted on the run's
    /// training examples; `None` for data used as stored (images in [0, 1]).
    pub standardization: Option<FeatureStatistics>,
    /// The compression task's 8-bit quantiser: each code dimension's range on the training
    /// examples; `None` when the run did not evaluate compression.
    pub code_ranges: Option<CodeRanges>,
    /// What wrote the model.
    pub provenance: Provenance,
}

/// The shape and activations of an autoencoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelArchitecture {
    /// `model.kind`.
    pub kind: ModelKind,
    /// `model.also`.
    #[serde(default)]
    pub also: Vec<ModelKind>,
    /// MLP or conv.
    pub architecture: Architecture,
    /// One input: `[features]`, or `[channels, height, width]` for images (row-major, the
    /// encoder sees it flattened).
    pub input_shape: Vec<usize>,
    /// Channels of the stride-2 3×3 convolutions, input side first (conv only).
    pub conv_channels: Option<Vec<usize>>,
    /// Dense hidden widths of the encoder, input side first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Code size.
    pub latent: usize,
    /// Activation after every hidden layer.
    pub activation: Activation,
    /// Activation of the code (identity for a VAE, whose encoder emits μ then log σ²).
    pub code_activation: CodeActivation,
    /// Activation of the reconstruction.
    pub output: OutputActivation,
    /// A Gaussian encoder: its last layer has `2 · latent` outputs, μ then log σ².
    pub variational: bool,
    /// A VQ-VAE's codebook (`model.codebook`): the encoder's last layer has `latent · dim`
    /// outputs, each run of `dim` replaced by its nearest of `size` entries before the
    /// decoder; `None` for the other kinds (and in cards written before the VQ-VAE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codebook: Option<Codebook>,
}

impl ModelArchitecture {
    /// The architecture that `[model]` describes, for inputs of `input_shape`.
    pub fn of(model: &ModelSection, input_shape: &[usize]) -> Self {
        let variational = model.kind.is_variational();
        Self {
            kind: model.kind,
            also: model.also.clone(),
            architecture: model.architecture,
            input_shape: input_shape.to_vec(),
            conv_channels: (model.architecture == Architecture::Conv)
                .then(|| model.conv_channels()),
            hidden: model.hidden.clone(),
            latent: model.latent,
            activation: model.activation,
            code_activation: if model.kind.has_code_activation() {
                model.code_activation
            } else {
                CodeActivation::Identity
            },
            output: model.output,
            variational,
            codebook: (model.kind == ModelKind::Vqvae).then(|| model.vq_codebook()),
        }
    }
}

/// One tensor of `model.safetensors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    /// Its name in the file.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// What the axes are, and how PyTorch's equivalent layer holds it.
    pub layout: String,
}

/// The data set a model was trained on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataProvenance {
    /// `data.dataset`.
    pub dataset: String,
    /// The sha256 of each of the data set's files, by file name.
    pub files: BTreeMap<String, String>,
    /// What each class is, by label, when the data set names its classes (cards of
    /// hourglass 0.1 before class names have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
}

/// Per-feature statistics: `x' = (x - mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStatistics {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Standard deviation of each feature (1 for a constant one).
    pub std: Vec<f32>,
}

/// Per-dimension ranges of the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeRanges {
    /// Smallest value of each dimension.
    pub low: Vec<f32>,
    /// Largest value of each dimension.
    pub high: Vec<f32>,
}

/// What wrote a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The hourglass version.
    pub hourglass_version: String,
    /// The git commit hourglass was built from, when it was built from a checkout (changes
    /// not committed are not recorded).
    pub git_commit: Option<String>,
}

/// Why a model card cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The file is missing or unreadable.
    #[error("cannot read model card {}: {source}", path.display())]
    Read {
        /// The card.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a card of a version this hourglass reads.
    #[error("model card {} is not valid: {message}", path.display())]
    Invalid {
        /// The card.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The card was written by a newer hourglass.
    #[error(
        "model card {} has format_version {found}, newer than this hourglass reads \
         ({CARD_FORMAT_VERSION}) (hint: use the hourglass that wrote it)",
        path.display()
    )]
    Newer {
        /// The card.
        path: PathBuf,
        /// Its `format_version`.
        found: u32,
    },
}

/// Reads the card of the run folder `run_dir`.
pub fn read(run_dir: &Path) -> Result<ModelCard, CardError> {
    let path = run_dir.join(CARD_FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| CardError::Read {
        path: path.clone(),
        source,
    })?;
    let invalid = |message: String| CardError::Invalid {
        path: path.clone(),
        message,
    };
    #[derive(Deserialize)]
    struct Header {
        format_version: u32,
    }
    let header: Header = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    match header.format_version {
        0 => Err(invalid("there is no format_version 0".into())),
        found if found > CARD_FORMAT_VERSION => Err(CardError::Newer { path, found }),
        _ => {
            let card: ModelCard =
                serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
            card.check().map_err(invalid)?;
            Ok(card)
        }
    }
}

impl ModelCard {
    /// What makes the card unusable although it parses: see the module header.
    fn check(&self) -> Result<(), String> {
        let model = &self.model;
        let count = |sizes: &[usize]| {
            (sizes.iter())
                .try_fold(1usize, |product, &size| product.checked_mul(size))
                .filter(|&product| product >= 1 && product <= COUNT_MAX as usize)
        };
        let shape = &model.input_shape;
        let features = (!shape.is_empty())
            .then(|| count(shape))
            .flatten()
            .ok_or_else(|| {
                format!(
                    "`model.input_shape` {:?} is not a shape of 1 to {COUNT_MAX} numbers",
                    model.input_shape
                )
            })?;
        for (key, sizes) in [
            ("model.latent", std::slice::from_ref(&model.latent)),
            ("model.hidden", model.hidden.as_slice()),
        ] {
            if sizes.iter().any(|&size| count(&[size]).is_none()) {
                return Err(format!(
                    "`{key}` {sizes:?} holds a size outside 1 to {COUNT_MAX}"
                ));
            }
        }
        match (model.architecture, &model.conv_channels) {
            (Architecture::Conv, Some(channels)) => {
                let fits = match model.input_shape[..] {
                    [_, height, width] if (1..=16).contains(&channels.len()) => {
                        let scale = 1 << channels.len();
                        height % scale == 0 && width % scale == 0
                    }
                    _ => false,
                };
                if !fits || channels.iter().any(|&c| count(&[c]).is_none()) {
                    return Err(format!(
                        "`model.conv_channels` {channels:?} do not fit `model.input_shape` {:?}: \
                         1 to 16 convolutions of 1 to {COUNT_MAX} channels each, on images \
                         [channels, height, width] with height and width divisible by 2 per \
                         convolution",
                        model.input_shape
                    ));
                }
            }
            (Architecture::Mlp, None) => {}
            (architecture, channels) => {
                return Err(format!(
                    "`model.architecture` {architecture:?} does not go with \
                     `model.conv_channels` {channels:?} (a conv model has them, an MLP not)"
                ));
            }
        }
        if let Some(codebook) = &model.codebook
            && count(&[codebook.size, codebook.dim, model.latent]).is_none()
        {
            return Err(format!(
                "`model.codebook` of {} entries of {} numbers at {} positions is not 1 to \
                 {COUNT_MAX} numbers",
                codebook.size, codebook.dim, model.latent
            ));
        }
        if let Some(statistics) = &self.standardization {
            let lengths = [statistics.mean.len(), statistics.std.len()];
            let usable = statistics.mean.iter().all(|mean| mean.is_finite())
                && (statistics.std.iter()).all(|std| std.is_finite() && *std > 0.0);
            if lengths != [features; 2] || !usable {
                return Err(format!(
                    "`standardization` holds {} means and {} standard deviations for {features} \
                     input features; each mean must be finite and each deviation finite and > 0",
                    lengths[0], lengths[1]
                ));
            }
        }
        Ok(())
    }
}

/// Writes `card` into the run folder `run_dir`, atomically.
pub fn write(run_dir: &Path, card: &ModelCard) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(card).expect("model cards serialize");
    write_atomic(&run_dir.join(CARD_FILE), format!("{text}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A card of an MLP trained on shuttle, as this version writes it.
    fn card() -> ModelCard {
        ModelCard {
            format_version: CARD_FORMAT_VERSION,
            run_id: "0123456789ab".into(),
            model: ModelArchitecture {
                kind: ModelKind::Vanilla,
                also: vec![],
                architecture: Architecture::Mlp,
                input_shape: vec![9],
                conv_channels: None,
                hidden: vec![16],
                latent: 4,
                activation: Activation::Relu,
                code_activation: CodeActivation::Identity,
                output: OutputActivation::Identity,
                variational: false,
                codebook: None,
            },
            loss: Reconstruction::Mse,
            tensors: vec![TensorEntry {
                name: "encoder.layers.0.weight".into(),
                shape: vec![9, 16],
                layout: "[in, out]".into(),
            }],
            data: DataProvenance {
                dataset: "shuttle".into(),
                files: [("shuttle.csv".to_string(), "ab".repeat(32))].into(),
                class_names: Some(vec!["normal".into(), "anomaly".into()]),
            },
            standardization: Some(FeatureStatistics {
                mean: vec![0.5; 9],
                std: vec![2.0; 9],
            }),
            code_ranges: None,
            provenance: Provenance {
                hourglass_version: "0.1.0".into(),
                git_commit: None,
            },
        }
    }

    #[test]
    fn a_written_card_reads_back_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &card()).unwrap();
        assert_eq!(read(dir.path()).unwrap(), card());
    }

    #[test]
    fn a_card_with_keys_this_version_does_not_know_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut value = serde_json::to_value(card()).unwrap();
        value["added_later"] = serde_json::json!({"anything": 1});
        value["model"]["added_later"] = serde_json::json!(true);
        std::fs::write(dir.path().join(CARD_FILE), value.to_string()).unwrap();
        assert_eq!(read(dir.path()).unwrap(), card());
    }

    #[test]
    fn a_card_written_before_class_names_reads_without_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut value = serde_json::to_value(card()).unwrap();
        value["data"].as_object_mut().unwrap().remove("class_names");
        std::fs::write(dir.path().join(CARD_FILE), value.to_string()).unwrap();
        assert_eq!(read(dir.path()).unwrap().data.class_names, None);
    }

    #[test]
    fn a_newer_card_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let mut value = serde_json::to_value(card()).unwrap();
        value["format_version"] = serde_json::json!(CARD_FORMAT_VERSION + 1);
        std::fs::write(dir.path().join(CARD_FILE), value.to_string()).unwrap();
        let error = read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("newer than this hourglass reads"), "{error}");
        assert!(error.contains(CARD_FILE), "{error}");
    }

    #[test]
    fn an_edited_card_that_no_model_fits_is_refused_naming_the_key() {
        let edits: [(&str, fn(&mut serde_json::Value)); 9] = [
            ("model.latent", |card| card["model"]["latent"] = 0.into()),
            ("model.hidden", |card| {
                card["model"]["hidden"] = serde_json::json!([16, 0])
            }),
            ("model.input_shape", |card| {
                card["model"]["input_shape"] = serde_json::json!([1u64 << 40, 1u64 << 40])
            }),
            ("model.input_shape", |card| {
                card["model"]["input_shape"] = serde_json::json!([])
            }),
            ("model.conv_channels", |card| {
                card["model"]["architecture"] = "conv".into();
                card["model"]["conv_channels"] = serde_json::json!([8]);
            }),
            ("model.architecture", |card| {
                card["model"]["architecture"] = "conv".into()
            }),
            ("model.codebook", |card| {
                card["model"]["codebook"] = serde_json::json!({
                    "size": 1u64 << 33, "dim": 4, "commitment": 0.25, "update": "ema",
                    "decay": 0.99
                })
            }),
            ("standardization", |card| {
                card["standardization"]["mean"] = serde_json::json!([0.5])
            }),
            ("standardization", |card| {
                card["standardization"]["std"][3] = 0.0.into()
            }),
        ];
        for (key, edit) in edits {
            let dir = tempfile::tempdir().unwrap();
            let mut value = serde_json::to_value(card()).unwrap();
            edit(&mut value);
            std::fs::write(dir.path().join(CARD_FILE), value.to_string()).unwrap();
            let error = read(dir.path()).unwrap_err().to_string();
            assert!(error.contains(&format!("`{key}`")), "{key}: {error}");
            assert!(error.contains(CARD_FILE), "{error}");
        }
    }
}
