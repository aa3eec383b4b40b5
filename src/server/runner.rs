//! Runs connectors for the daemon — API triggers and scheduled ticks alike — and rebuilds the
//! master after them (under the store's master lock, see [`crate::master::lock_master`]).
//!
//! A connector never runs twice at once: a trigger takes the connector's run lock in the store
//! ([`Store::try_lock_run`], which also holds across daemons) and is refused while a scheduled
//! or triggered run holds it; the scheduler takes the same lock before it calls this runner.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use chrono::Utc;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::Loaded;
use crate::master::{MasterError, MasterSummary};
use crate::store::{RunLock, RunStatus, Store};
use crate::sync::schedule::{self, RunKind, ScheduledRun};
use crate::sync::{self, NoProgress, RunReport, SyncError, SyncOptions};

/// Why a run could not start or failed.
#[derive(Debug, Error)]
pub enum TriggerError {
    /// No connector file has that name.
    #[error("no connector named `{0}`")]
    UnknownConnector(String),
    /// The connector is running already (here or in another daemon); the request is not queued.
    #[error("connector `{0}` is running already")]
    AlreadyRunning(String),
    /// The run failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
    /// The master rebuild after the run failed.
    #[error("customer master: {0}")]
    Master(#[from] MasterError),
}

/// A finished run and the master rebuild after it (none when nothing new was staged).
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The connector run.
    pub report: RunReport,
    /// The rebuild.
    pub master: Option<MasterSummary>,
}

/// Starts runs and serialises rebuilds. Cloning shares everything.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    loaded: Arc<RwLock<Loaded>>,
    running: Arc<Mutex<HashSet<String>>>,
}

/// Marks a connector as running in this process until dropped.
struct Running {
    name: String,
    running: Arc<Mutex<HashSet<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.name);
    }
}

/// A connector claimed for one triggered run: marked running and its run lock held.
pub struct Claim {
    running: Running,
    lock: RunLock,
}

impl Runner {
    /// A runner over `store` running the project `loaded`.
    pub fn new(loaded: Loaded, store: Store) -> Runner {
        Runner {
            store,
            loaded: Arc::new(RwLock::new(loaded)),
            running: Arc::default(),
        }
    }

    /// The project as loaded now.
    pub fn loaded(&self) -> Loaded {
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Later runs use `loaded`; runs under way finish with the old one.
    pub fn replace(&self, loaded: Loaded) {
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = loaded;
    }

    fn mark(&self, connector: &str) -> Option<Running> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.insert(connector.to_string()).then(|| Running {
            name: connector.to_string(),
            running: self.running.clone(),
        })
    }

    /// Claims `connector` for a triggered run; refused while any run of it is going.
    pub async fn claim(&self, connector: &str) -> Result<Claim, TriggerError> {
        let loaded = self.loaded();
        if !loaded
            .project
            .connectors
            .values()
            .any(|c| c.config.name == connector)
        {
            return Err(TriggerError::UnknownConnector(connector.to_string()));
        }
        let busy = || TriggerError::AlreadyRunning(connector.to_string());
        let running = self.mark(connector).ok_or_else(busy)?;
        let lock = self
            .store
            .try_lock_run(connector)
            .await
            .map_err(SyncError::from)?
            .ok_or_else(busy)?;
        Ok(Claim { running, lock })
    }

    /// Connectors running now in this process.
    pub fn running(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        names.sort();
        names
    }

    /// Runs a claimed connector, gives its lock back, then rebuilds the master when the run
    /// staged anything.
    pub async fn run(&self, claim: Claim, full: bool) -> Result<RunOutcome, TriggerError> {
        let report = self.execute(&claim.running.name, full, None).await;
        if let Err(e) = claim.lock.release().await {
            tracing::warn!(error = %e, "releasing a run lock failed; it expires by itself");
        }
        drop(claim.running);
        let report = report?;
        let master = self.after_run(&report).await?;
        Ok(RunOutcome { report, master })
    }

    async fn execute(
        &self,
        connector: &str,
        full: bool,
        cancel: Option<CancellationToken>,
    ) -> Result<RunReport, TriggerError> {
        let loaded = self.loaded();
        let project = &loaded.project;
        let file = project
            .connectors
            .values()
            .find(|c| c.config.name == connector)
            .ok_or_else(|| TriggerError::UnknownConnector(connector.to_string()))?;
        let options = SyncOptions {
            streams: vec![],
            full,
            cancel,
        };
        let report = sync::run_connector(
            project,
            &loaded.mappings,
            &self.store,
            file,
            &options,
            &NoProgress,
        )
        .await?;
        super::metrics::run_done(&report);
        Ok(report)
    }

    async fn after_run(&self, report: &RunReport) -> Result<Option<MasterSummary>, MasterError> {
        if report.counts.staged == 0 || report.status == RunStatus::Cancelled {
            return Ok(None);
        }
        self.rebuild().await.map(Some)
    }

    /// Rebuilds the master and the insights (under the store's master lock, which every writer
    /// of the master takes).
    pub async fn rebuild(&self) -> Result<MasterSummary, MasterError> {
        let now = Utc::now();
        let (master, _) =
            crate::master::rebuild(&self.loaded().project, &self.store, now.date_naive(), now)
                .await?;
        Ok(master)
    }
}

/// Scheduled ticks: the scheduler holds the run lock; this marks the connector running, runs
/// it (stopping after the current page on shutdown) and rebuilds the master.
#[async_trait]
impl schedule::Runner for Runner {
    async fn run(&self, run: ScheduledRun) -> Result<RunStatus, String> {
        let Some(_running) = self.mark(&run.connector) else {
            return Err(format!("connector `{}` is running already", run.connector));
        };
        let full = run.kind == RunKind::Full;
        let report = self
            .execute(&run.connector, full, Some(run.cancel.clone()))
            .await
            .map_err(|e| e.to_string())?;
        self.after_run(&report)
            .await
            .map_err(|e| format!("customer master: {e}"))?;
        Ok(report.status)
    }
}
