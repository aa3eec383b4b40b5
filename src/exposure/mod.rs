//! Credit exposure per master customer, in the base currency.
//!
//! exposure = open receivables + open (uninvoiced) orders − unapplied payments; available =
//! credit limit − exposure; utilisation = exposure ÷ limit. Receivables are aged by days past
//! due. Each figure says how fresh its sources are. [`roll_up`] sums a customer and its
//! descendants into a group figure. Pure: the caller brings the records.

mod aging;
mod fx;
mod group;
#[cfg(test)]
mod tests;

pub use aging::{Aging, Bucket, bucket, days_past_due};
pub use fx::{FxTable, to_cents};
pub use group::{GroupExposure, GroupMember, roll_up};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::model::{Currency, Invoice, Payment, SalesOrder};
use crate::model::{MasterRow, XrefRow};

/// Exposure cannot be computed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ExposureError {
    /// No FX rate for a currency that occurs.
    #[error(
        "no FX rate from {from} to base currency {base} (add it under [currency.rates] in config/tributary.toml)"
    )]
    MissingRate {
        /// The currency without a rate.
        from: Currency,
        /// The base currency.
        base: Currency,
    },
    /// A sum or product left the range of a decimal.
    #[error("amount out of range while computing {what}")]
    Overflow {
        /// What was being computed.
        what: String,
    },
}

/// How fresh one contributing source is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SourceFreshness {
    /// Connector name.
    pub source: String,
    /// End of its last successful sync; `None` = never synced successfully.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// True when older than the staleness threshold (or never synced).
    pub stale: bool,
}

/// The exposure of one master customer: the stable JSON contract of `tributary credit --json`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Exposure {
    /// Master ID.
    pub master_id: String,
    /// Golden name.
    pub name: String,
    /// Base currency of every amount.
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Credit limit in base currency, when one is known.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub credit_limit: Option<Decimal>,
    /// Sum of open invoice residuals (credit notes subtract).
    #[serde(with = "rust_decimal::serde::str")]
    pub open_receivables: Decimal,
    /// Confirmed, not yet invoiced order value.
    #[serde(with = "rust_decimal::serde::str")]
    pub open_orders: Decimal,
    /// Payments received but not applied.
    #[serde(with = "rust_decimal::serde::str")]
    pub unapplied_payments: Decimal,
    /// receivables + orders − unapplied.
    #[serde(with = "rust_decimal::serde::str")]
    pub exposure: Decimal,
    /// limit − exposure, when a limit is known.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub available: Option<Decimal>,
    /// exposure ÷ limit × 100, two decimals, when a positive limit is known.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub utilization_pct: Option<Decimal>,
    /// Aging of open receivables.
    pub aging: Aging,
    /// Days past due of the oldest overdue open invoice (`None` when nothing is overdue).
    pub max_days_overdue: Option<i64>,
    /// Freshness of each contributing source.
    pub sources: Vec<SourceFreshness>,
}

/// Everything exposure is computed from.
#[derive(Debug, Clone, Default)]
pub struct ExposureInput {
    /// Masters (golden `credit_limit` and `currency` give the limit).
    pub masters: Vec<MasterRow>,
    /// Cross-references (source, customer key) → master.
    pub xrefs: Vec<XrefRow>,
    /// Invoices with their source.
    pub invoices: Vec<(String, Invoice)>,
    /// Orders with their source.
    pub orders: Vec<(String, SalesOrder)>,
    /// Payments with their source.
    pub payments: Vec<(String, Payment)>,
    /// Last successful sync per source.
    pub last_sync: HashMap<String, DateTime<Utc>>,
}

/// Adds `b` to `a`, or reports an overflow of `what`.
fn add(a: Decimal, b: Decimal, what: &str) -> Result<Decimal, ExposureError> {
    a.checked_add(b).ok_or_else(|| ExposureError::Overflow {
        what: what.to_string(),
    })
}

/// Running totals of one master.
#[derive(Default)]
struct Totals {
    receivables: Decimal,
    orders: Decimal,
    unapplied: Decimal,
    aging: Aging,
    max_days_overdue: Option<i64>,
    sources: BTreeSet<String>,
}

/// The golden credit limit of a master, converted to base. `None` when the golden record has
/// no limit, or has one without a currency (a limit in an unknown currency is not guessed).
fn credit_limit(master: &MasterRow, fx: &FxTable) -> Result<Option<Decimal>, ExposureError> {
    let limit = match master.golden.get("credit_limit") {
        Some(Value::String(s)) => s.trim().parse::<Decimal>().ok(),
        Some(Value::Number(n)) => n.to_string().parse::<Decimal>().ok(),
        _ => None,
    };
    let Some(limit) = limit else {
        return Ok(None);
    };
    let currency = master
        .golden
        .get("currency")
        .and_then(Value::as_str)
        .and_then(|c| c.parse::<Currency>().ok());
    let Some(currency) = currency else {
        tracing::warn!(
            master = %master.master_id,
            "credit limit without a currency is ignored"
        );
        return Ok(None);
    };
    fx.to_base(limit, currency).map(Some)
}

/// Available credit (limit − exposure) and utilisation (exposure ÷ limit × 100, two decimals)
/// when a limit is known; no utilisation for a limit of zero or less.
fn limit_figures(
    limit: Option<Decimal>,
    exposure: Decimal,
) -> Result<(Option<Decimal>, Option<Decimal>), ExposureError> {
    let available = limit
        .map(|l| {
            l.checked_sub(exposure)
                .ok_or_else(|| ExposureError::Overflow {
                    what: "available credit".to_string(),
                })
        })
        .transpose()?;
    let utilization_pct = match limit {
        Some(l) if l > Decimal::ZERO => Some(
            exposure
                .checked_mul(Decimal::ONE_HUNDRED)
                .and_then(|x| x.checked_div(l))
                .map(to_cents)
                .ok_or_else(|| ExposureError::Overflow {
                    what: "utilisation".to_string(),
                })?,
        ),
        _ => None,
    };
    Ok((available, utilization_pct))
}

/// A source is stale when it never synced successfully or its last success is older than
/// `stale_after`.
pub fn is_stale(
    last_success: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> bool {
    last_success.is_none_or(|at| now - at > stale_after)
}

/// Computes exposure for every master, keyed by master ID. Documents whose customer has no
/// master are left out. A source is stale when its last sync is older than `stale_after`.
///
/// Every document amount is converted to base and rounded to cents on its own before it is
/// summed. Credit notes subtract (in the bucket of their own due date); unposted invoices and
/// orders that are not confirmed count nothing, but their source still counts as contributing.
pub fn compute(
    input: &ExposureInput,
    fx: &FxTable,
    today: NaiveDate,
    now: DateTime<Utc>,
    stale_after: chrono::Duration,
) -> Result<BTreeMap<String, Exposure>, ExposureError> {
    let mut totals: HashMap<&str, Totals> = input
        .masters
        .iter()
        .map(|m| (m.master_id.as_str(), Totals::default()))
        .collect();
    let mut owner: HashMap<(&str, &str), &str> = HashMap::new();
    for x in &input.xrefs {
        if let Some(t) = totals.get_mut(x.master_id.as_str()) {
            t.sources.insert(x.source.clone());
            owner.insert((x.source.as_str(), x.key.as_str()), x.master_id.as_str());
        }
    }
    let mut unmatched = 0usize;
    let master_of = |source: &str, customer: &str| owner.get(&(source, customer)).copied();
    for (source, inv) in &input.invoices {
        let Some(t) = master_of(source, &inv.customer_key).and_then(|id| totals.get_mut(id)) else {
            unmatched += 1;
            continue;
        };
        t.sources.insert(source.clone());
        let amount = fx.to_base(inv.signed_residual(), inv.currency)?;
        t.receivables = add(t.receivables, amount, "open receivables")?;
        if !amount.is_zero() {
            t.aging.add(inv.due_date, today, amount)?;
        }
        let overdue = (today - inv.due_date).num_days();
        if amount > Decimal::ZERO && overdue > 0 {
            t.max_days_overdue = t.max_days_overdue.max(Some(overdue));
        }
    }
    for (source, order) in &input.orders {
        let Some(t) = master_of(source, &order.customer_key).and_then(|id| totals.get_mut(id))
        else {
            unmatched += 1;
            continue;
        };
        t.sources.insert(source.clone());
        let amount = fx.to_base(order.open_amount(), order.currency)?;
        t.orders = add(t.orders, amount, "open orders")?;
    }
    for (source, payment) in &input.payments {
        let Some(t) = master_of(source, &payment.customer_key).and_then(|id| totals.get_mut(id))
        else {
            unmatched += 1;
            continue;
        };
        t.sources.insert(source.clone());
        let amount = fx.to_base(payment.unapplied, payment.currency)?;
        t.unapplied = add(t.unapplied, amount, "unapplied payments")?;
    }
    if unmatched > 0 {
        tracing::debug!(
            documents = unmatched,
            "documents without a master customer left out of exposure"
        );
    }

    let mut out = BTreeMap::new();
    for master in &input.masters {
        let Some(t) = totals.remove(master.master_id.as_str()) else {
            continue;
        };
        let exposure = add(t.receivables, t.orders, "exposure")?
            .checked_sub(t.unapplied)
            .ok_or_else(|| ExposureError::Overflow {
                what: "exposure".to_string(),
            })?;
        let limit = credit_limit(master, fx)?;
        let (available, utilization_pct) = limit_figures(limit, exposure)?;
        let sources = t
            .sources
            .into_iter()
            .map(|source| {
                let last_synced_at = input.last_sync.get(&source).copied();
                let stale = is_stale(last_synced_at, now, stale_after);
                SourceFreshness {
                    source,
                    last_synced_at,
                    stale,
                }
            })
            .collect();
        out.insert(
            master.master_id.clone(),
            Exposure {
                master_id: master.master_id.clone(),
                name: master
                    .golden
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                currency: fx.base,
                credit_limit: limit,
                open_receivables: t.receivables,
                open_orders: t.orders,
                unapplied_payments: t.unapplied,
                exposure,
                available,
                utilization_pct,
                aging: t.aging,
                max_days_overdue: t.max_days_overdue,
                sources,
            },
        );
    }
    Ok(out)
}
