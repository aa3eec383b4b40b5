//! The channel inventory view: the staged dealer stock and sell-through of every source, through
//! [`crate::channel::channel_inventory`].

use chrono::NaiveDate;

use super::{ViewError, staged_of};
use crate::channel::{DealerInventory, Sourced, channel_inventory};
use crate::model::{CanonicalRecord, Entity};
use crate::store::Store;

/// The inventory held in the channel per dealer as of `today` over a `days` window; with
/// `dealer`, only the dealers with that key.
pub async fn dealer_inventory(
    store: &Store,
    today: NaiveDate,
    days: u32,
    dealer: Option<&str>,
) -> Result<Vec<DealerInventory>, ViewError> {
    let mut positions = Vec::new();
    for (source, rec) in staged_of(store, Entity::InventoryPosition).await? {
        if let CanonicalRecord::InventoryPosition(record) = rec {
            positions.push(Sourced { source, record });
        }
    }
    let mut sales = Vec::new();
    for (source, rec) in staged_of(store, Entity::ChannelSale).await? {
        if let CanonicalRecord::ChannelSale(record) = rec {
            sales.push(Sourced { source, record });
        }
    }
    let mut out = channel_inventory(&positions, &sales, today, days)?;
    if let Some(dealer) = dealer {
        out.retain(|d| d.dealer_key == dealer);
    }
    Ok(out)
}
