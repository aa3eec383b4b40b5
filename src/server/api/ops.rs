//! Operations: connector freshness (role `finance`: it says how far the figures can be
//! trusted), sync runs, triggering a run, the quarantine and its replay, config reload (`admin`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::server::{ApiError, AppState, TriggerError};
use crate::store::{InboxEvent, QuarantineRow, RunRecord};
use crate::sync::Replayed;

/// Freshness and state of one connector.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ConnectorStatus {
    /// Connector name.
    pub name: String,
    /// Source kind (`file`, `http`, `jsonrpc`, `sql`, …).
    pub kind: String,
    /// False for a disabled connector (a preset not filled in).
    pub enabled: bool,
    /// Cron expression of its incremental polls, if scheduled.
    pub schedule: Option<String>,
    /// Cron expression of its full resyncs, if scheduled.
    pub full_schedule: Option<String>,
    /// The next scheduled run (incremental or full), when the scheduler runs.
    pub next_run: Option<DateTime<Utc>>,
    /// End of its last successful (or partial) run.
    pub last_success: Option<DateTime<Utc>>,
    /// True when the last success is older than `exposure.stale_after_hours` (or missing).
    pub stale: bool,
    /// Its latest run.
    pub last_run: Option<RunRecord>,
    /// A run is going now.
    pub running: bool,
}

/// `?connector=&limit=` of the run and quarantine lists.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Only this connector.
    pub connector: Option<String>,
    /// At most this many (default 50).
    pub limit: Option<i64>,
}

/// A run to start.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct TriggerRequest {
    /// Connector name.
    pub connector: String,
    /// Forget the cursors first and read everything.
    #[serde(default)]
    pub full: bool,
}

/// A run started in the background; follow it in `GET /api/runs`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Triggered {
    /// Connector name.
    pub connector: String,
    /// Whether it reads everything.
    pub full: bool,
}

/// Every connector with its freshness.
#[utoipa::path(get, path = "/api/connectors", tag = "operations",
    responses((status = 200, body = [ConnectorStatus])), security(("bearer" = [])))]
pub(crate) async fn connectors(
    State(state): State<AppState>,
) -> Result<Json<Vec<ConnectorStatus>>, ApiError> {
    let project = state.project();
    let last = state.store().last_successful_sync().await?;
    let running = state.runner().running();
    let stale_after = chrono::Duration::hours(project.settings.exposure.stale_after_hours as i64);
    let now = Utc::now();
    let ticks = state
        .scheduler()
        .map(|s| s.next_ticks())
        .unwrap_or_default();
    let mut out = Vec::new();
    for c in project.connectors.values() {
        let name = c.config.name.clone();
        let last_success = last.get(&name).copied();
        out.push(ConnectorStatus {
            kind: c.config.kind.as_str().to_string(),
            enabled: c.config.enabled,
            schedule: c.config.schedule.as_ref().map(|e| e.source().to_string()),
            full_schedule: c
                .config
                .full_schedule
                .as_ref()
                .map(|e| e.source().to_string()),
            next_run: ticks
                .iter()
                .filter(|t| t.job.connector == name)
                .filter_map(|t| t.at)
                .min(),
            last_success,
            stale: crate::exposure::is_stale(last_success, now, stale_after),
            last_run: state.store().runs(Some(&name), 1).await?.pop(),
            running: running.contains(&name),
            name,
        });
    }
    Ok(Json(out))
}

/// Sync run history, newest first.
#[utoipa::path(get, path = "/api/runs", tag = "operations", params(ListParams),
    responses((status = 200, body = [RunRecord])), security(("bearer" = [])))]
pub(crate) async fn runs(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<RunRecord>>, ApiError> {
    Ok(Json(
        state
            .store()
            .runs(p.connector.as_deref(), p.limit.unwrap_or(50))
            .await?,
    ))
}

/// Starts a run of one connector (then the master rebuild); 409 while it is running.
#[utoipa::path(post, path = "/api/runs", tag = "operations", request_body = TriggerRequest,
    responses((status = 202, body = Triggered), (status = 404, description = "unknown connector"),
        (status = 409, description = "the connector is running")),
    security(("bearer" = [])))]
pub(crate) async fn trigger(
    State(state): State<AppState>,
    Json(req): Json<TriggerRequest>,
) -> Result<(StatusCode, Json<Triggered>), ApiError> {
    let claim = state
        .runner()
        .claim(&req.connector)
        .await
        .map_err(|e| match e {
            TriggerError::UnknownConnector(_) => ApiError::NotFound(e.to_string()),
            TriggerError::AlreadyRunning(_) => ApiError::Conflict(e.to_string()),
            other => ApiError::internal(other),
        })?;
    let runner = state.runner().clone();
    let full = req.full;
    tokio::spawn(async move {
        if let Err(e) = runner.run(claim, full).await {
            tracing::error!(error = %e, "triggered run failed");
        }
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(Triggered {
            connector: req.connector,
            full,
        }),
    ))
}

/// Quarantined records, newest first, with their raw payloads and reasons.
#[utoipa::path(get, path = "/api/quarantine", tag = "operations", params(ListParams),
    responses((status = 200, body = [QuarantineRow])), security(("bearer" = [])))]
pub(crate) async fn quarantine(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<QuarantineRow>>, ApiError> {
    Ok(Json(
        state
            .store()
            .quarantine(p.connector.as_deref(), p.limit.unwrap_or(50))
            .await?,
    ))
}

/// Webhook events in the inbox, newest first (pending, processed or failed, with bodies).
#[utoipa::path(get, path = "/api/inbox", tag = "operations", params(ListParams),
    responses((status = 200, body = [InboxEvent])), security(("bearer" = [])))]
pub(crate) async fn inbox(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Vec<InboxEvent>>, ApiError> {
    Ok(Json(
        state
            .store()
            .inbox(p.connector.as_deref(), p.limit.unwrap_or(50))
            .await?,
    ))
}

/// One quarantined record.
#[utoipa::path(get, path = "/api/quarantine/{id}", tag = "operations",
    params(("id" = i64, Path, description = "Quarantine row id")),
    responses((status = 200, body = QuarantineRow), (status = 404, description = "no such record")),
    security(("bearer" = [])))]
pub(crate) async fn quarantined(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<QuarantineRow>, ApiError> {
    state
        .store()
        .quarantined(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no quarantined record {id}")))
}

/// Replays a quarantined record through its stream's current mapping; staged records leave the
/// quarantine and the master is rebuilt.
#[utoipa::path(post, path = "/api/quarantine/{id}/replay", tag = "operations",
    params(("id" = i64, Path, description = "Quarantine row id")),
    responses((status = 200, description = "`{\"outcome\": \"staged\", …}` or `{\"outcome\": \"still_failing\", \"reason\": …}`"),
        (status = 404, description = "no such record")),
    security(("bearer" = [])))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Replayed>, ApiError> {
    let loaded = state.loaded();
    let done =
        crate::sync::replay_quarantined(&loaded.project, &loaded.mappings, state.store(), id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::NotFound(format!("no quarantined record {id}")))?;
    if matches!(done, Replayed::Staged { .. }) {
        state.runner().rebuild().await.map_err(ApiError::internal)?;
    }
    Ok(Json(done))
}

/// Reloads the configuration from disk: validated first; an invalid one is refused (400, with
/// the errors) and the running one stays.
#[utoipa::path(post, path = "/api/config/reload", tag = "operations",
    responses((status = 200, description = "reloaded"), (status = 400, description = "invalid; nothing changed")),
    security(("bearer" = [])))]
pub(crate) async fn reload(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let connectors = crate::server::daemon::reload(&state)
        .map_err(|e| ApiError::BadRequest(format!("configuration refused:\n{e}")))?;
    Ok(Json(
        serde_json::json!({"reloaded": true, "connectors": connectors}),
    ))
}
