//! Test support: run the same test body against every store backend.
//!
//! SQLite gets a fresh file in a temporary folder. PostgreSQL gets a fresh database created
//! inside the server named by `TRIBUTARY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped afterwards. When PostgreSQL is
//! unreachable the test fails with the command to start it, unless `TRIBUTARY_SKIP_PG=1`.

use std::future::Future;

use super::Store;

/// Runs `body(backend_name, store)` once per backend (`"sqlite"`, then `"postgres"`), each
/// with a fresh, migrated, empty store.
pub async fn each_backend_named<F, Fut>(_body: F)
where
    F: Fn(String, Store) -> Fut,
    Fut: Future<Output = ()>,
{
    todo!("store testing")
}
