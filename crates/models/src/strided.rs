//! The conv autoencoder's 3×3 stride-2 convolutions as one matrix product each, on
//! channels-last feature maps, for the CPU backend.
//!
//! flex computes a convolution's gradients as further convolutions whose kernels are the
//! whole feature map (burn's default `conv2d_weight_backward`): matrix products with a few
//! columns, which ran the conv autoencoder at 0.4× PyTorch. Written as gather, one matrix
//! product and scatter, both the forward pass and the autodiff backward pass are large,
//! well-shaped products (`[batch · positions, taps · channels]` by `[taps · channels,
//! channels]`).
//!
//! The gathers pick rows (one pixel's channels) of the zero-padded map by index ([`pick_rows`],
//! burn's `select`): one copy forward, and one scatter-add into zeros backward. Slicing the
//! taps out of a strided view instead, then concatenating, made several passes over the
//! patches each way (pad, slice, permute, cat; and back: a zero map and an add per slice),
//! and took a third more time per layer.
//!
//! A transposed convolution comes in two forms ([`conv_up`] picks): to many output channels,
//! the four shifted input maps gathered side by side times a matrix of kernel taps; to a few
//! (the image's), the product first, each input pixel's contribution through every tap, then
//! the output phases as sums of shifted slices of those contributions, where the gathered
//! form's backward product has an inner dimension of `4 · c_out` and flex's GEMM ran at
//! 2 GFLOP/s on it.
//!
//! Only on flex ([`suits`]): libtorch's own convolutions ran the conv autoencoder 8 % faster
//! than these products.
//!
//! Kernels keep burn's layouts (`[c_out, c_in, 3, 3]` for a convolution, `[c_in, c_out, 3, 3]`
//! for a transposed one), so model files, checkpoints and the PyTorch loader are unchanged.

use burn::prelude::*;
use burn::tensor::ops::PadMode;

/// Output channels from which [`conv_up`] gathers its input rather than scattering its
/// product: forward and backward at batch 256 on flex, from 32 channels on 14×14 maps to 1,
/// scattering took 15–17 ms where gathering took 27–31 ms (and burn's layer 19–25 ms); from
/// 64 channels on 7×7 maps to 32, scattering took 80–101 ms where gathering took 45–53 ms.
const MIN_GATHER_CHANNELS: usize = 8;

/// Whether the products are the faster way on `device`: flex, with or without autodiff.
pub fn suits(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// The four combinations of two binary indices: [`conv_up`]'s input shifts `(s, t)` and its
/// output phases `(a, e)`, in the order they sit side by side.
const BINARY_PAIRS: [(usize, usize); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];

/// A 3×3 convolution with stride 2 and padding 1.
///
/// Output pixel `(i, j)` reads padded pixels `(2i + k, 2j + l)` through kernel tap `(k, l)`.
///
/// # Shapes
/// - input: `[batch, height, width, c_in]`, height and width even
/// - weight: `[c_out, c_in, 3, 3]`; bias: `[c_out]`
/// - output: `[batch, height / 2, width / 2, c_out]`
pub fn conv_down(input: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, height, width, channels] = input.dims();
    let [out_channels, ..] = weight.dims();
    let (rows, cols) = (height / 2, width / 2);
    let padded = Padded::new(input, 1);
    let mut taps = Vec::with_capacity(batch * rows * cols * 9);
    for image in 0..batch {
        for i in 0..rows {
            for j in 0..cols {
                for k in 0..3 {
                    let first = padded.row(image, 2 * i + k, 2 * j);
                    taps.extend(first..first + 3);
                }
            }
        }
    }
    let patches = pick_rows(padded.rows, taps).reshape([batch * rows * cols, 9 * channels]);
    let kernel = weight
        .permute([2, 3, 1, 0]) // [kernel row, kernel column, c_in, c_out]
        .reshape([9 * channels, out_channels]);
    with_bias(patches.matmul(kernel), bias).reshape([batch, rows, cols, out_channels])
}

/// A 3×3 transposed convolution with stride 2, padding 1 and output padding 1: the adjoint
/// of [`conv_down`]'s geometry, doubling height and width.
///
/// Output pixel `(2m + a, 2n + e)` reads inputs `(m + s, n + t)` for shifts `s, t` in `{0, 1}`
/// through kernel row 1 (`a = 0, s = 0`), 2 (`a = 1, s = 0`) or 0 (`a = 1, s = 1`), and
/// likewise for columns ([`tap`]).
///
/// # Shapes
/// - input: `[batch, height, width, c_in]`
/// - weight: `[c_in, c_out, 3, 3]`; bias: `[c_out]`
/// - output: `[batch, 2 · height, 2 · width, c_out]`
pub fn conv_up(input: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [_, out_channels, ..] = weight.dims();
    if out_channels >= MIN_GATHER_CHANNELS {
        conv_up_gathered(input, weight, bias)
    } else {
        conv_up_scattered(input, weight, bias)
    }
}

/// [`conv_up`] as one product of the four shifted input maps with a `[4 · c_in, 4 · c_out]`
/// matrix whose blocks are kernel taps or zeros, giving all four output phases side by side;
/// the phases' rows are then picked in output order.
fn conv_up_gathered(input: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, height, width, channels] = input.dims();
    let [_, out_channels, ..] = weight.dims();
    let positions = batch * height * width;
    let device = weight.device();
    let padded = Padded::new(input, 0);
    let mut shifts = Vec::with_capacity(positions * 4);
    for image in 0..batch {
        for m in 0..height {
            for n in 0..width {
                shifts.extend(BINARY_PAIRS.map(|(s, t)| padded.row(image, m + s, n + t)));
            }
        }
    }
    let shifted = pick_rows(padded.rows, shifts).reshape([positions, 4 * channels]);
    let kernel = weight.permute([2, 3, 0, 1]); // [kernel row, kernel column, c_in, c_out]
    let rows: Vec<Tensor<2>> = BINARY_PAIRS
        .into_iter()
        .map(|(s, t)| {
            let blocks = BINARY_PAIRS.map(|(a, e)| match (tap(a, s), tap(e, t)) {
                (Some(row), Some(col)) => kernel
                    .clone()
                    .slice([row..row + 1, col..col + 1])
                    .reshape([channels, out_channels]),
                _ => Tensor::zeros([channels, out_channels], &device),
            });
            Tensor::cat(blocks.to_vec(), 1) // [c_in, 4 · c_out], phases (a, e)
        })
        .collect();
    let product = shifted.matmul(Tensor::cat(rows, 0)); // [positions, 4 · c_out]
    let phases = with_bias(product.reshape([positions * 4, out_channels]), bias);
    let mut pixels = Vec::with_capacity(positions * 4);
    for image in 0..batch {
        for y in 0..2 * height {
            for x in 0..2 * width {
                let position = (image * height + y / 2) * width + x / 2;
                pixels.push(position * 4 + (y % 2) * 2 + x % 2);
            }
        }
    }
    pick_rows(phases, pixels).reshape([batch, 2 * height, 2 * width, out_channels])
}

/// [`conv_up`] with the product before the shifts: every input pixel's contribution through
/// each of the nine taps, `[positions, c_in]` by `[c_in, 9 · c_out]`, then each output phase as
/// the sum of its (up to four) shifted slices of those contributions.
fn conv_up_scattered(input: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, height, width, channels] = input.dims();
    let [_, out_channels, ..] = weight.dims();
    let kernel = weight
        .permute([0, 2, 3, 1]) // [c_in, kernel row, kernel column, c_out]
        .reshape([channels, 9 * out_channels]);
    let contributions = input
        .reshape([batch * height * width, channels])
        .matmul(kernel)
        .reshape([batch, height, width, 9 * out_channels])
        .pad([(0, 1), (0, 1), (0, 0)], PadMode::Constant(0.0)); // [batch, height + 1, width + 1, 9 · c_out]
    let phase = |a: usize, e: usize| {
        BINARY_PAIRS
            .into_iter()
            .filter_map(|(s, t)| {
                let (row, col) = (tap(a, s)?, tap(e, t)?);
                let at = (row * 3 + col) * out_channels;
                Some(contributions.clone().slice([
                    0..batch,
                    s..s + height,
                    t..t + width,
                    at..at + out_channels,
                ]))
            })
            .reduce(|sum, term| sum + term)
            .expect("every phase reads the unshifted input")
            .unsqueeze_dims::<6>(&[2, 4]) // [batch, height, 1, width, 1, c_out]
    };
    let rows = [0, 1].map(|a| Tensor::cat(vec![phase(a, 0), phase(a, 1)], 4));
    let output = Tensor::cat(rows.to_vec(), 2).reshape([batch * 4 * height * width, out_channels]);
    with_bias(output, bias).reshape([batch, 2 * height, 2 * width, out_channels])
}

/// The kernel row through which output phase `phase` reads the input shifted by `shift` (and
/// likewise for columns), if it reads it at all.
fn tap(phase: usize, shift: usize) -> Option<usize> {
    match (phase, shift) {
        (0, 0) => Some(1),
        (0, _) => None,
        (_, 0) => Some(2),
        _ => Some(0),
    }
}

/// `product` `[positions, channels]` plus `bias` on every row.
fn with_bias(product: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    match bias {
        Some(bias) => product + bias.unsqueeze_dim(0),
        None => product,
    }
}

/// A batch of channels-last maps, zero-padded (`before` pixels above and left, one below and
/// right) and flattened to one row per pixel.
struct Padded {
    rows: Tensor<2>,
    height: usize,
    width: usize,
}

impl Padded {
    fn new(maps: Tensor<4>, before: usize) -> Self {
        let [batch, height, width, channels] = maps.dims();
        let (height, width) = (height + before + 1, width + before + 1);
        let rows = maps
            .pad([(before, 1), (before, 1), (0, 0)], PadMode::Constant(0.0))
            .reshape([batch * height * width, channels]);
        Self {
            rows,
            height,
            width,
        }
    }

    /// The row of padded pixel `(y, x)` of image `image`.
    fn row(&self, image: usize, y: usize, x: usize) -> usize {
        (image * self.height + y) * self.width + x
    }
}

/// Rows `indices` of `rows`, in that order: burn's `select`, one copy (and one scatter-add
/// backward).
fn pick_rows(rows: Tensor<2>, indices: Vec<usize>) -> Tensor<2> {
    let count = indices.len();
    let indices: Vec<i64> = indices.into_iter().map(|index| index as i64).collect();
    let indices = Tensor::<1, Int>::from_data(TensorData::new(indices, [count]), &rows.device());
    rows.select(0, indices)
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
    use burn::tensor::Distribution;

    use super::*;

    type Layer = fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>) -> Tensor<4>;

    fn channels_last(x: Tensor<4>) -> Tensor<4> {
        x.permute([0, 2, 3, 1])
    }

    fn assert_close(ours: Tensor<4>, theirs: Tensor<4>, what: &str) {
        let largest = theirs.clone().abs().max().into_scalar::<f32>();
        let difference = (ours - theirs).abs().max().into_scalar::<f32>();
        assert!(
            difference <= 1e-5 * largest.max(1.0),
            "{what}: differs by {difference} (largest {largest})"
        );
    }

    /// `ours` on channels-last maps against burn's layer `theirs` (channels first) on a random
    /// input: the output, and the gradients of a random weighting of it with respect to the
    /// input, the kernel and the bias.
    fn check(
        ours: Layer,
        theirs: impl Fn(Tensor<4>) -> Tensor<4>,
        x: Tensor<4>,
        weight: &Param<Tensor<4>>,
        bias: &Param<Tensor<1>>,
    ) {
        let x = x.require_grad();
        let (weight, bias) = (weight.val(), bias.val());
        let ours = ours(channels_last(x.clone()), weight.clone(), Some(bias.clone()));
        let theirs = channels_last(theirs(x.clone()));
        assert_close(ours.clone(), theirs.clone(), "output");

        let weighting = Tensor::random(ours.dims(), Distribution::Default, &ours.device());
        let our_grads = (ours * weighting.clone()).sum().backward();
        let their_grads = (theirs * weighting).sum().backward();
        let gradient = |grads| -> [Tensor<4>; 3] {
            let channels = bias.dims()[0];
            [
                x.grad(grads).unwrap(),
                weight.grad(grads).unwrap(),
                bias.grad(grads).unwrap().reshape([1, 1, 1, channels]),
            ]
        };
        for ((ours, theirs), what) in gradient(&our_grads)
            .into_iter()
            .zip(gradient(&their_grads))
            .zip(["input gradient", "kernel gradient", "bias gradient"])
        {
            assert_close(ours, theirs, what);
        }
    }

    /// Two standard normal maps of `channels` × `size` × `size`, channels first.
    fn random_maps(channels: usize, size: usize, device: &Device) -> Tensor<4> {
        Tensor::random(
            [2, channels, size, size],
            Distribution::Normal(0.0, 1.0),
            device,
        )
    }

    #[test]
    fn conv_down_matches_burns_convolution_and_its_gradients() {
        let _rng = crate::tests::RNG.lock();
        let device = Device::flex().autodiff();
        device.seed(3);
        for (c_in, c_out, size) in [(1, 4, 8), (3, 5, 6), (6, 2, 4)] {
            let conv = Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(&device);
            let x = random_maps(c_in, size, &device);
            let bias = conv.bias.as_ref().unwrap();
            check(conv_down, |x| conv.forward(x), x, &conv.weight, bias);
        }
    }

    #[test]
    fn both_forms_of_conv_up_match_burns_transposed_convolution_and_its_gradients() {
        let _rng = crate::tests::RNG.lock();
        let device = Device::flex().autodiff();
        device.seed(4);
        for (c_in, c_out, size) in [(4, 1, 4), (3, 5, 3), (2, 6, 7)] {
            let deconv = ConvTranspose2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1])
                .init(&device);
            let x = random_maps(c_in, size, &device);
            let bias = deconv.bias.as_ref().unwrap();
            for form in [conv_up_gathered, conv_up_scattered] {
                check(form, |x| deconv.forward(x), x.clone(), &deconv.weight, bias);
            }
        }
    }
}
