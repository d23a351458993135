//! Deserializing a spec section by section, so that one unreadable section does not hide the
//! errors of the others.
//!
//! serde stops at the first error in a document. Here every syntax error is collected first;
//! then, while deserializing fails, the top-level section that holds the error is set aside
//! and the rest deserialized again, so each section contributes its first error. Spans stay
//! those of the whole file.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer};

use crate::schema::SpecFile;

/// Sections set aside at most, each with its error; the errors of further ones are not sought.
const MAX_SECTION_ERRORS: usize = 16;

/// What deserializing a spec found.
pub(crate) struct Sections {
    /// The spec without the sections set aside; `None` if the text is not TOML or a section
    /// it needs was set aside.
    pub file: Option<SpecFile>,
    /// Syntax errors, or the first error of every section that could not be deserialized, in
    /// the order found.
    pub errors: Vec<toml::de::Error>,
}

/// Deserializes `source` into a [`SpecFile`], collecting the errors of every section.
pub(crate) fn deserialize(source: &str) -> Sections {
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    if !syntax_errors.is_empty() {
        return Sections {
            file: None,
            errors: syntax_errors,
        };
    }
    let span = document.span();
    let mut table = document.into_inner();
    let mut errors = Vec::new();
    let mut set_aside = Vec::new();
    loop {
        let document = Spanned::new(span.clone(), table.clone());
        let error = match SpecFile::deserialize(Deserializer::from(document)) {
            Ok(file) => {
                return Sections {
                    file: Some(file),
                    errors,
                };
            }
            Err(error) => error,
        };
        // A required section that was set aside is missing now: not the user's error.
        if set_aside
            .iter()
            .any(|name| error.message().contains(&format!("missing field `{name}`")))
        {
            return Sections { file: None, errors };
        }
        let section = error.span().and_then(|at| {
            table
                .iter()
                .find(|(key, value)| holds(key.span(), value, &at))
                .map(|(key, _)| key.clone())
        });
        errors.push(error);
        match section {
            // Each retry clones the document: bounded, for a file of many unknown sections.
            Some(_) if errors.len() == MAX_SECTION_ERRORS => {
                return Sections { file: None, errors };
            }
            Some(section) => {
                table.remove(&section);
                set_aside.push(section.into_inner().into_owned());
            }
            None => return Sections { file: None, errors },
        }
    }
}

/// Whether the entry with key at `key` and value `value` holds the text at `at`.
fn holds(key: Range<usize>, value: &Spanned<DeValue<'_>>, at: &Range<usize>) -> bool {
    let within = |span: Range<usize>| span.start <= at.start && at.end <= span.end;
    within(key)
        || within(value.span())
        || match value.get_ref() {
            DeValue::Table(table) => table
                .iter()
                .any(|(key, value)| holds(key.span(), value, at)),
            DeValue::Array(array) => array.iter().any(|item| holds(item.span(), item, at)),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(source: &str) -> Vec<String> {
        deserialize(source)
            .errors
            .iter()
            .map(|error| error.message().trim().to_string())
            .collect()
    }

    #[test]
    fn each_unreadable_section_gives_its_error() {
        let source = "[experiment]\nname = \"x\"\nrepeatz = 2\n\n[data]\ndataset = \"mnist\"\n\n\
                      [model]\nlatent = \"eight\"\n\n[train]\nepochs = 2\nlearning_rat = 0.1\n";
        let found = deserialize(source);
        assert!(found.file.is_none() || !found.errors.is_empty());
        let messages = messages(source);
        assert_eq!(messages.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("repeatz"), "{messages:#?}");
        assert!(messages[1].contains("eight"), "{messages:#?}");
        assert!(messages[2].contains("learning_rat"), "{messages:#?}");
        // Each error points into its own section.
        let spans: Vec<usize> = found
            .errors
            .iter()
            .map(|e| e.span().unwrap().start)
            .collect();
        assert_eq!(&source[spans[0]..spans[0] + 7], "repeatz");
        assert_eq!(&source[spans[2]..spans[2] + 12], "learning_rat");
    }

    #[test]
    fn a_required_section_set_aside_is_not_reported_missing() {
        let messages = messages("[experiment]\nnam = \"x\"\n[data]\ndataset = \"mnist\"\n");
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert!(messages[0].contains("nam"), "{messages:#?}");
    }

    #[test]
    fn a_missing_section_is_reported() {
        let messages = messages("[experiment]\nname = \"x\"\n");
        assert_eq!(messages, ["missing field `data`"]);
    }

    #[test]
    fn a_file_of_many_unknown_sections_stops_at_the_bound() {
        let source: String = (0..1000).map(|i| format!("[unknown{i}]\n")).collect();
        assert_eq!(deserialize(&source).errors.len(), MAX_SECTION_ERRORS);
    }

    #[test]
    fn every_syntax_error_is_reported() {
        let messages = messages("a = \nb = 1\nc = [\n");
        assert!(messages.len() >= 2, "{messages:#?}");
    }

    #[test]
    fn a_readable_spec_has_no_errors() {
        let found = deserialize("[experiment]\nname = \"x\"\n[data]\ndataset = \"mnist\"\n");
        assert!(found.errors.is_empty());
        assert!(found.file.is_some());
    }
}
