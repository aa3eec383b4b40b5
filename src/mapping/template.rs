//! `template`: text with `{path}` placeholders, e.g. `"{street} {number}, {city}"`.
//!
//! Parsed once into literal parts and paths. A placeholder whose value is missing, `null` or
//! `false` renders empty; numbers and `true` render as text; a list or an object is an error.
//! The result is whitespace-collapsed, so missing parts leave no double spaces. `{{` and `}}`
//! write literal braces.

use serde_json::Value;

use super::convert::{Fail, shorten};
use super::path::Path;
use super::transform::collapse_whitespace;

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field(Path),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub(super) struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template; the error says what is wrong.
    pub(super) fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for d in chars.by_ref() {
                        if d == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(d);
                    }
                    if !closed {
                        return Err(format!("unclosed `{{` in `{text}`"));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Field(
                        Path::parse(&inner).map_err(|e| format!("placeholder {e}"))?,
                    ));
                }
                '}' => return Err(format!("stray `}}` in `{text}` (write `}}}}`)")),
                _ => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        if !parts.iter().any(|p| matches!(p, Part::Field(_))) {
            return Err("no `{path}` placeholder (use `value` for a constant)".to_string());
        }
        Ok(Template { parts })
    }

    /// Renders the template over `record`.
    pub(super) fn render(&self, record: &Value) -> Result<Value, Fail> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(p) => match p.get(record) {
                    None | Some(Value::Null) | Some(Value::Bool(false)) => {}
                    Some(Value::String(s)) => out.push_str(s),
                    Some(Value::Number(n)) => out.push_str(&n.to_string()),
                    Some(Value::Bool(true)) => out.push_str("true"),
                    Some(v) => {
                        return Err(Fail::new(
                            Some(shorten(v)),
                            format!("template placeholder `{{{p}}}` is a list or an object"),
                        ));
                    }
                },
            }
        }
        Ok(Value::String(collapse_whitespace(&out)))
    }
}
