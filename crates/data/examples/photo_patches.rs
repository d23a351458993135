//! Builds `datasets/photo-patches`: 32x32 RGB patches cut on a regular grid (no overlap, row
//! by row) from three photographs the scikit-image wheel ships, one class per photograph, added
//! with `hourglass_data::add` as `hourglass datasets add` would.
//!
//! ```sh
//! pip download scikit-image==0.26.0 --no-deps --only-binary=:all: -d /tmp/skimage
//! cargo run -p hourglass-data --example photo_patches -- /tmp/skimage/scikit_image-0.26.0-*.whl
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use hourglass_data::{NewDataset, add};

/// Side of a patch, in pixels.
const SIDE: u32 = 32;

/// The photographs (in the wheel's `skimage/data/`) and their licences.
const PHOTOS: [(&str, &str); 3] = [
    ("astronaut", "NASA, public domain"),
    ("chelsea", "CC0, Stefan van der Walt"),
    ("coffee", "CC0, Rachel Michetti"),
];

fn main() {
    let wheel: PathBuf = std::env::args_os()
        .nth(1)
        .expect("usage: photo_patches WHEEL")
        .into();
    let file = std::fs::File::open(&wheel).expect("open the wheel");
    let mut archive = zip::ZipArchive::new(file).expect("a wheel is a zip archive");
    let staging = tempfile::tempdir().expect("a temporary folder");
    let folder = staging.path().join("patches");
    for (photo, _) in PHOTOS {
        let mut bytes = Vec::new();
        archive
            .by_name(&format!("skimage/data/{photo}.png"))
            .expect("the photograph is in the wheel")
            .read_to_end(&mut bytes)
            .expect("read the photograph");
        let image = image::load_from_memory(&bytes).expect("a PNG").into_rgb8();
        let class = folder.join(photo);
        std::fs::create_dir_all(&class).expect("create the class folder");
        for row in 0..image.height() / SIDE {
            for column in 0..image.width() / SIDE {
                let patch =
                    image::imageops::crop_imm(&image, column * SIDE, row * SIDE, SIDE, SIDE);
                let path = class.join(format!("r{row:02}c{column:02}.png"));
                patch.to_image().save(&path).expect("write a patch");
            }
        }
    }
    let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets");
    let licences: Vec<String> = PHOTOS
        .iter()
        .map(|(photo, licence)| format!("{photo}: {licence}"))
        .collect();
    let new = NewDataset {
        licence: Some(licences.join("; ")),
        test_fraction: 0.25,
        force: true,
        ..NewDataset::new("photo-patches", vec![folder])
    };
    let added = add(&datasets, &new).expect("the patches make a data set");
    let manifest_path = added.dir.join("dataset.toml");
    let manifest = std::fs::read_to_string(&manifest_path).expect("read the manifest");
    let wheel_name = wheel.file_name().unwrap_or_default().to_string_lossy();
    let manifest = manifest
        .lines()
        .map(|line| {
            if line.starts_with("description = ") {
                "description = \"32x32 RGB patches of three photographs (an astronaut, a cat, a \
                 coffee cup), one class each\""
                    .to_string()
            } else if line.starts_with("source = ") {
                format!(
                    "source = \"PyPI {wheel_name}, skimage/data/{{astronaut,chelsea,coffee}}.png, \
                     cut by crates/data/examples/photo_patches.rs\""
                )
            } else if line.starts_with("# Written by") {
                "# Written by `cargo run -p hourglass-data --example photo_patches`.".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&manifest_path, manifest + "\n").expect("write the manifest");
    println!(
        "{}: {} train, {} test, shape {:?}, {:?}",
        added.dir.display(),
        added.train,
        added.test,
        added.manifest.shape,
        added.label_counts
    );
}
