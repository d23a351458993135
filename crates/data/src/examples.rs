//! New examples for a saved model, from a user's file: a CSV or Parquet table of numeric
//! columns, an IDX file of images (gzipped or not), or a folder of PNG and JPEG images, grey or
//! colour. Everything is checked before a value is used: the shape against the model's input,
//! every cell numeric and finite; an error names the file and the first offending row or image.

use std::path::Path;

use polars::prelude::*;

use crate::{DataError, idx};

/// Examples read for a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Examples {
    /// What names each example in outputs: `row N` of a table (data rows counted from 1),
    /// `image N` of an IDX file, the file name of a PNG.
    pub names: Vec<String>,
    /// The inputs, one row of the model's input after another, as stored (before any
    /// standardisation); images in [0, 1].
    pub inputs: Vec<f32>,
    /// Whether the examples are images.
    pub images: bool,
    /// A table's column names; empty for images.
    pub columns: Vec<String>,
}

/// Reads the examples at `path` for a model whose input has `shape` (`[features]`, or
/// `[channels, height, width]`): a folder of PNG or JPEG images, a `.csv`, a `.parquet`, a
/// NumPy `.npy` array, or else an IDX file.
pub fn read_examples(path: &Path, shape: &[usize]) -> Result<Examples, DataError> {
    let features: usize = shape.iter().product();
    if path.is_dir() {
        return read_pngs(path, shape);
    }
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let extension = path.extension().map(|e| e.to_string_lossy().to_lowercase());
    let frame = match extension.as_deref() {
        Some("csv") => read_csv(path, bytes)?,
        Some("parquet") => crate::tabular::read_parquet(path, bytes)?,
        Some("npy") => return read_npy(path, &bytes, shape),
        _ => return read_idx(path, &bytes, shape),
    };
    table_examples(path, &frame, features)
}

fn decode(path: &Path, message: String) -> DataError {
    DataError::Decode {
        path: path.to_path_buf(),
        message,
    }
}

/// A CSV table, with a header line unless its first line is all numbers.
fn read_csv(path: &Path, bytes: Vec<u8>) -> Result<DataFrame, DataError> {
    let header = crate::tabular::starts_with_header(&bytes);
    crate::tabular::read_csv(path, bytes, header, 0)
}

/// The rows of `frame`, whose columns must be the model's `features`, all numeric and finite.
fn table_examples(path: &Path, frame: &DataFrame, features: usize) -> Result<Examples, DataError> {
    if frame.width() != features {
        return Err(decode(
            path,
            format!(
                "{} columns, but the model takes {features} features per example: one numeric \
                 column per feature, nothing else (no label or id column)",
                frame.width()
            ),
        ));
    }
    let rows = frame.height();
    let mut inputs = vec![0.0f32; rows.saturating_mul(features)];
    for (j, column) in frame.columns().iter().enumerate() {
        let name = column.name().to_string();
        let values = column
            .cast(&DataType::Float32)
            .and_then(|column| column.f32().cloned())
            .map_err(|e| decode(path, format!("column `{name}` is not numeric: {e}")))?;
        for (row, value) in values.iter().enumerate() {
            match value {
                Some(value) if value.is_finite() => inputs[row * features + j] = value,
                Some(value) => {
                    return Err(decode(
                        path,
                        format!("row {}, column `{name}`: {value} is not finite", row + 1),
                    ));
                }
                None => {
                    return Err(decode(
                        path,
                        format!("row {}, column `{name}`: empty or not a number", row + 1),
                    ));
                }
            }
        }
    }
    Ok(Examples {
        names: (1..=rows).map(|row| format!("row {row}")).collect(),
        inputs,
        images: false,
        columns: (frame.get_column_names().iter())
            .map(|name| name.to_string())
            .collect(),
    })
}

/// The images of an IDX file of bytes, `[count, height, width]`, scaled to [0, 1].
/// A NumPy array `[examples, ...]` of the model's input per example (float32, float64, or
/// uint8 scaled to [0, 1], as a data set's arrays): images when the model takes images, else
/// rows whose columns are named `feature_0`, `feature_1`, ...
fn read_npy(path: &Path, bytes: &[u8], shape: &[usize]) -> Result<Examples, DataError> {
    let source = crate::arrays::Source::file(path);
    let (count, dims) = crate::arrays::example_shape(&source, bytes)?;
    let features: usize = shape.iter().product();
    // A grey model takes `[1, h, w]`; an array of grey images is `[n, h, w]`.
    let same = dims == shape || (shape.first() == Some(&1) && dims == shape[1..]);
    if !same {
        return Err(decode(
            path,
            format!(
                "an array of shape {dims:?} per example, but the model takes {shape:?}: \
                 [examples, {}]",
                (shape.iter().map(ToString::to_string))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let inputs = crate::arrays::read_features(&source, bytes, count, features)?;
    let images = shape.len() == 3;
    Ok(Examples {
        names: (1..=count)
            .map(|example| format!("example {example}"))
            .collect(),
        inputs,
        images,
        columns: if images {
            Vec::new()
        } else {
            (0..features).map(|j| format!("feature_{j}")).collect()
        },
    })
}

fn read_idx(path: &Path, bytes: &[u8], shape: &[usize]) -> Result<Examples, DataError> {
    let array = idx::read_u8(path, bytes)?;
    let [1, height, width] = shape[..] else {
        return Err(decode(
            path,
            format!(
                "an IDX file holds grayscale images; the model takes inputs of shape {shape:?}"
            ),
        ));
    };
    let [count, file_height, file_width] = array.dims[..] else {
        return Err(decode(
            path,
            format!(
                "dimensions {:?} are not [images, height, width]",
                array.dims
            ),
        ));
    };
    if [file_height, file_width] != [height, width] {
        return Err(decode(
            path,
            format!(
                "images of {file_height}x{file_width} pixels, but the model takes \
                 {height}x{width}"
            ),
        ));
    }
    Ok(Examples {
        names: (1..=count).map(|image| format!("image {image}")).collect(),
        inputs: array.values.iter().map(|&v| f32::from(v) / 255.0).collect(),
        images: true,
        columns: Vec::new(),
    })
}

/// The PNG and JPEG images of `folder`, in file-name order, of the model's size, as grey or
/// RGB as the model takes them (a colour image read for a grey model is converted to its
/// luminance, as torchvision's `Grayscale` does).
fn read_pngs(folder: &Path, shape: &[usize]) -> Result<Examples, DataError> {
    let [channels @ (1 | 3), height, width] = shape[..] else {
        return Err(decode(
            folder,
            format!("a folder holds images; the model takes inputs of shape {shape:?}"),
        ));
    };
    let (listed, _) = crate::image_folder::list(folder, false)?;
    if listed.is_empty() {
        return Err(decode(folder, "holds no .png, .jpg or .jpeg file".into()));
    }
    let mut examples = Examples {
        names: Vec::with_capacity(listed.len()),
        inputs: Vec::with_capacity(listed.len().saturating_mul(shape.iter().product())),
        images: true,
        columns: Vec::new(),
    };
    for image in &listed {
        let file = folder.join(&image.path);
        let bytes = std::fs::read(&file).map_err(|source| DataError::Read {
            path: file.clone(),
            source,
        })?;
        let pixels = crate::image_folder::decode(&file, &bytes, [channels, height, width], false)?;
        examples.inputs.extend(pixels);
        examples.names.push(image.path.clone());
    }
    Ok(examples)
}

/// Writes a table of one row per example, `example` (its name) then `columns`, as
/// `folder/stem.csv` and `folder/stem.parquet`; `values` holds the rows one after another.
pub fn write_table(
    folder: &Path,
    stem: &str,
    names: &[String],
    columns: &[String],
    values: &[f64],
) -> Result<(), DataError> {
    let width = columns.len();
    let mut series = vec![Column::new("example".into(), names)];
    for (j, column) in columns.iter().enumerate() {
        let values: Vec<f64> = values
            .iter()
            .skip(j)
            .step_by(width.max(1))
            .copied()
            .collect();
        series.push(Column::new(column.as_str().into(), values));
    }
    let mut frame = DataFrame::new(names.len(), series)
        .map_err(|e| decode(folder, format!("cannot build the table {stem}: {e}")))?;
    let write = |extension: &str, frame: &mut DataFrame| -> Result<(), DataError> {
        let path = folder.join(format!("{stem}.{extension}"));
        let written = std::fs::File::create(&path).and_then(|file| {
            let result = if extension == "csv" {
                CsvWriter::new(file).finish(frame).map(|_| ())
            } else {
                ParquetWriter::new(file).finish(frame).map(|_| ())
            };
            result.map_err(std::io::Error::other)
        });
        written.map_err(|source| DataError::Write { path, source })
    };
    write("csv", &mut frame)?;
    write("parquet", &mut frame)
}

/// Writes each example's image as an 8-bit grey or RGB PNG in `folder` (created): `values`
/// holds the images one after another, `[channels, height, width]` each, channels first, in
/// [0, 1] (clamped). A PNG keeps its name; other examples are named `image-N.png`.
pub fn write_pngs(
    folder: &Path,
    names: &[String],
    values: &[f32],
    [channels, height, width]: [usize; 3],
) -> Result<(), DataError> {
    let failed = |path: &Path, error: String| DataError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(error),
    };
    std::fs::create_dir(folder).map_err(|source| DataError::Write {
        path: folder.to_path_buf(),
        source,
    })?;
    let plane = height.saturating_mul(width).max(1);
    let colour = if channels == 3 {
        image::ColorType::Rgb8
    } else {
        image::ColorType::L8
    };
    for (name, image) in names.iter().zip(values.chunks(plane * channels)) {
        // Channels first to interleaved pixels, as PNG stores them.
        let bytes: Vec<u8> = (0..image.len())
            .map(|at| image[(at % channels) * plane + at / channels])
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
            .collect();
        let file = if name.to_ascii_lowercase().ends_with(".png") {
            folder.join(name)
        } else {
            folder.join(format!("{}.png", name.replace([' ', '/'], "-")))
        };
        let (width, height) = (u32::try_from(width), u32::try_from(height));
        let (Ok(width), Ok(height)) = (width, height) else {
            return Err(failed(&file, "an image too large for PNG".into()));
        };
        image::save_buffer(&file, &bytes, width, height, colour)
            .map_err(|e| failed(&file, e.to_string()))?;
    }
    Ok(())
}
