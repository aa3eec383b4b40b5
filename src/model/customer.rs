//! A customer as one source knows it (a dealer or distributor is a customer too).

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Currency;

/// What role a customer plays in the distribution channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerKind {
    /// An ordinary end customer.
    #[default]
    Customer,
    /// A distributor that supplies dealers.
    Distributor,
    /// A dealer (reseller) in the channel.
    Dealer,
    /// A sales agent.
    Agent,
    /// A branch of the company itself.
    Branch,
}

/// A customer record from one source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    /// The source's own key for this customer.
    pub source_key: String,
    /// Legal or trading name.
    pub name: String,
    /// Channel role.
    #[serde(default)]
    pub kind: CustomerKind,
    /// Tax identifier as the source holds it (USCC, VAT, EIN …).
    #[serde(default)]
    pub tax_id: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[serde(default)]
    pub country: Option<String>,
    /// Region, province or state.
    #[serde(default)]
    pub region: Option<String>,
    /// City.
    #[serde(default)]
    pub city: Option<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
    /// Street address.
    #[serde(default)]
    pub address: Option<String>,
    /// Phone number as given.
    #[serde(default)]
    pub phone: Option<String>,
    /// E-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Website (a URL or a bare domain), when the source holds one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    /// Given name, when the customer is a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name, when the customer is a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Date of birth, when the customer is a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// A personal identifier (national ID, social security number), when the customer is a
    /// person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_id: Option<String>,
    /// Credit limit granted by this source, in `currency`.
    #[serde(default)]
    pub credit_limit: Option<Decimal>,
    /// Currency of the credit limit.
    #[serde(default)]
    pub currency: Option<Currency>,
    /// Payment terms in days.
    #[serde(default)]
    pub payment_terms_days: Option<i64>,
    /// Source key of the parent (group head, distributor) in the same source.
    #[serde(default)]
    pub parent_key: Option<String>,
    /// Channel tier or class as the source names it (e.g. "gold", "L1").
    #[serde(default)]
    pub tier: Option<String>,
    /// False when the source has archived or blocked the customer.
    #[serde(default = "yes")]
    pub active: bool,
    /// When the source last changed the record.
    #[serde(default)]
    pub updated_at: Option<DateTime<FixedOffset>>,
}

fn yes() -> bool {
    true
}
