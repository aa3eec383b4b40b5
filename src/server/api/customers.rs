//! Customers and credit (role `finance`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::exposure::{Exposure, GroupExposure};
use crate::server::{ApiError, AppState};
use crate::views::{self, Customer360, CustomerHit, Page, ReportQuery, SortKey};

/// Customer search.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct CustomerQuery {
    /// Text in the name, tax ID, master ID or a linked source key; all customers when empty.
    #[serde(default)]
    pub q: String,
    /// Rows to skip.
    #[serde(default)]
    pub offset: usize,
    /// Rows to return (default 50).
    pub limit: Option<usize>,
}

/// `?as_of=` and `?group=` of one customer's views.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct AsOfQuery {
    /// Age receivables as of this date (default today, UTC).
    pub as_of: Option<NaiveDate>,
    /// Roll the exposure up over the customer's group (it and all its descendants).
    #[serde(default)]
    pub group: bool,
}

/// Filters, order, paging and format of the credit report.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ReportParams {
    /// Only customers over their credit limit.
    #[serde(default)]
    pub over_limit: bool,
    /// Only customers at or above this utilisation, in percent (a decimal).
    #[param(value_type = Option<String>)]
    pub min_utilization: Option<Decimal>,
    /// Only customers with an open invoice at least this many days past due.
    pub min_days_overdue: Option<i64>,
    /// utilization (default), exposure, overdue, available or name.
    #[param(value_type = Option<String>)]
    pub sort: Option<SortKey>,
    /// Rows to skip.
    #[serde(default)]
    pub offset: usize,
    /// Rows to return (all when omitted).
    pub limit: Option<usize>,
    /// Group heads only, each with its whole group's exposure.
    #[serde(default)]
    pub groups: bool,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Age receivables as of this date (default today, UTC).
    pub as_of: Option<NaiveDate>,
}

/// Search master customers.
#[utoipa::path(get, path = "/api/customers", tag = "customers", params(CustomerQuery),
    responses((status = 200, body = Page<CustomerHit>)), security(("bearer" = [])))]
pub(crate) async fn search(
    State(state): State<AppState>,
    Query(q): Query<CustomerQuery>,
) -> Result<Json<Page<CustomerHit>>, ApiError> {
    let hits = views::search(&state.store().load_master().await?, &q.q);
    let total = hits.len();
    let rows = hits
        .into_iter()
        .skip(q.offset)
        .take(q.limit.unwrap_or(50))
        .collect();
    Ok(Json(Page {
        total,
        offset: q.offset,
        rows,
    }))
}

/// The customer 360: golden record with lineage, linked source records, open orders and
/// invoices, payments, exposure, group position, value tier, lifecycle, churn and channel stock.
#[utoipa::path(get, path = "/api/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "Master ID (an alias of a merged master resolves)"), AsOfQuery),
    responses((status = 200, body = Customer360), (status = 404, description = "unknown master")),
    security(("bearer" = [])))]
pub(crate) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Result<Json<Customer360>, ApiError> {
    let now = Utc::now();
    let today = q.as_of.unwrap_or_else(|| now.date_naive());
    views::customer_360(&state.project(), state.store(), &id, today, now)
        .await?
        .map(Json)
        .ok_or_else(|| unknown(&id))
}

fn unknown(id: &str) -> ApiError {
    ApiError::NotFound(format!("no customer with master ID `{id}`"))
}

/// Credit exposure of one customer, or of its group with `?group=true`.
#[utoipa::path(get, path = "/api/customers/{id}/credit", tag = "credit",
    params(("id" = String, Path, description = "Master ID or alias"), AsOfQuery),
    responses((status = 200, description = "an Exposure, or a GroupExposure with ?group=true", body = Exposure),
        (status = 404, description = "unknown master")),
    security(("bearer" = [])))]
pub(crate) async fn credit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<AsOfQuery>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let today = q.as_of.unwrap_or_else(|| now.date_naive());
    let project = state.project();
    let master = state
        .store()
        .master(&id)
        .await?
        .map(|m| m.master_id)
        .ok_or_else(|| unknown(&id))?;
    if q.group {
        let g = views::group_exposure(&project, state.store(), &master, today, now)
            .await?
            .ok_or_else(|| unknown(&id))?;
        return Ok(Json(g).into_response());
    }
    let e = views::customer_exposure(&project, state.store(), &master, today, now)
        .await?
        .ok_or_else(|| unknown(&id))?;
    Ok(Json(e).into_response())
}

/// The credit report: filter, sort, page; `format=csv` (or `Accept: text/csv`) for a CSV file.
#[utoipa::path(get, path = "/api/credit/report", tag = "credit", params(ReportParams),
    responses((status = 200, description = "a page of Exposure rows (GroupExposure with groups=true), or CSV",
        body = Page<Exposure>)),
    security(("bearer" = [])))]
pub(crate) async fn report(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(p): Query<ReportParams>,
) -> Result<Response, ApiError> {
    let csv = match p.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format `{other}`: expected json or csv"
            )));
        }
        None => headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
    };
    let query = ReportQuery {
        over_limit: p.over_limit,
        min_utilization: p.min_utilization,
        min_days_overdue: p.min_days_overdue,
        sort: p.sort.unwrap_or_default(),
        offset: p.offset,
        limit: p.limit,
    };
    let now = Utc::now();
    let today = p.as_of.unwrap_or_else(|| now.date_naive());
    let project = state.project();
    if p.groups {
        let page: Page<GroupExposure> =
            views::group_report(&project, state.store(), &query, today, now).await?;
        if csv {
            return csv_response(page.rows.iter().map(|g| (&g.total, Some(g.members.len()))));
        }
        return Ok(Json(page).into_response());
    }
    let page = views::credit_report(&project, state.store(), &query, today, now).await?;
    if csv {
        return csv_response(page.rows.iter().map(|e| (e, None)));
    }
    Ok(Json(page).into_response())
}

fn csv_response<'a>(
    rows: impl Iterator<Item = (&'a Exposure, Option<usize>)>,
) -> Result<Response, ApiError> {
    let mut body = Vec::new();
    views::report::write_csv(&mut body, rows).map_err(ApiError::internal)?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                CONTENT_DISPOSITION,
                "attachment; filename=\"credit-report.csv\"",
            ),
        ],
        body,
    )
        .into_response())
}
