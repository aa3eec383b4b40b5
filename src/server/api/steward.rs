//! The data steward's review queue and master actions (role `steward`). The acting steward is
//! the token's name; every action needs a reason and is audited like the CLI's.

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::master::steward::{self, Actor, Done};
use crate::server::{ApiError, AppState, Caller};
use crate::store::steward::{Decision, RecordRef, Review, ReviewStatus};
use crate::views::{self, ReviewSort, ReviewTask};

/// `?all=true` lists decided and obsolete reviews too; `?sort=` orders them.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ReviewList {
    /// Also approved, rejected and obsolete reviews.
    #[serde(default)]
    pub all: bool,
    /// `at_stake` (default: the smaller side's credit exposure in the base currency, largest
    /// first; ties most probable first) or `probability`.
    #[param(value_type = Option<String>)]
    pub sort: Option<ReviewSort>,
}

/// Why (required for every action).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct DecisionBody {
    /// The reason recorded in the audit trail.
    pub reason: String,
}

/// Two masters to merge.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct MergeBody {
    /// One master ID.
    pub a: String,
    /// The other.
    pub b: String,
    /// Why.
    pub reason: String,
}

/// Records to split out of a master, written `SOURCE:KEY`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SplitBody {
    /// The records.
    pub records: Vec<String>,
    /// Why.
    pub reason: String,
}

/// Two source records, written `SOURCE:KEY`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LinkBody {
    /// One record.
    pub left: String,
    /// The other.
    pub right: String,
    /// Why.
    pub reason: String,
}

/// What an action did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ActionDone {
    /// The recorded decision (undo it with `POST /api/decisions/{id}/undo`).
    pub decision: i64,
    /// Where the records named by the action are now: (source, key, master ID).
    pub records: Vec<(String, String, String)>,
    /// Master customers after the rebuild.
    pub masters: usize,
}

impl From<Done> for ActionDone {
    fn from(d: Done) -> Self {
        ActionDone {
            decision: d.decision,
            records: d.records,
            masters: d.master.masters,
        }
    }
}

fn actor(caller: &Caller, reason: &str) -> Actor {
    Actor {
        name: caller.name.clone(),
        reason: reason.to_string(),
    }
}

fn record(text: &str) -> Result<RecordRef, ApiError> {
    steward::parse_record(text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`{text}`: write a source record as SOURCE:KEY, e.g. erp:C10014"
        ))
    })
}

/// The review queue (open reviews; all with `?all=true`), each with the exposure it puts at
/// stake: the smaller of its two masters' credit exposures, in the base currency (0 when both
/// records are in one master already; a credit balance counts 0). Largest stake first.
#[utoipa::path(get, path = "/api/reviews", tag = "steward", params(ReviewList),
    responses((status = 200, body = [ReviewTask])), security(("bearer" = [])))]
pub(crate) async fn reviews(
    State(state): State<AppState>,
    Query(q): Query<ReviewList>,
) -> Result<Json<Vec<ReviewTask>>, ApiError> {
    let status = (!q.all).then_some(ReviewStatus::Open);
    let loaded = state.loaded();
    let tasks = views::review_queue(
        &loaded.project,
        state.store(),
        status,
        q.sort.unwrap_or_default(),
        Utc::now(),
    )
    .await?;
    Ok(Json(tasks))
}

/// One review with the explanation (waterfall) of its score.
#[utoipa::path(get, path = "/api/reviews/{id}", tag = "steward",
    params(("id" = i64, Path, description = "Review number")),
    responses((status = 200, body = Review), (status = 404, description = "no such review")),
    security(("bearer" = [])))]
pub(crate) async fn review(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<Review>, ApiError> {
    state
        .store()
        .review(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no review {id}")))
}

async fn decide(
    state: AppState,
    caller: Caller,
    id: i64,
    same: bool,
    reason: &str,
) -> Result<Json<ActionDone>, ApiError> {
    let loaded = state.loaded();
    let done = steward::decide_review(
        &loaded.project,
        state.store(),
        id,
        same,
        &actor(&caller, reason),
    )
    .await?;
    Ok(Json(done.into()))
}

/// Approve a review: the two records are one customer.
#[utoipa::path(post, path = "/api/reviews/{id}/approve", tag = "steward", request_body = DecisionBody,
    params(("id" = i64, Path, description = "Review number")),
    responses((status = 200, body = ActionDone), (status = 404), (status = 409, description = "already decided or refused")),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<ActionDone>, ApiError> {
    decide(state, caller, id, true, &body.reason).await
}

/// Reject a review: the two records are different customers.
#[utoipa::path(post, path = "/api/reviews/{id}/reject", tag = "steward", request_body = DecisionBody,
    params(("id" = i64, Path, description = "Review number")),
    responses((status = 200, body = ActionDone), (status = 404), (status = 409, description = "already decided or refused")),
    security(("bearer" = [])))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<ActionDone>, ApiError> {
    decide(state, caller, id, false, &body.reason).await
}

/// Merge two masters: the older keeps its ID, the other becomes an alias of it.
#[utoipa::path(post, path = "/api/masters/merge", tag = "steward", request_body = MergeBody,
    responses((status = 200, body = ActionDone), (status = 404), (status = 409, description = "refused, e.g. different valid tax IDs")),
    security(("bearer" = [])))]
pub(crate) async fn merge(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<MergeBody>,
) -> Result<Json<ActionDone>, ApiError> {
    let loaded = state.loaded();
    let done = steward::merge(
        &loaded.project,
        state.store(),
        &body.a,
        &body.b,
        &actor(&caller, &body.reason),
    )
    .await?;
    Ok(Json(done.into()))
}

/// Split records out of a master into a master of their own.
#[utoipa::path(post, path = "/api/masters/{id}/split", tag = "steward", request_body = SplitBody,
    params(("id" = String, Path, description = "Master ID")),
    responses((status = 200, body = ActionDone), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub(crate) async fn split(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<SplitBody>,
) -> Result<Json<ActionDone>, ApiError> {
    let records = body
        .records
        .iter()
        .map(|r| record(r))
        .collect::<Result<Vec<_>, _>>()?;
    let loaded = state.loaded();
    let done = steward::split(
        &loaded.project,
        state.store(),
        &id,
        &records,
        &actor(&caller, &body.reason),
    )
    .await?;
    Ok(Json(done.into()))
}

async fn force(
    state: AppState,
    caller: Caller,
    body: LinkBody,
    same: bool,
) -> Result<Json<ActionDone>, ApiError> {
    let (left, right) = (record(&body.left)?, record(&body.right)?);
    let loaded = state.loaded();
    let done = steward::force(
        &loaded.project,
        state.store(),
        left,
        right,
        same,
        &actor(&caller, &body.reason),
    )
    .await?;
    Ok(Json(done.into()))
}

/// Force two source records into one master.
#[utoipa::path(post, path = "/api/masters/link", tag = "steward", request_body = LinkBody,
    responses((status = 200, body = ActionDone), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub(crate) async fn link(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<LinkBody>,
) -> Result<Json<ActionDone>, ApiError> {
    force(state, caller, body, true).await
}

/// Force two source records apart.
#[utoipa::path(post, path = "/api/masters/unlink", tag = "steward", request_body = LinkBody,
    responses((status = 200, body = ActionDone), (status = 400), (status = 404), (status = 409)),
    security(("bearer" = [])))]
pub(crate) async fn unlink(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<LinkBody>,
) -> Result<Json<ActionDone>, ApiError> {
    force(state, caller, body, false).await
}

/// Undo a steward action (its decision number).
#[utoipa::path(post, path = "/api/decisions/{id}/undo", tag = "steward", request_body = DecisionBody,
    params(("id" = i64, Path, description = "Decision number")),
    responses((status = 200, body = ActionDone), (status = 404), (status = 409, description = "already undone")),
    security(("bearer" = [])))]
pub(crate) async fn undo(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<i64>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<ActionDone>, ApiError> {
    let loaded = state.loaded();
    let done = steward::undo(
        &loaded.project,
        state.store(),
        id,
        &actor(&caller, &body.reason),
    )
    .await?;
    Ok(Json(done.into()))
}

/// Every steward action about a master (by its ID or an alias), with who, when and why.
#[utoipa::path(get, path = "/api/masters/{id}/history", tag = "steward",
    params(("id" = String, Path, description = "Master ID or alias")),
    responses((status = 200, body = [Decision]), (status = 404)),
    security(("bearer" = [])))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Decision>>, ApiError> {
    Ok(Json(steward::history(state.store(), &id).await?))
}
