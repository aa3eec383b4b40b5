//! JSON Lines files: each non-blank line is one JSON object. A line that is not UTF-8, not
//! JSON, or JSON but not an object is rejected with its text and reading goes on. Values are
//! passed on as `serde_json` parses them; amounts are best written as strings in the files
//! (a JSON number with more than ~15 significant digits cannot round-trip exactly).

use std::sync::Arc;

use serde_json::Value;

use super::{Item, Outcome, Reader, raw_text};
use crate::connector::{ConnectorError, RawRecord, RejectedInput};

/// Reads lines of one JSON Lines file from a position onwards.
pub(super) struct JsonlReader {
    name: String,
    bytes: Arc<[u8]>,
    end: usize,
    lines: u64,
}

impl JsonlReader {
    /// Starts reading `bytes` (the whole file) at `offset`, `lines` line breaks in.
    pub(super) fn new(name: &str, bytes: Arc<[u8]>, offset: usize, lines: u64) -> Self {
        JsonlReader {
            name: name.to_string(),
            end: offset.min(bytes.len()),
            bytes,
            lines,
        }
    }
}

impl Reader for JsonlReader {
    fn next_item(&mut self) -> Result<Option<Item>, ConnectorError> {
        while self.end < self.bytes.len() {
            let start = self.end;
            let rest = &self.bytes[start..];
            let (text, next) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], start + i + 1),
                None => (rest, self.bytes.len()),
            };
            let lines_before = self.lines;
            if next <= self.bytes.len() && self.bytes[next - 1] == b'\n' {
                self.lines += 1;
            }
            self.end = next;
            let text = if start == 0 {
                text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text)
            } else {
                text
            };
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let locator = format!("{}:{}", self.name, lines_before + 1);
            let reject = |reason: String| {
                Outcome::Rejected(RejectedInput {
                    locator: locator.clone(),
                    raw: raw_text(text),
                    reason,
                })
            };
            let outcome = match std::str::from_utf8(text) {
                Err(_) => reject("the line is not valid UTF-8".into()),
                Ok(s) => match serde_json::from_str::<Value>(s) {
                    Ok(payload @ Value::Object(_)) => Outcome::Record(RawRecord {
                        locator: locator.clone(),
                        payload,
                    }),
                    Ok(other) => {
                        reject(format!("expected a JSON object, found {}", kind_of(&other)))
                    }
                    Err(e) => reject(format!("invalid JSON: {e}")),
                },
            };
            return Ok(Some(Item {
                start,
                lines_before,
                outcome,
            }));
        }
        Ok(None)
    }

    fn position(&self) -> (usize, u64) {
        (self.end, self.lines)
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
