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

struct RenderedDiagnostic<'a> {
    path: &'a Path,
    source: &'a str,
    diagnostic: &'a Diagnostic,
}

impl fmt::Display for RenderedDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        if d.key.is_empty() {
            writeln!(f, "error: {}", d.message)?;
        } else {
            writeln!(f, "error: `{}`: {}", d.key, d.message)?;
        }
        match &d.span {
            Some(span) => {
                let (line, col) = line_col(self.source, span.start);
                let text = self.source.lines().nth(line - 1).unwrap_or("");
                let gutter = " ".repeat(line.to_string().len());
                let width = caret_width(text, col, span.len());
                writeln!(f, "{gutter}--> {}:{line}:{col}", self.path.display())?;
                writeln!(f, "{gutter} |")?;
                writeln!(f, "{line} | {text}")?;
                write!(f, "{gutter} | {}{}", " ".repeat(col - 1), "^".repeat(width))?;
                if let Some(hint) = &d.hint {
                    write!(f, "\n{gutter} = hint: {hint}")?;
                }
            }
            None => {
                write!(f, " --> {}", self.path.display())?;
                if let Some(hint) = &d.hint {
                    write!(f, "\n  = hint: {hint}")?;
                }
            }
        }
        Ok(())
    }
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

/// `value` as messages write numbers: the shorter of plain and scientific notation, so `1e30`
/// rather than 31 digits and `0.001` rather than `1e-3`... whichever is shorter.
pub(crate) fn number(value: f64) -> String {
    let plain = value.to_string();
    let scientific = format!("{value:e}");
    if scientific.len() < plain.len() {
        scientific
    } else {
        plain
    }
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
    fn suggestions_only_for_near_misses() {
        let keys = ["latent", "hidden", "kind"];
        assert_eq!(did_you_mean("laten", keys), Some("latent"));
        assert_eq!(did_you_mean("hiden", keys), Some("hidden"));
        assert_eq!(did_you_mean("optimizer", keys), None);
    }
}
