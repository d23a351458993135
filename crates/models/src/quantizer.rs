//! A VQ-VAE's vector quantiser (van den Oord et al. 2017): the encoder emits `dim` numbers
//! per code position, and each run of them is replaced by the nearest of `size` codebook
//! entries, so a code is `positions` entry indices.
//!
//! Entries learn either by gradient through the codebook loss (`update = "loss"`) or as
//! exponential moving averages of the encoder outputs assigned to them (`update = "ema"`,
//! the paper's appendix). Either way the quantiser keeps a moving average of each entry's use,
//! and restarts the entries that fall out of use at random encoder outputs of the batch (the
//! "random restarts" of Dhariwal et al. 2020, Jukebox); as every entry starts unused, the
//! first step places the whole codebook on the data. The averages are module parameters that
//! no gradient reaches, so checkpoints resume them.

use burn::module::{Param, ParamId};
use burn::prelude::*;
use burn::tensor::{Distribution, Int};
use hourglass_spec::{Codebook, CodebookUpdate};

/// Added to every entry's averaged count before dividing (Laplace smoothing), so that an
/// entry nothing was assigned to for long keeps a finite value.
const SMOOTHING: f64 = 1e-5;
/// An entry is out of use when its averaged count falls below this fraction of an even
/// share of a batch's outputs (`outputs / size`).
const OUT_OF_USE: f64 = 1.0 / 32.0;

/// The codebook and the moving averages of its use.
#[derive(Module, Debug)]
pub struct VectorQuantizer {
    /// The entries. `[size, dim]`
    codebook: Param<Tensor<2>>,
    /// Nᵢ: the averaged number of encoder outputs assigned to entry i per step. `[size]`
    counts: Param<Tensor<1>>,
    /// mᵢ: the averaged sum of those outputs, whose ratio to Nᵢ is the entry
    /// (`update = "ema"` only). `[size, dim]`
    sums: Option<Param<Tensor<2>>>,
    #[module(skip)]
    decay: f64,
    #[module(skip)]
    positions: usize,
}

/// The entries a batch of encoder outputs is assigned.
#[derive(Debug, Clone)]
pub struct Quantized {
    /// The entry of each position. `[batch, positions]`
    pub indices: Tensor<2, Int>,
    /// The entries, side by side as the encoder emitted them; for `update = "loss"` the
    /// codebook loss reaches the codebook through them. `[batch, positions · dim]`
    pub entries: Tensor<2>,
}

impl VectorQuantizer {
    /// A codebook of `codebook.size` entries drawn from N(0, 1), for `positions` positions
    /// (seed the device first for reproducible entries). Every entry starts out of use, with
    /// a zero count.
    pub fn new(codebook: &Codebook, positions: usize, device: &Device) -> Self {
        let (size, dim) = (codebook.size, codebook.dim);
        let entries = Tensor::<2>::random([size, dim], Distribution::Normal(0.0, 1.0), device);
        let sums = (codebook.update == CodebookUpdate::Ema)
            .then(|| Param::from_tensor(Tensor::zeros([size, dim], device)));
        Self {
            codebook: Param::from_tensor(entries),
            counts: Param::from_tensor(Tensor::zeros([size], device)),
            sums,
            decay: codebook.decay,
            positions,
        }
    }

    /// Code positions.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// `[size, dim]`.
    pub fn codebook_shape(&self) -> [usize; 2] {
        self.codebook.val().dims()
    }

    /// The nearest entry of each run of `dim` encoder outputs, by `‖z‖² − 2 z·e + ‖e‖²`.
    ///
    /// # Shapes
    /// - encoded: `[batch, positions · dim]`
    pub fn quantize(&self, encoded: Tensor<2>) -> Quantized {
        let [batch, _] = encoded.dims();
        let [_, dim] = self.codebook_shape();
        let rows = batch * self.positions;
        let outputs = encoded.detach().reshape([rows, dim]); // [rows, dim]
        let codebook = self.codebook.val(); // [size, dim]
        let fixed = codebook.clone().detach();
        let distances = outputs.clone().square().sum_dim(1)
            - outputs.matmul(fixed.clone().transpose()) * 2.0
            + fixed.square().sum_dim(1).transpose(); // [rows, size]
        let indices = distances.argmin(1).reshape([rows]); // [rows]
        // An ema codebook learns from its averages, not from gradients.
        let source = if self.sums.is_some() {
            codebook.detach()
        } else {
            codebook
        };
        Quantized {
            entries: source
                .select(0, indices.clone())
                .reshape([batch, self.positions * dim]),
            indices: indices.reshape([batch, self.positions]),
        }
    }

    /// The entries of codes.
    ///
    /// # Shapes
    /// - indices: `[batch, positions]`
    /// - output: `[batch, positions · dim]`
    pub fn entries(&self, indices: Tensor<2, Int>) -> Tensor<2> {
        let [batch, positions] = indices.dims();
        let [_, dim] = self.codebook_shape();
        self.codebook
            .val()
            .select(0, indices.reshape([batch * positions]))
            .reshape([batch, positions * dim])
    }

    /// This quantiser after a training step on a batch: each entry's averaged use
    /// `Nᵢ ← γ Nᵢ + (1 − γ) nᵢ`; for `update = "ema"` the averaged sum `mᵢ ← γ mᵢ + (1 − γ) Σ z`
    /// over the outputs assigned to entry i, and the entry `mᵢ / Ñᵢ` with Ñ the counts
    /// Laplace-smoothed (a `loss` codebook keeps the entries its optimizer step made). An entry
    /// out of use before the step instead restarts at an output of the batch drawn at random
    /// (from the device's generator), with an even share of the batch as its count.
    ///
    /// # Shapes
    /// - encoded: `[batch, positions · dim]`, the outputs that were assigned `quantized`
    pub fn after_step(self, encoded: Tensor<2>, quantized: &Quantized) -> Self {
        let [size, dim] = self.codebook_shape();
        let [batch, _] = encoded.dims();
        let rows = batch * self.positions;
        let device = encoded.device();
        let outputs = encoded.detach().reshape([rows, dim]); // [rows, dim]
        let assigned: Tensor<2> = quantized
            .indices
            .clone()
            .reshape([rows])
            .one_hot::<2>(size)
            .float()
            .detach(); // [rows, size]
        let decay = self.decay;
        let before = self.counts.val().detach(); // [size]
        let share = rows as f64 / size as f64;
        let out_of_use = before.clone().lower_elem(OUT_OF_USE * share).float(); // [size]
        let in_use = out_of_use.clone().neg() + 1.0; // [size]
        // Keeps the in-use rows of `kept` and puts `restarted` in the others.
        let restart = |kept: Tensor<2>, restarted: Tensor<2>| {
            kept * in_use.clone().reshape([size, 1])
                + restarted * out_of_use.clone().reshape([size, 1])
        };
        let drawn = Tensor::<1>::random([size], Distribution::Uniform(0.0, rows as f64), &device)
            .int()
            .clamp(0, rows as i64 - 1); // [size]
        let restarts = outputs.clone().select(0, drawn); // [size, dim]
        let counts = (before * decay + assigned.clone().sum_dim(0).reshape([size]) * (1.0 - decay))
            * in_use.clone()
            + out_of_use.clone() * share; // [size]
        let (entries, sums) = match &self.sums {
            None => (restart(self.codebook.val().detach(), restarts), None),
            Some(param) => {
                let averaged = param.val().detach() * decay
                    + assigned.transpose().matmul(outputs) * (1.0 - decay);
                let sums = restart(averaged, restarts * share); // [size, dim]
                let total = counts.clone().sum(); // [1]
                let smoothed = (counts.clone() + SMOOTHING)
                    / (total.clone() + size as f64 * SMOOTHING)
                    * total; // [size]
                let entries = sums.clone() / smoothed.reshape([size, 1]); // [size, dim]
                (entries, Some(replaced(param, sums)))
            }
        };
        let codebook = replaced(&self.codebook, entries);
        Self {
            codebook,
            counts: replaced(&self.counts, counts),
            sums,
            decay,
            positions: self.positions,
        }
    }
}

/// `param` holding `value` instead, under the same id, a leaf that requires a gradient as
/// `param` did (the optimizer goes on training a loss codebook's entries).
fn replaced<const D: usize>(param: &Param<Tensor<D>>, value: Tensor<D>) -> Param<Tensor<D>> {
    let id: ParamId = param.id;
    let trained = param.val().is_require_grad();
    Param::initialized(id, value.detach().set_require_grad(trained))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::RNG;

    fn codebook(size: usize, dim: usize, update: CodebookUpdate, decay: f64) -> Codebook {
        Codebook {
            size,
            dim,
            update,
            decay,
            ..Codebook::default()
        }
    }

    fn rows(tensor: Tensor<2>) -> Vec<Vec<f32>> {
        let [_, width] = tensor.dims();
        let values: Vec<f32> = tensor.into_data().try_to_vec().unwrap();
        values.chunks(width).map(<[f32]>::to_vec).collect()
    }

    fn indices(tensor: Tensor<2, Int>) -> Vec<i64> {
        tensor.into_data().convert::<i64>().try_to_vec().unwrap()
    }

    #[test]
    fn each_position_takes_its_nearest_entry() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(11);
        let quantizer =
            VectorQuantizer::new(&codebook(16, 3, CodebookUpdate::Loss, 0.99), 4, &device);
        let all: Vec<i64> = (0..16).collect();
        let entries =
            rows(quantizer.entries(Tensor::from_data(TensorData::new(all, [16, 1]), &device)));
        let encoded = Tensor::<2>::random([5, 12], Distribution::Normal(0.0, 1.5), &device);
        let outputs = rows(encoded.clone().reshape([20, 3]));
        let quantized = quantizer.quantize(encoded);
        let chosen = indices(quantized.indices.clone());
        let distance =
            |z: &[f32], e: &[f32]| -> f32 { z.iter().zip(e).map(|(a, b)| (a - b).powi(2)).sum() };
        for (z, &index) in outputs.iter().zip(&chosen) {
            let best = (0..16)
                .min_by(|&a, &b| distance(z, &entries[a]).total_cmp(&distance(z, &entries[b])))
                .unwrap();
            assert_eq!(index as usize, best, "{z:?}");
        }
        let placed = rows(quantized.entries.reshape([20, 3]));
        for (entry, &index) in placed.iter().zip(&chosen) {
            assert_eq!(entry, &entries[index as usize]);
        }
    }

    /// `count` outputs of two numbers around each of `centres` in turn, 0.01 apart.
    fn clustered(centres: &[[f32; 2]], count: usize, device: &Device) -> Tensor<2> {
        let values: Vec<f32> = (0..count)
            .flat_map(|k| centres[k % centres.len()])
            .collect();
        let noise = Tensor::<2>::random([count, 2], Distribution::Normal(0.0, 0.01), device);
        Tensor::<2>::from_data(TensorData::new(values, [count, 2]), device) + noise
    }

    /// Every entry, row by row.
    fn entries(quantizer: &VectorQuantizer) -> Vec<Vec<f32>> {
        rows(quantizer.codebook.val())
    }

    fn trained(
        mut quantizer: VectorQuantizer,
        encoded: &Tensor<2>,
        steps: usize,
    ) -> VectorQuantizer {
        for _ in 0..steps {
            let quantized = quantizer.quantize(encoded.clone());
            quantizer = quantizer.after_step(encoded.clone(), &quantized);
        }
        quantizer
    }

    #[test]
    fn the_first_step_places_every_entry_on_an_output() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(12);
        for update in [CodebookUpdate::Ema, CodebookUpdate::Loss] {
            let quantizer = VectorQuantizer::new(&codebook(8, 2, update, 0.99), 2, &device);
            let encoded = Tensor::<2>::random([10, 4], Distribution::Normal(5.0, 1.0), &device);
            let outputs = rows(encoded.clone().reshape([20, 2]));
            for entry in entries(&trained(quantizer, &encoded, 1)) {
                let on_an_output = outputs.iter().any(|output| {
                    output
                        .iter()
                        .zip(&entry)
                        .all(|(a, b)| (a - b).abs() < 1e-5 * a.abs())
                });
                assert!(on_an_output, "{update:?}: {entry:?}");
            }
        }
    }

    #[test]
    fn used_entries_settle_on_the_mean_of_their_outputs() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(14);
        let quantizer = VectorQuantizer::new(&codebook(2, 2, CodebookUpdate::Ema, 0.9), 1, &device);
        let encoded = clustered(&[[-3.0, -3.0], [3.0, 2.0]], 40, &device);
        let outputs = rows(encoded.clone());
        let mean = |parity: usize, j: usize| -> f32 {
            outputs
                .iter()
                .skip(parity)
                .step_by(2)
                .map(|o| o[j])
                .sum::<f32>()
                / 20.0
        };
        let mut settled = entries(&trained(quantizer, &encoded, 100));
        settled.sort_by(|a, b| a[0].total_cmp(&b[0]));
        // Whichever outputs the first step placed the two entries on, each ends at the mean
        // of one cluster (the moving averages' start has decayed to 0.9^100).
        for (parity, entry) in settled.iter().enumerate() {
            for (j, value) in entry.iter().enumerate() {
                assert!((value - mean(parity, j)).abs() < 1e-3, "{settled:?}");
            }
        }
    }

    #[test]
    fn entries_out_of_use_restart_on_the_data() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(15);
        let quantizer = VectorQuantizer::new(&codebook(6, 2, CodebookUpdate::Ema, 0.9), 1, &device);
        let encoded = clustered(&[[4.0, -4.0]], 30, &device);
        let first = trained(quantizer, &encoded, 1);
        // Moved far from the data, every entry falls out of use but the one nearest to it.
        let far: Vec<f32> = (0..6).flat_map(|k| [-40.0 - k as f32, 40.0]).collect();
        let far = Tensor::<2>::from_data(TensorData::new(far, [6, 2]), &device);
        let moved = VectorQuantizer {
            codebook: replaced(&first.codebook, far),
            ..first
        };
        for entry in entries(&trained(moved, &encoded, 60)) {
            let distance = ((entry[0] - 4.0).powi(2) + (entry[1] + 4.0).powi(2)).sqrt();
            assert!(distance < 0.1, "{entry:?} left out of use");
        }
    }

    #[test]
    fn a_loss_codebook_keeps_the_entries_in_use_as_its_optimizer_left_them() {
        let _rng = RNG.lock().unwrap();
        // As in training: the optimizer goes on training the entries after the step.
        let device = Device::flex().autodiff();
        device.seed(13);
        let quantizer =
            VectorQuantizer::new(&codebook(4, 2, CodebookUpdate::Loss, 0.5), 2, &device);
        let encoded = Tensor::<2>::random([3, 4], Distribution::Default, &device);
        // The first step restarts every entry with an even share as its count: all in use.
        let placed = trained(quantizer, &encoded, 1);
        assert!(placed.sums.is_none());
        assert!(placed.codebook.val().is_require_grad());
        let before = entries(&placed);
        assert_eq!(entries(&trained(placed, &encoded, 1)), before);
    }
}
