//! Inventory held in the distribution channel, per dealer.
//!
//! From the staged dealer stock positions (`inventory_position` with tier `dealer`) and the
//! staged sell-through (`channel_sale`), each dealer of each source gets:
//!
//! | figure | meaning |
//! |---|---|
//! | `on_hand`, `in_transit` | sums over the dealer's current positions (every SKU) |
//! | `sell_through` | units sold in the last `days` days, `today` included (returns subtract) |
//! | `weekly_sell_through` | `sell_through × 7 ÷ days`, 2 decimals (midpoints away from zero) |
//! | `weeks_of_cover` | `on_hand ÷ (sell_through × 7 ÷ days)`, 2 decimals; absent when nothing was sold (zero or net returns) |
//!
//! All figures are exact decimals (units, not money); weeks of cover is computed from the
//! unrounded weekly rate. A position belongs to its `dealer_key`, or to its `location_code`
//! when the source gave no dealer key. Dealer keys are keys of one source, so a dealer is
//! identified by (source, dealer key). Sales dated after `today` are not counted.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::model::{ChannelSale, InventoryPosition, LocationTier};

/// Errors of the channel view.
#[derive(Debug, Error)]
pub enum ChannelError {
    /// A sell-through window of zero days.
    #[error("the sell-through window must be at least one day")]
    EmptyWindow,
}

/// A canonical record and the source (connector) it was staged from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sourced<T> {
    /// Connector name.
    pub source: String,
    /// The record.
    pub record: T,
}

/// Channel inventory of one dealer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DealerInventory {
    /// Source (connector) of the dealer's records.
    pub source: String,
    /// The dealer's key in that source.
    pub dealer_key: String,
    /// SKUs with a stock position.
    pub skus: usize,
    /// Units on hand.
    pub on_hand: Decimal,
    /// Units in transit to the dealer.
    pub in_transit: Decimal,
    /// Latest stock count among the positions.
    pub stock_as_of: Option<DateTime<FixedOffset>>,
    /// Length of the sell-through window in days.
    pub window_days: u32,
    /// Units sold in the window.
    pub sell_through: Decimal,
    /// Average units sold per week in the window (2 decimals).
    pub weekly_sell_through: Decimal,
    /// On hand ÷ average weekly sell-through (2 decimals); `None` when nothing was sold.
    pub weeks_of_cover: Option<Decimal>,
}

/// Computes the channel inventory per dealer, sorted by source and dealer key. `today` is the
/// last day of the `days`-day sell-through window.
pub fn channel_inventory(
    positions: &[Sourced<InventoryPosition>],
    sales: &[Sourced<ChannelSale>],
    today: NaiveDate,
    days: u32,
) -> Result<Vec<DealerInventory>, ChannelError> {
    if days == 0 {
        return Err(ChannelError::EmptyWindow);
    }
    let first = today
        .checked_sub_days(Days::new(u64::from(days) - 1))
        .unwrap_or(NaiveDate::MIN);
    let mut dealers: BTreeMap<(String, String), DealerInventory> = BTreeMap::new();
    for p in positions
        .iter()
        .filter(|p| p.record.tier == LocationTier::Dealer)
    {
        let dealer = p
            .record
            .dealer_key
            .as_deref()
            .unwrap_or(&p.record.location_code);
        let d = slot(&mut dealers, &p.source, dealer, days);
        d.skus += 1;
        d.on_hand += p.record.on_hand;
        d.in_transit += p.record.in_transit;
        d.stock_as_of = d.stock_as_of.max(Some(p.record.as_of));
    }
    for s in sales
        .iter()
        .filter(|s| s.record.date >= first && s.record.date <= today)
    {
        slot(&mut dealers, &s.source, &s.record.dealer_key, days).sell_through += s.record.quantity;
    }
    let days = Decimal::from(days);
    let seven = Decimal::from(7);
    Ok(dealers
        .into_values()
        .map(|mut d| {
            d.weekly_sell_through = two_places(d.sell_through * seven / days);
            d.weeks_of_cover = (d.sell_through > Decimal::ZERO)
                .then(|| two_places(d.on_hand * days / (d.sell_through * seven)));
            d
        })
        .collect())
}

/// Two decimals, midpoints away from zero (what a reader of a report expects, unlike the
/// banker's rounding of `round_dp`), always written with both places (`6.00`).
fn two_places(value: Decimal) -> Decimal {
    let mut v =
        value.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    v.rescale(2);
    v
}

fn slot<'a>(
    dealers: &'a mut BTreeMap<(String, String), DealerInventory>,
    source: &str,
    dealer: &str,
    days: u32,
) -> &'a mut DealerInventory {
    dealers
        .entry((source.to_string(), dealer.to_string()))
        .or_insert_with(|| DealerInventory {
            source: source.to_string(),
            dealer_key: dealer.to_string(),
            skus: 0,
            on_hand: Decimal::ZERO,
            in_transit: Decimal::ZERO,
            stock_as_of: None,
            window_days: days,
            sell_through: Decimal::ZERO,
            weekly_sell_through: Decimal::ZERO,
            weeks_of_cover: None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    fn stock(
        source: &str,
        dealer: Option<&str>,
        location: &str,
        sku: &str,
        on_hand: Decimal,
        in_transit: Decimal,
        tier: LocationTier,
    ) -> Sourced<InventoryPosition> {
        Sourced {
            source: source.into(),
            record: InventoryPosition {
                source_key: format!("{location}/{sku}"),
                location_code: location.into(),
                location_name: None,
                tier,
                dealer_key: dealer.map(str::to_string),
                sku: sku.into(),
                on_hand,
                in_transit,
                as_of: DateTime::parse_from_rfc3339("2026-11-21T22:00:00+08:00").unwrap(),
            },
        }
    }

    fn sale(source: &str, dealer: &str, date: &str, quantity: Decimal) -> Sourced<ChannelSale> {
        Sourced {
            source: source.into(),
            record: ChannelSale {
                source_key: format!("{dealer}/{date}"),
                dealer_key: dealer.into(),
                sku: "A".into(),
                date: day(date),
                quantity,
                amount: None,
                currency: None,
            },
        }
    }

    #[test]
    fn on_hand_sell_through_and_weeks_of_cover_per_dealer() {
        use LocationTier::{Dealer, HqWarehouse};
        let positions = vec![
            stock(
                "api",
                Some("D1"),
                "D1-MAIN",
                "A",
                dec!(30),
                dec!(10),
                Dealer,
            ),
            stock("api", Some("D1"), "D1-MAIN", "B", dec!(12), dec!(0), Dealer),
            stock("api", Some("D2"), "D2", "A", dec!(5), dec!(2.5), Dealer),
            // No dealer key: the location code names the dealer.
            stock("api", None, "D4", "A", dec!(8), dec!(0), Dealer),
            // Not channel stock.
            stock("api", None, "HQ", "A", dec!(1000), dec!(0), HqWarehouse),
            // The same dealer code in another source is another dealer.
            stock("uploads", Some("D1"), "D1", "A", dec!(7), dec!(0), Dealer),
        ];
        let sales = vec![
            sale("api", "D1", "2026-11-20", dec!(10)),
            sale("api", "D1", "2026-10-26", dec!(4)), // first day of the 28-day window
            sale("api", "D1", "2026-10-25", dec!(6)), // the day before: not counted
            sale("api", "D1", "2026-11-23", dec!(5)), // after today: not counted
            sale("api", "D2", "2026-11-01", dec!(4)),
            sale("api", "D2", "2026-11-02", dec!(-1)), // a return
            sale("api", "D3", "2026-11-22", dec!(2)),  // sells, holds no stock
        ];
        let out = channel_inventory(&positions, &sales, day("2026-11-22"), 28).unwrap();
        let got: Vec<_> = out
            .iter()
            .map(|d| {
                (
                    d.source.as_str(),
                    d.dealer_key.as_str(),
                    d.skus,
                    d.on_hand,
                    d.in_transit,
                    d.sell_through,
                    d.weekly_sell_through,
                    d.weeks_of_cover,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                // 14 units in 28 days = 3.5 a week; 42 on hand / 3.5 = 12 weeks.
                (
                    "api",
                    "D1",
                    2,
                    dec!(42),
                    dec!(10),
                    dec!(14),
                    dec!(3.50),
                    Some(dec!(12))
                ),
                // 3 units in 28 days = 0.75 a week; 5 / 0.75 = 6.666… weeks.
                (
                    "api",
                    "D2",
                    1,
                    dec!(5),
                    dec!(2.5),
                    dec!(3),
                    dec!(0.75),
                    Some(dec!(6.67))
                ),
                // Nothing on hand: zero weeks of cover.
                (
                    "api",
                    "D3",
                    0,
                    dec!(0),
                    dec!(0),
                    dec!(2),
                    dec!(0.50),
                    Some(dec!(0))
                ),
                // Nothing sold: cover cannot be told.
                ("api", "D4", 1, dec!(8), dec!(0), dec!(0), dec!(0), None),
                ("uploads", "D1", 1, dec!(7), dec!(0), dec!(0), dec!(0), None),
            ]
        );
        assert_eq!(out[0].window_days, 28);
        assert_eq!(
            out[0].stock_as_of,
            Some(DateTime::parse_from_rfc3339("2026-11-21T14:00:00Z").unwrap())
        );
    }

    #[test]
    fn weekly_rate_is_not_rounded_before_the_cover_is_computed() {
        // 10 units in 30 days = 2.333… a week (shown 2.33); 100 / 2.333… = 42.857… → 42.86
        // (dividing by the rounded 2.33 would give 42.92).
        let positions = vec![stock(
            "s",
            Some("D"),
            "D",
            "A",
            dec!(100),
            dec!(0),
            LocationTier::Dealer,
        )];
        let sales = vec![sale("s", "D", "2026-11-01", dec!(10))];
        let out = channel_inventory(&positions, &sales, day("2026-11-22"), 30).unwrap();
        assert_eq!(out[0].weekly_sell_through, dec!(2.33));
        assert_eq!(out[0].weeks_of_cover, Some(dec!(42.86)));
    }

    #[test]
    fn midpoints_round_away_from_zero_and_figures_keep_two_places() {
        // 1 unit in 56 days = 0.125 a week → 0.13 (banker's rounding would give 0.12);
        // 1 on hand / 0.125 = 8 weeks, written 8.00.
        let positions = vec![stock(
            "s",
            Some("D"),
            "D",
            "A",
            dec!(1),
            dec!(0),
            LocationTier::Dealer,
        )];
        let sales = vec![sale("s", "D", "2026-11-01", dec!(1))];
        let out = channel_inventory(&positions, &sales, day("2026-11-22"), 56).unwrap();
        assert_eq!(out[0].weekly_sell_through.to_string(), "0.13");
        assert_eq!(out[0].weeks_of_cover.unwrap().to_string(), "8.00");
    }

    #[test]
    fn a_zero_day_window_is_refused() {
        assert!(matches!(
            channel_inventory(&[], &[], day("2026-11-22"), 0),
            Err(ChannelError::EmptyWindow)
        ));
    }
}
