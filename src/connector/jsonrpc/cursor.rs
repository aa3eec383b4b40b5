//! The compound cursor of an incremental `jsonrpc` stream.
//!
//! Records are read ordered by `(field, id)` ascending, and the cursor is the pair of the last
//! record committed: `{"version":1,"field":"write_date","value":"2026-03-02 08:15:09","id":14}`.
//! The next read asks for `field > value OR (field = value AND id > id)`, so records sharing a
//! timestamp with the cursor are neither skipped nor read twice. `lookback_secs` moves the start
//! back to `(value − lookback, id 0)`: that window is read again on every run (for clocks out of
//! step and transactions committed late); staging recognises the unchanged records by their
//! content hash, so they cost nothing.
//!
//! Values are kept as the connector hands them on: Odoo's naive UTC `YYYY-MM-DD HH:MM:SS`, or
//! Tryton's decoded RFC 3339 `…Z`. They are compared as timestamps when both parse, otherwise
//! as text. A cursor written for another `field` is refused (the user changed the stream and
//! must re-read it with `--full`).

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Value, json};

/// Format version written into every cursor.
const VERSION: u64 = 1;
/// Odoo's datetime format.
const NAIVE: &str = "%Y-%m-%d %H:%M:%S";

/// A place in the `(field, id)` order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Position {
    /// The field's value (a timestamp as text).
    pub value: String,
    /// The record ID.
    pub id: i64,
}

impl Position {
    /// Orders positions as the server sorts records: by value, then by ID.
    pub(super) fn cmp(&self, other: &Position) -> Ordering {
        compare_values(&self.value, &other.value).then(self.id.cmp(&other.id))
    }

    /// The cursor to commit.
    pub(super) fn checkpoint(&self, field: &str) -> Value {
        json!({"version": VERSION, "field": field, "value": self.value, "id": self.id})
    }
}

/// Reads a stored cursor; `None` = start from the beginning.
pub(super) fn parse(cursor: Option<&Value>, field: &str) -> Result<Option<Position>, String> {
    let Some(c) = cursor else { return Ok(None) };
    if c.is_null() {
        return Ok(None);
    }
    let version = c.get("version").and_then(Value::as_u64);
    if version != Some(VERSION) {
        return Err(format!(
            "stored cursor {c} is not a version-{VERSION} jsonrpc cursor; re-read the stream with --full"
        ));
    }
    let stored = c.get("field").and_then(Value::as_str).unwrap_or_default();
    if stored != field {
        return Err(format!(
            "stored cursor is on `{stored}` but the stream now reads by `{field}`; re-read the stream with --full"
        ));
    }
    let value = c
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("stored cursor {c} has no text `value`"))?;
    let id = c
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("stored cursor {c} has no integer `id`"))?;
    Ok(Some(Position {
        value: value.to_string(),
        id,
    }))
}

/// The position a read starts after: the cursor, moved back by `lookback_secs`.
pub(super) fn start(
    cursor: Option<Position>,
    lookback_secs: u64,
) -> Result<Option<Position>, String> {
    match cursor {
        Some(p) if lookback_secs > 0 => Ok(Some(Position {
            value: shift_back(&p.value, lookback_secs)?,
            id: 0,
        })),
        other => Ok(other),
    }
}

/// `value − secs`, in the value's own format.
pub(super) fn shift_back(value: &str, secs: u64) -> Result<String, String> {
    let delta = TimeDelta::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000));
    if let Ok(t) = NaiveDateTime::parse_from_str(value, NAIVE) {
        return Ok((t - delta).format(NAIVE).to_string());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(
            (t.with_timezone(&Utc) - delta).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        );
    }
    Err(format!(
        "lookback_secs needs a timestamp cursor, but `{value}` is not `YYYY-MM-DD HH:MM:SS` or RFC 3339"
    ))
}

/// A timestamp read from either format.
fn instant(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value, NAIVE)
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

/// Compares two cursor values: as timestamps when both are, else as text.
pub(super) fn compare_values(a: &str, b: &str) -> Ordering {
    match (instant(a), instant(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// The position of a record, from `field` (or `fallback` when `field` is empty); `None` when
/// both are empty (`null`, `false`, missing) or the record has no integer `id`.
pub(super) fn position_of(record: &Value, field: &str, fallback: Option<&str>) -> Option<Position> {
    let id = record.get("id")?.as_i64()?;
    let text = |name: &str| match record.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let value = text(field).or_else(|| fallback.and_then(text))?;
    Some(Position { value, id })
}
