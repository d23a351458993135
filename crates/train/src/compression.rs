//! The compression task: what a code costs in bits and what it keeps, against two baselines at
//! the same bytes per example.
//!
//! The code is stored with 8 bits per dimension, quantised uniformly between the smallest and
//! largest value each dimension takes on the training examples; a VQ-VAE's code, its entry
//! indices, is packed at `⌈log2 size⌉` bits each, and decoded from the packed bits. The
//! baselines are PCA with as many components as the code has bytes (coefficients quantised to
//! 8 bits) and, for single-channel images, JPEG at the highest quality whose entropy-coded
//! bytes fit in the code's bytes (the headers, the same for every image, are left out in
//! JPEG's favour).

use std::collections::BTreeMap;
use std::io::Cursor;

use burn::prelude::*;
use burn::tensor::{Int, TensorData};
use hourglass_data::Split;
use hourglass_metrics::{Pca, psnr_db};
use hourglass_models::{Autoencoder, VectorQuantizer};
use hourglass_spec::model_card::CodeRanges;
use hourglass_spec::result::metric;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, ImageFormat};

use crate::{batch, evaluate};

/// Training examples used to fit the quantiser's ranges and PCA.
pub(crate) const FIT_EXAMPLES: usize = 10_000;
/// Test images JPEG-encoded at each quality.
const JPEG_EXAMPLES: usize = 1_000;
/// Qualities tried for the JPEG baseline.
const JPEG_QUALITIES: [u8; 16] = [1, 2, 3, 5, 7, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95];
/// Levels of the quantised code: 8 bits.
const LEVELS: f64 = 255.0;

/// The compression metrics of `model`, its code and the PCA baseline fitted on `fit` (the
/// first [`FIT_EXAMPLES`] training examples), and the 8-bit quantiser's code ranges (`None`
/// for a VQ-VAE, whose code is already discrete); `unit_range` says inputs lie in [0, 1]
/// (baselines' reconstructions are clipped to it, as the model's sigmoid output is).
pub(crate) fn compression(
    model: &Autoencoder,
    fit: &Split,
    test: &Split,
    unit_range: bool,
    device: &Device,
) -> (BTreeMap<&'static str, f64>, Option<CodeRanges>) {
    let features = test.features();
    let (code, ranges) = match model.quantizer() {
        Some(quantizer) => (codebook_code(model, quantizer, test, device), None),
        None => {
            let (code, ranges) = eight_bit_code(model, fit, test, device);
            (code, Some(ranges))
        }
    };
    let bytes = code.bits / 8.0;
    let mut metrics = BTreeMap::from([
        (metric::CODE_BITS, code.stored_bits),
        (metric::CODE_BYTES, bytes),
        (metric::COMPRESSION_RATIO, 8.0 * features as f64 / code.bits),
        (
            metric::QUANTIZED_PSNR_DB,
            psnr_db(mean_squared_error(&test.inputs, &code.decoded), 1.0),
        ),
        (
            metric::PCA_PSNR_DB,
            // As many 8-bit coefficients as the code has whole bytes, one at least.
            pca_psnr_db(fit, test, (bytes as usize).max(1), unit_range),
        ),
    ]);
    metrics.extend(code.perplexity.map(|p| (metric::CODEBOOK_PERPLEXITY, p)));
    if let [channels @ (1 | 3), height, width] = test.shape[..]
        && let Some(jpeg) = jpeg_at_most(test, [channels, height, width], bytes)
    {
        metrics.extend([
            (metric::JPEG_PSNR_DB, jpeg.psnr_db),
            (metric::JPEG_BYTES, jpeg.bytes),
            (metric::JPEG_QUALITY, f64::from(jpeg.quality)),
        ]);
    }
    (metrics, ranges)
}

/// A model's stored test codes, decoded.
struct StoredCode {
    /// Bits per example of the code as stored.
    bits: f64,
    /// What `code_bits` reports: the float32 code's bits, or `bits` for a VQ-VAE.
    stored_bits: f64,
    /// The test reconstructions decoded from the stored codes.
    decoded: Vec<f32>,
    /// A VQ-VAE's codebook perplexity on the test codes.
    perplexity: Option<f64>,
}

/// The code at 8 bits per dimension between the ranges the codes of `fit` take, and those
/// ranges.
fn eight_bit_code(
    model: &Autoencoder,
    fit: &Split,
    test: &Split,
    device: &Device,
) -> (StoredCode, CodeRanges) {
    let latent = model.latent();
    let quantizer = Quantizer::fit(&evaluate::codes(model, fit, device), latent);
    let mut codes = evaluate::codes(model, test, device);
    quantizer.round_trip(&mut codes);
    let code = StoredCode {
        bits: (8 * latent) as f64,
        stored_bits: (32 * latent) as f64,
        decoded: floats(model.decode(batch::tensor(codes, latent, device))),
        perplexity: None,
    };
    let ranges = CodeRanges {
        low: quantizer.low,
        high: quantizer.high,
    };
    (code, ranges)
}

/// A VQ-VAE's test codes packed into one bit stream at `⌈log2 size⌉` bits per index, and
/// decoded from the indices read back from it.
fn codebook_code(
    model: &Autoencoder,
    quantizer: &VectorQuantizer,
    test: &Split,
    device: &Device,
) -> StoredCode {
    let [size, _] = quantizer.codebook_shape();
    let positions = quantizer.positions();
    let indices = evaluate::code_indices(model, test, device);
    let packed = PackedIndices::pack(&indices, size);
    let unpacked = packed.unpack();
    let mut decoded = Vec::with_capacity(test.len() * test.features());
    for chunk in unpacked.chunks(evaluate::EVAL_BATCH * positions) {
        let rows = chunk.len() / positions;
        let data = TensorData::new(chunk.iter().map(|&i| i as i64).collect(), [rows, positions]);
        let indices = Tensor::<2, Int>::from_data(data, device);
        decoded.extend(floats(model.decode_indices(indices)));
    }
    let bits = packed.bits as f64 / test.len() as f64;
    StoredCode {
        bits,
        stored_bits: bits,
        decoded,
        perplexity: Some(perplexity(&indices, size)),
    }
}

/// `exp` of the entropy of the frequencies of `indices` among `size` entries.
fn perplexity(indices: &[u32], size: usize) -> f64 {
    let mut counts = vec![0usize; size];
    for &index in indices {
        counts[index as usize] += 1;
    }
    let total = indices.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&n| n > 0)
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.ln()
        })
        .sum();
    entropy.exp()
}

/// Entry indices written one after another at a fixed width, least significant bit first.
struct PackedIndices {
    bytes: Vec<u8>,
    /// Bits written.
    bits: usize,
    /// Bits per index: `⌈log2 size⌉`.
    width: u32,
    count: usize,
}

impl PackedIndices {
    /// Packs `indices`, each below `size`.
    fn pack(indices: &[u32], size: usize) -> Self {
        let width = usize::BITS - (size - 1).leading_zeros();
        let bits = indices.len() * width as usize;
        let mut bytes = vec![0u8; bits.div_ceil(8)];
        for (k, &index) in indices.iter().enumerate() {
            for bit in 0..width {
                if index >> bit & 1 == 1 {
                    let at = k * width as usize + bit as usize;
                    bytes[at / 8] |= 1 << (at % 8);
                }
            }
        }
        Self {
            bytes,
            bits,
            width,
            count: indices.len(),
        }
    }

    /// The indices read back.
    fn unpack(&self) -> Vec<u32> {
        (0..self.count)
            .map(|k| {
                (0..self.width).fold(0u32, |index, bit| {
                    let at = k * self.width as usize + bit as usize;
                    index | u32::from(self.bytes[at / 8] >> (at % 8) & 1) << bit
                })
            })
            .collect()
    }
}

fn floats(tensor: Tensor<2>) -> Vec<f32> {
    tensor
        .into_data()
        .try_to_vec()
        .expect("f32 reconstructions")
}

/// Uniform 8-bit quantisation of each dimension between its training minimum and maximum.
struct Quantizer {
    low: Vec<f32>,
    high: Vec<f32>,
}

impl Quantizer {
    fn fit(values: &[f32], dims: usize) -> Self {
        let mut low = vec![f32::INFINITY; dims];
        let mut high = vec![f32::NEG_INFINITY; dims];
        for row in values.chunks_exact(dims) {
            for (j, &v) in row.iter().enumerate() {
                low[j] = low[j].min(v);
                high[j] = high[j].max(v);
            }
        }
        Self { low, high }
    }

    /// Replaces each value by its quantised value (clipped to the fitted range).
    fn round_trip(&self, values: &mut [f32]) {
        for row in values.chunks_exact_mut(self.low.len()) {
            for ((v, &low), &high) in row.iter_mut().zip(&self.low).zip(&self.high) {
                let span = f64::from(high - low);
                if span > 0.0 {
                    let level = ((f64::from(*v - low) / span) * LEVELS)
                        .round()
                        .clamp(0.0, LEVELS);
                    *v = (f64::from(low) + level / LEVELS * span) as f32;
                } else {
                    *v = low;
                }
            }
        }
    }
}

fn mean_squared_error(a: &[f32], b: &[f32]) -> f64 {
    let sum: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
    sum / a.len() as f64
}

/// PSNR of PCA with `k` components fitted on `fit`, coefficients quantised to 8 bits.
fn pca_psnr_db(fit: &Split, test: &Split, k: usize, unit_range: bool) -> f64 {
    let features = test.features();
    let pca = Pca::fit(&fit.inputs, features, k);
    let project = |split: &Split| -> Vec<f32> {
        (0..split.len())
            .flat_map(|i| pca.project(split.input(i)))
            .map(|c| c as f32)
            .collect()
    };
    let quantizer = Quantizer::fit(&project(fit), k);
    let mut coefficients = project(test);
    quantizer.round_trip(&mut coefficients);
    let reconstructed: Vec<f32> = coefficients
        .chunks_exact(k)
        .flat_map(|c| {
            let row: Vec<f64> = c.iter().map(|&v| f64::from(v)).collect();
            pca.reconstruct(&row)
        })
        .map(|v| {
            if unit_range {
                v.clamp(0.0, 1.0) as f32
            } else {
                v as f32
            }
        })
        .collect();
    psnr_db(mean_squared_error(&test.inputs, &reconstructed), 1.0)
}

/// A JPEG operating point: quality, mean entropy-coded bytes per image, PSNR.
#[derive(Debug, Clone, Copy)]
struct JpegPoint {
    quality: u8,
    bytes: f64,
    psnr_db: f64,
}

/// The highest-quality JPEG of the first test images whose mean entropy-coded bytes are at
/// most `budget`; `None` when even quality 1 needs more.
fn jpeg_at_most(test: &Split, shape: [usize; 3], budget: f64) -> Option<JpegPoint> {
    let shown = test.head(JPEG_EXAMPLES);
    JPEG_QUALITIES
        .iter()
        .map(|&quality| jpeg_point(&shown, shape, quality))
        .take_while(|point| point.bytes <= budget)
        .last()
}

/// JPEG at `quality` of grey or RGB images of `[channels, height, width]` (colour is encoded
/// as JPEG does by default: YCbCr with 4:2:0 chroma subsampling).
fn jpeg_point(images: &Split, [channels, height, width]: [usize; 3], quality: u8) -> JpegPoint {
    let (mut bytes, mut squared_error) = (0usize, 0.0f64);
    let colour = if channels == 3 {
        ExtendedColorType::Rgb8
    } else {
        ExtendedColorType::L8
    };
    for i in 0..images.len() {
        let original = images.input(i);
        // Channels first to interleaved pixels, as image codecs take them.
        let pixels: Vec<u8> = (0..height * width * channels)
            .map(|at| original[(at % channels) * height * width + at / channels])
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        let mut encoded = Vec::new();
        JpegEncoder::new_with_quality(&mut encoded, quality)
            .encode(&pixels, width as u32, height as u32, colour)
            .expect("an in-memory image encodes");
        bytes += entropy_coded_bytes(&encoded);
        let decoded = image::load(Cursor::new(&encoded), ImageFormat::Jpeg)
            .expect("a JPEG just encoded decodes");
        let decoded = if channels == 3 {
            decoded.into_rgb8().into_raw()
        } else {
            decoded.into_luma8().into_raw()
        };
        squared_error += (0..height * width * channels)
            .map(|at| {
                let x = original[(at % channels) * height * width + at / channels];
                (f64::from(x) - f64::from(decoded[at]) / 255.0).powi(2)
            })
            .sum::<f64>();
    }
    let count = images.len() as f64;
    JpegPoint {
        quality,
        bytes: bytes as f64 / count,
        psnr_db: psnr_db(
            squared_error / (count * (channels * height * width) as f64),
            1.0,
        ),
    }
}

/// Bytes between the start-of-scan header and the end-of-image marker of a baseline JPEG.
fn entropy_coded_bytes(jpeg: &[u8]) -> usize {
    let sos = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .expect("a JPEG has a start of scan");
    let header = usize::from(u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]));
    jpeg.len() - 2 - (sos + 2 + header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizer_keeps_255_steps_between_the_fitted_extremes() {
        let quantizer = Quantizer::fit(&[0.0, -1.0, 2.55, 1.0], 2);
        let mut values = [0.011, 0.0, 3.0, -5.0];
        quantizer.round_trip(&mut values);
        // Dimension 0 spans [0, 2.55] in steps of 0.01; dimension 1 [-1, 1] in steps of 2/255.
        assert!((values[0] - 0.01).abs() < 1e-6, "{values:?}");
        assert!(
            (values[1] - (-1.0 + 128.0 * 2.0 / 255.0)).abs() < 1e-6,
            "{values:?}"
        );
        assert_eq!([values[2], values[3]], [2.55, -1.0]);
    }

    #[test]
    fn packed_indices_take_their_width_in_bits_and_read_back() {
        let indices: Vec<u32> = (0..100).map(|k| (k * 37) % 200).collect();
        for (size, width) in [(2, 1), (200, 8), (256, 8), (257, 9), (65_536, 16)] {
            let kept: Vec<u32> = indices.iter().map(|&i| i % size as u32).collect();
            let packed = PackedIndices::pack(&kept, size);
            assert_eq!(packed.bits, 100 * width, "size {size}");
            assert_eq!(packed.bytes.len(), (100 * width).div_ceil(8));
            assert_eq!(packed.unpack(), kept, "size {size}");
        }
    }

    #[test]
    fn perplexity_counts_the_entries_in_effective_use() {
        assert!((perplexity(&[0, 1, 2, 3], 8) - 4.0).abs() < 1e-12);
        assert!((perplexity(&[5, 5, 5], 8) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn entropy_coded_bytes_leave_out_the_headers() {
        let pixels = vec![128u8; 64];
        let mut encoded = Vec::new();
        JpegEncoder::new_with_quality(&mut encoded, 50)
            .encode(&pixels, 8, 8, ExtendedColorType::L8)
            .unwrap();
        let payload = entropy_coded_bytes(&encoded);
        // A flat 8x8 block is one DC difference and an end-of-block: a couple of bytes, while
        // the file with its tables is hundreds.
        assert!(
            payload <= 4 && encoded.len() > 150,
            "{payload} of {}",
            encoded.len()
        );
    }
}
