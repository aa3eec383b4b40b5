//! Reconciliation: which source customers are the same customer, and their golden record.
//!
//! v0 is deterministic ([`DeterministicMatcher`]): the same valid tax ID links records; so do
//! the same normalised name, postal code and country. The [`Matcher`] trait is the seam where
//! probabilistic matching plugs in. Clustering keeps master IDs stable: a cluster that holds
//! records already linked to a master keeps that master's ID; when two masters come together
//! the older survives and the other becomes an alias.
//!
//! Decisions of [`reconcile`]:
//! - **Master IDs.** A new cluster's ID is `M-` + the first 12 hex digits of
//!   sha256(source + U+001F + key) of its smallest (source, key) member, so rebuilding from the
//!   same records gives the same IDs. Should that ID already be taken (live, aliased or given
//!   earlier in the same rebuild), `U+001F` + a counter is appended to the hashed text until
//!   it is free. An ID, once given, is never reused for another customer.
//! - **Existing masters.** A cluster keeps the master its records are already linked to
//!   (through the existing xrefs, resolved through aliases). When it holds records of several,
//!   the oldest (created_at, then ID) survives and the others become aliases of it. When one
//!   master's records are split over several clusters, the first cluster (by smallest member)
//!   that can claim it keeps it; the others get new IDs.
//! - **Aliases** map a retired ID straight to a live master: existing aliases are kept and
//!   re-pointed, so there are no chains. Aliased masters are not in `masters`.
//! - **Masters whose records all disappeared** from staging are kept unchanged (history is
//!   not deleted), and so are the xrefs of vanished records, re-pointed to the survivor when
//!   their master was merged.
//! - **Xref rules** say why a record is in its master now: the rule of the first link that
//!   reached it (the deterministic matcher lists `tax_id` links before `name_postcode` ones), or
//!   `singleton` when it is alone. There is no `existing` rule: keeping a master ID is not a
//!   reason to be linked.
//! - **Timestamps.** `created_at` of an existing master is kept; `updated_at` becomes `now`
//!   only when its golden record or lineage changed.

mod assign;
pub mod cluster;
pub mod groups;
pub mod incremental;
mod matcher;
pub mod matching;
pub mod normalize;
pub mod survivorship;
pub mod taxid;
#[cfg(test)]
mod tests;

use crate::model::{Customer, RunId};

use assign::resolve;
pub use assign::{
    RULE_SINGLETON, assign, master_id_for, reconcile, unique_indices, unique_records,
};
pub use matcher::{
    DeterministicMatcher, Link, Matcher, ProbabilisticMatcher, ReviewCandidate, StewardDecision,
    constraints_of, decided, index_of,
};
pub use survivorship::Survivorship;

/// A customer as staged from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCustomer {
    /// Connector name.
    pub source: String,
    /// The run that last staged it (for lineage).
    pub run: RunId,
    /// The canonical customer.
    pub customer: Customer,
}
