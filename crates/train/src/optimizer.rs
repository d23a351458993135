//! The optimizer a run's `[train]` and `[regularizers]` ask for.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, SgdConfig};
use hourglass_spec::{Optimizer, RunConfig};

/// Builds the optimizer. Settings follow PyTorch's defaults so results compare: Adam's
/// ε is 1e-8 (burn's default is 1e-5) and SGD momentum has no dampening (burn's is 0.1).
/// Weight decay is the coupled L2 penalty of `torch.optim.Adam(weight_decay=...)`.
pub(crate) fn build(config: &RunConfig) -> ModuleOptimizer {
    let decay = config.regularizers.weight_decay;
    let weight_decay = (decay > 0.0).then(|| WeightDecayConfig::new(decay as f32));
    match config.train.optimizer {
        Optimizer::Adam => AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(weight_decay)
            .init(),
        Optimizer::Sgd => SgdConfig::new()
            .with_weight_decay(weight_decay)
            .with_momentum(config.train.momentum.map(|momentum| {
                MomentumConfig::new()
                    .with_momentum(momentum)
                    .with_dampening(0.0)
            }))
            .init(),
    }
}
