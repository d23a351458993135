//! Every error message a data set can produce, pinned in one snapshot (`every_data_error`).
//!
//! Each case writes data sets into a temporary folder (shown in the snapshot as `<tmp>`), then
//! discovers and loads them through the public API until the error the case aims at. The test
//! checks that the error mentions what the case is about, so a case that drifts to another
//! error fails instead of pinning the wrong message. Cases are grouped by the source file that
//! produces their message.
//!
//! A new error site in this crate (a new [`DataError`] variant, or a new message of an existing
//! one) needs a case here, in its file's group.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use flate2::{Compression, write::GzEncoder};

use super::*;
use crate::idx::tests::encode;

/// A temporary folder of data sets that remembers what was written into it, for the snapshot.
struct Root {
    dir: tempfile::TempDir,
    written: String,
}

impl Root {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary folder"),
            written: String::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes data set folder `folder`: its `files`, and `manifest` followed by a `[sha256]`
    /// table of them.
    fn write(&mut self, folder: &str, manifest: &str, files: &[(&str, &[u8])]) {
        let dir = self.path().join(folder);
        std::fs::create_dir_all(&dir).expect("create the data set folder");
        let mut text = format!("{manifest}\n[sha256]\n");
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).expect("write a data file");
            writeln!(text, "{name:?} = \"{}\"", hex(&Sha256::digest(bytes))).expect("string write");
            writeln!(self.written, "{folder}/{name}: {} bytes", bytes.len()).expect("string write");
        }
        std::fs::write(dir.join("dataset.toml"), &text).expect("write the manifest");
        writeln!(self.written, "{folder}/dataset.toml:").expect("string write");
        for line in text.lines() {
            writeln!(self.written, "    {line}").expect("string write");
        }
    }

    /// The error of discovering the data sets and loading split `split` of `name`.
    fn load(&self, name: &str, split: &str) -> DataError {
        Registry::discover(self.path())
            .and_then(|registry| registry.load(name, split))
            .expect_err("the data set should be refused")
    }
}

/// One way of failing: what to write and load, and what the error must mention.
struct Case {
    /// The snapshot's heading.
    name: &'static str,
    /// What the rendered error must mention.
    mentions: &'static str,
    /// Writes data sets into the root and returns the error of using them.
    run: fn(&mut Root) -> DataError,
}

fn case(name: &'static str, mentions: &'static str, run: fn(&mut Root) -> DataError) -> Case {
    Case {
        name,
        mentions,
        run,
    }
}

/// Appends a case's heading, what it wrote and its rendered error (with `<tmp>` for the
/// temporary folder) to `out`, after checking that the error mentions what it should.
fn record(out: &mut String, case: &Case) {
    let mut root = Root::new();
    let error = (case.run)(&mut root);
    let text = error
        .to_string()
        .replace(&root.path().display().to_string(), "<tmp>");
    assert!(
        text.contains(case.mentions),
        "{}: the error does not mention `{}`:\n{text}",
        case.name,
        case.mentions
    );
    writeln!(out, "## {}\n\n{}\n{text}\n", case.name, root.written).expect("string write");
}

/// A valid IDX data set of four 2x2 images in three classes.
const IDX: &str = "name = \"tiny\"\nformat = \"idx\"\nlicence = \"CC0\"\nsource = \"generated\"\n\
                   shape = [1, 2, 2]\nclasses = 3\n\n\
                   [splits.train]\nexamples = 4\nimages = \"images.gz\"\nlabels = \"labels.gz\"\n";

/// A valid CSV data set of four rows of two features, in two classes.
const CSV: &str = "name = \"table\"\nformat = \"csv\"\nlicence = \"CC0\"\nsource = \"generated\"\n\
                   shape = [2]\nclasses = 2\n\n\
                   [table]\nfile = \"rows.csv\"\nheader = true\nlabel = \"label\"\nrows = 4\n\
                   test_fraction = 0.25\nsplit_seed = 0\n";

/// The rows of [`CSV`].
const ROWS: &str = "a,b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n";

/// A valid series data set: windows of three points.
const SERIES: &str = "name = \"series\"\nformat = \"series\"\nlicence = \"CC0\"\n\
                      source = \"generated\"\nshape = [3]\n\n\
                      [series]\nvalue = \"value\"\nlabel = \"anomaly\"\n\n\
                      [series.files]\ntrain = \"train.csv\"\n";

/// The training points of [`SERIES`].
const POINTS: &str = "value,anomaly\n1,0\n2,0\n3,0\n4,1\n";

fn images() -> Vec<u8> {
    encode(&[4, 2, 2], &(0..16).map(|v| v * 17).collect::<Vec<u8>>())
}

fn labels() -> Vec<u8> {
    encode(&[4], &[0, 1, 2, 1])
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(raw).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// Writes the valid IDX data set `tiny`.
fn tiny(root: &mut Root) {
    root.write(
        "tiny",
        IDX,
        &[("images.gz", &images()), ("labels.gz", &labels())],
    );
}

/// Writes IDX data set `tiny` with `manifest`, `images` and `labels`; loads its training split.
fn idx(root: &mut Root, manifest: &str, images: &[u8], labels: &[u8]) -> DataError {
    root.write(
        "tiny",
        manifest,
        &[("images.gz", images), ("labels.gz", labels)],
    );
    root.load("tiny", "train")
}

/// Writes CSV data set `table` with `manifest` and `file` holding `rows`; loads `split`.
fn csv(root: &mut Root, manifest: &str, file: &str, rows: &[u8], split: &str) -> DataError {
    root.write("table", manifest, &[(file, rows)]);
    root.load("table", split)
}

/// Writes series data set `series` with `manifest` and training points `points`; loads
/// `split`.
fn series(root: &mut Root, manifest: &str, points: &str, split: &str) -> DataError {
    root.write("series", manifest, &[("train.csv", points.as_bytes())]);
    root.load("series", split)
}

/// `lib.rs`: finding data sets and reading their files.
fn lib_rs() -> Vec<Case> {
    vec![
        case("root that does not exist", "missing", |root| {
            root.written = "missing/: no such folder\n".into();
            Registry::discover(&root.path().join("missing")).expect_err("there is no root")
        }),
        case("data file that is missing", "labels.gz", |root| {
            tiny(root);
            std::fs::remove_file(root.path().join("tiny/labels.gz")).expect("remove the labels");
            root.load("tiny", "train")
        }),
        case("two folders with one name", "defined twice", |root| {
            let files: &[(&str, &[u8])] = &[("images.gz", &images()), ("labels.gz", &labels())];
            root.write("a", IDX, files);
            root.write("b", IDX, files);
            root.load("tiny", "train")
        }),
        case("unknown data set", "no data set `mnist`", |root| {
            tiny(root);
            root.load("mnist", "train")
        }),
        case(
            "changed byte",
            "checksum mismatch for <tmp>/tiny/labels.gz",
            |root| {
                tiny(root);
                let path = root.path().join("tiny/labels.gz");
                let mut bytes = std::fs::read(&path).expect("read the labels");
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                std::fs::write(&path, bytes).expect("write the labels");
                root.load("tiny", "train")
            },
        ),
    ]
}

/// `manifest.rs`: reading and checking `dataset.toml`, and naming splits.
fn manifest_rs() -> Vec<Case> {
    vec![
        case("manifest that cannot be read", "dataset.toml", |root| {
            std::fs::create_dir_all(root.path().join("tiny/dataset.toml"))
                .expect("a folder where the manifest should be");
            root.written = "tiny/dataset.toml/: a folder\n".into();
            root.load("tiny", "train")
        }),
        case("toml syntax error", "licence", |root| {
            idx(
                root,
                &IDX.replace("licence = \"CC0\"", "licence = \"CC0"),
                &images(),
                &labels(),
            )
        }),
        case("unknown key", "license", |root| {
            idx(
                root,
                &IDX.replace("licence", "license"),
                &images(),
                &labels(),
            )
        }),
        case("missing key", "source", |root| {
            idx(
                root,
                &IDX.replace("source = \"generated\"\n", ""),
                &images(),
                &labels(),
            )
        }),
        case(
            "several missing keys, listed at once",
            "licence, source",
            |root| {
                idx(
                    root,
                    &IDX.replace("source = \"generated\"\n", "")
                        .replace("licence = \"CC0\"\n", ""),
                    &images(),
                    &labels(),
                )
            },
        ),
        case("unknown format", "npy", |root| {
            idx(
                root,
                &IDX.replace("format = \"idx\"", "format = \"npy\""),
                &images(),
                &labels(),
            )
        }),
        case("negative dimension", "-2", |root| {
            idx(
                root,
                &IDX.replace("shape = [1, 2, 2]", "shape = [1, -2, 2]"),
                &images(),
                &labels(),
            )
        }),
        case("dimension of 0", "shape", |root| {
            idx(
                root,
                &IDX.replace("shape = [1, 2, 2]", "shape = [1, 0, 2]"),
                &images(),
                &labels(),
            )
        }),
        case("idx without splits", "[splits.NAME]", |root| {
            let manifest = IDX.split("[splits.train]").next().expect("a prefix");
            idx(root, manifest, &images(), &labels())
        }),
        case("csv without a table", "[table]", |root| {
            let manifest = CSV.split("[table]").next().expect("a prefix");
            csv(root, manifest, "rows.csv", ROWS.as_bytes(), "train")
        }),
        case("series without series", "[series]", |root| {
            let manifest = SERIES.split("[series]").next().expect("a prefix");
            series(root, manifest, POINTS, "train")
        }),
        case("test fraction of 1", "test_fraction", |root| {
            let manifest = CSV.replace("test_fraction = 0.25", "test_fraction = 1.0");
            csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
        }),
        case("stride of 0", "stride", |root| {
            let manifest =
                SERIES.replace("label = \"anomaly\"\n", "label = \"anomaly\"\nstride = 0\n");
            series(root, &manifest, POINTS, "train")
        }),
        case("file without a sha256", "labels.gz", |root| {
            root.write("tiny", IDX, &[("images.gz", &images())]);
            root.load("tiny", "train")
        }),
        case("file outside the folder", "../images.gz", |root| {
            let manifest = IDX.replace("\"images.gz\"", "\"../images.gz\"");
            root.write(
                "tiny",
                &manifest,
                &[("../images.gz", &images()), ("labels.gz", &labels())],
            );
            root.load("tiny", "train")
        }),
        case("idx split that does not exist", "test", |root| {
            tiny(root);
            root.load("tiny", "test")
        }),
        case("series split that does not exist", "test", |root| {
            series(root, SERIES, POINTS, "test")
        }),
    ]
}

/// `idx.rs`: decoding gzipped IDX files.
fn idx_rs() -> Vec<Case> {
    vec![
        case(
            "images neither gzipped nor IDX",
            "neither gzip nor IDX",
            |root| idx(root, IDX, b"not gzip", &labels()),
        ),
        case("images of broken gzip", "not valid gzip", |root| {
            idx(root, IDX, &[0x1f, 0x8b, 8, 0, 1, 2, 3], &labels())
        }),
        case("images shorter than a header", "header", |root| {
            idx(root, IDX, &gzip(&[0, 0]), &labels())
        }),
        case("images with a bad magic number", "magic", |root| {
            idx(root, IDX, &gzip(&[1, 2, 8, 1, 0, 0, 0, 0]), &labels())
        }),
        case("images of floats", "type code", |root| {
            idx(root, IDX, &gzip(&[0, 0, 0x0d, 1, 0, 0, 0, 0]), &labels())
        }),
        case(
            "images with fewer dimensions than the header says",
            "3 dimensions",
            |root| idx(root, IDX, &gzip(&[0, 0, 8, 3, 0, 0, 0, 4]), &labels()),
        ),
        case(
            "images with fewer values than their dimensions",
            "16 values",
            |root| idx(root, IDX, &encode(&[4, 2, 2], &[0; 15]), &labels()),
        ),
    ]
}

/// `split.rs`: IDX arrays against the manifest.
fn split_rs() -> Vec<Case> {
    vec![
        case("images of another shape", "images.gz", |root| {
            idx(root, IDX, &encode(&[4, 3, 3], &[0; 36]), &labels())
        }),
        case("labels of another count", "labels.gz", |root| {
            idx(root, IDX, &images(), &encode(&[3], &[0, 1, 2]))
        }),
        case("label beyond the classes", "label 5", |root| {
            idx(root, IDX, &images(), &encode(&[4], &[0, 1, 5, 1]))
        }),
    ]
}

/// `tabular.rs`: CSV tables and series.
fn tabular_rs() -> Vec<Case> {
    vec![
        case("table not gzipped", "not valid gzip", |root| {
            let manifest = CSV.replace("\"rows.csv\"", "\"rows.csv.gz\"");
            csv(root, &manifest, "rows.csv.gz", ROWS.as_bytes(), "train")
        }),
        case("empty table", "CSV", |root| {
            csv(root, CSV, "rows.csv", b"", "train")
        }),
        case(
            "table with other rows than the manifest says",
            "rows",
            |root| {
                csv(
                    root,
                    &CSV.replace("rows = 4", "rows = 5"),
                    "rows.csv",
                    ROWS.as_bytes(),
                    "train",
                )
            },
        ),
        case(
            "table with other features than the shape",
            "feature columns",
            |root| {
                csv(
                    root,
                    &CSV.replace("shape = [2]", "shape = [3]"),
                    "rows.csv",
                    ROWS.as_bytes(),
                    "train",
                )
            },
        ),
        case("table without its label column", "class", |root| {
            let manifest = CSV.replace("label = \"label\"", "label = \"class\"");
            csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
        }),
        case("table with text in a feature", "column `b`", |root| {
            let rows = ROWS.replace("3,4,1", "3,four,1");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case("table with an empty value", "column `a`", |root| {
            let rows = ROWS.replace("5,6,0", ",6,0");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case("table with a fractional label", "label 0.5", |root| {
            let rows = ROWS.replace("7,8,1", "7,8,0.5");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case("table split that does not exist", "validation", |root| {
            csv(root, CSV, "rows.csv", ROWS.as_bytes(), "validation")
        }),
        case("series shorter than a window", "window", |root| {
            series(
                root,
                &SERIES.replace("shape = [3]", "shape = [5]"),
                POINTS,
                "train",
            )
        }),
        case("series without its value column", "level", |root| {
            series(
                root,
                &SERIES.replace("value = \"value\"", "value = \"level\""),
                POINTS,
                "train",
            )
        }),
    ]
}

#[test]
fn every_data_error() {
    let mut text = String::new();
    for (file, cases) in [
        ("lib.rs", lib_rs()),
        ("manifest.rs", manifest_rs()),
        ("idx.rs", idx_rs()),
        ("split.rs", split_rs()),
        ("tabular.rs", tabular_rs()),
    ] {
        writeln!(text, "# {file}\n").expect("string write");
        for case in &cases {
            record(&mut text, case);
        }
    }
    insta::assert_snapshot!("every_data_error", text);
}
