//! The regularizers added to the reconstruction loss, as functions of tensors so that each
//! can be checked against finite differences on its own.
//!
//! Every penalty returns a `[1]` tensor averaged over the batch's examples (sums over units
//! within an example), so that its weight does not depend on the batch size.

use burn::prelude::*;
use burn::tensor::Distribution;
use hourglass_spec::CodeActivation;

use crate::autoencoder::{Autoencoder, Code};

/// Step of the central differences in the contractive estimator. Encoders are piecewise
/// smooth, so the truncation error is O(ε²) away from ReLU kinks; at 1e-3 the f32 rounding
/// error of a difference (≈ 1e-7 / 2ε ≈ 5e-5 per code unit) stays far below typical Jacobian
/// entries.
const FINITE_DIFFERENCE_STEP: f64 = 1e-3;

/// L1 norm of the code: mean over examples of `Σ_j |h_j|`.
///
/// # Shapes
/// - code: `[batch, latent]`
pub fn activation_l1(code: Tensor<2>) -> Tensor<1> {
    activation_l1_per_example(code).mean()
}

/// [`activation_l1`] of each example.
///
/// # Shapes
/// - code: `[batch, latent]`
/// - output: `[batch]`
pub fn activation_l1_per_example(code: Tensor<2>) -> Tensor<1> {
    code.abs().sum_dim(1).squeeze_dim::<1>(1)
}

/// The KL sparsity penalty of sigmoid codes: `Σ_j KL(ρ ‖ ρ̂_j)` with `ρ̂_j` the batch mean of
/// unit j, `KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1-ρ) log((1-ρ)/(1-ρ̂))`. `ρ̂` is clamped to
/// `[1e-6, 1 - 1e-6]` so a dead or saturated unit gives a large finite penalty.
///
/// # Shapes
/// - code: `[batch, latent]`, values in (0, 1)
pub fn sparsity_kl(code: Tensor<2>, target: f64) -> Tensor<1> {
    let target = Tensor::full([1, 1, 1], target, &code.device());
    sparsity_kl_per_run(code.unsqueeze(), target)
}

/// [`sparsity_kl`] of each run of a pack, with its own target ρ in (0, 1).
///
/// # Shapes
/// - code: `[runs, batch, latent]`
/// - target: `[runs, 1, 1]`
/// - output: `[runs]`
pub fn sparsity_kl_per_run(code: Tensor<3>, target: Tensor<3>) -> Tensor<1> {
    let [runs, _, _] = code.dims();
    let mean = code.mean_dim(1).clamp(1e-6, 1.0 - 1e-6); // [runs, 1, latent]
    let off_target = target.clone().neg() + 1.0; // 1 - ρ, [runs, 1, 1]
    let positive = (mean.clone().recip() * target.clone()).log() * target; // [runs, 1, latent]
    let negative = ((mean.neg() + 1.0).recip() * off_target.clone()).log() * off_target;
    (positive + negative).sum_dim(2).reshape([runs])
}

/// KL divergence of the Gaussian posterior N(μ, σ²) from the prior N(0, I), in nats: mean over
/// examples of `-½ Σ_j (1 + log σ²_j - μ²_j - σ²_j)`.
///
/// # Shapes
/// - mean, log_var: `[batch, latent]`
pub fn gaussian_kl(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    gaussian_kl_per_example(mean, log_var).mean()
}

/// [`gaussian_kl`] of each example.
///
/// # Shapes
/// - mean, log_var: `[batch, latent]`
/// - output: `[batch]`
pub fn gaussian_kl_per_example(mean: Tensor<2>, log_var: Tensor<2>) -> Tensor<1> {
    let terms = log_var.clone() + 1.0 - mean.square() - log_var.exp(); // [batch, latent]
    terms.sum_dim(1).squeeze_dim::<1>(1) * -0.5
}

/// L1 norm of weight matrices: `Σ |W|` over every element of every matrix.
pub fn weight_l1(weights: impl IntoIterator<Item = Tensor<2>>) -> Option<Tensor<1>> {
    weights
        .into_iter()
        .map(|w| w.abs().sum())
        .reduce(|a, b| a + b)
}

/// [`weight_l1`] of each run of a pack.
///
/// # Shapes
/// - each weight: `[runs, input, output]`
/// - output: `[runs]`
pub fn weight_l1_per_run(weights: impl IntoIterator<Item = Tensor<3>>) -> Option<Tensor<1>> {
    weights
        .into_iter()
        .map(|w| {
            let [runs, _, _] = w.dims();
            w.abs().sum_dim(2).sum_dim(1).reshape([runs])
        })
        .reduce(|a, b| a + b)
}

/// Exact squared Frobenius norm of the Jacobian of a one-layer encoder `h = s(x W + b)`,
/// averaged over examples: `Σ_j s'(a_j)² Σ_i W_ij²`, since `∂h_j/∂x_i = s'(a_j) W_ij`.
///
/// # Shapes
/// - weight: `[input, latent]` (burn's layout)
/// - pre_activation (a = x W + b), code (h = s(a)): `[batch, latent]`
pub fn contractive_exact(
    weight: Tensor<2>,
    pre_activation: Tensor<2>,
    code: Tensor<2>,
    code_activation: CodeActivation,
) -> Tensor<1> {
    let [batch, _] = code.dims();
    let slope = match code_activation {
        CodeActivation::Identity => code.ones_like(),
        CodeActivation::Sigmoid => code.clone() * (code.neg() + 1.0),
        CodeActivation::Tanh => code.square().neg() + 1.0,
        CodeActivation::Relu => pre_activation.greater_elem(0.0).float(),
    }; // [batch, latent]
    let column_norms = weight.square().sum_dim(0); // [1, latent]
    (slope.square() * column_norms).sum() / batch as f64
}

/// Unbiased estimate of the squared Frobenius norm of the Jacobian of `encode` at `input`,
/// averaged over examples, from the given projections: `‖J‖²_F = E_v ‖J v‖²` for any `v` with
/// `E[v vᵀ] = I`, and `J v ≈ (f(x + εv) - f(x - εv)) / 2ε`.
///
/// `projections` holds K directions per example, example-major (`[K · batch, input]`, rows
/// `k · batch + i`). Cost: two encoder passes over K · batch rows, with their backward pass
/// when trained. Variance: with Rademacher directions (±1), one projection has variance
/// `2 Σ_{i≠k} (JᵀJ)²_ik ≤ 2 ‖J‖⁴_F` per example, so the relative standard deviation of the
/// estimate is at most `√(2 / K)` per example, and falls further with the batch average.
///
/// # Shapes
/// - input: `[batch, input]`
/// - projections: `[K · batch, input]`
pub fn contractive_estimate(
    encode: impl Fn(Tensor<2>) -> Tensor<2>,
    input: Tensor<2>,
    projections: Tensor<2>,
) -> Tensor<1> {
    let [batch, _] = input.dims();
    let [rows, _] = projections.dims();
    let repeated = input.repeat_dim(0, rows / batch); // [K · batch, input]
    let step = projections * FINITE_DIFFERENCE_STEP;
    let ahead = encode(repeated.clone() + step.clone()); // [K · batch, latent]
    let behind = encode(repeated - step); // [K · batch, latent]
    let jv = (ahead - behind) / (2.0 * FINITE_DIFFERENCE_STEP); // [K · batch, latent]
    jv.square().sum() / rows as f64
}

/// K Rademacher directions (±1 with equal odds) per example, from burn's seeded generator.
///
/// # Shapes
/// - output: `[K · batch, input]`
pub fn rademacher(count: usize, features: usize, device: &Device) -> Tensor<2> {
    Tensor::<2>::random([count, features], Distribution::Bernoulli(0.5), device) * 2.0 - 1.0
}

/// Mean squared Frobenius norm of `model`'s encoder Jacobian (of the code, or a VAE's μ) at
/// `input`, whose encoding `code()` gives: exact for a one-layer encoder (from the code, no
/// further pass), else estimated, without the code, from the random directions that
/// `directions(batch)` draws (`[K · batch, input]`, as [`contractive_estimate`] takes them);
/// the caller picks K and the generator.
///
/// # Shapes
/// - input: `[batch, input]`
pub fn jacobian_penalty(
    model: &Autoencoder,
    input: Tensor<2>,
    code: impl FnOnce() -> Code,
    directions: impl FnOnce(usize) -> Tensor<2>,
) -> Tensor<1> {
    match model.single_layer_encoder() {
        Some(layer) => {
            let code = code();
            let weight = layer.weight.val();
            let weight = if model.is_variational() {
                weight.narrow(1, 0, model.latent())
            } else {
                weight
            };
            contractive_exact(
                weight,
                code.pre_activation,
                code.mean,
                model.code_activation(),
            )
        }
        None => {
            let [batch, _] = input.dims();
            contractive_estimate(|x| model.encode(x).mean, input, directions(batch))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoencoder::activate_code;
    use crate::tests::RNG;

    fn scalar(tensor: Tensor<1>) -> f64 {
        f64::from(tensor.into_scalar::<f32>())
    }

    /// Compares the autodiff gradient of `f` at `x` with central differences, element by
    /// element, within `tolerance` relative to the gradient's largest entry.
    fn assert_gradient_matches(f: impl Fn(Tensor<2>) -> Tensor<1>, x: Tensor<2>, tolerance: f64) {
        let device = x.device();
        let autodiff = device.clone().autodiff();
        let leaf = Tensor::<2>::from_data(x.to_data(), &autodiff).require_grad();
        let grads = f(leaf.clone()).backward();
        let analytic: Vec<f32> = leaf.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        let base: Vec<f32> = x.to_data().try_to_vec().unwrap();
        let dims = x.dims();
        let h = 1e-2f32;
        let at = |values: Vec<f32>| values_of(&f, values, dims, &device);
        let scale = analytic
            .iter()
            .fold(1e-3f64, |m, g| m.max(f64::from(g.abs())));
        for (i, &g) in analytic.iter().enumerate() {
            let mut plus = base.clone();
            plus[i] += h;
            let mut minus = base.clone();
            minus[i] -= h;
            let numeric = (at(plus) - at(minus)) / (2.0 * f64::from(h));
            assert!(
                (numeric - f64::from(g)).abs() <= tolerance * scale,
                "element {i}: autodiff {g}, finite differences {numeric}"
            );
        }
    }

    fn values_of(
        f: &impl Fn(Tensor<2>) -> Tensor<1>,
        values: Vec<f32>,
        dims: [usize; 2],
        device: &Device,
    ) -> f64 {
        let x = Tensor::<2>::from_data(burn::tensor::TensorData::new(values, dims), device);
        scalar(f(x))
    }

    fn random(dims: [usize; 2], low: f64, high: f64, device: &Device) -> Tensor<2> {
        Tensor::random(dims, Distribution::Uniform(low, high), device)
    }

    #[test]
    fn activation_l1_gradient_matches_finite_differences() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(10);
        assert_gradient_matches(activation_l1, random([3, 4], -1.0, 1.0, &device), 1e-2);
    }

    #[test]
    fn sparsity_kl_is_zero_at_the_target_and_its_gradient_matches() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(11);
        let at_target = Tensor::<2>::full([5, 3], 0.05, &device);
        assert!(scalar(sparsity_kl(at_target, 0.05)).abs() < 1e-6);
        // ρ̂ = 0.5 for a target of 0.05: KL = 0.05 ln 0.1 + 0.95 ln 1.9 per unit.
        let half = Tensor::<2>::full([2, 3], 0.5, &device);
        let expected = 3.0 * (0.05 * 0.1f64.ln() + 0.95 * 1.9f64.ln());
        assert!((scalar(sparsity_kl(half, 0.05)) - expected).abs() < 1e-4);
        let codes = random([6, 3], 0.1, 0.9, &device);
        assert_gradient_matches(|c| sparsity_kl(c, 0.05), codes, 1e-2);
    }

    #[test]
    fn gaussian_kl_matches_the_closed_form_and_its_gradient_matches() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(12);
        // μ = 1, σ² = e: KL = ½ (μ² + σ² - 1 - log σ²) = ½ (1 + e - 2) per unit.
        let mean = Tensor::<2>::ones([2, 3], &device);
        let log_var = Tensor::<2>::ones([2, 3], &device);
        let expected = 3.0 * 0.5 * (std::f64::consts::E - 1.0);
        assert!((scalar(gaussian_kl(mean, log_var.clone())) - expected).abs() < 1e-4);
        let means = random([3, 4], -1.0, 1.0, &device);
        let log_vars = random([3, 4], -1.0, 1.0, &device);
        assert_gradient_matches(|m| gaussian_kl(m, log_vars.clone()), means.clone(), 1e-2);
        assert_gradient_matches(|l| gaussian_kl(means.clone(), l), log_vars, 1e-2);
    }

    #[test]
    fn weight_l1_gradient_matches_finite_differences() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(13);
        let weights = random([4, 3], -1.0, 1.0, &device);
        assert_gradient_matches(|w| weight_l1([w]).unwrap(), weights, 1e-2);
    }

    /// A one-layer encoder `s(x W + b)` with its pieces.
    struct OneLayer {
        input: Tensor<2>,
        weight: Tensor<2>,
        bias: Tensor<2>,
    }

    impl OneLayer {
        fn new(device: &Device) -> Self {
            Self {
                input: random([4, 5], 0.0, 1.0, device),
                weight: random([5, 3], -1.0, 1.0, device),
                bias: random([1, 3], -0.5, 0.5, device),
            }
        }

        fn pre_activation(&self, input: Tensor<2>, weight: Tensor<2>) -> Tensor<2> {
            input.matmul(weight) + self.bias.clone()
        }

        fn penalty(&self, weight: Tensor<2>, code_activation: CodeActivation) -> Tensor<1> {
            let a = self.pre_activation(self.input.clone(), weight.clone());
            let h = activate_code(code_activation, a.clone());
            contractive_exact(weight, a, h, code_activation)
        }

        /// Mean over examples of `Σ (∂h_j/∂x_i)²`, each entry by central differences in f64.
        fn finite_difference_norm(&self, code_activation: CodeActivation) -> f64 {
            let x: Vec<f32> = self.input.to_data().try_to_vec().unwrap();
            let w: Vec<f32> = self.weight.to_data().try_to_vec().unwrap();
            let b: Vec<f32> = self.bias.to_data().try_to_vec().unwrap();
            let s = |a: f64| match code_activation {
                CodeActivation::Sigmoid => 1.0 / (1.0 + (-a).exp()),
                CodeActivation::Tanh => a.tanh(),
                CodeActivation::Relu => a.max(0.0),
                CodeActivation::Identity => a,
            };
            let code = |x: &[f64], j: usize| {
                s((0..5).map(|i| x[i] * f64::from(w[i * 3 + j])).sum::<f64>() + f64::from(b[j]))
            };
            let h = 1e-5;
            let mut total = 0.0;
            for example in 0..4 {
                let row: Vec<f64> = x[example * 5..][..5]
                    .iter()
                    .map(|&v| f64::from(v))
                    .collect();
                for i in 0..5 {
                    let (mut plus, mut minus) = (row.clone(), row.clone());
                    plus[i] += h;
                    minus[i] -= h;
                    for j in 0..3 {
                        total += ((code(&plus, j) - code(&minus, j)) / (2.0 * h)).powi(2);
                    }
                }
            }
            total / 4.0
        }
    }

    #[test]
    fn exact_contractive_penalty_agrees_with_a_finite_difference_jacobian() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(14);
        let layer = OneLayer::new(&device);
        for code_activation in [
            CodeActivation::Sigmoid,
            CodeActivation::Tanh,
            CodeActivation::Identity,
        ] {
            let exact = scalar(layer.penalty(layer.weight.clone(), code_activation));
            let numeric = layer.finite_difference_norm(code_activation);
            assert!(
                (exact - numeric).abs() <= 0.01 * numeric,
                "{code_activation:?}: closed form {exact}, finite differences {numeric}"
            );
        }
    }

    #[test]
    fn exact_contractive_gradient_matches_finite_differences() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(15);
        let layer = OneLayer::new(&device);
        for code_activation in [CodeActivation::Sigmoid, CodeActivation::Tanh] {
            assert_gradient_matches(
                |w| layer.penalty(w, code_activation),
                layer.weight.clone(),
                2e-2,
            );
        }
    }

    #[test]
    fn the_estimator_is_unbiased_and_its_gradient_matches() {
        let _rng = RNG.lock().unwrap();
        let device = Device::flex();
        device.seed(16);
        let layer = OneLayer::new(&device);
        let encode = |weight: Tensor<2>| {
            let layer = &layer;
            move |x: Tensor<2>| {
                activate_code(
                    CodeActivation::Sigmoid,
                    layer.pre_activation(x, weight.clone()),
                )
            }
        };
        let exact = scalar(layer.penalty(layer.weight.clone(), CodeActivation::Sigmoid));
        let many = rademacher(4000 * 4, 5, &device);
        let estimate = scalar(contractive_estimate(
            encode(layer.weight.clone()),
            layer.input.clone(),
            many,
        ));
        assert!(
            (estimate - exact).abs() <= 0.03 * exact,
            "estimate {estimate} with 4000 projections, exact {exact}"
        );
        let few = rademacher(2 * 4, 5, &device);
        assert_gradient_matches(
            |w| contractive_estimate(encode(w), layer.input.clone(), few.clone()),
            layer.weight.clone(),
            2e-2,
        );
    }
}
