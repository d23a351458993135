//! Image folders, the layout torchvision's `ImageFolder` reads: one sub-folder per class (its
//! label is the sub-folder's place in sorted order) or the images themselves, unlabelled; PNG
//! and JPEG files, grey or colour, decoded to the manifest's `[channels, height, width]`
//! (channels first, in [0, 1]). The folder's checksum is one sha256 over the list of its
//! images' sha256 sums, each line `SUM  PATH` as `sha256sum` prints it, in path order.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::manifest::{ImageFolder, Manifest};
use crate::split::Split;
use crate::{DataError, hex};

/// The file extensions read as images (compared without case).
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// The largest side an image may have: larger ones are refused before they are decoded.
const MAX_SIDE: u32 = 16_384;

/// An image of the folder: its path relative to the folder (`/`-separated) and its label.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listed {
    pub path: String,
    pub label: u8,
}

/// The images under `root`: in class sub-folders when `labelled`, else directly in it; in
/// path order. Other files and hidden ones are left out, as `ImageFolder` leaves them.
/// Returns the class names too (empty when unlabelled).
pub(crate) fn list(root: &Path, labelled: bool) -> Result<(Vec<Listed>, Vec<String>), DataError> {
    let read = |path: &Path, source| DataError::Read {
        path: path.to_path_buf(),
        source,
    };
    let entries = |folder: &Path| -> Result<Vec<(String, PathBuf, bool)>, DataError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(folder).map_err(|e| read(folder, e))? {
            let entry = entry.map_err(|e| read(folder, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let is_dir = entry.path().is_dir();
            found.push((name, entry.path(), is_dir));
        }
        found.sort();
        Ok(found)
    };
    let is_image = |name: &str| {
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        extension.is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
    };
    let mut images = Vec::new();
    let mut classes = Vec::new();
    if labelled {
        for (class, folder, is_dir) in entries(root)? {
            if !is_dir {
                continue;
            }
            let label = u8::try_from(classes.len()).map_err(|_| DataError::Decode {
                path: root.to_path_buf(),
                message: "more than 256 class folders: labels are 0..=255".into(),
            })?;
            for (name, _, is_dir) in entries(&folder)? {
                if !is_dir && is_image(&name) {
                    images.push(Listed {
                        path: format!("{class}/{name}"),
                        label,
                    });
                }
            }
            classes.push(class);
        }
    } else {
        for (name, _, is_dir) in entries(root)? {
            if !is_dir && is_image(&name) {
                images.push(Listed {
                    path: name,
                    label: 0,
                });
            }
        }
    }
    Ok((images, classes))
}

/// Whether `folder` is laid out by class: it holds sub-folders (hidden ones aside).
pub(crate) fn has_classes(folder: &Path) -> Result<bool, DataError> {
    let entries = std::fs::read_dir(folder).map_err(|source| DataError::Read {
        path: folder.to_path_buf(),
        source,
    })?;
    Ok(entries.flatten().any(|entry| {
        !entry.file_name().to_string_lossy().starts_with('.') && entry.path().is_dir()
    }))
}

/// The folder's sha256 and its images' bytes: `sha256sum`'s lines of every image, hashed.
pub(crate) fn read_folder(
    root: &Path,
    listed: &[Listed],
) -> Result<(String, Vec<Vec<u8>>), DataError> {
    let mut tree = Sha256::new();
    let mut files = Vec::with_capacity(listed.len());
    for image in listed {
        let path = root.join(&image.path);
        let bytes = std::fs::read(&path).map_err(|source| DataError::Read { path, source })?;
        tree.update(format!(
            "{}  {}\n",
            hex(&Sha256::digest(&bytes)),
            image.path
        ));
        files.push(bytes);
    }
    Ok((hex(&tree.finalize()), files))
}

/// Split `name` of an `images` data set in `dir`.
pub(crate) fn images_split(
    manifest: &Manifest,
    images: &ImageFolder,
    dir: &Path,
    name: &str,
) -> Result<Split, DataError> {
    let root = dir.join(&images.folder);
    let (listed, _) = list(&root, images.labelled)?;
    if listed.len() != images.examples {
        return Err(DataError::Decode {
            path: root,
            message: format!(
                "{} images, the manifest says {}",
                listed.len(),
                images.examples
            ),
        });
    }
    crate::memory::check_fits(&root, listed.len(), manifest.features())?;
    let (actual, files) = read_folder(&root, &listed)?;
    let expected = manifest
        .sha256
        .get(&images.folder)
        .cloned()
        .unwrap_or_default();
    if !actual.eq_ignore_ascii_case(&expected) {
        return Err(DataError::Checksum {
            path: root,
            expected,
            actual,
        });
    }
    let [channels, height, width] = manifest.shape[..] else {
        unreachable!("checked on reading the manifest")
    };
    let mut inputs = Vec::with_capacity(listed.len() * manifest.features());
    for (image, bytes) in listed.iter().zip(&files) {
        let path = root.join(&image.path);
        inputs.extend(decode(
            &path,
            bytes,
            [channels, height, width],
            images.resize,
        )?);
    }
    let all = Split {
        shape: manifest.shape.clone(),
        inputs,
        labels: listed.iter().map(|image| image.label).collect(),
    };
    all.check_labels(manifest, &root)?;
    let (train, test) = all.partition(images.test_fraction, images.split_seed);
    match name {
        "train" => Ok(train),
        "test" => Ok(test),
        _ => Err(manifest.no_split(name)),
    }
}

/// Decodes one PNG or JPEG `bytes` to `[channels, height, width]` values in [0, 1], channels
/// first: grey for one channel, RGB for three (a grey image's level in each); resized when
/// `resize` and of another size, else refused.
pub(crate) fn decode(
    path: &Path,
    bytes: &[u8],
    [channels, height, width]: [usize; 3],
    resize: bool,
) -> Result<Vec<f32>, DataError> {
    let refuse = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| refuse(format!("cannot be read: {e}")))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| refuse(format!("not a PNG or JPEG image: {e}")))?;
    let size = [image.height() as usize, image.width() as usize];
    let image = if size == [height, width] {
        image
    } else if resize {
        let (Ok(w), Ok(h)) = (u32::try_from(width), u32::try_from(height)) else {
            return Err(refuse(format!("cannot be resized to {height}x{width}")));
        };
        image.resize_exact(w, h, image::imageops::FilterType::Triangle)
    } else {
        return Err(refuse(format!(
            "{}x{} pixels (height x width), but the data set's images are {height}x{width}; \
             resize them, or set `resize = true` in [images]",
            size[0], size[1]
        )));
    };
    match channels {
        1 => Ok(image.to_luma32f().into_raw()),
        3 => {
            let rgb = image.to_rgb32f().into_raw();
            let pixels = height * width;
            let mut planes = vec![0.0f32; 3 * pixels];
            for (pixel, values) in rgb.chunks_exact(3).enumerate() {
                for (channel, &value) in values.iter().enumerate() {
                    planes[channel * pixels + pixel] = value;
                }
            }
            Ok(planes)
        }
        _ => Err(refuse(format!(
            "{channels} channels asked: images are read as 1 (grey) or 3 (RGB)"
        ))),
    }
}
