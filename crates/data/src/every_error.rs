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
use crate::tests::{npy, npz};

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

/// [`CSV`] as a Parquet table.
const PARQUET: &str = "name = \"table\"\nformat = \"parquet\"\nlicence = \"CC0\"\n\
                       source = \"generated\"\nshape = [2]\nclasses = 2\n\n\
                       [table]\nfile = \"rows.parquet\"\nlabel = \"label\"\nrows = 4\n\
                       test_fraction = 0.25\nsplit_seed = 0\n";

/// A valid NumPy data set: four examples of two features in `x.npy`, labels in `y.npy`.
const NPY: &str = "name = \"arrays\"\nformat = \"npy\"\nlicence = \"CC0\"\n\
                   source = \"generated\"\nshape = [2]\nclasses = 2\n\n\
                   [arrays]\nfeatures = \"x.npy\"\nlabels = \"y.npy\"\nexamples = 4\n\
                   test_fraction = 0.25\nsplit_seed = 0\n";

/// [`NPY`]'s arrays in one archive, `data.npz`.
const NPZ: &str = "name = \"arrays\"\nformat = \"npy\"\nlicence = \"CC0\"\n\
                   source = \"generated\"\nshape = [2]\nclasses = 2\n\n\
                   [arrays]\narchive = \"data.npz\"\nfeatures = \"x\"\nlabels = \"y\"\n\
                   examples = 4\ntest_fraction = 0.25\nsplit_seed = 0\n";

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

/// The features of [`NPY`]: four examples of two float32 values.
fn x() -> Vec<u8> {
    npy(&[4, 2], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
}

/// The labels of [`NPY`]: int64, as numpy makes integers.
fn y() -> Vec<u8> {
    npy(&[4], &[0i64, 1, 0, 1])
}

/// `bytes` of an `.npy` file with `from` replaced by `to` in its header, the header's padding
/// adjusted so that its length stays what it was.
fn edit_header(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    // Version 1.0: magic, version and a 2-byte length, then the header.
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .expect("a header line");
    let header = String::from_utf8(bytes[10..end].to_vec()).expect("an ASCII header");
    assert!(header.contains(from), "{header:?} holds {from:?}");
    let edited = header.replace(from, to);
    let edited = match edited.len().cmp(&header.len()) {
        std::cmp::Ordering::Greater => {
            edited.replacen(&" ".repeat(edited.len() - header.len() + 1), " ", 1)
        }
        _ => {
            let padding = " ".repeat(header.len() - edited.len());
            edited + &padding
        }
    };
    assert_eq!(edited.len(), header.len(), "{edited:?}");
    [&bytes[..10], edited.as_bytes(), &bytes[end..]].concat()
}

/// Writes NumPy data set `arrays` with `manifest` and `x.npy` and `y.npy` holding `x` and `y`;
/// loads its training split.
fn arrays(root: &mut Root, manifest: &str, x: &[u8], y: &[u8]) -> DataError {
    root.write("arrays", manifest, &[("x.npy", x), ("y.npy", y)]);
    root.load("arrays", "train")
}

/// Writes [`NPZ`] with `archive` as `data.npz`; loads its training split.
fn archive(root: &mut Root, archive: &[u8]) -> DataError {
    root.write("arrays", NPZ, &[("data.npz", archive)]);
    root.load("arrays", "train")
}

/// What `datasets add` is asked in these cases: a table with a label column.
fn new_table(root: &Root, name: &str, file: &str) -> NewDataset {
    NewDataset {
        label: Some("label".into()),
        test_fraction: 0.25,
        ..NewDataset::new(name, vec![root.path().join(file)])
    }
}

/// Writes `file` holding `bytes` outside the data sets and adds it as data set `name`.
fn add_file(root: &mut Root, name: &str, file: &str, bytes: &[u8]) -> DataError {
    add_with(root, file, bytes, |new| new.name = name.into())
}

/// Writes `file` holding `bytes` outside the data sets, changes what is asked with `change`,
/// and adds it.
fn add_with(
    root: &mut Root,
    file: &str,
    bytes: &[u8],
    change: impl Fn(&mut NewDataset),
) -> DataError {
    std::fs::create_dir_all(root.path().join("inbox")).expect("create the inbox");
    std::fs::write(root.path().join("inbox").join(file), bytes).expect("write the file");
    writeln!(root.written, "inbox/{file}: {} bytes", bytes.len()).expect("string write");
    let mut new = new_table(root, "mine", &format!("inbox/{file}"));
    change(&mut new);
    add(&root.path().join("datasets"), &new).expect_err("the data set should be refused")
}

/// `add.rs`: `datasets add`.
fn add_rs() -> Vec<Case> {
    vec![
        case(
            "added name that is not a folder name",
            "not a data set name",
            |root| add_file(root, "../mine", "rows.csv", ROWS.as_bytes()),
        ),
        case("added data set that exists", "pass --force", |root| {
            std::fs::create_dir_all(root.path().join("datasets/mine")).expect("a folder");
            root.written = "datasets/mine/: a folder\n".into();
            add_file(root, "mine", "rows.csv", ROWS.as_bytes())
        }),
        case(
            "added name another folder defines",
            "already defines",
            |root| {
                root.write(
                    "datasets/other",
                    &CSV.replace("\"table\"", "\"mine\""),
                    &[("rows.csv", ROWS.as_bytes())],
                );
                add_file(root, "mine", "rows.csv", ROWS.as_bytes())
            },
        ),
        case(
            "added file of unknown format",
            "cannot tell the format",
            |root| add_file(root, "mine", "rows.txt", ROWS.as_bytes()),
        ),
        case("added test fraction of one", "--test-fraction", |root| {
            add_with(root, "rows.csv", ROWS.as_bytes(), |new| {
                new.test_fraction = 1.0
            })
        }),
        case("added archive of three arrays", "--features", |root| {
            let bytes = npz(&[("x", &x()), ("y", &y()), ("z", &y())]);
            add_with(root, "data.npz", &bytes, |new| new.label = None)
        }),
        case("added folder without images", "holds no .png", |root| {
            std::fs::create_dir_all(root.path().join("inbox/photos")).expect("a folder");
            std::fs::write(root.path().join("inbox/photos/readme.txt"), "none").expect("a file");
            root.written = "inbox/photos/readme.txt: 4 bytes\n".into();
            let new = NewDataset::new("mine", vec![root.path().join("inbox/photos")]);
            add(&root.path().join("datasets"), &new).expect_err("no images")
        }),
        case("added table with a NaN", "NaN", |root| {
            let rows = ROWS.replace("3,4,1", "3,NaN,1");
            add_file(root, "mine", "rows.csv", rows.as_bytes())
        }),
    ]
}

/// `arrays.rs`: NumPy arrays and archives.
fn arrays_rs() -> Vec<Case> {
    vec![
        case("npy that is not NumPy", "not a NumPy .npy array", |root| {
            arrays(root, NPY, b"a,b\n1,2\n", &y())
        }),
        case("npy of an unknown version", "version 9.0", |root| {
            let mut bytes = x();
            bytes[6] = 9;
            arrays(root, NPY, &bytes, &y())
        }),
        case(
            "npy header longer than the file",
            "announces 60000 bytes",
            |root| {
                let mut bytes = x()[..10].to_vec();
                bytes[8..10].copy_from_slice(&60000u16.to_le_bytes());
                arrays(root, NPY, &bytes, &y())
            },
        ),
        case(
            "npy header that is not a dictionary",
            "header cannot be read",
            |root| {
                let bytes = edit_header(&x(), "'descr'", "'descr");
                arrays(root, NPY, &bytes, &y())
            },
        ),
        case(
            "npy announcing more than it holds",
            "announces shape [4000000, 2]",
            |root| {
                let bytes = edit_header(&x(), "(4, 2, )", "(4000000, 2, )");
                arrays(root, NPY, &bytes, &y())
            },
        ),
        case("npy truncated", "holds 28 bytes after its header", |root| {
            let bytes = x();
            arrays(root, NPY, &bytes[..bytes.len() - 4], &y())
        }),
        case("npy in Fortran order", "Fortran order", |root| {
            let bytes = edit_header(&x(), "'fortran_order': False", "'fortran_order': True");
            arrays(root, NPY, &bytes, &y())
        }),
        case(
            "npy of another shape than the manifest",
            "shape [4, 2]",
            |root| arrays(root, &NPY.replace("shape = [2]", "shape = [3]"), &x(), &y()),
        ),
        case(
            "npy of integer features",
            "not float32, float64 or uint8",
            |root| arrays(root, NPY, &npy(&[4, 2], &[1i32; 8]), &y()),
        ),
        case(
            "npy with an infinite feature",
            "example 2, value 1: inf",
            |root| {
                let values = [1.0f64, 2.0, f64::INFINITY, 4.0, 5.0, 6.0, 7.0, 8.0];
                arrays(root, NPY, &npy(&[4, 2], &values), &y())
            },
        ),
        case(
            "npy float64 beyond float32",
            "example 1, value 2: inf",
            |root| {
                let values = [1.0f64, 1e300, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
                arrays(root, NPY, &npy(&[4, 2], &values), &y())
            },
        ),
        case("npy labels of floats", "not an integer type", |root| {
            arrays(root, NPY, &x(), &npy(&[4], &[0.0f32, 1.0, 0.0, 1.0]))
        }),
        case("npy labels out of range", "label -1", |root| {
            arrays(root, NPY, &x(), &npy(&[4], &[0i64, 1, -1, 1]))
        }),
        case("npy labels of another count", "[4]", |root| {
            arrays(root, NPY, &x(), &npy(&[3], &[0i64, 1, 0]))
        }),
        case(
            "npz that is not a zip",
            "not a NumPy .npz archive",
            |root| archive(root, &x()),
        ),
        case("npz without the array named", "it holds: x, z", |root| {
            archive(root, &npz(&[("x", &x()), ("z", &y())]))
        }),
    ]
}

/// A valid image data set: 2x3 RGB images in class folders `a` and `b`.
const IMAGES: &str = "name = \"photos\"\nformat = \"images\"\nlicence = \"CC0\"\n\
                      source = \"generated\"\nshape = [3, 2, 3]\nclasses = 2\n\n\
                      [images]\nfolder = \"photos\"\nlabelled = true\nexamples = 4\n\
                      test_fraction = 0.25\nsplit_seed = 0\n";

/// A 2x3 RGB PNG image.
fn png() -> Vec<u8> {
    let mut bytes = Vec::new();
    image::RgbImage::from_pixel(3, 2, image::Rgb([10, 20, 30]))
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode a PNG");
    bytes
}

/// Writes image data set `photos` with `manifest` and the images of [`IMAGES`] (`a/0.png`,
/// `a/1.png`, `b/0.png`, `b/1.png`), `changed` replacing some; the folder's sha256 is that of
/// what was written.
fn write_images(root: &mut Root, manifest: &str, changed: &[(&str, &[u8])]) {
    let folder = root.path().join("photos/photos");
    let png = png();
    for name in ["a/0.png", "a/1.png", "b/0.png", "b/1.png"] {
        let bytes = changed
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&png[..], |(_, b)| b);
        let path = folder.join(name);
        std::fs::create_dir_all(path.parent().expect("a class folder")).expect("a folder");
        std::fs::write(&path, bytes).expect("write an image");
        writeln!(root.written, "photos/photos/{name}: {} bytes", bytes.len())
            .expect("string write");
    }
    let labelled = manifest.contains("labelled = true");
    let (listed, _) = image_folder::list(&folder, labelled).expect("list the images");
    let (sum, _) = image_folder::read_folder(&folder, &listed).expect("read the images");
    let text = format!("{manifest}\n[sha256]\nphotos = \"{sum}\"\n");
    std::fs::write(root.path().join("photos/dataset.toml"), &text).expect("write the manifest");
    writeln!(root.written, "photos/dataset.toml:").expect("string write");
    for line in text.lines() {
        writeln!(root.written, "    {line}").expect("string write");
    }
}

/// Writes image data set `photos` as [`write_images`] does and loads its training split.
fn image_set(root: &mut Root, manifest: &str, changed: &[(&str, &[u8])]) -> DataError {
    write_images(root, manifest, changed);
    root.load("photos", "train")
}

/// `image_folder.rs`: folders of images.
fn image_folder_rs() -> Vec<Case> {
    vec![
        case(
            "image that is not an image",
            "not a PNG or JPEG image",
            |root| image_set(root, IMAGES, &[("b/1.png", b"GIF89a, or not")]),
        ),
        case("image of another size", "2x3", |root| {
            let mut wide = Vec::new();
            image::RgbImage::new(5, 2)
                .write_to(
                    &mut std::io::Cursor::new(&mut wide),
                    image::ImageFormat::Png,
                )
                .expect("encode a PNG");
            image_set(root, IMAGES, &[("a/1.png", &wide)])
        }),
        case(
            "image folder of another count",
            "4 images, the manifest says 5",
            |root| image_set(root, &IMAGES.replace("examples = 4", "examples = 5"), &[]),
        ),
        case(
            "image folder with a changed image",
            "checksum mismatch",
            |root| {
                write_images(root, IMAGES, &[]);
                let path = root.path().join("photos/photos/b/0.png");
                let mut bytes = std::fs::read(&path).expect("read an image");
                bytes.push(0);
                std::fs::write(&path, bytes).expect("write an image");
                root.load("photos", "train")
            },
        ),
        case("images of two channels", "1 (grey) or 3 (RGB)", |root| {
            image_set(
                root,
                &IMAGES.replace("shape = [3, 2, 3]", "shape = [2, 2, 3]"),
                &[],
            )
        }),
        case("unlabelled images with classes", "not `labelled`", |root| {
            image_set(
                root,
                &IMAGES.replace("labelled = true", "labelled = false"),
                &[],
            )
        }),
    ]
}

/// `memory.rs`: data sets larger than memory.
fn memory_rs() -> Vec<Case> {
    vec![case(
        "data set larger than memory",
        "more than the 1.0 MiB",
        |root| {
            root.written = "(60000 examples of 784 features against 1 MiB)\n".into();
            memory::check_fits_within(&root.path().join("x.npy"), 60_000, 784, Some(1 << 20))
                .expect_err("too large")
        },
    )]
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
            "class names of another count",
            "`class_names` names 3 classes, but there are 2",
            |root| {
                let manifest = CSV.replace(
                    "classes = 2\n",
                    "classes = 2\nclass_names = [\"a\", \"b\", \"c\"]\n",
                );
                csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
            },
        ),
        case("a class named twice", "classes 0 and 1 alike", |root| {
            let names = "classes = 2\nclass_names = [\"cat\", \"cat\"]\n";
            let manifest = CSV.replace("classes = 2\n", names);
            csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
        }),
        case(
            "anomalies absent from the test split",
            "0 anomalies",
            |root| {
                let manifest = CSV.replace("classes = 2\n", "classes = 2\nanomaly_label = 1\n");
                let rows = ROWS.replace(",1\n", ",0\n");
                csv(root, &manifest, "rows.csv", rows.as_bytes(), "test")
            },
        ),
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
        case("unknown format", "hdf5", |root| {
            idx(
                root,
                &IDX.replace("format = \"idx\"", "format = \"hdf5\""),
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
        case("csv table without header", "needs `header`", |root| {
            let manifest = CSV.replace("header = true\n", "");
            csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
        }),
        case("parquet table with a header", "takes no `header`", |root| {
            let manifest = PARQUET.replace("[table]\n", "[table]\nheader = true\n");
            root.write("table", &manifest, &[("rows.parquet", b"")]);
            root.load("table", "train")
        }),
        case("unlabelled table with classes", "unlabelled", |root| {
            let manifest = CSV.replace("label = \"label\"\n", "");
            csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
        }),
        case(
            "anomaly label beyond the classes",
            "not one of the 2 classes",
            |root| {
                let manifest = CSV.replace("classes = 2\n", "classes = 2\nanomaly_label = 2\n");
                csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
            },
        ),
        case(
            "test fraction that leaves no training example",
            "at least one",
            |root| {
                let manifest = CSV.replace("test_fraction = 0.25", "test_fraction = 0.9");
                csv(root, &manifest, "rows.csv", ROWS.as_bytes(), "train")
            },
        ),
        case("npy format without arrays", "[arrays]", |root| {
            let cut = NPY.find("[arrays]").expect("an [arrays] section");
            arrays(root, &NPY[..cut], &x(), &y())
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
        case("table with a NaN feature", "row 2: NaN", |root| {
            let rows = ROWS.replace("3,4,1", "3,nan,1");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case("table with an infinite feature", "row 3: inf", |root| {
            let rows = ROWS.replace("5,6,0", "5,inf,0");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case("table with a short row", "row 2", |root| {
            let rows = ROWS.replace("3,4,1", "3,4");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case("table with a long row", "CSV", |root| {
            let rows = ROWS.replace("3,4,1", "3,4,1,9");
            csv(root, CSV, "rows.csv", rows.as_bytes(), "train")
        }),
        case(
            "parquet file that is not Parquet",
            "not a valid Parquet table",
            |root| {
                root.write("table", PARQUET, &[("rows.parquet", ROWS.as_bytes())]);
                root.load("table", "train")
            },
        ),
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
        ("arrays.rs", arrays_rs()),
        ("image_folder.rs", image_folder_rs()),
        ("memory.rs", memory_rs()),
        ("add.rs", add_rs()),
    ] {
        writeln!(text, "# {file}\n").expect("string write");
        for case in &cases {
            record(&mut text, case);
        }
    }
    insta::assert_snapshot!("every_data_error", text);
}
