//! The credit report: every master's (or every group's) exposure, filtered, sorted and paged
//! the same way for the CLI, the API and the web page, and written as CSV.

use std::cmp::Ordering;
use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{ViewError, exposures, group_exposures};
use crate::config::Project;
use crate::exposure::{Exposure, GroupExposure};
use crate::store::Store;

/// How report rows are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(clap::ValueEnum)]
pub enum SortKey {
    /// Highest utilisation first; customers without a limit after those with one, by exposure.
    #[default]
    Utilization,
    /// Largest exposure first.
    Exposure,
    /// Most days overdue first.
    Overdue,
    /// Least available credit first (most over the limit).
    Available,
    /// By name, A to Z.
    Name,
}

/// Which rows of the report, in which order (also the options of `tributary credit report`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, clap::Args)]
pub struct ReportQuery {
    /// Only customers whose exposure exceeds their credit limit.
    #[serde(default)]
    #[arg(long)]
    pub over_limit: bool,
    /// Only customers at or above this utilisation (percent).
    #[serde(default, with = "rust_decimal::serde::str_option")]
    #[arg(long)]
    pub min_utilization: Option<Decimal>,
    /// Only customers with an open invoice at least this many days past due.
    #[serde(default)]
    #[arg(long)]
    pub min_days_overdue: Option<i64>,
    /// Order of the rows.
    #[serde(default)]
    #[arg(long, value_enum, default_value_t = SortKey::Utilization)]
    pub sort: SortKey,
    /// Skip this many rows.
    #[serde(default)]
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Show at most this many rows (all when omitted).
    #[serde(default)]
    #[arg(long)]
    pub limit: Option<usize>,
}

/// One page of the report and the number of rows the filters kept.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// Rows kept by the filters, before paging.
    pub total: usize,
    /// Offset of the first row.
    pub offset: usize,
    /// The rows.
    pub rows: Vec<T>,
}

impl ReportQuery {
    /// True when `e` passes the filters.
    pub fn keeps(&self, e: &Exposure) -> bool {
        (!self.over_limit
            || e.available
                .is_some_and(|a| a.is_sign_negative() && !a.is_zero()))
            && self
                .min_utilization
                .is_none_or(|m| e.utilization_pct.is_some_and(|u| u >= m))
            && self
                .min_days_overdue
                .is_none_or(|d| e.max_days_overdue.is_some_and(|o| o >= d))
    }

    /// The order of two rows.
    pub fn order(&self, a: &Exposure, b: &Exposure) -> Ordering {
        let first = match self.sort {
            SortKey::Utilization => b
                .utilization_pct
                .is_some()
                .cmp(&a.utilization_pct.is_some())
                .then(b.utilization_pct.cmp(&a.utilization_pct))
                .then(b.exposure.cmp(&a.exposure)),
            SortKey::Exposure => b.exposure.cmp(&a.exposure),
            SortKey::Overdue => b
                .max_days_overdue
                .cmp(&a.max_days_overdue)
                .then(b.exposure.cmp(&a.exposure)),
            SortKey::Available => a
                .available
                .is_none()
                .cmp(&b.available.is_none())
                .then(a.available.cmp(&b.available)),
            SortKey::Name => a.name.cmp(&b.name),
        };
        first.then_with(|| a.master_id.cmp(&b.master_id))
    }

    /// Filters, sorts and pages `rows`; `exposure` picks the figures each row is judged by.
    pub fn apply<T>(
        &self,
        rows: impl IntoIterator<Item = T>,
        exposure: fn(&T) -> &Exposure,
    ) -> Page<T> {
        let mut kept: Vec<T> = rows
            .into_iter()
            .filter(|r| self.keeps(exposure(r)))
            .collect();
        kept.sort_by(|a, b| self.order(exposure(a), exposure(b)));
        let total = kept.len();
        let rows = kept
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect();
        Page {
            total,
            offset: self.offset,
            rows,
        }
    }
}

/// The report over every master customer.
pub async fn credit_report(
    project: &Project,
    store: &Store,
    query: &ReportQuery,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Page<Exposure>, ViewError> {
    let all = exposures(project, store, today, now).await?;
    Ok(query.apply(all.into_values(), |e| e))
}

/// The report over group heads, each judged by the exposure of its whole group.
pub async fn group_report(
    project: &Project,
    store: &Store,
    query: &ReportQuery,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Page<GroupExposure>, ViewError> {
    let all = group_exposures(project, store, today, now).await?;
    Ok(query.apply(all, |g| &g.total))
}

/// Writes exposure rows as CSV with a header row; `members` adds a column with the number of
/// masters in each row's group.
pub fn write_csv<'a, W: Write>(
    out: W,
    rows: impl IntoIterator<Item = (&'a Exposure, Option<usize>)>,
) -> Result<(), csv::Error> {
    let rows: Vec<_> = rows.into_iter().collect();
    let groups = rows.iter().any(|(_, n)| n.is_some());
    let mut w = csv::Writer::from_writer(out);
    let mut header = vec!["master_id", "name"];
    if groups {
        header.push("members");
    }
    header.extend([
        "currency",
        "credit_limit",
        "open_receivables",
        "open_orders",
        "unapplied_payments",
        "exposure",
        "available",
        "utilization_pct",
        "not_due",
        "d1_30",
        "d31_60",
        "d61_90",
        "over_90",
        "max_days_overdue",
        "stale_sources",
    ]);
    w.write_record(&header)?;
    let text = |d: Option<Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    for (e, members) in rows {
        let a = &e.aging;
        let mut row = vec![e.master_id.clone(), e.name.clone()];
        row.extend(members.map(|n| n.to_string()));
        row.extend([
            e.currency.to_string(),
            text(e.credit_limit),
            e.open_receivables.to_string(),
            e.open_orders.to_string(),
            e.unapplied_payments.to_string(),
            e.exposure.to_string(),
            text(e.available),
            text(e.utilization_pct),
            a.not_due.to_string(),
            a.d1_30.to_string(),
            a.d31_60.to_string(),
            a.d61_90.to_string(),
            a.over_90.to_string(),
            e.max_days_overdue
                .map(|d| d.to_string())
                .unwrap_or_default(),
            e.sources
                .iter()
                .filter(|s| s.stale)
                .map(|s| s.source.as_str())
                .collect::<Vec<_>>()
                .join(";"),
        ]);
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}
