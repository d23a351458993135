//! A VQ-VAE's vector quantiser (van den Oord et al. 2017): the encoder emits `dim` numbers
//! per code position, and each run of them is replaced by the nearest of `size` codebook
//! entries, so a code is `positions` entry indices.
//!
//! Entries learn either by gradient through the codebook loss (`update = "loss"`) or as
//! exponential moving averages of the encoder outputs assigned to them (`update = "ema"`,
//! the paper's appendix), kept in the module so that checkpoints resume them. A moving-average
//! codebook restarts the entries that fall out of use at random encoder outputs of the batch
//! (the "random restarts" of Dhariwal et al. 2020, Jukebox); as every entry starts unused, the
//! first step places the whole codebook on the data.

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

/// The codebook and, for `update = "ema"`, its moving averages.
#[derive(Module, Debug)]
pub struct VectorQuantizer {
    /// The entries. `[size, dim]`
    codebook: Param<Tensor<2>>,
    /// `update = "ema"` only.
    averages: Option<MovingAverages>,
    #[module(skip)]
    positions: usize,
}

/// The moving averages an `ema` codebook's entries are the ratio of.
#[derive(Module, Debug)]
pub struct MovingAverages {
    /// Nᵢ: the averaged number of encoder outputs assigned to entry i. `[size]`
    counts: Param<Tensor<1>>,
    /// mᵢ: the averaged sum of those outputs. `[size, dim]`
    sums: Param<Tensor<2>>,
    #[module(skip)]
    decay: f64,
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
    /// (seed the device first for reproducible entries). An `ema` codebook's entries start
    /// out of use, with zero counts.
    pub fn new(codebook: &Codebook, positions: usize, device: &Device) -> Self {
        let (size, dim) = (codebook.size, codebook.dim);
        let entries = Tensor::<2>::random([size, dim], Distribution::Normal(0.0, 1.0), device);
        let averages = (codebook.update == CodebookUpdate::Ema).then(|| MovingAverages {
            counts: Param::from_tensor(Tensor::zeros([size], device)),
            sums: Param::from_tensor(Tensor::zeros([size, dim], device)),
            decay: codebook.decay,
        });
        Self {
            codebook: Param::from_tensor(entries),
            averages,
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
        let source = if self.averages.is_some() {
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

    /// This quantiser after one moving-average step on a batch: `Nᵢ ← γ Nᵢ + (1 − γ) nᵢ`,
    /// `mᵢ ← γ mᵢ + (1 − γ) Σ z` over the outputs assigned to entry i, and each entry
    /// `mᵢ / Ñᵢ` with Ñ the counts Laplace-smoothed; an entry out of use before the step
    /// instead restarts at an output of the batch drawn at random (from the device's
    /// generator), with an even share of the batch as its count. Unchanged for a `loss`
    /// codebook.
    ///
    /// # Shapes
    /// - encoded: `[batch, positions · dim]`, the outputs that were assigned `quantized`
    pub fn with_moving_averages(self, encoded: Tensor<2>, quantized: &Quantized) -> Self {
        let Some(averages) = &self.averages else {
            return self;
        };
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
        let decay = averages.decay;
        let before = averages.counts.val().detach(); // [size]
        let share = rows as f64 / size as f64;
        let out_of_use = before.clone().lower_elem(OUT_OF_USE * share).float(); // [size]
        let in_use = out_of_use.clone().neg() + 1.0; // [size]
        let drawn = Tensor::<1>::random([size], Distribution::Uniform(0.0, rows as f64), &device)
            .int()
            .clamp(0, rows as i64 - 1); // [size]
        let restarts = outputs.clone().select(0, drawn); // [size, dim]
        let counts = (before * decay + assigned.clone().sum_dim(0).reshape([size]) * (1.0 - decay))
            * in_use.clone()
            + out_of_use.clone() * share; // [size]
        let sums = (averages.sums.val().detach() * decay
            + assigned.transpose().matmul(outputs) * (1.0 - decay))
            * in_use.reshape([size, 1])
            + restarts * out_of_use.reshape([size, 1]) * share; // [size, dim]
        let total = counts.clone().sum(); // [1]
        let smoothed =
            (counts.clone() + SMOOTHING) / (total.clone() + size as f64 * SMOOTHING) * total; // [size]
        let entries = sums.clone() / smoothed.reshape([size, 1]); // [size, dim]
        Self {
            codebook: replaced(&self.codebook, entries),
            averages: Some(MovingAverages {
                counts: replaced(&averages.counts, counts),
                sums: replaced(&averages.sums, sums),
                decay,
            }),
            positions: self.positions,
        }
    }
}

/// `param` holding `value` instead, under the same id.
fn replaced<const D: usize>(param: &Param<Tensor<D>>, value: Tensor<D>) -> Param<Tensor<D>> {
    let id: ParamId = param.id;
    Param::initialized(id, value)
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
            quantizer = quantizer.with_moving_averages(encoded.clone(), &quantized);
        }
        quantizer
    }

    #[test]
    fn the_first_moving_average_step_places_every_entry_on_an_output() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(12);
        let quantizer =
            VectorQuantizer::new(&codebook(8, 2, CodebookUpdate::Ema, 0.99), 2, &device);
        let encoded = Tensor::<2>::random([10, 4], Distribution::Normal(5.0, 1.0), &device);
        let outputs = rows(encoded.clone().reshape([20, 2]));
        for entry in entries(&trained(quantizer, &encoded, 1)) {
            let on_an_output = outputs.iter().any(|output| {
                output
                    .iter()
                    .zip(&entry)
                    .all(|(a, b)| (a - b).abs() < 1e-5 * a.abs())
            });
            assert!(on_an_output, "{entry:?}");
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
    fn a_loss_codebook_ignores_moving_averages() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(13);
        let quantizer =
            VectorQuantizer::new(&codebook(4, 2, CodebookUpdate::Loss, 0.5), 2, &device);
        let before = rows(quantizer.codebook.val());
        let encoded = Tensor::<2>::random([3, 4], Distribution::Default, &device);
        let quantized = quantizer.quantize(encoded.clone());
        let after = quantizer.with_moving_averages(encoded, &quantized);
        assert_eq!(rows(after.codebook.val()), before);
        assert!(after.averages.is_none());
    }
}
