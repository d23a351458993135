//! The convolutional encoder and decoder: stride-2 convolutions halve the image at each
//! step down to a dense code; stride-2 transposed convolutions double it back.
//!
//! Kernels are 3×3 with padding 1 (and output padding 1 going up), so a 28×28 image goes
//! 28 → 14 → 7 with two convolutions and back 7 → 14 → 28. The layers hold burn's
//! `Conv2d` and `ConvTranspose2d` parameters, so model files keep their layout; on flex they
//! compute as [`strided`]'s matrix products on channels-last maps, elsewhere as burn's layers.

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::prelude::*;
use hourglass_spec::Activation;

use crate::activate;
use crate::mlp::Mlp;
use crate::strided::{self, conv_down, conv_up};

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
        let by_products = strided::suits(&input.device());
        let mut x = Maps::ChannelsFirst(input.reshape([batch, c, h, w]));
        for conv in &self.convs {
            // [batch, c_i, h / 2^i, w / 2^i], in either layout
            x = if by_products {
                let bias = conv.bias.as_ref().map(Param::val);
                Maps::ChannelsLast(conv_down(x.channels_last(), conv.weight.val(), bias))
            } else {
                Maps::ChannelsFirst(conv.forward(x.channels_first()))
            };
            x = x.map(|x| activate(self.activation, x));
        }
        self.dense.forward(x.channels_first().flatten(1, 3)) // [batch, out]
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
        let by_products = strided::suits(&code.device());
        let mut x = Maps::ChannelsFirst(self.dense.forward(code).reshape([batch, c, h, w]));
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            // [batch, c_i, 2h, 2w], in either layout
            x = if by_products {
                let bias = deconv.bias.as_ref().map(Param::val);
                Maps::ChannelsLast(conv_up(x.channels_last(), deconv.weight.val(), bias))
            } else {
                Maps::ChannelsFirst(deconv.forward(x.channels_first()))
            };
            if i < last {
                x = x.map(|x| activate(self.activation, x));
            }
        }
        x.channels_first().flatten(1, 3) // [batch, channels · height · width]
    }
}

/// A batch of feature maps in the layout the last layer left them in: burn's layers take and
/// give `[batch, channels, height, width]`, [`strided`]'s products `[batch, height, width,
/// channels]`.
enum Maps {
    ChannelsFirst(Tensor<4>),
    ChannelsLast(Tensor<4>),
}

impl Maps {
    fn channels_first(self) -> Tensor<4> {
        match self {
            Maps::ChannelsFirst(x) => x,
            Maps::ChannelsLast(x) => x.permute([0, 3, 1, 2]),
        }
    }

    fn channels_last(self) -> Tensor<4> {
        match self {
            Maps::ChannelsFirst(x) => x.permute([0, 2, 3, 1]),
            Maps::ChannelsLast(x) => x,
        }
    }

    /// An element-wise function applied in place of layout.
    fn map(self, f: impl FnOnce(Tensor<4>) -> Tensor<4>) -> Self {
        match self {
            Maps::ChannelsFirst(x) => Maps::ChannelsFirst(f(x)),
            Maps::ChannelsLast(x) => Maps::ChannelsLast(f(x)),
        }
    }
}
