//! Spec errors that point into the file: `path:line:col`, the offending line and a caret.
//!
//! Every check, syntactic or semantic, produces a [`Diagnostic`]; a [`SpecError`] carries all of
//! them so that a user fixes a spec in one pass instead of one error per run of the tool.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted key path the problem is about (`train.learning_rate`), empty for the whole file.
    pub key: String,
    /// What is wrong, lowercase, no trailing period.
    pub message: String,
    /// Byte range in the source that the problem is about, when known.
    pub span: Option<Range<usize>>,
    /// A suggestion (`did you mean ...`, the accepted range).
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about `key`, without location or hint yet.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
            span: None,
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the byte range in the source.
    pub fn at(mut self, span: Option<Range<usize>>) -> Self {
        self.span = span;
        self
    }
}

/// A spec that cannot be used, with every problem found in it.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read spec {}: {source}", path.display())]
    Read {
        /// The spec's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid spec.
    #[error("{}", render(path, text, diagnostics))]
    Invalid {
        /// The spec's path, as given.
        path: PathBuf,
        /// The spec's text, to quote from.
        text: String,
        /// Every problem, in file order.
        diagnostics: Vec<Diagnostic>,
    },
}

impl SpecError {
    /// The problems found, empty when the file could not be read.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            SpecError::Read { .. } => &[],
            SpecError::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

/// Renders all diagnostics the way rustc does, followed by a count.
fn render(path: &Path, source: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(
            &RenderedDiagnostic {
                path,
                source,
                diagnostic,
                severity: "error",
            }
            .to_string(),
        );
        out.push('\n');
    }
    let count = diagnostics.len();
    out.push_str(&format!(
        "{} invalid: {count} error{}",
        path.display(),
        if count == 1 { "" } else { "s" }
    ));
    out
}

/// A warning about `diagnostic`, rendered like an error: the spec is used all the same.
pub(crate) fn render_warning(path: &Path, source: &str, diagnostic: &Diagnostic) -> String {
    RenderedDiagnostic {
        path,
        source,
        diagnostic,
        severity: "warning",
    }
    .to_string()
}

struct RenderedDiagnostic<'a> {
    path: &'a Path,
    source: &'a str,
    diagnostic: &'a Diagnostic,
    /// `error` or `warning`.
    severity: &'static str,
}

impl fmt::Display for RenderedDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        let message = readable(&d.message);
        let severity = self.severity;
        if d.key.is_empty() {
            writeln!(f, "{severity}: {message}")?;
        } else {
            writeln!(f, "{severity}: `{}`: {message}", cut(&d.key, QUOTED_MAX))?;
        }
        let hint = d.hint.as_deref().map(readable);
        match &d.span {
            Some(span) => {
                let (line, col) = line_col(self.source, span.start);
                let text = self.source.lines().nth(line - 1).unwrap_or("");
                let gutter = " ".repeat(line.to_string().len());
                let width = caret_width(text, col, span.len());
                let (shown, col, width) = window(text, col, width);
                writeln!(f, "{gutter}--> {}:{line}:{col}", self.path.display())?;
                writeln!(f, "{gutter} |")?;
                writeln!(f, "{line} | {shown}")?;
                write!(f, "{gutter} | {}{}", " ".repeat(col - 1), "^".repeat(width))?;
                if let Some(hint) = &hint {
                    write!(f, "\n{gutter} = hint: {hint}")?;
                }
            }
            None => {
                write!(f, " --> {}", self.path.display())?;
                if let Some(hint) = &hint {
                    write!(f, "\n  = hint: {hint}")?;
                }
            }
        }
        Ok(())
    }
}

/// Most characters of a quoted value in a message, or of a key; a longer one is cut.
const QUOTED_MAX: usize = 60;
/// Most characters of a message or a hint.
const MESSAGE_MAX: usize = 400;
/// Most characters of a source line quoted under a message.
const LINE_MAX: usize = 100;

/// `text` cut to `max` characters, the cut marked with `…` and the length: a 10 MB value
/// would otherwise be echoed whole.
pub(crate) fn cut(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({count} characters)")
}

/// A message with every value quoted in `"..."` or `` `...` `` cut to [`QUOTED_MAX`]
/// characters, and the whole cut to [`MESSAGE_MAX`].
fn readable(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(open) = rest.find(['"', '`']) {
        let quote = &rest[open..=open];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let mut escaped = false;
        let close = rest.char_indices().find_map(|(i, c)| {
            let closes = !escaped && rest[i..].starts_with(quote);
            escaped = quote == "\"" && c == '\\' && !escaped;
            closes.then_some(i)
        });
        let Some(close) = close else {
            continue;
        };
        let value = &rest[..close];
        let count = value.chars().count();
        if count > QUOTED_MAX {
            let kept: String = value.chars().take(QUOTED_MAX).collect();
            out.push_str(&format!("{kept}…{quote} ({count} characters)"));
        } else {
            out.push_str(value);
            out.push_str(quote);
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    cut(&out, MESSAGE_MAX)
}

/// At most [`LINE_MAX`] characters of `line` around column `col`, each cut end marked with
/// `…`, with the column and caret width moved into what is shown.
fn window(line: &str, col: usize, width: usize) -> (String, usize, usize) {
    let count = line.chars().count();
    if count <= LINE_MAX {
        return (line.to_string(), col, width);
    }
    let start = (col - 1).saturating_sub(LINE_MAX / 4).min(count - LINE_MAX);
    let end = start + LINE_MAX;
    let mut shown = String::new();
    if start > 0 {
        shown.push('…');
    }
    shown.extend(line.chars().skip(start).take(LINE_MAX));
    if end < count {
        shown.push('…');
    }
    let col = col - start + usize::from(start > 0);
    let width = width
        .min(end + 1 - (col + start - usize::from(start > 0)))
        .max(1);
    (shown, col, width)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Carets under the span, clipped to the end of its first line, at least one.
fn caret_width(line_text: &str, col: usize, span_bytes: usize) -> usize {
    let rest: String = line_text.chars().skip(col - 1).collect();
    let mut width = 0;
    let mut bytes = 0;
    for c in rest.chars() {
        if bytes >= span_bytes {
            break;
        }
        bytes += c.len_utf8();
        width += 1;
    }
    width.max(1)
}

/// `value` as messages write numbers: in scientific notation where that is much shorter
/// (`1e30` rather than 31 digits, `1e-7`), plainly otherwise (`40000`, `0.001`).
pub(crate) fn number(value: f64) -> String {
    let plain = value.to_string();
    let scientific = format!("{value:e}");
    if scientific.len() + 2 < plain.len() {
        scientific
    } else {
        plain
    }
}

/// `` `е` (U+0435) is not ASCII `` for the first character of `word` that is not ASCII: keys
/// and names are, though a letter of another script may look the same.
pub(crate) fn not_ascii(word: &str) -> Option<String> {
    let c = word.chars().find(|c| !c.is_ascii())?;
    Some(format!("`{c}` (U+{:04X}) is not ASCII", u32::from(c)))
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let source = "a = 1\nbé = 2\n";
        assert_eq!(line_col(source, 0), (1, 1));
        assert_eq!(line_col(source, 6), (2, 1));
        assert_eq!(line_col(source, source.find('=').unwrap()), (1, 3));
        assert_eq!(line_col(source, source.rfind('=').unwrap()), (2, 4));
    }

    #[test]
    fn numbers_are_scientific_where_much_shorter() {
        assert_eq!(number(1e30), "1e30");
        assert_eq!(number(-1e-30), "-1e-30");
        assert_eq!(number(1e6), "1e6");
        assert_eq!(number(40000.0), "40000");
        assert_eq!(number(0.001), "0.001");
        assert_eq!(number(0.3), "0.3");
        assert_eq!(number(f64::MAX), "1.7976931348623157e308");
    }

    #[test]
    fn long_values_and_lines_are_cut_and_marked() {
        let long = "x".repeat(10_000);
        let message = format!("invalid type: string \"{long}\", expected `{long}`");
        let shown = readable(&message);
        assert!(shown.chars().count() < 250, "{shown}");
        assert!(
            shown.contains(&format!(
                "\"{}…\" (10000 characters)",
                "x".repeat(QUOTED_MAX)
            )),
            "{shown}"
        );
        assert_eq!(readable("unknown key `kind`"), "unknown key `kind`");
        assert_eq!(readable("a \"quo\\\"ted\" value"), "a \"quo\\\"ted\" value");
        assert!(cut(&long, 5).starts_with("xxxxx… (10000"));
        // A caret at column 5000 of a long line stays under its character.
        let line = format!("{}^{}", "a".repeat(4999), "b".repeat(5000));
        let (shown, col, width) = window(&line, 5000, 3);
        assert_eq!(shown.chars().count(), LINE_MAX + 2);
        assert_eq!(shown.chars().nth(col - 1), Some('^'));
        assert_eq!(width, 3);
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(window("short", 2, 1), ("short".to_string(), 2, 1));
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let keys = ["latent", "hidden", "kind"];
        assert_eq!(did_you_mean("laten", keys), Some("latent"));
        assert_eq!(did_you_mean("hiden", keys), Some("hidden"));
        assert_eq!(did_you_mean("optimizer", keys), None);
    }
}
