//! The canonical record: one of the entities, tagged by [`Entity`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{ChannelSale, Customer, InventoryPosition, Invoice, Payment, SalesOrder};

/// A problem with a canonical value.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    /// Not an ISO 4217 code.
    #[error("`{0}` is not a three-letter ISO 4217 currency code")]
    Currency(String),
    /// Not one of the entity names.
    #[error(
        "unknown entity `{0}` (expected one of customer, sales_order, invoice, payment, inventory_position, channel_sale)"
    )]
    Entity(String),
    /// A mapped object does not fit the entity.
    #[error("does not fit entity {entity}: {reason}")]
    Shape {
        /// The entity it was meant to be.
        entity: Entity,
        /// What serde said.
        reason: String,
    },
}

/// The kinds of canonical entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// [`Customer`]
    Customer,
    /// [`SalesOrder`]
    SalesOrder,
    /// [`Invoice`]
    Invoice,
    /// [`Payment`]
    Payment,
    /// [`InventoryPosition`]
    InventoryPosition,
    /// [`ChannelSale`]
    ChannelSale,
}

impl Entity {
    /// Every entity, in dependency order (customers first).
    pub const ALL: [Entity; 6] = [
        Entity::Customer,
        Entity::SalesOrder,
        Entity::Invoice,
        Entity::Payment,
        Entity::InventoryPosition,
        Entity::ChannelSale,
    ];

    /// The snake_case name used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Customer => "customer",
            Entity::SalesOrder => "sales_order",
            Entity::Invoice => "invoice",
            Entity::Payment => "payment",
            Entity::InventoryPosition => "inventory_position",
            Entity::ChannelSale => "channel_sale",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Entity {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| ModelError::Entity(s.to_string()))
    }
}

/// A record in canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "entity", content = "record", rename_all = "snake_case")]
// Records pass one at a time from mapping to staging; a box per customer would cost more than
// the few hundred bytes the smaller variants leave unused.
#[allow(clippy::large_enum_variant)]
pub enum CanonicalRecord {
    /// A customer.
    Customer(Customer),
    /// A sales order.
    SalesOrder(SalesOrder),
    /// An invoice.
    Invoice(Invoice),
    /// A payment.
    Payment(Payment),
    /// A stock position.
    InventoryPosition(InventoryPosition),
    /// A sell-through line.
    ChannelSale(ChannelSale),
}

impl CanonicalRecord {
    /// Builds a record of `entity` from a mapped JSON object.
    pub fn from_value(entity: Entity, value: serde_json::Value) -> Result<Self, ModelError> {
        fn de<T: serde::de::DeserializeOwned>(
            entity: Entity,
            v: serde_json::Value,
        ) -> Result<T, ModelError> {
            serde_json::from_value(v).map_err(|e| ModelError::Shape {
                entity,
                reason: e.to_string(),
            })
        }
        Ok(match entity {
            Entity::Customer => CanonicalRecord::Customer(de(entity, value)?),
            Entity::SalesOrder => CanonicalRecord::SalesOrder(de(entity, value)?),
            Entity::Invoice => CanonicalRecord::Invoice(de(entity, value)?),
            Entity::Payment => CanonicalRecord::Payment(de(entity, value)?),
            Entity::InventoryPosition => CanonicalRecord::InventoryPosition(de(entity, value)?),
            Entity::ChannelSale => CanonicalRecord::ChannelSale(de(entity, value)?),
        })
    }

    /// The record as a JSON object (the entity's own fields, without the tag).
    pub fn to_value(&self) -> serde_json::Value {
        let v = match self {
            CanonicalRecord::Customer(r) => serde_json::to_value(r),
            CanonicalRecord::SalesOrder(r) => serde_json::to_value(r),
            CanonicalRecord::Invoice(r) => serde_json::to_value(r),
            CanonicalRecord::Payment(r) => serde_json::to_value(r),
            CanonicalRecord::InventoryPosition(r) => serde_json::to_value(r),
            CanonicalRecord::ChannelSale(r) => serde_json::to_value(r),
        };
        v.expect("canonical entities serialise to JSON")
    }

    /// Which entity this is.
    pub fn entity(&self) -> Entity {
        match self {
            CanonicalRecord::Customer(_) => Entity::Customer,
            CanonicalRecord::SalesOrder(_) => Entity::SalesOrder,
            CanonicalRecord::Invoice(_) => Entity::Invoice,
            CanonicalRecord::Payment(_) => Entity::Payment,
            CanonicalRecord::InventoryPosition(_) => Entity::InventoryPosition,
            CanonicalRecord::ChannelSale(_) => Entity::ChannelSale,
        }
    }

    /// The source's key for the record.
    pub fn source_key(&self) -> &str {
        match self {
            CanonicalRecord::Customer(r) => &r.source_key,
            CanonicalRecord::SalesOrder(r) => &r.source_key,
            CanonicalRecord::Invoice(r) => &r.source_key,
            CanonicalRecord::Payment(r) => &r.source_key,
            CanonicalRecord::InventoryPosition(r) => &r.source_key,
            CanonicalRecord::ChannelSale(r) => &r.source_key,
        }
    }

    /// The key, in the same source, of the customer this record belongs to.
    pub fn customer_key(&self) -> Option<&str> {
        match self {
            CanonicalRecord::Customer(r) => Some(&r.source_key),
            CanonicalRecord::SalesOrder(r) => Some(&r.customer_key),
            CanonicalRecord::Invoice(r) => Some(&r.customer_key),
            CanonicalRecord::Payment(r) => Some(&r.customer_key),
            CanonicalRecord::InventoryPosition(r) => r.dealer_key.as_deref(),
            CanonicalRecord::ChannelSale(r) => Some(&r.dealer_key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entity_names_round_trip() {
        for e in Entity::ALL {
            assert_eq!(e.as_str().parse::<Entity>().unwrap(), e);
        }
        assert!("order".parse::<Entity>().is_err());
    }

    #[test]
    fn from_value_builds_and_reports_shape_errors() {
        let rec = CanonicalRecord::from_value(
            Entity::Payment,
            json!({"source_key": "P1", "customer_key": "C1", "payment_date": "2026-03-01",
                   "currency": "EUR", "amount": "100.50", "unapplied": "20"}),
        )
        .unwrap();
        assert_eq!(rec.customer_key(), Some("C1"));
        assert_eq!(rec.to_value()["amount"], json!("100.50"));

        let err =
            CanonicalRecord::from_value(Entity::Payment, json!({"source_key": "P1"})).unwrap_err();
        assert!(err.to_string().contains("customer_key"), "{err}");
    }
}
