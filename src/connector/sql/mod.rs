//! The `sql` kind: a query against an ERP's own database (PostgreSQL, MariaDB/MySQL).
//!
//! A stream is one `SELECT` the user writes. The connector wraps it (see [`query`]) and reads
//! it page by page in the total order `(cursor NULLS FIRST, key)` with keyset pagination —
//! never `OFFSET` — so rows sharing a cursor value are neither skipped nor repeated across a
//! page boundary, and a row updated during the read (its cursor moves past the position) is
//! read again later in the same run or in the next one, never lost.
//!
//! Cursor format, committed with every page:
//!
//! ```json
//! {"version": 1, "cursor": "2026-11-01T08:12:00.5", "key": 42}
//! ```
//!
//! `cursor` is the cursor column of the last row read, as text in the database's own terms
//! (naive timestamps without a zone, whatever the stream's `timezone`); `key` is its key,
//! a number for integer keys and text otherwise. `"cursor": null` means the read is still
//! among the rows whose cursor is NULL: those rows sort first and are read once, on a full
//! sync; give them a cursor in the query (`COALESCE(write_date, create_date)`) if they change.
//!
//! With `lookback_secs`, a run starts at `cursor − lookback` (inclusive) instead of right after
//! the stored position: rows whose change committed late with an older timestamp are picked
//! up; what is read again is unchanged and costs nothing in staging.
//!
//! Safety: the session is set read-only when a connection opens and every page is read in a
//! `READ ONLY` transaction; the query must be a single `SELECT`/`WITH` statement.
//!
//! Locators are `<key column>=<key>`; [`row`] documents the type conversions.

pub mod config;
mod query;
mod row;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{
    AssertSqlSafe, Connection, Executor, MySql, Pool, Postgres, Row, SqlSafeStr, Statement,
};

use self::config::{SqlOptions, SqlStream};
use self::query::{Bound, Dialect};
use self::row::{ColType, Native, Zone};
use super::{ConnectorError, Opening, Page, RawRecord, Source};

pub use self::query::check_url_secret;
/// Cursor format version.
const VERSION: u64 = 1;

/// Opens a SQL stream (its options already validated); the database is reached on the first
/// page.
pub(super) fn open(
    at: &Opening<'_>,
    options: &SqlOptions,
    spec: &SqlStream,
    cursor: Option<Value>,
) -> Result<Box<dyn Source>, ConnectorError> {
    let query = query::check_query(&spec.query).map_err(|e| at.stream_error(e))?;
    let dialect = Dialect::of_url(&options.url).ok_or_else(|| {
        at.error(format!(
            "`{}` is not a postgres://, mysql:// or mariadb:// URL",
            query::redact(&options.url)
        ))
    })?;
    let stored = match cursor {
        None => None,
        Some(v) => Some(Stored::from_value(&v).map_err(|e| at.stream_error(e))?),
    };
    Ok(Box::new(SqlSource {
        connector: at.connector.to_string(),
        stream: at.stream.to_string(),
        url: options.url.clone(),
        shown_url: query::redact(&options.url),
        max_connections: options.max_connections.max(1),
        timeout: Duration::from_secs(options.timeout_secs.max(1)),
        dialect,
        query,
        cursor_col: spec.cursor.clone(),
        key_col: spec.key.clone(),
        batch_size: spec.page_size(),
        lookback_secs: spec.lookback_secs,
        zone: spec
            .timezone
            .as_deref()
            .map(Zone::parse)
            .transpose()
            .map_err(|e| at.stream_error(e))?,
        stored,
        state: None,
        done: false,
    }))
}

/// A stored cursor as read back.
#[derive(Debug, Clone)]
struct Stored {
    cursor: Option<Value>,
    key: Value,
}

impl Stored {
    fn from_value(v: &Value) -> Result<Stored, String> {
        let refuse = || {
            format!(
                "the stored cursor is not a version {VERSION} SQL cursor (found {v}); reset it with `sync --full`"
            )
        };
        if v.get("version").and_then(Value::as_u64) != Some(VERSION) {
            return Err(refuse());
        }
        let key = v.get("key").filter(|k| !k.is_null()).ok_or_else(refuse)?;
        Ok(Stored {
            cursor: v.get("cursor").filter(|c| !c.is_null()).cloned(),
            key: key.clone(),
        })
    }
}

enum Db {
    Pg(Pool<Postgres>),
    My(Pool<MySql>),
}

/// What the first page learns: the columns and where the read stands.
struct State {
    db: Db,
    columns: Vec<(String, ColType)>,
    cursor_idx: usize,
    key_idx: usize,
    bound: Bound,
    cursor_val: Native,
    key_val: Native,
}

struct SqlSource {
    connector: String,
    stream: String,
    url: String,
    shown_url: String,
    max_connections: u32,
    timeout: Duration,
    dialect: Dialect,
    query: String,
    cursor_col: String,
    key_col: String,
    batch_size: usize,
    lookback_secs: u64,
    zone: Option<Zone>,
    stored: Option<Stored>,
    state: Option<State>,
    done: bool,
}

impl SqlSource {
    fn db_error(&self, reason: String) -> ConnectorError {
        ConnectorError::Input {
            locator: format!("database {}", self.shown_url),
            reason,
        }
    }

    fn config_error(&self, reason: String) -> ConnectorError {
        ConnectorError::Config {
            connector: self.connector.clone(),
            reason: format!("stream `{}`: {reason}", self.stream),
        }
    }

    /// Connects (one connection first, so that a refusal is reported as it is), describes
    /// the query's columns and reads the stored cursor against their types.
    async fn start(&mut self) -> Result<State, ConnectorError> {
        let timeout = self.timeout;
        let describe = query::describe_sql(&self.query);
        let cannot_connect = |e: String| {
            self.db_error(format!(
                "cannot connect: {e} (is the database server running and the URL right?)"
            ))
        };
        let (db, described) = match self.dialect {
            Dialect::Postgres => {
                let opts = PgConnectOptions::from_str(&self.url)
                    .map_err(|e| self.config_error(format!("database URL: {e}")))?;
                let mut conn = within(timeout, sqlx::PgConnection::connect_with(&opts))
                    .await
                    .map_err(cannot_connect)?;
                let stmt = within(
                    timeout,
                    (&mut conn).prepare(AssertSqlSafe(describe.clone()).into_sql_str()),
                )
                .await
                .map_err(|e| self.config_error(format!("the database refused the query: {e}")))?;
                let cols = row::columns(stmt.columns());
                let _ = conn.close().await;
                let pool = PgPoolOptions::new()
                    .max_connections(self.max_connections)
                    .acquire_timeout(timeout)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect_lazy_with(opts);
                (Db::Pg(pool), cols)
            }
            Dialect::MySql => {
                let url = match self.url.split_once("://") {
                    Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => {
                        format!("mysql://{rest}")
                    }
                    _ => self.url.clone(),
                };
                let opts = MySqlConnectOptions::from_str(&url)
                    .map_err(|e| self.config_error(format!("database URL: {e}")))?;
                let mut conn = within(timeout, sqlx::MySqlConnection::connect_with(&opts))
                    .await
                    .map_err(cannot_connect)?;
                let stmt = within(
                    timeout,
                    (&mut conn).prepare(AssertSqlSafe(describe.clone()).into_sql_str()),
                )
                .await
                .map_err(|e| self.config_error(format!("the database refused the query: {e}")))?;
                let cols = row::columns(stmt.columns());
                let _ = conn.close().await;
                let pool = MySqlPoolOptions::new()
                    .max_connections(self.max_connections)
                    .acquire_timeout(timeout)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("SET SESSION TRANSACTION READ ONLY")
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect_lazy_with(opts);
                (Db::My(pool), cols)
            }
        };
        let columns = self.classify(&described)?;
        let find = |name: &str, what: &str| {
            columns.iter().position(|(c, _)| c == name).ok_or_else(|| {
                self.config_error(format!(
                    "the {what} column `{name}` is not among the query's columns ({})",
                    columns
                        .iter()
                        .map(|(c, _)| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        };
        let cursor_idx = find(&self.cursor_col, "cursor")?;
        let key_idx = find(&self.key_col, "key")?;
        for (idx, what) in [(cursor_idx, "cursor"), (key_idx, "key")] {
            if !columns[idx].1.orders() {
                return Err(self.config_error(format!(
                    "the {what} column `{}` is of type {}, which cannot order rows (use a timestamp, date, number or text column)",
                    columns[idx].0, described[idx].1
                )));
            }
        }
        let cursor_ty = columns[cursor_idx].1;
        let lookback_ok = matches!(
            cursor_ty,
            ColType::Date | ColType::Timestamp | ColType::TimestampTz
        );
        if self.lookback_secs > 0 && !lookback_ok {
            return Err(self.config_error(format!(
                "lookback_secs needs a date or timestamp cursor column; `{}` is {}",
                self.cursor_col, described[cursor_idx].1
            )));
        }
        let (mut bound, mut cursor_val, mut key_val) = (Bound::Start, Native::Null, Native::Null);
        if let Some(stored) = &self.stored {
            let unreadable =
                |e: String| self.config_error(format!("{e}; reset the cursor with `sync --full`"));
            key_val = row::parse_stored(&stored.key, columns[key_idx].1).map_err(unreadable)?;
            match &stored.cursor {
                None => bound = Bound::NullAfter,
                Some(c) => {
                    cursor_val = row::parse_stored(c, cursor_ty).map_err(unreadable)?;
                    bound = Bound::After;
                    if self.lookback_secs > 0
                        && let Some(back) = row::look_back(&cursor_val, self.lookback_secs)
                    {
                        cursor_val = back;
                        bound = Bound::From;
                    }
                }
            }
        }
        tracing::debug!(stream = %self.stream, columns = columns.len(), ?bound, "sql stream opened");
        Ok(State {
            db,
            columns,
            cursor_idx,
            key_idx,
            bound,
            cursor_val,
            key_val,
        })
    }

    /// Reads the types of the described columns; unknown types and duplicate names are errors.
    fn classify(
        &self,
        described: &[(String, String)],
    ) -> Result<Vec<(String, ColType)>, ConnectorError> {
        let mut out: Vec<(String, ColType)> = Vec::with_capacity(described.len());
        for (name, ty) in described {
            if out.iter().any(|(n, _)| n == name) {
                return Err(self.config_error(format!(
                    "the query returns two columns named `{name}`: give them distinct names with AS"
                )));
            }
            let class = match self.dialect {
                Dialect::Postgres => ColType::of_postgres(ty),
                Dialect::MySql => ColType::of_mysql(ty),
            }
            .ok_or_else(|| {
                self.config_error(format!(
                    "column `{name}` has type {ty}, which the sql connector does not read; cast it in the query (e.g. CAST({name} AS TEXT))"
                ))
            })?;
            out.push((name.clone(), class));
        }
        Ok(out)
    }

    /// Reads one page of rows after the current position.
    async fn fetch(&self, state: &State) -> Result<Vec<Vec<Native>>, ConnectorError> {
        let sql = query::page_sql(
            self.dialect,
            &self.query,
            &state.columns[state.cursor_idx].0,
            &state.columns[state.key_idx].0,
            &state.bound,
            self.batch_size,
        );
        let values: Vec<(&Native, ColType)> = query::binds(self.dialect, &state.bound)
            .iter()
            .map(|b| match b {
                'C' => (&state.cursor_val, state.columns[state.cursor_idx].1),
                _ => (&state.key_val, state.columns[state.key_idx].1),
            })
            .collect();
        let db_err = |e: sqlx::Error| self.db_error(format!("reading a page: {e}"));
        let column_err = |i: usize, e: String| {
            self.db_error(format!(
                "column `{}` ({:?}): {e}",
                state.columns[i].0, state.columns[i].1
            ))
        };
        let read = async {
            match &state.db {
                Db::Pg(pool) => {
                    let mut tx = pool
                        .begin_with("BEGIN TRANSACTION READ ONLY")
                        .await
                        .map_err(db_err)?;
                    let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                    for (v, ty) in &values {
                        q = row::bind_pg(q, v, *ty);
                    }
                    let rows = q.fetch_all(&mut *tx).await.map_err(db_err)?;
                    tx.rollback().await.map_err(db_err)?;
                    rows.iter()
                        .map(|r| {
                            check_width(r.len(), state.columns.len())
                                .map_err(|e| self.db_error(e))?;
                            (0..state.columns.len())
                                .map(|i| {
                                    row::pg_value(r, i, state.columns[i].1)
                                        .map_err(|e| column_err(i, e))
                                })
                                .collect::<Result<Vec<_>, _>>()
                        })
                        .collect::<Result<Vec<_>, _>>()
                }
                Db::My(pool) => {
                    let mut tx = pool
                        .begin_with("START TRANSACTION READ ONLY")
                        .await
                        .map_err(db_err)?;
                    let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
                    for (v, _) in &values {
                        q = row::bind_mysql(q, v);
                    }
                    let rows = q.fetch_all(&mut *tx).await.map_err(db_err)?;
                    tx.rollback().await.map_err(db_err)?;
                    rows.iter()
                        .map(|r| {
                            check_width(r.len(), state.columns.len())
                                .map_err(|e| self.db_error(e))?;
                            (0..state.columns.len())
                                .map(|i| {
                                    row::mysql_value(r, i, state.columns[i].1)
                                        .map_err(|e| column_err(i, e))
                                })
                                .collect::<Result<Vec<_>, _>>()
                        })
                        .collect::<Result<Vec<_>, _>>()
                }
            }
        };
        match tokio::time::timeout(self.timeout, read).await {
            Ok(result) => result,
            Err(_) => Err(self.db_error(format!(
                "no page within {} s (timeout_secs)",
                self.timeout.as_secs()
            ))),
        }
    }
}

fn check_width(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "the query returned {got} columns where {want} were described; did the schema change during the read?"
        ))
    }
}

/// Runs a database future with a time limit; errors become text.
async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!(
            "no answer within {} s (timeout_secs)",
            limit.as_secs()
        )),
    }
}

#[async_trait]
impl Source for SqlSource {
    async fn probe(&mut self) -> Result<(), ConnectorError> {
        if self.state.is_none() {
            self.state = Some(self.start().await?);
        }
        Ok(())
    }

    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        if self.state.is_none() {
            let state = self.start().await?;
            self.state = Some(state);
        }
        let state = self.state.as_ref().expect("state set above");
        let rows = self.fetch(state).await?;
        if rows.len() < self.batch_size {
            self.done = true;
        }
        let Some(last) = rows.last() else {
            return Ok(None);
        };
        let (cursor_idx, key_idx) = (state.cursor_idx, state.key_idx);
        let key_name = &state.columns[key_idx].0;
        let mut records = Vec::with_capacity(rows.len());
        for values in &rows {
            let key = row::key_json(&values[key_idx]).ok_or_else(|| {
                self.db_error(format!(
                    "a row has a NULL key `{key_name}`; the key column must be unique and never NULL"
                ))
            })?;
            let locator = match &key {
                Value::String(s) => format!("{key_name}={s}"),
                other => format!("{key_name}={other}"),
            };
            let mut object = Map::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                let name = &state.columns[i].0;
                let json =
                    row::to_json(v.clone(), self.zone).map_err(|e| ConnectorError::Input {
                        locator: locator.clone(),
                        reason: format!("column `{name}`: {e}"),
                    })?;
                object.insert(name.clone(), json);
            }
            records.push(RawRecord {
                locator,
                payload: Value::Object(object),
            });
        }
        let cursor_val = last[cursor_idx].clone();
        let key_val = last[key_idx].clone();
        let checkpoint = json!({
            "version": VERSION,
            "cursor": row::cursor_text(&cursor_val),
            "key": row::key_json(&key_val),
        });
        let state = self.state.as_mut().expect("state set above");
        state.bound = if cursor_val == Native::Null {
            Bound::NullAfter
        } else {
            Bound::After
        };
        state.cursor_val = cursor_val;
        state.key_val = key_val;
        tracing::debug!(stream = %self.stream, rows = records.len(), "page read");
        Ok(Some(Page {
            records,
            rejected: vec![],
            checkpoint: Some(checkpoint),
        }))
    }
}

#[cfg(test)]
mod tests;
