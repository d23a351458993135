//! Turning rows of a split into tensors.

use burn::prelude::*;
use burn::tensor::TensorData;
use hourglass_data::Split;

/// The inputs of the examples at `indices`, row-major.
pub(crate) fn rows(split: &Split, indices: &[usize]) -> Vec<f32> {
    let mut values = Vec::with_capacity(indices.len() * split.features());
    for &i in indices {
        values.extend_from_slice(split.input(i));
    }
    values
}

/// Rows of `features` values as one tensor.
///
/// # Shapes
/// - output: `[values.len() / features, features]`
pub(crate) fn tensor(values: Vec<f32>, features: usize, device: &Device) -> Tensor<2> {
    let count = values.len() / features;
    Tensor::from_data(TensorData::new(values, [count, features]), device)
}

/// The inputs of the examples at `indices`, as one tensor.
///
/// # Shapes
/// - output: `[indices.len(), split.features()]`
pub(crate) fn inputs(split: &Split, indices: &[usize], device: &Device) -> Tensor<2> {
    tensor(rows(split, indices), split.features(), device)
}
