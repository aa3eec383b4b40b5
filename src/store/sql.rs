//! Plumbing shared by the store's files: the two pools, the dispatch macro, timestamp and row
//! decoding that behave the same on both backends, and builders for multi-row statements.
//!
//! Every query is written once with `$n` placeholders, which SQLite and PostgreSQL both
//! understand, and run through [`on_pool!`], which expands the same block once per backend.

use std::borrow::Cow;
use std::future::Future;

use chrono::{DateTime, NaiveDate, SecondsFormat, Timelike, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgRow, PgTypeInfo};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteRow, SqliteTypeInfo};
use sqlx::{Encode, PgPool, Postgres, Row, Sqlite, SqlitePool, Transaction, Type};

use super::StoreError;

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    /// Embedded SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend it is. The body is
/// compiled once per backend, so it may only use what both offer.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::store::sql::Pool::Sqlite($pool) => $body,
            $crate::store::sql::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opening transactions. For writes, SQLite takes its write lock up front (`BEGIN IMMEDIATE`) so a
/// transaction that reads before it writes cannot fail half-way on a lock upgrade; PostgreSQL
/// uses a plain `BEGIN`.
pub(crate) trait WritePool {
    /// The database.
    type Db: sqlx::Database;
    /// Begins a transaction that will write.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
    /// Begins a transaction that only reads and sees one snapshot throughout.
    fn begin_read(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Db = Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
    fn begin_read(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        // A deferred transaction reads one snapshot (WAL) from its first read on.
        self.begin()
    }
}

impl WritePool for PgPool {
    type Db = Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
    fn begin_read(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    }
}

/// The current time, cut to whole microseconds (what PostgreSQL keeps), so a value read back
/// equals the value written on both backends.
pub(crate) fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

/// Cuts a time to whole microseconds.
pub(crate) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(nanos).unwrap_or(t)
}

/// A timestamp parameter: `TIMESTAMPTZ` on PostgreSQL; on SQLite RFC 3339 text in UTC with
/// exactly six fraction digits and a `Z` (`2026-11-23T00:58:36.123456Z`), so that text order is
/// time order and `MAX()` works.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp(pub DateTime<Utc>);

impl Stamp {
    fn text(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl Type<Sqlite> for Stamp {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Stamp {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.text(), buf)
    }
}

impl Type<Postgres> for Stamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Stamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

/// An exact decimal parameter: `NUMERIC` on PostgreSQL, its text on SQLite (which has no exact
/// decimal type).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dec(pub Decimal);

impl Type<Sqlite> for Dec {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for Dec {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.to_string(), buf)
    }
}

impl Type<Postgres> for Dec {
    fn type_info() -> PgTypeInfo {
        <Decimal as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Dec {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <Decimal as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

pub(super) fn corrupt(table: &'static str, col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: format!("column {col}: {e}"),
    }
}

/// Reading columns; any value that does not decode becomes [`StoreError::Corrupt`].
pub(crate) trait RowExt {
    /// A text column.
    fn text(&self, table: &'static str, col: &str) -> Result<String, StoreError>;
    /// A nullable text column.
    fn opt_text(&self, table: &'static str, col: &str) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn int(&self, table: &'static str, col: &str) -> Result<i64, StoreError>;
    /// A JSON column (JSONB on PostgreSQL, text on SQLite).
    fn json(&self, table: &'static str, col: &str) -> Result<Value, StoreError>;
    /// A nullable exact decimal column (written with [`Dec`]).
    fn opt_decimal(&self, table: &'static str, col: &str) -> Result<Option<Decimal>, StoreError>;
    /// A nullable integer column.
    fn opt_int(&self, table: &'static str, col: &str) -> Result<Option<i64>, StoreError>;
    /// A nullable date column.
    fn opt_date(&self, table: &'static str, col: &str) -> Result<Option<NaiveDate>, StoreError>;
    /// A boolean column.
    fn flag(&self, table: &'static str, col: &str) -> Result<bool, StoreError>;

    /// An exact decimal column.
    fn decimal(&self, table: &'static str, col: &str) -> Result<Decimal, StoreError> {
        self.opt_decimal(table, col)?
            .ok_or_else(|| corrupt(table, col, "unexpected NULL"))
    }
    /// A nullable timestamp column.
    fn opt_stamp(
        &self,
        table: &'static str,
        col: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// A timestamp column.
    fn stamp(&self, table: &'static str, col: &str) -> Result<DateTime<Utc>, StoreError> {
        self.opt_stamp(table, col)?
            .ok_or_else(|| corrupt(table, col, "unexpected NULL"))
    }

    /// A non-negative count.
    fn count(&self, table: &'static str, col: &str) -> Result<u64, StoreError> {
        let n = self.int(table, col)?;
        u64::try_from(n).map_err(|_| corrupt(table, col, format!("negative count {n}")))
    }
}

macro_rules! common_columns {
    () => {
        fn text(&self, table: &'static str, col: &str) -> Result<String, StoreError> {
            self.try_get::<String, _>(col)
                .map_err(|e| corrupt(table, col, e))
        }
        fn opt_text(&self, table: &'static str, col: &str) -> Result<Option<String>, StoreError> {
            self.try_get::<Option<String>, _>(col)
                .map_err(|e| corrupt(table, col, e))
        }
        fn int(&self, table: &'static str, col: &str) -> Result<i64, StoreError> {
            self.try_get::<i64, _>(col)
                .map_err(|e| corrupt(table, col, e))
        }
        fn opt_int(&self, table: &'static str, col: &str) -> Result<Option<i64>, StoreError> {
            self.try_get::<Option<i64>, _>(col)
                .map_err(|e| corrupt(table, col, e))
        }
        fn opt_date(
            &self,
            table: &'static str,
            col: &str,
        ) -> Result<Option<NaiveDate>, StoreError> {
            self.try_get::<Option<NaiveDate>, _>(col)
                .map_err(|e| corrupt(table, col, e))
        }
        fn flag(&self, table: &'static str, col: &str) -> Result<bool, StoreError> {
            self.try_get::<bool, _>(col)
                .map_err(|e| corrupt(table, col, e))
        }
    };
}

impl RowExt for SqliteRow {
    common_columns!();

    fn opt_decimal(&self, table: &'static str, col: &str) -> Result<Option<Decimal>, StoreError> {
        self.opt_text(table, col)?
            .map(|t| {
                t.parse::<Decimal>()
                    .map_err(|e| corrupt(table, col, format!("`{t}`: {e}")))
            })
            .transpose()
    }

    fn json(&self, table: &'static str, col: &str) -> Result<Value, StoreError> {
        let text = self.text(table, col)?;
        serde_json::from_str(&text).map_err(|e| corrupt(table, col, e))
    }

    fn opt_stamp(
        &self,
        table: &'static str,
        col: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.opt_text(table, col)?
            .map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| corrupt(table, col, format!("`{t}`: {e}")))
            })
            .transpose()
    }
}

impl RowExt for PgRow {
    common_columns!();

    fn opt_decimal(&self, table: &'static str, col: &str) -> Result<Option<Decimal>, StoreError> {
        self.try_get::<Option<Decimal>, _>(col)
            .map_err(|e| corrupt(table, col, e))
    }

    fn json(&self, table: &'static str, col: &str) -> Result<Value, StoreError> {
        self.try_get::<sqlx::types::Json<Value>, _>(col)
            .map(|j| j.0)
            .map_err(|e| corrupt(table, col, e))
    }

    fn opt_stamp(
        &self,
        table: &'static str,
        col: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.try_get::<Option<DateTime<Utc>>, _>(col)
            .map_err(|e| corrupt(table, col, e))
    }
}

/// PostgreSQL can hold no U+0000 in `TEXT` or `JSONB`; a page carrying one would fail every
/// time and block its stream. Both backends therefore store U+FFFD in its place.
pub(crate) const NUL_STAND_IN: char = '\u{FFFD}';

/// `s` without U+0000 (see [`NUL_STAND_IN`]); borrowed when there is none.
pub(crate) fn no_nul(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', &NUL_STAND_IN.to_string()))
    } else {
        Cow::Borrowed(s)
    }
}

/// `v` without U+0000 in any string or object key; borrowed when there is none.
pub(crate) fn no_nul_json(v: &Value) -> Cow<'_, Value> {
    fn has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(a) => a.iter().any(has_nul),
            Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
            _ => false,
        }
    }
    fn clean(v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(no_nul(s).into_owned()),
            Value::Array(a) => Value::Array(a.iter().map(clean).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (no_nul(k).into_owned(), clean(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    if has_nul(v) {
        Cow::Owned(clean(v))
    } else {
        Cow::Borrowed(v)
    }
}

/// Rows per multi-row statement (and keys per `IN` list). With at most six parameters of its own
/// per row plus four shared ones, a statement binds at most 6,004 parameters: far below both
/// limits (32,766 on SQLite, 65,535 on PostgreSQL).
pub(crate) const ROWS_PER_STATEMENT: usize = 1_000;

/// `(…), (…), …`: `rows` tuples, each starting with the shared parameters `$1 … $shared`,
/// followed by `width` parameters of its own, numbered on from `shared + 1`.
pub(crate) fn tuples(rows: usize, shared: usize, width: usize) -> String {
    let mut out = String::with_capacity(rows * (shared + width) * 6);
    let mut n = shared + 1;
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..shared + width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            if c < shared {
                out.push_str(&(c + 1).to_string());
            } else {
                out.push_str(&n.to_string());
                n += 1;
            }
        }
        out.push(')');
    }
    out
}

/// `template` with its `{rows}` replaced by [`tuples`]. Only placeholders are spliced in,
/// never values.
pub(crate) fn with_rows(
    template: &str,
    rows: usize,
    shared: usize,
    width: usize,
) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(template.replace("{rows}", &tuples(rows, shared, width)))
}

/// `$first, …, $(first + count - 1)`: a list for `IN (…)`.
pub(crate) fn list(count: usize, first: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_replaced_everywhere_and_only_when_present() {
        let v = serde_json::json!({ "a\u{0}": ["x\u{0}y", 1], "b": "ok" });
        let clean = no_nul_json(&v);
        assert_eq!(
            *clean,
            serde_json::json!({ "a\u{FFFD}": ["x\u{FFFD}y", 1], "b": "ok" })
        );
        let fine = serde_json::json!({ "b": "ok" });
        assert!(matches!(no_nul_json(&fine), Cow::Borrowed(_)));
        assert!(matches!(no_nul("abc"), Cow::Borrowed(_)));
    }

    #[test]
    fn placeholders() {
        assert_eq!(tuples(2, 0, 2), "($1, $2), ($3, $4)");
        assert_eq!(tuples(2, 2, 1), "($1, $2, $3), ($1, $2, $4)");
        assert_eq!(list(3, 2), "$2, $3, $4");
    }

    #[test]
    fn sqlite_stamps_sort_as_text() {
        let a = Stamp(DateTime::from_timestamp(1_700_000_000, 0).unwrap()).text();
        let b = Stamp(DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap()).text();
        assert_eq!(a, "2023-11-14T22:13:20.000000Z");
        assert!(a < b);
    }
}
