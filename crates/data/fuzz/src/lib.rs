//! What the readers' fuzz target checks. The first byte of an input picks a format, the rest
//! is the file: IDX images, a CSV or Parquet table, an `.npy` features array, an `.npz`
//! archive (each as the one file of a small data set whose manifest records its sha256, so
//! that loading gets past the checksum to the decoder), or a PNG image, CSV table, NumPy
//! array or IDX file given to `read_examples` as `hourglass apply` does. Loading must return;
//! a split it returns must hold finite values of the declared shape.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use hourglass_data::{Registry, read_examples};
use sha2::{Digest, Sha256};

/// Four valid IDX labels.
const LABELS_IDX: [u8; 12] = [0, 0, 8, 1, 0, 0, 0, 4, 0, 1, 0, 1];

/// The manifest heads of the formats, each for four examples of two features (IDX: 2x2
/// pixels) whose one fuzzed file is `data`.
const MANIFESTS: [(&str, &str); 5] = [
    (
        "idx",
        "shape = [1, 2, 2]\nclasses = 2\n[splits.train]\nexamples = 4\nimages = \"data\"\n\
         labels = \"labels\"\n",
    ),
    (
        "csv",
        "shape = [2]\nclasses = 2\n[table]\nfile = \"data\"\nheader = true\nlabel = \"label\"\n\
         rows = 4\ntest_fraction = 0.25\nsplit_seed = 0\n",
    ),
    (
        "parquet",
        "shape = [2]\nclasses = 2\n[table]\nfile = \"data\"\nlabel = \"label\"\nrows = 4\n\
         test_fraction = 0.25\nsplit_seed = 0\n",
    ),
    (
        "npy",
        "shape = [2]\n[arrays]\nfeatures = \"data\"\nexamples = 4\ntest_fraction = 0.25\n\
         split_seed = 0\n",
    ),
    (
        "npy",
        "shape = [2]\nclasses = 2\n[arrays]\narchive = \"data\"\nfeatures = \"x\"\n\
         labels = \"y\"\nexamples = 4\ntest_fraction = 0.25\nsplit_seed = 0\n",
    ),
];

/// This process's scratch folder.
fn scratch() -> &'static Path {
    static SCRATCH: OnceLock<PathBuf> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hourglass-data-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("datasets/fuzzed")).expect("a scratch folder");
        std::fs::create_dir_all(dir.join("pngs")).expect("a scratch folder");
        dir
    })
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads `file` as the one file of a data set of each format, or reads it as `apply` would.
pub fn check(input: &[u8]) {
    let Some((&selector, file)) = input.split_first() else {
        return;
    };
    let selector = usize::from(selector) % (MANIFESTS.len() + 4);
    match MANIFESTS.get(selector) {
        Some(&(format, head)) => load(format, head, file),
        None => apply(selector - MANIFESTS.len(), file),
    }
}

fn load(format: &str, head: &str, file: &[u8]) {
    let folder = scratch().join("datasets/fuzzed");
    let mut manifest = format!(
        "name = \"fuzzed\"\nformat = \"{format}\"\nlicence = \"none\"\nsource = \"fuzzer\"\n\
         {head}[sha256]\ndata = \"{}\"\n",
        sha256(file)
    );
    writeln!(manifest, "labels = \"{}\"", sha256(&LABELS_IDX)).expect("string write");
    std::fs::write(folder.join("data"), file).expect("write the file");
    std::fs::write(folder.join("labels"), LABELS_IDX).expect("write the labels");
    std::fs::write(folder.join("dataset.toml"), manifest).expect("write the manifest");
    let registry = Registry::discover(&scratch().join("datasets")).expect("the scratch folder");
    for split in ["train", "test"] {
        match registry.load("fuzzed", split) {
            Ok(split) => {
                assert_eq!(split.inputs.len(), split.len() * split.features());
                assert!(split.inputs.iter().all(|v| v.is_finite()));
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
}

/// `hourglass apply`'s reader on a PNG image, a CSV table, a NumPy array or IDX images.
fn apply(kind: usize, file: &[u8]) {
    let (path, shape): (PathBuf, &[usize]) = match kind {
        0 => {
            std::fs::write(scratch().join("pngs/a.png"), file).expect("write the image");
            (scratch().join("pngs"), &[1, 2, 2])
        }
        1 => (scratch().join("rows.csv"), &[2]),
        2 => (scratch().join("rows.npy"), &[2]),
        _ => (scratch().join("images.idx"), &[1, 2, 2]),
    };
    if kind != 0 {
        std::fs::write(&path, file).expect("write the file");
    }
    if let Ok(examples) = read_examples(&path, shape) {
        let features: usize = shape.iter().product();
        assert_eq!(examples.inputs.len(), examples.names.len() * features);
        assert!(examples.inputs.iter().all(|v| v.is_finite()));
    }
}
