//! The OpenAPI document of the API, served at `/openapi.json` (open, no token).

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::api::{customers, ops, steward};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tributary API",
        description = "Customers, credit exposure, the steward's review queue and sync operations. \
            Every /api route needs `Authorization: Bearer <token>`; tokens and their roles \
            (finance < steward < admin) are configured in config/tributary.toml."
    ),
    paths(
        customers::search, customers::one, customers::credit, customers::report,
        ops::connectors, ops::runs, ops::trigger, ops::quarantine, ops::quarantined, ops::replay,
        ops::inbox,
        ops::reload,
        steward::reviews, steward::review, steward::approve, steward::reject, steward::merge,
        steward::split, steward::link, steward::unlink, steward::undo, steward::history,
    ),
    modifiers(&Bearer),
    tags(
        (name = "customers", description = "search and the customer 360 (role finance)"),
        (name = "credit", description = "credit exposure and the report (role finance)"),
        (name = "steward", description = "review queue and master actions (role steward)"),
        (name = "operations", description = "connectors, runs, quarantine, reload (runs and below: role admin)"),
    )
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
