//! Reads for one customer, through indexes: a master by ID or alias, its cross-references, and
//! the staged records of given source customers (`staged_by_customer`). The views of one
//! customer use these instead of reading whole tables.

use super::master::{master_row, xref_row};
use super::sql::{RowExt, on_pool};
use super::staging::staged_row;
use super::{MasterRow, StagedRow, Store, StoreError, XrefRow};
use crate::model::Entity;

const ALIAS: &str = "SELECT master_id FROM master_alias WHERE old_id = $1";
const MASTER: &str = "SELECT master_id, golden, lineage, created_at, updated_at FROM masters \
                      WHERE master_id = $1";
const XREFS_OF: &str = "SELECT source, key, master_id, rule FROM xref WHERE master_id = $1 \
                        ORDER BY source, key";
const STAGED_OF: &str = "SELECT connector, stream, key, customer_key, canonical, run, \
                         updated_at, hash FROM staged \
                         WHERE entity = $1 AND connector = $2 AND customer_key = $3 \
                         ORDER BY stream, key";

impl Store {
    /// The live master `id` names: itself, or the master its alias was merged into (aliases
    /// are stored pointing at a live master; a chain is followed, a loop ends the walk).
    pub async fn master(&self, id: &str) -> Result<Option<MasterRow>, StoreError> {
        on_pool!(self, pool => {
            let mut live = id.to_string();
            for _ in 0..16 {
                if let Some(row) = sqlx::query(MASTER).bind(&live).fetch_optional(pool).await? {
                    return Ok(Some(master_row(&row)?));
                }
                match sqlx::query(ALIAS).bind(&live).fetch_optional(pool).await? {
                    Some(row) => live = row.text("master_alias", "master_id")?,
                    None => return Ok(None),
                }
            }
            Ok(None)
        })
    }

    /// The cross-references of one master, by source and key.
    pub async fn xrefs_of(&self, master_id: &str) -> Result<Vec<XrefRow>, StoreError> {
        on_pool!(self, pool => {
            let rows = sqlx::query(XREFS_OF).bind(master_id).fetch_all(pool).await?;
            rows.iter().map(xref_row).collect()
        })
    }

    /// The staged records of an entity that belong to these source customers (connector,
    /// customer key): for customers, the customer records themselves.
    pub async fn staged_of_customers(
        &self,
        entity: Entity,
        customers: &[(String, String)],
    ) -> Result<Vec<StagedRow>, StoreError> {
        let mut out = Vec::new();
        on_pool!(self, pool => {
            for (connector, key) in customers {
                let rows = sqlx::query(STAGED_OF)
                    .bind(entity.as_str())
                    .bind(connector)
                    .bind(key)
                    .fetch_all(pool)
                    .await?;
                for row in &rows {
                    out.push(staged_row(row)?);
                }
            }
        });
        Ok(out)
    }
}
