//! Image quality of reconstructions: peak signal-to-noise ratio and the structural similarity
//! index (SSIM) of grey images.
//!
//! SSIM follows Wang, Bovik, Sheikh and Simoncelli (2004), "Image quality assessment: from
//! error visibility to structural similarity": local means, variances and covariance under a
//! normalised Gaussian window (σ = 1.5, 11 × 11), evaluated only where the window lies inside
//! the image ("valid" positions), with stabilisers C1 = (0.01 L)² and C2 = (0.03 L)² for a
//! dynamic range L = 1. Local statistics are the window-weighted moments of the original
//! paper, without the sample-covariance correction that scikit-image applies by default.

/// Standard deviation of the Gaussian window, in pixels.
const WINDOW_SIGMA: f64 = 1.5;
/// Side of the Gaussian window for images at least this large.
const WINDOW_SIDE: usize = 11;
/// Luminance stabiliser (0.01 L)² for L = 1.
const C1: f64 = 0.01 * 0.01;
/// Contrast-structure stabiliser (0.03 L)² for L = 1.
const C2: f64 = 0.03 * 0.03;

/// Peak signal-to-noise ratio in decibels, `10 · log10(peak² / mse)`.
///
/// `+inf` for a perfect reconstruction (`mse == 0`).
pub fn psnr_db(mse: f64, peak: f64) -> f64 {
    10.0 * (peak * peak / mse).log10()
}

/// Mean SSIM of two grey images of `height × width` pixels, stored row-major with values in
/// [0, 1].
///
/// Images smaller than the 11 × 11 window use the largest odd window that fits,
/// `min(11, height, width)` rounded down to odd.
///
/// # Panics
/// If either buffer does not hold `height × width` values, or the image is empty.
pub fn ssim(a: &[f32], b: &[f32], height: usize, width: usize) -> f64 {
    let pixels = height * width;
    assert!(pixels > 0, "ssim needs a non-empty image");
    assert_eq!(
        a.len(),
        pixels,
        "first image must hold height × width values"
    );
    assert_eq!(
        b.len(),
        pixels,
        "second image must hold height × width values"
    );
    let kernel = gaussian_kernel(window_side(height, width));
    let local = |image: &[f64]| filter_valid(image, height, width, &kernel);

    let a: Vec<f64> = a.iter().map(|&v| f64::from(v)).collect();
    let b: Vec<f64> = b.iter().map(|&v| f64::from(v)).collect();
    let mean_a = local(&a);
    let mean_b = local(&b);
    let mean_aa = local(&products(&a, &a));
    let mean_bb = local(&products(&b, &b));
    let mean_ab = local(&products(&a, &b));

    let total: f64 = (0..mean_a.len())
        .map(|i| {
            let (mu_a, mu_b) = (mean_a[i], mean_b[i]);
            let var_a = mean_aa[i] - mu_a * mu_a;
            let var_b = mean_bb[i] - mu_b * mu_b;
            let cov = mean_ab[i] - mu_a * mu_b;
            ((2.0 * mu_a * mu_b + C1) * (2.0 * cov + C2))
                / ((mu_a * mu_a + mu_b * mu_b + C1) * (var_a + var_b + C2))
        })
        .sum();
    total / mean_a.len() as f64
}

/// Mean of [`ssim`] over the consecutive `height × width` images of two flat buffers.
///
/// # Panics
/// If the buffers differ in length, their length is not a whole number of images, or they
/// hold no image.
pub fn mean_ssim(a: &[f32], b: &[f32], height: usize, width: usize) -> f64 {
    let pixels = height * width;
    assert_eq!(a.len(), b.len(), "image buffers must have the same length");
    assert!(
        pixels > 0 && !a.is_empty() && a.len().is_multiple_of(pixels),
        "image buffers must hold a whole, non-zero number of height × width images"
    );
    let images = a.len() / pixels;
    let total: f64 = a
        .chunks_exact(pixels)
        .zip(b.chunks_exact(pixels))
        .map(|(a, b)| ssim(a, b, height, width))
        .sum();
    total / images as f64
}

/// Side of the Gaussian window: 11, or the largest odd side fitting the image.
fn window_side(height: usize, width: usize) -> usize {
    let side = WINDOW_SIDE.min(height).min(width);
    if side.is_multiple_of(2) {
        side - 1
    } else {
        side
    }
}

/// One-dimensional Gaussian weights of `side` taps, σ = 1.5, summing to one. The 2-D window
/// is their outer product, so it is normalised too.
fn gaussian_kernel(side: usize) -> Vec<f64> {
    let centre = (side / 2) as f64;
    let weights: Vec<f64> = (0..side)
        .map(|i| {
            let offset = i as f64 - centre;
            (-offset * offset / (2.0 * WINDOW_SIGMA * WINDOW_SIGMA)).exp()
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.iter().map(|w| w / sum).collect()
}

/// Element-wise product of two images.
fn products(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(a, b)| a * b).collect()
}

/// Separable filtering of a row-major image with `kernel` along both axes, keeping only the
/// positions where the window lies inside the image.
///
/// Returns `(height − side + 1) × (width − side + 1)` values, row-major.
fn filter_valid(image: &[f64], height: usize, width: usize, kernel: &[f64]) -> Vec<f64> {
    let side = kernel.len();
    let (out_height, out_width) = (height - side + 1, width - side + 1);
    // Along rows: height × out_width.
    let mut rows: Vec<f64> = Vec::with_capacity(height * out_width);
    for y in 0..height {
        let row = &image[y * width..(y + 1) * width];
        for x in 0..out_width {
            rows.push(
                kernel
                    .iter()
                    .zip(&row[x..x + side])
                    .map(|(w, v)| w * v)
                    .sum(),
            );
        }
    }
    // Along columns: out_height × out_width.
    let mut out: Vec<f64> = Vec::with_capacity(out_height * out_width);
    for y in 0..out_height {
        for x in 0..out_width {
            let column = kernel
                .iter()
                .enumerate()
                .map(|(k, w)| w * rows[(y + k) * out_width + x]);
            out.push(column.sum());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const HEIGHT: usize = 16;
    const WIDTH: usize = 20;

    /// A smooth test pattern with mean close to 0.5 and values in [0.1, 0.9].
    fn pattern() -> Vec<f32> {
        (0..HEIGHT * WIDTH)
            .map(|i| {
                let (y, x) = ((i / WIDTH) as f32, (i % WIDTH) as f32);
                0.5 + 0.4 * (0.7 * x).sin() * (0.5 * y).cos()
            })
            .collect()
    }

    #[test]
    fn psnr_of_known_mse() {
        assert!((psnr_db(0.01, 1.0) - 20.0).abs() < 1e-12);
        assert!((psnr_db(1.0, 255.0) - 20.0 * 255f64.log10()).abs() < 1e-12);
        assert_eq!(psnr_db(0.0, 1.0), f64::INFINITY);
    }

    #[test]
    fn gaussian_kernel_is_normalised_and_symmetric() {
        let kernel = gaussian_kernel(11);
        assert!((kernel.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert_eq!(kernel[0], kernel[10]);
        // exp(-25 / 4.5) relative to the centre tap.
        assert!((kernel[0] / kernel[5] - (-25.0f64 / 4.5).exp()).abs() < 1e-15);
    }

    #[test]
    fn window_shrinks_to_an_odd_side_that_fits() {
        assert_eq!(window_side(28, 28), 11);
        assert_eq!(window_side(8, 28), 7);
        assert_eq!(window_side(28, 5), 5);
        assert_eq!(window_side(1, 1), 1);
    }

    #[test]
    fn identical_images_score_one() {
        let image = pattern();
        assert!((ssim(&image, &image, HEIGHT, WIDTH) - 1.0).abs() < 1e-12);
        // Smaller than the window: falls back to a 5 × 5 window.
        let small = &image[..6 * 5];
        assert!((ssim(small, small, 6, 5) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn negated_image_scores_below_zero() {
        let image = pattern();
        let negated: Vec<f32> = image.iter().map(|v| 1.0 - v).collect();
        let score = ssim(&image, &negated, HEIGHT, WIDTH);
        assert!(score < 0.0, "ssim of a negation was {score}");
    }

    #[test]
    fn stronger_noise_lowers_ssim() {
        let image = pattern();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let noise: Vec<f32> = (0..image.len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let scores: Vec<f64> = [0.0, 0.02, 0.05, 0.1, 0.2, 0.4]
            .iter()
            .map(|&amplitude| {
                let noisy: Vec<f32> = image
                    .iter()
                    .zip(&noise)
                    .map(|(v, n)| v + amplitude * n)
                    .collect();
                ssim(&image, &noisy, HEIGHT, WIDTH)
            })
            .collect();
        assert!((scores[0] - 1.0).abs() < 1e-12);
        for pair in scores.windows(2) {
            assert!(
                pair[1] < pair[0],
                "ssim did not fall with noise: {scores:?}"
            );
        }
    }

    #[test]
    fn constant_offset_of_uniform_images_is_luminance_only() {
        // Zero variance everywhere: the contrast-structure term is C2 / C2 = 1.
        let (mu_a, mu_b) = (0.3_f32, 0.5_f32);
        let a = vec![mu_a; HEIGHT * WIDTH];
        let b = vec![mu_b; HEIGHT * WIDTH];
        let (mu_a, mu_b) = (f64::from(mu_a), f64::from(mu_b));
        // C1 = (0.01 L)² with L = 1.
        let expected = (2.0 * mu_a * mu_b + 1e-4) / (mu_a * mu_a + mu_b * mu_b + 1e-4);
        assert!((ssim(&a, &b, HEIGHT, WIDTH) - expected).abs() < 1e-9);
    }

    #[test]
    fn mean_ssim_averages_consecutive_images() {
        let image = pattern();
        let uniform_a = vec![0.3_f32; HEIGHT * WIDTH];
        let uniform_b = vec![0.5_f32; HEIGHT * WIDTH];
        let a = [image.clone(), uniform_a.clone()].concat();
        let b = [image.clone(), uniform_b.clone()].concat();
        let expected = (1.0 + ssim(&uniform_a, &uniform_b, HEIGHT, WIDTH)) / 2.0;
        assert!((mean_ssim(&a, &b, HEIGHT, WIDTH) - expected).abs() < 1e-12);
    }
}
