//! Test support: run the same test body against every store backend.
//!
//! SQLite gets a fresh file in a temporary folder. PostgreSQL gets a fresh database created
//! inside the server named by `TRIBUTARY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards. When PostgreSQL is
//! unreachable the test fails with the command to start it, unless `TRIBUTARY_SKIP_PG=1`.
//!
//! Scratch databases are named `tributary_t_<pid>_<counter>_<random>`; each is dropped
//! `WITH (FORCE)` once its body has ended, even when the body panicked (the panic is then
//! passed on). The store handed to the body is closed first, so clones the body kept are closed
//! with it.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use sqlx::{Connection, PgConnection};

use super::Store;

/// Environment variable naming the PostgreSQL server used by tests.
pub const PG_URL_VAR: &str = "TRIBUTARY_TEST_PG_URL";
/// Environment variable that, set to `1`, skips PostgreSQL when it is unreachable.
pub const SKIP_PG_VAR: &str = "TRIBUTARY_SKIP_PG";
/// The server used when [`PG_URL_VAR`] is not set.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Runs `body(backend_name, store)` once per backend (`"sqlite"`, then `"postgres"`), each
/// with a fresh, migrated, empty store.
///
/// # Panics
/// When a scratch store cannot be made; when PostgreSQL is unreachable and
/// `TRIBUTARY_SKIP_PG` is not `1`; when `body` panics.
pub async fn each_backend_named<F, Fut>(body: F)
where
    F: Fn(String, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    run_each(&|name, url| with_store(&body, name, url), true).await;
}

/// Like [`each_backend_named`], but hands the body the URL of a fresh, empty store instead of
/// an open one, for tests that close a store and open it again (a restart after a crash).
pub async fn each_backend_url<F, Fut>(body: F)
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = ()>,
{
    run_each(&body, true).await;
}

/// Like [`each_backend_named`], but skips PostgreSQL (with a note on stderr) whenever it is
/// unreachable. For benchmarks and examples.
pub async fn each_available_backend<F, Fut>(body: F)
where
    F: Fn(String, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    run_each(&|name, url| with_store(&body, name, url), false).await;
}

async fn run_each<F, Fut>(body: &F, require_pg: bool)
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = ()>,
{
    on_sqlite(body).await;
    on_postgres(body, require_pg).await;
}

/// Opens the store at `url`, runs `body` on it and closes it, also when `body` panicked (the
/// panic is then passed on).
async fn with_store<F, Fut>(body: &F, backend: String, url: String)
where
    F: Fn(String, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = Store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("opening a scratch {backend} store at {url}: {e}"));
    let outcome = AssertUnwindSafe(body(backend, store.clone()))
        .catch_unwind()
        .await;
    store.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A unique suffix: process, counter, and a random number.
fn unique() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((n, std::process::id())) % 1_000_000_000;
    format!("{}_{n}_{random}", std::process::id())
}

/// A folder removed when dropped (also while unwinding).
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn on_sqlite<F, Fut>(body: &F)
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = ScratchDir(std::env::temp_dir().join(format!("tributary_t_{}", unique())));
    let url = format!("sqlite://{}", dir.0.join("store.db").display());
    let outcome = AssertUnwindSafe(body("sqlite".into(), url))
        .catch_unwind()
        .await;
    drop(dir);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn on_postgres<F, Fut>(body: &F, require: bool)
where
    F: Fn(String, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let server = std::env::var(PG_URL_VAR).unwrap_or_else(|_| DEFAULT_PG_URL.to_string());
    let admin = tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&server)).await;
    let mut admin = match admin {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return unreachable_pg(&server, &e.to_string(), require),
        Err(_) => return unreachable_pg(&server, "timed out", require),
    };
    let name = format!("tributary_t_{}", unique());
    let create = format!("CREATE DATABASE \"{name}\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("creating the scratch database {name}: {e}"));
    let mut url = url::Url::parse(&server)
        .unwrap_or_else(|e| panic!("{PG_URL_VAR} `{server}` is not a URL: {e}"));
    url.set_path(&name);

    let outcome = AssertUnwindSafe(body("postgres".into(), url.to_string()))
        .catch_unwind()
        .await;
    let drop_sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(drop_sql))
        .execute(&mut admin)
        .await
    {
        eprintln!("warning: could not drop the scratch database {name}: {e}");
    }
    let _ = admin.close().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

fn unreachable_pg(server: &str, why: &str, require: bool) {
    let skip = std::env::var(SKIP_PG_VAR).is_ok_and(|v| v == "1");
    if skip || !require {
        eprintln!("note: PostgreSQL at {server} is unreachable ({why}); skipping its run");
        return;
    }
    panic!(
        "PostgreSQL at {server} is unreachable ({why}).\n\
         Start the local server with\n    \
         pg_ctlcluster --skip-systemctl-redirect 15 main start\n\
         point {PG_URL_VAR} at another one, or set {SKIP_PG_VAR}=1 to run on SQLite only."
    );
}
