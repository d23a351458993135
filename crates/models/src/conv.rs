//! The convolutional encoder and decoder: stride-2 convolutions halve the image at each
//! step down to a dense code; stride-2 transposed convolutions double it back.
//!
//! Kernels are 3×3 with padding 1 (and output padding 1 going up), so a 28×28 image goes
//! 28 → 14 → 7 with two convolutions and back 7 → 14 → 28.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::prelude::*;
use hourglass_spec::Activation;

use crate::activate;
use crate::mlp::Mlp;

/// Image geometry of a conv autoencoder.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvGeometry {
    /// `[channels, height, width]` of one input.
    pub image: [usize; 3],
    /// Channels of each convolution, input side first.
    pub channels: Vec<usize>,
}

impl ConvGeometry {
    /// `[channels, height, width]` of the last feature map.
    pub fn feature_map(&self) -> [usize; 3] {
        let scale = 1 << self.channels.len();
        let [_, height, width] = self.image;
        [
            *self.channels.last().expect("at least one convolution"),
            height / scale,
            width / scale,
        ]
    }

    fn flat_features(&self) -> usize {
        self.feature_map().iter().product()
    }
}

/// Convolutions, then dense layers down to `out` features.
#[derive(Module, Debug)]
pub struct ConvEncoder {
    convs: Vec<Conv2d>,
    dense: Mlp,
    #[module(skip)]
    image: [usize; 3],
    #[module(skip)]
    activation: Activation,
}

impl ConvEncoder {
    /// An encoder of `geometry`'s images through dense `hidden` widths to `out` features.
    pub fn new(
        geometry: &ConvGeometry,
        hidden: &[usize],
        out: usize,
        activation: Activation,
        device: &Device,
    ) -> Self {
        let mut inputs = geometry.image[0];
        let convs = geometry
            .channels
            .iter()
            .map(|&channels| {
                let conv = Conv2dConfig::new([inputs, channels], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                inputs = channels;
                conv
            })
            .collect();
        let mut widths = vec![geometry.flat_features()];
        widths.extend(hidden);
        widths.push(out);
        Self {
            convs,
            dense: Mlp::new(&widths, activation, false, device),
            image: geometry.image,
            activation,
        }
    }

    /// The kernels, flattened to `[channels_out, rest]`, and the dense weights.
    pub fn weights(&self) -> Vec<Tensor<2>> {
        let mut weights: Vec<Tensor<2>> = self
            .convs
            .iter()
            .map(|conv| conv.weight.val().flatten(1, 3))
            .collect();
        weights.extend(self.dense.weights());
        weights
    }

    /// # Shapes
    /// - input: `[batch, channels · height · width]`
    /// - output: `[batch, out]`
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let [batch, _] = input.dims();
        let [c, h, w] = self.image;
        let mut x = input.reshape([batch, c, h, w]); // [batch, c, h, w]
        for conv in &self.convs {
            x = activate(self.activation, conv.forward(x)); // [batch, c_i, h / 2^i, w / 2^i]
        }
        self.dense.forward(x.flatten(1, 3)) // [batch, out]
    }
}

/// Dense layers up from the code, then transposed convolutions back to the image.
#[derive(Module, Debug)]
pub struct ConvDecoder {
    dense: Mlp,
    deconvs: Vec<ConvTranspose2d>,
    #[module(skip)]
    feature_map: [usize; 3],
    #[module(skip)]
    activation: Activation,
}

impl ConvDecoder {
    /// A decoder from `latent` features through dense `hidden` widths (code side first) to
    /// `geometry`'s images.
    pub fn new(
        geometry: &ConvGeometry,
        hidden: &[usize],
        latent: usize,
        activation: Activation,
        device: &Device,
    ) -> Self {
        let feature_map = geometry.feature_map();
        let mut widths = vec![latent];
        widths.extend(hidden);
        widths.push(geometry.flat_features());
        let mut outputs: Vec<usize> = geometry.channels.iter().rev().skip(1).copied().collect();
        outputs.push(geometry.image[0]);
        let mut inputs = feature_map[0];
        let deconvs = outputs
            .into_iter()
            .map(|channels| {
                let deconv = ConvTranspose2dConfig::new([inputs, channels], [3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .with_padding_out([1, 1])
                    .init(device);
                inputs = channels;
                deconv
            })
            .collect();
        Self {
            dense: Mlp::new(&widths, activation, true, device),
            deconvs,
            feature_map,
            activation,
        }
    }

    /// The dense weights and the kernels, flattened to `[channels_in, rest]`.
    pub fn weights(&self) -> Vec<Tensor<2>> {
        let mut weights = self.dense.weights();
        weights.extend(
            self.deconvs
                .iter()
                .map(|deconv| deconv.weight.val().flatten(1, 3)),
        );
        weights
    }

    /// # Shapes
    /// - code: `[batch, latent]`
    /// - output: `[batch, channels · height · width]`, before the output activation
    pub fn forward(&self, code: Tensor<2>) -> Tensor<2> {
        let [batch, _] = code.dims();
        let [c, h, w] = self.feature_map;
        let mut x = self.dense.forward(code).reshape([batch, c, h, w]); // [batch, c, h, w]
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = deconv.forward(x); // [batch, c_i, 2h, 2w]
            if i < last {
                x = activate(self.activation, x);
            }
        }
        x.flatten(1, 3) // [batch, channels · height · width]
    }
}
