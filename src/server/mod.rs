//! `tributary serve`: the daemon's HTTP side — the REST API (`/api`, bearer tokens with roles,
//! described at `/openapi.json`), the web page (`/`), webhook intake (`/webhooks/{connector}`),
//! `/metrics`, `/healthz` and `/readyz`.
//!
//! The server holds no state of its own beyond the loaded project: everything it shows is read
//! from the store, and everything it changes goes through the same library calls as the CLI.
//! Work that rebuilds the customer master (sync runs, webhook batches, steward actions) is
//! serialised by one lock so two rebuilds never interleave.

mod api;
mod auth;
pub mod daemon;
mod error;
mod health;
pub mod metrics;
mod openapi;
mod runner;
mod web;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::config::Project;
use crate::mapping::Mapping;
use crate::store::Store;

pub use auth::Caller;
pub use error::ApiError;
pub use openapi::ApiDoc;
pub use runner::{Claim, RunOutcome, Runner, TriggerError};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    runner: Runner,
    inbox: tokio::sync::Notify,
    scheduler: std::sync::OnceLock<crate::sync::schedule::Scheduler>,
    env: std::collections::HashMap<String, String>,
}

/// A validated project with its compiled mappings; replaced whole on reload.
#[derive(Clone)]
pub struct Loaded {
    /// The project.
    pub project: Arc<Project>,
    /// Its mappings, compiled.
    pub mappings: Arc<std::collections::BTreeMap<String, Mapping>>,
}

impl Loaded {
    /// Compiles the project's mappings.
    pub fn new(project: Project) -> Result<Loaded, crate::config::ConfigErrors> {
        let mappings = project.compile_mappings()?;
        Ok(Loaded {
            project: Arc::new(project),
            mappings: Arc::new(mappings),
        })
    }
}

impl From<crate::sync::schedule::Loaded> for Loaded {
    fn from(l: crate::sync::schedule::Loaded) -> Self {
        Loaded {
            project: Arc::new(l.project),
            mappings: Arc::new(l.mappings),
        }
    }
}

impl AppState {
    /// State over a loaded project and an open store; reloads read the process environment.
    pub fn new(loaded: Loaded, store: Store) -> AppState {
        AppState::with_env(loaded, store, std::env::vars().collect())
    }

    /// State whose configuration reloads resolve `${VAR}` from `env` (the environment the
    /// project was loaded with; a process's environment does not change while it runs).
    pub fn with_env(
        loaded: Loaded,
        store: Store,
        env: std::collections::HashMap<String, String>,
    ) -> AppState {
        let runner = Runner::new(loaded, store.clone());
        AppState {
            inner: Arc::new(Inner {
                store,
                runner,
                inbox: tokio::sync::Notify::new(),
                scheduler: std::sync::OnceLock::new(),
                env,
            }),
        }
    }

    /// The environment configuration reloads resolve `${VAR}` from.
    pub fn env(&self) -> &std::collections::HashMap<String, String> {
        &self.inner.env
    }

    /// The project as loaded now.
    pub fn loaded(&self) -> Loaded {
        self.inner.runner.loaded()
    }

    /// The project as loaded now.
    pub fn project(&self) -> Arc<Project> {
        self.loaded().project
    }

    /// Replaces the project (after it was validated) and the scheduler's jobs.
    pub fn replace(&self, loaded: Loaded, jobs: Vec<crate::sync::schedule::Job>) {
        self.inner.runner.replace(loaded);
        if let Some(s) = self.scheduler() {
            s.replace(jobs);
        }
    }

    /// The scheduler, once started.
    pub fn scheduler(&self) -> Option<&crate::sync::schedule::Scheduler> {
        self.inner.scheduler.get()
    }

    /// Hands the started scheduler to the state (once).
    pub fn set_scheduler(&self, scheduler: crate::sync::schedule::Scheduler) {
        let _ = self.inner.scheduler.set(scheduler);
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Wakes the webhook worker.
    pub fn inbox(&self) -> &tokio::sync::Notify {
        &self.inner.inbox
    }

    /// Runs connectors and rebuilds the master, one rebuild at a time.
    pub fn runner(&self) -> &Runner {
        &self.inner.runner
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.project().settings.server.request_timeout_seconds);
    Router::new()
        .nest("/api", api::routes(state.clone()))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(openapi::routes())
        .merge(web::routes())
        .merge(webhooks::routes(&state))
        .route_layer(middleware::from_fn(observe))
        .with_state(state)
}

/// Times every request into the latency histogram, labelled by route pattern, not raw path.
async fn observe(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    metrics::request_done(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Serves `state` on `listener` until `shutdown` is cancelled; requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}
