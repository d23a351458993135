//! What a `duplicate key` error of the toml parser is about: a table written twice, a table
//! given both with a `[header]` and with dotted keys, or a key given twice, and where it was
//! first defined. The parser says only `duplicate key` at the second definition.
//!
//! The spec's lines are read as headers and `key = value` lines, which is all a definition
//! can be at the start of a line; values spanning lines (arrays, multi-line strings) are not
//! followed, so a line inside one that looks like a definition may be taken for one.

use std::ops::Range;

use crate::diagnostic::line_col;

/// How a dotted path came to be defined.
#[derive(Debug, Clone, Copy, PartialEq)]
enum How {
    /// `[a.b]` or `[[a.b]]`.
    Header,
    /// A table made by a dotted key, `b.c = 1` under `[a]` making `a.b`.
    Dotted,
    /// `b = 1` under `[a]`.
    Value,
}

/// A definition: its dotted path, how it was made, and the byte offset of its key.
struct Definition {
    path: Vec<String>,
    how: How,
    offset: usize,
}

/// The message and hint for a duplicate key at `span` of `source`, when its definitions can be
/// told apart.
pub(crate) fn explain(source: &str, span: &Range<usize>) -> Option<(String, String)> {
    let definitions = definitions(source);
    let second = definitions
        .iter()
        .rev()
        .find(|d| d.offset <= span.start && span.start < d.offset + key_len(source, d.offset))?;
    let first = definitions
        .iter()
        .find(|d| d.offset < second.offset && d.path == second.path)?;
    let name = second.path.join(".");
    let (message, fix) = match (first.how, second.how) {
        (How::Header, How::Header) => (
            format!("table [{name}] is written twice"),
            "write its keys under one header",
        ),
        (How::Header, How::Dotted) | (How::Dotted, How::Header) => (
            format!("table `{name}` is given both with a [{name}] header and with dotted keys"),
            "write its keys either under the header or as dotted keys, not both",
        ),
        (How::Value, _) | (_, How::Value) => {
            (format!("key `{name}` is given twice"), "keep one of them")
        }
        (How::Dotted, How::Dotted) => return None,
    };
    let (line, col) = line_col(source, first.offset);
    Some((
        message,
        format!("first defined at line {line}, column {col}; {fix}"),
    ))
}

/// Bytes of the key at `offset`: up to a `.`, `=`, `]` or space.
fn key_len(source: &str, offset: usize) -> usize {
    source[offset..]
        .find(['.', '=', ']', ' ', '\t', '\n'])
        .unwrap_or(source.len() - offset)
        .max(1)
}

/// Every header and every key at the start of a line, in file order.
fn definitions(source: &str) -> Vec<Definition> {
    let mut definitions = Vec::new();
    let mut table: Vec<String> = Vec::new();
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if let Some(header) = text.strip_prefix('[') {
            let header = header.trim_start_matches('[');
            let Some(end) = header.find(']') else {
                continue;
            };
            let keys = dotted(&header[..end]);
            let first_key = start + indent + text.len() - header.len();
            let key_offset = first_key + header[..end].len() - header[..end].trim_start().len();
            table = keys.iter().map(|(key, _)| key.clone()).collect();
            definitions.push(Definition {
                path: table.clone(),
                how: How::Header,
                offset: key_offset,
            });
        } else if let Some((keys, _)) = text.split_once('=')
            && !text.starts_with('#')
        {
            let base = start + indent;
            let keys = dotted(keys);
            let mut path = table.clone();
            for (i, (key, at)) in keys.iter().enumerate() {
                path.push(key.clone());
                definitions.push(Definition {
                    path: path.clone(),
                    how: if i + 1 == keys.len() {
                        How::Value
                    } else {
                        How::Dotted
                    },
                    offset: base + at,
                });
            }
        }
    }
    definitions
}

/// The keys of a dotted key `a."b.c".d`, unquoted, each with its byte offset in `text`.
fn dotted(text: &str) -> Vec<(String, usize)> {
    let mut keys = Vec::new();
    let mut key = String::new();
    let mut at = None;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => key.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                at.get_or_insert(i);
            }
            (None, '.') => {
                keys.push((std::mem::take(&mut key), at.take().unwrap_or(i)));
            }
            (None, c) if c.is_whitespace() => {}
            (None, c) => {
                key.push(c);
                at.get_or_insert(i);
            }
        }
    }
    keys.push((key, at.unwrap_or(text.len())));
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &str, needle: &str) -> Option<(String, String)> {
        let start = source.rfind(needle).expect("the needle is in the source");
        explain(source, &(start..start + 1))
    }

    #[test]
    fn says_which_kind_of_duplicate_and_where_the_first_is() {
        let (message, hint) = at("[model]\nlatent = 4\n[model]\nhidden = [3]\n", "model").unwrap();
        assert_eq!(message, "table [model] is written twice");
        assert!(
            hint.starts_with("first defined at line 1, column 2"),
            "{hint}"
        );
        let source = "[model.x]\na = 1\n[model]\nx.b = 2\n";
        let (message, hint) = at(source, "x.b").unwrap();
        assert_eq!(
            message,
            "table `model.x` is given both with a [model.x] header and with dotted keys"
        );
        assert!(
            hint.starts_with("first defined at line 1, column 2"),
            "{hint}"
        );
        let (message, _) = at("[train]\nepochs = 1\n  epochs = 2\n", "epochs").unwrap();
        assert_eq!(message, "key `train.epochs` is given twice");
        assert_eq!(
            dotted(r#" a ."b.c". d"#),
            vec![("a".into(), 1), ("b.c".into(), 4), ("d".into(), 11)]
        );
    }
}
