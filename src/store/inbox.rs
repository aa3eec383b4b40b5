//! The webhook inbox: events pushed by sources, kept durably until they are staged.
//!
//! Format: one `webhook_inbox` row per accepted event (migration 0006): connector, idempotency
//! key, the stream whose mapping its records take, the time it was received, the body exactly as
//! received (UTF-8 JSON text, never re-encoded, so it can be checked against its signature
//! again), the headers that mattered, `status` (`pending` → `processed` or `failed`), `attempts`,
//! `processed_at`, the sync run that handled it and the last error.
//!
//! Invariants:
//! - an event is inserted (and, on SQLite, its commit synced to disk with `synchronous = FULL`)
//!   **before** the sender is answered 2xx: once [`Store::insert_event`] returns, a crash loses
//!   nothing;
//! - (connector, idempotency key) is unique: a repeated delivery finds the first row and is
//!   reported as a duplicate, never stored twice;
//! - an event leaves `pending` at most once. [`Store::stage_event`] claims it (`pending` →
//!   `processed`) in the **same transaction** as its staged and quarantined records, and writes
//!   nothing when the claim finds it no longer pending, so a crash between staging and marking
//!   cannot happen half-way and two processors cannot both stage one event;
//! - a failed event keeps its body and error; nothing is ever deleted here.
//!
//! Crash recovery needs no step of its own: `pending` rows are simply picked up by the next
//! [`crate::intake::process_inbox`].

use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, SqliteConnection};

use super::sql::{RowExt, Stamp, micros, no_nul, no_nul_json, now, on_pool};
use super::{Batch, Counts, RunId, Store, StoreError};

const TABLE: &str = "webhook_inbox";

/// Identifies an inbox event.
pub type InboxId = i64;

/// Moves a pending event to `processed`; run inside the transaction that stages its records
/// (`$1` event, `$2` time, `$3` run). Touches no row when the event is not pending.
pub(super) const CLAIM: &str = "UPDATE webhook_inbox SET status = 'processed', \
     processed_at = $2, run = $3, attempts = attempts + 1, error = NULL \
     WHERE id = $1 AND status = 'pending'";

/// Where an event is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InboxStatus {
    /// Accepted, not yet staged.
    Pending,
    /// Its records are staged or quarantined.
    Processed,
    /// It could not be processed (see its error); its body is kept.
    Failed,
}

impl InboxStatus {
    /// Name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Pending => "pending",
            InboxStatus::Processed => "processed",
            InboxStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        match text {
            "pending" => Ok(InboxStatus::Pending),
            "processed" => Ok(InboxStatus::Processed),
            "failed" => Ok(InboxStatus::Failed),
            other => Err(StoreError::Corrupt {
                table: TABLE,
                reason: format!("unknown status `{other}`"),
            }),
        }
    }
}

/// An event to insert.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    /// Connector name.
    pub connector: &'a str,
    /// Event ID or body hash; unique per connector.
    pub idempotency_key: &'a str,
    /// The stream whose mapping its records take.
    pub stream: &'a str,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// The body as received.
    pub body: &'a str,
    /// The headers worth keeping, as a JSON object.
    pub headers: &'a Value,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InboxEvent {
    /// Row id.
    pub id: InboxId,
    /// Connector name.
    pub connector: String,
    /// Event ID or body hash.
    pub idempotency_key: String,
    /// The stream whose mapping its records take.
    pub stream: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// The body as received.
    pub body: String,
    /// The headers kept.
    pub headers: Value,
    /// Status.
    pub status: InboxStatus,
    /// Processing attempts so far.
    pub attempts: u64,
    /// When it was processed or failed.
    pub processed_at: Option<DateTime<Utc>>,
    /// The run that processed it.
    pub run: Option<RunId>,
    /// The last error.
    pub error: Option<String>,
}

fn event(row: &impl RowExt) -> Result<InboxEvent, StoreError> {
    Ok(InboxEvent {
        id: row.int(TABLE, "id")?,
        connector: row.text(TABLE, "connector")?,
        idempotency_key: row.text(TABLE, "idempotency_key")?,
        stream: row.text(TABLE, "stream")?,
        received_at: row.stamp(TABLE, "received_at")?,
        body: row.text(TABLE, "body")?,
        headers: row.json(TABLE, "headers")?,
        status: InboxStatus::parse(&row.text(TABLE, "status")?)?,
        attempts: row.count(TABLE, "attempts")?,
        processed_at: row.opt_stamp(TABLE, "processed_at")?,
        run: row.opt_int(TABLE, "run")?,
        error: row.opt_text(TABLE, "error")?,
    })
}

const COLUMNS: &str = "id, connector, idempotency_key, stream, received_at, body, headers, \
                       status, attempts, processed_at, run, error";

/// Commits that survive an operating-system crash, not only a process crash. SQLite runs with
/// `synchronous = NORMAL` in WAL mode, where the last commits can be lost on power failure; an
/// event answered 2xx must not be, so its insert runs with `FULL`. PostgreSQL syncs every commit.
trait DurableCommits {
    /// Switches synced commits on or off for this connection.
    fn synced_commits(&mut self, on: bool) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl DurableCommits for SqliteConnection {
    async fn synced_commits(&mut self, on: bool) -> Result<(), StoreError> {
        let sql = if on {
            "PRAGMA synchronous = FULL"
        } else {
            "PRAGMA synchronous = NORMAL"
        };
        sqlx::query(sql).execute(&mut *self).await?;
        Ok(())
    }
}

impl DurableCommits for PgConnection {
    async fn synced_commits(&mut self, _on: bool) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Store {
    /// Inserts an event unless one with the same (connector, idempotency key) exists. Returns the
    /// event's id and whether it was a duplicate (then nothing was written). When this returns
    /// `Ok`, the event is on disk.
    pub async fn insert_event(&self, new: NewEvent<'_>) -> Result<(InboxId, bool), StoreError> {
        const INSERT: &str = "INSERT INTO webhook_inbox \
             (connector, idempotency_key, stream, received_at, body, headers, status, attempts) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0) \
             ON CONFLICT (connector, idempotency_key) DO NOTHING RETURNING id";
        const EXISTING: &str =
            "SELECT id FROM webhook_inbox WHERE connector = $1 AND idempotency_key = $2";
        let key = no_nul(new.idempotency_key);
        on_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            conn.synced_commits(true).await?;
            let outcome = async {
                // A racing first delivery that rolls back leaves neither row: try once more.
                for _ in 0..2 {
                    let inserted = sqlx::query(INSERT)
                        .bind(new.connector)
                        .bind(key.as_ref())
                        .bind(new.stream)
                        .bind(Stamp(micros(new.received_at)))
                        .bind(no_nul(new.body).as_ref())
                        .bind(Json(no_nul_json(new.headers)))
                        .fetch_optional(&mut *conn)
                        .await?;
                    if let Some(row) = inserted {
                        return Ok((row.int(TABLE, "id")?, false));
                    }
                    let existing = sqlx::query(EXISTING)
                        .bind(new.connector)
                        .bind(key.as_ref())
                        .fetch_optional(&mut *conn)
                        .await?;
                    if let Some(row) = existing {
                        return Ok((row.int(TABLE, "id")?, true));
                    }
                }
                Err(StoreError::Corrupt {
                    table: TABLE,
                    reason: format!("event `{key}` of {} neither inserted nor found", new.connector),
                })
            }
            .await;
            // Back to the pool's setting even after an error; a failure here after a successful
            // insert makes the sender retry, which the idempotency key absorbs.
            conn.synced_commits(false).await?;
            outcome
        })
    }

    /// Pending events in the order they were received, at most `limit`.
    pub async fn pending_events(&self, limit: i64) -> Result<Vec<InboxEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM webhook_inbox WHERE status = 'pending' ORDER BY id LIMIT $1"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await?;
            rows.iter().map(event).collect()
        })
    }

    /// Inbox events, newest first, optionally of one connector; at most `limit`.
    pub async fn inbox(
        &self,
        connector: Option<&str>,
        limit: i64,
    ) -> Result<Vec<InboxEvent>, StoreError> {
        let filter = if connector.is_some() {
            "WHERE connector = $2"
        } else {
            ""
        };
        let sql = format!("SELECT {COLUMNS} FROM webhook_inbox {filter} ORDER BY id DESC LIMIT $1");
        on_pool!(self, pool => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(limit);
            if let Some(c) = connector {
                q = q.bind(c);
            }
            let rows = q.fetch_all(pool).await?;
            rows.iter().map(event).collect()
        })
    }

    /// Stages a pending event's records (and quarantines its rejects) and marks it processed,
    /// in one transaction. `None` when the event was no longer pending: nothing was written.
    pub async fn stage_event(
        &self,
        id: InboxId,
        batch: Batch<'_>,
    ) -> Result<Option<Counts>, StoreError> {
        self.commit(batch, Some(id)).await
    }

    /// Records a failed processing attempt. With `give_up` (or when the problem is permanent)
    /// the event becomes `failed`; otherwise it stays `pending` for the next attempt. Returns
    /// false when the event was no longer pending.
    pub async fn fail_event(
        &self,
        id: InboxId,
        run: Option<RunId>,
        error: &str,
        give_up: bool,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE webhook_inbox SET attempts = attempts + 1, error = $2, \
             run = $3, status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END, \
             processed_at = CASE WHEN $4 THEN $5 ELSE processed_at END \
             WHERE id = $1 AND status = 'pending'";
        on_pool!(self, pool => {
            let done = sqlx::query(SQL)
                .bind(id)
                .bind(no_nul(error).as_ref())
                .bind(run)
                .bind(give_up)
                .bind(Stamp(now()))
                .execute(pool)
                .await?;
            Ok(done.rows_affected() == 1)
        })
    }
}
