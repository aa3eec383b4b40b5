//! Incremental reads: send the cursor as a query parameter, follow the highest value of the
//! cursor field over the records read, and say when it may be committed.
//!
//! Cursor format: `{"version": 1, "field": "updated_at", "value": "2026-11-01T08:12:00+08:00"}`
//! where `value` is the highest field value seen, exactly as the source wrote it.
//!
//! Semantics are inclusive: the next run asks for records with `field >= value`, so records
//! sharing the boundary timestamp are read again rather than lost; staging deduplicates them
//! by content. With `sorted = true` the cursor is committed after every page (a failure on page
//! 3 resumes after page 2); otherwise only with the last page, since an unsorted page 2 may
//! hold a newer value than records still to come.
//!
//! Values compare as instants when both parse as RFC 3339 (so `+08:00` and `Z` mix safely),
//! as numbers when both are numbers, and as text otherwise.

use std::cmp::Ordering;

use chrono::DateTime;
use serde_json::{Value, json};

use crate::connector::config::Incremental;
use crate::connector::value_at_path;

/// Cursor format version.
const VERSION: u64 = 1;

/// The incremental state of one stream read.
pub(super) struct Tracker {
    field: String,
    param: String,
    sorted: bool,
    /// Value sent with every request of this read.
    sent: Option<String>,
    /// Highest value seen (starting from the stored cursor).
    max: Option<Value>,
}

impl Tracker {
    /// Starts from the stored cursor, if it is one of this field.
    pub fn new(config: &Incremental, cursor: Option<Value>) -> Result<Self, String> {
        let mut stored = None;
        if let Some(cursor) = cursor {
            if cursor.get("version").and_then(Value::as_u64) != Some(VERSION) {
                return Err(format!(
                    "the stored cursor is not a version {VERSION} HTTP cursor (found {cursor}); reset it with `sync --full`"
                ));
            }
            match (
                cursor.get("field").and_then(Value::as_str),
                cursor.get("value"),
            ) {
                (Some(field), Some(value)) if field == config.field && !value.is_null() => {
                    stored = Some(value.clone());
                }
                (field, _) => tracing::warn!(
                    stored_field = ?field,
                    field = %config.field,
                    "the stored cursor is for another field; reading from `start`"
                ),
            }
        }
        let sent = match &stored {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
            None => config.start.clone(),
        };
        Ok(Tracker {
            field: config.field.clone(),
            param: config.param.clone(),
            sorted: config.sorted,
            sent,
            max: stored,
        })
    }

    /// The query parameter of every request, if there is a value to send.
    pub fn param(&self) -> Option<(String, String)> {
        self.sent.clone().map(|v| (self.param.clone(), v))
    }

    /// Follows the highest field value over a page's records.
    pub fn observe(&mut self, records: &[Value]) {
        for value in records.iter().filter_map(|r| value_at_path(r, &self.field)) {
            if value.is_null() {
                continue;
            }
            if self
                .max
                .as_ref()
                .is_none_or(|max| compare(value, max) == Ordering::Greater)
            {
                self.max = Some(value.clone());
            }
        }
    }

    /// The cursor to commit with a page (`last`: no page follows).
    pub fn checkpoint(&self, last: bool) -> Option<Value> {
        if !(self.sorted || last) {
            return None;
        }
        let value = self.max.as_ref()?;
        Some(json!({"version": VERSION, "field": self.field, "value": value}))
    }
}

/// Orders two cursor values (see the module doc).
pub(super) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            match (
                DateTime::parse_from_rfc3339(x),
                DateTime::parse_from_rfc3339(y),
            ) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => x.cmp(y),
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x.cmp(&y)
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x.cmp(&y)
            } else {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x.partial_cmp(&y).unwrap_or(Ordering::Equal)
            }
        }
        _ => text(a).cmp(&text(b)),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_compare_as_instants_numbers_or_text() {
        let cmp = |a: Value, b: Value| compare(&a, &b);
        assert_eq!(
            cmp(
                json!("2026-11-01T10:00:00+08:00"),
                json!("2026-11-01T03:00:00Z")
            ),
            Ordering::Less
        );
        assert_eq!(
            cmp(
                json!("2026-11-01T11:00:00+08:00"),
                json!("2026-11-01T03:00:00Z")
            ),
            Ordering::Equal
        );
        assert_eq!(cmp(json!(9), json!(10)), Ordering::Less);
        assert_eq!(cmp(json!(-1), json!(u64::MAX)), Ordering::Less);
        assert_eq!(cmp(json!(1.5), json!(1)), Ordering::Greater);
        assert_eq!(cmp(json!("b"), json!("a")), Ordering::Greater);
    }

    #[test]
    fn unsorted_streams_commit_only_on_the_last_page() {
        let config = Incremental {
            field: "meta.ts".into(),
            param: "since".into(),
            sorted: false,
            start: Some("2000-01-01T00:00:00Z".into()),
        };
        let mut t = Tracker::new(&config, None).unwrap();
        assert_eq!(
            t.param(),
            Some(("since".into(), "2000-01-01T00:00:00Z".into()))
        );
        t.observe(&[
            json!({"meta": {"ts": "2026-01-02T00:00:00Z"}}),
            json!({"x": 1}),
        ]);
        assert_eq!(t.checkpoint(false), None);
        t.observe(&[json!({"meta": {"ts": "2026-01-01T00:00:00Z"}})]);
        assert_eq!(
            t.checkpoint(true),
            Some(json!({"version": 1, "field": "meta.ts", "value": "2026-01-02T00:00:00Z"}))
        );
        // A cursor of another field is ignored; another version is refused.
        let other = json!({"version": 1, "field": "id", "value": 5});
        assert_eq!(
            Tracker::new(&config, Some(other)).unwrap().param(),
            Some(("since".into(), "2000-01-01T00:00:00Z".into()))
        );
        assert!(Tracker::new(&config, Some(json!({"version": 2}))).is_err());
        let numeric = json!({"version": 1, "field": "meta.ts", "value": 42});
        assert_eq!(
            Tracker::new(&config, Some(numeric)).unwrap().param(),
            Some(("since".into(), "42".into()))
        );
    }
}
