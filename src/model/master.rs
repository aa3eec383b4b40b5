//! The customer master as reconciliation leaves it and the store keeps it: master rows
//! (golden records with lineage), cross-references from every (source, key) to its master,
//! and the run ids that stamp what changed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Identifies a sync run.
pub type RunId = i64;

/// A master customer (golden record) as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MasterRow {
    /// Stable master ID.
    pub master_id: String,
    /// Golden record: canonical customer fields as JSON.
    pub golden: Value,
    /// Per golden field: where its value came from (`{"name": {"source": …, "key": …, "run": …}}`).
    pub lineage: Value,
    /// When the master was first created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A cross-reference: one source customer and its master.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct XrefRow {
    /// Connector name.
    pub source: String,
    /// Customer key in that source.
    pub key: String,
    /// Master ID.
    pub master_id: String,
    /// Why they were linked (`tax_id`, `name_postcode`, `singleton`, …).
    pub rule: String,
}

/// The WHOLE master as reconciliation leaves it; written by `Store::save_master` in one
/// transaction, which makes the stored master equal to it (rows absent here are deleted).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MasterState {
    /// Every live master. New or changed ones are upserted, equal ones left alone, stored ones
    /// absent here deleted. A master whose ID is also an alias is not kept.
    pub masters: Vec<MasterRow>,
    /// Every cross-reference, one per (source, key); each must name a master in `masters`.
    pub xrefs: Vec<XrefRow>,
    /// Every retired master ID → the master it was merged into (old ones included).
    pub aliases: Vec<(String, String)>,
}
