//! Tabular and time-series data sets, read with polars: a CSV table split into train and test
//! by a seeded shuffle fixed by the data set, and a univariate series cut into sliding windows.
//!
//! Values are kept as they are; a manifest with `standardize = true` asks the caller to
//! standardise them with the training examples' statistics ([`crate::Standardization`]).

use std::io::{Cursor, Read};
use std::path::Path;

use flate2::read::GzDecoder;
use polars::prelude::*;

use crate::DataError;
use crate::manifest::{Format, Manifest, SeriesFiles, TableFile};
use crate::split::Split;

/// Split `name` ("train" or "test") of a `csv` or `parquet` data set whose file holds `bytes`.
pub(crate) fn table_split(
    manifest: &Manifest,
    table: &TableFile,
    path: &Path,
    bytes: Vec<u8>,
    name: &str,
) -> Result<Split, DataError> {
    let decode = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    crate::memory::check_fits(path, table.rows, manifest.features())?;
    let frame = match manifest.format {
        Format::Parquet => read_parquet(path, bytes)?,
        _ => read_csv(path, bytes, table.header.unwrap_or(true), table.skip_lines)?,
    };
    if frame.height() != table.rows {
        return Err(decode(format!(
            "{} rows, the manifest says {}",
            frame.height(),
            table.rows
        )));
    }
    let labels = match &table.label {
        Some(label) => label_column(&frame, label, path)?,
        None => vec![0; frame.height()],
    };
    let features: Vec<String> = frame
        .get_column_names()
        .into_iter()
        .map(|c| c.to_string())
        .filter(|c| Some(c) != table.label.as_ref())
        .collect();
    if features.len() != manifest.features() {
        return Err(decode(format!(
            "{} feature columns, the manifest's shape {:?} needs {}",
            features.len(),
            manifest.shape,
            manifest.features()
        )));
    }
    let columns = features
        .iter()
        .map(|c| float_column(&frame, c, path))
        .collect::<Result<Vec<_>, _>>()?;
    let inputs = (0..frame.height())
        .flat_map(|row| columns.iter().map(move |column| column[row]))
        .collect();
    let all = Split {
        shape: manifest.shape.clone(),
        inputs,
        labels,
    };
    all.check_labels(manifest, path)?;
    let (train, test) = all.partition(table.test_fraction, table.split_seed);
    match name {
        "train" => Ok(train),
        "test" => Ok(test),
        _ => Err(manifest.no_split(name)),
    }
}

/// Parses Parquet bytes.
/// The footer is checked first: polars sizes allocations from it
/// ([`crate::parquet_footer`]).
pub(crate) fn read_parquet(path: &Path, bytes: Vec<u8>) -> Result<DataFrame, DataError> {
    crate::parquet_footer::check(&bytes)
        .and_then(|()| caught(|| ParquetReader::new(Cursor::new(bytes)).finish()))
        .map_err(|message| DataError::Decode {
            path: path.to_path_buf(),
            message: format!("not a valid Parquet table: {message}"),
        })
}

/// Runs a polars reader, with a panic inside it turned into an error like its own.
///
/// polars 0.55 panics on some malformed files instead of returning an error, both found by
/// `cargo xtask fuzz data` and pinned in this crate's tests: polars-parquet's thrift footer
/// reader (`expect("thrift bool field")`), and polars-io's CSV line parser ("slice index starts
/// at 1 but ends at 0", on a rayon thread; rayon hands the panic back to the caller).
fn caught<T>(read: impl FnOnce() -> PolarsResult<T>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
        Ok(read) => read.map_err(|error| error.to_string()),
        Err(panic) => {
            let why = (panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("its structure is malformed ({why})"))
        }
    }
}

/// The sliding windows of a `series` data set's file for one split, holding `bytes`.
pub(crate) fn series_split(
    manifest: &Manifest,
    series: &SeriesFiles,
    path: &Path,
    bytes: Vec<u8>,
) -> Result<Split, DataError> {
    let frame = read_csv(path, bytes, true, 0)?;
    let values = float_column(&frame, &series.value, path)?;
    let marks = label_column(&frame, &series.label, path)?;
    let window = manifest.features();
    if values.len() < window {
        return Err(DataError::Decode {
            path: path.to_path_buf(),
            message: format!("{} points, fewer than one window of {window}", values.len()),
        });
    }
    let starts: Vec<usize> = (0..=values.len() - window).step_by(series.stride).collect();
    Ok(Split {
        shape: manifest.shape.clone(),
        inputs: starts
            .iter()
            .flat_map(|&s| values[s..s + window].iter().copied())
            .collect(),
        labels: starts
            .iter()
            .map(|&s| u8::from(marks[s..s + window].iter().any(|&m| m != 0)))
            .collect(),
    })
}

/// Whether CSV `bytes` start with a header line: one whose cells are not all numbers.
pub(crate) fn starts_with_header(bytes: &[u8]) -> bool {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(first)
        .trim()
        .split(',')
        .any(|cell| cell.trim().parse::<f64>().is_err())
}

/// Parses CSV bytes (gunzipped first when `path` ends in `.gz`).
pub(crate) fn read_csv(
    path: &Path,
    bytes: Vec<u8>,
    header: bool,
    skip_lines: usize,
) -> Result<DataFrame, DataError> {
    let decode = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut raw = Vec::new();
        GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut raw)
            .map_err(|e| decode(format!("not valid gzip: {e}")))?;
        raw
    } else {
        bytes
    };
    caught(|| {
        CsvReadOptions::default()
            .with_has_header(header)
            .with_skip_rows(skip_lines)
            .with_infer_schema_length(None)
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
    })
    .map_err(|message| decode(format!("not a valid CSV table: {message}")))
}

/// Column `name` as `f32`, refusing missing and non-numeric values.
fn float_column(frame: &DataFrame, name: &str, path: &Path) -> Result<Vec<f32>, DataError> {
    let decode = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message: format!("column `{name}`: {message}"),
    };
    let column = frame
        .column(name)
        .map_err(|_| {
            let names = frame.get_column_names();
            let names: Vec<&str> = names.iter().map(|c| c.as_str()).collect();
            decode(format!("not found (columns: {})", names.join(", ")))
        })?
        .cast(&DataType::Float32)
        .map_err(|e| decode(format!("not numeric: {e}")))?;
    let mut values = Vec::with_capacity(column.len());
    for (row, value) in column
        .f32()
        .map_err(|e| decode(e.to_string()))?
        .iter()
        .enumerate()
    {
        match value {
            Some(value) if value.is_finite() => values.push(value),
            Some(value) => {
                return Err(decode(format!(
                    "row {}: {value} is not a finite number",
                    row + 1
                )));
            }
            None => return Err(decode(format!("row {} is empty or not a number", row + 1))),
        }
    }
    Ok(values)
}

/// Column `name` as labels in `0..=255`.
pub(crate) fn label_column(
    frame: &DataFrame,
    name: &str,
    path: &Path,
) -> Result<Vec<u8>, DataError> {
    float_column(frame, name, path)?
        .into_iter()
        .enumerate()
        .map(|(row, value)| {
            (value.fract() == 0.0 && (0.0..=255.0).contains(&value))
                .then_some(value as u8)
                .ok_or_else(|| DataError::Decode {
                    path: path.to_path_buf(),
                    message: format!(
                        "column `{name}`, row {}: label {value} is not a whole number in 0..=255",
                        row + 1
                    ),
                })
        })
        .collect()
}
