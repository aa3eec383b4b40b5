//! The field inventory of each stream: which payload fields it has been seen to carry, and in
//! which runs. Sync compares a run's fields with it to report schema drift; nothing here
//! decides what drift means.

use std::collections::BTreeSet;

use super::sql::{RowExt, WritePool, on_pool};
use super::{RunId, Store, StoreError};

const TABLE: &str = "stream_fields";

impl Store {
    /// Every field seen before in a stream.
    pub async fn known_fields(
        &self,
        connector: &str,
        stream: &str,
    ) -> Result<BTreeSet<String>, StoreError> {
        const SQL: &str = "SELECT field FROM stream_fields WHERE connector = $1 AND stream = $2";
        on_pool!(self, pool => {
            let rows = sqlx::query(SQL).bind(connector).bind(stream).fetch_all(pool).await?;
            rows.iter().map(|r| r.text(TABLE, "field")).collect()
        })
    }

    /// Records the fields a run saw in a stream: new ones are added with this run as their first,
    /// known ones get this run as their last. One transaction.
    pub async fn record_fields(
        &self,
        connector: &str,
        stream: &str,
        run: RunId,
        fields: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO stream_fields (connector, stream, field, first_run, last_run) \
                           VALUES ($1, $2, $3, $4, $4) \
                           ON CONFLICT (connector, stream, field) DO UPDATE SET last_run = $4";
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for field in fields {
                sqlx::query(SQL)
                    .bind(connector)
                    .bind(stream)
                    .bind(field)
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
