//! How much data fits: a data set is held in memory as `f32` rows, 4 bytes per feature per
//! example, and training needs room beside it (batches, a standardised copy, the model), so
//! a data set may take at most half the memory available when it is loaded. Sizes are checked
//! from headers and manifests before anything that large is allocated.

use std::path::Path;

use crate::DataError;

/// The bytes of `examples` rows of `features` `f32` values, `None` past `u64`.
pub(crate) fn row_bytes(examples: usize, features: usize) -> Option<u64> {
    (examples as u64)
        .checked_mul(features as u64)?
        .checked_mul(std::mem::size_of::<f32>() as u64)
}

/// The most bytes a data set may take: half the memory available now (`MemAvailable` of
/// `/proc/meminfo`), or no limit where that cannot be read.
pub fn data_budget() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024) / 2)
}

/// Refuses `examples` rows of `features` values from `path` when they would not fit in
/// [`data_budget`].
pub(crate) fn check_fits(path: &Path, examples: usize, features: usize) -> Result<(), DataError> {
    check_fits_within(path, examples, features, data_budget())
}

/// [`check_fits`] against a given budget (`None`: unlimited).
pub(crate) fn check_fits_within(
    path: &Path,
    examples: usize,
    features: usize,
    budget: Option<u64>,
) -> Result<(), DataError> {
    let needed = row_bytes(examples, features);
    match (needed, budget) {
        (Some(needed), Some(budget)) if needed <= budget => Ok(()),
        (Some(_), None) => Ok(()),
        _ => Err(DataError::TooLarge {
            path: path.to_path_buf(),
            what: format!("{examples} examples of {features} features as f32"),
            needed,
            budget,
        }),
    }
}

/// `bytes` in the largest binary unit that keeps it at least 1.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_set_fits_up_to_its_budget_and_not_a_byte_more() {
        let path = Path::new("x.npy");
        // 1000 examples of 784 features: 3,136,000 bytes.
        assert!(check_fits_within(path, 1000, 784, Some(3_136_000)).is_ok());
        assert!(check_fits_within(path, 1000, 784, Some(3_135_999)).is_err());
        assert!(check_fits_within(path, usize::MAX, 784, None).is_err());
        assert!(check_fits_within(path, 1000, 784, None).is_ok());
    }

    #[test]
    fn the_budget_is_half_of_a_machines_available_memory() {
        let budget = data_budget().expect("this machine has /proc/meminfo");
        assert!(budget > 0);
    }
}
