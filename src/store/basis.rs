//! `match_model` and `master_basis`: what the customer master was last built with (the kept
//! model, the settings' fingerprints, the steward decisions) and from (per source customer, the
//! digest of its staged row and its blocking keys), for incremental matching
//! ([`crate::reconcile::incremental`]).
//!
//! Invariants:
//! - `match_model` holds at most one row;
//! - a rebuild marks the model stale ([`Store::mark_match_model_stale`]) before it saves the
//!   master and writes the basis and the model last: a rebuild stopped in between is followed by
//!   a full re-cluster with the kept model, never by an incremental one on a basis that does not
//!   describe the stored master;
//! - a stored value that does not decode is [`StoreError::Corrupt`].

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::Row;

use super::sql::{ROWS_PER_STATEMENT, RowExt, Stamp, WritePool, on_pool, with_rows};
use super::{Store, StoreError};
use crate::reconcile::incremental::{Basis, BasisChange, RecordKey};

/// The kept model and what the master was built with.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchModelRow {
    /// Fingerprint of the settings the model was trained under (blocking, comparisons…).
    pub model_fingerprint: String,
    /// Fingerprint of the settings it was applied under (thresholds, survivorship…).
    pub rules_fingerprint: String,
    /// The trained parameters ([`crate::reconcile::matching::model::ModelParams`]).
    pub params: Value,
    /// The active steward decisions the master was last built with.
    pub decisions: Value,
    /// Source customers the model was trained on.
    pub trained_records: u64,
    /// When it was trained.
    pub trained_at: DateTime<Utc>,
    /// When the master was last built with it.
    pub built_at: DateTime<Utc>,
}

const UPSERT_MODEL: &str = "INSERT INTO match_model (id, model_fingerprint, rules_fingerprint, \
     params, decisions, trained_records, trained_at, built_at) \
     VALUES (1, $1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (id) DO UPDATE SET model_fingerprint = excluded.model_fingerprint, \
     rules_fingerprint = excluded.rules_fingerprint, params = excluded.params, \
     decisions = excluded.decisions, trained_records = excluded.trained_records, \
     trained_at = excluded.trained_at, built_at = excluded.built_at";
const UPSERT_BASIS: &str = "INSERT INTO master_basis (source, key, digest, block_keys) \
     VALUES {rows} ON CONFLICT (source, key) DO UPDATE SET digest = excluded.digest, \
     block_keys = excluded.block_keys";

/// Blocking keys as stored: a 16-bit mask of the rules with a key, then the keys.
fn encode_keys(keys: &[Option<u64>]) -> Vec<u8> {
    let mask = keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.is_some())
        .fold(0u16, |m, (i, _)| m | (1 << i));
    let mut out = mask.to_le_bytes().to_vec();
    for k in keys.iter().flatten() {
        out.extend(k.to_le_bytes());
    }
    out
}

fn decode_keys(bytes: &[u8]) -> Option<Vec<Option<u64>>> {
    let (mask, mut rest) = bytes.split_first_chunk::<2>()?;
    let mask = u16::from_le_bytes(*mask);
    let rules = 16 - mask.leading_zeros() as usize;
    let mut keys = Vec::with_capacity(rules);
    for i in 0..rules {
        if mask & (1 << i) == 0 {
            keys.push(None);
        } else {
            let (k, tail) = rest.split_first_chunk::<8>()?;
            keys.push(Some(u64::from_le_bytes(*k)));
            rest = tail;
        }
    }
    rest.is_empty().then_some(keys)
}

impl Store {
    /// The kept model, if a master was built with one.
    pub async fn match_model(&self) -> Result<Option<MatchModelRow>, StoreError> {
        const T: &str = "match_model";
        on_pool!(self, pool => {
            let Some(r) = sqlx::query("SELECT * FROM match_model WHERE id = 1")
                .fetch_optional(pool)
                .await?
            else {
                return Ok(None);
            };
            Ok(Some(MatchModelRow {
                model_fingerprint: r.text(T, "model_fingerprint")?,
                rules_fingerprint: r.text(T, "rules_fingerprint")?,
                params: r.json(T, "params")?,
                decisions: r.json(T, "decisions")?,
                trained_records: r.count(T, "trained_records")?,
                trained_at: r.stamp(T, "trained_at")?,
                built_at: r.stamp(T, "built_at")?,
            }))
        })
    }

    /// Keeps `row` as the model and what the master was built with.
    pub async fn save_match_model(&self, row: &MatchModelRow) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(UPSERT_MODEL)
                .bind(row.model_fingerprint.as_str())
                .bind(row.rules_fingerprint.as_str())
                .bind(sqlx::types::Json(&row.params))
                .bind(sqlx::types::Json(&row.decisions))
                .bind(i64::try_from(row.trained_records).unwrap_or(i64::MAX))
                .bind(Stamp(row.trained_at))
                .bind(Stamp(row.built_at))
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Marks the kept model as not describing the stored master (its rules fingerprint is
    /// cleared): written before a rebuild saves the master, overwritten when the rebuild has
    /// saved everything. A rebuild stopped in between is followed by a full re-cluster.
    pub async fn mark_match_model_stale(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            sqlx::query("UPDATE match_model SET rules_fingerprint = ''")
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Drops the kept model and the basis (the master is built another way now).
    pub async fn forget_match_model(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM match_model").execute(&mut *tx).await?;
            sqlx::query("DELETE FROM master_basis").execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// What the master was built from, per source customer.
    pub async fn master_basis(&self) -> Result<HashMap<RecordKey, Basis>, StoreError> {
        const T: &str = "master_basis";
        on_pool!(self, pool => {
            let rows = sqlx::query("SELECT source, key, digest, block_keys FROM master_basis")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let bytes: Vec<u8> = r
                        .try_get("block_keys")
                        .map_err(|e| super::sql::corrupt(T, "block_keys", e))?;
                    let keys = decode_keys(&bytes)
                        .ok_or_else(|| super::sql::corrupt(T, "block_keys", "bad length"))?;
                    Ok((
                        (r.text(T, "source")?, r.text(T, "key")?),
                        Basis {
                            digest: r.text(T, "digest")?,
                            keys,
                        },
                    ))
                })
                .collect()
        })
    }

    /// Writes the basis of some records (`None`: the record is gone), in one transaction;
    /// with `replace`, every other record's basis is dropped first (a full rebuild).
    pub async fn update_master_basis(
        &self,
        changes: &[BasisChange],
        replace: bool,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if replace {
                sqlx::query("DELETE FROM master_basis").execute(&mut *tx).await?;
            }
            let (set, gone): (Vec<_>, Vec<_>) = changes.iter().partition(|(_, b)| b.is_some());
            for (s, k) in gone.iter().map(|(k, _)| k) {
                sqlx::query("DELETE FROM master_basis WHERE source = $1 AND key = $2")
                    .bind(s.as_str())
                    .bind(k.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
            for chunk in set.chunks(ROWS_PER_STATEMENT) {
                let mut q = sqlx::query(with_rows(UPSERT_BASIS, chunk.len(), 0, 4));
                for ((s, k), b) in chunk {
                    let b = b.as_ref().expect("partitioned on is_some");
                    q = q
                        .bind(s.as_str())
                        .bind(k.as_str())
                        .bind(b.digest.as_str())
                        .bind(encode_keys(&b.keys));
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_keys_come_back_with_their_gaps() {
        for keys in [
            vec![],
            vec![None],
            vec![Some(0), None, Some(u64::MAX)],
            vec![None, None, Some(42), None],
            (0..11).map(|i| (i % 3 != 0).then_some(i * 7919)).collect(),
        ] {
            let mut back = decode_keys(&encode_keys(&keys)).unwrap();
            // Trailing rules without a key are not written; they read back as absent.
            back.resize(keys.len(), None);
            assert_eq!(back, keys);
        }
        assert_eq!(decode_keys(&[1, 0, 0]), None);
        assert_eq!(decode_keys(&[]), None);
    }
}
