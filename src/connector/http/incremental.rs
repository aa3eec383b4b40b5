//! Incremental reads: send the cursor as a query parameter (bare or inside a template), follow
//! the highest value of the cursor field over the records read, and say when it may be
//! committed.
//!
//! Cursor format (version 2):
//! `{"version": 2, "field": "modified", "value": "2026-03-05 15:22:10.003114", "tiebreak": "name", "id": "SAL-ORD-2026-00012"}`
//! where `value` is the highest field value seen, exactly as the source wrote it, and `id` the
//! highest tiebreak ID among the records holding that value (`tiebreak` and `id` are null
//! without a tiebreak). Version 1 cursors (`{"version": 1, "field", "value"}`) are read as
//! version 2 cursors without an ID.
//!
//! Semantics are inclusive: the next run asks for records with `field >= value` (minus
//! `lookback_secs`), so records sharing the boundary timestamp are read again rather than lost.
//! Without a tiebreak staging deduplicates them by content; with one, records holding exactly
//! the cursor's value and an ID not above the cursor's ID are dropped before staging, so a
//! record changed within the same timestamp (with a higher ID) is still picked up exactly once.
//! With `sorted = true` the cursor is committed after every page (a failure on page 3 resumes
//! after page 2); otherwise only with the last page, since an unsorted page 2 may hold a newer
//! value than records still to come.
//!
//! Values compare as instants when both parse as RFC 3339 (so `+08:00` and `Z` mix safely) or
//! both as naive date-times (`2026-03-02 09:15:09.412208`), as numbers when both are numbers,
//! and as text otherwise.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta};
use serde_json::{Value, json};

use super::config::{Incremental, ValueFormat};
use crate::connector::value_at_path;

/// Cursor format version written.
const VERSION: u64 = 2;

/// The incremental state of one stream read.
pub(super) struct Tracker {
    field: String,
    param: String,
    sorted: bool,
    template: Option<String>,
    tiebreak: Option<String>,
    /// Value sent with every request of this read (formatted, lookback applied).
    sent: Option<String>,
    /// The stored cursor's value and ID: records at exactly that point or before it are skipped.
    from: Option<(Value, Value)>,
    /// Highest value seen (starting from the stored cursor).
    max: Option<Value>,
    /// Highest tiebreak ID among the records holding `max`.
    max_id: Option<Value>,
}

impl Tracker {
    /// Starts from the stored cursor, if it is one of this field.
    pub(super) fn new(config: &Incremental, cursor: Option<Value>) -> Result<Self, String> {
        if let Some(t) = &config.template
            && !t.contains("{value}")
        {
            return Err("incremental.template must contain `{value}`".into());
        }
        let mut stored = None;
        let mut stored_id = None;
        if let Some(cursor) = cursor {
            let version = cursor.get("version").and_then(Value::as_u64);
            if !matches!(version, Some(1 | 2)) {
                return Err(format!(
                    "the stored cursor is not a version 1 or 2 HTTP cursor (found {cursor}); reset it with `sync --full`"
                ));
            }
            match (
                cursor.get("field").and_then(Value::as_str),
                cursor.get("value"),
            ) {
                (Some(field), Some(value)) if field == config.field && !value.is_null() => {
                    stored = Some(value.clone());
                    let same_tiebreak = config.tiebreak.is_some()
                        && cursor.get("tiebreak").and_then(Value::as_str)
                            == config.tiebreak.as_deref();
                    if same_tiebreak {
                        stored_id = cursor.get("id").filter(|v| !v.is_null()).cloned();
                    }
                }
                (field, _) => tracing::warn!(
                    stored_field = ?field,
                    field = %config.field,
                    "the stored cursor is for another field; reading from `start`"
                ),
            }
        }
        let base = match &stored {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
            None => config.start.clone(),
        };
        let sent = match base {
            Some(b) => Some(render(&b, config.lookback_secs, config.value_format)?),
            None => None,
        };
        Ok(Tracker {
            field: config.field.clone(),
            param: config.param.clone(),
            sorted: config.sorted,
            template: config.template.clone(),
            tiebreak: config.tiebreak.clone(),
            sent,
            from: stored.clone().zip(stored_id.clone()),
            max: stored,
            max_id: stored_id,
        })
    }

    /// Name of the query parameter.
    pub(super) fn param_name(&self) -> &str {
        &self.param
    }

    /// The query parameter of every request, if there is a value to send.
    pub(super) fn param(&self) -> Option<(String, String)> {
        let value = self.sent.clone()?;
        let text = match &self.template {
            Some(t) => t.replace("{value}", &value),
            None => value,
        };
        Some((self.param.clone(), text))
    }

    /// Drops the records already read by an earlier run: exactly the cursor's value and an ID
    /// not above the cursor's ID.
    pub(super) fn skip_seen(&self, records: Vec<Value>) -> Vec<Value> {
        let (Some((value, id)), Some(tiebreak)) = (&self.from, &self.tiebreak) else {
            return records;
        };
        records
            .into_iter()
            .filter(|r| {
                let at_cursor = value_at_path(r, &self.field)
                    .is_some_and(|v| compare(v, value) == Ordering::Equal);
                let below = value_at_path(r, tiebreak)
                    .is_some_and(|v| !v.is_null() && compare(v, id) != Ordering::Greater);
                !(at_cursor && below)
            })
            .collect()
    }

    /// Follows the highest (field, tiebreak) pair over a page's records.
    pub(super) fn observe(&mut self, records: &[Value]) {
        for record in records {
            let Some(value) = value_at_path(record, &self.field).filter(|v| !v.is_null()) else {
                continue;
            };
            let id = self
                .tiebreak
                .as_deref()
                .and_then(|t| value_at_path(record, t))
                .filter(|v| !v.is_null());
            let order = match &self.max {
                None => Ordering::Greater,
                Some(max) => compare(value, max),
            };
            match order {
                Ordering::Greater => {
                    self.max = Some(value.clone());
                    self.max_id = id.cloned();
                }
                Ordering::Equal => {
                    if let Some(id) = id
                        && self
                            .max_id
                            .as_ref()
                            .is_none_or(|m| compare(id, m) == Ordering::Greater)
                    {
                        self.max_id = Some(id.clone());
                    }
                }
                Ordering::Less => {}
            }
        }
    }

    /// The cursor to commit with a page (`last`: no page follows).
    pub(super) fn checkpoint(&self, last: bool) -> Option<Value> {
        if !(self.sorted || last) {
            return None;
        }
        let value = self.max.as_ref()?;
        Some(json!({
            "version": VERSION,
            "field": self.field,
            "value": value,
            "tiebreak": self.tiebreak,
            "id": self.tiebreak.as_ref().and(self.max_id.clone()),
        }))
    }
}

/// A timestamp in one of the shapes sources write.
enum Stamp {
    Offset(DateTime<FixedOffset>),
    Naive(NaiveDateTime),
}

fn parse_stamp(text: &str) -> Option<Stamp> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(Stamp::Offset(t));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Stamp::Naive(t));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(Stamp::Naive)
}

/// The value as sent: `lookback_secs` earlier, written in `format`.
fn render(value: &str, lookback_secs: u64, format: ValueFormat) -> Result<String, String> {
    if lookback_secs == 0 && format == ValueFormat::AsIs {
        return Ok(value.to_string());
    }
    let stamp = parse_stamp(value).ok_or_else(|| {
        format!(
            "incremental value `{value}` is not a timestamp, so `lookback_secs` / `value_format` cannot apply"
        )
    })?;
    let back = TimeDelta::seconds(i64::try_from(lookback_secs).unwrap_or(i64::MAX / 1000));
    const FRAPPE: &str = "%Y-%m-%d %H:%M:%S%.6f";
    Ok(match stamp {
        Stamp::Offset(t) => {
            let t = t - back;
            match format {
                ValueFormat::AsIs => t.to_rfc3339_opts(SecondsFormat::AutoSi, value.ends_with('Z')),
                ValueFormat::Rfc3339 => t
                    .with_timezone(&chrono::Utc)
                    .to_rfc3339_opts(SecondsFormat::AutoSi, true),
                ValueFormat::Frappe => t.naive_local().format(FRAPPE).to_string(),
            }
        }
        Stamp::Naive(t) => {
            let t = t - back;
            match format {
                ValueFormat::AsIs if value.contains('.') => t.format(FRAPPE).to_string(),
                ValueFormat::AsIs => t.format("%Y-%m-%d %H:%M:%S").to_string(),
                ValueFormat::Rfc3339 => t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true),
                ValueFormat::Frappe => t.format(FRAPPE).to_string(),
            }
        }
    })
}

/// Orders two cursor values (see the module doc).
pub(super) fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (parse_stamp(x), parse_stamp(y)) {
            (Some(Stamp::Offset(a)), Some(Stamp::Offset(b))) => a.cmp(&b),
            (Some(Stamp::Naive(a)), Some(Stamp::Naive(b))) => a.cmp(&b),
            _ => x.cmp(y),
        },
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
            template: None,
            value_format: ValueFormat::AsIs,
            lookback_secs: 0,
            tiebreak: None,
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
            Some(
                json!({"version": 2, "field": "meta.ts", "value": "2026-01-02T00:00:00Z", "tiebreak": null, "id": null})
            )
        );
        // A cursor of another field is ignored; another version is refused.
        let other = json!({"version": 1, "field": "id", "value": 5});
        assert_eq!(
            Tracker::new(&config, Some(other)).unwrap().param(),
            Some(("since".into(), "2000-01-01T00:00:00Z".into()))
        );
        assert!(Tracker::new(&config, Some(json!({"version": 3}))).is_err());
        let numeric = json!({"version": 1, "field": "meta.ts", "value": 42});
        assert_eq!(
            Tracker::new(&config, Some(numeric)).unwrap().param(),
            Some(("since".into(), "42".into()))
        );
    }

    fn config(template: Option<&str>, format: ValueFormat, lookback: u64) -> Incremental {
        Incremental {
            field: "modified".into(),
            param: "filters".into(),
            sorted: true,
            start: Some("2000-01-01 00:00:00".into()),
            template: template.map(str::to_string),
            value_format: format,
            lookback_secs: lookback,
            tiebreak: Some("name".into()),
        }
    }

    #[test]
    fn values_are_rendered_in_templates_with_a_lookback() {
        let c = config(
            Some(r#"[["modified", ">=", "{value}"]]"#),
            ValueFormat::Frappe,
            90,
        );
        let cursor = json!({"version": 2, "field": "modified", "value": "2026-03-06 08:00:00.500000", "tiebreak": "name", "id": "B"});
        let t = Tracker::new(&c, Some(cursor)).unwrap();
        assert_eq!(
            t.param(),
            Some((
                "filters".into(),
                r#"[["modified", ">=", "2026-03-06 07:58:30.500000"]]"#.into()
            ))
        );
        assert_eq!(
            render("2026-03-02T08:15:09.293Z", 0, ValueFormat::Rfc3339).unwrap(),
            "2026-03-02T08:15:09.293Z"
        );
        assert_eq!(
            render("2026-03-02T10:15:09+02:00", 60, ValueFormat::Rfc3339).unwrap(),
            "2026-03-02T08:14:09Z"
        );
        assert_eq!(
            render("2026-03-02T10:15:09+02:00", 0, ValueFormat::Frappe).unwrap(),
            "2026-03-02 10:15:09.000000"
        );
        assert_eq!(
            render("2026-03-02 10:15:09", 1, ValueFormat::AsIs).unwrap(),
            "2026-03-02 10:15:08"
        );
        assert_eq!(render("42", 0, ValueFormat::AsIs).unwrap(), "42");
        assert!(render("42", 5, ValueFormat::AsIs).is_err());
        let mut bad = c.clone();
        bad.template = Some("no placeholder".into());
        assert!(Tracker::new(&bad, None).is_err());
    }

    #[test]
    fn the_compound_cursor_skips_exactly_what_was_read() {
        let c = config(None, ValueFormat::AsIs, 0);
        let ts = "2026-03-06 08:00:00.500000";
        let cursor =
            json!({"version": 2, "field": "modified", "value": ts, "tiebreak": "name", "id": "B"});
        let mut t = Tracker::new(&c, Some(cursor)).unwrap();
        let page = vec![
            json!({"name": "A", "modified": ts}),
            json!({"name": "B", "modified": ts}),
            json!({"name": "C", "modified": ts}),
            json!({"name": "A", "modified": "2026-03-06 08:00:00.600000"}),
        ];
        let kept = t.skip_seen(page);
        let names: Vec<&str> = kept.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["C", "A"]);
        t.observe(&kept);
        assert_eq!(
            t.checkpoint(false),
            Some(
                json!({"version": 2, "field": "modified", "value": "2026-03-06 08:00:00.600000", "tiebreak": "name", "id": "A"})
            )
        );
        // Equal values keep the highest ID.
        t.observe(&[json!({"name": "Z", "modified": "2026-03-06 08:00:00.6"})]);
        assert_eq!(t.checkpoint(true).unwrap()["id"], "Z");
    }

    #[test]
    fn version_1_cursors_are_read_without_an_id() {
        let c = config(None, ValueFormat::AsIs, 0);
        let v1 = json!({"version": 1, "field": "modified", "value": "2026-03-06 08:00:00"});
        let t = Tracker::new(&c, Some(v1)).unwrap();
        assert_eq!(
            t.param(),
            Some(("filters".into(), "2026-03-06 08:00:00".into()))
        );
        let page = vec![json!({"name": "A", "modified": "2026-03-06 08:00:00"})];
        assert_eq!(t.skip_seen(page.clone()), page, "no ID: nothing is skipped");
        // A cursor of another tiebreak keeps its value but not its ID.
        let other = json!({"version": 2, "field": "modified", "value": "2026-03-06 08:00:00", "tiebreak": "id", "id": "Z"});
        let t = Tracker::new(&c, Some(other)).unwrap();
        assert_eq!(t.skip_seen(page.clone()), page);
    }
}
