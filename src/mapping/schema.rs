//! The target side: which fields each canonical entity has, their kinds and which of them
//! the entity cannot do without.
//!
//! This table mirrors the structs in [`crate::model`]; the unit tests check that a record
//! built from every field of the table deserialises, so the two cannot drift apart unnoticed.

use crate::model::Entity;

use super::spec::FieldType;

/// What a target field holds, as far as the mapping is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// One of a fixed set of snake_case names (a model enum).
    Enum(&'static [&'static str]),
    /// An ISO 4217 currency code.
    Currency,
    /// An exact decimal.
    Decimal,
    /// A whole number.
    Integer,
    /// true / false.
    Bool,
    /// A calendar date.
    Date,
    /// A date and time with offset.
    Datetime,
    /// A list of objects with their own fields (sales-order lines).
    Lines(&'static [TargetField]),
}

impl Kind {
    /// The source type used when a field spec gives no `type`; `None` for lists.
    pub fn default_type(self) -> Option<FieldType> {
        Some(match self {
            Kind::Text | Kind::Enum(_) | Kind::Currency => FieldType::String,
            Kind::Decimal => FieldType::Decimal,
            Kind::Integer => FieldType::Integer,
            Kind::Bool => FieldType::Bool,
            Kind::Date => FieldType::Date,
            Kind::Datetime => FieldType::Datetime,
            Kind::Lines(_) => return None,
        })
    }

    /// Whether a value read as `ty` can fill a field of this kind.
    pub fn accepts(self, ty: FieldType) -> bool {
        match self {
            // Anything can be rendered as text.
            Kind::Text | Kind::Enum(_) | Kind::Currency => true,
            Kind::Decimal => matches!(ty, FieldType::Decimal | FieldType::Integer),
            Kind::Integer => ty == FieldType::Integer,
            Kind::Bool => ty == FieldType::Bool,
            Kind::Date => matches!(ty, FieldType::Date | FieldType::Datetime),
            Kind::Datetime => ty == FieldType::Datetime,
            Kind::Lines(_) => false,
        }
    }

    /// A short name for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Enum(_) => "a fixed set of names",
            Kind::Currency => "a currency code",
            Kind::Decimal => "decimal",
            Kind::Integer => "integer",
            Kind::Bool => "bool",
            Kind::Date => "date",
            Kind::Datetime => "datetime",
            Kind::Lines(_) => "a list of lines",
        }
    }
}

/// One field of a canonical entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetField {
    /// Field name as serialised.
    pub name: &'static str,
    /// What it holds.
    pub kind: Kind,
    /// The model has no default for it: a record without it does not fit the entity.
    pub required: bool,
}

const fn f(name: &'static str, kind: Kind, required: bool) -> TargetField {
    TargetField {
        name,
        kind,
        required,
    }
}

const CUSTOMER_KINDS: &[&str] = &["customer", "distributor", "dealer", "agent", "branch"];
const ORDER_STATUSES: &[&str] = &["draft", "confirmed", "invoiced", "closed", "cancelled"];
const INVOICE_KINDS: &[&str] = &["invoice", "credit_note"];
const LOCATION_TIERS: &[&str] = &["hq_warehouse", "branch", "dealer"];

const CUSTOMER: &[TargetField] = &[
    f("source_key", Kind::Text, true),
    f("name", Kind::Text, true),
    f("kind", Kind::Enum(CUSTOMER_KINDS), false),
    f("tax_id", Kind::Text, false),
    f("country", Kind::Text, false),
    f("region", Kind::Text, false),
    f("city", Kind::Text, false),
    f("postal_code", Kind::Text, false),
    f("address", Kind::Text, false),
    f("phone", Kind::Text, false),
    f("email", Kind::Text, false),
    f("website", Kind::Text, false),
    f("given_name", Kind::Text, false),
    f("family_name", Kind::Text, false),
    f("birth_date", Kind::Date, false),
    f("personal_id", Kind::Text, false),
    f("credit_limit", Kind::Decimal, false),
    f("currency", Kind::Currency, false),
    f("payment_terms_days", Kind::Integer, false),
    f("parent_key", Kind::Text, false),
    f("tier", Kind::Text, false),
    f("active", Kind::Bool, false),
    f("updated_at", Kind::Datetime, false),
];

const ORDER_LINE: &[TargetField] = &[
    f("sku", Kind::Text, true),
    f("description", Kind::Text, false),
    f("quantity", Kind::Decimal, true),
    f("quantity_invoiced", Kind::Decimal, false),
    f("unit_price", Kind::Decimal, true),
];

const SALES_ORDER: &[TargetField] = &[
    f("source_key", Kind::Text, true),
    f("customer_key", Kind::Text, true),
    f("order_date", Kind::Date, true),
    f("status", Kind::Enum(ORDER_STATUSES), true),
    f("currency", Kind::Currency, true),
    f("total", Kind::Decimal, true),
    f("invoiced_amount", Kind::Decimal, false),
    f("lines", Kind::Lines(ORDER_LINE), false),
    f("updated_at", Kind::Datetime, false),
];

const INVOICE: &[TargetField] = &[
    f("source_key", Kind::Text, true),
    f("customer_key", Kind::Text, true),
    f("number", Kind::Text, false),
    f("kind", Kind::Enum(INVOICE_KINDS), false),
    f("invoice_date", Kind::Date, true),
    f("due_date", Kind::Date, true),
    f("currency", Kind::Currency, true),
    f("total", Kind::Decimal, true),
    f("residual", Kind::Decimal, true),
    f("order_key", Kind::Text, false),
    f("posted", Kind::Bool, false),
    f("updated_at", Kind::Datetime, false),
];

const PAYMENT: &[TargetField] = &[
    f("source_key", Kind::Text, true),
    f("customer_key", Kind::Text, true),
    f("payment_date", Kind::Date, true),
    f("currency", Kind::Currency, true),
    f("amount", Kind::Decimal, true),
    f("unapplied", Kind::Decimal, false),
    f("updated_at", Kind::Datetime, false),
];

const INVENTORY_POSITION: &[TargetField] = &[
    f("source_key", Kind::Text, true),
    f("location_code", Kind::Text, true),
    f("location_name", Kind::Text, false),
    f("tier", Kind::Enum(LOCATION_TIERS), true),
    f("dealer_key", Kind::Text, false),
    f("sku", Kind::Text, true),
    f("on_hand", Kind::Decimal, true),
    f("in_transit", Kind::Decimal, false),
    f("as_of", Kind::Datetime, true),
];

const CHANNEL_SALE: &[TargetField] = &[
    f("source_key", Kind::Text, true),
    f("dealer_key", Kind::Text, true),
    f("sku", Kind::Text, true),
    f("date", Kind::Date, true),
    f("quantity", Kind::Decimal, true),
    f("amount", Kind::Decimal, false),
    f("currency", Kind::Currency, false),
];

/// Every field of `entity`, in the model's order.
pub fn fields(entity: Entity) -> &'static [TargetField] {
    match entity {
        Entity::Customer => CUSTOMER,
        Entity::SalesOrder => SALES_ORDER,
        Entity::Invoice => INVOICE,
        Entity::Payment => PAYMENT,
        Entity::InventoryPosition => INVENTORY_POSITION,
        Entity::ChannelSale => CHANNEL_SALE,
    }
}

/// The field called `name` in `table`.
pub fn find(table: &'static [TargetField], name: &str) -> Option<&'static TargetField> {
    table.iter().find(|t| t.name == name)
}

/// The field names of `table`, comma-separated, for messages.
pub fn names(table: &[TargetField]) -> String {
    table.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}
