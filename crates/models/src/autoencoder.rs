//! The autoencoder of every kind: an MLP or conv encoder and decoder, a deterministic,
//! Gaussian (variational) or vector-quantised code, and the output activation.

use burn::module::{ModuleVisitor, Param};
use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::Distribution;
use burn::tensor::activation;
use hourglass_spec::model_card::ModelArchitecture;
use hourglass_spec::{
    Activation, CodeActivation, Codebook, CodebookUpdate, ModelSection, OutputActivation,
};

use crate::conv::{ConvDecoder, ConvEncoder, ConvGeometry};
use crate::mlp::Mlp;
use crate::quantizer::{Quantized, VectorQuantizer};

/// Shape and activations of an [`Autoencoder`].
#[derive(Debug, Clone, PartialEq)]
pub struct AutoencoderConfig {
    /// Shape of one input: `[features]`, or `[channels, height, width]` for images.
    pub shape: Vec<usize>,
    /// Convolution channels, input side first, for the conv architecture; `None` for an MLP.
    pub conv_channels: Option<Vec<usize>>,
    /// Dense hidden widths of the encoder, input side first; the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Code size: its dimensions, or a VQ-VAE's positions.
    pub latent: usize,
    /// Activation after every hidden layer.
    pub activation: Activation,
    /// Activation of the code (ignored by a variational model).
    pub code_activation: CodeActivation,
    /// Activation of the reconstruction.
    pub output: OutputActivation,
    /// A Gaussian encoder (μ, log σ²) with a sampled code.
    pub variational: bool,
    /// A VQ-VAE's codebook, whose entries replace the encoder's outputs.
    pub codebook: Option<Codebook>,
}

impl AutoencoderConfig {
    /// The configuration that `[model]` describes, for inputs of `shape`.
    pub fn from_spec(model: &ModelSection, shape: &[usize]) -> Self {
        Self::from_card(&ModelArchitecture::of(model, shape))
    }

    /// The configuration of a model card's architecture.
    pub fn from_card(model: &ModelArchitecture) -> Self {
        Self {
            shape: model.input_shape.clone(),
            conv_channels: model.conv_channels.clone(),
            hidden: model.hidden.clone(),
            latent: model.latent,
            activation: model.activation,
            code_activation: model.code_activation,
            output: model.output,
            variational: model.variational,
            codebook: model.codebook.clone(),
        }
    }

    /// How many numbers [`init`](Self::init) allocates for the parameters, counted without
    /// building anything; `None` when the count overflows or the conv geometry does not fit.
    /// A saved model's loader compares it with its weights file before building the module,
    /// so that an edited card cannot make it allocate more than the file holds.
    pub fn parameter_count(&self) -> Option<usize> {
        let dense = |widths: &[usize]| {
            widths.windows(2).try_fold(0usize, |sum, pair| {
                let weights = pair[0].checked_mul(pair[1])?;
                sum.checked_add(weights)?.checked_add(pair[1]) // weights and biases
            })
        };
        // A 3×3 kernel from `from` to `to` channels, and its biases.
        let kernel = |from: usize, to: usize| from.checked_mul(to)?.checked_mul(9)?.checked_add(to);
        let input = self
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))?;
        let code_width = self
            .latent
            .checked_mul(self.codebook.as_ref().map_or(1, |c| c.dim))?;
        let encoded = if self.variational {
            self.latent.checked_mul(2)?
        } else {
            code_width
        };
        let reversed: Vec<usize> = self.hidden.iter().rev().copied().collect();
        let (flat, convolutions) = match &self.conv_channels {
            None => (input, 0),
            Some(channels) => {
                let [image_channels, height, width] = self.shape[..] else {
                    return None;
                };
                let scale = 1usize.checked_shl(u32::try_from(channels.len()).ok()?)?;
                let last = *channels.last()?;
                let flat = last
                    .checked_mul(height / scale)?
                    .checked_mul(width / scale)?;
                let mut inputs = image_channels;
                let mut sum = 0usize;
                for &to in channels {
                    sum = sum.checked_add(kernel(inputs, to)?)?;
                    inputs = to;
                }
                let mut outputs: Vec<usize> = channels.iter().rev().skip(1).copied().collect();
                outputs.push(image_channels);
                for to in outputs {
                    sum = sum.checked_add(kernel(inputs, to)?)?;
                    inputs = to;
                }
                (flat, sum)
            }
        };
        let encoder = dense(&[&[flat][..], &self.hidden, &[encoded]].concat())?;
        let decoder = dense(&[&[code_width][..], &reversed, &[flat]].concat())?;
        let quantizer = match &self.codebook {
            None => 0,
            Some(codebook) => {
                let entries = codebook.size.checked_mul(codebook.dim)?;
                let sums = if codebook.update == CodebookUpdate::Ema {
                    entries
                } else {
                    0
                };
                entries.checked_add(codebook.size)?.checked_add(sums)?
            }
        };
        encoder
            .checked_add(decoder)?
            .checked_add(convolutions)?
            .checked_add(quantizer)
    }

    /// Builds the module with freshly initialised weights on `device` (seed it first for
    /// reproducible weights).
    pub fn init(&self, device: &Device) -> Autoencoder {
        let input: usize = self.shape.iter().product();
        // What the decoder takes: the code, or a VQ-VAE's entries side by side.
        let code_width = self.latent * self.codebook.as_ref().map_or(1, |c| c.dim);
        let encoded = if self.variational {
            2 * self.latent
        } else {
            code_width
        };
        let (encoder, decoder) = match &self.conv_channels {
            None => {
                let mut widths = vec![input];
                widths.extend(&self.hidden);
                widths.push(encoded);
                let encoder = Mlp::new(&widths, self.activation, false, device);
                let mut widths = vec![code_width];
                widths.extend(self.hidden.iter().rev());
                widths.push(input);
                let decoder = Mlp::new(&widths, self.activation, false, device);
                (Encoder::Mlp(encoder), Decoder::Mlp(decoder))
            }
            Some(channels) => {
                let [c, h, w] = self.shape[..] else {
                    panic!("conv needs [channels, height, width], not {:?}", self.shape)
                };
                let geometry = ConvGeometry {
                    image: [c, h, w],
                    channels: channels.clone(),
                };
                let reversed: Vec<usize> = self.hidden.iter().rev().copied().collect();
                (
                    Encoder::Conv(ConvEncoder::new(
                        &geometry,
                        &self.hidden,
                        encoded,
                        self.activation,
                        device,
                    )),
                    Decoder::Conv(ConvDecoder::new(
                        &geometry,
                        &reversed,
                        code_width,
                        self.activation,
                        device,
                    )),
                )
            }
        };
        let quantizer = (self.codebook.as_ref())
            .map(|codebook| VectorQuantizer::new(codebook, self.latent, device));
        let model = Autoencoder {
            encoder,
            decoder,
            quantizer,
            latent: code_width,
            code_activation: if self.variational || self.codebook.is_some() {
                CodeActivation::Identity
            } else {
                self.code_activation
            },
            output: self.output,
            variational: self.variational,
        };
        model.visit(&mut Materialize);
        model
    }
}

/// Reads every parameter of a module once, in module order. burn draws a parameter's
/// initial values when it is first read, not when the module is built: without this the draws
/// would follow the order of first use, and models built one after another from one seeded
/// generator would take each other's draws.
struct Materialize;

impl ModuleVisitor for Materialize {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Encoders by architecture.
#[derive(Module, Debug)]
pub enum Encoder {
    /// Fully connected.
    Mlp(Mlp),
    /// Convolutional.
    Conv(ConvEncoder),
}

/// Decoders by architecture.
#[derive(Module, Debug)]
pub enum Decoder {
    /// Fully connected.
    Mlp(Mlp),
    /// Transposed-convolutional.
    Conv(ConvDecoder),
}

/// What the encoder makes of an input.
#[derive(Debug, Clone)]
pub struct Code {
    /// The code after its activation; for a VAE the posterior mean μ. `[batch, latent]`
    pub mean: Tensor<2>,
    /// The code layer before its activation. `[batch, latent]`
    pub pre_activation: Tensor<2>,
    /// A VAE's posterior log-variance log σ². `[batch, latent]`
    pub log_var: Option<Tensor<2>>,
    /// A VQ-VAE's entries: `mean` is their value, and passes the gradient it receives to
    /// `pre_activation`, the encoder's outputs (the straight-through estimator).
    pub quantized: Option<Quantized>,
}

/// What one forward pass produces.
#[derive(Debug, Clone)]
pub struct AutoencoderOutput {
    /// The encoding of the input.
    pub code: Code,
    /// The code that was decoded: the mean, or a VAE's sample. `[batch, latent]`
    pub decoded: Tensor<2>,
    /// The decoder's last layer before its output activation. `[batch, input]`
    pub logits: Tensor<2>,
    /// The reconstruction. `[batch, input]`
    pub reconstruction: Tensor<2>,
}

/// An autoencoder of any kind and architecture.
#[derive(Module, Debug)]
pub struct Autoencoder {
    encoder: Encoder,
    decoder: Decoder,
    quantizer: Option<VectorQuantizer>,
    #[module(skip)]
    latent: usize,
    #[module(skip)]
    code_activation: CodeActivation,
    #[module(skip)]
    output: OutputActivation,
    #[module(skip)]
    variational: bool,
}

impl Autoencoder {
    /// Code size: what the decoder takes (a VQ-VAE's positions × entry length).
    pub fn latent(&self) -> usize {
        self.latent
    }

    /// A VQ-VAE's quantiser.
    pub fn quantizer(&self) -> Option<&VectorQuantizer> {
        self.quantizer.as_ref()
    }

    /// This model after a VQ-VAE's codebook step on `code`, the encoding of the batch of the
    /// optimizer step just taken ([`VectorQuantizer::after_step`]); unchanged for every other
    /// model.
    pub fn with_codebook_step(mut self, code: &Code) -> Self {
        if let (Some(quantizer), Some(quantized)) = (self.quantizer.take(), &code.quantized) {
            let encoded = code.pre_activation.clone();
            self.quantizer = Some(quantizer.after_step(encoded, quantized));
        }
        self
    }

    /// Decodes a VQ-VAE's codes, entry indices, into reconstructions.
    ///
    /// # Shapes
    /// - indices: `[batch, positions]`
    /// - output: `[batch, input]`
    ///
    /// # Panics
    /// For a model without a codebook.
    pub fn decode_indices(&self, indices: Tensor<2, burn::tensor::Int>) -> Tensor<2> {
        let quantizer = (self.quantizer.as_ref()).expect("decode_indices needs a VQ-VAE");
        self.decode(quantizer.entries(indices))
    }

    /// Whether the code is a Gaussian sample.
    pub fn is_variational(&self) -> bool {
        self.variational
    }

    /// Activation of the code layer.
    pub fn code_activation(&self) -> CodeActivation {
        self.code_activation
    }

    /// The encoder's only layer, when the encoder is a single linear layer (an MLP without
    /// hidden layers): what the contractive penalty's closed form needs.
    pub fn single_layer_encoder(&self) -> Option<&Linear> {
        match &self.encoder {
            Encoder::Mlp(mlp) if mlp.layers().len() == 1 => mlp.layers().first(),
            _ => None,
        }
    }

    /// The MLP encoder and decoder; `None` for conv.
    pub fn mlps(&self) -> Option<[&Mlp; 2]> {
        match (&self.encoder, &self.decoder) {
            (Encoder::Mlp(encoder), Decoder::Mlp(decoder)) => Some([encoder, decoder]),
            _ => None,
        }
    }

    /// This MLP autoencoder with the layers' weights and biases replaced by `encoder`'s and
    /// `decoder`'s, input side first.
    ///
    /// # Panics
    /// For a conv autoencoder, or when the counts or shapes differ from this model's.
    pub fn with_mlp_parameters(
        &self,
        encoder: Vec<(Tensor<2>, Tensor<1>)>,
        decoder: Vec<(Tensor<2>, Tensor<1>)>,
    ) -> Self {
        let (Encoder::Mlp(old_encoder), Decoder::Mlp(old_decoder)) = (&self.encoder, &self.decoder)
        else {
            panic!("with_mlp_parameters needs an MLP autoencoder");
        };
        Self {
            encoder: Encoder::Mlp(old_encoder.with_parameters(encoder)),
            decoder: Decoder::Mlp(old_decoder.with_parameters(decoder)),
            ..self.clone()
        }
    }

    /// Every weight matrix of encoder and decoder (conv kernels flattened), not the biases.
    pub fn weights(&self) -> Vec<Tensor<2>> {
        let mut weights = match &self.encoder {
            Encoder::Mlp(mlp) => mlp.weights(),
            Encoder::Conv(conv) => conv.weights(),
        };
        weights.extend(match &self.decoder {
            Decoder::Mlp(mlp) => mlp.weights(),
            Decoder::Conv(conv) => conv.weights(),
        });
        weights
    }

    /// Encodes inputs.
    ///
    /// # Shapes
    /// - input: `[batch, input]`
    /// - every field of the output: `[batch, latent]`
    pub fn encode(&self, input: Tensor<2>) -> Code {
        let encoded = match &self.encoder {
            Encoder::Mlp(mlp) => mlp.forward(input),
            Encoder::Conv(conv) => conv.forward(input),
        }; // [batch, latent] or [batch, 2 latent]
        self.code_of(encoded)
    }

    /// The code of the encoder's last layer: split into μ and log σ² for a VAE, activated
    /// for the other kinds.
    ///
    /// # Shapes
    /// - encoded: `[batch, latent]`, or `[batch, 2 latent]` for a VAE
    /// - every field of the output: `[batch, latent]` (a VQ-VAE's indices `[batch,
    ///   positions]`)
    pub(crate) fn code_of(&self, encoded: Tensor<2>) -> Code {
        if self.variational {
            let mean = encoded.clone().narrow(1, 0, self.latent); // [batch, latent]
            let log_var = encoded.narrow(1, self.latent, self.latent); // [batch, latent]
            Code {
                pre_activation: mean.clone(),
                mean,
                log_var: Some(log_var),
                quantized: None,
            }
        } else if let Some(quantizer) = &self.quantizer {
            let quantized = quantizer.quantize(encoded.clone());
            // Exactly the entries, with the decoder's gradient passed to the encoder's outputs.
            let through = encoded.clone() - encoded.clone().detach();
            Code {
                mean: quantized.entries.clone().detach() + through,
                pre_activation: encoded,
                log_var: None,
                quantized: Some(quantized),
            }
        } else {
            Code {
                mean: activate_code(self.code_activation, encoded.clone()),
                pre_activation: encoded,
                log_var: None,
                quantized: None,
            }
        }
    }

    /// Decodes codes into the decoder's pre-activation output.
    ///
    /// # Shapes
    /// - code: `[batch, latent]`
    /// - output: `[batch, input]`
    pub fn decode_logits(&self, code: Tensor<2>) -> Tensor<2> {
        match &self.decoder {
            Decoder::Mlp(mlp) => mlp.forward(code),
            Decoder::Conv(conv) => conv.forward(code),
        }
    }

    /// Decodes codes into reconstructions.
    ///
    /// # Shapes
    /// - code: `[batch, latent]`
    /// - output: `[batch, input]`
    pub fn decode(&self, code: Tensor<2>) -> Tensor<2> {
        self.output_of(self.decode_logits(code))
    }

    /// Encodes and decodes deterministically (a VAE decodes its mean μ).
    ///
    /// # Shapes
    /// - input: `[batch, input]`
    pub fn forward(&self, input: Tensor<2>) -> AutoencoderOutput {
        let code = self.encode(input);
        let decoded = code.mean.clone();
        self.decoded(code, decoded)
    }

    /// Encodes and decodes as in training: a VAE decodes a sample `z = μ + σ · ε` (the
    /// reparameterisation) with the given ε ~ N(0, I), which the caller draws from a stream
    /// of its own; the other kinds decode their code and ignore `noise`.
    ///
    /// # Shapes
    /// - input: `[batch, input]`
    /// - noise: `[batch, latent]`
    pub fn forward_with_noise(
        &self,
        input: Tensor<2>,
        noise: Option<Tensor<2>>,
    ) -> AutoencoderOutput {
        let code = self.encode(input);
        let decoded = self.sample(&code, noise);
        self.decoded(code, decoded)
    }

    /// The code to decode: `μ + σ · ε` for a VAE given ε, else the code's mean.
    ///
    /// # Shapes
    /// - noise and the output: `[batch, latent]`
    pub(crate) fn sample(&self, code: &Code, noise: Option<Tensor<2>>) -> Tensor<2> {
        match (&code.log_var, noise) {
            (Some(log_var), Some(noise)) => {
                code.mean.clone() + (log_var.clone() * 0.5).exp() * noise
            }
            _ => code.mean.clone(),
        }
    }

    /// Decodes `count` codes drawn from the prior N(0, I).
    ///
    /// # Shapes
    /// - output: `[count, input]`
    pub fn sample_prior(&self, count: usize, device: &Device) -> Tensor<2> {
        let code = Tensor::random([count, self.latent], Distribution::Normal(0.0, 1.0), device); // [count, latent]
        self.decode(code)
    }

    /// The output of decoding `decoded`, a code drawn for the encoding `code` (a VAE's
    /// sample; an importance sample of the likelihood task).
    ///
    /// # Shapes
    /// - decoded: `[batch, latent]`
    pub fn decoded(&self, code: Code, decoded: Tensor<2>) -> AutoencoderOutput {
        let logits = self.decode_logits(decoded.clone()); // [batch, input]
        AutoencoderOutput {
            code,
            decoded,
            reconstruction: self.output_of(logits.clone()),
            logits,
        }
    }

    /// The reconstruction of the decoder's last layer.
    pub(crate) fn output_of<const D: usize>(&self, logits: Tensor<D>) -> Tensor<D> {
        match self.output {
            OutputActivation::Sigmoid => activation::sigmoid(logits),
            OutputActivation::Identity => logits,
        }
    }
}

/// Applies a code activation.
pub(crate) fn activate_code(code_activation: CodeActivation, x: Tensor<2>) -> Tensor<2> {
    match code_activation {
        CodeActivation::Identity => x,
        CodeActivation::Sigmoid => activation::sigmoid(x),
        CodeActivation::Tanh => activation::tanh(x),
        CodeActivation::Relu => activation::relu(x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::RNG;

    /// A training forward pass, with ε from burn's generator.
    fn sampled(model: &Autoencoder, input: Tensor<2>) -> AutoencoderOutput {
        let [batch, _] = input.dims();
        let noise = Tensor::random(
            [batch, model.latent()],
            Distribution::Normal(0.0, 1.0),
            &input.device(),
        );
        model.forward_with_noise(input, Some(noise))
    }

    fn config(conv: bool, variational: bool) -> AutoencoderConfig {
        AutoencoderConfig {
            shape: if conv { vec![1, 8, 8] } else { vec![6] },
            conv_channels: conv.then(|| vec![2, 3]),
            hidden: vec![5, 4],
            latent: 2,
            activation: Activation::Relu,
            code_activation: CodeActivation::Sigmoid,
            output: OutputActivation::Sigmoid,
            variational,
            codebook: None,
        }
    }

    #[test]
    fn the_parameter_count_is_what_init_allocates() {
        let device = Device::flex();
        let vq = |conv: bool, update: CodebookUpdate| AutoencoderConfig {
            codebook: Some(Codebook {
                size: 7,
                dim: 3,
                update,
                ..Codebook::default()
            }),
            ..config(conv, false)
        };
        for config in [
            config(false, false),
            config(false, true),
            config(true, false),
            config(true, true),
            vq(false, CodebookUpdate::Ema),
            vq(true, CodebookUpdate::Loss),
        ] {
            let built = config.init(&device).num_params();
            assert_eq!(config.parameter_count(), Some(built), "{config:?}");
        }
        let huge = AutoencoderConfig {
            hidden: vec![usize::MAX / 2, 2],
            ..config(false, false)
        };
        assert_eq!(huge.parameter_count(), None);
    }

    #[test]
    fn shapes_follow_the_config_and_outputs_are_in_unit_range() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(1);
        for (conv, variational) in [(false, false), (false, true), (true, false), (true, true)] {
            let model = config(conv, variational).init(&device);
            let features = if conv { 64 } else { 6 };
            let input = Tensor::<2>::random([3, features], Distribution::Default, &device);
            let out = sampled(&model, input);
            assert_eq!(out.code.mean.dims(), [3, 2]);
            assert_eq!(out.code.log_var.is_some(), variational);
            assert_eq!(out.reconstruction.dims(), [3, features]);
            let values: Vec<f32> = out.reconstruction.into_data().try_to_vec().unwrap();
            assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
        }
        // 6*5+5 + 5*4+4 + 4*2+2 for the encoder, 2*4+4 + 4*5+5 + 5*6+6 for the decoder.
        assert_eq!(config(false, false).init(&device).num_params(), 69 + 73);
        // A VAE's last encoder layer is twice as wide: 4*4+4 instead of 4*2+2.
        assert_eq!(config(false, true).init(&device).num_params(), 69 + 73 + 10);
    }

    #[test]
    fn a_vq_vaes_codes_decode_to_its_forward_reconstructions() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(6);
        for conv in [false, true] {
            let codebook = Codebook {
                size: 16,
                dim: 3,
                ..Codebook::default()
            };
            let model = AutoencoderConfig {
                codebook: Some(codebook),
                ..config(conv, false)
            }
            .init(&device);
            // Two positions of three numbers each reach the decoder.
            assert_eq!(model.latent(), 6);
            let features = if conv { 64 } else { 6 };
            let input = Tensor::<2>::random([5, features], Distribution::Default, &device);
            let output = model.forward(input);
            let indices = output.code.quantized.clone().unwrap().indices;
            assert_eq!(indices.dims(), [5, 2]);
            assert_eq!(
                model.decode_indices(indices).into_data(),
                output.reconstruction.into_data()
            );
            // The code is the entries, whatever the encoder emitted.
            assert_eq!(
                output.code.mean.into_data(),
                output.code.quantized.unwrap().entries.into_data()
            );
        }
    }

    #[test]
    fn a_seed_fixes_the_weights_whatever_is_built_or_read_after() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        let weights = |model: &Autoencoder| -> Vec<Vec<f32>> {
            let values = |t: Tensor<2>| t.into_data().try_to_vec().unwrap();
            model.weights().into_iter().map(values).collect()
        };
        device.seed(4);
        let first = config(false, false).init(&device);
        device.seed(5);
        let second = config(false, false).init(&device);
        device.seed(4);
        let again = config(false, false).init(&device);
        // Read in another order than built.
        let (second, again, first) = (weights(&second), weights(&again), weights(&first));
        assert_eq!(first, again);
        assert_ne!(first, second);
    }

    #[test]
    fn codes_take_their_activation_and_vae_means_none() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(2);
        let input = Tensor::<2>::random([4, 6], Distribution::Default, &device);
        let code = config(false, false).init(&device).encode(input.clone());
        let expected: Vec<f32> = activation::sigmoid(code.pre_activation)
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(code.mean.into_data().try_to_vec::<f32>().unwrap(), expected);
        let code = config(false, true).init(&device).encode(input);
        assert_eq!(
            code.mean.into_data().try_to_vec::<f32>().unwrap(),
            code.pre_activation.into_data().try_to_vec::<f32>().unwrap()
        );
    }

    #[test]
    fn a_vae_samples_around_its_mean_and_decodes_the_mean_deterministically() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(3);
        let model = config(false, true).init(&device);
        let input = Tensor::<2>::random([1, 6], Distribution::Default, &device);
        let repeated = input.clone().repeat_dim(0, 4000);
        let sampled = sampled(&model, repeated);
        let mean: Vec<f32> = sampled
            .code
            .mean
            .clone()
            .narrow(0, 0, 1)
            .into_data()
            .try_to_vec()
            .unwrap();
        let sigma: Vec<f32> = (sampled.code.log_var.unwrap().narrow(0, 0, 1) * 0.5)
            .exp()
            .into_data()
            .try_to_vec()
            .unwrap();
        let z_mean: Vec<f32> = sampled
            .decoded
            .clone()
            .mean_dim(0)
            .into_data()
            .try_to_vec()
            .unwrap();
        let z_std: Vec<f32> = sampled
            .decoded
            .var(0)
            .sqrt()
            .into_data()
            .try_to_vec()
            .unwrap();
        for j in 0..2 {
            assert!((z_mean[j] - mean[j]).abs() < 0.1 * sigma[j], "unit {j}");
            assert!((z_std[j] / sigma[j] - 1.0).abs() < 0.05, "unit {j}");
        }
        let a = model.forward(input.clone()).reconstruction.into_data();
        let b = model.forward(input).reconstruction.into_data();
        assert_eq!(a, b);
    }
}
