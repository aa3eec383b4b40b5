//! What a tick runs: a [`Runner`] is handed one [`ScheduledRun`] at a time. The scheduler does
//! not know how a connector is run; `tributary serve` hands it the server's runner
//! (`crate::server::Runner`, which also runs API triggers and serialises master rebuilds), tests
//! a closure.

use std::future::Future;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::RunKind;
use crate::store::RunStatus;

/// One run asked for by a tick.
#[derive(Debug, Clone)]
pub struct ScheduledRun {
    /// The connector to run.
    pub connector: String,
    /// Incremental or full.
    pub kind: RunKind,
    /// The tick that asked for it.
    pub scheduled: DateTime<Utc>,
    /// Fires on shutdown: stop after committing the current page.
    pub cancel: CancellationToken,
}

/// Runs a connector once for the scheduler.
#[async_trait]
pub trait Runner: Send + Sync + 'static {
    /// Runs `run.connector` to the end (or until `run.cancel` fires) and says how the run ended,
    /// or why it could not run. The scheduler holds the connector's run lock meanwhile, so an
    /// implementation must not take it again.
    async fn run(&self, run: ScheduledRun) -> Result<RunStatus, String>;
}

#[async_trait]
impl<F, Fut> Runner for F
where
    F: Fn(ScheduledRun) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<RunStatus, String>> + Send + 'static,
{
    async fn run(&self, run: ScheduledRun) -> Result<RunStatus, String> {
        self(run).await
    }
}
