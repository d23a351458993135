//! A check of a Parquet file's footer before polars reads it.
//!
//! polars-parquet 0.55 sizes its vectors from the element counts written in the footer
//! (`Vec::with_capacity(n)` in its thrift reader), so a 30-byte file can make it ask for
//! gigabytes, and the process dies (found by `cargo xtask fuzz data`). The footer is Thrift's
//! compact protocol, which describes itself; this walks it and refuses a list, set or map that
//! claims more elements than there are bytes left, since each element takes one byte at least.
//!
//! polars reads the fields it knows by their id, whatever type the footer declares for them,
//! so a field declared as one type and read as another puts polars at bytes this walk never
//! read as a list's header (a 74-byte file then asked for 8.8 GB). The walk therefore also
//! holds every field polars reads to the type polars reads it as ([`Kind::field`], after
//! `handwritten_thrift/file_metadata_thrift.rs`): where they agree, polars reads the bytes
//! that were checked.

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
    reader.structure(0, Kind::FileMetaData)
}

/// The structs of Parquet's metadata that polars reads field by field.
#[derive(Debug, Clone, Copy)]
enum Kind {
    FileMetaData,
    SchemaElement,
    LogicalType,
    DecimalType,
    /// `TimeType` and `TimestampType`, alike.
    TimeType,
    TimeUnit,
    IntType,
    RowGroup,
    ColumnChunk,
    ColumnMetaData,
    Statistics,
    KeyValue,
    SortingColumn,
    ColumnOrder,
    /// A struct polars skips as the footer declares it.
    Skipped,
}

/// How polars reads a field.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Bool,
    Byte,
    /// An i16, i32 or i64.
    Varint,
    Binary,
    Struct(Kind),
    ListOf(Kind),
    ListOfVarints,
    ListOfBinaries,
}

impl Kind {
    /// How polars reads field `id` of this struct; `None` for a field it skips.
    fn field(self, id: i16) -> Option<Shape> {
        use Shape::{Binary, Bool, Byte, ListOf, ListOfBinaries, ListOfVarints, Struct, Varint};
        let shape = match (self, id) {
            (Kind::FileMetaData, 1 | 3) => Varint,
            (Kind::FileMetaData, 2) => ListOf(Kind::SchemaElement),
            (Kind::FileMetaData, 4) => ListOf(Kind::RowGroup),
            (Kind::FileMetaData, 5) => ListOf(Kind::KeyValue),
            (Kind::FileMetaData, 6) => Binary,
            (Kind::FileMetaData, 7) => ListOf(Kind::ColumnOrder),
            (Kind::SchemaElement, 1..=3 | 5..=9) => Varint,
            (Kind::SchemaElement, 4) => Binary,
            (Kind::SchemaElement, 10) => Struct(Kind::LogicalType),
            (Kind::LogicalType, 1..=4 | 6 | 11..=15) => Struct(Kind::Skipped),
            (Kind::LogicalType, 5) => Struct(Kind::DecimalType),
            (Kind::LogicalType, 7 | 8) => Struct(Kind::TimeType),
            (Kind::LogicalType, 10) => Struct(Kind::IntType),
            (Kind::DecimalType, 1 | 2) => Varint,
            (Kind::TimeType, 1) => Bool,
            (Kind::TimeType, 2) => Struct(Kind::TimeUnit),
            (Kind::TimeUnit, 1..=3) => Struct(Kind::Skipped),
            (Kind::IntType, 1) => Byte,
            (Kind::IntType, 2) => Bool,
            (Kind::RowGroup, 1) => ListOf(Kind::ColumnChunk),
            (Kind::RowGroup, 2 | 3 | 5..=7) => Varint,
            (Kind::RowGroup, 4) => ListOf(Kind::SortingColumn),
            (Kind::ColumnChunk, 1) => Binary,
            (Kind::ColumnChunk, 2 | 4..=7) => Varint,
            (Kind::ColumnChunk, 3) => Struct(Kind::ColumnMetaData),
            (Kind::ColumnMetaData, 1 | 4..=7 | 9..=11 | 14 | 15) => Varint,
            (Kind::ColumnMetaData, 2) => ListOfVarints,
            (Kind::ColumnMetaData, 3) => ListOfBinaries,
            (Kind::ColumnMetaData, 12) => Struct(Kind::Statistics),
            (Kind::Statistics, 1 | 2 | 5 | 6) => Binary,
            (Kind::Statistics, 3 | 4) => Varint,
            (Kind::Statistics, 7 | 8) => Bool,
            (Kind::KeyValue, 1 | 2) => Binary,
            (Kind::SortingColumn, 1) => Varint,
            (Kind::SortingColumn, 2 | 3) => Bool,
            (Kind::ColumnOrder, 1 | 2) => Struct(Kind::Skipped),
            _ => return None,
        };
        Some(shape)
    }
}

impl Shape {
    /// Whether polars, reading this shape, reads a value of compact type `kind` as the
    /// footer declares it.
    fn accepts(self, kind: u8) -> bool {
        match self {
            Shape::Bool => matches!(kind, 1 | 2),
            Shape::Byte => kind == 3,
            Shape::Varint => matches!(kind, 4..=6),
            Shape::Binary => kind == 8,
            Shape::Struct(_) => kind == 12,
            Shape::ListOf(_) | Shape::ListOfVarints | Shape::ListOfBinaries => kind == 9,
        }
    }

    /// The shape of a list's elements.
    fn element(self) -> Option<Shape> {
        match self {
            Shape::ListOf(kind) => Some(Shape::Struct(kind)),
            Shape::ListOfVarints => Some(Shape::Varint),
            Shape::ListOfBinaries => Some(Shape::Binary),
            _ => None,
        }
    }
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

    fn structure(&mut self, depth: usize, kind: Kind) -> Result<(), String> {
        let mut last_id = 0i16;
        loop {
            let header = self.byte()?;
            if header == 0 {
                return Ok(());
            }
            let id = match header >> 4 {
                // The field id, written in full (zigzag).
                0 => {
                    let zigzag = self.varint()?;
                    i16::try_from((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
                        .map_err(|_| "its footer has a field id beyond 16 bits")?
                }
                delta => last_id
                    .checked_add(i16::from(delta))
                    .ok_or("its footer has a field id beyond 16 bits")?,
            };
            last_id = id;
            let declared = header & 0x0f;
            let shape = kind.field(id);
            if let Some(shape) = shape
                && !shape.accepts(declared)
            {
                return Err(format!(
                    "its footer declares field {id} of {kind:?} as type {declared}, which is \
                     not what Parquet's metadata holds there ({shape:?})"
                ));
            }
            self.value(declared, shape, depth)?;
        }
    }

    /// An element of a container: as a value, but a boolean takes a byte of its own.
    fn element(&mut self, kind: u8, shape: Option<Shape>, depth: usize) -> Result<(), String> {
        if kind == 1 || kind == 2 {
            self.skip(1)
        } else {
            self.value(kind, shape, depth)
        }
    }

    /// A value of compact type `kind`, which polars reads as `shape` when it reads it.
    fn value(&mut self, kind: u8, shape: Option<Shape>, depth: usize) -> Result<(), String> {
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
                let (elements, element) = (header & 0x0f, shape.and_then(Shape::element));
                if let Some(element) = element
                    && count > 0
                    && !element.accepts(elements)
                {
                    return Err(format!(
                        "its footer declares a list of type {elements} where Parquet's \
                         metadata holds a list of {element:?}"
                    ));
                }
                for _ in 0..self.elements(count)? {
                    self.element(elements, element, depth + 1)?;
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
                    self.element(types >> 4, None, depth + 1)?;
                    self.element(types & 0x0f, None, depth + 1)?;
                }
                Ok(())
            }
            12 => match shape {
                Some(Shape::Struct(kind)) => self.structure(depth + 1, kind),
                _ => self.structure(depth + 1, Kind::Skipped),
            },
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
    fn footers_that_pandas_and_pyarrow_wrote_pass() {
        for name in ["pandas.parquet", "pyarrow-page-index.parquet"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata")
                .join(name);
            assert_eq!(check(&std::fs::read(path).unwrap()), Ok(()), "{name}");
        }
    }

    #[test]
    fn a_list_claiming_more_elements_than_bytes_left_is_refused() {
        // Field 4 (the row groups), a list of 1,000 structs, then nothing.
        let error = check(&file(&[0x49, 0xfc, 0xe8, 0x07, 0x00])).unwrap_err();
        assert!(
            error.contains("1000 elements where 1 bytes are left"),
            "{error}"
        );
        // The same list with its one struct: the file is whole.
        assert_eq!(check(&file(&[0x49, 0x1c, 0x00, 0x00])), Ok(()));
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
            check(&file(&[0x68, 0x05]))
                .unwrap_err()
                .contains("ends early")
        );
    }

    #[test]
    fn a_field_declared_as_another_type_than_polars_reads_is_refused() {
        // Field 5 (the key-value metadata) declared a binary of one byte: polars would read
        // that byte as a list's header.
        let error = check(&file(&[0x58, 0x01, 0xf0, 0x00])).unwrap_err();
        assert!(
            error.contains("field 5 of FileMetaData as type 8"),
            "{error}"
        );
        // A list of row groups whose elements are declared as i32: polars reads structs.
        let error = check(&file(&[0x49, 0x15, 0x02, 0x00])).unwrap_err();
        assert!(error.contains("a list of type 5"), "{error}");
        // A field polars does not read keeps whatever type the footer gives it.
        assert_eq!(check(&file(&[0xf8, 0x01, 0x41, 0x00])), Ok(()));
        // A field id written in full (zigzag 8 is 4): still the row groups, still checked.
        let error = check(&file(&[0x05, 0x08, 0x02, 0x00])).unwrap_err();
        assert!(
            error.contains("field 4 of FileMetaData as type 5"),
            "{error}"
        );
    }
}
