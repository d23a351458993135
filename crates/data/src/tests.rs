//! Tests of discovery, checksums and splits, on a generated data set and on the real MNIST.

use std::path::Path;

use super::*;

/// Writes a 4-example, 2x2-pixel IDX data set named `tiny` into `dir`.
fn write_tiny(dir: &Path) {
    let folder = dir.join("tiny");
    std::fs::create_dir_all(&folder).unwrap();
    let images = idx::tests::encode(&[4, 2, 2], &(0..16).map(|v| v * 17).collect::<Vec<u8>>());
    let labels = idx::tests::encode(&[4], &[0, 1, 2, 1]);
    std::fs::write(folder.join("images.gz"), &images).unwrap();
    std::fs::write(folder.join("labels.gz"), &labels).unwrap();
    let manifest = format!(
        "name = \"tiny\"\nformat = \"idx\"\nlicence = \"CC0\"\nsource = \"generated\"\n\
         shape = [1, 2, 2]\nclasses = 3\n\
         [splits.train]\nexamples = 4\nimages = \"images.gz\"\nlabels = \"labels.gz\"\n\
         [sha256]\n\"images.gz\" = \"{}\"\n\"labels.gz\" = \"{}\"\n",
        hex(&Sha256::digest(&images)),
        hex(&Sha256::digest(&labels)),
    );
    std::fs::write(folder.join("dataset.toml"), manifest).unwrap();
}

#[test]
fn discovers_and_loads_a_data_set_scaled_to_unit_range() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    let registry = Registry::discover(dir.path()).unwrap();
    assert_eq!(registry.shapes().get("tiny"), Some(&vec![1, 2, 2]));
    let split = registry.load("tiny", "train").unwrap();
    assert_eq!(split.len(), 4);
    assert_eq!(split.labels, vec![0, 1, 2, 1]);
    assert_eq!(
        split.input(0),
        &[0.0, 17.0 / 255.0, 34.0 / 255.0, 51.0 / 255.0]
    );
    assert_eq!(split.input(3)[3], 1.0);
}

#[test]
fn an_invalid_manifest_fails_only_its_own_data_set() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    std::fs::create_dir(dir.path().join("broken")).unwrap();
    std::fs::write(
        dir.path().join("broken/dataset.toml"),
        "name = \"broken\"\n",
    )
    .unwrap();
    let registry = Registry::discover(dir.path()).unwrap();
    assert_eq!(registry.load("tiny", "train").unwrap().len(), 4);
    let unusable: Vec<_> = registry.unusable().map(|(folder, _)| folder).collect();
    assert_eq!(unusable, ["broken"]);
    let error = registry.load("broken", "train").unwrap_err().to_string();
    assert!(
        error.starts_with("data set `broken` cannot be used: invalid manifest")
            && error.contains("missing format, licence, source, shape, sha256"),
        "{error}"
    );
    assert!(!registry.shapes().contains_key("broken"));
}

#[test]
fn a_registry_and_its_clones_read_each_split_once() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    let registry = Registry::discover(dir.path()).unwrap();
    let first = registry.load("tiny", "train").unwrap();
    std::fs::remove_file(dir.path().join("tiny/images.gz")).unwrap();
    assert_eq!(registry.clone().load("tiny", "train").unwrap(), first);
    let fresh = Registry::discover(dir.path()).unwrap();
    assert!(matches!(
        fresh.load("tiny", "train"),
        Err(DataError::Read { .. })
    ));
}

#[test]
fn one_changed_byte_is_refused_naming_the_file_and_both_hashes() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    let path = dir.path().join("tiny/labels.gz");
    let mut bytes = std::fs::read(&path).unwrap();
    let expected = hex(&Sha256::digest(&bytes));
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = Registry::discover(dir.path())
        .unwrap()
        .load("tiny", "train")
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, DataError::Checksum { .. }), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains(&hex(&Sha256::digest(&bytes))), "{message}");
    let redacted = message.replace(&dir.path().display().to_string(), "<datasets>");
    insta::assert_snapshot!(redacted);
}

#[test]
fn truncated_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    let path = dir.path().join("tiny/images.gz");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = Registry::discover(dir.path())
        .unwrap()
        .load("tiny", "train")
        .unwrap_err();
    assert!(matches!(err, DataError::Checksum { .. }), "{err}");
}

#[test]
fn unknown_data_set_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny(dir.path());
    let err = Registry::discover(dir.path())
        .unwrap()
        .load("mnist", "train")
        .unwrap_err();
    assert!(
        err.to_string().contains("no data set `mnist`") && err.to_string().contains("found: tiny"),
        "{err}"
    );
}

#[test]
fn partition_is_seeded_disjoint_and_complete() {
    let split = Split {
        shape: vec![1],
        inputs: (0..100).map(|v| v as f32).collect(),
        labels: vec![0; 100],
    };
    let (train, validation) = split.partition(0.1, 7);
    assert_eq!((train.len(), validation.len()), (90, 10));
    let (train_again, validation_again) = split.partition(0.1, 7);
    assert_eq!((&train, &validation), (&train_again, &validation_again));
    assert_eq!(split.head(3), split.select(&[0, 1, 2]));
    assert_eq!(split.head(1000), split);
    let (other_train, _) = split.partition(0.1, 8);
    assert_ne!(train, other_train);
    let mut all: Vec<f32> = train
        .inputs
        .iter()
        .chain(&validation.inputs)
        .copied()
        .collect();
    all.sort_by(f32::total_cmp);
    assert_eq!(all, split.inputs);
}

#[test]
fn real_mnist_loads_with_its_checksums() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let registry = Registry::discover(&root).unwrap();
    let test = registry.load("mnist", "test").unwrap();
    assert_eq!(test.len(), 10_000);
    assert_eq!(test.features(), 784);
    let mut counts = [0usize; 10];
    for &label in &test.labels {
        counts[usize::from(label)] += 1;
    }
    // The canonical MNIST test split has 980 zeros and 1,135 ones.
    assert_eq!((counts[0], counts[1]), (980, 1135));
    let mean = test.inputs.iter().map(|&v| f64::from(v)).sum::<f64>() / test.inputs.len() as f64;
    assert!((mean - 0.1325).abs() < 0.001, "mean pixel {mean}");
    assert_eq!(registry.load("mnist", "train").unwrap().len(), 60_000);
}

#[test]
fn real_tables_and_series_load_with_their_checksums_and_labels() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let registry = Registry::discover(&root).unwrap();
    let count = |split: &Split, label: u8| split.labels.iter().filter(|&&l| l == label).count();

    let (train, test) = (
        registry.load("shuttle", "train").unwrap(),
        registry.load("shuttle", "test").unwrap(),
    );
    assert_eq!(
        (train.len(), test.len(), train.features()),
        (29_458, 19_639, 9)
    );
    // 3,511 anomalies in all, spread over both splits by the seeded shuffle.
    assert_eq!(count(&train, 1) + count(&test, 1), 3_511);
    assert!(count(&test, 1) > 1_000, "{}", count(&test, 1));
    // The first row of the file: 50,21,77,0,28,0,27,48,22 with label 1.
    let first = [50.0, 21.0, 77.0, 0.0, 28.0, 0.0, 27.0, 48.0, 22.0];
    let all_rows: Vec<&[f32]> = (0..train.len())
        .map(|i| train.input(i))
        .chain((0..test.len()).map(|i| test.input(i)))
        .collect();
    assert!(all_rows.contains(&&first[..]));

    let cancer = registry.load("breast-cancer", "train").unwrap();
    let cancer_test = registry.load("breast-cancer", "test").unwrap();
    assert_eq!(cancer.len() + cancer_test.len(), 569);
    assert_eq!(count(&cancer, 0) + count(&cancer_test, 0), 212);
    assert_eq!(cancer.features(), 30);

    let series = registry.load("ucr-internal-bleeding-16", "test").unwrap();
    assert_eq!(series.len(), 7_501 - 64 + 1);
    // The anomaly spans t = 4187..=4198: windows starting at 4187 - 63 ..= 4198 overlap it.
    let flagged: Vec<usize> = (0..series.len())
        .filter(|&i| series.labels[i] == 1)
        .collect();
    assert_eq!(flagged, (4187 - 63..=4198).collect::<Vec<_>>());
    assert_eq!(series.input(1)[0], 63.35068);
    let train = registry.load("ucr-internal-bleeding-16", "train").unwrap();
    assert_eq!((train.len(), count(&train, 1)), (1_200 - 63, 0));
}

#[test]
fn standardization_uses_the_fitted_statistics() {
    let fitted_on = Split {
        shape: vec![2],
        inputs: vec![1.0, 5.0, 3.0, 5.0],
        labels: vec![0, 0],
    };
    let standardization = Standardization::fit(&fitted_on);
    let mut other = Split {
        shape: vec![2],
        inputs: vec![2.0, 7.0, 4.0, 5.0],
        labels: vec![0, 1],
    };
    standardization.apply(&mut other);
    // Feature 0: mean 2, std 1; feature 1 is constant in the fitted split, so left unscaled.
    assert_eq!(other.inputs, vec![0.0, 2.0, 2.0, 0.0]);
}

/// `.npy` bytes of `values` in the given shape, as numpy writes them.
pub(crate) fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], values: &[T]) -> Vec<u8> {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut bytes)
        .begin_nd()
        .unwrap();
    writer.extend(values.iter().copied()).unwrap();
    writer.finish().unwrap();
    bytes
}

/// An `.npz` archive (deflated, as `numpy.savez_compressed` writes) of named `.npy` bytes.
pub(crate) fn npz(arrays: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in arrays {
        zip.start_file(format!("{name}.npy"), options).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Twelve examples of three features and their 0/1 labels, as the files of every table and
/// array format: `table.csv`, `table.parquet`, `x.npy`, `y.npy`, `data.npz`.
fn write_formats(dir: &Path) -> (Vec<f32>, Vec<u8>) {
    let features: Vec<f32> = (0..36).map(|v| v as f32 * 0.25 - 3.0).collect();
    let labels: Vec<u8> = (0..12).map(|i| u8::from(i % 4 == 0)).collect();
    let mut csv = String::from("a,b,kind,c\n");
    for (row, label) in features.chunks(3).zip(&labels) {
        csv += &format!("{},{},{label},{}\n", row[0], row[1], row[2]);
    }
    std::fs::write(dir.join("table.csv"), &csv).unwrap();
    let column = |j: usize| -> Vec<f32> { features.iter().skip(j).step_by(3).copied().collect() };
    let kind: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    let mut frame = polars::prelude::DataFrame::new(
        12,
        vec![
            polars::prelude::Column::new("a".into(), column(0)),
            polars::prelude::Column::new("b".into(), column(1)),
            polars::prelude::Column::new("kind".into(), kind.clone()),
            polars::prelude::Column::new("c".into(), column(2)),
        ],
    )
    .unwrap();
    let file = std::fs::File::create(dir.join("table.parquet")).unwrap();
    polars::prelude::ParquetWriter::new(file)
        .finish(&mut frame)
        .unwrap();
    let x = npy(&[12, 3], &features);
    let y = npy(&[12], &kind);
    std::fs::write(dir.join("x.npy"), &x).unwrap();
    std::fs::write(dir.join("y.npy"), &y).unwrap();
    std::fs::write(dir.join("data.npz"), npz(&[("x", &x), ("y", &y)])).unwrap();
    (features, labels)
}

/// What `datasets add` is asked for by default in these tests.
fn new_dataset(name: &str, files: Vec<std::path::PathBuf>, label: Option<&str>) -> NewDataset {
    NewDataset {
        label: label.map(str::to_string),
        anomaly_label: Some(1),
        test_fraction: 0.25,
        split_seed: 7,
        standardize: true,
        licence: Some("CC0".into()),
        ..NewDataset::new(name, files)
    }
}

#[test]
fn csv_parquet_npy_and_npz_files_become_data_sets_with_the_same_examples() {
    let sources = tempfile::tempdir().unwrap();
    let (features, labels) = write_formats(sources.path());
    let root = tempfile::tempdir().unwrap();
    let file = |name: &str| sources.path().join(name);
    let cases = [
        ("from-csv", vec![file("table.csv")], Some("kind"), "csv"),
        (
            "from-parquet",
            vec![file("table.parquet")],
            Some("kind"),
            "parquet",
        ),
        ("from-npy", vec![file("y.npy"), file("x.npy")], None, "npy"),
        ("from-npz", vec![file("data.npz")], Some("y"), "npy"),
    ];
    for (name, files, label, format) in cases {
        let added = add(root.path(), &new_dataset(name, files, label)).unwrap();
        assert_eq!((added.train, added.test), (9, 3), "{name}");
        assert_eq!(added.label_counts, [(0, 9), (1, 3)], "{name}");
        assert_eq!(added.range, (-3.0, 5.75), "{name}");
        let manifest = std::fs::read_to_string(added.dir.join("dataset.toml")).unwrap();
        assert!(
            manifest.contains(&format!("format = \"{format}\"")),
            "{manifest}"
        );
        assert!(manifest.contains("shape = [3]") && manifest.contains("classes = 2"));
        assert!(manifest.contains("# labels 0..=1"), "{manifest}");
    }
    // Every format holds the same examples and splits them alike.
    let registry = Registry::discover(root.path()).unwrap();
    let whole = Split {
        shape: vec![3],
        inputs: features,
        labels,
    };
    let (train, test) = whole.partition(0.25, 7);
    for name in ["from-csv", "from-parquet", "from-npy", "from-npz"] {
        assert_eq!(*registry.load(name, "train").unwrap(), train, "{name}");
        assert_eq!(*registry.load(name, "test").unwrap(), test, "{name}");
        assert!(registry.manifest(name).unwrap().standardize);
    }
}

#[test]
fn a_data_set_is_replaced_only_with_force_and_a_refused_one_leaves_nothing() {
    let sources = tempfile::tempdir().unwrap();
    write_formats(sources.path());
    let root = tempfile::tempdir().unwrap();
    let csv = || vec![sources.path().join("table.csv")];
    add(root.path(), &new_dataset("mine", csv(), Some("kind"))).unwrap();
    let again = add(root.path(), &new_dataset("mine", csv(), Some("kind"))).unwrap_err();
    assert!(again.to_string().contains("pass --force"), "{again}");
    let mut unlabelled = new_dataset("mine", csv(), None);
    unlabelled.anomaly_label = None;
    unlabelled.force = true;
    let replaced = add(root.path(), &unlabelled).unwrap();
    assert_eq!(
        replaced.manifest.shape,
        [4],
        "the label column is a feature now"
    );
    assert!(replaced.label_counts.is_empty());

    let broken = sources.path().join("broken.csv");
    std::fs::write(&broken, "a,b\n1,2\n3,nan\n5,6\n7,8\n").unwrap();
    let mut bad = new_dataset("broken", vec![broken], None);
    bad.anomaly_label = None;
    let error = add(root.path(), &bad).unwrap_err().to_string();
    assert!(
        error.contains("row 2: NaN is not a finite number"),
        "{error}"
    );
    let left: Vec<String> = std::fs::read_dir(root.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["mine"], "a refused data set leaves nothing behind");
}

#[test]
fn real_mnist_as_npz_loads_the_same_pixels_as_its_idx_files() {
    let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let idx_test = Registry::discover(&datasets)
        .unwrap()
        .load("mnist", "test")
        .unwrap();
    let pixels: Vec<u8> = (idx_test.inputs.iter())
        .map(|&v| (v * 255.0).round() as u8)
        .collect();
    let labels: Vec<i64> = idx_test.labels.iter().map(|&l| i64::from(l)).collect();
    let sources = tempfile::tempdir().unwrap();
    let archive = sources.path().join("mnist-test.npz");
    let images = npy(&[10_000, 28, 28], &pixels);
    std::fs::write(
        &archive,
        npz(&[("images", &images), ("labels", &npy(&[10_000], &labels))]),
    )
    .unwrap();
    let root = tempfile::tempdir().unwrap();
    let mut new = new_dataset("mnist-npz", vec![archive], Some("labels"));
    (new.anomaly_label, new.standardize, new.test_fraction) = (None, false, 0.2);
    let added = add(root.path(), &new).unwrap();
    assert_eq!(added.manifest.shape, [1, 28, 28]);
    assert_eq!(added.manifest.classes, Some(10));
    assert_eq!((added.train, added.test), (8_000, 2_000));
    let (train, test) = idx_test.partition(0.2, 7);
    let registry = Registry::discover(root.path()).unwrap();
    assert_eq!(*registry.load("mnist-npz", "train").unwrap(), train);
    assert_eq!(*registry.load("mnist-npz", "test").unwrap(), test);
}

/// Writes a folder of 4x6 RGB PNG images in class sub-folders `blue` and `red`, three each,
/// each pixel's red level `10 * image + column`, green `row`, blue 200 or 50 by class; and a
/// text file, which is not an image.
fn write_image_folder(folder: &Path) {
    for (class, blue, count) in [("blue", 200u8, 3), ("red", 50u8, 3)] {
        std::fs::create_dir_all(folder.join(class)).unwrap();
        for image in 0..count {
            let pixels = image::RgbImage::from_fn(6, 4, |column, row| {
                image::Rgb([10 * image as u8 + column as u8, row as u8, blue])
            });
            pixels
                .save(folder.join(class).join(format!("{image}.png")))
                .unwrap();
        }
    }
    std::fs::write(folder.join("red/notes.txt"), "not an image").unwrap();
}

#[test]
fn an_image_folder_becomes_a_colour_data_set_with_one_class_per_sub_folder() {
    let sources = tempfile::tempdir().unwrap();
    let folder = sources.path().join("photos");
    write_image_folder(&folder);
    let root = tempfile::tempdir().unwrap();
    let new = NewDataset {
        test_fraction: 0.5,
        ..NewDataset::new("photos", vec![folder.clone()])
    };
    let added = add(root.path(), &new).unwrap();
    assert_eq!(added.manifest.format, Format::Images);
    assert_eq!(added.manifest.shape, [3, 4, 6]);
    assert_eq!(added.manifest.classes, Some(2));
    let names = Some(vec!["blue".to_string(), "red".to_string()]);
    assert_eq!(added.manifest.class_names, names);
    assert_eq!(added.label_counts, [(0, 3), (1, 3)]);
    assert_eq!((added.train, added.test), (3, 3));
    let manifest = std::fs::read_to_string(added.dir.join("dataset.toml")).unwrap();
    assert!(
        manifest.contains("one sub-folder per class: blue, red"),
        "{manifest}"
    );
    assert!(
        manifest.contains("class_names = [\"blue\", \"red\"]"),
        "{manifest}"
    );
    assert!(!added.dir.join("photos/red/notes.txt").exists());

    // Channels first: plane 0 is red, 1 green, 2 blue.
    let registry = Registry::discover(root.path()).unwrap();
    let train = registry.load("photos", "train").unwrap();
    let test = registry.load("photos", "test").unwrap();
    for split in [&train, &test] {
        for i in 0..split.len() {
            let image = split.input(i);
            let blue = if split.labels[i] == 0 { 200.0 } else { 50.0 };
            assert_eq!(image[2 * 24 + 5], blue / 255.0);
            assert_eq!(image[24 + 6 * 3 + 1], 3.0 / 255.0, "green is the row");
            let red = (image[1] * 255.0).round() as u8;
            assert_eq!(red % 10, 1, "red of column 1 is 10 * image + 1");
        }
    }

    // A changed image fails the folder's checksum.
    let red = added.dir.join("photos/red/0.png");
    image::RgbImage::from_pixel(6, 4, image::Rgb([0, 0, 0]))
        .save(&red)
        .unwrap();
    let error = Registry::discover(root.path())
        .unwrap()
        .load("photos", "train")
        .unwrap_err();
    assert!(error.to_string().contains("checksum mismatch"), "{error}");
}

#[test]
fn a_parquet_footer_that_panics_polars_is_refused_as_an_invalid_file() {
    // Found by `cargo xtask fuzz data` (384,000 inputs in): polars-parquet 0.55's thrift
    // reader panics on this footer's sorting column instead of returning an error.
    let bytes =
        b"\x0a\x3b\x04\x0d\x49\x48\x44\x1a\x52\x0a\x06\x00\x00\x00\x50\x41\x52\x31".to_vec();
    let error = crate::tabular::read_parquet(Path::new("users.parquet"), bytes).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("users.parquet") && message.contains("not a valid Parquet table"),
        "{message}"
    );
}

#[test]
fn a_csv_file_that_panics_polars_parser_is_refused_as_an_invalid_file() {
    // Found by `cargo xtask fuzz data` (52,000 inputs into the second run, as `hourglass
    // apply` reads a table): polars-io 0.55's CSV line parser panics on a rayon thread
    // ("slice index starts at 1 but ends at 0").
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/csv-slice-index.csv"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.csv");
    std::fs::write(&path, bytes).unwrap();
    let error = crate::read_examples(&path, &[2]).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("users.csv") && message.contains("not a valid CSV table"),
        "{message}"
    );
}

#[test]
fn parquet_footers_that_would_make_polars_allocate_gigabytes_are_refused_first() {
    // Found by `cargo xtask fuzz data`. 444,575 inputs into the third run: polars-parquet 0.55
    // asked for 5 GB for the key-value list of a footer claiming more elements than it holds.
    // 494,339 into the fifth: 8.8 GB for a 74-byte file whose footer declares the key-value
    // field as another type, which polars reads as a list all the same.
    for file in ["parquet-huge-list.parquet", "parquet-retyped-field.parquet"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions")
            .join(file);
        let bytes = std::fs::read(path).unwrap();
        let error = crate::tabular::read_parquet(Path::new("users.parquet"), bytes).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("users.parquet")
                && message.contains("not a valid Parquet table: its footer"),
            "{file}: {message}"
        );
    }
}

#[test]
fn apply_reads_npy_arrays_of_the_models_shape_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("rows.npy");
    std::fs::write(&table, npy(&[3, 2], &[0.5f64, 1.0, 2.0, 3.0, 4.0, 5.5])).unwrap();
    let examples = crate::read_examples(&table, &[2]).unwrap();
    assert_eq!(examples.inputs, [0.5, 1.0, 2.0, 3.0, 4.0, 5.5]);
    assert_eq!(examples.columns, ["feature_0", "feature_1"]);
    assert_eq!(examples.names.len(), 3);
    assert!(!examples.images);
    // Grey images `[n, h, w]` of uint8 for a model of `[1, h, w]`, scaled to [0, 1].
    let grey = dir.path().join("grey.npy");
    std::fs::write(&grey, npy(&[2, 1, 2], &[0u8, 255, 51, 102])).unwrap();
    let examples = crate::read_examples(&grey, &[1, 1, 2]).unwrap();
    assert_eq!(examples.inputs, [0.0, 1.0, 0.2, 0.4]);
    assert!(examples.images && examples.columns.is_empty());
    let error = crate::read_examples(&table, &[3]).unwrap_err().to_string();
    assert!(
        error.contains("rows.npy")
            && error.contains("shape [2] per example, but the model takes [3]"),
        "{error}"
    );
}
