//! The master use cases: rebuilding the unified customer master from staging
//! ([`reconcile_master`]), deriving each master customer's insights ([`refresh_insights`]) and a
//! data steward's work on the master ([`steward`]).
//!
//! They sit above the store and the pure engines ([`crate::reconcile`], [`crate::insight`]):
//! read what is staged, run the engine off the async workers, write the outcome back in the
//! store's transactions. A sync ([`crate::sync`]), a webhook batch ([`crate::intake`]), a
//! steward's action and the daemon all rebuild through here.

mod insights;
mod rebuild;
pub mod steward;

pub use insights::{InsightSummary, refresh_insights};
pub use rebuild::{
    MASTER_LOCK, MasterSummary, Matched, Rebuild, active_decisions, lock_master, reconcile_master,
    reconcile_master_with,
};
use thiserror::Error;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::Project;
use crate::store::{Store, StoreError};

/// Why a master rebuild or an insight refresh failed.
#[derive(Debug, Error)]
pub enum MasterError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Customer insights could not be computed.
    #[error("customer insights: {0}")]
    Insight(#[from] crate::insight::InsightError),
    /// What the insights read from the store could not be read (a staged record that no longer
    /// fits its entity, a channel window of zero days).
    #[error("customer insights: {0}")]
    View(#[from] crate::views::ViewError),
    /// `[reconcile.matching]` is invalid.
    #[error("config/tributary.toml [reconcile.matching]: {0}")]
    Matching(String),
    /// Another rebuild held the master lock longer than the rebuild would wait.
    #[error(
        "another master rebuild on this database held its lock for {waited_secs} s; gave up waiting (`[reconcile] lock_wait_secs`)"
    )]
    LockTimeout {
        /// Seconds waited.
        waited_secs: u64,
    },
    /// The matching worker thread panicked.
    #[error("the matching worker stopped: {0}")]
    Worker(String),
}

/// What follows every run that staged something: the master rebuilt ([`reconcile_master`]),
/// then the customer insights derived as of `as_of` ([`refresh_insights`]).
pub async fn rebuild(
    project: &Project,
    store: &Store,
    as_of: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(MasterSummary, InsightSummary), MasterError> {
    rebuild_with(project, store, Rebuild::Update, as_of, now).await
}

/// [`rebuild`], choosing how the master is matched.
pub async fn rebuild_with(
    project: &Project,
    store: &Store,
    how: Rebuild,
    as_of: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(MasterSummary, InsightSummary), MasterError> {
    let master = reconcile_master_with(project, store, how).await?;
    let insights = refresh_insights(project, store, as_of, now).await?;
    Ok((master, insights))
}
