//! Probabilistic matching: profiles → blocking → comparison → Fellegi–Sunter scoring with
//! EM-trained parameters → decisions → constrained clusters.
//!
//! Decisions a steward made come first: a must-link joins its records whatever they score, a
//! cannot-link keeps them apart whatever links them. Records with the same valid tax ID are
//! then linked whatever else they disagree on. Every other candidate pair is decided by its
//! match probability: at or above `link_threshold` it is linked automatically; at or above
//! `review_threshold` it becomes a review task; below, the records stay separate. A pair whose
//! `gate` comparisons (the company name) disagree outright is never linked automatically, only
//! reviewed: a shared address and phone are not enough when the names differ. Nor is a branch
//! (分公司, "… Branch") linked to a record that is not one. And nothing plausible is left
//! unseen: a pair below `review_threshold` with identical normalised names, or a shared
//! company domain and similar names, is reviewed unless something says two customers
//! (different valid tax IDs, countries or provinces, a branch on one side).
//!
//! Clusters are built from the links, strongest first, under two rules: a cluster never holds
//! two different valid tax IDs, and two clusters of several records each are joined only when
//! the average probability over all their cross pairs (unscored pairs count as 0) reaches
//! `cluster_join` — one weak link between two strong clusters is not enough. A link refused by
//! a rule becomes a review task with the reason.

pub mod blocking;
mod clustering;
pub mod compare;
mod engine;
pub mod model;
mod outcome;
pub mod priors;
pub mod profile;
mod settings;
#[cfg(test)]
mod tests;
pub mod update;

pub use clustering::{Clustering, Incremental};
pub use engine::{Matching, sample_pairs};
use engine::{on_every_core, valid_tax};
pub use outcome::{
    Constraints, Decision, Explanation, Outcome, Refusal, ScoredPair, Seconds, Step,
};
use settings::compile_comparison;
pub use settings::{
    ComparisonSpec, MatchMode, MatchSettings, default_blocking, default_comparisons,
};
