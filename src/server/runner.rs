//! Runs connectors for the daemon (API triggers, schedules, webhook batches): never two runs of
//! one connector at once, and one master rebuild at a time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use thiserror::Error;

use super::Loaded;
use crate::store::Store;
use crate::sync::{self, MasterSummary, NoProgress, RunReport, SyncError, SyncOptions};

/// Why a run could not start or failed.
#[derive(Debug, Error)]
pub enum TriggerError {
    /// No connector file has that name.
    #[error("no connector named `{0}`")]
    UnknownConnector(String),
    /// The connector is running already; the request is not queued.
    #[error("connector `{0}` is running already")]
    AlreadyRunning(String),
    /// The run failed.
    #[error(transparent)]
    Sync(#[from] SyncError),
}

/// A finished run and the master rebuild after it.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The connector run.
    pub report: RunReport,
    /// The rebuild.
    pub master: MasterSummary,
}

/// Starts and serialises runs.
#[derive(Clone)]
pub struct Runner {
    store: Store,
    running: Arc<Mutex<HashSet<String>>>,
    master: Arc<tokio::sync::Mutex<()>>,
}

/// Marks a connector as running until dropped.
pub struct Running {
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

impl Runner {
    /// A runner over `store`.
    pub fn new(store: Store) -> Runner {
        Runner {
            store,
            running: Arc::default(),
            master: Arc::default(),
        }
    }

    /// Claims `connector` for one run; refused while another run of it is going.
    pub fn claim(&self, loaded: &Loaded, connector: &str) -> Result<Running, TriggerError> {
        if !loaded
            .project
            .connectors
            .values()
            .any(|c| c.config.name == connector)
        {
            return Err(TriggerError::UnknownConnector(connector.to_string()));
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if !running.insert(connector.to_string()) {
            return Err(TriggerError::AlreadyRunning(connector.to_string()));
        }
        Ok(Running {
            name: connector.to_string(),
            running: self.running.clone(),
        })
    }

    /// Connectors running now.
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

    /// Holds the master: nothing else rebuilds it until the guard drops.
    pub async fn master_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.master.lock().await
    }

    /// Runs a claimed connector, then rebuilds the master and the insights.
    pub async fn run(
        &self,
        loaded: &Loaded,
        claim: Running,
        full: bool,
    ) -> Result<RunOutcome, TriggerError> {
        let project = &loaded.project;
        let connector = project
            .connectors
            .values()
            .find(|c| c.config.name == claim.name)
            .ok_or_else(|| TriggerError::UnknownConnector(claim.name.clone()))?;
        let options = SyncOptions {
            streams: vec![],
            full,
        };
        let report = sync::run_connector(
            project,
            &loaded.mappings,
            &self.store,
            connector,
            &options,
            &NoProgress,
        )
        .await;
        drop(claim);
        let report = report?;
        super::metrics::run_done(&report);
        let master = self.rebuild(loaded).await?;
        Ok(RunOutcome { report, master })
    }

    /// Rebuilds the master and the insights under the master lock.
    pub async fn rebuild(&self, loaded: &Loaded) -> Result<MasterSummary, SyncError> {
        let _guard = self.master_lock().await;
        let master = sync::reconcile_master(&loaded.project, &self.store).await?;
        let now = Utc::now();
        sync::refresh_insights(&loaded.project, &self.store, now.date_naive(), now).await?;
        Ok(master)
    }
}
