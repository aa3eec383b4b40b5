//! `POST /webhooks/{connector}`: the intake (signature, replay window, size, idempotency; see
//! [`crate::intake`]) and the worker that stages accepted events and rebuilds the master.
//!
//! The event is in the inbox before the `202` goes out; the worker runs on every accepted event,
//! every [`SWEEP`] and once at start, so events accepted before a crash are processed after the
//! restart, exactly once.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{AppState, metrics};
use crate::intake;

/// How often the worker looks at the inbox without being woken.
pub const SWEEP: Duration = Duration::from_secs(30);

/// `POST /webhooks/{connector}`: events pushed by sources, into the inbox.
pub fn routes(state: &AppState) -> Router<AppState> {
    // The route takes the largest body any connector allows; each connector's own limit is
    // applied by the intake (413 either way).
    let limit = intake::max_body_limit(&state.project()) + 1;
    Router::new()
        .route("/webhooks/{connector}", post(receive))
        .layer(DefaultBodyLimit::max(limit))
}

async fn receive(
    State(state): State<AppState>,
    Path(connector): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let project = state.project();
    match intake::accept(
        &project,
        state.store(),
        &connector,
        &headers,
        &body,
        Utc::now(),
    )
    .await
    {
        Ok(accepted) => {
            metrics::webhook_event(
                &connector,
                if accepted.duplicate {
                    "duplicate"
                } else {
                    "accepted"
                },
            );
            state.inbox().notify_one();
            (StatusCode::ACCEPTED, Json(accepted)).into_response()
        }
        Err(e) => {
            metrics::webhook_event(&connector, e.reason());
            if matches!(e, intake::WebhookError::Store(_)) {
                tracing::error!(%connector, error = %e, "webhook event not stored");
            } else {
                tracing::warn!(%connector, reason = e.reason(), "webhook refused");
            }
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            (
                status,
                Json(json!({"error": e.reason(), "message": e.public_message()})),
            )
                .into_response()
        }
    }
}

/// Processes the inbox until `shutdown`: at start, when woken by an accepted event, and every
/// [`SWEEP`]. After events staged records, the master and insights are rebuilt — and always on
/// the first pass, so records a previous process staged but was killed before merging into the
/// master (from a webhook or a run) reach it now.
pub async fn worker(state: AppState, shutdown: CancellationToken) {
    let mut first = true;
    loop {
        let loaded = state.loaded();
        match intake::process_inbox(&loaded.project, &loaded.mappings, state.store()).await {
            Ok(report) => {
                if report.processed + report.failed > 0 {
                    tracing::info!(
                        processed = report.processed,
                        failed = report.failed,
                        staged = report.counts.staged,
                        "webhook events processed"
                    );
                }
                let startup = std::mem::take(&mut first);
                if (report.staged_any() || startup)
                    && let Err(e) = state.runner().rebuild().await
                {
                    tracing::error!(error = %e, "master rebuild after webhook events failed");
                }
            }
            Err(e) => tracing::error!(error = %e, "processing the webhook inbox failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = state.inbox().notified() => {}
            _ = tokio::time::sleep(SWEEP) => {}
        }
    }
}
