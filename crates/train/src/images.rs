//! Image grids of a run, saved as PNG beside its results: reconstructions, a VAE's samples
//! from the prior and decoded interpolations between codes.

use std::io::Cursor;
use std::path::Path;

use hourglass_spec::result::write_atomic;
use image::ExtendedColorType;
use image::codecs::png::PngEncoder;

/// Pixels between tiles.
const GAP: usize = 2;

/// Tiles `images` (each `[channels, height, width]` values in [0, 1], channels first: 1 for
/// grey, 3 for RGB) into a grid of `columns` per row on a white background and writes it as a
/// grey or RGB PNG, atomically.
pub(crate) fn write_grid(
    path: &Path,
    images: &[f32],
    [channels, height, width]: [usize; 3],
    columns: usize,
) -> std::io::Result<()> {
    let plane = height * width;
    let count = images.len() / (channels * plane);
    let rows = count.div_ceil(columns);
    let grid_width = columns * (width + GAP) + GAP;
    let grid_height = rows * (height + GAP) + GAP;
    let mut grid = vec![255u8; grid_width * grid_height * channels];
    for (index, image) in images.chunks_exact(channels * plane).enumerate() {
        let (row, column) = (index / columns, index % columns);
        for pixel in 0..plane {
            let (y, x) = (pixel / width, pixel % width);
            let at =
                (GAP + row * (height + GAP) + y) * grid_width + GAP + column * (width + GAP) + x;
            for channel in 0..channels {
                let value = image[channel * plane + pixel];
                grid[at * channels + channel] = (value.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
    }
    let colour = if channels == 3 {
        ExtendedColorType::Rgb8
    } else {
        ExtendedColorType::L8
    };
    let mut bytes = Vec::new();
    let too_large = |_| std::io::Error::other("an image grid wider than PNG allows");
    let (w, h) = (
        u32::try_from(grid_width).map_err(too_large)?,
        u32::try_from(grid_height).map_err(too_large)?,
    );
    image::ImageEncoder::write_image(
        PngEncoder::new(Cursor::new(&mut bytes)),
        &grid,
        w,
        h,
        colour,
    )
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
        write_grid(&path, &images, [1, 2, 3], 2).unwrap();
        let grid = image::open(&path).unwrap().into_luma8();
        assert_eq!(grid.dimensions(), (2 * 5 + 2, 2 * 4 + 2));
        assert_eq!(grid.get_pixel(2, 2)[0], 0);
        assert_eq!(grid.get_pixel(2 + 5, 2)[0], 128);
        assert_eq!(grid.get_pixel(2, 2 + 4)[0], 255);
        assert_eq!(grid.get_pixel(0, 0)[0], 255);
    }

    #[test]
    fn a_colour_grid_keeps_each_channel_of_each_tile() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        // Two 2×3 RGB tiles, channels first: pure red, then pure blue.
        let red = [[1.0f32; 6], [0.0; 6], [0.0; 6]].concat();
        let blue = [[0.0f32; 6], [0.0; 6], [1.0; 6]].concat();
        write_grid(&path, &[red, blue].concat(), [3, 2, 3], 2).unwrap();
        let grid = image::open(&path).unwrap();
        assert!(grid.color().has_color());
        let grid = grid.into_rgb8();
        assert_eq!(grid.dimensions(), (2 * 5 + 2, 4 + 2));
        assert_eq!(grid.get_pixel(2, 2).0, [255, 0, 0]);
        assert_eq!(grid.get_pixel(2 + 5 + 2, 3).0, [0, 0, 255]);
        assert_eq!(grid.get_pixel(0, 0).0, [255, 255, 255]);
    }
}
