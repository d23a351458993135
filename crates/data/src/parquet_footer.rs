//! A check of a Parquet file's footer before polars reads it.
//!
//! polars-parquet 0.55 sizes its vectors from the element counts written in the footer
//! (`Vec::with_capacity(n)` in its thrift reader), so a 30-byte file can make it ask for
//! gigabytes, and the process dies (found by `cargo xtask fuzz data`). The footer is Thrift's
//! compact protocol, which describes itself; this walks it and refuses a list, set or map that
//! claims more elements than there are bytes left, since each element takes one byte at least.

/// Deepest nesting of structs and containers walked; Parquet's own metadata nests a few levels.
const MAX_DEPTH: usize = 64;

/// Refuses the footer of `file` when it is not a Thrift compact struct whose every container
/// fits in the bytes that follow it. A file too short to have a footer passes: polars refuses
/// it on its own.
pub(crate) fn check(file: &[u8]) -> Result<(), String> {
    let Some(tail) = file.len().checked_sub(8).map(|at| &file[at..]) else {
        return Ok(());
    };
    if &tail[4..] != b"PAR1" {
        return Ok(());
    }
    let length = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    let Some(start) = (file.len() - 8).checked_sub(length) else {
        return Err(format!(
            "its footer claims {length} bytes, more than the file holds"
        ));
    };
    let mut reader = Reader {
        bytes: &file[start..file.len() - 8],
        at: 0,
    };
    reader.structure(0)
}

/// A position in the footer's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self.bytes.get(self.at).ok_or("its footer ends early")?;
        self.at += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("its footer has a varint longer than 64 bits".into())
    }

    fn skip(&mut self, count: u64) -> Result<(), String> {
        let end = usize::try_from(count)
            .ok()
            .and_then(|count| self.at.checked_add(count))
            .filter(|&end| end <= self.bytes.len())
            .ok_or("its footer ends early")?;
        self.at = end;
        Ok(())
    }

    /// `count` elements, each at least one byte: no more than the bytes left.
    fn elements(&self, count: u64) -> Result<u64, String> {
        let left = (self.bytes.len() - self.at) as u64;
        if count > left {
            return Err(format!(
                "its footer claims {count} elements where {left} bytes are left"
            ));
        }
        Ok(count)
    }

    fn structure(&mut self, depth: usize) -> Result<(), String> {
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            if header >> 4 == 0 {
                self.varint()?; // the field id, written in full
            }
            self.value(header & 0x0f, depth)?;
        }
    }

    /// An element of a container: as a value, but a boolean takes a byte of its own.
    fn element(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        if kind == 1 || kind == 2 {
            self.skip(1)
        } else {
            self.value(kind, depth)
        }
    }

    fn value(&mut self, kind: u8, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("its footer nests deeper than {MAX_DEPTH} levels"));
        }
        match kind {
            // A field's boolean is in its header.
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(drop),
            7 => self.skip(8),
            8 => {
                let length = self.varint()?;
                self.skip(length)
            }
            9 | 10 => {
                let header = self.byte()?;
                let count = match header >> 4 {
                    15 => self.varint()?,
                    short => u64::from(short),
                };
                for _ in 0..self.elements(count)? {
                    self.element(header & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                for _ in 0..self.elements(count)? {
                    self.element(types >> 4, depth + 1)?;
                    self.element(types & 0x0f, depth + 1)?;
                }
                Ok(())
            }
            12 => self.structure(depth + 1),
            other => Err(format!("its footer has a value of unknown type {other}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `footer` as the footer of a file.
    fn file(footer: &[u8]) -> Vec<u8> {
        let length = u32::try_from(footer.len()).unwrap().to_le_bytes();
        [b"PAR1".as_slice(), footer, &length, b"PAR1"].concat()
    }

    #[test]
    fn a_footer_polars_wrote_passes() {
        use polars::prelude::*;
        let mut frame = df!("a" => [1.0f64, 2.0], "label" => ["x", "y"]).unwrap();
        let mut bytes = Vec::new();
        ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
        assert_eq!(check(&bytes), Ok(()));
    }

    #[test]
    fn a_list_claiming_more_elements_than_bytes_left_is_refused() {
        // Field 1, a list of 1,000 structs, then nothing.
        let error = check(&file(&[0x19, 0xfc, 0xe8, 0x07, 0x00])).unwrap_err();
        assert!(
            error.contains("1000 elements where 1 bytes are left"),
            "{error}"
        );
        // The same list with its one struct: the file is whole.
        assert_eq!(check(&file(&[0x19, 0x1c, 0x00, 0x00])), Ok(()));
    }

    #[test]
    fn a_footer_longer_than_the_file_or_cut_short_is_refused() {
        let mut long = file(&[0x00]);
        long[5] = 0xff; // the footer length, after "PAR1" and the one footer byte
        assert!(
            check(&long)
                .unwrap_err()
                .contains("more than the file holds")
        );
        assert!(
            check(&file(&[0x18, 0x05]))
                .unwrap_err()
                .contains("ends early")
        );
    }
}
