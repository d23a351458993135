//! Data sets: discovery under `datasets/`, checksummed loading, and seeded splits.
//!
//! Each data set is a folder with a `dataset.toml` ([`Manifest`]). Loading a split reads its
//! files, checks each against the sha256 in the manifest, decodes it and scales inputs to
//! `[0, 1]`. The result is a plain [`Split`] of `f32` rows: this crate knows nothing of
//! tensors; `hourglass-train` batches splits into tensors. Tables and time series (`csv`,
//! `parquet`, `series`) are read with polars (`tabular.rs`), NumPy arrays with npyz
//! (`arrays.rs`). Sizes are checked against memory before loading (`memory.rs`).

mod add;
mod arrays;
mod examples;
mod idx;
mod image_folder;
mod manifest;
mod memory;
mod noise;
mod parquet_footer;
mod split;
mod tabular;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

pub use add::{Added, NewDataset, add};
pub use examples::{Examples, read_examples, write_pngs, write_table};
pub use manifest::{ArraysFile, Format, ImageFolder, Manifest, SeriesFiles, SplitFiles, TableFile};
pub use memory::data_budget;
pub use noise::{
    Corruption, STATIC_BINARIZATION_SEED, binarize, binarize_static, standard_normals,
};
pub use split::{Split, Standardization, permutation};

/// What can go wrong when finding or loading data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `dataset.toml` is not valid.
    #[error("invalid manifest {}: {message}", path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Two folders claim the same data set name.
    #[error("data set `{name}` is defined twice: {} and {}", first.display(), second.display())]
    Duplicate {
        /// The name.
        name: String,
        /// One manifest.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// No data set of that name was found.
    #[error("no data set `{name}` under {} (found: {known})", root.display())]
    Unknown {
        /// The name asked for.
        name: String,
        /// Where data sets were looked for.
        root: PathBuf,
        /// The names found, comma-separated.
        known: String,
    },
    /// A file's content does not match its recorded hash: changed, truncated or replaced.
    #[error(
        "checksum mismatch for {}: expected sha256 {expected}, found {actual} \
         (the file is corrupt or truncated; restore it from the data set's source)",
        path.display()
    )]
    Checksum {
        /// The file.
        path: PathBuf,
        /// The hash in `dataset.toml`.
        expected: String,
        /// The hash of the file on disk.
        actual: String,
    },
    /// A file's hash matched but its content cannot be decoded as declared.
    #[error("cannot decode {}: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// `datasets add` cannot make the data set asked for.
    #[error("cannot add data set `{name}`: {message}")]
    Add {
        /// The name asked for.
        name: String,
        /// Why.
        message: String,
    },
    /// A data set would not fit in memory; refused before it is loaded.
    #[error(
        "{} needs {} in memory ({what}), more than {}; use fewer examples or features, or a \
         machine with more memory",
        path.display(),
        needed.map_or("more than 16 EiB".into(), memory::human_bytes),
        budget.map_or("can be addressed".into(), |b| format!(
            "the {} a data set may take here (half the memory available)",
            memory::human_bytes(b)
        ))
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What takes the memory.
        what: String,
        /// The bytes needed, `None` past `u64`.
        needed: Option<u64>,
        /// The bytes a data set may take, when known.
        budget: Option<u64>,
    },
    /// The data set asked for is a folder whose `dataset.toml` cannot be used.
    #[error("data set `{name}` cannot be used: {cause}")]
    Unusable {
        /// The name asked for (its folder's).
        name: String,
        /// Why its manifest was skipped.
        cause: Arc<DataError>,
    },
}

/// The data sets found under a root folder.
#[derive(Debug, Clone)]
pub struct Registry {
    root: PathBuf,
    datasets: BTreeMap<String, (PathBuf, Manifest)>,
    /// Folder name to why its `dataset.toml` was skipped.
    unusable: BTreeMap<String, Arc<DataError>>,
    loaded: Loaded,
}

/// The splits a registry (or a clone of it) has loaded, by data set and split name: the runs
/// of a pack read, check and decode each file once.
#[derive(Clone, Default)]
struct Loaded(Arc<Mutex<BTreeMap<(String, String), Arc<Split>>>>);

impl Loaded {
    fn splits(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Arc<Split>>> {
        // A panic elsewhere cannot leave the map half-written: insert is one call.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.splits().keys()).finish()
    }
}

impl Registry {
    /// Finds every `dataset.toml` under `root` (one or two folders down). A manifest that
    /// cannot be read or is invalid leaves its folder out ([`Self::unusable`]) and fails
    /// only the runs that ask for that data set.
    pub fn discover(root: &Path) -> Result<Self, DataError> {
        let mut datasets: BTreeMap<String, (PathBuf, Manifest)> = BTreeMap::new();
        let mut unusable = BTreeMap::new();
        // Hidden folders are left out: `datasets add` builds a data set in one.
        let hidden = |entry: &walkdir::DirEntry| {
            entry.depth() > 0 && entry.file_name().to_string_lossy().starts_with('.')
        };
        for entry in walkdir::WalkDir::new(root)
            .min_depth(2)
            .max_depth(3)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|entry| !hidden(entry))
        {
            let entry = entry.map_err(|e| {
                let path = e.path().unwrap_or(root).to_path_buf();
                // walkdir's own message repeats the path; keep the underlying error.
                let source = e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("a symbolic link loop"));
                DataError::Read { path, source }
            })?;
            if entry.file_name() != "dataset.toml" {
                continue;
            }
            let path = entry.path();
            let dir = path.parent().expect("a file has a parent").to_path_buf();
            let manifest = match Manifest::read(path) {
                Ok(manifest) => manifest,
                Err(error) => {
                    let folder = dir.file_name().unwrap_or_default().to_string_lossy();
                    unusable.insert(folder.into_owned(), Arc::new(error));
                    continue;
                }
            };
            if let Some((first, _)) = datasets.get(&manifest.name) {
                return Err(DataError::Duplicate {
                    name: manifest.name,
                    first: first.join("dataset.toml"),
                    second: path.to_path_buf(),
                });
            }
            datasets.insert(manifest.name.clone(), (dir, manifest));
        }
        Ok(Self {
            root: root.to_path_buf(),
            datasets,
            unusable,
            loaded: Loaded::default(),
        })
    }

    /// The data set folders left out, by folder name, with why: each is a warning unless a
    /// spec names that data set.
    pub fn unusable(&self) -> impl Iterator<Item = (&str, &DataError)> {
        self.unusable
            .iter()
            .map(|(folder, error)| (folder.as_str(), error.as_ref()))
    }

    /// The data sets, by name.
    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.datasets.values().map(|(_, manifest)| manifest)
    }

    /// Data set name to the shape of one example.
    pub fn shapes(&self) -> BTreeMap<String, Vec<usize>> {
        self.manifests()
            .map(|m| (m.name.clone(), m.shape.clone()))
            .collect()
    }

    /// Data set name to what its labels are, for the spec's checks.
    pub fn labels(&self) -> BTreeMap<String, hourglass_spec::Labels> {
        self.manifests()
            .map(|m| {
                let labels = hourglass_spec::Labels {
                    classes: m.classes,
                    anomaly_label: m.anomaly_label,
                };
                (m.name.clone(), labels)
            })
            .collect()
    }

    /// The manifest of data set `name`.
    pub fn manifest(&self, name: &str) -> Result<&Manifest, DataError> {
        self.entry(name).map(|(_, manifest)| manifest)
    }

    fn entry(&self, name: &str) -> Result<&(PathBuf, Manifest), DataError> {
        if let Some(cause) = self.unusable.get(name) {
            return Err(DataError::Unusable {
                name: name.to_string(),
                cause: Arc::clone(cause),
            });
        }
        self.datasets.get(name).ok_or_else(|| DataError::Unknown {
            name: name.to_string(),
            root: self.root.clone(),
            known: self.datasets.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// Loads split `split` ("train", "test") of data set `name`, checking every file's hash;
    /// a split loaded before is shared, not read again.
    pub fn load(&self, name: &str, split: &str) -> Result<Arc<Split>, DataError> {
        let key = (name.to_string(), split.to_string());
        if let Some(split) = self.loaded.splits().get(&key) {
            return Ok(Arc::clone(split));
        }
        let loaded = Arc::new(self.read(name, split)?);
        self.loaded.splits().insert(key, Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Reads, checks and decodes split `split` of data set `name`.
    fn read(&self, name: &str, split: &str) -> Result<Split, DataError> {
        let (dir, manifest) = self.entry(name)?;
        read_split(dir, manifest, split)
    }
}

/// Reads, checks and decodes split `split` of the data set in `dir`.
pub(crate) fn read_split(dir: &Path, manifest: &Manifest, split: &str) -> Result<Split, DataError> {
    let loaded = match manifest.format {
        Format::Csv | Format::Parquet => {
            let table = manifest.table.as_ref().expect("checked on reading");
            let bytes = read_checked(dir, manifest, &table.file)?;
            tabular::table_split(manifest, table, &dir.join(&table.file), bytes, split)?
        }
        Format::Npy => {
            let arrays = manifest.arrays.as_ref().expect("checked on reading");
            let read = |file: &str| read_checked(dir, manifest, file);
            arrays::arrays_split(manifest, arrays, dir, read, split)?
        }
        Format::Images => {
            let images = manifest.images.as_ref().expect("checked on reading");
            image_folder::images_split(manifest, images, dir, split)?
        }
        Format::Series => {
            let series = manifest.series.as_ref().expect("checked on reading");
            let file = series
                .files
                .get(split)
                .ok_or_else(|| manifest.no_split(split))?;
            let bytes = read_checked(dir, manifest, file)?;
            tabular::series_split(manifest, series, &dir.join(file), bytes)?
        }
        Format::Idx => {
            let files = manifest.split(split)?;
            let images = idx::read_u8(
                &dir.join(&files.images),
                &read_checked(dir, manifest, &files.images)?,
            )?;
            let labels = idx::read_u8(
                &dir.join(&files.labels),
                &read_checked(dir, manifest, &files.labels)?,
            )?;
            Split::from_idx(manifest, files, dir, images, labels)?
        }
    };
    if split == "test" {
        check_anomalies(dir, manifest, &loaded)?;
    }
    Ok(loaded)
}

/// The test split of a data set made for anomaly detection holds both anomalies and normal
/// examples: AUROC needs both.
fn check_anomalies(dir: &Path, manifest: &Manifest, test: &Split) -> Result<(), DataError> {
    let Some(anomaly) = manifest.anomaly_label else {
        return Ok(());
    };
    let anomalies = test.labels.iter().filter(|&&l| l == anomaly).count();
    if anomalies == 0 || anomalies == test.len() {
        return Err(DataError::Manifest {
            path: dir.join("dataset.toml"),
            message: format!(
                "anomaly_label {anomaly}: the test split holds {anomalies} anomalies among {} \
                 examples, and anomaly detection needs both anomalies and normal examples",
                test.len()
            ),
        });
    }
    Ok(())
}

/// Reads `file` of a data set and checks it against the manifest's sha256.
fn read_checked(dir: &Path, manifest: &Manifest, file: &str) -> Result<Vec<u8>, DataError> {
    let path = dir.join(file);
    let expected = manifest
        .sha256
        .get(file)
        .ok_or_else(|| DataError::Manifest {
            path: dir.join("dataset.toml"),
            message: format!("no sha256 recorded for `{file}` in [sha256]"),
        })?;
    let read = |source| DataError::Read {
        path: path.clone(),
        source,
    };
    let size = std::fs::metadata(&path).map_err(read)?.len();
    if let Some(budget) = memory::data_budget()
        && size > budget
    {
        return Err(DataError::TooLarge {
            path,
            what: "the file as read".into(),
            needed: Some(size),
            budget: Some(budget),
        });
    }
    let bytes = std::fs::read(&path).map_err(read)?;
    let actual = hex(&Sha256::digest(&bytes));
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(DataError::Checksum {
            path,
            expected: expected.clone(),
            actual,
        });
    }
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod every_error;
#[cfg(test)]
mod tests;
