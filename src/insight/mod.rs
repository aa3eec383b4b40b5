//! What the master knows about each customer, derived after every sync.
//!
//! Per master customer:
//! - its **value tier** by the 80/20 rule on trailing-12-month invoiced revenue ([`tier`]);
//! - its **lifecycle stage** and **churn warning** from its sales orders ([`lifecycle`]);
//! - for dealers, the **channel inventory** of its dealer records ([`crate::channel`]).
//!
//! Revenue: posted invoices dated in the twelve months ending on the as-of date (after the same
//! day a year before, up to and including the as-of date), credit notes subtracting; each
//! document converted to the base currency and rounded to cents on its own
//! ([`FxTable::to_base`]). Orders: confirmed, invoiced and closed ones (drafts and cancelled
//! orders are not orders). Documents count for the master their (source, customer key) is
//! linked to; others are left out. Pure: the caller brings the records and the date.

pub mod lifecycle;
mod settings;
pub mod tier;

pub use lifecycle::{Churn, ChurnStatus, Lifecycle, Stage};
pub use settings::InsightSettings;
pub use tier::{Tier, ValueRank};

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Months, NaiveDate, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::channel::DealerInventory;
use crate::exposure::{ExposureError, FxTable};
use crate::model::XrefRow;
use crate::model::{Currency, Invoice, InvoiceKind, OrderStatus, SalesOrder};

/// Insights cannot be computed.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum InsightError {
    /// An amount could not be converted to the base currency.
    #[error(transparent)]
    Fx(#[from] ExposureError),
    /// A sum or product left the range of a decimal.
    #[error("amount out of range while computing {what}")]
    Overflow {
        /// What was being computed.
        what: String,
    },
}

/// Everything derived about one master customer: the stored row of `customer_insights` and the
/// `insight` of `tributary customer ID --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerInsight {
    /// Master ID.
    pub master_id: String,
    /// The date every window ends on (the sync date unless injected).
    pub as_of: NaiveDate,
    /// When it was computed (the sync).
    pub computed_at: DateTime<Utc>,
    /// Currency of the revenue.
    pub currency: Currency,
    /// Value tier and rank.
    pub value: ValueRank,
    /// Lifecycle stage and churn warning.
    pub lifecycle: Lifecycle,
    /// True when a linked source record is a dealer or distributor, or holds channel data.
    pub dealer: bool,
    /// Channel inventory of each linked dealer record.
    pub channel: Vec<DealerInventory>,
}

/// Everything insights are computed from.
#[derive(Debug, Clone, Default)]
pub struct InsightInput {
    /// Every master ID.
    pub masters: Vec<String>,
    /// Cross-references (source, customer key) → master.
    pub xrefs: Vec<XrefRow>,
    /// Source customers (source, key) that are dealers or distributors.
    pub dealers: HashSet<(String, String)>,
    /// Invoices with their source.
    pub invoices: Vec<(String, Invoice)>,
    /// Sales orders with their source.
    pub orders: Vec<(String, SalesOrder)>,
    /// Channel inventory per dealer of each source.
    pub channel: Vec<DealerInventory>,
}

/// The first day of the twelve revenue months ending on `as_of`.
pub fn revenue_window_start(as_of: NaiveDate) -> NaiveDate {
    as_of
        .checked_sub_months(Months::new(12))
        .and_then(|d| d.succ_opt())
        .unwrap_or(NaiveDate::MIN)
}

/// The revenue an invoice adds, in its own currency: its total, negative for a credit note,
/// nothing when it is not posted or dated outside `from..=to`.
pub fn invoiced(invoice: &Invoice, from: NaiveDate, to: NaiveDate) -> Decimal {
    if !invoice.posted || invoice.invoice_date < from || invoice.invoice_date > to {
        return Decimal::ZERO;
    }
    match invoice.kind {
        InvoiceKind::Invoice => invoice.total,
        InvoiceKind::CreditNote => -invoice.total,
    }
}

/// Whether an order in this status is a purchase (drafts and cancelled orders are not).
pub fn is_purchase(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Confirmed | OrderStatus::Invoiced | OrderStatus::Closed
    )
}

/// `part` as a percentage of `total`, two decimals (midpoints away from zero); 0 when `total`
/// is not positive.
pub(crate) fn percent(part: Decimal, total: Decimal) -> Result<Decimal, InsightError> {
    if total <= Decimal::ZERO {
        return Ok(Decimal::ZERO);
    }
    let mut pct = part
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|p| p.checked_div(total))
        .ok_or_else(|| InsightError::Overflow {
            what: "a revenue share".into(),
        })?
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    pct.rescale(2);
    Ok(pct)
}

/// Computes the insight of every master, in rank order (highest revenue first).
pub fn compute(
    input: &InsightInput,
    fx: &FxTable,
    rules: &InsightSettings,
    as_of: NaiveDate,
    computed_at: DateTime<Utc>,
) -> Result<Vec<CustomerInsight>, InsightError> {
    let owner: HashMap<(&str, &str), &str> = input
        .xrefs
        .iter()
        .map(|x| ((x.source.as_str(), x.key.as_str()), x.master_id.as_str()))
        .collect();
    let master_of = |source: &str, key: &str| owner.get(&(source, key)).copied();

    let from = revenue_window_start(as_of);
    let mut revenue: BTreeMap<&str, Decimal> = input
        .masters
        .iter()
        .map(|m| (m.as_str(), Decimal::ZERO))
        .collect();
    for (source, invoice) in &input.invoices {
        let Some(sum) = master_of(source, &invoice.customer_key).and_then(|m| revenue.get_mut(m))
        else {
            continue;
        };
        let amount = fx.to_base(invoiced(invoice, from, as_of), invoice.currency)?;
        *sum = sum
            .checked_add(amount)
            .ok_or_else(|| InsightError::Overflow {
                what: "trailing revenue".into(),
            })?;
    }

    let mut order_dates: HashMap<&str, Vec<NaiveDate>> = HashMap::new();
    for (source, order) in input.orders.iter().filter(|(_, o)| is_purchase(o.status)) {
        if let Some(m) = master_of(source, &order.customer_key) {
            order_dates.entry(m).or_default().push(order.order_date);
        }
    }
    let mut channel: HashMap<&str, Vec<DealerInventory>> = HashMap::new();
    for d in &input.channel {
        if let Some(m) = master_of(&d.source, &d.dealer_key) {
            channel.entry(m).or_default().push(d.clone());
        }
    }
    let dealer_masters: HashSet<&str> = input
        .dealers
        .iter()
        .filter_map(|(s, k)| master_of(s, k))
        .collect();

    let revenues: Vec<(String, Decimal)> = revenue
        .into_iter()
        .map(|(m, r)| (m.to_string(), r))
        .collect();
    tier::rank(&revenues)?
        .into_iter()
        .map(|(master_id, value)| {
            let id = master_id.as_str();
            let dates = order_dates.get(id).map(Vec::as_slice).unwrap_or_default();
            let channel = channel.remove(id).unwrap_or_default();
            Ok(CustomerInsight {
                as_of,
                computed_at,
                currency: fx.base,
                value,
                lifecycle: lifecycle::lifecycle(dates, as_of, rules),
                dealer: dealer_masters.contains(id) || !channel.is_empty(),
                channel,
                master_id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
