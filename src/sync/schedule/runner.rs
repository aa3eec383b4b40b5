//! What a tick runs: a [`Runner`] is handed one [`ScheduledRun`] at a time. The scheduler does
//! not know how a connector is run; `tributary serve` hands it a [`SyncRunner`], tests a
//! closure.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{Loaded, RunKind};
use crate::config::Project;
use crate::mapping::Mapping;
use crate::store::{RunStatus, Store};
use crate::sync::{self, NoProgress, SyncOptions};

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

/// The runner of `tributary serve`: [`sync::run_connector`] (full runs reset every stream's
/// cursor first), then, when the run staged anything, the customer master and insights are
/// rebuilt — one rebuild at a time in this process.
#[derive(Debug)]
pub struct SyncRunner {
    store: Store,
    loaded: RwLock<Arc<(Project, BTreeMap<String, Mapping>)>>,
    rebuild: tokio::sync::Mutex<()>,
}

impl SyncRunner {
    /// A runner over a loaded project (see [`super::load`]) and its store.
    pub fn new(loaded: &Loaded, store: Store) -> Self {
        SyncRunner {
            store,
            loaded: RwLock::new(Arc::new((loaded.project.clone(), loaded.mappings.clone()))),
            rebuild: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs later ticks with a reloaded project; runs under way finish with the old one.
    pub fn replace(&self, loaded: &Loaded) {
        let next = Arc::new((loaded.project.clone(), loaded.mappings.clone()));
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = next;
    }
}

#[async_trait]
impl Runner for SyncRunner {
    async fn run(&self, run: ScheduledRun) -> Result<RunStatus, String> {
        let loaded = self
            .loaded
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let (project, mappings) = &*loaded;
        let connector = project
            .connectors
            .values()
            .find(|c| c.config.name == run.connector)
            .ok_or_else(|| format!("no connector `{}` in connectors/", run.connector))?;
        let options = SyncOptions {
            streams: vec![],
            full: run.kind == RunKind::Full,
            cancel: Some(run.cancel.clone()),
        };
        let report = sync::run_connector(
            project,
            mappings,
            &self.store,
            connector,
            &options,
            &NoProgress,
        )
        .await
        .map_err(|e| e.to_string())?;
        if report.counts.staged > 0 && report.status != RunStatus::Cancelled {
            let _one_at_a_time = self.rebuild.lock().await;
            let now = Utc::now();
            sync::reconcile_master(project, &self.store)
                .await
                .map_err(|e| format!("customer master: {e}"))?;
            sync::refresh_insights(project, &self.store, now.date_naive(), now)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(report.status)
    }
}
