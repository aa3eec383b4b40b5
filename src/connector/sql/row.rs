//! Rows to JSON, exactly: every column type the connector reads, how it becomes JSON, and
//! how cursor and key values are written into the stored cursor and bound back.
//!
//! | database type | JSON |
//! |---|---|
//! | NUMERIC / DECIMAL | decimal string, scale kept (`"12345.6700"`), never through `f64` |
//! | integers (incl. unsigned) | number |
//! | REAL / DOUBLE / FLOAT | number (`null` is refused for NaN and infinities: an error) |
//! | text types, ENUM, SET | string (CHAR keeps its padding) |
//! | BOOLEAN (PostgreSQL `bool`, MySQL `TINYINT(1)`) | `true` / `false` |
//! | DATE | `"YYYY-MM-DD"` |
//! | TIME | `"HH:MM:SS[.ffffff]"` |
//! | TIMESTAMP / DATETIME (no zone) | `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` as written, or with the stream's `timezone` attached (`…+08:00`, `…Z`) |
//! | TIMESTAMPTZ, MySQL TIMESTAMP | RFC 3339 in UTC (`…Z`) |
//! | JSON / JSONB | the JSON value itself (MariaDB keeps JSON as text: a string) |
//! | BYTEA / BLOB / BINARY | base64 string |
//! | NULL | `null` |
//!
//! Any other type is an error that names the column and the type, so that the query can
//! cast it (`CAST(col AS TEXT)`, `col::text`) instead of the connector guessing.

use base64::Engine;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Number, Value};
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::{Column, Row, TypeInfo};

/// How a column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColType {
    /// Boolean.
    Bool,
    /// PostgreSQL `int2`.
    I16,
    /// PostgreSQL `int4`.
    I32,
    /// 64-bit signed (PostgreSQL `int8`, every signed MySQL integer).
    I64,
    /// Unsigned MySQL integers.
    U64,
    /// Single precision float.
    F32,
    /// Double precision float.
    F64,
    /// NUMERIC / DECIMAL.
    Decimal,
    /// Text of any kind.
    Text,
    /// Date.
    Date,
    /// Time of day.
    Time,
    /// Timestamp without a zone.
    Timestamp,
    /// Timestamp with a zone (read in UTC).
    TimestampTz,
    /// JSON document.
    Json,
    /// JSON sent as text (MySQL).
    JsonText,
    /// Binary data.
    Bytes,
    /// The column is always NULL (`SELECT NULL AS x`).
    Null,
}

impl ColType {
    /// The reading of a PostgreSQL type name.
    pub(super) fn of_postgres(name: &str) -> Option<ColType> {
        Some(match name {
            "BOOL" => ColType::Bool,
            "INT2" => ColType::I16,
            "INT4" => ColType::I32,
            "INT8" => ColType::I64,
            "FLOAT4" => ColType::F32,
            "FLOAT8" => ColType::F64,
            "NUMERIC" => ColType::Decimal,
            "TEXT" | "VARCHAR" | "CHAR" | "NAME" => ColType::Text,
            "DATE" => ColType::Date,
            "TIME" => ColType::Time,
            "TIMESTAMP" => ColType::Timestamp,
            "TIMESTAMPTZ" => ColType::TimestampTz,
            "JSON" | "JSONB" => ColType::Json,
            "BYTEA" => ColType::Bytes,
            "VOID" | "UNKNOWN" => ColType::Null,
            _ => return None,
        })
    }

    /// The reading of a MySQL/MariaDB type name (as sqlx reports it).
    pub(super) fn of_mysql(name: &str) -> Option<ColType> {
        Some(match name {
            "BOOLEAN" => ColType::Bool,
            "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" => ColType::I64,
            "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
            | "BIGINT UNSIGNED" => ColType::U64,
            "FLOAT" => ColType::F32,
            "DOUBLE" => ColType::F64,
            "DECIMAL" => ColType::Decimal,
            "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM"
            | "SET" => ColType::Text,
            "DATE" => ColType::Date,
            "TIME" => ColType::Time,
            "DATETIME" => ColType::Timestamp,
            "TIMESTAMP" => ColType::TimestampTz,
            "JSON" => ColType::JsonText,
            "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                ColType::Bytes
            }
            "NULL" => ColType::Null,
            _ => return None,
        })
    }

    /// True for types that can order rows as a cursor.
    pub(super) fn orders(self) -> bool {
        matches!(
            self,
            ColType::I16
                | ColType::I32
                | ColType::I64
                | ColType::U64
                | ColType::Decimal
                | ColType::Text
                | ColType::Date
                | ColType::Timestamp
                | ColType::TimestampTz
        )
    }
}

/// One value as read from the database.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Native {
    /// NULL.
    Null,
    /// Boolean.
    Bool(bool),
    /// Signed integer.
    I64(i64),
    /// Unsigned integer.
    U64(u64),
    /// Float.
    F64(f64),
    /// Exact decimal.
    Decimal(Decimal),
    /// Text.
    Text(String),
    /// Date.
    Date(NaiveDate),
    /// Time.
    Time(NaiveTime),
    /// Naive timestamp.
    Timestamp(NaiveDateTime),
    /// Timestamp in UTC.
    TimestampTz(DateTime<Utc>),
    /// JSON.
    Json(Value),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// Reads column `i` of a PostgreSQL row.
pub(super) fn pg_value(row: &PgRow, i: usize, ty: ColType) -> Result<Native, String> {
    macro_rules! get {
        ($t:ty, $wrap:expr) => {
            row.try_get::<Option<$t>, _>(i)
                .map(|v| v.map($wrap).unwrap_or(Native::Null))
                .map_err(|e| e.to_string())
        };
    }
    match ty {
        ColType::Bool => get!(bool, Native::Bool),
        ColType::I16 => get!(i16, |v| Native::I64(v.into())),
        ColType::I32 => get!(i32, |v| Native::I64(v.into())),
        ColType::I64 => get!(i64, Native::I64),
        ColType::U64 => get!(i64, Native::I64),
        ColType::F32 => get!(f32, |v| Native::F64(f32_to_f64(v))),
        ColType::F64 => get!(f64, Native::F64),
        ColType::Decimal => get!(Decimal, Native::Decimal),
        ColType::Text => get!(String, Native::Text),
        ColType::Date => get!(NaiveDate, Native::Date),
        ColType::Time => get!(NaiveTime, Native::Time),
        ColType::Timestamp => get!(NaiveDateTime, Native::Timestamp),
        ColType::TimestampTz => get!(DateTime<Utc>, Native::TimestampTz),
        ColType::Json | ColType::JsonText => get!(Value, Native::Json),
        ColType::Bytes => get!(Vec<u8>, Native::Bytes),
        ColType::Null => Ok(Native::Null),
    }
}

/// Reads column `i` of a MySQL/MariaDB row.
pub(super) fn mysql_value(row: &MySqlRow, i: usize, ty: ColType) -> Result<Native, String> {
    macro_rules! get {
        ($t:ty, $wrap:expr) => {
            row.try_get::<Option<$t>, _>(i)
                .map(|v| v.map($wrap).unwrap_or(Native::Null))
                .map_err(|e| e.to_string())
        };
    }
    match ty {
        ColType::Bool => get!(bool, Native::Bool),
        ColType::I16 | ColType::I32 | ColType::I64 => get!(i64, Native::I64),
        ColType::U64 => get!(u64, Native::U64),
        ColType::F32 => get!(f32, |v| Native::F64(f32_to_f64(v))),
        ColType::F64 => get!(f64, Native::F64),
        ColType::Decimal => get!(Decimal, Native::Decimal),
        ColType::Text => get!(String, Native::Text),
        ColType::Date => get!(NaiveDate, Native::Date),
        ColType::Time => get!(NaiveTime, Native::Time),
        ColType::Timestamp => get!(NaiveDateTime, Native::Timestamp),
        ColType::TimestampTz => get!(DateTime<Utc>, Native::TimestampTz),
        ColType::Json => get!(Value, Native::Json),
        ColType::JsonText => match row.try_get::<Option<String>, _>(i) {
            Ok(None) => Ok(Native::Null),
            Ok(Some(text)) => serde_json::from_str(&text)
                .map(Native::Json)
                .map_err(|e| format!("not valid JSON: {e}")),
            Err(e) => Err(e.to_string()),
        },
        ColType::Bytes => get!(Vec<u8>, Native::Bytes),
        ColType::Null => Ok(Native::Null),
    }
}

/// The column names and type names of a row or statement.
///
/// MySQL flags text with a binary (`_bin`) collation — MariaDB's JSON columns among them —
/// as binary; only collation 63 (`binary`) is really bytes, so other "binary" columns are
/// reported as `TEXT`. sqlx does not expose the collation but prints it in its debug form.
pub(super) fn columns<C: Column>(cols: &[C]) -> Vec<(String, String)> {
    cols.iter()
        .map(|c| {
            let info = c.type_info();
            let mut name = info.name().to_string();
            let debug = format!("{info:?}");
            let binary_family = matches!(
                name.as_str(),
                "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB"
            );
            if binary_family
                && debug.contains("collation: Collation(")
                && !debug.contains("collation: Collation(63)")
            {
                name = "TEXT".to_string();
            }
            (c.name().to_string(), name)
        })
        .collect()
}

/// `f32` widened without inventing digits (`0.1f32` stays `0.1`).
fn f32_to_f64(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// A time zone for naive timestamps: an IANA name or a fixed `±HH:MM` offset.
#[derive(Debug, Clone, Copy)]
pub(super) enum Zone {
    /// A fixed offset (`UTC` is `+00:00`).
    Fixed(FixedOffset),
    /// A named zone with its daylight-saving rules.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses `UTC`, `Z`, `+08:00` or `Asia/Shanghai`.
    pub(super) fn parse(text: &str) -> Result<Zone, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset")));
        }
        if let Some(sign) = t.chars().next().filter(|c| *c == '+' || *c == '-')
            && let Some((h, m)) = t[1..].split_once(':')
            && let (Ok(h), Ok(m)) = (h.parse::<i32>(), m.parse::<i32>())
            && h <= 23
            && m <= 59
        {
            let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
            return FixedOffset::east_opt(secs)
                .map(Zone::Fixed)
                .ok_or_else(|| format!("`{t}` is not a valid offset"));
        }
        t.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!("`{t}` is not a time zone (write e.g. UTC, +08:00 or Asia/Shanghai)")
        })
    }

    fn attach(self, ts: NaiveDateTime) -> Result<String, String> {
        let fmt = |d: DateTime<FixedOffset>| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        match self {
            Zone::Fixed(off) => off
                .from_local_datetime(&ts)
                .single()
                .map(fmt)
                .ok_or_else(|| format!("{ts} cannot be placed in {off}")),
            Zone::Named(tz) => tz
                .from_local_datetime(&ts)
                .earliest()
                .map(|d| fmt(d.fixed_offset()))
                .ok_or_else(|| format!("{ts} does not exist in {tz} (a daylight-saving gap)")),
        }
    }
}

/// A naive timestamp as written: `YYYY-MM-DDTHH:MM:SS` with fractional seconds when present.
fn naive_text(ts: &NaiveDateTime) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

/// The JSON of a value (see the module table).
pub(super) fn to_json(value: Native, zone: Option<Zone>) -> Result<Value, String> {
    Ok(match value {
        Native::Null => Value::Null,
        Native::Bool(b) => Value::Bool(b),
        Native::I64(n) => Value::from(n),
        Native::U64(n) => Value::from(n),
        Native::F64(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} has no JSON number"))?,
        Native::Decimal(d) => Value::String(d.to_string()),
        Native::Text(s) => Value::String(s),
        Native::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        Native::Time(t) => Value::String(t.format("%H:%M:%S%.f").to_string()),
        Native::Timestamp(ts) => Value::String(match zone {
            Some(zone) => zone.attach(ts)?,
            None => naive_text(&ts),
        }),
        Native::TimestampTz(ts) => {
            Value::String(ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        Native::Json(v) => v,
        Native::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
    })
}

/// The text of a cursor value as stored in the cursor (independent of `timezone`).
pub(super) fn cursor_text(value: &Native) -> Option<String> {
    Some(match value {
        Native::I64(n) => n.to_string(),
        Native::U64(n) => n.to_string(),
        Native::Decimal(d) => d.to_string(),
        Native::Text(s) => s.clone(),
        Native::Date(d) => d.format("%Y-%m-%d").to_string(),
        Native::Timestamp(ts) => naive_text(ts),
        Native::TimestampTz(ts) => ts.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        _ => return None,
    })
}

/// The key as stored in the cursor: integers as numbers, everything else as text.
pub(super) fn key_json(value: &Native) -> Option<Value> {
    match value {
        Native::I64(n) => Some(Value::from(*n)),
        Native::U64(n) => Some(Value::from(*n)),
        other => cursor_text(other).map(Value::String),
    }
}

/// Reads a stored cursor or key value back into a value of the column's type.
pub(super) fn parse_stored(text: &Value, ty: ColType) -> Result<Native, String> {
    let s = match text {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => return Err(format!("unexpected stored value {other}")),
    };
    let bad =
        |e: &dyn std::fmt::Display| format!("stored value `{s}` does not fit the column: {e}");
    Ok(match ty {
        ColType::I16 | ColType::I32 | ColType::I64 => Native::I64(s.parse().map_err(|e| bad(&e))?),
        ColType::U64 => Native::U64(s.parse().map_err(|e| bad(&e))?),
        ColType::Decimal => Native::Decimal(s.parse().map_err(|e| bad(&e))?),
        ColType::Text => Native::Text(s),
        ColType::Date => {
            Native::Date(NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| bad(&e))?)
        }
        ColType::Timestamp => Native::Timestamp(
            NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M:%S%.f").map_err(|e| bad(&e))?,
        ),
        ColType::TimestampTz => Native::TimestampTz(
            DateTime::parse_from_rfc3339(&s)
                .map_err(|e| bad(&e))?
                .with_timezone(&Utc),
        ),
        other => return Err(format!("a {other:?} column cannot be a cursor or key")),
    })
}

/// Moves a cursor value back by `secs` (dates by whole days, rounded up).
pub(super) fn look_back(value: &Native, secs: u64) -> Option<Native> {
    let d = Duration::seconds(i64::try_from(secs).ok()?);
    Some(match value {
        Native::Timestamp(ts) => Native::Timestamp(ts.checked_sub_signed(d)?),
        Native::TimestampTz(ts) => Native::TimestampTz(ts.checked_sub_signed(d)?),
        Native::Date(day) => {
            Native::Date(day.checked_sub_signed(Duration::days(secs.div_ceil(86_400) as i64))?)
        }
        _ => return None,
    })
}

/// Binds a value to a PostgreSQL query.
pub(super) fn bind_pg<'q>(
    q: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    v: &Native,
    ty: ColType,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    match v {
        Native::I64(n) => match ty {
            ColType::I16 => q.bind(i16::try_from(*n).unwrap_or(i16::MAX)),
            ColType::I32 => q.bind(i32::try_from(*n).unwrap_or(i32::MAX)),
            _ => q.bind(*n),
        },
        Native::U64(n) => q.bind(i64::try_from(*n).unwrap_or(i64::MAX)),
        Native::Decimal(d) => q.bind(*d),
        Native::Text(s) => q.bind(s.clone()),
        Native::Date(d) => q.bind(*d),
        Native::Timestamp(ts) => q.bind(*ts),
        Native::TimestampTz(ts) => q.bind(*ts),
        Native::Bool(b) => q.bind(*b),
        Native::F64(f) => q.bind(*f),
        Native::Time(t) => q.bind(*t),
        Native::Json(j) => q.bind(j.clone()),
        Native::Bytes(b) => q.bind(b.clone()),
        Native::Null => q.bind(None::<String>),
    }
}

/// Binds a value to a MySQL query.
pub(super) fn bind_mysql<'q>(
    q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    v: &Native,
) -> sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
    match v {
        Native::I64(n) => q.bind(*n),
        Native::U64(n) => q.bind(*n),
        Native::Decimal(d) => q.bind(*d),
        Native::Text(s) => q.bind(s.clone()),
        Native::Date(d) => q.bind(*d),
        Native::Timestamp(ts) => q.bind(*ts),
        Native::TimestampTz(ts) => q.bind(*ts),
        Native::Bool(b) => q.bind(*b),
        Native::F64(f) => q.bind(*f),
        Native::Time(t) => q.bind(*t),
        Native::Json(j) => q.bind(j.to_string()),
        Native::Bytes(b) => q.bind(b.clone()),
        Native::Null => q.bind(None::<String>),
    }
}
