//! The optimizer of every run of a pack: each run's Adam or SGD with its own learning rate,
//! weight decay and momentum, computed as burn's `Adam` and `Sgd` compute them for one run
//! (see `optimizer.rs` for the settings), on the packed parameters.
//!
//! On a CPU the update is one fused pass over each parameter, its gradient and its moments,
//! split over the thread pool: done as a dozen tensor operations, each reading and writing
//! the whole pack's parameters (27 MB for 16 MNIST MLPs, more than the caches hold) on one
//! core, it took about as long as the batched matrix products of the step. On a GPU the
//! same formulas run as tensor operations, where the data stays.

use burn::prelude::*;
use burn::tensor::{Gradients, TensorData};
use hourglass_models::PackedAutoencoder;
use hourglass_spec::{Optimizer, RunConfig};
use rayon::prelude::*;

use crate::host_memory;

/// Adam's settings (burn's defaults but ε, which follows PyTorch's as `optimizer.rs` does).
const ADAM_BETA_1: f32 = 0.9;
const ADAM_BETA_2: f32 = 0.999;
const ADAM_EPSILON: f32 = 1e-8;

/// Elements per task of the fused update: large enough to amortise scheduling, small enough
/// to spread one run's layer over the threads.
const BLOCK: usize = 16 * 1024;

/// What one run's optimizer is set to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunSettings {
    learning_rate: f32,
    /// The coupled L2 penalty; 0 for none.
    weight_decay: f32,
    /// SGD's momentum; 0 for none.
    momentum: f32,
}

/// Adam's step-dependent factors at one step.
#[derive(Debug, Clone, Copy)]
struct AdamStep {
    /// `√(1 − β₂ᵗ) / (1 − β₁ᵗ)`, applied to the first moment.
    factor: f32,
    /// `ε √(1 − β₂ᵗ)`, added to the square root of the second moment.
    epsilon: f32,
}

impl AdamStep {
    fn at(time: i32) -> Self {
        let bias_correction_2 = (1.0 - ADAM_BETA_2.powi(time)).sqrt();
        Self {
            factor: bias_correction_2 / (1.0 - ADAM_BETA_1.powi(time)),
            epsilon: ADAM_EPSILON * bias_correction_2,
        }
    }
}

/// Where the optimizer's state lives and how the update runs.
enum State {
    /// On the host, updated by fused loops ([`host_step`]): per parameter, per moment,
    /// `[runs · size]` values in the parameter's layout.
    Host(Vec<Vec<Vec<f32>>>),
    /// On the device, updated by tensor operations.
    Device(DeviceState),
}

/// The state of the tensor path.
struct DeviceState {
    /// Per run, `[runs, 1, 1]`.
    learning_rate: Tensor<3>,
    weight_decay: Tensor<3>,
    momentum: Tensor<3>,
    /// Per parameter, per moment.
    moments: Vec<Vec<Tensor<3>>>,
}

/// The optimizer of the runs of a pack, in pack order.
pub(crate) struct PackedOptimizer {
    kind: Optimizer,
    runs: Vec<RunSettings>,
    /// Whether some run decays its weights (the others decay with weight 0).
    decays: bool,
    state: State,
    /// Steps taken.
    time: i32,
}

impl RunSettings {
    pub(crate) fn of(config: &RunConfig) -> Self {
        Self {
            learning_rate: config.train.learning_rate as f32,
            weight_decay: config.regularizers.weight_decay as f32,
            momentum: config.train.momentum.unwrap_or(0.0) as f32,
        }
    }
}

impl PackedOptimizer {
    /// The `kind` optimizer of runs set to `runs` for `model`, its state on the host when
    /// `on_host`, else on `device` (the training device's inner one).
    pub(crate) fn new(
        kind: Optimizer,
        runs: Vec<RunSettings>,
        model: &PackedAutoencoder,
        device: &Device,
        on_host: bool,
    ) -> Self {
        let moment_count = match kind {
            Optimizer::Adam => 2,
            Optimizer::Sgd => 1,
        };
        let parameters = model.parameters();
        // Zeros: a first update from zeros equals burn's first update without state.
        let state = if on_host {
            State::Host(
                parameters
                    .iter()
                    .map(|p| vec![vec![0.0; p.shape().num_elements()]; moment_count])
                    .collect(),
            )
        } else {
            State::Device(DeviceState::new(&runs, &parameters, moment_count, device))
        };
        Self {
            kind,
            decays: runs.iter().any(|run| run.weight_decay > 0.0),
            runs,
            state,
            time: 0,
        }
    }

    /// Moves `model` one step along the gradients in `grads`.
    pub(crate) fn step(&mut self, model: &mut PackedAutoencoder, grads: &Gradients) {
        self.time += 1;
        let adam = AdamStep::at(self.time);
        let (kind, decays) = (self.kind, self.decays);
        model.update_parameters(|index, parameter| {
            let grad = parameter
                .grad(grads)
                .expect("every parameter is in the loss");
            let value = parameter.inner();
            let updated = match &mut self.state {
                State::Host(moments) => {
                    let moments = &mut moments[index];
                    host_step(kind, &self.runs, decays, adam, value, grad, moments)
                }
                State::Device(state) => state.step(kind, decays, adam, index, value, grad),
            };
            updated.autodiff().require_grad()
        })
    }

    /// Steps taken.
    pub(crate) fn time(&self) -> i32 {
        self.time
    }

    /// The moments of run `run`: per parameter, per moment, its values in the parameter's
    /// layout.
    pub(crate) fn moments_of(&self, run: usize) -> Vec<Vec<Vec<f32>>> {
        let runs = self.runs.len();
        let of_run = |values: &[f32]| {
            let size = values.len() / runs;
            values[run * size..(run + 1) * size].to_vec()
        };
        match &self.state {
            State::Host(moments) => moments
                .iter()
                .map(|moments| moments.iter().map(|m| of_run(m)).collect())
                .collect(),
            State::Device(state) => state
                .moments
                .iter()
                .map(|moments| {
                    moments
                        .iter()
                        .map(|m| {
                            let values = m.clone().into_data().try_to_vec::<f32>();
                            of_run(&values.expect("f32 moments"))
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// Takes up the state of runs resumed after `time` steps: `moments[run]` as
    /// [`Self::moments_of`] gives it, for every run in pack order; refused when their shapes
    /// are not this optimizer's.
    pub(crate) fn restore(
        &mut self,
        time: i32,
        moments: &[Vec<Vec<Vec<f32>>>],
    ) -> Result<(), String> {
        let runs = self.runs.len();
        let sizes = |of_run: &[Vec<Vec<f32>>]| -> Vec<Vec<usize>> {
            let of_parameter = |moments: &Vec<Vec<f32>>| moments.iter().map(Vec::len).collect();
            of_run.iter().map(of_parameter).collect()
        };
        let shapes = sizes(&self.moments_of(0));
        for run in moments {
            let shape = sizes(run);
            if shape != shapes {
                return Err(format!(
                    "its optimizer moments have {shape:?} values, the model needs {shapes:?}"
                ));
            }
        }
        if moments.len() != runs {
            return Err(format!("{} runs' moments for {runs} runs", moments.len()));
        }
        let joined = |parameter: usize, moment: usize| -> Vec<f32> {
            moments
                .iter()
                .flat_map(|run| run[parameter][moment].iter().copied())
                .collect()
        };
        match &mut self.state {
            State::Host(state) => {
                for (parameter, of_parameter) in state.iter_mut().enumerate() {
                    for (moment, values) in of_parameter.iter_mut().enumerate() {
                        *values = joined(parameter, moment);
                    }
                }
            }
            State::Device(state) => {
                for (parameter, of_parameter) in state.moments.iter_mut().enumerate() {
                    for (moment, tensor) in of_parameter.iter_mut().enumerate() {
                        let data = TensorData::new(joined(parameter, moment), tensor.shape());
                        *tensor = Tensor::from_data(data, &tensor.device());
                    }
                }
            }
        }
        self.time = time;
        Ok(())
    }

    /// Keeps the state of the runs at `positions` (ascending) only.
    pub(crate) fn select(&mut self, positions: &[usize]) {
        let runs = self.runs.len();
        self.runs = positions.iter().map(|&i| self.runs[i]).collect();
        match &mut self.state {
            State::Host(moments) => {
                for moment in moments.iter_mut().flatten() {
                    let size = moment.len() / runs;
                    *moment = positions
                        .iter()
                        .flat_map(|&i| moment[i * size..(i + 1) * size].iter().copied())
                        .collect();
                }
            }
            State::Device(state) => state.select(positions),
        }
    }
}

impl DeviceState {
    fn new(
        runs: &[RunSettings],
        parameters: &[Tensor<3>],
        moment_count: usize,
        device: &Device,
    ) -> Self {
        let per_run = |value: fn(&RunSettings) -> f32| {
            let values: Vec<f32> = runs.iter().map(value).collect();
            Tensor::<3>::from_data(TensorData::new(values, [runs.len(), 1, 1]), device)
        };
        Self {
            learning_rate: per_run(|run| run.learning_rate),
            weight_decay: per_run(|run| run.weight_decay),
            momentum: per_run(|run| run.momentum),
            moments: parameters
                .iter()
                .map(|p| vec![Tensor::<3>::zeros(p.dims(), device); moment_count])
                .collect(),
        }
    }

    /// Parameter `index`'s update by tensor operations: its new value.
    fn step(
        &mut self,
        kind: Optimizer,
        decays: bool,
        adam: AdamStep,
        index: usize,
        value: Tensor<3>,
        grad: Tensor<3>,
    ) -> Tensor<3> {
        let grad = if decays {
            value.clone() * self.weight_decay.clone() + grad
        } else {
            grad
        };
        let direction = match (kind, &mut self.moments[index][..]) {
            (Optimizer::Adam, [first, second]) => {
                *first = first.clone().mul_scalar(ADAM_BETA_1)
                    + grad.clone().mul_scalar(1.0 - ADAM_BETA_1);
                *second = second.clone().mul_scalar(ADAM_BETA_2)
                    + grad.square().mul_scalar(1.0 - ADAM_BETA_2);
                first.clone().mul_scalar(adam.factor)
                    / (second.clone().sqrt().add_scalar(adam.epsilon))
            }
            (Optimizer::Sgd, [velocity]) => {
                // burn's SGD without dampening: the first velocity is the gradient.
                *velocity = grad + velocity.clone() * self.momentum.clone();
                velocity.clone()
            }
            _ => unreachable!("the state holds what the optimizer keeps"),
        };
        value - direction * self.learning_rate.clone()
    }

    fn select(&mut self, positions: &[usize]) {
        let indices: Vec<i64> = positions.iter().map(|&i| i as i64).collect();
        let device = self.learning_rate.device();
        let indices =
            Tensor::<1, Int>::from_data(TensorData::new(indices, [positions.len()]), &device);
        let per_run = [
            &mut self.learning_rate,
            &mut self.weight_decay,
            &mut self.momentum,
        ];
        for tensor in per_run.into_iter().chain(self.moments.iter_mut().flatten()) {
            *tensor = tensor.clone().select(0, indices.clone());
        }
    }
}

/// One parameter's update on the host, in place where the backend allows (see
/// `host_memory.rs`): the formulas of the tensor path, element by element, in one pass, runs
/// and blocks spread over the thread pool.
fn host_step(
    kind: Optimizer,
    runs: &[RunSettings],
    decays: bool,
    adam: AdamStep,
    value: Tensor<3>,
    grad: Tensor<3>,
    moments: &mut [Vec<f32>],
) -> Tensor<3> {
    host_memory::update_values(value, grad, |values, grads| {
        fused_update(kind, runs, decays, adam, values, grads, moments);
    })
}

/// [`host_step`] on the parameter's values and gradient.
fn fused_update(
    kind: Optimizer,
    runs: &[RunSettings],
    decays: bool,
    adam: AdamStep,
    values: &mut [f32],
    grads: &[f32],
    moments: &mut [Vec<f32>],
) {
    let size = values.len() / runs.len();
    let per_run = values.par_chunks_mut(size).zip(grads.par_chunks(size));
    match (kind, moments) {
        (Optimizer::Adam, [first, second]) => per_run
            .zip(first.par_chunks_mut(size))
            .zip(second.par_chunks_mut(size))
            .zip(runs)
            .for_each(|((((values, grads), first), second), run)| {
                let blocks = values
                    .par_chunks_mut(BLOCK)
                    .zip(grads.par_chunks(BLOCK))
                    .zip(first.par_chunks_mut(BLOCK))
                    .zip(second.par_chunks_mut(BLOCK));
                blocks.for_each(|(((values, grads), first), second)| {
                    let moments = first.iter_mut().zip(second.iter_mut());
                    for ((value, &grad), (first, second)) in
                        values.iter_mut().zip(grads).zip(moments)
                    {
                        let grad = decayed(grad, *value, decays, run);
                        *first = *first * ADAM_BETA_1 + grad * (1.0 - ADAM_BETA_1);
                        *second = *second * ADAM_BETA_2 + grad * grad * (1.0 - ADAM_BETA_2);
                        let direction = *first * adam.factor / (second.sqrt() + adam.epsilon);
                        *value -= direction * run.learning_rate;
                    }
                });
            }),
        (Optimizer::Sgd, [velocity]) => per_run
            .zip(velocity.par_chunks_mut(size))
            .zip(runs)
            .for_each(|(((values, grads), velocity), run)| {
                let blocks = values
                    .par_chunks_mut(BLOCK)
                    .zip(grads.par_chunks(BLOCK))
                    .zip(velocity.par_chunks_mut(BLOCK));
                blocks.for_each(|((values, grads), velocity)| {
                    for ((value, &grad), velocity) in
                        values.iter_mut().zip(grads).zip(velocity.iter_mut())
                    {
                        let grad = decayed(grad, *value, decays, run);
                        *velocity = grad + *velocity * run.momentum;
                        *value -= *velocity * run.learning_rate;
                    }
                });
            }),
        _ => unreachable!("the state holds what the optimizer keeps"),
    }
}

/// The gradient with the coupled L2 penalty added, as the tensor path adds it: to every run
/// once some run decays.
fn decayed(grad: f32, value: f32, decays: bool, run: &RunSettings) -> f32 {
    if decays {
        value * run.weight_decay + grad
    } else {
        grad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host_memory::host_values;
    use hourglass_models::AutoencoderConfig;
    use hourglass_spec::{Activation, CodeActivation, OutputActivation};

    /// The gradients of `Σₚ Σ cₜ(p) ⊙ p` over the parameters `p` of `model`: a loss linear in
    /// the parameters, whose gradient is the coefficients `cₜ` (signs and magnitudes that vary
    /// with the element and the step `t`), whatever the parameters' values.
    fn linear_loss_gradients(model: &PackedAutoencoder, step: usize) -> Gradients {
        let terms = model
            .parameters()
            .into_iter()
            .enumerate()
            .map(|(index, p)| {
                let count = p.shape().num_elements();
                let coefficients: Vec<f32> = (0..count)
                    .map(|i| {
                        let draw = (i * 7919 + index * 613 + step * 104_729) % 2001;
                        let decade = [0.01, 1.0, 100.0][(i + step) % 3];
                        (draw as f32 / 1000.0 - 1.0) * decade
                    })
                    .collect();
                let coefficients = TensorData::new(coefficients, p.dims());
                (p.clone() * Tensor::<3>::from_data(coefficients, &p.device())).sum()
            });
        terms.reduce(|a, b| a + b).unwrap().backward()
    }

    fn values(model: &PackedAutoencoder) -> Vec<f32> {
        let parameters = model.parameters().into_iter();
        parameters.flat_map(host_values).collect()
    }

    /// Both paths take the same steps, to the last bit on flex, for both optimizers, runs that
    /// differ in every setting, and after a run leaves, on each CPU backend (whose parameters
    /// the host path updates in place, when no other tensor shares them).
    ///
    /// Why equality holds on every CPU: each element's update is the same sequence of
    /// IEEE-754 operations on both paths (products, sums, one quotient and one square root,
    /// each correctly rounded, in the same order, none fused into a multiply-add: Rust does not
    /// contract `a * b + c`, and flex's and libtorch's element-wise kernels compute `x²` as
    /// `x · x`), so both round alike whatever the vector width. The gradients come from a loss
    /// linear in the parameters, so both paths get the same gradients however their parameters
    /// are laid out: a network's loss would differentiate through matrix products, whose
    /// kernels sum in an order that depends on the layout and the CPU (AVX2 and AVX-512
    /// machines differed by 4e-6 after four Adam steps that way, though each update was exact).
    #[test]
    fn the_fused_host_update_is_the_tensor_update() {
        for device in crate::backend::cpu_devices() {
            let autodiff = device.clone().autodiff();
            let config = AutoencoderConfig {
                shape: vec![6],
                conv_channels: None,
                hidden: vec![5],
                latent: 2,
                activation: Activation::Relu,
                code_activation: CodeActivation::Sigmoid,
                output: OutputActivation::Sigmoid,
                variational: false,
                codebook: None,
            };
            let models: Vec<_> = (0..3).map(|_| config.init(&autodiff)).collect();
            let mut pack = PackedAutoencoder::pack(&models).unwrap();
            pack.update_parameters(|_, p| p.inner().autodiff().require_grad());
            let runs = vec![
                RunSettings {
                    learning_rate: 0.1,
                    weight_decay: 0.0,
                    momentum: 0.9,
                },
                RunSettings {
                    learning_rate: 0.01,
                    weight_decay: 0.05,
                    momentum: 0.0,
                },
                RunSettings {
                    learning_rate: 0.03,
                    weight_decay: 0.2,
                    momentum: 0.5,
                },
            ];
            let staying = [0, 2];
            let indices = Tensor::<1, Int>::from_data(staying.map(|i| i as i64), &device);
            let keep = |_: usize, p: Tensor<3>| {
                let kept = p.inner().select(0, indices.clone());
                kept.autodiff().require_grad()
            };
            for kind in [Optimizer::Adam, Optimizer::Sgd] {
                let mut host = PackedOptimizer::new(kind, runs.clone(), &pack, &device, true);
                let mut tensors = PackedOptimizer::new(kind, runs.clone(), &pack, &device, false);
                let (mut by_host, mut by_tensors) = (pack.clone(), pack.clone());
                let steps = 6;
                for step in 0..steps {
                    if step == 3 {
                        by_host.update_parameters(keep);
                        by_tensors.update_parameters(keep);
                        host.select(&staying);
                        tensors.select(&staying);
                    }
                    let grads = linear_loss_gradients(&by_host, step);
                    host.step(&mut by_host, &grads);
                    let grads = linear_loss_gradients(&by_tensors, step);
                    tensors.step(&mut by_tensors, &grads);
                }
                let (by_host, by_tensors) = (values(&by_host), values(&by_tensors));
                let mut kept = pack.clone();
                kept.update_parameters(keep);
                let initial = values(&kept);
                assert_ne!(by_host, initial, "{kind:?} stood still");
                // flex: to the last bit. libtorch's kernels, compiled by another compiler with
                // its own choices (a contracted multiply-add, a vector lane against a scalar
                // tail), may round an operation differently: at most one rounding per operation
                // (8) and step is allowed. A rounding happens at the scale of the values then
                // held, which for a parameter that moved towards 0 is its initial size, not its
                // final one (one rounding at 0.1 is 256 ulps of 4e-4, seen on an AMD EPYC), or
                // of a step, which Adam keeps near the largest learning rate, 0.1.
                let roundings_allowed = if device == Device::flex() {
                    0.0
                } else {
                    8.0 * steps as f32
                };
                for ((a, b), start) in by_host.iter().zip(&by_tensors).zip(&initial) {
                    let scale = a.abs().max(b.abs()).max(start.abs()).max(0.1);
                    let allowed = roundings_allowed * scale * f32::EPSILON;
                    assert!(
                        (a - b).abs() <= allowed,
                        "{kind:?} on {device:?}: {a} and {b} (from {start}) differ by {}, more \
                         than {roundings_allowed} roundings at {scale}",
                        (a - b).abs()
                    );
                }
            }
        }
    }
}
