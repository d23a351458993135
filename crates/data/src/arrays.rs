//! NumPy data sets: features and labels as `.npy` files, or as arrays in one `.npz` archive,
//! read with `npyz` (the archive with `zip`). A user's arrays are untrusted input: the header's
//! length, shape and dtype are checked against the bytes the file holds, and the data set's
//! size against memory ([`crate::memory`]), before anything that large is allocated.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar};

use crate::DataError;
use crate::manifest::{ArraysFile, Manifest};
use crate::split::Split;

/// The first bytes of every `.npy` file.
const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Split `name` ("train" or "test") of an `npy` data set in `dir`; `read` reads a file of the
/// folder, checked against its sha256.
pub(crate) fn arrays_split(
    manifest: &Manifest,
    arrays: &ArraysFile,
    dir: &Path,
    read: impl Fn(&str) -> Result<Vec<u8>, DataError>,
    name: &str,
) -> Result<Split, DataError> {
    let features = manifest.features();
    let archive = match &arrays.archive {
        Some(file) => Some((dir.join(file), read(file)?)),
        None => None,
    };
    let array = |array: &str| -> Result<(Source, Vec<u8>), DataError> {
        match &archive {
            Some((path, bytes)) => {
                let source = Source::member(path, array);
                let member = npz_member(&source, bytes, features)?;
                Ok((source, member))
            }
            None => Ok((Source::file(&dir.join(array)), read(array)?)),
        }
    };
    let (source, bytes) = array(&arrays.features)?;
    let inputs = read_features(&source, &bytes, arrays.examples, features)?;
    drop(bytes);
    let labels = match &arrays.labels {
        Some(labels) => {
            let (source, bytes) = array(labels)?;
            read_labels(&source, &bytes, arrays.examples)?
        }
        None => vec![0; arrays.examples],
    };
    let all = Split {
        shape: manifest.shape.clone(),
        inputs,
        labels,
    };
    let labels_path = match (&archive, &arrays.labels) {
        (Some((path, _)), _) => path.clone(),
        (None, Some(labels)) => dir.join(labels),
        (None, None) => dir.join(&arrays.features),
    };
    all.check_labels(manifest, &labels_path)?;
    let (train, test) = all.partition(arrays.test_fraction, arrays.split_seed);
    match name {
        "train" => Ok(train),
        "test" => Ok(test),
        _ => Err(manifest.no_split(name)),
    }
}

/// Where an array comes from, for messages: a file, or an array in an archive.
pub(crate) struct Source {
    path: PathBuf,
    member: Option<String>,
}

impl Source {
    pub(crate) fn file(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            member: None,
        }
    }

    pub(crate) fn member(archive: &Path, array: &str) -> Self {
        Self {
            path: archive.to_path_buf(),
            member: Some(array.to_string()),
        }
    }

    fn error(&self, message: impl std::fmt::Display) -> DataError {
        DataError::Decode {
            path: self.path.clone(),
            message: match &self.member {
                Some(member) => format!("array `{member}`: {message}"),
                None => message.to_string(),
            },
        }
    }
}

/// The names of the arrays in the `.npz` archive `bytes` at `path`, sorted.
pub(crate) fn npz_arrays(path: &Path, bytes: &[u8]) -> Result<Vec<String>, DataError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_archive(path, e))?;
    let mut names: Vec<String> = (archive.file_names())
        .filter_map(|file| Some(file.ok()?.strip_suffix(".npy")?.to_string()))
        .collect();
    names.sort();
    Ok(names)
}

fn not_archive(path: &Path, error: zip::result::ZipError) -> DataError {
    DataError::Decode {
        path: path.to_path_buf(),
        message: format!("not a NumPy .npz archive (a zip file): {error}"),
    }
}

/// The bytes of array `source.member` of the `.npz` archive `bytes`, refusing a member larger
/// than a data set of `features` per example could be.
pub(crate) fn npz_member(
    source: &Source,
    bytes: &[u8],
    features: usize,
) -> Result<Vec<u8>, DataError> {
    let name = source.member.as_deref().unwrap_or_default();
    let names = npz_arrays(&source.path, bytes)?;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| not_archive(&source.path, e))?;
    let mut member = archive.by_name(&format!("{name}.npy")).map_err(|_| {
        source.error(format!(
            "not in the archive (it holds: {})",
            if names.is_empty() {
                "no arrays".into()
            } else {
                names.join(", ")
            }
        ))
    })?;
    // A member's declared size can lie: read at most what the budget allows, plus one byte to
    // tell a larger one.
    let limit = crate::memory::data_budget()
        .unwrap_or(u64::MAX)
        .max(features as u64);
    let mut data = Vec::with_capacity(usize::try_from(member.size().min(limit)).unwrap_or(0));
    (&mut member)
        .take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| source.error(format!("cannot be decompressed: {e}")))?;
    if data.len() as u64 > limit {
        return Err(source.error(format!(
            "decompresses to more than {}, more than a data set may take here",
            crate::memory::human_bytes(limit)
        )));
    }
    Ok(data)
}

/// The header of the `.npy` bytes and the bytes after it, its shape and dtype checked
/// against them.
fn header<'a>(source: &Source, bytes: &'a [u8]) -> Result<(NpyHeader, &'a [u8]), DataError> {
    if !bytes.starts_with(NPY_MAGIC) {
        let start = &bytes[..bytes.len().min(6)];
        return Err(source.error(format!(
            "not a NumPy .npy array: it starts {start:02x?}, where .npy starts \\x93NUMPY"
        )));
    }
    // The header's length comes first, in 2 bytes (version 1) or 4 (2 and 3); checked here
    // so that a length past the file's end is not allocated.
    let (length_bytes, length) = match (bytes.get(6..8), bytes.get(8..10), bytes.get(8..12)) {
        (Some([1, _]), Some([a, b]), _) => (2, usize::from(u16::from_le_bytes([*a, *b]))),
        (Some([2 | 3, _]), _, Some([a, b, c, d])) => {
            (4, u32::from_le_bytes([*a, *b, *c, *d]) as usize)
        }
        (Some([major @ 1..=3, _]), ..) => {
            return Err(source.error(format!(
                "ends inside its header's length (version {major} has it in bytes 8 to {})",
                if *major == 1 { 9 } else { 11 }
            )));
        }
        (Some([major, minor]), ..) => {
            return Err(source.error(format!(
                "NPY format version {major}.{minor} is not 1.0, 2.0 or 3.0"
            )));
        }
        _ => return Err(source.error("ends inside its header (byte 8)")),
    };
    let data_start = 8usize.saturating_add(length_bytes).saturating_add(length);
    if data_start > bytes.len() {
        return Err(source.error(format!(
            "its header announces {length} bytes at byte {}, but the file ends at byte {}",
            8 + length_bytes,
            bytes.len()
        )));
    }
    let mut rest = bytes;
    let header = NpyHeader::from_reader(&mut rest)
        .map_err(|e| source.error(format!("its header cannot be read: {e}")))?;
    if header.order() == Order::Fortran {
        return Err(
            source.error("stored in Fortran order; save it in C order (numpy.ascontiguousarray)")
        );
    }
    let item = header.dtype().num_bytes().unwrap_or(0);
    let needed =
        (header.shape().iter()).try_fold(item as u64, |product, &d| product.checked_mul(d));
    if needed != Some(rest.len() as u64) {
        return Err(source.error(format!(
            "its header announces shape {:?} of {} ({} bytes of data), but the file holds {} \
             bytes after its header (which ends at byte {data_start})",
            header.shape(),
            header.dtype().descr(),
            needed.map_or("more than 2^64".into(), |n| n.to_string()),
            rest.len()
        )));
    }
    Ok((header, rest))
}

/// The number of examples of an array and the shape of one (its other dimensions).
pub(crate) fn example_shape(
    source: &Source,
    bytes: &[u8],
) -> Result<(usize, Vec<usize>), DataError> {
    let (header, _) = header(source, bytes)?;
    let dims: Vec<usize> = (header.shape().iter())
        .map(|&d| usize::try_from(d))
        .collect::<Result<_, _>>()
        .map_err(|_| source.error(format!("shape {:?} is too large", header.shape())))?;
    match dims.split_first() {
        Some((&examples, rest)) if examples > 0 => Ok((examples, rest.to_vec())),
        _ => Err(source.error(format!(
            "shape {dims:?} holds no examples: the first dimension counts them"
        ))),
    }
}

/// The dtype's type character and size, for plain dtypes.
fn plain(dtype: &DType) -> Option<(TypeChar, u64)> {
    match dtype {
        DType::Plain(ty) => Some((ty.type_char(), ty.size_field())),
        _ => None,
    }
}

/// The features array `[examples, ...]` of `features` values per example, as `f32` rows:
/// float32 as stored, float64 rounded, uint8 scaled to `[0, 1]` as images are.
pub(crate) fn read_features(
    source: &Source,
    bytes: &[u8],
    examples: usize,
    features: usize,
) -> Result<Vec<f32>, DataError> {
    let (header, data) = header(source, bytes)?;
    let shape = header.shape();
    let per_example = shape
        .iter()
        .skip(1)
        .try_fold(1u64, |p, &d| p.checked_mul(d));
    if shape.first() != Some(&(examples as u64)) || per_example != Some(features as u64) {
        return Err(source.error(format!(
            "shape {shape:?}, but the manifest asks for {examples} examples of {features} \
             values: [{examples}, ...] with {features} values per example"
        )));
    }
    crate::memory::check_fits(&source.path, examples, features)?;
    let file = NpyFile::with_header(header, data);
    let unreadable = |e: std::io::Error| source.error(format!("cannot be read: {e}"));
    let values: Vec<f32> = match plain(&file.dtype()) {
        Some((TypeChar::Float, 4)) => file.into_vec::<f32>().map_err(unreadable)?,
        Some((TypeChar::Float, 8)) => (file.into_vec::<f64>().map_err(unreadable)?)
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        Some((TypeChar::Uint, 1)) => (file.into_vec::<u8>().map_err(unreadable)?)
            .into_iter()
            .map(|v| f32::from(v) / 255.0)
            .collect(),
        _ => {
            return Err(source.error(format!(
                "dtype {} is not float32, float64 or uint8",
                file.dtype().descr()
            )));
        }
    };
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(source.error(format!(
            "example {}, value {}: {} is not a finite number (as float32)",
            at / features + 1,
            at % features + 1,
            values[at]
        )));
    }
    Ok(values)
}

/// The labels array `[examples]` of integers (any width, signed or not, or bool) in `0..=255`.
pub(crate) fn read_labels(
    source: &Source,
    bytes: &[u8],
    examples: usize,
) -> Result<Vec<u8>, DataError> {
    let (header, data) = header(source, bytes)?;
    if header.shape() != [examples as u64] {
        return Err(source.error(format!(
            "shape {:?}, but labels are one integer per example: [{examples}]",
            header.shape()
        )));
    }
    let file = NpyFile::with_header(header, data);
    match plain(&file.dtype()) {
        Some((TypeChar::Bool, 1)) => as_labels(source, file.into_vec::<bool>()),
        Some((TypeChar::Uint, 1)) => as_labels(source, file.into_vec::<u8>()),
        Some((TypeChar::Uint, 2)) => as_labels(source, file.into_vec::<u16>()),
        Some((TypeChar::Uint, 4)) => as_labels(source, file.into_vec::<u32>()),
        Some((TypeChar::Uint, 8)) => as_labels(source, file.into_vec::<u64>()),
        Some((TypeChar::Int, 1)) => as_labels(source, file.into_vec::<i8>()),
        Some((TypeChar::Int, 2)) => as_labels(source, file.into_vec::<i16>()),
        Some((TypeChar::Int, 4)) => as_labels(source, file.into_vec::<i32>()),
        Some((TypeChar::Int, 8)) => as_labels(source, file.into_vec::<i64>()),
        _ => Err(source.error(format!(
            "dtype {} of labels is not an integer type",
            file.dtype().descr()
        ))),
    }
}

/// Integer labels as bytes, refusing one outside `0..=255` with its example (from 1).
fn as_labels<T>(source: &Source, values: std::io::Result<Vec<T>>) -> Result<Vec<u8>, DataError>
where
    T: Copy + TryInto<u8> + std::fmt::Display,
{
    let values = values.map_err(|e| source.error(format!("cannot be read: {e}")))?;
    (values.iter().enumerate())
        .map(|(at, &label)| {
            label.try_into().map_err(|_| {
                source.error(format!(
                    "example {}: label {label} is not a whole number in 0..=255",
                    at + 1
                ))
            })
        })
        .collect()
}
