//! Stock positions and channel sell-through.

use chrono::{DateTime, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Currency;

/// The tier of the location that holds stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocationTier {
    /// The company's central warehouse.
    HqWarehouse,
    /// A company branch.
    Branch,
    /// A dealer in the channel (stock owned or held by the dealer).
    Dealer,
}

/// Stock of one SKU at one location at a point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryPosition {
    /// The source's key for this position (usually location + SKU).
    pub source_key: String,
    /// Location code.
    pub location_code: String,
    /// Location name.
    #[serde(default)]
    pub location_name: Option<String>,
    /// Location tier.
    pub tier: LocationTier,
    /// For dealer stock: the dealer's customer key in the same source.
    #[serde(default)]
    pub dealer_key: Option<String>,
    /// Article / SKU code.
    pub sku: String,
    /// Quantity on hand.
    pub on_hand: Decimal,
    /// Quantity in transit to the location.
    #[serde(default)]
    pub in_transit: Decimal,
    /// When the quantity was counted.
    pub as_of: DateTime<FixedOffset>,
}

/// Sell-through: what a dealer sold of one SKU on one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSale {
    /// The source's key for this line (usually dealer + SKU + date).
    pub source_key: String,
    /// The dealer's customer key in the same source.
    pub dealer_key: String,
    /// Article / SKU code.
    pub sku: String,
    /// Day of the sales.
    pub date: NaiveDate,
    /// Units sold.
    pub quantity: Decimal,
    /// Sales value, when reported.
    #[serde(default)]
    pub amount: Option<Decimal>,
    /// Currency of `amount`.
    #[serde(default)]
    pub currency: Option<Currency>,
}
