//! The fully connected autoencoder: a stack of linear layers down to the code and its mirror
//! image back up to the input.

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation;
use hourglass_spec::{Activation, ModelSection, OutputActivation};

/// Shape and activations of an [`MlpAutoencoder`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpAutoencoderConfig {
    /// Input features (784 for MNIST).
    pub input: usize,
    /// Encoder hidden widths, input side first; the decoder uses them in reverse.
    pub hidden: Vec<usize>,
    /// Code size.
    pub latent: usize,
    /// Activation after every hidden layer (not after the code).
    pub activation: Activation,
    /// Activation of the reconstruction.
    pub output: OutputActivation,
}

impl MlpAutoencoderConfig {
    /// The configuration that `[model]` describes, for inputs of `input` features.
    pub fn from_spec(model: &ModelSection, input: usize) -> Self {
        Self {
            input,
            hidden: model.hidden.clone(),
            latent: model.latent,
            activation: model.activation,
            output: model.output,
        }
    }

    /// Builds the module with freshly initialised weights on `device` (seed it first for
    /// reproducible weights).
    pub fn init(&self, device: &Device) -> MlpAutoencoder {
        let mut widths = vec![self.input];
        widths.extend(&self.hidden);
        widths.push(self.latent);
        let layers = |widths: &[usize]| -> Vec<Linear> {
            widths
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect()
        };
        let reversed: Vec<usize> = widths.iter().rev().copied().collect();
        MlpAutoencoder {
            encoder: layers(&widths),
            decoder: layers(&reversed),
            activation: self.activation,
            output: self.output,
        }
    }
}

/// What one forward pass produces.
#[derive(Debug, Clone)]
pub struct AutoencoderOutput {
    /// The code, `[batch, latent]`.
    pub code: Tensor<2>,
    /// The decoder's last layer before its output activation, `[batch, input]`.
    pub logits: Tensor<2>,
    /// The reconstruction, `[batch, input]`.
    pub reconstruction: Tensor<2>,
}

/// A fully connected autoencoder with a linear code layer.
#[derive(Module, Debug)]
pub struct MlpAutoencoder {
    encoder: Vec<Linear>,
    decoder: Vec<Linear>,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    output: OutputActivation,
}

impl MlpAutoencoder {
    /// Encodes inputs into codes.
    ///
    /// # Shapes
    /// - input: `[batch, input]`
    /// - output: `[batch, latent]`
    pub fn encode(&self, input: Tensor<2>) -> Tensor<2> {
        self.stack(&self.encoder, input)
    }

    /// Decodes codes into the decoder's pre-activation output.
    ///
    /// # Shapes
    /// - code: `[batch, latent]`
    /// - output: `[batch, input]`
    pub fn decode_logits(&self, code: Tensor<2>) -> Tensor<2> {
        self.stack(&self.decoder, code)
    }

    /// Encodes and decodes.
    ///
    /// # Shapes
    /// - input: `[batch, input]`
    /// - code: `[batch, latent]`, logits and reconstruction: `[batch, input]`
    pub fn forward(&self, input: Tensor<2>) -> AutoencoderOutput {
        let code = self.encode(input); // [batch, latent]
        let logits = self.decode_logits(code.clone()); // [batch, input]
        let reconstruction = match self.output {
            OutputActivation::Sigmoid => activation::sigmoid(logits.clone()),
            OutputActivation::Identity => logits.clone(),
        };
        AutoencoderOutput {
            code,
            logits,
            reconstruction,
        }
    }

    /// Applies `layers` with the hidden activation between them (none after the last).
    fn stack(&self, layers: &[Linear], input: Tensor<2>) -> Tensor<2> {
        let last = layers.len() - 1;
        layers.iter().enumerate().fold(input, |x, (i, layer)| {
            let x = layer.forward(x); // [batch, width_i]
            if i == last { x } else { self.activate(x) }
        })
    }

    fn activate(&self, x: Tensor<2>) -> Tensor<2> {
        match self.activation {
            Activation::Relu => activation::relu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
            Activation::Tanh => activation::tanh(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// burn's seed is process-global: tests that seed and draw take turns.
    static RNG: Mutex<()> = Mutex::new(());

    fn config() -> MlpAutoencoderConfig {
        MlpAutoencoderConfig {
            input: 6,
            hidden: vec![5, 4],
            latent: 2,
            activation: Activation::Relu,
            output: OutputActivation::Sigmoid,
        }
    }

    #[test]
    fn shapes_follow_the_config_and_outputs_are_in_unit_range() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(1);
        let model = config().init(&device);
        let input = Tensor::<2>::random([3, 6], burn::tensor::Distribution::Default, &device);
        let out = model.forward(input);
        assert_eq!(out.code.dims(), [3, 2]);
        assert_eq!(out.reconstruction.dims(), [3, 6]);
        let values: Vec<f32> = out.reconstruction.into_data().try_to_vec().unwrap();
        assert!(values.iter().all(|v| (0.0..=1.0).contains(v)));
        // 6*5+5 + 5*4+4 + 4*2+2 for the encoder, 2*4+4 + 4*5+5 + 5*6+6 for the decoder.
        assert_eq!(model.num_params(), 69 + 73);
    }

    #[test]
    fn same_seed_same_weights() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        let input = Tensor::<2>::ones([1, 6], &device);
        device.seed(3);
        let a: Vec<f32> = config()
            .init(&device)
            .forward(input.clone())
            .logits
            .into_data()
            .try_to_vec()
            .unwrap();
        device.seed(3);
        let b: Vec<f32> = config()
            .init(&device)
            .forward(input)
            .logits
            .into_data()
            .try_to_vec()
            .unwrap();
        assert_eq!(a, b);
    }
}
