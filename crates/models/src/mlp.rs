//! A stack of fully connected layers with one activation between them: the body of MLP
//! encoders and decoders, and the dense part of conv ones.

use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use hourglass_spec::Activation;

use crate::activate;

/// Linear layers of the given widths with `activation` after each, except the last unless
/// `activate_last`.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    activate_last: bool,
}

impl Mlp {
    /// A stack mapping `widths[0]` features to `widths[last]`, one layer per pair.
    pub fn new(
        widths: &[usize],
        activation: Activation,
        activate_last: bool,
        device: &Device,
    ) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self {
            layers,
            activation,
            activate_last,
        }
    }

    /// # Shapes
    /// - input: `[batch, widths[0]]`
    /// - output: `[batch, widths[last]]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        self.layers.iter().enumerate().fold(input, |x, (i, layer)| {
            self.activated(i, layer.forward(x)) // [batch, width_i]
        })
    }

    /// The output `x` of layer `i` after the activation that follows that layer, if any.
    pub(crate) fn activated<const D: usize>(&self, i: usize, x: Tensor<D>) -> Tensor<D> {
        if i + 1 < self.layers.len() || self.activate_last {
            activate(self.activation, x)
        } else {
            x
        }
    }

    /// The weight matrices (not the biases), input side first.
    pub fn weights(&self) -> Vec<Tensor<2>> {
        self.layers.iter().map(|layer| layer.weight.val()).collect()
    }

    /// This stack with each layer's weight and bias replaced, input side first.
    ///
    /// # Panics
    /// When the number of layers or a shape differs.
    pub fn with_parameters(&self, parameters: Vec<(Tensor<2>, Tensor<1>)>) -> Self {
        assert_eq!(
            parameters.len(),
            self.layers.len(),
            "one (weight, bias) per layer"
        );
        let layers = self
            .layers
            .iter()
            .zip(parameters)
            .map(|(layer, (weight, bias))| {
                assert_eq!(weight.dims(), layer.weight.dims(), "weight shape");
                Linear {
                    weight: Param::from_tensor(weight),
                    bias: Some(Param::from_tensor(bias)),
                }
            })
            .collect();
        Self {
            layers,
            activation: self.activation,
            activate_last: self.activate_last,
        }
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
}
