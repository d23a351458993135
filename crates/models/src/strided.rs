//! The conv autoencoder's 3×3 stride-2 convolutions as one matrix product each, on
//! channels-last feature maps, for the CPU backend.
//!
//! flex computes a convolution's gradients as further convolutions whose kernels are the
//! whole feature map (burn's default `conv2d_weight_backward`): matrix products with a few
//! columns, which ran the conv autoencoder at 0.4× PyTorch. Written as gather, one matrix
//! product and scatter, both the forward pass and the autodiff backward pass are large,
//! well-shaped products (`[batch · positions, taps · channels]` by `[taps · channels,
//! channels]`), and the gathers are copies.
//!
//! The stride-2 geometry makes the gather cheap: a padded map `[b, 2h', 2w', c]` viewed as
//! `[b, h', 2, w', 2, c]` holds kernel row `k` of output row `i` at `(i + k / 2, k % 2)`, so the
//! nine taps come out of four rectangular slices (kernel rows and columns `0..2` and `2..3`)
//! and the backward pass adds four slices' gradients instead of nine.
//!
//! Only on flex ([`suits`]): libtorch's own convolutions ran the conv autoencoder 8 % faster
//! than these products. A transposed convolution to fewer than [`MIN_UP_CHANNELS`] channels
//! (the image's) stays burn's: its backward product has an inner dimension of `4 · c_out`,
//! where flex's GEMM ran at 2 GFLOP/s.
//!
//! Kernels keep burn's layouts (`[c_out, c_in, 3, 3]` for a convolution, `[c_in, c_out, 3, 3]`
//! for a transposed one), so model files, checkpoints and the PyTorch loader are unchanged.

use std::ops::Range;

use burn::prelude::*;
use burn::tensor::ops::PadMode;

/// Output channels from which [`conv_up`] beats burn's transposed convolution on flex.
pub const MIN_UP_CHANNELS: usize = 8;

/// Whether the products are the faster way on `device`: flex, with or without autodiff.
pub fn suits(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// Kernel rows (or columns) taken together: `0..2` sit in the first cell pair of a stride-2
/// view, `2..3` in the first cell of the next pair.
const TAP_BLOCKS: [Range<usize>; 2] = [0..2, 2..3];

/// The four combinations of two binary indices: [`conv_up`]'s input shifts `(s, t)` and its
/// output phases `(a, e)`, in the order they sit side by side.
const BINARY_PAIRS: [(usize, usize); 4] = [(0, 0), (0, 1), (1, 0), (1, 1)];

/// A 3×3 convolution with stride 2 and padding 1.
///
/// # Shapes
/// - input: `[batch, height, width, c_in]`, height and width even
/// - weight: `[c_out, c_in, 3, 3]`; bias: `[c_out]`
/// - output: `[batch, height / 2, width / 2, c_out]`
pub fn conv_down(input: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, height, width, channels] = input.dims();
    let [out_channels, ..] = weight.dims();
    let (rows, cols) = (height / 2, width / 2);
    let pairs = input
        .pad([(1, 1), (1, 1), (0, 0)], PadMode::Constant(0.0))
        .reshape([batch, rows + 1, 2, cols + 1, 2, channels]);
    let kernel = weight.permute([2, 3, 1, 0]); // [kernel row, kernel column, c_in, c_out]
    let mut patches = Vec::with_capacity(4);
    let mut kernels = Vec::with_capacity(4);
    for kernel_rows in &TAP_BLOCKS {
        for kernel_cols in &TAP_BLOCKS {
            let (row_start, row_cells) = cells(kernel_rows);
            let (col_start, col_cells) = cells(kernel_cols);
            let taps = kernel_rows.len() * kernel_cols.len();
            patches.push(
                pairs
                    .clone()
                    .slice([
                        0..batch,
                        row_start..row_start + rows,
                        row_cells,
                        col_start..col_start + cols,
                        col_cells,
                        0..channels,
                    ]) // [batch, rows, kernel rows, cols, kernel cols, c_in]
                    .permute([0, 1, 3, 2, 4, 5])
                    .reshape([batch * rows * cols, taps * channels]),
            );
            kernels.push(
                kernel
                    .clone()
                    .slice([kernel_rows.clone(), kernel_cols.clone()])
                    .reshape([taps * channels, out_channels]),
            );
        }
    }
    let product = Tensor::cat(patches, 1).matmul(Tensor::cat(kernels, 0)); // [positions, c_out]
    with_bias(product, bias).reshape([batch, rows, cols, out_channels])
}

/// A 3×3 transposed convolution with stride 2, padding 1 and output padding 1: the adjoint
/// of [`conv_down`]'s geometry, doubling height and width.
///
/// Output pixel `(2m + a, 2n + e)` reads inputs `(m + s, n + t)` for shifts `s, t` in `{0, 1}`
/// through kernel row 1 (`a = 0, s = 0`), 2 (`a = 1, s = 0`) or 0 (`a = 1, s = 1`), and
/// likewise for columns. All four output phases come out of one product of the four shifted
/// maps with a `[4 · c_in, 4 · c_out]` matrix whose blocks are kernel taps or zeros.
///
/// # Shapes
/// - input: `[batch, height, width, c_in]`
/// - weight: `[c_in, c_out, 3, 3]`; bias: `[c_out]`
/// - output: `[batch, 2 · height, 2 · width, c_out]`
pub fn conv_up(input: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>) -> Tensor<4> {
    let [batch, height, width, channels] = input.dims();
    let [_, out_channels, ..] = weight.dims();
    let positions = batch * height * width;
    let padded = input.pad([(0, 1), (0, 1), (0, 0)], PadMode::Constant(0.0));
    let shifted: Vec<Tensor<2>> = BINARY_PAIRS
        .into_iter()
        .map(|(s, t)| {
            padded
                .clone()
                .slice([0..batch, s..s + height, t..t + width, 0..channels])
                .reshape([positions, channels])
        })
        .collect();
    let device = weight.device();
    let kernel = weight.permute([2, 3, 0, 1]); // [kernel row, kernel column, c_in, c_out]
    let tap = |phase: usize, shift: usize| match (phase, shift) {
        (0, 0) => Some(1),
        (0, _) => None,
        (_, 0) => Some(2),
        _ => Some(0),
    };
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
    let product = Tensor::cat(shifted, 1).matmul(Tensor::cat(rows, 0)); // [positions, 4 · c_out]
    let phases = with_bias(product.reshape([positions * 4, out_channels]), bias);
    phases
        .reshape([batch, height, width, 2, 2, out_channels])
        .permute([0, 1, 3, 2, 4, 5]) // [batch, height, a, width, e, c_out]
        .reshape([batch, 2 * height, 2 * width, out_channels])
}

/// Where kernel rows `taps` sit in a stride-2 view: the first cell of the pair, and the
/// cells within the pair.
fn cells(taps: &Range<usize>) -> (usize, Range<usize>) {
    (taps.start / 2, taps.start % 2..taps.start % 2 + taps.len())
}

/// `product` `[positions, channels]` plus `bias` on every row.
fn with_bias(product: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    match bias {
        Some(bias) => product + bias.unsqueeze_dim(0),
        None => product,
    }
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
            let x = Tensor::random(
                [2, c_in, size, size],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let bias = conv.bias.as_ref().unwrap();
            check(conv_down, |x| conv.forward(x), x, &conv.weight, bias);
        }
    }

    #[test]
    fn conv_up_matches_burns_transposed_convolution_and_its_gradients() {
        let _rng = crate::tests::RNG.lock();
        let device = Device::flex().autodiff();
        device.seed(4);
        for (c_in, c_out, size) in [(4, 1, 4), (3, 5, 3), (2, 6, 7)] {
            let deconv = ConvTranspose2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .with_padding_out([1, 1])
                .init(&device);
            let x = Tensor::random(
                [2, c_in, size, size],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let bias = deconv.bias.as_ref().unwrap();
            check(conv_up, |x| deconv.forward(x), x, &deconv.weight, bias);
        }
    }
}
