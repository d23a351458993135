//! Image grids of a run, saved as PNG beside its results: reconstructions, a VAE's samples
//! from the prior and decoded interpolations between codes.

use std::io::Cursor;
use std::path::Path;

use hourglass_spec::result::write_atomic;
use image::{GrayImage, ImageFormat, Luma};

/// Pixels between tiles.
const GAP: u32 = 2;

/// Tiles `images` (each `height × width` values in [0, 1], row-major) into a grid of
/// `columns` per row on a white background and writes it as a PNG, atomically.
pub(crate) fn write_grid(
    path: &Path,
    images: &[f32],
    [height, width]: [usize; 2],
    columns: usize,
) -> std::io::Result<()> {
    let count = images.len() / (height * width);
    let rows = count.div_ceil(columns);
    let (h, w) = (height as u32, width as u32);
    let mut grid = GrayImage::from_pixel(
        columns as u32 * (w + GAP) + GAP,
        rows as u32 * (h + GAP) + GAP,
        Luma([255]),
    );
    for (index, image) in images.chunks_exact(height * width).enumerate() {
        let (row, column) = ((index / columns) as u32, (index % columns) as u32);
        for (pixel, &value) in image.iter().enumerate() {
            let (y, x) = ((pixel / width) as u32, (pixel % width) as u32);
            let level = (value.clamp(0.0, 1.0) * 255.0).round() as u8;
            grid.put_pixel(
                GAP + column * (w + GAP) + x,
                GAP + row * (h + GAP) + y,
                Luma([level]),
            );
        }
    }
    let mut bytes = Vec::new();
    grid.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(std::io::Error::other)?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grid_places_each_tile_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        // Three 2×3 tiles: black, mid grey, white.
        let images: Vec<f32> = [0.0, 0.5, 1.0].iter().flat_map(|&v| [v; 6]).collect();
        write_grid(&path, &images, [2, 3], 2).unwrap();
        let grid = image::open(&path).unwrap().into_luma8();
        assert_eq!(grid.dimensions(), (2 * 5 + 2, 2 * 4 + 2));
        assert_eq!(grid.get_pixel(2, 2)[0], 0);
        assert_eq!(grid.get_pixel(2 + 5, 2)[0], 128);
        assert_eq!(grid.get_pixel(2, 2 + 4)[0], 255);
        assert_eq!(grid.get_pixel(0, 0)[0], 255);
    }
}
