//! The daemon's life: open the store, listen, serve until SIGTERM or SIGINT, reload the
//! configuration on SIGHUP, and on shutdown let the runs in flight finish (each committed batch
//! carries its cursor, so a run cut short by a hard kill resumes where it stopped).

use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{AppState, Loaded};
use crate::config::{ConfigErrors, Project};
use crate::store::{Store, StoreError};

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
    let loaded = Loaded::new(project)?;
    let store = Store::connect(&url).await?;
    let state = AppState::new(loaded, store);
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
    drain(&state).await;
    let _ = inbox.await;
    Ok(())
}

/// Waits (up to [`DRAIN`]) for runs in flight.
async fn drain(state: &AppState) {
    let started = tokio::time::Instant::now();
    loop {
        let running = state.runner().running();
        if running.is_empty() {
            return;
        }
        if started.elapsed() > DRAIN {
            tracing::warn!(
                ?running,
                "shutting down with runs in flight; they resume from their last committed cursor"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
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
    let loaded = Project::load(&root)
        .map_err(|e| e.to_string())
        .and_then(|p| Loaded::new(p).map_err(|e| e.to_string()))
        .inspect_err(
            |e| tracing::error!(errors = %e, "configuration reload refused; the running one stays"),
        )?;
    let connectors = loaded.project.connectors.len();
    state.replace(loaded);
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
