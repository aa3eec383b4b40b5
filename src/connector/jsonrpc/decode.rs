//! Tryton's typed JSON values (`{"__class__": …}`) turned into plain JSON, and back for domains.
//!
//! | Tryton sends | the record carries |
//! |---|---|
//! | `{"__class__":"Decimal","decimal":"12.50"}` | `"12.50"` (the exact text; never a float) |
//! | `{"__class__":"date","year":2026,"month":3,"day":1}` | `"2026-03-01"` |
//! | `{"__class__":"datetime",…,"microsecond":262427}` | `"2026-03-02T08:15:09.262427Z"` (UTC: Tryton stores UTC) |
//! | `{"__class__":"time","hour":8,"minute":5,"second":0,"microsecond":0}` | `"08:05:00"` |
//! | `{"__class__":"timedelta","seconds":3600.0}` | `3600.0` (seconds, as sent) |
//! | `{"__class__":"bytes","base64":"…"}` | the base64 text |
//!
//! Fractions of a second appear only when not zero. Anything else (an unknown class) is left
//! as it came, so nothing is lost.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{Map, Value, json};

/// Decodes every typed value inside `value`, recursively.
pub(super) fn decode(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(decode).collect()),
        Value::Object(map) => match map.get("__class__").and_then(Value::as_str) {
            Some(class) => decode_class(class, &map).unwrap_or(Value::Object(map)),
            None => Value::Object(map.into_iter().map(|(k, v)| (k, decode(v))).collect()),
        },
        other => other,
    }
}

fn decode_class(class: &str, map: &Map<String, Value>) -> Option<Value> {
    let int = |k: &str| map.get(k).and_then(Value::as_i64);
    let fraction = |k: &str| match int(k).unwrap_or(0) {
        0 => String::new(),
        us => format!(".{us:06}"),
    };
    Some(match class {
        "Decimal" => Value::String(map.get("decimal")?.as_str()?.to_string()),
        "date" => Value::String(format!(
            "{:04}-{:02}-{:02}",
            int("year")?,
            int("month")?,
            int("day")?
        )),
        "datetime" => Value::String(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}Z",
            int("year")?,
            int("month")?,
            int("day")?,
            int("hour").unwrap_or(0),
            int("minute").unwrap_or(0),
            int("second").unwrap_or(0),
            fraction("microsecond")
        )),
        "time" => Value::String(format!(
            "{:02}:{:02}:{:02}{}",
            int("hour")?,
            int("minute").unwrap_or(0),
            int("second").unwrap_or(0),
            fraction("microsecond")
        )),
        "timedelta" => map.get("seconds")?.clone(),
        "bytes" => map.get("base64")?.clone(),
        _ => return None,
    })
}

/// Encodes an RFC 3339 timestamp (a cursor value) as Tryton's `datetime` in UTC; `None` when
/// the text is not one.
pub(super) fn encode_datetime(value: &str) -> Option<Value> {
    let t = DateTime::parse_from_rfc3339(value)
        .ok()?
        .with_timezone(&Utc);
    Some(json!({
        "__class__": "datetime",
        "year": t.year(), "month": t.month(), "day": t.day(),
        "hour": t.hour(), "minute": t.minute(), "second": t.second(),
        "microsecond": t.nanosecond() / 1000,
    }))
}
