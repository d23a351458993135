//! Turning rows of a split into tensors.

use burn::prelude::*;
use burn::tensor::TensorData;
use hourglass_data::Split;

/// The inputs of the examples at `indices`, as one tensor.
///
/// # Shapes
/// - output: `[indices.len(), split.features()]`
pub(crate) fn inputs(split: &Split, indices: &[usize], device: &Device) -> Tensor<2> {
    let features = split.features();
    let mut values = Vec::with_capacity(indices.len() * features);
    for &i in indices {
        values.extend_from_slice(split.input(i));
    }
    Tensor::from_data(TensorData::new(values, [indices.len(), features]), device)
}
