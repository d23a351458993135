//! `hourglass datasets add`: a user's files made into a data set folder. The files are
//! inspected (format from the extension, rows or examples, shape, label column or array,
//! classes), copied or linked into a hidden staging folder beside the others with their
//! sha256 sums, described in a `dataset.toml` that comments every inferred value, and loaded
//! once; only a data set that loads is moved into place, and an existing one is replaced only
//! when asked. Nothing is left half-written in the data set folder.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::arrays::Source;
use crate::manifest::{Format, Manifest};
use crate::{DataError, Registry, Split, hex, image_folder, read_split, tabular};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct NewDataset {
    /// The data set's name, also its folder's.
    pub name: String,
    /// The files: one CSV (optionally gzipped) or Parquet table, one `.npz` archive, or one
    /// or two `.npy` files (features, and labels).
    pub files: Vec<PathBuf>,
    /// The label column of a table, or the labels array of an `.npz` archive.
    pub label: Option<String>,
    /// The features array of an `.npz` archive holding more than features and labels.
    pub features: Option<String>,
    /// The label of anomalies, for anomaly detection.
    pub anomaly_label: Option<u8>,
    /// Share of the examples held out for testing.
    pub test_fraction: f64,
    /// Seed of the shuffle that picks the test examples.
    pub split_seed: u64,
    /// Standardise features with the training examples' statistics.
    pub standardize: bool,
    /// Link the files (absolute symbolic links) instead of copying them.
    pub link: bool,
    /// Replace a data set of that name.
    pub force: bool,
    /// The data's licence, for the manifest.
    pub licence: Option<String>,
    /// Resize images of another size than the first image's instead of refusing them.
    pub resize: bool,
}

impl NewDataset {
    /// Data set `name` of `files`, unlabelled, 20 % of it held out by seed 0, stored as it is.
    pub fn new(name: &str, files: Vec<PathBuf>) -> Self {
        Self {
            name: name.to_string(),
            files,
            label: None,
            features: None,
            anomaly_label: None,
            test_fraction: 0.2,
            split_seed: 0,
            standardize: false,
            link: false,
            force: false,
            licence: None,
            resize: false,
        }
    }
}

/// What `add` made, and what loading it found.
#[derive(Debug, Clone)]
pub struct Added {
    /// The data set's folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Examples in the training split.
    pub train: usize,
    /// Examples in the test split.
    pub test: usize,
    /// Examples per label over both splits, for labelled data.
    pub label_counts: Vec<(u8, usize)>,
    /// The smallest and largest feature value.
    pub range: (f32, f32),
}

/// How the files are stored, inferred from their extensions.
enum Layout {
    /// A CSV (`.csv`, `.csv.gz`) or Parquet table.
    Table { file: PathBuf, parquet: bool },
    /// An `.npz` archive.
    Archive(PathBuf),
    /// `.npy` files: features, and labels when there are two.
    Arrays(Vec<PathBuf>),
    /// A folder of images.
    Folder(PathBuf),
}

/// Makes data set `new.name` under `root` from `new.files`.
pub fn add(root: &Path, new: &NewDataset) -> Result<Added, DataError> {
    let refuse = |message: String| DataError::Add {
        name: new.name.clone(),
        message,
    };
    check_name(&new.name).map_err(refuse)?;
    if !(new.test_fraction > 0.0 && new.test_fraction < 1.0) {
        return Err(refuse(format!(
            "--test-fraction {} must lie in (0, 1)",
            new.test_fraction
        )));
    }
    let target = root.join(&new.name);
    if target.exists() && !new.force {
        return Err(refuse(format!(
            "{} exists; pass --force to replace it",
            target.display()
        )));
    }
    if let Ok(registry) = Registry::discover(root)
        && let Ok(existing) = registry.entry(&new.name)
        && existing.0 != target
    {
        return Err(refuse(format!(
            "{} already defines a data set of that name",
            existing.0.join("dataset.toml").display()
        )));
    }
    let layout = layout(&new.files).map_err(refuse)?;
    let staging = root.join(format!(".add-{}-{}", new.name, std::process::id()));
    let staged = stage(&staging, new, &layout).and_then(|()| {
        let manifest = Manifest::read(&staging.join("dataset.toml"))?;
        summarise(&staging, manifest)
    });
    let added = match staged {
        Ok(added) => added,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(named_as_given(error, &staging, &new.files));
        }
    };
    publish(&staging, &target).map_err(|source| DataError::Write {
        path: target.clone(),
        source,
    })?;
    Ok(Added {
        dir: target,
        ..added
    })
}

/// `error` with a path in the staging folder replaced by the file the user gave.
fn named_as_given(error: DataError, staging: &Path, files: &[PathBuf]) -> DataError {
    let given = |path: PathBuf| {
        let name = path.strip_prefix(staging).ok().map(Path::to_path_buf);
        (name.and_then(|name| {
            files
                .iter()
                .find(|file| file.file_name() == Some(name.as_os_str()))
        }))
        .cloned()
        .unwrap_or(path)
    };
    match error {
        DataError::Decode { path, message } => DataError::Decode {
            path: given(path),
            message,
        },
        DataError::TooLarge {
            path,
            what,
            needed,
            budget,
        } => DataError::TooLarge {
            path: given(path),
            what,
            needed,
            budget,
        },
        error => error,
    }
}

/// A name is a plain folder name: letters, digits, `-`, `_` and `.`, not starting with `.`.
fn check_name(name: &str) -> Result<(), String> {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if name.is_empty() || name.starts_with('.') || !name.chars().all(plain) {
        return Err(format!(
            "`{name}` is not a data set name: letters, digits, `-`, `_` and `.`, not starting \
             with `.`"
        ));
    }
    Ok(())
}

/// The layout of `files`, from their extensions.
fn layout(files: &[PathBuf]) -> Result<Layout, String> {
    let extension = |file: &PathBuf| {
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let name = name.to_ascii_lowercase();
        [".csv.gz", ".csv", ".parquet", ".npz", ".npy"]
            .into_iter()
            .find(|extension| name.ends_with(extension))
    };
    let extensions: Vec<Option<&str>> = files.iter().map(extension).collect();
    match (files, extensions.as_slice()) {
        ([folder], _) if folder.is_dir() => Ok(Layout::Folder(folder.clone())),
        ([file], [Some(".csv" | ".csv.gz")]) => Ok(Layout::Table {
            file: file.clone(),
            parquet: false,
        }),
        ([file], [Some(".parquet")]) => Ok(Layout::Table {
            file: file.clone(),
            parquet: true,
        }),
        ([file], [Some(".npz")]) => Ok(Layout::Archive(file.clone())),
        ([_] | [_, _], extensions) if extensions.iter().all(|e| *e == Some(".npy")) => {
            Ok(Layout::Arrays(files.to_vec()))
        }
        _ => Err(format!(
            "cannot tell the format of {}: give one CSV (.csv, .csv.gz) or Parquet (.parquet) \
             table, one NumPy archive (.npz), one or two NumPy arrays (.npy: features, and \
             labels), or one folder of PNG and JPEG images",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A line of `dataset.toml`: `key = value`, with a comment when there is one.
fn line(out: &mut String, key: &str, value: impl Into<toml::Value>, comment: &str) {
    let assignment = format!("{key} = {}", value.into());
    if comment.is_empty() {
        let _ = writeln!(out, "{assignment}");
    } else {
        let _ = writeln!(out, "{assignment:<32} # {comment}");
    }
}

/// A count as TOML wants it, refusing one past `i64`.
fn count(n: usize) -> toml::Value {
    toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Copies or links the files into `staging` (made), inspects them and writes
/// `dataset.toml` there.
fn stage(staging: &Path, new: &NewDataset, layout: &Layout) -> Result<(), DataError> {
    let _ = std::fs::remove_dir_all(staging);
    std::fs::create_dir_all(staging).map_err(|source| DataError::Write {
        path: staging.to_path_buf(),
        source,
    })?;
    let mut sums = Vec::new();
    for file in &new.files {
        sums.push(bring(staging, file, new.link)?);
    }
    let inferred = match layout {
        Layout::Table { file, parquet } => infer_table(new, file, *parquet)?,
        Layout::Archive(file) => infer_archive(new, file)?,
        Layout::Arrays(files) => infer_arrays(new, files)?,
        Layout::Folder(folder) => infer_images(new, &staging.join(file_name(folder)?))?,
    };
    let mut text = String::new();
    let sources: Vec<String> = (new.files.iter())
        .map(|f| std::path::absolute(f).unwrap_or_else(|_| f.clone()))
        .map(|f| f.display().to_string())
        .collect();
    let _ = writeln!(
        text,
        "# Written by `hourglass datasets add` from {}.\n# Every value can be edited; \
         the comments say where each came from.",
        sources.join(", ")
    );
    line(&mut text, "name", new.name.as_str(), "");
    line(
        &mut text,
        "format",
        inferred.format.name(),
        &inferred.format_why,
    );
    line(&mut text, "description", "", "one line on what the data is");
    match &new.licence {
        Some(licence) => line(&mut text, "licence", licence.as_str(), "--licence"),
        None => line(
            &mut text,
            "licence",
            "unknown",
            "state the data's licence here",
        ),
    }
    line(&mut text, "source", sources.join(", "), "the files added");
    let shape: Vec<toml::Value> = inferred.shape.iter().map(|&d| count(d)).collect();
    line(&mut text, "shape", shape, &inferred.shape_why);
    if let Some(classes) = &inferred.classes {
        line(&mut text, "classes", count(classes.count), &classes.why);
        if let Some(names) = &classes.names {
            let names: Vec<toml::Value> = names.iter().map(|n| n.as_str().into()).collect();
            line(
                &mut text,
                "class_names",
                names,
                "by label, as in the legends",
            );
        }
    }
    if let Some(anomaly) = new.anomaly_label {
        line(
            &mut text,
            "anomaly_label",
            i64::from(anomaly),
            "--anomaly-label",
        );
    }
    let standardize_why = if new.standardize {
        "--standardize: z-scores with the training split's statistics"
    } else {
        "inputs as stored (--standardize for z-scores)"
    };
    line(&mut text, "standardize", new.standardize, standardize_why);
    text.push('\n');
    text.push_str(&inferred.section);
    text.push_str("\n[sha256]\n");
    for (name, sum) in &sums {
        let _ = writeln!(text, "{} = \"{sum}\"", toml::Value::from(name.as_str()));
    }
    let path = staging.join("dataset.toml");
    hourglass_spec::result::write_atomic(&path, text.as_bytes())
        .map_err(|source| DataError::Write { path, source })
}

/// The last component of `file`'s path.
fn file_name(file: &Path) -> Result<String, DataError> {
    let absolute = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    (absolute.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| DataError::Read {
            path: file.to_path_buf(),
            source: std::io::Error::other("not a file or folder"),
        })
}

/// Copies the images of `folder` (and of its class sub-folders) to `target`.
fn copy_images(folder: &Path, target: &Path) -> Result<(), DataError> {
    let (listed, _) = image_folder::list(folder, image_folder::has_classes(folder)?)?;
    std::fs::create_dir_all(target).map_err(|source| DataError::Write {
        path: target.to_path_buf(),
        source,
    })?;
    for image in &listed {
        let (from, to) = (folder.join(&image.path), target.join(&image.path));
        let parent = to.parent().unwrap_or(target);
        std::fs::create_dir_all(parent)
            .and_then(|()| std::fs::copy(&from, &to))
            .map_err(|source| DataError::Write { path: to, source })?;
    }
    Ok(())
}

/// Copies (or links) `file` into `staging`, returning its name there and its sha256 (a
/// folder's: [`image_folder::read_folder`]'s).
fn bring(staging: &Path, file: &Path, link: bool) -> Result<(String, String), DataError> {
    let name = file_name(file)?;
    let target = staging.join(&name);
    let written = |source| DataError::Write {
        path: target.clone(),
        source,
    };
    if link {
        let absolute = std::path::absolute(file).map_err(written)?;
        std::os::unix::fs::symlink(&absolute, &target).map_err(written)?;
    } else if file.is_dir() {
        copy_images(file, &target)?;
    } else {
        std::fs::copy(file, &target).map_err(|source| DataError::Read {
            path: file.to_path_buf(),
            source,
        })?;
    }
    if file.is_dir() {
        let (listed, _) = image_folder::list(&target, image_folder::has_classes(&target)?)?;
        let (sum, _) = image_folder::read_folder(&target, &listed)?;
        return Ok((name, sum));
    }
    let mut hasher = Sha256::new();
    let mut reader = std::fs::File::open(&target).map_err(|source| DataError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    std::io::copy(&mut reader, &mut hasher).map_err(|source| DataError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    Ok((name, hex(&hasher.finalize())))
}

/// What inspecting the files found.
struct Inferred {
    format: Format,
    format_why: String,
    shape: Vec<usize>,
    shape_why: String,
    classes: Option<Classes>,
    /// The `[table]` or `[arrays]` section.
    section: String,
}

/// The classes found: how many, how that was found, and their names where the files give
/// them.
struct Classes {
    count: usize,
    why: String,
    names: Option<Vec<String>>,
}

/// The number of classes of `labels`: one more than the largest.
fn classes_of(labels: &[u8], whence: &str) -> Option<Classes> {
    let distinct: BTreeSet<u8> = labels.iter().copied().collect();
    let largest = *distinct.last()?;
    Some(Classes {
        count: usize::from(largest) + 1,
        why: format!(
            "labels 0..={largest} in {whence} ({} distinct)",
            distinct.len()
        ),
        names: None,
    })
}

/// The split section's common keys.
fn held_out_keys(section: &mut String, new: &NewDataset) {
    line(
        section,
        "test_fraction",
        new.test_fraction,
        "--test-fraction",
    );
    line(
        section,
        "split_seed",
        i64::try_from(new.split_seed).unwrap_or(i64::MAX),
        "--split-seed: which examples are held out",
    );
}

fn infer_table(new: &NewDataset, file: &Path, parquet: bool) -> Result<Inferred, DataError> {
    let bytes = std::fs::read(file).map_err(|source| DataError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let gzipped = file.extension().is_some_and(|e| e == "gz");
    let header = if gzipped {
        let mut start = Vec::new();
        let _ = std::io::Read::read_to_end(
            &mut std::io::Read::take(flate2::read::GzDecoder::new(bytes.as_slice()), 1 << 16),
            &mut start,
        );
        tabular::starts_with_header(&start)
    } else {
        tabular::starts_with_header(&bytes)
    };
    let frame = if parquet {
        tabular::read_parquet(file, bytes)?
    } else {
        tabular::read_csv(file, bytes, header, 0)?
    };
    let columns = frame.width();
    let label_columns = usize::from(new.label.is_some());
    if columns <= label_columns {
        return Err(DataError::Decode {
            path: file.to_path_buf(),
            message: format!("{columns} columns leave no feature column"),
        });
    }
    let classes = match &new.label {
        Some(label) => {
            let labels = tabular::label_column(&frame, label, file)?;
            classes_of(&labels, &format!("column `{label}`"))
        }
        None => None,
    };
    let features = columns - label_columns;
    let mut section = String::from("[table]\n");
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    line(&mut section, "file", name.as_ref(), "");
    if !parquet {
        let why = if header {
            "the first line names the columns"
        } else {
            "the first line is numbers: columns are column_1, column_2, ..."
        };
        line(&mut section, "header", header, why);
    }
    if let Some(label) = &new.label {
        line(&mut section, "label", label.as_str(), "--label");
    }
    line(&mut section, "rows", count(frame.height()), "counted");
    held_out_keys(&mut section, new);
    let format = if parquet {
        Format::Parquet
    } else {
        Format::Csv
    };
    Ok(Inferred {
        format,
        format_why: format!("from the extension of {name}"),
        shape: vec![features],
        shape_why: match &new.label {
            Some(label) => format!("{features} feature columns: every column but `{label}`"),
            None => format!("{features} feature columns: every column (no --label)"),
        },
        classes,
        section,
    })
}

fn infer_archive(new: &NewDataset, file: &Path) -> Result<Inferred, DataError> {
    let bytes = std::fs::read(file).map_err(|source| DataError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    let names = crate::arrays::npz_arrays(file, &bytes)?;
    let features = match (&new.features, &new.label) {
        (Some(features), _) => features.clone(),
        (None, label) => {
            let others: Vec<&String> = names
                .iter()
                .filter(|n| Some(*n) != label.as_ref())
                .collect();
            match others[..] {
                [features] => features.clone(),
                _ => {
                    return Err(DataError::Decode {
                        path: file.to_path_buf(),
                        message: format!(
                            "holds arrays {}: name the features with --features and the labels \
                             with --label",
                            names.join(", ")
                        ),
                    });
                }
            }
        }
    };
    let source = Source::member(file, &features);
    let member = crate::arrays::npz_member(&source, &bytes, 1)?;
    let (examples, dims) = crate::arrays::example_shape(&source, &member)?;
    let shape = manifest_shape(&dims);
    let classes = match &new.label {
        Some(label) => {
            let source = Source::member(file, label);
            let member = crate::arrays::npz_member(&source, &bytes, 1)?;
            let labels = crate::arrays::read_labels(&source, &member, examples)?;
            classes_of(&labels, &format!("array `{label}`"))
        }
        None => None,
    };
    let mut section = String::from("[arrays]\n");
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    line(&mut section, "archive", name.as_ref(), "");
    line(&mut section, "features", features.as_str(), "");
    if let Some(label) = &new.label {
        line(&mut section, "labels", label.as_str(), "--label");
    }
    arrays_tail(&mut section, new, examples);
    Ok(Inferred {
        format: Format::Npy,
        format_why: format!("an .npz archive: {name}"),
        shape_why: format!("array `{features}` without its first (examples) dimension"),
        shape,
        classes,
        section,
    })
}

fn infer_arrays(new: &NewDataset, files: &[PathBuf]) -> Result<Inferred, DataError> {
    let read = |file: &PathBuf| {
        std::fs::read(file).map_err(|source| DataError::Read {
            path: file.clone(),
            source,
        })
    };
    // With two files, the labels are the one-dimensional one.
    let mut arrays = Vec::new();
    for file in files {
        let bytes = read(file)?;
        let (examples, shape) = crate::arrays::example_shape(&Source::file(file), &bytes)?;
        arrays.push((file, bytes, examples, shape));
    }
    if arrays.len() == 2 && arrays[0].3.is_empty() {
        arrays.swap(0, 1);
    }
    let (features_file, _, examples, dims) = &arrays[0];
    let shape = manifest_shape(dims);
    let classes = match arrays.get(1) {
        Some((file, bytes, _, _)) => {
            let labels = crate::arrays::read_labels(&Source::file(file), bytes, *examples)?;
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            classes_of(&labels, &name)
        }
        None => None,
    };
    let name = |file: &PathBuf| {
        file.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let mut section = String::from("[arrays]\n");
    line(&mut section, "features", name(features_file), "");
    if let Some((file, ..)) = arrays.get(1) {
        line(
            &mut section,
            "labels",
            name(file),
            "the one-dimensional array",
        );
    }
    arrays_tail(&mut section, new, *examples);
    Ok(Inferred {
        format: Format::Npy,
        format_why: "from the extension .npy".into(),
        shape_why: format!(
            "{} without its first (examples) dimension",
            name(features_file)
        ),
        shape,
        classes,
        section,
    })
}

/// The images of `folder` (the staged copy): labelled when it holds sub-folders; the shape of
/// the first image, grey or RGB.
fn infer_images(new: &NewDataset, folder: &Path) -> Result<Inferred, DataError> {
    let labelled = image_folder::has_classes(folder)?;
    let (listed, classes) = image_folder::list(folder, labelled)?;
    let first = listed.first().ok_or_else(|| DataError::Decode {
        path: folder.to_path_buf(),
        message: "holds no .png, .jpg or .jpeg image (in it, or in class sub-folders)".into(),
    })?;
    let first_path = folder.join(&first.path);
    let image = image::ImageReader::open(&first_path)
        .and_then(|reader| reader.with_guessed_format())
        .map_err(|source| DataError::Read {
            path: first_path.clone(),
            source,
        })?;
    let (width, height) = image.into_dimensions().map_err(|e| DataError::Decode {
        path: first_path.clone(),
        message: format!("not a PNG or JPEG image: {e}"),
    })?;
    let colour = image::open(&first_path).is_ok_and(|image| image.color().has_color());
    let channels = if colour { 3 } else { 1 };
    let shape = vec![channels, height as usize, width as usize];
    let name = file_name(folder)?;
    let mut section = String::from("[images]\n");
    line(&mut section, "folder", name.as_str(), "");
    let why = if labelled {
        format!("one sub-folder per class: {}", classes.join(", "))
    } else {
        "the images themselves, no class sub-folders".to_string()
    };
    line(&mut section, "labelled", labelled, &why);
    let resize_why = if new.resize {
        "--resize: images of another size are resized"
    } else {
        "images of another size are refused (--resize to resize them)"
    };
    line(&mut section, "resize", new.resize, resize_why);
    line(&mut section, "examples", count(listed.len()), "counted");
    held_out_keys(&mut section, new);
    Ok(Inferred {
        format: Format::Images,
        format_why: "a folder".into(),
        shape_why: format!(
            "{} of the first image, {}",
            if colour { "RGB" } else { "grey levels" },
            first.path
        ),
        shape,
        classes: labelled.then(|| Classes {
            count: classes.len(),
            why: "one per sub-folder, labelled in sorted order".into(),
            names: Some(classes),
        }),
        section,
    })
}

/// The manifest's shape of examples of `dims` (an array's shape without its first
/// dimension): a grey image for two dimensions, one value for none.
fn manifest_shape(dims: &[usize]) -> Vec<usize> {
    match dims {
        [] => vec![1],
        [height, width] => vec![1, *height, *width],
        dims => dims.to_vec(),
    }
}

fn arrays_tail(section: &mut String, new: &NewDataset, examples: usize) {
    line(section, "examples", count(examples), "the first dimension");
    held_out_keys(section, new);
}

/// Loads both splits of the staged data set and says what they hold.
fn summarise(dir: &Path, manifest: Manifest) -> Result<Added, DataError> {
    let train = read_split(dir, &manifest, "train")?;
    let test = read_split(dir, &manifest, "test")?;
    let labelled = manifest.classes.is_some();
    let mut counts = std::collections::BTreeMap::new();
    let mut range = (f32::INFINITY, f32::NEG_INFINITY);
    for split in [&train, &test] {
        if labelled {
            for &label in &split.labels {
                *counts.entry(label).or_insert(0) += 1;
            }
        }
        range = split_range(split, range);
    }
    Ok(Added {
        dir: dir.to_path_buf(),
        train: train.len(),
        test: test.len(),
        label_counts: counts.into_iter().collect(),
        range,
        manifest,
    })
}

fn split_range(split: &Split, (low, high): (f32, f32)) -> (f32, f32) {
    split
        .inputs
        .iter()
        .fold((low, high), |(low, high), &v| (low.min(v), high.max(v)))
}

/// Moves `staging` to `target`, replacing a folder there.
fn publish(staging: &Path, target: &Path) -> std::io::Result<()> {
    if target.exists() {
        let mut old = staging.as_os_str().to_owned();
        old.push("-replaced");
        let old = PathBuf::from(old);
        std::fs::rename(target, &old)?;
        std::fs::rename(staging, target)?;
        std::fs::remove_dir_all(&old)
    } else {
        std::fs::rename(staging, target)
    }
}
