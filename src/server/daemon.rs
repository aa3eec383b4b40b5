//! The daemon's life: open the store, start the scheduler and the webhook worker, listen, serve
//! until SIGTERM or SIGINT, reload the configuration on SIGHUP (validated first; an invalid one
//! is refused and the running one stays). On shutdown no new tick or request is taken, runs in
//! flight stop after their current page with its cursor committed (recorded `cancelled`), and a
//! run cut short by a hard kill resumes from its last committed cursor.

use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use super::AppState;
use crate::config::{ConfigErrors, Project};
use crate::store::{Store, StoreError};
use crate::sync::schedule::{self, Scheduler, SchedulerEvent, SchedulerOptions, SystemClock};

/// How long shutdown waits for runs in flight.
const DRAIN: Duration = Duration::from_secs(60);

/// Why the daemon could not start or stopped.
#[derive(Debug, Error)]
pub enum DaemonError {
    /// The configuration (mappings) is invalid.
    #[error("invalid configuration:\n{0}")]
    Config(#[from] ConfigErrors),
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Store(#[from] StoreError),
    /// The address could not be bound, or serving failed.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Runs `tributary serve` until a shutdown signal.
pub async fn run(project: Project, bind: Option<&str>) -> Result<(), DaemonError> {
    let addr = bind
        .map(str::to_string)
        .unwrap_or_else(|| project.settings.server.bind.clone());
    let url = project.store_url();
    warn_disabled_tokens(&project);
    let loaded = schedule::from_project(project)?;
    let store = Store::connect(&url).await?;
    let options =
        SchedulerOptions::from_settings(&loaded.project.settings).with_locks(store.clone());
    let jobs = loaded.jobs.clone();
    let state = AppState::new(loaded.into(), store);
    let scheduler = Scheduler::start(
        jobs,
        Arc::new(state.runner().clone()),
        Arc::new(SystemClock),
        options,
    );
    tokio::spawn(count_ticks(scheduler.subscribe()));
    state.set_scheduler(scheduler);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| DaemonError::Listen {
            addr: addr.clone(),
            source,
        })?;
    tracing::info!(%addr, "serving");
    eprintln!("tributary: serving on http://{addr} (API /api, web page /, metrics /metrics)");
    let shutdown = CancellationToken::new();
    tokio::spawn(signals(state.clone(), shutdown.clone()));
    let inbox = tokio::spawn(super::webhooks::worker(state.clone(), shutdown.clone()));
    super::serve(listener, state.clone(), shutdown)
        .await
        .map_err(|source| DaemonError::Listen { addr, source })?;
    if let Some(s) = state.scheduler() {
        let left = s.shutdown(DRAIN).await;
        if !left.is_empty() {
            tracing::warn!(
                running = ?left,
                "shut down with runs in flight; they resume from their last committed cursor"
            );
        }
    }
    let _ = inbox.await;
    Ok(())
}

/// Counts the scheduler's ticks in the metrics.
async fn count_ticks(mut events: tokio::sync::broadcast::Receiver<SchedulerEvent>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(SchedulerEvent::Started { connector, .. }) => {
                super::metrics::scheduler_tick(&connector, "started")
            }
            Ok(SchedulerEvent::Skipped {
                connector, reason, ..
            }) => super::metrics::scheduler_tick(&connector, reason.as_str()),
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

fn warn_disabled_tokens(project: &Project) {
    let tokens = &project.settings.server.tokens;
    for t in tokens.iter().filter(|t| t.token.is_none()) {
        tracing::warn!(token = %t.name, "API token disabled: its environment variable is unset or empty");
    }
    if tokens.iter().all(|t| t.token.is_none()) {
        tracing::warn!(
            "no API token is usable: the API answers 401 to every request (see [server] in config/tributary.toml)"
        );
    }
}

/// Reloads the configuration from disk: validated first; an invalid one is refused and logged
/// and the running one stays.
pub fn reload(state: &AppState) -> Result<usize, String> {
    let root = state.project().root.clone();
    let loaded = schedule::load_with_env(&root, state.env()).map_err(|e| {
        tracing::error!(errors = %e, "configuration reload refused; the running one stays");
        e.to_string()
    })?;
    let connectors = loaded.project.connectors.len();
    let jobs = loaded.jobs.clone();
    state.replace(loaded.into(), jobs);
    tracing::info!(connectors, "configuration reloaded");
    Ok(connectors)
}

#[cfg(unix)]
async fn signals(state: AppState, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot listen for signals");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => { let _ = reload(&state); }
        }
    }
    tracing::info!("shutting down: no new requests; runs in flight finish");
    shutdown.cancel();
}

#[cfg(not(unix))]
async fn signals(_state: AppState, shutdown: CancellationToken) {
    let _ = tokio::signal::ctrl_c().await;
    shutdown.cancel();
}
