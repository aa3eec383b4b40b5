//! The REST API under `/api`, grouped by the role each route needs.

pub(super) mod customers;
pub(super) mod ops;
pub(super) mod steward;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use super::{AppState, auth};

/// Every API route with its role.
pub(super) fn routes(state: AppState) -> Router<AppState> {
    let finance = Router::new()
        .route("/customers", get(customers::search))
        .route("/customers/{id}", get(customers::one))
        .route("/customers/{id}/credit", get(customers::credit))
        .route("/credit/report", get(customers::report))
        .route("/connectors", get(ops::connectors))
        .route_layer(from_fn_with_state(state.clone(), auth::finance));
    let steward = Router::new()
        .route("/reviews", get(steward::reviews))
        .route("/reviews/{id}", get(steward::review))
        .route("/reviews/{id}/approve", post(steward::approve))
        .route("/reviews/{id}/reject", post(steward::reject))
        .route("/masters/merge", post(steward::merge))
        .route("/masters/link", post(steward::link))
        .route("/masters/unlink", post(steward::unlink))
        .route("/masters/{id}/split", post(steward::split))
        .route("/masters/{id}/history", get(steward::history))
        .route("/decisions/{id}/undo", post(steward::undo))
        .route_layer(from_fn_with_state(state.clone(), auth::steward));
    let admin = Router::new()
        .route("/runs", get(ops::runs).post(ops::trigger))
        .route("/quarantine", get(ops::quarantine))
        .route("/inbox", get(ops::inbox))
        .route("/quarantine/{id}", get(ops::quarantined))
        .route("/quarantine/{id}/replay", post(ops::replay))
        .route("/config/reload", post(ops::reload))
        .route_layer(from_fn_with_state(state, auth::admin));
    finance.merge(steward).merge(admin)
}
