//! The IDX format of MNIST-like files: a magic number, big-endian dimensions, then raw values.
//!
//! Only unsigned bytes (type code 0x08) are read: every IDX data set in use stores pixels and
//! labels that way.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::DataError;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX array of bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IdxArray {
    pub dims: Vec<usize>,
    pub values: Vec<u8>,
}

/// Decodes IDX bytes, gzipped or not, read from `path` (the path is only for messages).
pub(crate) fn read_u8(path: &Path, bytes: &[u8]) -> Result<IdxArray, DataError> {
    let decode = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let mut raw = Vec::new();
    let gzipped = bytes.starts_with(&GZIP_MAGIC);
    if gzipped {
        // Each byte becomes an f32: a stream that inflates past a quarter of the data budget
        // (a gzip bomb, or data too large) is refused before it is all in memory.
        let limit = crate::memory::data_budget().map_or(u64::MAX, |budget| budget / 4);
        GzDecoder::new(bytes)
            .take(limit.saturating_add(1))
            .read_to_end(&mut raw)
            .map_err(|e| decode(format!("not valid gzip: {e}")))?;
        if raw.len() as u64 > limit {
            return Err(DataError::TooLarge {
                path: path.to_path_buf(),
                what: "at least: what it decompresses to, as f32".into(),
                needed: Some(limit.saturating_add(1).saturating_mul(4)),
                budget: crate::memory::data_budget(),
            });
        }
    } else {
        raw = bytes.to_vec();
    }
    let header = raw
        .get(..4)
        .ok_or_else(|| decode("shorter than an IDX header".into()))?;
    if header[0] != 0 || header[1] != 0 {
        return Err(decode(if gzipped {
            format!("bad IDX magic {header:02x?} in the gzip: IDX starts [00, 00]")
        } else {
            format!(
                "neither gzip nor IDX: it starts {header:02x?}, where IDX starts [00, 00] and \
                 gzip [1f, 8b]"
            )
        }));
    }
    if header[2] != 0x08 {
        return Err(decode(format!(
            "IDX type code {:#04x} is not unsigned bytes (0x08)",
            header[2]
        )));
    }
    let rank = usize::from(header[3]);
    let dims_end = 4 + 4 * rank;
    let dims: Vec<usize> = raw
        .get(4..dims_end)
        .ok_or_else(|| decode(format!("header ends before its {rank} dimensions")))?
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected = (dims.iter())
        .try_fold(1usize, |product, &d| product.checked_mul(d))
        .ok_or_else(|| decode(format!("dimensions {dims:?} hold more values than memory")))?;
    let values = raw.split_off(dims_end);
    if values.len() != expected {
        return Err(decode(format!(
            "dimensions {dims:?} need {expected} values, the file holds {}",
            values.len()
        )));
    }
    Ok(IdxArray { dims, values })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use flate2::{Compression, write::GzEncoder};

    use super::*;

    /// Gzipped IDX bytes of `values` with `dims`.
    pub(crate) fn encode(dims: &[u32], values: &[u8]) -> Vec<u8> {
        let mut raw = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            raw.extend_from_slice(&d.to_be_bytes());
        }
        raw.extend_from_slice(values);
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(&raw).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let array = read_u8(Path::new("x"), &encode(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(array.dims, vec![2, 3]);
        assert_eq!(array.values, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn short_body_is_refused() {
        let err = read_u8(Path::new("x.gz"), &encode(&[2, 3], &[1, 2, 3])).unwrap_err();
        assert!(
            err.to_string().contains("need 6 values, the file holds 3"),
            "{err}"
        );
    }

    #[test]
    fn bytes_that_are_neither_idx_nor_gzip_are_refused() {
        let err = read_u8(Path::new("x"), b"plain").unwrap_err();
        assert!(err.to_string().contains("neither gzip nor IDX"), "{err}");
        let err = read_u8(Path::new("x.gz"), &[0x1f, 0x8b, 1, 2]).unwrap_err();
        assert!(err.to_string().contains("not valid gzip"), "{err}");
    }

    #[test]
    fn an_idx_file_not_gzipped_reads() {
        let raw = [0, 0, 0x08, 2, 0, 0, 0, 1, 0, 0, 0, 2, 7, 9];
        let array = read_u8(Path::new("x"), &raw).unwrap();
        assert_eq!((array.dims, array.values), (vec![1, 2], vec![7, 9]));
    }

    #[test]
    fn dimensions_whose_product_overflows_are_refused() {
        let mut raw = vec![0, 0, 0x08, 3];
        raw.extend(std::iter::repeat_n(0xff, 12));
        let err = read_u8(Path::new("x"), &raw).unwrap_err();
        assert!(err.to_string().contains("more values than memory"), "{err}");
    }
}
