//! What matching gives back: decisions, refusals, scored pairs, timings and explanations.

use serde::{Deserialize, Serialize};

use super::blocking::BlockingStats;
use super::model::Training;

/// Decisions a steward made, as pairs of record indexes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Pairs that must be in one cluster (approved reviews, forced links).
    pub must_link: Vec<(u32, u32)>,
    /// Pairs that must never be in one cluster (rejected reviews, forced splits).
    pub cannot_link: Vec<(u32, u32)>,
}

/// What was decided for a candidate pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// In one master.
    Link,
    /// Between the thresholds: a steward decides.
    Review,
    /// Linked by score but refused by a clustering rule: a steward decides.
    Refused(Refusal),
    /// Below the review threshold.
    Separate,
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The clusters hold different valid tax IDs.
    TaxIdConflict,
    /// Two clusters of several records with too little evidence between them.
    WeakJoin,
    /// A steward said these records are not the same customer.
    Steward,
    /// A `gate` comparison (the name) disagrees outright.
    NamesDiffer,
    /// One record is a branch (分公司, "… Branch") and the other is not: a branch is its own
    /// customer, however much it shares with its parent.
    Branch,
}

/// A scored candidate pair (indexes into the profiles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredPair {
    /// One record.
    pub a: u32,
    /// The other (a < b).
    pub b: u32,
    /// Match weight (log2 odds).
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
    /// The decision.
    pub decision: Decision,
}

/// Seconds spent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Seconds {
    /// Blocking.
    pub blocking: f64,
    /// Estimating u and EM.
    pub training: f64,
    /// The whole run.
    pub whole: f64,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every candidate pair, scored and decided.
    pub pairs: Vec<ScoredPair>,
    /// Clusters of record indexes (sorted; ordered by smallest member).
    pub clusters: Vec<Vec<usize>>,
    /// Blocking figures.
    pub blocking: BlockingStats,
    /// Training figures.
    pub training: Training,
    /// Time.
    pub seconds: Seconds,
}

/// One comparison's part of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Comparison name.
    pub comparison: String,
    /// Profile field.
    pub field: String,
    /// The level reached (`null` when a value is missing).
    pub level: String,
    /// Left value (normalised).
    pub left: Option<String>,
    /// Right value (normalised).
    pub right: Option<String>,
    /// Its match weight.
    pub weight: f64,
}

/// A pair's score, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Prior log2 odds.
    pub prior: f64,
    /// Per comparison.
    pub steps: Vec<Step>,
    /// Total weight.
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
}
