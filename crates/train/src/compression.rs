//! The compression task: what a code costs in bits and what it keeps, against two baselines at
//! the same bytes per example.
//!
//! The code is stored with 8 bits per dimension, quantised uniformly between the smallest and
//! largest value each dimension takes on the training examples. The baselines are PCA with as
//! many components as the code (coefficients quantised the same way) and, for single-channel
//! images, JPEG at the highest quality whose entropy-coded bytes fit in the code's bytes
//! (the headers, the same for every image, are left out in JPEG's favour).

use std::collections::BTreeMap;
use std::io::Cursor;

use burn::prelude::*;
use hourglass_data::Split;
use hourglass_metrics::{Pca, psnr_db};
use hourglass_models::Autoencoder;
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

/// The compression metrics of `model`, its quantiser and the PCA baseline fitted on `fit`
/// (the first [`FIT_EXAMPLES`] training examples), and the quantiser's code ranges;
/// `unit_range` says inputs lie in [0, 1] (baselines' reconstructions are clipped to it, as
/// the model's sigmoid output is).
pub(crate) fn compression(
    model: &Autoencoder,
    fit: &Split,
    test: &Split,
    unit_range: bool,
    device: &Device,
) -> (BTreeMap<&'static str, f64>, CodeRanges) {
    let latent = model.latent();
    let features = test.features();
    let quantizer = Quantizer::fit(&evaluate::codes(model, fit, device), latent);
    let mut codes = evaluate::codes(model, test, device);
    quantizer.round_trip(&mut codes);
    let decoded: Vec<f32> = model
        .decode(batch::tensor(codes, latent, device))
        .into_data()
        .try_to_vec()
        .expect("f32 reconstructions");
    let mut metrics = BTreeMap::from([
        (metric::CODE_BITS, (32 * latent) as f64),
        (metric::COMPRESSION_RATIO, features as f64 / latent as f64),
        (
            metric::QUANTIZED_PSNR_DB,
            psnr_db(mean_squared_error(&test.inputs, &decoded), 1.0),
        ),
        (
            metric::PCA_PSNR_DB,
            pca_psnr_db(fit, test, latent, unit_range),
        ),
    ]);
    if let [channels @ (1 | 3), height, width] = test.shape[..]
        && let Some(jpeg) = jpeg_at_most(test, [channels, height, width], latent as f64)
    {
        metrics.extend([
            (metric::JPEG_PSNR_DB, jpeg.psnr_db),
            (metric::JPEG_BYTES, jpeg.bytes),
            (metric::JPEG_QUALITY, f64::from(jpeg.quality)),
        ]);
    }
    let ranges = CodeRanges {
        low: quantizer.low,
        high: quantizer.high,
    };
    (metrics, ranges)
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
