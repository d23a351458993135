//! Time to load MNIST's training images in each format a data set can take: the shipped
//! gzipped IDX files (the baseline), and the same pixels written as a CSV table, a Parquet
//! table, `.npy` files (uint8, and float32) and an `.npz` archive, each added with
//! `hourglass_data::add`. Prints one JSON line per format. `cargo bench -p hourglass-data`
//! loads all 60,000 images; under `cargo test` it loads 2,000 of each, as a smoke test.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use hourglass_data::{NewDataset, Registry, add};
use npyz::WriterBuilder;
use polars::prelude::*;

fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], values: &[T]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut writer = (npyz::WriteOptions::new().default_dtype().shape(shape))
        .writer(&mut bytes)
        .begin_nd()
        .unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
    bytes
}

fn npz(path: &Path, arrays: &[(&str, &[u8])]) {
    let mut zip = ::zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let options = ::zip::write::SimpleFileOptions::default()
        .compression_method(::zip::CompressionMethod::Deflated);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Seconds to discover the data sets under `root` and load split `train` of `name`, the
/// fastest of three tries.
fn load_seconds(root: &Path, name: &str, examples: usize) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let split = Registry::discover(root)
                .unwrap()
                .load(name, "train")
                .unwrap();
            let seconds = start.elapsed().as_secs_f64();
            assert_eq!(split.len(), examples);
            seconds
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let mnist = Registry::discover(&shipped)
        .unwrap()
        .load("mnist", "train")
        .unwrap();
    let idx = load_seconds(&shipped, "mnist", mnist.len());
    println!(
        r#"{{"format":"idx (gzipped, shipped)","examples":{},"load_seconds":{idx:.3}}}"#,
        mnist.len()
    );

    let examples = if full { mnist.len() } else { 2_000 };
    let pixels: Vec<u8> = (mnist.inputs[..examples * 784].iter())
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    let labels: Vec<i64> = mnist.labels[..examples]
        .iter()
        .map(|&l| i64::from(l))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    let root = dir.path().join("datasets");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&root).unwrap();

    let mut columns: Vec<Column> = (0..784)
        .map(|j| {
            let values: Vec<i32> = pixels
                .iter()
                .skip(j)
                .step_by(784)
                .map(|&p| i32::from(p))
                .collect();
            Column::new(format!("p{j}").into(), values)
        })
        .collect();
    columns.push(Column::new("label".into(), labels.clone()));
    let mut frame = DataFrame::new(examples, columns).unwrap();
    CsvWriter::new(std::fs::File::create(inbox.join("mnist.csv")).unwrap())
        .finish(&mut frame)
        .unwrap();
    ParquetWriter::new(std::fs::File::create(inbox.join("mnist.parquet")).unwrap())
        .finish(&mut frame)
        .unwrap();
    let images = npy(&[examples as u64, 28, 28], &pixels);
    let floats: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let label_bytes = npy(&[examples as u64], &labels);
    std::fs::write(inbox.join("images.npy"), &images).unwrap();
    std::fs::write(inbox.join("labels.npy"), &label_bytes).unwrap();
    std::fs::create_dir(inbox.join("f32")).unwrap();
    std::fs::write(
        inbox.join("f32/images.npy"),
        npy(&[examples as u64, 28, 28], &floats),
    )
    .unwrap();
    std::fs::write(inbox.join("f32/labels.npy"), &label_bytes).unwrap();
    npz(
        &inbox.join("mnist.npz"),
        &[("images", &images), ("labels", &label_bytes)],
    );

    let cases: [(&str, &str, Vec<&str>, Option<&str>); 5] = [
        ("csv", "csv", vec!["mnist.csv"], Some("label")),
        ("parquet", "parquet", vec!["mnist.parquet"], Some("label")),
        (
            "npy (uint8)",
            "npy-u8",
            vec!["images.npy", "labels.npy"],
            None,
        ),
        (
            "npy (float32)",
            "npy-f32",
            vec!["f32/images.npy", "f32/labels.npy"],
            None,
        ),
        (
            "npz (deflated uint8)",
            "npz",
            vec!["mnist.npz"],
            Some("labels"),
        ),
    ];
    for (format, name, files, label) in cases {
        let new = NewDataset {
            label: label.map(str::to_string),
            // A split of 1 % held out: the training split is what runs load.
            test_fraction: 0.01,
            link: true,
            ..NewDataset::new(name, files.iter().map(|f| inbox.join(f)).collect())
        };
        let added = add(&root, &new).unwrap();
        let bytes: u64 = (files.iter())
            .map(|f| std::fs::metadata(inbox.join(f)).unwrap().len())
            .sum();
        let seconds = load_seconds(&root, name, added.train);
        println!(
            r#"{{"format":"{format}","examples":{examples},"file_bytes":{bytes},"load_seconds":{seconds:.3}}}"#
        );
    }
}
