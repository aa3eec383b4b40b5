//! Prometheus metrics at `/metrics` (open, like the health endpoints).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tributary_records_total` | counter | connector, stream, outcome (fetched, staged, unchanged, quarantined) |
//! | `tributary_runs_total` | counter | connector, status |
//! | `tributary_run_duration_seconds` | histogram | connector |
//! | `tributary_last_success_timestamp_seconds` | gauge | connector (read from the store at each scrape) |
//! | `tributary_webhook_events_total` | counter | connector, outcome (accepted, duplicate, or the rejection reason) |
//! | `tributary_scheduler_ticks_total` | counter | connector, outcome (started, already_running, locked_elsewhere, lock_failed) |
//! | `tributary_http_request_duration_seconds` | histogram | method, route, status |

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::AppState;
use crate::sync::RunReport;

/// Latency buckets of HTTP requests, in seconds.
const REQUEST_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Duration buckets of sync runs, in seconds.
const RUN_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// The process-wide recorder (installed on first use; one per process).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("tributary_http_request_duration_seconds".into()),
                REQUEST_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("tributary_run_duration_seconds".into()),
                    RUN_BUCKETS,
                )
            })
            .expect("bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (an embedding program's); then ours
        // still renders whatever is recorded through it.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// `GET /metrics`: the Prometheus text exposition.
pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    let handle = handle();
    match state.store().last_successful_sync().await {
        Ok(last) => {
            for (connector, at) in last {
                gauge!("tributary_last_success_timestamp_seconds", "connector" => connector)
                    .set(at.timestamp() as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: last successful syncs unreadable"),
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}

/// Records a finished connector run.
pub fn run_done(report: &RunReport) {
    handle();
    let connector = report.connector.clone();
    counter!("tributary_runs_total", "connector" => connector.clone(), "status" => report.status.as_str())
        .increment(1);
    histogram!("tributary_run_duration_seconds", "connector" => connector.clone())
        .record(report.elapsed.as_secs_f64());
    for s in &report.streams {
        if let Some(failure) = &s.error {
            counter!(
                "tributary_stream_failures_total",
                "connector" => connector.clone(),
                "stream" => s.stream.clone(),
                "kind" => failure.kind.as_str()
            )
            .increment(1);
        }
        for (outcome, n) in [
            ("fetched", s.counts.fetched),
            ("staged", s.counts.staged),
            ("unchanged", s.counts.unchanged),
            ("quarantined", s.counts.quarantined),
        ] {
            counter!(
                "tributary_records_total",
                "connector" => connector.clone(),
                "stream" => s.stream.clone(),
                "outcome" => outcome
            )
            .increment(n);
        }
    }
}

/// Records a webhook event accepted, duplicate or rejected (`outcome` is the reason).
pub fn webhook_event(connector: &str, outcome: &'static str) {
    handle();
    counter!("tributary_webhook_events_total", "connector" => connector.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Records a scheduler tick that started a run or was skipped.
pub fn scheduler_tick(connector: &str, outcome: &'static str) {
    handle();
    counter!("tributary_scheduler_ticks_total", "connector" => connector.to_string(), "outcome" => outcome)
        .increment(1);
}

/// Records an answered HTTP request.
pub fn request_done(method: &str, route: &str, status: u16, took: Duration) {
    handle();
    histogram!(
        "tributary_http_request_duration_seconds",
        "method" => method.to_string(),
        "route" => route.to_string(),
        "status" => status.to_string()
    )
    .record(took.as_secs_f64());
}
