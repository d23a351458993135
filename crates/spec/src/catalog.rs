//! What the spec is checked against: the data sets found on disk and the backends compiled in.
//!
//! The spec crate does not look for data itself (that is `hourglass-data`'s job); the caller
//! fills a [`Catalog`] and the checks read it.

use std::collections::BTreeMap;

use crate::schema::Backend;

/// The world a spec is validated against.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Data set name to the shape of one example (`[channels, height, width]` for images,
    /// `[features]` for rows).
    pub datasets: BTreeMap<String, Vec<usize>>,
    /// Backends compiled into this build.
    pub backends: Vec<Backend>,
    /// Data set name to what its labels mean, for the data sets that have labels.
    pub labels: BTreeMap<String, Labels>,
}

/// What a data set's labels are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Labels {
    /// Number of classes.
    pub classes: Option<usize>,
    /// The label of anomalies, for data sets made for anomaly detection.
    pub anomaly_label: Option<u8>,
}
