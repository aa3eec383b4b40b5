//! Opening a store from its URL and bringing its schema up to date.
//!
//! The schema lives in plain SQL files, one folder per backend (`migrations/sqlite`,
//! `migrations/postgres`), embedded at compile time. Applying them is idempotent: opening an
//! up-to-date store runs nothing.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::support::secrets::redact_url;

use super::sql::Pool;
use super::{Backend, Store, StoreError};

pub(super) static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a connection waits for another one's write lock (SQLite).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

impl Store {
    /// Opens the store at `url` (`sqlite:path`, `sqlite://path`, `sqlite::memory:`,
    /// `postgres://…`), creating an SQLite file and its folder when missing, and applies
    /// pending migrations. SQLite files are opened in WAL mode with foreign keys on and a
    /// busy timeout.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let store = if url.starts_with("sqlite:") {
            Store {
                pool: Pool::Sqlite(open_sqlite(url).await?),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options =
                PgConnectOptions::from_str(url).map_err(|_| StoreError::Url(redact_url(url)))?;
            let pool = PgPoolOptions::new()
                .max_connections(10)
                .connect_with(options)
                .await?;
            Store {
                pool: Pool::Postgres(pool),
            }
        } else {
            return Err(StoreError::Url(redact_url(url)));
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Which backend this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection of the pool, waiting for those in use to be returned. Every
    /// clone of this store is closed with it; later calls on any of them fail.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }

    /// Ready to serve: the database answers and every embedded migration is applied (a store
    /// migrated by a newer or older build is not ready).
    pub async fn ready(&self) -> Result<(), StoreError> {
        const APPLIED: &str = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
        let (applied, expected): (i64, usize) = match &self.pool {
            Pool::Sqlite(p) => (
                sqlx::query_scalar(APPLIED).fetch_one(p).await?,
                SQLITE_MIGRATIONS.iter().count(),
            ),
            Pool::Postgres(p) => (
                sqlx::query_scalar(APPLIED).fetch_one(p).await?,
                POSTGRES_MIGRATIONS.iter().count(),
            ),
        };
        if applied as usize != expected {
            return Err(StoreError::Corrupt {
                table: "_sqlx_migrations",
                reason: format!("{applied} of {expected} migrations applied"),
            });
        }
        Ok(())
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Pool::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }
}

async fn open_sqlite(url: &str) -> Result<sqlx::SqlitePool, StoreError> {
    let options = SqliteConnectOptions::from_str(url).map_err(|_| StoreError::Url(url.into()))?;
    let memory = is_memory(url);
    let options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    let pool = if memory {
        // One connection that never expires: an in-memory database lives as long as it does.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?
    } else {
        let path = options.get_filename().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
        SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?
    };
    Ok(pool)
}

fn is_memory(url: &str) -> bool {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    rest.starts_with(":memory:") || rest.contains("mode=memory")
}
