//! Configuration errors that name the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::connector::PageSize;

/// One problem in one configuration file.
#[derive(Debug, Clone, PartialEq, Error)]
pub struct ConfigError {
    /// The file, as given (relative to the project root where possible).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field (key path or key), when known.
    pub field: Option<String>,
    /// What is wrong, and how to put it right where that is clear.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl ConfigError {
    /// An error about a whole file.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            field: None,
            message: message.into(),
        }
    }

    /// An error about a field at a known line (see [`Spans::line`]).
    pub fn at(file: &Path, line: Option<usize>, field: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line,
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// Converts a TOML parse or type error, using its span for the line and the text of that
    /// line for the field.
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> Self {
        let (line, field) = match err.span() {
            Some(span) => {
                let line = line_at(text, span.start);
                (Some(line), key_at_line(text, line))
            }
            None => (None, None),
        };
        ConfigError {
            file: file.to_path_buf(),
            line,
            field,
            message: err.message().trim().to_string(),
        }
    }
}

/// All errors found while loading, so a user fixes them in one go.
#[derive(Debug, Clone, PartialEq, Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// The spans of one TOML document: where each key path stands, so an error about a field
/// names its line — the third stream's, not the first one found by searching the text.
pub struct Spans<'t> {
    text: &'t str,
    root: Option<Spanned<DeTable<'t>>>,
}

/// One step of a key path: a key or an array index.
enum Step<'p> {
    Key(&'p str),
    Index(usize),
}

impl<'t> Spans<'t> {
    /// Parses `text` for its spans (a text that does not parse has none).
    pub fn new(text: &'t str) -> Self {
        Spans {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// The 1-based line of `field`, a key path such as `streams[2].http.pagination.page_size`.
    /// A key that is absent (left to its default) gives the line of the nearest table that
    /// holds it; a page size written under an older name (`batch_size`, `size`) is found by
    /// it. `None` when not even the first key is in the file.
    pub fn line(&self, field: &str) -> Option<usize> {
        let root = self.root.as_ref()?;
        let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
        let mut array: Option<&DeArray<'_>> = None;
        let mut found = None;
        for step in steps(field) {
            let next = match step {
                Step::Key(key) => table.and_then(|t| entry(t, key)),
                Step::Index(i) => array.and_then(|a| a.get(i)),
            };
            let Some(value) = next else { break };
            found = Some(value.span().start);
            (table, array) = match value.get_ref() {
                DeValue::Table(t) => (Some(t), None),
                DeValue::Array(a) => (None, Some(a)),
                _ => (None, None),
            };
        }
        found.map(|at| line_at(self.text, at))
    }
}

/// The value of `key` in `table`, or of an older name of the page size.
fn entry<'a, 't>(table: &'a DeTable<'t>, key: &str) -> Option<&'a Spanned<DeValue<'t>>> {
    let aliases: &[&str] = if key == PageSize::KEY {
        PageSize::ALIASES
    } else {
        &[]
    };
    std::iter::once(key)
        .chain(aliases.iter().copied())
        .find_map(|k| {
            table
                .iter()
                .find(|(name, _)| name.get_ref().as_ref() == k)
                .map(|(_, v)| v)
        })
}

/// The steps of a key path: `a.b[2].c` → `a`, `b`, 2, `c`.
fn steps(field: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    for segment in field.split('.') {
        let (key, mut rest) = match segment.find('[') {
            Some(i) => segment.split_at(i),
            None => (segment, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let Some(close) = inner.find(']') else { break };
            if let Ok(i) = inner[..close].trim().parse() {
                out.push(Step::Index(i));
            }
            rest = &inner[close + 1..];
        }
    }
    out
}

/// 1-based line of a byte offset.
fn line_at(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

/// The key assigned on a line (`key = …`) or the table named by it (`[a.b]`, `[[a]]`).
fn key_at_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?.trim();
    if l.starts_with('[') {
        let name = l.trim_matches(|c| c == '[' || c == ']').trim();
        return (!name.is_empty()).then(|| name.to_string());
    }
    let (key, _) = l.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_carry_line_and_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            a: u32,
            b: String,
        }
        let text = "a = 1\nb = 7\n";
        let err = toml::from_str::<T>(text).unwrap_err();
        let e = ConfigError::from_toml(Path::new("x.toml"), text, &err);
        assert_eq!(e.line, Some(2));
        assert_eq!(e.field.as_deref(), Some("b"));
        assert!(e.to_string().starts_with("x.toml:2: field `b`: "), "{e}");
    }

    #[test]
    fn field_errors_find_their_line() {
        let text = "[store]\nurl = \"${NOPE}\"\n";
        let spans = Spans::new(text);
        let e = ConfigError::at(
            Path::new("c.toml"),
            spans.line("store.url"),
            "store.url",
            "unset",
        );
        assert_eq!(e.to_string(), "c.toml:2: field `store.url`: unset");
        assert_eq!(
            spans.line("store.absent"),
            Some(1),
            "the table that holds it"
        );
        assert_eq!(spans.line("nothing"), None);
    }

    #[test]
    fn spans_follow_array_indexes_and_page_size_aliases() {
        let text = "[[streams]]\nname = \"a\"\nmapping = \"m\"\n[[streams]]\nname = \"b\"\nmapping = \"m\"\nfile = { pattern = \"*\", batch_size = 0 }\n[[streams]]\nname = \"c\"\n[streams.http]\npath = \"/x\"\npagination = { type = \"page\", size = 0 }\n";
        let spans = Spans::new(text);
        assert_eq!(spans.line("streams[1].mapping"), Some(6));
        assert_eq!(spans.line("streams[1].file.page_size"), Some(7));
        assert_eq!(spans.line("streams[2]"), Some(8));
        assert_eq!(
            spans.line("streams[2].mapping"),
            Some(8),
            "absent: its stream"
        );
        assert_eq!(spans.line("streams[2].http"), Some(10));
        assert_eq!(spans.line("streams[2].http.pagination.page_size"), Some(12));
    }
}
