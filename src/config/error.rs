//! Configuration errors that name the file, the line and the field.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

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

    /// An error about a field, with the line found by searching the source text for `needle`.
    pub fn field(
        file: &Path,
        text: &str,
        field: &str,
        needle: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            line: needle
                .and_then(|n| line_of(text, n))
                .or_else(|| key_line(text, field)),
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    /// Converts a TOML parse or type error, using its span for the line and the text of that
    /// line for the field.
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> Self {
        let (line, field) = match err.span() {
            Some(span) => {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
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

/// 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle)
        .map(|at| text[..at].matches('\n').count() + 1)
}

/// Line of the first `key = …` assignment of the last segment of a dotted field.
fn key_line(text: &str, field: &str) -> Option<usize> {
    let key = field.rsplit('.').next()?;
    let key = key.split('[').next()?;
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
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
        let e = ConfigError::field(
            Path::new("c.toml"),
            text,
            "store.url",
            Some("${NOPE}"),
            "unset",
        );
        assert_eq!(e.to_string(), "c.toml:2: field `store.url`: unset");
        let e = ConfigError::field(Path::new("c.toml"), text, "store.url", None, "bad");
        assert_eq!(e.line, Some(2));
    }
}
