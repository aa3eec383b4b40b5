//! Commercial documents: sales orders, invoices and payments.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Currency;

/// Where a sales order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// A quotation or draft: no commitment yet.
    Draft,
    /// Confirmed and not (fully) invoiced: it counts towards credit exposure.
    Confirmed,
    /// Fully invoiced.
    Invoiced,
    /// Closed or delivered and done.
    Closed,
    /// Cancelled.
    Cancelled,
}

/// One line of a sales order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// Article / SKU code.
    pub sku: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Quantity ordered.
    pub quantity: Decimal,
    /// Quantity already invoiced.
    #[serde(default)]
    pub quantity_invoiced: Decimal,
    /// Net unit price in the order currency.
    pub unit_price: Decimal,
}

/// A sales order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesOrder {
    /// The source's key for the order.
    pub source_key: String,
    /// The ordering customer's key in the same source.
    pub customer_key: String,
    /// Order date.
    pub order_date: NaiveDate,
    /// Status.
    pub status: OrderStatus,
    /// Currency of every amount on the order.
    pub currency: Currency,
    /// Order total (with tax where the source includes it).
    pub total: Decimal,
    /// Amount already invoiced, when the source states it; otherwise derived from the lines.
    #[serde(default)]
    pub invoiced_amount: Option<Decimal>,
    /// Lines.
    #[serde(default)]
    pub lines: Vec<OrderLine>,
    /// When the source last changed the record.
    #[serde(default)]
    pub updated_at: Option<DateTime<FixedOffset>>,
}

impl SalesOrder {
    /// The value still to be invoiced, counted in credit exposure only while the order is
    /// confirmed. When `invoiced_amount` is absent, the invoiced share of the net line value
    /// is applied to the total, so tax is carried proportionally.
    pub fn open_amount(&self) -> Decimal {
        if self.status != OrderStatus::Confirmed {
            return Decimal::ZERO;
        }
        let invoiced = match self.invoiced_amount {
            Some(amount) => amount,
            None => {
                let net: Decimal = self.lines.iter().map(|l| l.quantity * l.unit_price).sum();
                let done: Decimal = self
                    .lines
                    .iter()
                    .map(|l| l.quantity_invoiced * l.unit_price)
                    .sum();
                if net.is_zero() {
                    Decimal::ZERO
                } else {
                    (self.total * done / net).round_dp(2)
                }
            }
        };
        (self.total - invoiced).max(Decimal::ZERO)
    }
}

/// An invoice or a credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// A customer invoice: a receivable.
    #[default]
    Invoice,
    /// A credit note: reduces receivables.
    CreditNote,
}

/// A customer invoice with its open (unpaid) residual.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invoice {
    /// The source's key for the invoice.
    pub source_key: String,
    /// The invoiced customer's key in the same source.
    pub customer_key: String,
    /// Invoice number as printed.
    #[serde(default)]
    pub number: Option<String>,
    /// Invoice or credit note.
    #[serde(default)]
    pub kind: InvoiceKind,
    /// Invoice date.
    pub invoice_date: NaiveDate,
    /// Due date; aging counts from here.
    pub due_date: NaiveDate,
    /// Currency of the amounts.
    pub currency: Currency,
    /// Invoice total.
    pub total: Decimal,
    /// Amount still open (unpaid), as a positive number for both kinds.
    pub residual: Decimal,
    /// Source key of the sales order it invoices, when known.
    #[serde(default)]
    pub order_key: Option<String>,
    /// False for cancelled or draft invoices, which do not count.
    #[serde(default = "yes")]
    pub posted: bool,
    /// When the source last changed the record.
    #[serde(default)]
    pub updated_at: Option<DateTime<FixedOffset>>,
}

impl Invoice {
    /// The open amount with its sign: positive for invoices, negative for credit notes.
    pub fn signed_residual(&self) -> Decimal {
        if !self.posted {
            return Decimal::ZERO;
        }
        match self.kind {
            InvoiceKind::Invoice => self.residual,
            InvoiceKind::CreditNote => -self.residual,
        }
    }
}

/// A customer payment, possibly not yet applied to any invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// The source's key for the payment.
    pub source_key: String,
    /// The paying customer's key in the same source.
    pub customer_key: String,
    /// Date received.
    pub payment_date: NaiveDate,
    /// Currency of the amounts.
    pub currency: Currency,
    /// Amount received.
    pub amount: Decimal,
    /// Part of the amount not yet applied to an invoice.
    #[serde(default)]
    pub unapplied: Decimal,
    /// When the source last changed the record.
    #[serde(default)]
    pub updated_at: Option<DateTime<FixedOffset>>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn order(status: OrderStatus, invoiced: Option<Decimal>, lines: Vec<OrderLine>) -> SalesOrder {
        SalesOrder {
            source_key: "SO1".into(),
            customer_key: "C1".into(),
            order_date: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            status,
            currency: "CNY".parse().unwrap(),
            total: dec!(1130),
            invoiced_amount: invoiced,
            lines,
            updated_at: None,
        }
    }

    fn line(q: Decimal, qi: Decimal, p: Decimal) -> OrderLine {
        OrderLine {
            sku: "A".into(),
            description: None,
            quantity: q,
            quantity_invoiced: qi,
            unit_price: p,
        }
    }

    #[test]
    fn open_amount_uses_stated_invoiced_amount() {
        assert_eq!(
            order(OrderStatus::Confirmed, Some(dec!(130)), vec![]).open_amount(),
            dec!(1000)
        );
    }

    #[test]
    fn open_amount_derives_invoiced_share_from_lines_with_tax() {
        // Net 1000 (10 × 60 + 4 × 100), 3 of the first line invoiced = 180 net = 18 %.
        let lines = vec![
            line(dec!(10), dec!(3), dec!(60)),
            line(dec!(4), dec!(0), dec!(100)),
        ];
        assert_eq!(
            order(OrderStatus::Confirmed, None, lines).open_amount(),
            dec!(926.60)
        );
    }

    #[test]
    fn only_confirmed_orders_are_open() {
        for s in [
            OrderStatus::Draft,
            OrderStatus::Invoiced,
            OrderStatus::Closed,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(order(s, None, vec![]).open_amount(), Decimal::ZERO);
        }
    }
}
