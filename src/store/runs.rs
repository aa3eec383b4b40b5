//! Sync-run history: one row per run of a connector, from `running` to how it ended.
//!
//! "Newest first" means most recently started: runs are ordered by their ID, which only grows,
//! so a clock that steps back does not reorder them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::sql::{RowExt, Stamp, now, on_pool};
use super::{Counts, RunId, RunRecord, RunStatus, Store, StoreError};

const TABLE: &str = "runs";

fn status(text: &str) -> Result<RunStatus, StoreError> {
    Ok(match text {
        "running" => RunStatus::Running,
        "success" => RunStatus::Success,
        "partial" => RunStatus::Partial,
        "failed" => RunStatus::Failed,
        "cancelled" => RunStatus::Cancelled,
        other => {
            return Err(StoreError::Corrupt {
                table: TABLE,
                reason: format!("unknown status `{other}`"),
            });
        }
    })
}

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn run_record(row: &impl RowExt) -> Result<RunRecord, StoreError> {
    Ok(RunRecord {
        id: row.int(TABLE, "id")?,
        connector: row.text(TABLE, "connector")?,
        started_at: row.stamp(TABLE, "started_at")?,
        finished_at: row.opt_stamp(TABLE, "finished_at")?,
        status: status(&row.text(TABLE, "status")?)?,
        counts: Counts {
            fetched: row.count(TABLE, "fetched")?,
            staged: row.count(TABLE, "staged")?,
            unchanged: row.count(TABLE, "unchanged")?,
            quarantined: row.count(TABLE, "quarantined")?,
        },
        error: row.opt_text(TABLE, "error")?,
    })
}

impl Store {
    /// Records the start of a run (status `running`, counts 0) and returns its ID.
    pub async fn start_run(&self, connector: &str) -> Result<RunId, StoreError> {
        const SQL: &str = "INSERT INTO runs (connector, started_at, status) \
                           VALUES ($1, $2, 'running') RETURNING id";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL)
                .bind(connector)
                .bind(Stamp(now()))
                .fetch_one(pool)
                .await?;
            row.int(TABLE, "id")
        })
    }

    /// Records the end of a run: its status, counts, error and end time.
    pub async fn finish_run(
        &self,
        run: RunId,
        status: RunStatus,
        counts: Counts,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "UPDATE runs SET finished_at = $2, status = $3, fetched = $4, \
                           staged = $5, unchanged = $6, quarantined = $7, error = $8 \
                           WHERE id = $1";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(run)
                .bind(Stamp(now()))
                .bind(status.as_str())
                .bind(count(counts.fetched))
                .bind(count(counts.staged))
                .bind(count(counts.unchanged))
                .bind(count(counts.quarantined))
                .bind(error)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Recent runs, newest first, optionally of one connector; at most `limit`.
    pub async fn runs(
        &self,
        connector: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        const ALL: &str = "SELECT id, connector, started_at, finished_at, status, fetched, \
                           staged, unchanged, quarantined, error \
                           FROM runs ORDER BY id DESC LIMIT $1";
        const ONE: &str = "SELECT id, connector, started_at, finished_at, status, fetched, \
                           staged, unchanged, quarantined, error \
                           FROM runs WHERE connector = $2 ORDER BY id DESC LIMIT $1";
        on_pool!(self, pool => {
            let rows = match connector {
                None => sqlx::query(ALL).bind(limit).fetch_all(pool).await?,
                Some(c) => sqlx::query(ONE).bind(limit).bind(c).fetch_all(pool).await?,
            };
            rows.iter().map(run_record).collect()
        })
    }

    /// Per connector: end time of its last run that finished as `success` or `partial`.
    /// Connectors that never finished such a run are absent.
    pub async fn last_successful_sync(&self) -> Result<HashMap<String, DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT connector, MAX(finished_at) AS last FROM runs \
                           WHERE status IN ('success', 'partial') AND finished_at IS NOT NULL \
                           GROUP BY connector";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).fetch_all(pool).await?;
            rows.iter()
                .map(|r| Ok((r.text(TABLE, "connector")?, r.stamp(TABLE, "last")?)))
                .collect()
        })
    }
}
