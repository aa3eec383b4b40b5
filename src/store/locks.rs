//! Run locks: one run per connector at a time, across tasks, processes and daemons sharing a
//! store.
//!
//! Invariants:
//! - at most one [`RunLock`] per connector exists among everyone using the same database;
//!   a second [`Store::try_lock_run`] answers `None` (never waits), in the same process too;
//! - PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on [`run_lock_key`], held on
//!   a connection taken out of the pool for as long as the lock lives. A holder that dies ends
//!   its session, and the server frees the lock. A lock dropped without [`RunLock::release`]
//!   closes its connection rather than returning it to the pool still locked;
//! - SQLite: a `run_locks` row with an owner and a lease of [`SQLITE_LEASE`], renewed by a
//!   task every third of it while held. A row whose lease has expired (its holder died) is
//!   taken over. Release deletes the row only if this holder still owns it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Row, SqlitePool};
use tokio::task::JoinHandle;

use super::sql::{Pool, Stamp, now};
use super::{Store, StoreError};

/// How long an SQLite lock lasts without renewal (its holder renews it every third of this).
pub(super) const SQLITE_LEASE: Duration = Duration::from_secs(60);

/// The PostgreSQL advisory lock key of a connector's runs: the first 8 bytes of a SHA-256 of
/// the name, stable across builds and processes (shown in `pg_locks` as `classid`/`objid`).
pub fn run_lock_key(connector: &str) -> i64 {
    let digest = Sha256::digest(format!("tributary run lock\0{connector}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// A held run lock of one connector. Give it back with [`RunLock::release`].
#[derive(Debug)]
pub struct RunLock {
    connector: String,
    held: Held,
}

#[derive(Debug)]
enum Held {
    Postgres {
        conn: Option<PoolConnection<Postgres>>,
        key: i64,
    },
    Sqlite {
        pool: SqlitePool,
        owner: String,
        renewal: JoinHandle<()>,
    },
}

const TAKE_SQLITE: &str = "INSERT INTO run_locks (connector, owner, acquired_at, expires_at) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (connector) DO UPDATE SET owner = excluded.owner, \
     acquired_at = excluded.acquired_at, expires_at = excluded.expires_at \
     WHERE run_locks.expires_at <= excluded.acquired_at";
const RENEW_SQLITE: &str =
    "UPDATE run_locks SET expires_at = $3 WHERE connector = $1 AND owner = $2";
const RELEASE_SQLITE: &str = "DELETE FROM run_locks WHERE connector = $1 AND owner = $2";

impl Store {
    /// Takes the run lock of `connector`, or answers `None` at once when someone else (another
    /// task, process or daemon on the same database) holds it.
    pub async fn try_lock_run(&self, connector: &str) -> Result<Option<RunLock>, StoreError> {
        let held = match &self.pool {
            Pool::Postgres(pool) => {
                let key = run_lock_key(connector);
                let mut conn = pool.acquire().await?;
                let taken: bool = sqlx::query("SELECT pg_try_advisory_lock($1) AS taken")
                    .bind(key)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("taken")?;
                if !taken {
                    return Ok(None);
                }
                Held::Postgres {
                    conn: Some(conn),
                    key,
                }
            }
            Pool::Sqlite(pool) => {
                let owner = format!("pid {} #{:016x}", std::process::id(), fastrand::u64(..));
                if !take_sqlite(pool, connector, &owner, now(), SQLITE_LEASE).await? {
                    return Ok(None);
                }
                let renewal = tokio::spawn(renew_sqlite(
                    pool.clone(),
                    connector.to_string(),
                    owner.clone(),
                ));
                Held::Sqlite {
                    pool: pool.clone(),
                    owner,
                    renewal,
                }
            }
        };
        Ok(Some(RunLock {
            connector: connector.to_string(),
            held,
        }))
    }
}

/// Inserts the lock row, or takes over one whose lease ended by `at`. True when taken.
async fn take_sqlite(
    pool: &SqlitePool,
    connector: &str,
    owner: &str,
    at: DateTime<Utc>,
    lease: Duration,
) -> Result<bool, StoreError> {
    let expires = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let done = sqlx::query(TAKE_SQLITE)
        .bind(connector)
        .bind(owner)
        .bind(Stamp(at))
        .bind(Stamp(expires))
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Pushes the lease forward every third of it until aborted.
async fn renew_sqlite(pool: SqlitePool, connector: String, owner: String) {
    let mut every = tokio::time::interval(SQLITE_LEASE / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let expires = now() + chrono::Duration::from_std(SQLITE_LEASE).unwrap_or_default();
        let renewed = sqlx::query(RENEW_SQLITE)
            .bind(&connector)
            .bind(&owner)
            .bind(Stamp(expires))
            .execute(&pool)
            .await;
        match renewed {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => {
                tracing::error!(%connector, "run lock lost: its lease expired and another process took it");
                return;
            }
            Err(e) => tracing::warn!(%connector, error = %e, "could not renew the run lock"),
        }
    }
}

impl RunLock {
    /// The connector it locks.
    pub fn connector(&self) -> &str {
        &self.connector
    }

    /// Gives the lock back.
    pub async fn release(mut self) -> Result<(), StoreError> {
        match &mut self.held {
            Held::Postgres { conn, key } => {
                if let Some(mut c) = conn.take() {
                    sqlx::query("SELECT pg_advisory_unlock($1)")
                        .bind(*key)
                        .execute(&mut *c)
                        .await?;
                }
            }
            Held::Sqlite {
                pool,
                owner,
                renewal,
            } => {
                renewal.abort();
                sqlx::query(RELEASE_SQLITE)
                    .bind(&self.connector)
                    .bind(owner.as_str())
                    .execute(&*pool)
                    .await?;
            }
        }
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        match &mut self.held {
            // Never hand a connection that still holds the lock back to the pool.
            Held::Postgres { conn, .. } => {
                if let Some(c) = conn.as_mut() {
                    c.close_on_drop();
                }
            }
            // Not released: stop renewing; the lease runs out.
            Held::Sqlite { renewal, .. } => renewal.abort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::each_backend_named;

    /// Another daemon on the same database: a pool of its own.
    fn second_daemon(store: &Store) -> Store {
        let pool = match &store.pool {
            Pool::Sqlite(p) => Pool::Sqlite(SqlitePool::connect_lazy_with(
                (*p.connect_options()).clone(),
            )),
            Pool::Postgres(p) => Pool::Postgres(sqlx::PgPool::connect_lazy_with(
                (*p.connect_options()).clone(),
            )),
        };
        Store { pool }
    }

    #[tokio::test]
    async fn one_holder_per_connector_until_released_or_dropped() {
        each_backend_named(|backend, store| async move {
            let other_daemon = second_daemon(&store);
            let erp = store.try_lock_run("erp").await.unwrap().expect("free");
            assert_eq!(erp.connector(), "erp");
            assert!(
                store.try_lock_run("erp").await.unwrap().is_none(),
                "{backend}"
            );
            let elsewhere = other_daemon.try_lock_run("erp").await.unwrap();
            assert!(elsewhere.is_none(), "{backend}: held across daemons");
            let other = store.try_lock_run("dealers").await.unwrap();
            assert!(other.is_some(), "{backend}: other connectors are free");
            erp.release().await.unwrap();
            let again = other_daemon.try_lock_run("erp").await.unwrap();
            assert!(again.is_some(), "{backend}: free again after release");
            drop(again);
            if backend == "postgres" {
                // A dropped lock closes its session, and the server frees the lock once the
                // session has ended (asynchronously: allow it a moment).
                let mut freed = false;
                for _ in 0..50 {
                    if store.try_lock_run("erp").await.unwrap().is_some() {
                        freed = true;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                assert!(freed, "{backend}: a dropped lock is freed with its session");
            }
            other_daemon.close().await;
        })
        .await;
    }

    #[tokio::test]
    async fn an_expired_sqlite_lease_is_taken_over() {
        each_backend_named(|backend, store| async move {
            let Pool::Sqlite(pool) = &store.pool else {
                return assert_eq!(backend, "postgres");
            };
            let long_ago = now() - chrono::Duration::hours(1);
            assert!(
                take_sqlite(pool, "erp", "dead", long_ago, SQLITE_LEASE)
                    .await
                    .unwrap()
            );
            let taken = store.try_lock_run("erp").await.unwrap();
            assert!(taken.is_some(), "the dead holder's lease had expired");
            assert!(
                !take_sqlite(pool, "erp", "late", now(), SQLITE_LEASE)
                    .await
                    .unwrap()
            );
        })
        .await;
    }

    #[tokio::test]
    async fn upgrading_an_sqlite_store_keeps_its_runs_and_what_refers_to_them() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("old.db").display());
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let old = SqlitePool::connect_with(options.create_if_missing(true).foreign_keys(true))
            .await
            .unwrap();
        super::super::connect::SQLITE_MIGRATIONS
            .run_to(5, &old)
            .await
            .unwrap();
        sqlx::raw_sql(
            "INSERT INTO runs (connector, started_at, status) VALUES ('erp', '2026-12-01T00:00:00.000000Z', 'success');              INSERT INTO staged (connector, stream, key, entity, payload, canonical, hash, run,              updated_at) VALUES ('erp', 's', 'k', 'customer', '{}', '{}', 'h', 1, '2026-12-01T00:00:00.000000Z');",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let store = Store::connect(&url).await.unwrap();
        let run = store.start_run("erp").await.unwrap();
        assert_eq!(run, 2, "ids go on after the copied runs");
        let status = crate::store::RunStatus::Cancelled;
        store
            .finish_run(run, status, Default::default(), None)
            .await
            .unwrap();
        let runs = store.runs(None, 10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].status, status);
        let Pool::Sqlite(pool) = &store.pool else {
            unreachable!()
        };
        let broken = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(pool)
            .await;
        assert!(broken.unwrap().is_empty());
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(on, 1, "foreign keys are on again");
        store.close().await;
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(run_lock_key("erp"), run_lock_key("erp"));
        assert_ne!(run_lock_key("erp"), run_lock_key("erp2"));
    }
}
