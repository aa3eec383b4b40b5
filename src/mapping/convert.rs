//! Typing: turning a (transformed) source value into the JSON form a canonical field takes.
//!
//! Two stages. [`Typing::read`] reads the value as the field's source type (`type`, which
//! defaults to the target's own type) into a [`Typed`]; [`Typed::emit`] then renders it for
//! the target kind (text targets accept every type, rendered as text; enum and currency
//! targets are checked here so the error names the field).
//!
//! Rules that matter to integrators:
//! - empty means missing, `null`, a blank string or an empty list, and `false` for every
//!   type but `bool` (Odoo sends `false` for unset fields) — see [`is_empty`];
//! - decimals never pass through `f64`: strings are parsed exactly, JSON numbers through their
//!   shortest textual form; thousands separators and other stray characters are errors;
//! - decimals are emitted as strings that keep their scale (`"5000.00"`).

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::{Number, Value};

use super::schema::Kind;
use super::spec::FieldType;
use crate::model::Currency;

/// Longest value text quoted in an error message.
const SHOWN: usize = 60;

/// A failure before the field name is attached.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Fail {
    /// The offending value, shortened.
    pub value: Option<String>,
    /// Why.
    pub reason: String,
}

impl Fail {
    /// A failure about `value`.
    pub(super) fn new(value: Option<String>, reason: impl Into<String>) -> Self {
        Fail {
            value,
            reason: reason.into(),
        }
    }

    fn about(value: &Value, reason: impl Into<String>) -> Self {
        Fail::new(Some(shorten(value)), reason)
    }
}

/// A value as shown in messages: strings without quotes, others as JSON, cut at 60 chars.
pub(super) fn shorten(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() <= SHOWN {
        text
    } else {
        let cut: String = text.chars().take(SHOWN).collect();
        format!("{cut}…")
    }
}

/// Whether `value` counts as empty for a field read as `ty` (`None`: a list of lines).
pub(super) fn is_empty(value: Option<&Value>, ty: Option<FieldType>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.trim().is_empty(),
        Some(Value::Bool(false)) => ty != Some(FieldType::Bool),
        Some(Value::Array(a)) => a.is_empty() && ty.is_some(),
        Some(_) => false,
    }
}

/// A time zone for naive date-times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Zone {
    /// A fixed offset such as `+08:00`.
    Fixed(FixedOffset),
    /// An IANA zone such as `Asia/Shanghai`.
    Named(Tz),
}

impl Zone {
    /// Parses `+08:00`, `-0530`, `Z`, or an IANA name.
    pub(super) fn parse(s: &str) -> Result<Zone, String> {
        let t = s.trim();
        if t == "Z" || t == "z" {
            return Ok(Zone::Fixed(utc_offset()));
        }
        if let Some(rest) = t.strip_prefix('+').or_else(|| t.strip_prefix('-')) {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let digits: String = rest.chars().filter(|c| *c != ':').collect();
            let ok = digits.len() == 4 && digits.chars().all(|c| c.is_ascii_digit());
            let (h, m) = if ok {
                (
                    digits[..2].parse::<i32>().unwrap_or(99),
                    digits[2..].parse::<i32>().unwrap_or(99),
                )
            } else {
                (99, 99)
            };
            return (h < 24 && m < 60)
                .then(|| FixedOffset::east_opt(sign * (h * 3600 + m * 60)))
                .flatten()
                .map(Zone::Fixed)
                .ok_or_else(|| format!("`{s}` is not an offset like +08:00"));
        }
        t.parse::<Tz>().map(Zone::Named).map_err(|_| {
            format!("`{s}` is not a time zone (an IANA name like Asia/Shanghai, or +08:00)")
        })
    }

    fn localise(self, naive: NaiveDateTime) -> Option<DateTime<FixedOffset>> {
        match self {
            Zone::Fixed(off) => off.from_local_datetime(&naive).earliest(),
            Zone::Named(tz) => tz
                .from_local_datetime(&naive)
                .earliest()
                .map(|dt| dt.fixed_offset()),
        }
    }
}

fn utc_offset() -> FixedOffset {
    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!("zero is a valid offset"))
}

/// How a field's value is read: its source type plus date options.
#[derive(Debug, Clone)]
pub(super) struct Typing {
    /// The source type.
    pub ty: FieldType,
    /// chrono format for dates and date-times.
    pub format: Option<Pattern>,
    /// Zone for naive date-times.
    pub zone: Option<Zone>,
}

/// A value read as its source type.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Typed {
    /// Text.
    Str(String),
    /// Exact decimal.
    Dec(Decimal),
    /// Whole number.
    Int(i64),
    /// Truth value.
    Bool(bool),
    /// Date.
    Date(NaiveDate),
    /// Date and time with offset.
    DateTime(DateTime<FixedOffset>),
}

impl Typing {
    /// Reads a non-empty value as the source type.
    pub(super) fn read(&self, value: Cow<'_, Value>) -> Result<Typed, Fail> {
        if matches!(*value, Value::Array(_) | Value::Object(_)) {
            return Err(Fail::about(
                &value,
                "not a single value (a list or an object; use an index, `join` or `expr`)",
            ));
        }
        let value = match (self.ty, value) {
            // Text takes an owned string as it is, without copying.
            (FieldType::String, Cow::Owned(Value::String(s))) => return Ok(Typed::Str(s)),
            (_, value) => value,
        };
        let value = value.as_ref();
        match self.ty {
            FieldType::String => Ok(Typed::Str(match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })),
            FieldType::Decimal => decimal(value)
                .map(Typed::Dec)
                .ok_or_else(|| Fail::about(value, "not a decimal")),
            FieldType::Integer => integer(value)
                .map(Typed::Int)
                .ok_or_else(|| Fail::about(value, "not a whole number")),
            FieldType::Bool => boolean(value).map(Typed::Bool).ok_or_else(|| {
                Fail::about(value, "not a bool (true/false, 1/0, yes/no, y/n, t/f)")
            }),
            FieldType::Date => {
                let Value::String(s) = value else {
                    return Err(Fail::about(value, "not a date"));
                };
                self.date(s.trim()).map(Typed::Date).ok_or_else(|| {
                    let expected = self.format.as_ref().map_or("%Y-%m-%d", |f| f.text.as_str());
                    Fail::about(value, format!("not a date (expected format {expected})"))
                })
            }
            FieldType::Datetime => {
                let Value::String(s) = value else {
                    return Err(Fail::about(value, "not a date-time"));
                };
                self.datetime(s.trim(), value).map(Typed::DateTime)
            }
        }
    }

    fn date(&self, s: &str) -> Option<NaiveDate> {
        if let Some(fmt) = &self.format {
            return fmt.parse(s)?.to_naive_date().ok();
        }
        ISO_DATE
            .parse(s)
            .and_then(|p| p.to_naive_date().ok())
            .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|d| d.date_naive()))
            .or_else(|| naive_iso(s).map(|d| d.date()))
    }

    fn datetime(&self, s: &str, value: &Value) -> Result<DateTime<FixedOffset>, Fail> {
        let (aware, naive) = match &self.format {
            Some(fmt) => match fmt.parse(s) {
                Some(p) if p.offset.is_some() => (p.to_datetime().ok(), None),
                Some(p) => (None, naive_of(&p)),
                None => (None, None),
            },
            None => match DateTime::parse_from_rfc3339(s) {
                Ok(dt) => (Some(dt), None),
                Err(_) => (
                    None,
                    naive_iso(s).or_else(|| ISO_DATE.parse(s).and_then(|p| naive_of(&p))),
                ),
            },
        };
        if let Some(dt) = aware {
            return Ok(dt);
        }
        let Some(naive) = naive else {
            let expected = self.format.as_ref().map_or("RFC 3339", |f| f.text.as_str());
            return Err(Fail::about(
                value,
                format!("not a date-time (expected {expected})"),
            ));
        };
        let Some(zone) = self.zone else {
            return Err(Fail::about(
                value,
                "date-time without a time zone; set `timezone` (e.g. \"UTC\" or \"+08:00\")",
            ));
        };
        zone.localise(naive)
            .ok_or_else(|| Fail::about(value, "this local time does not exist in `timezone`"))
    }
}

/// A chrono format string, parsed once when the mapping is compiled.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    text: String,
    items: Vec<Item<'static>>,
}

impl Pattern {
    /// Parses a chrono format such as `%d.%m.%Y`; the error says what is wrong.
    pub(super) fn new(text: &str) -> Result<Pattern, String> {
        let items = StrftimeItems::new(text)
            .parse_to_owned()
            .map_err(|e| format!("bad `format` `{text}`: {e}"))?;
        Ok(Pattern {
            text: text.to_string(),
            items,
        })
    }

    /// The fields read from `s`, when the whole of `s` fits the format.
    fn parse(&self, s: &str) -> Option<Parsed> {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, s, self.items.iter()).ok()?;
        Some(parsed)
    }
}

fn builtin(text: &str) -> Pattern {
    Pattern::new(text).unwrap_or_else(|e| unreachable!("built-in format: {e}"))
}

static ISO_DATE: LazyLock<Pattern> = LazyLock::new(|| builtin("%Y-%m-%d"));
static ISO_T: LazyLock<Pattern> = LazyLock::new(|| builtin("%Y-%m-%dT%H:%M:%S%.f"));
static ISO_SPACE: LazyLock<Pattern> = LazyLock::new(|| builtin("%Y-%m-%d %H:%M:%S%.f"));

/// A naive date-time from parsed fields; a date alone means midnight.
fn naive_of(p: &Parsed) -> Option<NaiveDateTime> {
    p.to_naive_datetime_with_offset(0)
        .ok()
        .or_else(|| p.to_naive_date().ok().map(|d| d.and_time(NaiveTime::MIN)))
}

fn naive_iso(s: &str) -> Option<NaiveDateTime> {
    ISO_T
        .parse(s)
        .or_else(|| ISO_SPACE.parse(s))
        .and_then(|p| p.to_naive_datetime_with_offset(0).ok())
}

/// A decimal from a string or a JSON number, exactly; `None` when it is not one.
pub(super) fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(s) => decimal_text(s.trim()),
        Value::Number(n) => decimal_text(&n.to_string()),
        _ => None,
    }
}

/// Strict decimal syntax: `[+-]digits[.digits][e[+-]digits]`, nothing else.
fn decimal_text(s: &str) -> Option<Decimal> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return None;
    }
    match exponent {
        None => Decimal::from_str_exact(s).ok(),
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            if e.is_empty() || !digits(e) {
                return None;
            }
            Decimal::from_scientific(s).ok()
        }
    }
}

fn integer(value: &Value) -> Option<i64> {
    if let Value::Number(n) = value
        && let Some(i) = n.as_i64()
    {
        return Some(i);
    }
    let d = decimal(value)?;
    if d.fract().is_zero() {
        i64::try_from(d.trunc()).ok()
    } else {
        None
    }
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "y" | "t" => Some(true),
            "false" | "0" | "no" | "n" | "f" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

impl Typed {
    /// The JSON value for a target of `kind`; `shown` is the source value for messages.
    pub(super) fn emit(self, kind: Kind) -> Result<Value, Fail> {
        Ok(match (kind, self) {
            (Kind::Text, t) => Value::String(t.into_text()),
            (Kind::Enum(names), t) => {
                let text = t.into_text();
                if names.contains(&text.as_str()) {
                    return Ok(Value::String(text));
                }
                let wanted = text.trim().to_lowercase().replace([' ', '-'], "_");
                match names.iter().find(|n| **n == wanted) {
                    Some(n) => Value::String((*n).to_string()),
                    None => {
                        return Err(Fail::new(
                            Some(shorten(&Value::String(text))),
                            format!("not one of {}", names.join(", ")),
                        ));
                    }
                }
            }
            (Kind::Currency, t) => {
                let text = t.into_text();
                match Currency::from_str(&text) {
                    Ok(c) => Value::String(c.to_string()),
                    Err(_) => {
                        return Err(Fail::new(
                            Some(shorten(&Value::String(text))),
                            "not a three-letter ISO 4217 currency code",
                        ));
                    }
                }
            }
            (Kind::Decimal, Typed::Dec(d)) => Value::String(d.to_string()),
            (Kind::Decimal, Typed::Int(i)) => Value::String(i.to_string()),
            (Kind::Integer, Typed::Int(i)) => Value::Number(Number::from(i)),
            (Kind::Bool, Typed::Bool(b)) => Value::Bool(b),
            (Kind::Date, Typed::Date(d)) => Value::String(d.format("%Y-%m-%d").to_string()),
            (Kind::Date, Typed::DateTime(dt)) => {
                Value::String(dt.date_naive().format("%Y-%m-%d").to_string())
            }
            (Kind::Datetime, Typed::DateTime(dt)) => Value::String(dt.to_rfc3339()),
            (kind, t) => {
                // Compile-time checks make this unreachable; fail softly all the same.
                return Err(Fail::new(
                    Some(t.into_text()),
                    format!("cannot fill a {} field", kind.describe()),
                ));
            }
        })
    }

    fn into_text(self) -> String {
        match self {
            Typed::Str(s) => s,
            Typed::Dec(d) => d.to_string(),
            Typed::Int(i) => i.to_string(),
            Typed::Bool(b) => b.to_string(),
            Typed::Date(d) => d.format("%Y-%m-%d").to_string(),
            Typed::DateTime(dt) => dt.to_rfc3339(),
        }
    }
}
