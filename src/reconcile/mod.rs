//! Reconciliation: which source customers are the same customer, and their golden record.
//!
//! v0 is deterministic ([`DeterministicMatcher`]): the same valid tax ID links records; so do
//! the same normalised name, postal code and country. The [`Matcher`] trait is the seam where
//! probabilistic matching plugs in. Clustering keeps master IDs stable: a cluster that holds
//! records already linked to a master keeps that master's ID; when two masters come together
//! the older survives and the other becomes an alias.

pub mod normalize;
pub mod taxid;

use chrono::{DateTime, Utc};

use crate::model::Customer;
use crate::store::{MasterState, RunId};

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

/// A reason to put two source customers in one master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Index of one record in the input slice.
    pub a: usize,
    /// Index of the other.
    pub b: usize,
    /// The rule that linked them (`tax_id`, `name_postcode`, …).
    pub rule: &'static str,
}

/// Finds links between source customers.
pub trait Matcher {
    /// Every link the matcher is sure of. Pairs may be listed in any order.
    fn links(&self, records: &[SourceCustomer]) -> Vec<Link>;
}

/// v0: same valid tax ID, or same normalised name + postal code + country.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeterministicMatcher;

impl Matcher for DeterministicMatcher {
    fn links(&self, _records: &[SourceCustomer]) -> Vec<Link> {
        todo!("deterministic matcher")
    }
}

/// Settings of survivorship.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Survivorship {
    /// Connector names, most trusted first; a value from an earlier source wins. Sources not
    /// listed rank after the listed ones; ties go to the most recently updated record.
    pub source_priority: Vec<String>,
}

/// Rebuilds the master from every staged customer, keeping existing master IDs stable.
/// Returns the whole new state (masters, xrefs, aliases including the old ones).
pub fn reconcile(
    _existing: &MasterState,
    _customers: &[SourceCustomer],
    _matcher: &dyn Matcher,
    _survivorship: &Survivorship,
    _now: DateTime<Utc>,
) -> MasterState {
    todo!("reconcile")
}
