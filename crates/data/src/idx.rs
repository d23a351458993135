//! The IDX format of MNIST-like files: a magic number, big-endian dimensions, then raw values.
//!
//! Only unsigned bytes (type code 0x08) are read: every IDX data set in use stores pixels and
//! labels that way.

use std::io::Read;
use std::path::Path;

use flate2::read::GzDecoder;

use crate::DataError;

/// A decoded IDX array of bytes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IdxArray {
    pub dims: Vec<usize>,
    pub values: Vec<u8>,
}

/// Decodes gzipped IDX bytes read from `path` (the path is only for messages).
pub(crate) fn read_u8(path: &Path, gzipped: &[u8]) -> Result<IdxArray, DataError> {
    let decode = |message: String| DataError::Decode {
        path: path.to_path_buf(),
        message,
    };
    let mut raw = Vec::new();
    GzDecoder::new(gzipped)
        .read_to_end(&mut raw)
        .map_err(|e| decode(format!("not valid gzip: {e}")))?;
    let header = raw
        .get(..4)
        .ok_or_else(|| decode("shorter than an IDX header".into()))?;
    if header[0] != 0 || header[1] != 0 {
        return Err(decode(format!("bad IDX magic {header:02x?}")));
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
    let expected: usize = dims.iter().product();
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
    fn non_gzip_is_refused() {
        let err = read_u8(Path::new("x.gz"), b"plain").unwrap_err();
        assert!(err.to_string().contains("not valid gzip"), "{err}");
    }
}
