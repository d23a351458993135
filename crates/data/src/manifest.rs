//! `dataset.toml`: what a data set folder holds, where it came from and how it is split.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::DataError;

/// The manifest of one data set folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Name that specs use in `data.dataset`.
    pub name: String,
    /// Encoding of the files.
    pub format: Format,
    /// One line on what the data is.
    #[serde(default)]
    pub description: String,
    /// Licence of the data.
    pub licence: String,
    /// Where the files came from.
    pub source: String,
    /// Shape of one example, channels first for images (`[1, 28, 28]`).
    pub shape: Vec<usize>,
    /// Number of label classes, when the data is labelled.
    #[serde(default)]
    pub classes: Option<usize>,
    /// Split name ("train", "test") to its files.
    pub splits: BTreeMap<String, SplitFiles>,
    /// File name to the sha256 of its bytes as stored.
    pub sha256: BTreeMap<String, String>,
}

/// Encodings hourglass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Gzipped IDX files (the MNIST format): one of images, one of labels per split.
    Idx,
}

/// The files of one split.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitFiles {
    /// Number of examples the split must hold.
    pub examples: usize,
    /// File of inputs, relative to the data set folder.
    pub images: String,
    /// File of labels, relative to the data set folder.
    pub labels: String,
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn read(path: &Path) -> Result<Self, DataError> {
        let text = std::fs::read_to_string(path).map_err(|source| DataError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |message: String| DataError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let manifest: Manifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if manifest.shape.is_empty() || manifest.shape.contains(&0) {
            return Err(invalid(format!(
                "shape {:?} must be non-empty and positive",
                manifest.shape
            )));
        }
        for (split, files) in &manifest.splits {
            for file in [&files.images, &files.labels] {
                if !manifest.sha256.contains_key(file) {
                    return Err(invalid(format!(
                        "split `{split}` uses `{file}`, which has no sha256"
                    )));
                }
                if Path::new(file).components().count() != 1 {
                    return Err(invalid(format!(
                        "`{file}` must be a file name inside the folder"
                    )));
                }
            }
        }
        Ok(manifest)
    }

    /// Number of input features of one example: the product of the shape.
    pub fn features(&self) -> usize {
        self.shape.iter().product()
    }

    /// The files of split `name`.
    pub fn split(&self, name: &str) -> Result<&SplitFiles, DataError> {
        self.splits.get(name).ok_or_else(|| DataError::Manifest {
            path: format!("datasets/{}/dataset.toml", self.name).into(),
            message: format!(
                "no split `{name}` (splits: {})",
                self.splits.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        })
    }
}
