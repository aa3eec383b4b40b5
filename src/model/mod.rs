//! Canonical entities: the one vocabulary every source is mapped into, and the customer master
//! built from them (master rows, cross-references, run ids).
//!
//! Depends on no other Tributary module. Money amounts are [`Decimal`] with an explicit
//! [`Currency`] on the document that carries them; timestamps carry their offset.

mod canonical;
mod customer;
mod documents;
mod inventory;
mod master;
mod money;

pub use canonical::{CanonicalRecord, Entity, ModelError};
pub use customer::{Customer, CustomerKind};
pub use documents::{Invoice, InvoiceKind, OrderLine, OrderStatus, Payment, SalesOrder};
pub use inventory::{ChannelSale, InventoryPosition, LocationTier};
pub use master::{MasterRow, MasterState, RunId, XrefRow};
pub use money::{Currency, Money};

pub use rust_decimal::Decimal;
