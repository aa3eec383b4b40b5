//! Built-in transforms, compiled once (regexes included) and applied in order to a value
//! before it is typed.
//!
//! Text transforms work on strings; a number or `true` is first rendered as text, and on an
//! array they apply to each element (so `split` → `trim` → `join` works); `null` and `false`
//! pass through untouched. `split` turns a string into an array of strings and leaves an
//! array as it is; `join` turns an array into a string, skipping empty elements, and leaves a
//! single value as it is.

use regex::Regex;
use serde_json::Value;

use super::convert::{Fail, shorten};
use super::spec::Transform;

/// A compiled transform step.
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// Strip white space at both ends.
    Trim,
    /// Lower-case.
    Lower,
    /// Upper-case.
    Upper,
    /// Runs of white space become one space; ends trimmed.
    CollapseWhitespace,
    /// Keep the ASCII digits only.
    DigitsOnly,
    /// Regex replacement of every match.
    RegexReplace(Regex, String),
    /// String → array of strings.
    Split(String),
    /// Array → string.
    Join(String),
}

impl Step {
    /// Compiles one spec transform; the error says what is wrong.
    pub(super) fn compile(t: &Transform) -> Result<Step, String> {
        Ok(match t {
            Transform::Trim => Step::Trim,
            Transform::Lower => Step::Lower,
            Transform::Upper => Step::Upper,
            Transform::CollapseWhitespace => Step::CollapseWhitespace,
            Transform::DigitsOnly => Step::DigitsOnly,
            Transform::RegexReplace { pattern, with } => Step::RegexReplace(
                Regex::new(pattern)
                    .map_err(|e| format!("regex_replace: bad pattern `{pattern}`: {e}"))?,
                with.clone(),
            ),
            Transform::Split { sep } => {
                if sep.is_empty() {
                    return Err("split: the separator is empty".to_string());
                }
                Step::Split(sep.clone())
            }
            Transform::Join { sep } => Step::Join(sep.clone()),
        })
    }

    /// Applies the step to a (non-empty) value.
    pub(super) fn apply(&self, value: Value) -> Result<Value, Fail> {
        match self {
            Step::Split(sep) => match value {
                Value::Array(_) => Ok(value),
                other => {
                    let text = text_of(&other, "split")?;
                    Ok(Value::Array(
                        text.split(sep.as_str())
                            .map(|s| Value::String(s.to_string()))
                            .collect(),
                    ))
                }
            },
            Step::Join(sep) => match value {
                Value::Array(items) => {
                    let mut parts = Vec::with_capacity(items.len());
                    for item in &items {
                        match item {
                            Value::Null | Value::Bool(false) => {}
                            other => {
                                let t = text_of(other, "join")?;
                                if !t.trim().is_empty() {
                                    parts.push(t);
                                }
                            }
                        }
                    }
                    Ok(Value::String(parts.join(sep)))
                }
                other => Ok(other),
            },
            _ => match value {
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| self.apply(item))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array),
                // Nothing to transform (Odoo's `false` included).
                Value::Null | Value::Bool(false) => Ok(value),
                other => Ok(Value::String(self.on_text(&text_of(&other, self.name())?))),
            },
        }
    }

    fn on_text(&self, s: &str) -> String {
        match self {
            Step::Trim => s.trim().to_string(),
            Step::Lower => s.to_lowercase(),
            Step::Upper => s.to_uppercase(),
            Step::CollapseWhitespace => collapse_whitespace(s),
            Step::DigitsOnly => s.chars().filter(char::is_ascii_digit).collect(),
            Step::RegexReplace(re, with) => re.replace_all(s, with.as_str()).into_owned(),
            Step::Split(_) | Step::Join(_) => s.to_string(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Step::Trim => "trim",
            Step::Lower => "lower",
            Step::Upper => "upper",
            Step::CollapseWhitespace => "collapse_whitespace",
            Step::DigitsOnly => "digits_only",
            Step::RegexReplace(..) => "regex_replace",
            Step::Split(_) => "split",
            Step::Join(_) => "join",
        }
    }
}

/// Runs of white space become one space; the ends are trimmed.
pub(super) fn collapse_whitespace(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A scalar as text for a text transform; objects cannot be.
fn text_of(value: &Value, step: &str) -> Result<String, Fail> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Ok(String::new()),
        Value::Array(_) | Value::Object(_) => Err(Fail::new(
            Some(shorten(value)),
            format!("`{step}` needs text, not a list or an object"),
        )),
    }
}
