//! `master_groups` and `master_group_issues`: the group structure of the customer master as
//! [`crate::reconcile::groups`] resolved it after the last rebuild.
//!
//! Invariants:
//! - [`Store::replace_groups`] replaces BOTH tables in one transaction: readers see the groups
//!   of one rebuild, never a mix of two;
//! - one edge per child master, one issue per source record;
//! - a stored value that does not decode is [`StoreError::Corrupt`].

use super::sql::{RowExt, WritePool, on_pool, with_rows};
use super::{Store, StoreError};
use crate::reconcile::groups::{GroupEdge, GroupIssue, Groups};

const EDGES: &str = "master_groups";
const ISSUES: &str = "master_group_issues";
const EDGE_COLUMNS: &str = "master_id, parent_id, source, key, parent_key";
const ISSUE_COLUMNS: &str = "source, key, kind, master_id, parent_key, parent_id, detail";
/// Rows per insert: 500 × 7 parameters stays far below both backends' limits.
const ROWS: usize = 500;

impl Store {
    /// Replaces the stored group structure with `groups`, in one transaction.
    pub async fn replace_groups(&self, groups: &Groups) -> Result<(), StoreError> {
        let edges = format!("INSERT INTO {EDGES} ({EDGE_COLUMNS}) VALUES {{rows}}");
        let issues = format!("INSERT INTO {ISSUES} ({ISSUE_COLUMNS}) VALUES {{rows}}");
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM master_groups").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM master_group_issues").execute(&mut *tx).await?;
            for chunk in groups.edges.chunks(ROWS) {
                let mut q = sqlx::query(with_rows(&edges, chunk.len(), 0, 5));
                for e in chunk {
                    q = q
                        .bind(e.master_id.as_str())
                        .bind(e.parent_id.as_str())
                        .bind(e.source.as_str())
                        .bind(e.key.as_str())
                        .bind(e.parent_key.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in groups.issues.chunks(ROWS) {
                let mut q = sqlx::query(with_rows(&issues, chunk.len(), 0, 7));
                for i in chunk {
                    q = q
                        .bind(i.source.as_str())
                        .bind(i.key.as_str())
                        .bind(i.kind.as_str())
                        .bind(i.master_id.as_str())
                        .bind(i.parent_key.as_str())
                        .bind(i.parent_id.as_deref())
                        .bind(i.detail.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The stored group structure: edges by child master, issues by master, source and key.
    pub async fn groups(&self) -> Result<Groups, StoreError> {
        let edges = format!("SELECT {EDGE_COLUMNS} FROM {EDGES} ORDER BY master_id");
        let issues =
            format!("SELECT {ISSUE_COLUMNS} FROM {ISSUES} ORDER BY master_id, source, key");
        on_pool!(self, pool => {
            let mut tx = pool.begin_read().await?;
            let edges = sqlx::query(sqlx::AssertSqlSafe(edges))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(GroupEdge {
                        master_id: r.text(EDGES, "master_id")?,
                        parent_id: r.text(EDGES, "parent_id")?,
                        source: r.text(EDGES, "source")?,
                        key: r.text(EDGES, "key")?,
                        parent_key: r.text(EDGES, "parent_key")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let issues = sqlx::query(sqlx::AssertSqlSafe(issues))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    Ok(GroupIssue {
                        kind: r.text(ISSUES, "kind")?.parse().map_err(|reason| {
                            StoreError::Corrupt { table: ISSUES, reason }
                        })?,
                        master_id: r.text(ISSUES, "master_id")?,
                        source: r.text(ISSUES, "source")?,
                        key: r.text(ISSUES, "key")?,
                        parent_key: r.text(ISSUES, "parent_key")?,
                        parent_id: r.opt_text(ISSUES, "parent_id")?,
                        detail: r.text(ISSUES, "detail")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            tx.commit().await?;
            Ok(Groups { edges, issues })
        })
    }
}
