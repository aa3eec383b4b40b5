//! Staging, cursors and quarantine.
//!
//! Invariants (see also the module docs of [`crate::store`]):
//! - [`Store::commit_batch`] writes a page's records, its quarantined records and the stream's
//!   new cursor in ONE transaction: after a crash or an error, either all of them are stored or
//!   none, so the cursor never runs ahead of the data it covers;
//! - a record is keyed by (connector, stream, key); when the stored hash equals the new hash the
//!   record is counted as unchanged and nothing is written (not even its raw payload or run), so
//!   re-running a sync over the same data writes no staged rows;
//! - within one page, the last record of a key wins and is counted once;
//! - records that came from a webhook are staged in the transaction that marks their inbox
//!   event processed ([`Store::stage_event`]), so an event is staged exactly once;
//! - U+0000, which PostgreSQL cannot store, is written as U+FFFD on both backends (in keys,
//!   payloads, canonical records, reasons and cursors), so such a record cannot block its stream;
//! - the work per page is a constant number of statements: one read of the stored hashes of the
//!   page's keys (per 1,000 keys on SQLite), multi-row upserts of new and changed records, multi-row quarantine inserts and
//!   one cursor upsert (each multi-row statement holds at most
//!   [`ROWS_PER_STATEMENT`] rows).

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;

use serde_json::Value;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgConnection, SqliteConnection};

use super::inbox::{CLAIM, InboxId};
use super::sql::{
    ROWS_PER_STATEMENT, RowExt, Stamp, WritePool, list, no_nul, no_nul_json, now, on_pool,
    with_rows,
};
use super::{Batch, Counts, QuarantineRow, StagedRecord, StagedRow, Store, StoreError};
use crate::model::Entity;

/// `SELECT` of stored hashes. The two backends differ here: SQLite has no arrays, so it gets
/// an `IN` list (`{keys}` becomes `$3, $4, …`); PostgreSQL gets one array parameter.
const STORED_HASHES_SQLITE: &str =
    "SELECT key, hash FROM staged WHERE connector = $1 AND stream = $2 AND key IN ({keys})";
const STORED_HASHES_POSTGRES: &str =
    "SELECT key, hash FROM staged WHERE connector = $1 AND stream = $2 AND key = ANY($3)";

/// Reading the stored hashes of some keys of a stream, per backend.
trait StoredHashes {
    /// key → stored hash, for those of `keys` that are staged.
    fn stored_hashes(
        &mut self,
        connector: &str,
        stream: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<HashMap<String, String>, StoreError>> + Send;
}

impl StoredHashes for SqliteConnection {
    async fn stored_hashes(
        &mut self,
        connector: &str,
        stream: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut stored = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(ROWS_PER_STATEMENT) {
            let sql = STORED_HASHES_SQLITE.replace("{keys}", &list(chunk.len(), 3));
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(connector).bind(stream);
            for key in chunk {
                q = q.bind(*key);
            }
            for row in q.fetch_all(&mut *self).await? {
                stored.insert(row.text("staged", "key")?, row.text("staged", "hash")?);
            }
        }
        Ok(stored)
    }
}

impl StoredHashes for PgConnection {
    async fn stored_hashes(
        &mut self,
        connector: &str,
        stream: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut stored = HashMap::with_capacity(keys.len());
        let rows = sqlx::query(STORED_HASHES_POSTGRES)
            .bind(connector)
            .bind(stream)
            .bind(keys)
            // Unnamed statement: planned for these keys every time. A cached statement gets a
            // generic plan after five runs, and that plan scans the whole table.
            .persistent(false)
            .fetch_all(&mut *self)
            .await?;
        for row in rows {
            stored.insert(row.text("staged", "key")?, row.text("staged", "hash")?);
        }
        Ok(stored)
    }
}

/// Upsert of staged records; `$1` connector, `$2` stream, `$3` run, `$4` time, then six
/// parameters per record.
const UPSERT_STAGED: &str = "INSERT INTO staged \
     (connector, stream, run, updated_at, key, entity, customer_key, payload, canonical, hash) \
     VALUES {rows} \
     ON CONFLICT (connector, stream, key) DO UPDATE SET \
     entity = excluded.entity, customer_key = excluded.customer_key, \
     payload = excluded.payload, canonical = excluded.canonical, hash = excluded.hash, \
     run = excluded.run, updated_at = excluded.updated_at";

/// Insert of quarantined records; `$1` run, `$2` connector, `$3` stream, `$4` time, then four
/// parameters per record.
const INSERT_QUARANTINE: &str = "INSERT INTO quarantine \
     (run, connector, stream, created_at, key, locator, payload, reason) VALUES {rows}";

const UPSERT_CURSOR: &str = "INSERT INTO cursors (connector, stream, value, updated_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (connector, stream) DO UPDATE SET \
     value = excluded.value, updated_at = excluded.updated_at";

/// Parameters shared by every row of [`UPSERT_STAGED`] / [`INSERT_QUARANTINE`].
const SHARED: usize = 4;

/// Keeps the last record of each key, in the order keys first appear.
fn last_of_each_key(records: Vec<StagedRecord>) -> Vec<StagedRecord> {
    let mut slot: HashMap<String, usize> = HashMap::with_capacity(records.len());
    let mut out: Vec<StagedRecord> = Vec::with_capacity(records.len());
    for r in records {
        match slot.get(&r.key) {
            Some(&i) => out[i] = r,
            None => {
                slot.insert(r.key.clone(), out.len());
                out.push(r);
            }
        }
    }
    out
}

impl Store {
    /// The committed cursor of a stream, or `None` when the stream has none.
    pub async fn cursor(&self, connector: &str, stream: &str) -> Result<Option<Value>, StoreError> {
        const SQL: &str = "SELECT value FROM cursors WHERE connector = $1 AND stream = $2";
        on_pool!(self, pool => {
            let row = sqlx::query(SQL)
                .bind(connector)
                .bind(stream)
                .fetch_optional(pool)
                .await?;
            row.map(|r| r.json("cursors", "value")).transpose()
        })
    }

    /// Forgets a stream's cursor so its next run reads everything (backfill). Other streams
    /// keep theirs; staged records stay.
    pub async fn reset_cursor(&self, connector: &str, stream: &str) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM cursors WHERE connector = $1 AND stream = $2";
        on_pool!(self, pool => {
            sqlx::query(SQL).bind(connector).bind(stream).execute(pool).await?;
        });
        Ok(())
    }

    /// Upserts a page of records, quarantines the rejects and moves the cursor, in one
    /// transaction. Returns staged/unchanged/quarantined counts (`fetched` is left 0).
    ///
    /// A record whose key is already staged with the same hash is counted as unchanged and
    /// not written. Of several records with one key in the page, the last wins and counts once.
    pub async fn commit_batch(&self, batch: Batch<'_>) -> Result<Counts, StoreError> {
        let counts = self.commit(batch, None).await?;
        Ok(counts.unwrap_or_default())
    }

    /// [`Store::commit_batch`], optionally claiming the inbox event the records came from in the
    /// same transaction (see `inbox.rs`). `None` when that event was no longer pending: then
    /// nothing is written.
    pub(super) async fn commit(
        &self,
        batch: Batch<'_>,
        event: Option<InboxId>,
    ) -> Result<Option<Counts>, StoreError> {
        let Batch {
            run,
            connector,
            stream,
            records,
            quarantined,
            cursor,
        } = batch;
        let records = last_of_each_key(
            records
                .into_iter()
                .map(|mut r| {
                    if let Cow::Owned(key) = no_nul(&r.key) {
                        r.key = key;
                    }
                    r
                })
                .collect(),
        );
        let at = Stamp(now());
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;

            // 0. The inbox event these records come from, claimed with them; when another
            //    processor got there first, the transaction is dropped unwritten.
            if let Some(id) = event {
                let claimed = sqlx::query(CLAIM)
                    .bind(id)
                    .bind(at)
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
                if claimed.rows_affected() == 0 {
                    return Ok(None);
                }
            }

            // 1. What is stored already.
            let keys: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
            let stored = tx.stored_hashes(connector, stream, &keys).await?;
            let (unchanged, changed): (Vec<&StagedRecord>, Vec<&StagedRecord>) = records
                .iter()
                .partition(|r| stored.get(&r.key) == Some(&r.hash));

            // 2. New and changed records.
            for chunk in changed.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::query(with_rows(UPSERT_STAGED, chunk.len(), SHARED, 6))
                    .bind(connector)
                    .bind(stream)
                    .bind(run)
                    .bind(at);
                for r in chunk {
                    q = q
                        .bind(r.key.as_str())
                        .bind(r.entity.as_str())
                        .bind(r.customer_key.as_deref().map(no_nul))
                        .bind(Json(no_nul_json(&r.payload)))
                        .bind(Json(no_nul_json(&r.canonical)))
                        .bind(no_nul(&r.hash));
                }
                q.execute(&mut *tx).await?;
            }

            // 3. Rejects.
            for chunk in quarantined.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::query(with_rows(INSERT_QUARANTINE, chunk.len(), SHARED, 4))
                    .bind(run)
                    .bind(connector)
                    .bind(stream)
                    .bind(at);
                for r in chunk {
                    q = q
                        .bind(no_nul(&r.key))
                        .bind(no_nul(&r.locator))
                        .bind(Json(no_nul_json(&r.payload)))
                        .bind(no_nul(&r.reason));
                }
                q.execute(&mut *tx).await?;
            }

            // 4. The cursor, with the data it covers.
            if let Some(value) = &cursor {
                sqlx::query(UPSERT_CURSOR)
                    .bind(connector)
                    .bind(stream)
                    .bind(Json(no_nul_json(value)))
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }

            tx.commit().await?;
            Ok(Some(Counts {
                fetched: 0,
                staged: changed.len() as u64,
                unchanged: unchanged.len() as u64,
                quarantined: quarantined.len() as u64,
            }))
        })
    }

    /// All staged records of an entity, ordered by connector, stream and key.
    pub async fn staged(&self, entity: Entity) -> Result<Vec<StagedRow>, StoreError> {
        const SQL: &str = "SELECT connector, stream, key, customer_key, canonical, run, \
                           updated_at, hash FROM staged WHERE entity = $1 \
                           ORDER BY connector, stream, key";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(entity.as_str()).fetch_all(pool).await?;
            rows.iter().map(staged_row).collect()
        })
    }

    /// Quarantined records, newest first, optionally of one connector; at most `limit`.
    pub async fn quarantine(
        &self,
        connector: Option<&str>,
        limit: i64,
    ) -> Result<Vec<QuarantineRow>, StoreError> {
        const ALL: &str = "SELECT id, run, connector, stream, key, locator, payload, reason, \
                           created_at FROM quarantine ORDER BY id DESC LIMIT $1";
        const ONE: &str = "SELECT id, run, connector, stream, key, locator, payload, reason, \
                           created_at FROM quarantine WHERE connector = $2 \
                           ORDER BY id DESC LIMIT $1";
        on_pool!(self, pool => {
            let rows = match connector {
                None => sqlx::query(ALL).bind(limit).fetch_all(pool).await?,
                Some(c) => sqlx::query(ONE).bind(limit).bind(c).fetch_all(pool).await?,
            };
            rows.iter().map(quarantine_row).collect()
        })
    }

    /// One quarantined record by its id.
    pub async fn quarantined(&self, id: i64) -> Result<Option<QuarantineRow>, StoreError> {
        const SQL: &str = "SELECT id, run, connector, stream, key, locator, payload, reason, \
                           created_at FROM quarantine WHERE id = $1";
        on_pool!(self, pool => {
            sqlx::query(SQL)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(quarantine_row)
                .transpose()
        })
    }

    /// Removes a quarantined record (once it has been staged by a replay).
    pub async fn release_quarantined(&self, id: i64) -> Result<(), StoreError> {
        const SQL: &str = "DELETE FROM quarantine WHERE id = $1";
        on_pool!(self, pool => {
            sqlx::query(SQL).bind(id).execute(pool).await?;
            Ok(())
        })
    }
}

/// A row of `quarantine`, read on either backend.
fn quarantine_row(r: &impl RowExt) -> Result<QuarantineRow, StoreError> {
    const T: &str = "quarantine";
    Ok(QuarantineRow {
        id: r.int(T, "id")?,
        run: r.int(T, "run")?,
        connector: r.text(T, "connector")?,
        stream: r.text(T, "stream")?,
        key: r.text(T, "key")?,
        locator: r.text(T, "locator")?,
        payload: r.json(T, "payload")?,
        reason: r.text(T, "reason")?,
        created_at: r.stamp(T, "created_at")?,
    })
}

/// A `staged` row as [`Store::staged`] selects it.
pub(super) fn staged_row(r: &impl RowExt) -> Result<StagedRow, StoreError> {
    const T: &str = "staged";
    Ok(StagedRow {
        connector: r.text(T, "connector")?,
        stream: r.text(T, "stream")?,
        key: r.text(T, "key")?,
        customer_key: r.opt_text(T, "customer_key")?,
        canonical: r.json(T, "canonical")?,
        run: r.int(T, "run")?,
        updated_at: r.stamp(T, "updated_at")?,
        hash: r.text(T, "hash")?,
    })
}
