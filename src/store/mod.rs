//! The store: staging, cursors, quarantine, run history and the customer master.
//!
//! SQLite (embedded default) and PostgreSQL (production), chosen by the URL. Both run the same
//! SQL text (`$1`-style placeholders work on both) except for one read in `staging.rs`, whose
//! two versions sit side by side; schemas live in `migrations/sqlite` and `migrations/postgres`
//! (plain files, embedded at build time, applied by [`Store::connect`]).
//!
//! Files: `connect.rs` (URLs, pools, migrations), `runs.rs` (run history), `staging.rs`
//! (staging, cursors, quarantine), `master.rs` (masters, xref, aliases), `insights.rs` (the
//! derived `customer_insights`), `groups.rs` (the derived `master_groups` and
//! `master_group_issues`), `inbox.rs` (the webhook inbox), `locks.rs` (one run per connector,
//! across processes), `sql.rs` (the dispatch over the two pools, timestamps and row decoding),
//! `testing.rs` (every test on both backends).
//!
//! Tables: `runs`, `cursors`, `staged`, `quarantine`, `masters`, `xref`, `master_alias`,
//! `stream_fields`, `customer_insights`, `match_reviews`, `steward_decisions`, `master_groups`,
//! `master_group_issues`, `webhook_inbox`, `run_locks` (SQLite only).
//! Timestamps are `TIMESTAMPTZ` on PostgreSQL and RFC 3339 UTC text with six fraction digits on
//! SQLite (so both keep microseconds and text order is time order); JSON is `JSONB` on
//! PostgreSQL (object keys come back in its own order, values compare equal) and text on SQLite.
//!
//! Invariants:
//! - a page of staged records, its quarantined records and the stream's cursor are written in
//!   one transaction ([`Store::commit_batch`]): a crash leaves either all of them or none;
//! - staging is keyed by (connector, stream, key); a record whose content hash is unchanged is
//!   counted as unchanged and not rewritten, so re-running a sync changes nothing;
//! - the master is written whole: [`Store::save_master`] makes the stored master equal to the
//!   state handed in, in one transaction; an alias ID has no `masters` row;
//! - the insights are written whole too: [`Store::replace_insights`] swaps the table's content
//!   in one transaction, and so is the group structure ([`Store::replace_groups`]);
//! - a webhook event is on disk before its sender is answered, and its records are staged in the
//!   transaction that marks it processed ([`Store::stage_event`]);
//! - a stored value that does not decode is reported as [`StoreError::Corrupt`], never unwrapped;
//! - no business rules live here.

mod basis;
mod connect;
mod fields;
mod groups;
pub mod inbox;
mod insights;
mod locks;
mod lookup;
mod master;
mod runs;
mod sql;
mod staging;
pub mod steward;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;

pub use basis::MatchModelRow;
pub use inbox::{InboxEvent, InboxId, InboxStatus, NewEvent};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::model::Entity;
use crate::model::{MasterRow, MasterState, RunId, XrefRow};

pub use locks::{RunLock, run_lock_key};

/// Store errors.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The URL names no supported backend.
    #[error("unsupported store URL `{0}` (expected sqlite:… or postgres://…)")]
    Url(String),
    /// Database error.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Migration error.
    #[error("migrating the store: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Creating the folder of an SQLite file failed.
    #[error("creating {path}: {source}")]
    Io {
        /// The folder.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A stored value could not be decoded.
    #[error("corrupt stored value in {table}: {reason}")]
    Corrupt {
        /// Table.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going (or the process died).
    Running,
    /// Everything staged.
    Success,
    /// Finished, but some records were quarantined.
    Partial,
    /// Stopped by an error; the cursor is at the last committed page.
    Failed,
    /// Stopped on request (a shutdown) between two pages; the cursor is at the last
    /// committed page and the next run goes on from there.
    Cancelled,
}

impl RunStatus {
    /// Name stored in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
}

/// Counts of one run or one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Counts {
    /// Records read from the source (including rejected input).
    pub fetched: u64,
    /// Records newly staged or changed.
    pub staged: u64,
    /// Records identical to what was staged before.
    pub unchanged: u64,
    /// Records sent to quarantine.
    pub quarantined: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.fetched += o.fetched;
        self.staged += o.staged;
        self.unchanged += o.unchanged;
        self.quarantined += o.quarantined;
    }
}

/// A record ready to stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedRecord {
    /// The canonical record's source key.
    pub key: String,
    /// Its entity.
    pub entity: Entity,
    /// The key of the customer it belongs to, in the same source.
    pub customer_key: Option<String>,
    /// The raw payload as fetched.
    pub payload: Value,
    /// The canonical record (entity fields as JSON).
    pub canonical: Value,
    /// Hash of the canonical record; equal hash = unchanged.
    pub hash: String,
}

/// A record that could not be staged.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// Its key, when one could be read; otherwise the locator.
    pub key: String,
    /// Where it came from (file and line, page and index).
    pub locator: String,
    /// The raw payload (JSON, or a JSON string holding raw text).
    pub payload: Value,
    /// Why.
    pub reason: String,
}

/// One page to commit.
#[derive(Debug, Clone)]
pub struct Batch<'a> {
    /// The run it belongs to.
    pub run: RunId,
    /// Connector name (the records' source).
    pub connector: &'a str,
    /// Stream name.
    pub stream: &'a str,
    /// Records to upsert.
    pub records: Vec<StagedRecord>,
    /// Records to quarantine.
    pub quarantined: Vec<Quarantined>,
    /// New cursor of the stream; `None` leaves it as it is.
    pub cursor: Option<Value>,
}

/// A staged record as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedRow {
    /// Connector name.
    pub connector: String,
    /// Stream name.
    pub stream: String,
    /// Record key.
    pub key: String,
    /// Customer key in the same source.
    pub customer_key: Option<String>,
    /// Canonical record.
    pub canonical: Value,
    /// The run that last changed it.
    pub run: RunId,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
    /// Hash of the canonical record.
    pub hash: String,
}

/// A quarantined record as read back.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct QuarantineRow {
    /// Row id.
    pub id: i64,
    /// Run that found it.
    pub run: RunId,
    /// Connector name.
    pub connector: String,
    /// Stream name.
    pub stream: String,
    /// Key or locator.
    pub key: String,
    /// Where it came from.
    pub locator: String,
    /// Raw payload.
    pub payload: Value,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A run as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RunRecord {
    /// Run id.
    pub id: RunId,
    /// Connector name.
    pub connector: String,
    /// Start time.
    pub started_at: DateTime<Utc>,
    /// End time, once ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Status.
    pub status: RunStatus,
    /// Counts.
    pub counts: Counts,
    /// Error that stopped it.
    pub error: Option<String>,
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Embedded SQLite (the default: a file under `data/`).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

impl Backend {
    /// `sqlite` or `postgres`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store. Cheap to clone: clones share one connection pool.
///
/// Opened with [`Store::connect`]; its methods live beside their SQL in `runs.rs`
/// (run history), `staging.rs` (staging, cursors, quarantine) and `master.rs` (customer master).
#[derive(Debug, Clone)]
pub struct Store {
    pool: sql::Pool,
}
