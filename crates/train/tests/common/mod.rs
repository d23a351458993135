//! What the training tests share: the repository's data sets and the catalog specs are
//! checked against.

use std::path::{Path, PathBuf};

use hourglass_data::Registry;
use hourglass_spec::{Backend, Catalog};

/// The repository's data sets, and the catalog a spec is checked against.
pub fn registry_and_catalog() -> (Registry, Catalog) {
    let datasets: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let registry = Registry::discover(&datasets).unwrap();
    let catalog = Catalog {
        datasets: registry.shapes(),
        labels: registry.labels(),
        backends: vec![Backend::Flex],
    };
    (registry, catalog)
}
