//! `dataset.toml`: what a data set folder holds, where it came from and how it is split.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::DataError;

/// Every key of [`Manifest`].
const KNOWN_KEYS: [&str; 16] = [
    "name",
    "format",
    "description",
    "licence",
    "source",
    "shape",
    "classes",
    "class_names",
    "anomaly_label",
    "standardize",
    "splits",
    "table",
    "series",
    "arrays",
    "images",
    "sha256",
];

/// The keys of [`Manifest`] that have no default.
const REQUIRED_KEYS: [&str; 6] = ["name", "format", "licence", "source", "shape", "sha256"];

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
    /// What each class is, by label (`class_names[3]` names label 3), for legends; the
    /// labels themselves when absent.
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
    /// The label of anomalies, for data sets made for anomaly detection: the anomaly task
    /// trains on the other examples and scores the test split against this label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly_label: Option<u8>,
    /// Whether inputs are standardised (each feature to zero mean and unit variance with the
    /// statistics of the run's training examples) instead of lying in `[0, 1]`.
    #[serde(default)]
    pub standardize: bool,
    /// `idx`: split name ("train", "test") to its files.
    #[serde(default)]
    pub splits: BTreeMap<String, SplitFiles>,
    /// `csv`, `parquet`: the one table of examples and how it is split.
    #[serde(default)]
    pub table: Option<TableFile>,
    /// `npy`: the arrays of examples and labels and how they are split.
    #[serde(default)]
    pub arrays: Option<ArraysFile>,
    /// `images`: the folder of images and how it is split.
    #[serde(default)]
    pub images: Option<ImageFolder>,
    /// `series`: the time series cut into sliding windows of `shape[0]` points.
    #[serde(default)]
    pub series: Option<SeriesFiles>,
    /// File name to the sha256 of its bytes as stored.
    pub sha256: BTreeMap<String, String>,
}

/// Encodings hourglass reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Gzipped IDX files (the MNIST format): one of images, one of labels per split.
    Idx,
    /// One CSV table (optionally gzipped): a row per example, numeric feature columns and an
    /// optional integer label column; the test split is a fixed seeded share of the rows.
    Csv,
    /// One Parquet table, read as `csv` is.
    Parquet,
    /// NumPy arrays, as `.npy` files or in one `.npz` archive: features `[examples, ...]`
    /// (float32, float64, or uint8 scaled to `[0, 1]`) and optional integer labels
    /// `[examples]`; the test split is a fixed seeded share of the examples.
    Npy,
    /// A folder of PNG and JPEG images, in one sub-folder per class or unlabelled; the test
    /// split is a fixed seeded share of the images.
    Images,
    /// A univariate time series in two CSV files (train, test) of `value` and a 0/1 anomaly
    /// column; each split is its sliding windows of `shape[0]` points, labelled 1 when any
    /// point in the window is.
    Series,
}

impl Format {
    /// The format's name in `dataset.toml`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Idx => "idx",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Npy => "npy",
            Format::Images => "images",
            Format::Series => "series",
        }
    }
}

/// The table of a `csv` or `parquet` data set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFile {
    /// File name inside the folder; a CSV file is read through gzip when it ends in `.gz`.
    pub file: String,
    /// CSV only, and required there: whether the first line (after `skip_lines`) names the
    /// columns; without one, columns are called `column_1`, `column_2`, ...
    #[serde(default)]
    pub header: Option<bool>,
    /// CSV only: lines to skip before the header or the first row.
    #[serde(default)]
    pub skip_lines: usize,
    /// The label column; every other column is a feature. Without one the data is
    /// unlabelled and every column is a feature.
    #[serde(default)]
    pub label: Option<String>,
    /// Number of rows the file must hold.
    pub rows: usize,
    /// Share of the rows held out as the test split, in (0, 1).
    pub test_fraction: f64,
    /// Seed of the shuffle that picks the test rows: fixed by the data set, so every run is
    /// tested on the same rows.
    pub split_seed: u64,
}

/// The arrays of an `npy` data set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArraysFile {
    /// An `.npz` archive in the folder holding the arrays named by `features` and `labels`;
    /// without one, `features` and `labels` are `.npy` files in the folder.
    #[serde(default)]
    pub archive: Option<String>,
    /// The features array, `[examples, ...]` of `shape`'s size per example.
    pub features: String,
    /// The labels array, `[examples]` of integers in `0..=255`; without one the data is
    /// unlabelled.
    #[serde(default)]
    pub labels: Option<String>,
    /// Number of examples the arrays must hold.
    pub examples: usize,
    /// Share of the examples held out as the test split, in (0, 1).
    pub test_fraction: f64,
    /// Seed of the shuffle that picks the test examples.
    pub split_seed: u64,
}

/// The folder of an `images` data set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageFolder {
    /// The folder, inside the data set's folder. Its sha256 in `[sha256]` is that of the
    /// lines `SUM  PATH` of its images in path order (`sha256sum`'s output, paths relative to
    /// the folder).
    pub folder: String,
    /// Whether the folder holds one sub-folder per class (torchvision's `ImageFolder`; labels
    /// are the sub-folders' places in sorted order) rather than the images, unlabelled.
    pub labelled: bool,
    /// Resize images of another size than the shape's (bilinear) instead of refusing them.
    #[serde(default)]
    pub resize: bool,
    /// Number of images the folder must hold.
    pub examples: usize,
    /// Share of the images held out as the test split, in (0, 1).
    pub test_fraction: f64,
    /// Seed of the shuffle that picks the test images.
    pub split_seed: u64,
}

/// The files of a `series` data set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesFiles {
    /// Split name ("train", "test") to its CSV file.
    pub files: BTreeMap<String, String>,
    /// The column of values.
    pub value: String,
    /// The 0/1 column that marks anomalous points.
    pub label: String,
    /// Points between the starts of consecutive windows.
    #[serde(default = "one")]
    pub stride: usize,
}

/// `class_names` has one distinct, non-empty name for each of the `classes`.
fn check_class_names(names: &[String], classes: Option<usize>) -> Result<(), String> {
    let Some(classes) = classes else {
        return Err("`class_names` is set without `classes`".into());
    };
    if names.len() != classes {
        return Err(format!(
            "`class_names` names {} classes, but there are {classes}: give one name per class, \
             in label order",
            names.len()
        ));
    }
    if let Some(label) = names.iter().position(|name| name.trim().is_empty()) {
        return Err(format!("`class_names` leaves class {label} unnamed (\"\")"));
    }
    let mut seen = BTreeMap::new();
    for (label, name) in names.iter().enumerate() {
        if let Some(first) = seen.insert(name.as_str(), label) {
            return Err(format!(
                "`class_names` names classes {first} and {label} alike, \"{name}\""
            ));
        }
    }
    Ok(())
}

fn one() -> usize {
    1
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
        // Syntax and types are located by the parser; missing keys are listed all at once
        // (serde stops at the first, placed at line 1, column 1).
        let table: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        let missing: Vec<&str> = REQUIRED_KEYS
            .into_iter()
            .filter(|key| !table.contains_key(*key))
            .collect();
        if !missing.is_empty() {
            let unknown: Vec<String> = table
                .keys()
                .filter(|key| !KNOWN_KEYS.contains(&key.as_str()))
                .map(|key| format!("`{key}`"))
                .collect();
            let unknown = if unknown.is_empty() {
                String::new()
            } else {
                format!("; unknown {}", unknown.join(", "))
            };
            return Err(invalid(format!(
                "missing {} (every dataset.toml sets {}){unknown}",
                missing.join(", "),
                REQUIRED_KEYS.join(", ")
            )));
        }
        let manifest: Manifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if manifest.shape.is_empty() || manifest.shape.contains(&0) {
            return Err(invalid(format!(
                "shape {:?} must be non-empty and positive",
                manifest.shape
            )));
        }
        let (present, needed) = match manifest.format {
            Format::Idx => (!manifest.splits.is_empty(), "[splits.NAME]"),
            Format::Csv | Format::Parquet => (manifest.table.is_some(), "[table]"),
            Format::Npy => (manifest.arrays.is_some(), "[arrays]"),
            Format::Images => (manifest.images.is_some(), "[images]"),
            Format::Series => (manifest.series.is_some(), "[series]"),
        };
        if !present {
            return Err(invalid(format!(
                "format `{}` needs a {needed} section",
                manifest.format.name()
            )));
        }
        if manifest.format == Format::Images && !matches!(manifest.shape[..], [1 | 3, _, _]) {
            return Err(invalid(format!(
                "shape {:?} of images must be [channels, height, width] with 1 (grey) or 3 \
                 (RGB) channels",
                manifest.shape
            )));
        }
        manifest.check_held_out().map_err(invalid)?;
        manifest.check_labelled().map_err(invalid)?;
        if let Some(table) = &manifest.table {
            match manifest.format {
                Format::Csv if table.header.is_none() => {
                    return Err(invalid(
                        "[table] of a csv data set needs `header` (true when the first line \
                         names the columns)"
                            .into(),
                    ));
                }
                Format::Parquet if table.header.is_some() || table.skip_lines != 0 => {
                    return Err(invalid(
                        "[table] of a parquet data set takes no `header` or `skip_lines` \
                         (a Parquet file names its columns)"
                            .into(),
                    ));
                }
                _ => {}
            }
        }
        if let Some(series) = &manifest.series
            && series.stride == 0
        {
            return Err(invalid("series.stride must be at least 1".into()));
        }
        for (user, file) in manifest.files() {
            if !manifest.sha256.contains_key(file) {
                return Err(invalid(format!(
                    "{user} uses `{file}`, which has no sha256"
                )));
            }
            let mut components = Path::new(file).components();
            let plain_name = matches!(
                (components.next(), components.next()),
                (Some(std::path::Component::Normal(_)), None)
            );
            if !plain_name {
                return Err(invalid(format!(
                    "{user} uses `{file}`, which is not a file name inside the data set's \
                     folder (no folders, `..` or absolute paths)"
                )));
            }
        }
        Ok(manifest)
    }

    /// The examples and test share of a data set split by a seeded shuffle (`[table]`,
    /// `[arrays]`) must leave both splits at least one example.
    fn check_held_out(&self) -> Result<(), String> {
        let (section, examples, fraction) = match (&self.table, &self.arrays, &self.images) {
            (Some(table), ..) => ("table", ("rows", table.rows), table.test_fraction),
            (_, Some(arrays), _) => (
                "arrays",
                ("examples", arrays.examples),
                arrays.test_fraction,
            ),
            (.., Some(images)) => (
                "images",
                ("examples", images.examples),
                images.test_fraction,
            ),
            _ => return Ok(()),
        };
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(format!(
                "{section}.test_fraction {fraction} must lie in (0, 1)"
            ));
        }
        let (key, count) = examples;
        let held_out = crate::split::held_out(count, fraction);
        if held_out == 0 || held_out == count {
            return Err(format!(
                "{section}.test_fraction {fraction} of {section}.{key} = {count} leaves \
                 {held_out} test and {} training examples; each split needs at least one",
                count - held_out
            ));
        }
        Ok(())
    }

    /// Labels, classes and the anomaly label go together: `classes`, `class_names` and
    /// `anomaly_label` need a label column or array, the anomaly label must be one of the
    /// classes, and there is one distinct, non-empty name per class.
    fn check_labelled(&self) -> Result<(), String> {
        let unlabelled = match (&self.table, &self.arrays, &self.images) {
            (Some(table), ..) => (table.label.is_none()).then_some("[table] has no `label` column"),
            (_, Some(arrays), _) => {
                (arrays.labels.is_none()).then_some("[arrays] has no `labels` array")
            }
            (.., Some(images)) => (!images.labelled).then_some("[images] is not `labelled`"),
            _ => None,
        };
        if let Some(why) = unlabelled {
            for (key, set) in [
                ("classes", self.classes.is_some()),
                ("class_names", self.class_names.is_some()),
                ("anomaly_label", self.anomaly_label.is_some()),
            ] {
                if set {
                    return Err(format!("`{key}` is set, but {why}: the data is unlabelled"));
                }
            }
        }
        if let (Some(classes), Some(anomaly)) = (self.classes, self.anomaly_label)
            && usize::from(anomaly) >= classes
        {
            return Err(format!(
                "anomaly_label {anomaly} is not one of the {classes} classes (0..{classes})"
            ));
        }
        if let Some(names) = &self.class_names {
            check_class_names(names, self.classes)?;
        }
        Ok(())
    }

    /// Every data file the manifest names, with where it names it.
    fn files(&self) -> Vec<(String, &String)> {
        let mut files = Vec::new();
        for (split, names) in &self.splits {
            files.push((format!("split `{split}`"), &names.images));
            files.push((format!("split `{split}`"), &names.labels));
        }
        if let Some(table) = &self.table {
            files.push(("[table]".to_string(), &table.file));
        }
        if let Some(series) = &self.series {
            for (split, file) in &series.files {
                files.push((format!("series split `{split}`"), file));
            }
        }
        if let Some(images) = &self.images {
            files.push(("[images]".to_string(), &images.folder));
        }
        if let Some(arrays) = &self.arrays {
            match &arrays.archive {
                Some(archive) => files.push(("[arrays]".to_string(), archive)),
                None => {
                    files.push(("[arrays]".to_string(), &arrays.features));
                    if let Some(labels) = &arrays.labels {
                        files.push(("[arrays]".to_string(), labels));
                    }
                }
            }
        }
        files
    }

    /// The names of the splits the data set offers.
    pub fn split_names(&self) -> Vec<String> {
        match self.format {
            Format::Idx => self.splits.keys().cloned().collect(),
            Format::Csv | Format::Parquet | Format::Npy | Format::Images => {
                vec!["test".into(), "train".into()]
            }
            Format::Series => self
                .series
                .as_ref()
                .map(|s| s.files.keys().cloned().collect())
                .unwrap_or_default(),
        }
    }

    /// Number of input features of one example: the product of the shape.
    pub fn features(&self) -> usize {
        self.shape.iter().product()
    }

    /// The error for a split the data set does not have.
    pub(crate) fn no_split(&self, name: &str) -> DataError {
        DataError::Manifest {
            path: format!("datasets/{}/dataset.toml", self.name).into(),
            message: format!(
                "no split `{name}` (splits: {})",
                self.split_names().join(", ")
            ),
        }
    }

    /// The files of IDX split `name`.
    pub fn split(&self, name: &str) -> Result<&SplitFiles, DataError> {
        self.splits.get(name).ok_or_else(|| self.no_split(name))
    }
}
