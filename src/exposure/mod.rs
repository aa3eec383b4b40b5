//! Credit exposure per master customer, in the base currency.
//!
//! exposure = open receivables + open (uninvoiced) orders − unapplied payments; available =
//! credit limit − exposure; utilisation = exposure ÷ limit. Receivables are aged by days past
//! due. Each figure says how fresh its sources are. Pure: the caller brings the records.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use thiserror::Error;

use crate::model::{Currency, Invoice, Payment, SalesOrder};
use crate::store::{MasterRow, XrefRow};

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
}

/// FX rates to the base currency: 1 unit of a currency = `rate` units of base.
#[derive(Debug, Clone, PartialEq)]
pub struct FxTable {
    /// The base currency.
    pub base: Currency,
    /// Rates per currency (the base itself is implicit 1).
    pub rates: HashMap<Currency, Decimal>,
}

impl FxTable {
    /// Converts an amount to the base currency, rounded to cents (half away from zero).
    pub fn to_base(&self, _amount: Decimal, _currency: Currency) -> Result<Decimal, ExposureError> {
        todo!()
    }
}

/// Receivables by days past due.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Aging {
    /// Not yet due.
    #[serde(with = "rust_decimal::serde::str")]
    pub not_due: Decimal,
    /// 1–30 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub d1_30: Decimal,
    /// 31–60 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub d31_60: Decimal,
    /// 61–90 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub d61_90: Decimal,
    /// More than 90 days overdue.
    #[serde(with = "rust_decimal::serde::str")]
    pub over_90: Decimal,
}

/// How fresh one contributing source is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFreshness {
    /// Connector name.
    pub source: String,
    /// End of its last successful sync; `None` = never synced successfully.
    pub last_synced_at: Option<DateTime<Utc>>,
    /// True when older than the staleness threshold (or never synced).
    pub stale: bool,
}

/// The exposure of one master customer: the stable JSON contract of `tributary credit --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    /// Master ID.
    pub master_id: String,
    /// Golden name.
    pub name: String,
    /// Base currency of every amount.
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

/// Computes exposure for every master, keyed by master ID. Documents whose customer has no
/// master are left out. A source is stale when its last sync is older than `stale_after`.
pub fn compute(
    _input: &ExposureInput,
    _fx: &FxTable,
    _today: NaiveDate,
    _now: DateTime<Utc>,
    _stale_after: chrono::Duration,
) -> Result<BTreeMap<String, Exposure>, ExposureError> {
    todo!("exposure")
}
