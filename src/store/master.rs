//! The customer master: golden records with lineage (`masters`), which source customer belongs
//! to which master (`xref`) and retired master IDs (`master_alias`).
//!
//! Invariants:
//! - [`Store::save_master`] writes the WHOLE state reconciliation hands it, in one transaction:
//!   masters, xrefs and aliases absent from the state are deleted; rows equal to the stored
//!   ones are not rewritten;
//! - a master ID that is an alias has no `masters` row (an alias wins over a master row of the
//!   same ID in the state handed in);
//! - every xref points at an existing master (a foreign key): a state whose xref names a
//!   missing or aliased master is refused and nothing is written;
//! - aliases may chain (A → B, B → C); readers resolve them ([`Store::master`]).
//!
//! Timestamps are kept to the microsecond on both backends.

use std::collections::HashMap;

use super::sql::{ROWS_PER_STATEMENT, RowExt, Stamp, WritePool, list, micros, on_pool, with_rows};
use super::{MasterRow, MasterState, Store, StoreError, XrefRow};

const MASTERS: &str = "SELECT master_id, golden, lineage, created_at, updated_at FROM masters \
                       ORDER BY master_id";
const XREFS: &str = "SELECT source, key, master_id, rule FROM xref ORDER BY source, key";
const ALIASES: &str = "SELECT old_id, master_id FROM master_alias ORDER BY old_id";

const UPSERT_MASTERS: &str = "INSERT INTO masters \
     (master_id, golden, lineage, created_at, updated_at) VALUES {rows} \
     ON CONFLICT (master_id) DO UPDATE SET golden = excluded.golden, \
     lineage = excluded.lineage, created_at = excluded.created_at, \
     updated_at = excluded.updated_at";
const UPSERT_XREFS: &str = "INSERT INTO xref (source, key, master_id, rule) VALUES {rows} \
     ON CONFLICT (source, key) DO UPDATE SET master_id = excluded.master_id, \
     rule = excluded.rule";
const UPSERT_ALIASES: &str = "INSERT INTO master_alias (old_id, master_id) VALUES {rows} \
     ON CONFLICT (old_id) DO UPDATE SET master_id = excluded.master_id";
const DELETE_MASTERS: &str = "DELETE FROM masters WHERE master_id IN ({ids})";
const DELETE_ALIASES: &str = "DELETE FROM master_alias WHERE old_id IN ({ids})";
/// `{pairs}` becomes `(source = $1 AND key = $2) OR …`.
const DELETE_XREFS: &str = "DELETE FROM xref WHERE {pairs}";

/// A `masters` row (`master_id, golden, lineage, created_at, updated_at`).
pub(super) fn master_row(r: &impl RowExt) -> Result<MasterRow, StoreError> {
    Ok(MasterRow {
        master_id: r.text("masters", "master_id")?,
        golden: r.json("masters", "golden")?,
        lineage: r.json("masters", "lineage")?,
        created_at: r.stamp("masters", "created_at")?,
        updated_at: r.stamp("masters", "updated_at")?,
    })
}

/// An `xref` row (`source, key, master_id, rule`).
pub(super) fn xref_row(r: &impl RowExt) -> Result<XrefRow, StoreError> {
    Ok(XrefRow {
        source: r.text("xref", "source")?,
        key: r.text("xref", "key")?,
        master_id: r.text("xref", "master_id")?,
        rule: r.text("xref", "rule")?,
    })
}

/// Reads the whole master state through `$conn` (a pool or a transaction).
macro_rules! read_state {
    ($conn:expr) => {{
        let masters = sqlx::query(MASTERS)
            .fetch_all(&mut *$conn)
            .await?
            .iter()
            .map($crate::store::master::master_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let xrefs = sqlx::query(XREFS)
            .fetch_all(&mut *$conn)
            .await?
            .iter()
            .map($crate::store::master::xref_row)
            .collect::<Result<Vec<_>, StoreError>>()?;
        let aliases = sqlx::query(ALIASES)
            .fetch_all(&mut *$conn)
            .await?
            .iter()
            .map(|r| {
                Ok::<_, StoreError>((
                    r.text("master_alias", "old_id")?,
                    r.text("master_alias", "master_id")?,
                ))
            })
            .collect::<Result<Vec<_>, _>>()?;
        MasterState {
            masters,
            xrefs,
            aliases,
        }
    }};
}

/// What [`Store::save_master`] must do to turn the stored state into the wanted one.
#[derive(Debug, Default)]
struct Plan {
    upsert_masters: Vec<MasterRow>,
    delete_masters: Vec<String>,
    upsert_xrefs: Vec<XrefRow>,
    delete_xrefs: Vec<(String, String)>,
    upsert_aliases: Vec<(String, String)>,
    delete_aliases: Vec<String>,
}

/// Compares the stored state with the wanted one. Of several entries with one ID (or one
/// source and key) in `wanted`, the last wins.
fn plan(stored: &MasterState, wanted: &MasterState) -> Plan {
    let mut aliases: HashMap<&str, &str> = HashMap::new();
    for (old, new) in &wanted.aliases {
        aliases.insert(old, new);
    }
    let mut masters: HashMap<&str, &MasterRow> = HashMap::new();
    for m in wanted
        .masters
        .iter()
        .filter(|m| !aliases.contains_key(m.master_id.as_str()))
    {
        masters.insert(m.master_id.as_str(), m);
    }
    let mut xrefs: HashMap<(&str, &str), &XrefRow> = HashMap::new();
    for x in &wanted.xrefs {
        xrefs.insert((&x.source, &x.key), x);
    }

    let stored_masters: HashMap<&str, &MasterRow> = stored
        .masters
        .iter()
        .map(|m| (m.master_id.as_str(), m))
        .collect();
    let stored_xrefs: HashMap<(&str, &str), &XrefRow> = stored
        .xrefs
        .iter()
        .map(|x| ((x.source.as_str(), x.key.as_str()), x))
        .collect();
    let stored_aliases: HashMap<&str, &str> = stored
        .aliases
        .iter()
        .map(|(o, m)| (o.as_str(), m.as_str()))
        .collect();

    let mut p = Plan::default();
    for (id, m) in &masters {
        let same = |s: &&MasterRow| {
            s.created_at == micros(m.created_at)
                && s.updated_at == micros(m.updated_at)
                && s.golden == m.golden
                && s.lineage == m.lineage
        };
        if stored_masters.get(id).is_none_or(|s| !same(s)) {
            let mut m = (*m).clone();
            m.created_at = micros(m.created_at);
            m.updated_at = micros(m.updated_at);
            p.upsert_masters.push(m);
        }
    }
    p.delete_masters = stored_masters
        .keys()
        .filter(|id| !masters.contains_key(**id))
        .map(|id| id.to_string())
        .collect();
    for (k, x) in &xrefs {
        if stored_xrefs.get(k).is_none_or(|s| s != x) {
            p.upsert_xrefs.push((*x).clone());
        }
    }
    p.delete_xrefs = stored_xrefs
        .keys()
        .filter(|k| !xrefs.contains_key(*k))
        .map(|(s, k)| (s.to_string(), k.to_string()))
        .collect();
    for (old, new) in &aliases {
        if stored_aliases.get(old) != Some(new) {
            p.upsert_aliases.push((old.to_string(), new.to_string()));
        }
    }
    p.delete_aliases = stored_aliases
        .keys()
        .filter(|o| !aliases.contains_key(*o))
        .map(|o| o.to_string())
        .collect();
    // Deterministic statement order (and so deterministic lock order on PostgreSQL).
    p.upsert_masters
        .sort_by(|a, b| a.master_id.cmp(&b.master_id));
    p.delete_masters.sort();
    p.upsert_xrefs
        .sort_by(|a, b| (&a.source, &a.key).cmp(&(&b.source, &b.key)));
    p.delete_xrefs.sort();
    p.upsert_aliases.sort();
    p.delete_aliases.sort();
    p
}

impl Store {
    /// Every master, xref and alias, read from one snapshot; masters ordered by ID, xrefs by
    /// source and key, aliases by retired ID.
    pub async fn load_master(&self) -> Result<MasterState, StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_read().await?;
            let state = read_state!(tx);
            tx.commit().await?;
            Ok(state)
        })
    }

    /// Makes the stored master equal to `state`, in one transaction.
    ///
    /// `state` is the WHOLE master as reconciliation leaves it: masters, xrefs and aliases
    /// not in it are deleted; new or changed ones are upserted; equal ones are left alone. A
    /// master ID listed as an alias loses its `masters` row. A state whose xrefs name a
    /// master that is absent (or aliased) is refused with a database error and nothing changes.
    pub async fn save_master(&self, state: &MasterState) -> Result<(), StoreError> {
        self.write_master(None, state).await
    }

    /// [`Store::save_master`] when the caller knows the stored state (`stored`, read under a
    /// lock every master writer takes: [`crate::master::lock_master`]), so it is not read
    /// again; only what differs from it is written.
    pub async fn save_master_over(
        &self,
        stored: &MasterState,
        state: &MasterState,
    ) -> Result<(), StoreError> {
        self.write_master(Some(stored), state).await
    }

    async fn write_master(
        &self,
        known: Option<&MasterState>,
        state: &MasterState,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let p = match known {
                Some(stored) => plan(stored, state),
                None => plan(&read_state!(tx), state),
            };

            for chunk in p.upsert_masters.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::query(with_rows(UPSERT_MASTERS, chunk.len(), 0, 5));
                for m in chunk {
                    q = q
                        .bind(m.master_id.as_str())
                        .bind(sqlx::types::Json(&m.golden))
                        .bind(sqlx::types::Json(&m.lineage))
                        .bind(Stamp(m.created_at))
                        .bind(Stamp(m.updated_at));
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in p.delete_xrefs.chunks(ROWS_PER_STATEMENT) {
                let pairs = (0..chunk.len())
                    .map(|i| format!("(source = ${} AND key = ${})", 2 * i + 1, 2 * i + 2))
                    .collect::<Vec<_>>()
                    .join(" OR ");
                let sql = sqlx::AssertSqlSafe(DELETE_XREFS.replace("{pairs}", &pairs));
                let mut q = sqlx::query(sql);
                for (s, k) in chunk {
                    q = q.bind(s.as_str()).bind(k.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in p.upsert_xrefs.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::query(with_rows(UPSERT_XREFS, chunk.len(), 0, 4));
                for x in chunk {
                    q = q
                        .bind(x.source.as_str())
                        .bind(x.key.as_str())
                        .bind(x.master_id.as_str())
                        .bind(x.rule.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in p.upsert_aliases.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::query(with_rows(UPSERT_ALIASES, chunk.len(), 0, 2));
                for (old, new) in chunk {
                    q = q.bind(old.as_str()).bind(new.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            for (template, ids) in [
                (DELETE_ALIASES, &p.delete_aliases),
                (DELETE_MASTERS, &p.delete_masters),
            ] {
                for chunk in ids.chunks(ROWS_PER_STATEMENT) {
                    let sql = sqlx::AssertSqlSafe(template.replace("{ids}", &list(chunk.len(), 1)));
                    let mut q = sqlx::query(sql);
                    for id in chunk {
                        q = q.bind(id.as_str());
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;

    fn master(id: &str) -> MasterRow {
        let t = micros(Utc::now());
        MasterRow {
            master_id: id.into(),
            golden: json!({"name": id}),
            lineage: json!({}),
            created_at: t,
            updated_at: t,
        }
    }

    #[test]
    fn an_alias_wins_over_a_master_row_of_the_same_id_and_equal_rows_are_kept() {
        let stored = MasterState {
            masters: vec![master("M1"), master("M2")],
            xrefs: vec![],
            aliases: vec![],
        };
        let wanted = MasterState {
            masters: stored.masters.clone(),
            xrefs: vec![],
            aliases: vec![("M2".into(), "M1".into())],
        };
        let p = plan(&stored, &wanted);
        assert!(p.upsert_masters.is_empty(), "{p:?}");
        assert_eq!(p.delete_masters, ["M2"]);
        assert_eq!(p.upsert_aliases, [("M2".to_string(), "M1".to_string())]);
    }
}
