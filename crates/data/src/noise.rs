//! Input corruptions of denoising autoencoders: gaussian, masking and salt-and-pepper noise,
//! drawn from a seeded ChaCha8 stream so that a run's corruption is reproducible; and the
//! binarisation of grey levels (`data.binarize`).

use hourglass_spec::{NoiseKind, NoiseSection};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A corruption of inputs, as `[noise]` describes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corruption {
    kind: NoiseKind,
    level: f32,
}

impl Corruption {
    /// The corruption of a spec's `[noise]` section.
    pub fn new(noise: &NoiseSection) -> Self {
        Self {
            kind: noise.kind,
            level: noise.level as f32,
        }
    }

    /// Corrupts `inputs` in place with draws from `rng`.
    ///
    /// Gaussian noise is not clipped, so it has exactly the configured σ; masking sets a
    /// `level` fraction of inputs (in expectation) to 0, salt-and-pepper to 0 or 1.
    pub fn apply(&self, inputs: &mut [f32], rng: &mut impl Rng) {
        match self.kind {
            NoiseKind::Gaussian => {
                let noise = standard_normals(inputs.len(), rng);
                for (value, noise) in inputs.iter_mut().zip(noise) {
                    *value += self.level * noise;
                }
            }
            NoiseKind::Masking => {
                for value in inputs {
                    if rng.random::<f32>() < self.level {
                        *value = 0.0;
                    }
                }
            }
            NoiseKind::SaltAndPepper => {
                for value in inputs {
                    if rng.random::<f32>() < self.level {
                        *value = if rng.random::<bool>() { 1.0 } else { 0.0 };
                    }
                }
            }
        }
    }

    /// A corrupted copy of `inputs`, drawn from a stream seeded with `seed`.
    pub fn applied(&self, inputs: &[f32], seed: u64) -> Vec<f32> {
        let mut corrupted = inputs.to_vec();
        self.apply(&mut corrupted, &mut ChaCha8Rng::seed_from_u64(seed));
        corrupted
    }
}

/// Replaces each grey level `v` by 1 with probability `v`, else 0 (a value outside [0, 1]
/// clamps: 1 above, 0 below), drawing one uniform number per value from `rng`.
pub fn binarize(values: &mut [f32], rng: &mut impl Rng) {
    for value in values {
        *value = f32::from(u8::from(rng.random::<f32>() < *value));
    }
}

/// The seed of static binarisation: one for every run, so that every sweep trains and tests
/// on the same binary images.
pub const STATIC_BINARIZATION_SEED: u64 = 0x0062_696e_6172_797a;

/// [`binarize`] with the stream of [`STATIC_BINARIZATION_SEED`], the stream number telling
/// the splits apart.
pub fn binarize_static(values: &mut [f32], stream: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(STATIC_BINARIZATION_SEED);
    rng.set_stream(stream);
    binarize(values, &mut rng);
}

/// `count` independent N(0, 1) draws from `rng`.
pub fn standard_normals(count: usize, rng: &mut impl Rng) -> Vec<f32> {
    let mut values = Vec::with_capacity(count + 1);
    while values.len() < count {
        let (a, b) = standard_normal_pair(rng);
        values.extend([a, b]);
    }
    values.truncate(count);
    values
}

/// Two independent N(0, 1) draws by the Box–Muller transform (rand 0.9 has no normal
/// distribution of its own, and `rand_distr` for it would pull a second rand).
fn standard_normal_pair(rng: &mut impl Rng) -> (f32, f32) {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let radius = (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt();
    let angle = std::f64::consts::TAU * rng.random::<f64>();
    ((radius * angle.cos()) as f32, (radius * angle.sin()) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binarisation_draws_each_pixel_with_its_grey_level_as_probability() {
        let mut values = vec![0.0_f32; 30_000];
        for (i, v) in values.iter_mut().enumerate() {
            *v = [0.0, 0.25, 1.0][i % 3];
        }
        let grey = values.clone();
        binarize_static(&mut values, 0);
        assert!(values.iter().all(|&v| v == 0.0 || v == 1.0));
        let ones = |level: f32| {
            let drawn: Vec<f32> = (values.iter().zip(&grey))
                .filter(|(_, g)| **g == level)
                .map(|(v, _)| *v)
                .collect();
            drawn.iter().sum::<f32>() / drawn.len() as f32
        };
        assert_eq!((ones(0.0), ones(1.0)), (0.0, 1.0));
        assert!((ones(0.25) - 0.25).abs() < 0.015, "{}", ones(0.25));
        // Static: the same stream draws the same image; another stream, another one.
        let mut again = grey.clone();
        binarize_static(&mut again, 0);
        assert_eq!(again, values);
        let mut other = grey.clone();
        binarize_static(&mut other, 1);
        assert_ne!(other, values);
    }

    fn corruption(kind: NoiseKind, level: f64) -> Corruption {
        Corruption::new(&NoiseSection { kind, level })
    }

    #[test]
    fn gaussian_noise_has_the_configured_mean_and_deviation() {
        let clean = vec![0.5f32; 100_001];
        let noisy = corruption(NoiseKind::Gaussian, 0.3).applied(&clean, 1);
        let n = noisy.len() as f64;
        let mean = noisy.iter().map(|&v| f64::from(v) - 0.5).sum::<f64>() / n;
        let variance = noisy
            .iter()
            .map(|&v| (f64::from(v) - 0.5 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!(
            (variance.sqrt() - 0.3).abs() < 0.005,
            "σ {}",
            variance.sqrt()
        );
    }

    #[test]
    fn masking_zeroes_the_configured_fraction_and_leaves_the_rest() {
        let clean = vec![0.7f32; 100_000];
        let noisy = corruption(NoiseKind::Masking, 0.25).applied(&clean, 2);
        let zeroed = noisy.iter().filter(|&&v| v == 0.0).count() as f64 / 1e5;
        assert!((zeroed - 0.25).abs() < 0.01, "{zeroed}");
        assert!(noisy.iter().all(|&v| v == 0.0 || v == 0.7));
    }

    #[test]
    fn salt_and_pepper_sets_half_of_the_hits_to_each_extreme() {
        let clean = vec![0.5f32; 100_000];
        let noisy = corruption(NoiseKind::SaltAndPepper, 0.2).applied(&clean, 3);
        let salt = noisy.iter().filter(|&&v| v == 1.0).count() as f64 / 1e5;
        let pepper = noisy.iter().filter(|&&v| v == 0.0).count() as f64 / 1e5;
        assert!((salt - 0.1).abs() < 0.01 && (pepper - 0.1).abs() < 0.01);
        assert_eq!(
            salt + pepper + noisy.iter().filter(|&&v| v == 0.5).count() as f64 / 1e5,
            1.0
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_corruption() {
        let clean: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let noise = corruption(NoiseKind::Gaussian, 0.1);
        assert_eq!(noise.applied(&clean, 9), noise.applied(&clean, 9));
        assert_ne!(noise.applied(&clean, 9), noise.applied(&clean, 10));
    }
}
