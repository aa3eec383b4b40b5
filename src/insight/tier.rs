//! Value tiers by the 80/20 (Pareto) rule.
//!
//! Customers are ranked by revenue, highest first. Tier A holds the customers who together make
//! the first 80 % of the revenue — the one whose revenue crosses 80 % included — B those up to
//! 95 % (the customer crossing 95 % included), C the rest and every customer without revenue.
//!
//! Ties: customers with equal revenue share one rank (`1, 2, 2, 4`) and one tier, decided by the
//! revenue of the customers strictly above them, so a tier never depends on how IDs sort.
//! Revenue at or below zero (credit notes over invoices) ranks as none. Shares are percentages
//! with two decimals; tiers are decided on the exact sums, never on rounded shares.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{InsightError, percent};

/// A value tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Tier {
    /// The customers making the first 80 % of revenue.
    A,
    /// The next 15 %.
    B,
    /// The rest, and customers without revenue.
    C,
}

impl Tier {
    /// `A`, `B` or `C`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::A => "A",
            Tier::B => "B",
            Tier::C => "C",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "A" => Ok(Tier::A),
            "B" => Ok(Tier::B),
            "C" => Ok(Tier::C),
            other => Err(format!("unknown tier `{other}`")),
        }
    }
}

/// Where one customer stands in the revenue ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueRank {
    /// Its tier.
    pub tier: Tier,
    /// 1 = highest revenue; customers with equal revenue share a rank.
    pub rank: u32,
    /// How many customers were ranked.
    pub customers: u32,
    /// Revenue in the window, in the base currency (net of credit notes).
    #[serde(with = "rust_decimal::serde::str")]
    pub revenue: Decimal,
    /// Its own share of all revenue, percent (2 decimals).
    #[serde(with = "rust_decimal::serde::str")]
    pub revenue_share_pct: Decimal,
    /// Share of all revenue made by the customers ranked at or above it, percent (2 decimals).
    #[serde(with = "rust_decimal::serde::str")]
    pub cumulative_share_pct: Decimal,
    /// Within the top 20 % of customers by count: rank ≤ 20 % of `customers`, with revenue.
    pub top_20_pct: bool,
}

/// Ranks `revenues` (one per customer, any order) and gives each its tier; the result is in rank
/// order (ties by ID).
pub fn rank(revenues: &[(String, Decimal)]) -> Result<Vec<(String, ValueRank)>, InsightError> {
    let counted = |r: Decimal| r.max(Decimal::ZERO);
    let mut order: Vec<&(String, Decimal)> = revenues.iter().collect();
    order.sort_by(|a, b| counted(b.1).cmp(&counted(a.1)).then(a.0.cmp(&b.0)));
    let total = order.iter().try_fold(Decimal::ZERO, |sum, (_, r)| {
        sum.checked_add(counted(*r)).ok_or_else(overflow)
    })?;
    let customers = u32::try_from(order.len()).map_err(|_| overflow())?;

    let mut out = Vec::with_capacity(order.len());
    let mut above = Decimal::ZERO;
    let mut start = 0;
    while start < order.len() {
        let group_revenue = counted(order[start].1);
        let end = start
            + order[start..]
                .iter()
                .take_while(|(_, r)| counted(*r) == group_revenue)
                .count();
        let group_size = Decimal::from(end - start);
        let through = group_revenue
            .checked_mul(group_size)
            .and_then(|g| above.checked_add(g))
            .ok_or_else(overflow)?;
        let tier = tier_of(group_revenue, above, total)?;
        let rank = u32::try_from(start + 1).map_err(|_| overflow())?;
        for (id, revenue) in &order[start..end] {
            out.push((
                id.clone(),
                ValueRank {
                    tier,
                    rank,
                    customers,
                    revenue: *revenue,
                    revenue_share_pct: percent(group_revenue, total)?,
                    cumulative_share_pct: percent(through, total)?,
                    top_20_pct: group_revenue > Decimal::ZERO
                        && u64::from(rank) * 5 <= u64::from(customers),
                },
            ));
        }
        above = through;
        start = end;
    }
    Ok(out)
}

/// The tier of customers with `revenue` each when `above` is made by those ranked higher.
fn tier_of(revenue: Decimal, above: Decimal, total: Decimal) -> Result<Tier, InsightError> {
    if revenue <= Decimal::ZERO {
        return Ok(Tier::C);
    }
    // above / total < 80 % ⇔ above × 100 < total × 80, without rounding a quotient.
    let below = |pct: u32| -> Result<bool, InsightError> {
        let lhs = above.checked_mul(Decimal::ONE_HUNDRED);
        let rhs = total.checked_mul(Decimal::from(pct));
        match (lhs, rhs) {
            (Some(l), Some(r)) => Ok(l < r),
            _ => Err(overflow()),
        }
    };
    Ok(if below(80)? {
        Tier::A
    } else if below(95)? {
        Tier::B
    } else {
        Tier::C
    })
}

fn overflow() -> InsightError {
    InsightError::Overflow {
        what: "the revenue ranking".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn ranked(input: &[(&str, Decimal)]) -> Vec<(String, ValueRank)> {
        let owned: Vec<(String, Decimal)> =
            input.iter().map(|(id, r)| (id.to_string(), *r)).collect();
        rank(&owned).unwrap()
    }

    fn tiers(out: &[(String, ValueRank)]) -> Vec<(&str, Tier)> {
        out.iter().map(|(id, v)| (id.as_str(), v.tier)).collect()
    }

    #[test]
    fn the_customer_crossing_80_percent_is_in_a_and_the_one_crossing_95_in_b() {
        // Total 1000: cumulative 50, 79.9, 90, 95.5, 99, 100 %.
        let out = ranked(&[
            ("f", dec!(10)),
            ("a", dec!(500)),
            ("c", dec!(101)),
            ("b", dec!(299)),
            ("d", dec!(55)),
            ("e", dec!(35)),
        ]);
        use Tier::*;
        assert_eq!(
            tiers(&out),
            [("a", A), ("b", A), ("c", A), ("d", B), ("e", C), ("f", C)]
        );
        let cumulative: Vec<Decimal> = out.iter().map(|(_, v)| v.cumulative_share_pct).collect();
        assert_eq!(
            cumulative,
            [
                dec!(50),
                dec!(79.9),
                dec!(90),
                dec!(95.5),
                dec!(99),
                dec!(100)
            ]
        );
        assert_eq!(out[2].1.revenue_share_pct, dec!(10.10));
        assert_eq!(out[2].1.rank, 3);
        assert!(out.iter().all(|(_, v)| v.customers == 6));
    }

    #[test]
    fn exactly_80_percent_above_starts_b_and_exactly_95_starts_c() {
        // a makes exactly 80 %: b is not needed to reach it, so b is B; a + b = 95 %, so c is C.
        let out = ranked(&[("a", dec!(80)), ("b", dec!(15)), ("c", dec!(5))]);
        assert_eq!(
            tiers(&out),
            [("a", Tier::A), ("b", Tier::B), ("c", Tier::C)]
        );
    }

    #[test]
    fn ties_share_rank_and_tier_whatever_their_ids() {
        // 70 % above the tie; the tie crosses 80 %, so both are A and both rank 2.
        let out = ranked(&[
            ("z", dec!(10)),
            ("top", dec!(70)),
            ("a", dec!(10)),
            ("tail", dec!(10)),
        ]);
        let got: Vec<(&str, u32, Tier, Decimal)> = out
            .iter()
            .map(|(id, v)| (id.as_str(), v.rank, v.tier, v.cumulative_share_pct))
            .collect();
        // The tie is one block: 70 + 10 + 10 = 90 % at or above either of them; `tail` too is a
        // tie of the same revenue, so it belongs to the same block.
        assert_eq!(
            got,
            [
                ("top", 1, Tier::A, dec!(70)),
                ("a", 2, Tier::A, dec!(100)),
                ("tail", 2, Tier::A, dec!(100)),
                ("z", 2, Tier::A, dec!(100)),
            ]
        );
        let out = ranked(&[
            ("x", dec!(85)),
            ("p", dec!(5)),
            ("q", dec!(5)),
            ("r", dec!(5)),
        ]);
        assert_eq!(
            tiers(&out),
            [
                ("x", Tier::A),
                ("p", Tier::B),
                ("q", Tier::B),
                ("r", Tier::B)
            ]
        );
    }

    #[test]
    fn customers_without_revenue_are_c_and_never_top() {
        let out = ranked(&[
            ("a", dec!(100)),
            ("none", dec!(0)),
            ("refunded", dec!(-20)),
            ("b", dec!(0)),
            ("c", dec!(0)),
        ]);
        let got: Vec<(&str, Tier, u32, bool)> = out
            .iter()
            .map(|(id, v)| (id.as_str(), v.tier, v.rank, v.top_20_pct))
            .collect();
        assert_eq!(
            got,
            [
                ("a", Tier::A, 1, true),
                ("b", Tier::C, 2, false),
                ("c", Tier::C, 2, false),
                ("none", Tier::C, 2, false),
                ("refunded", Tier::C, 2, false),
            ]
        );
        assert_eq!(
            out[4].1.revenue,
            dec!(-20),
            "the net revenue is kept as it is"
        );
        assert_eq!(out[4].1.revenue_share_pct, dec!(0));

        let nobody = ranked(&[("a", dec!(0)), ("b", dec!(0))]);
        assert!(
            nobody.iter().all(|(_, v)| v.tier == Tier::C
                && v.cumulative_share_pct.is_zero()
                && !v.top_20_pct)
        );
        assert!(ranked(&[]).is_empty());
    }

    #[test]
    fn top_20_percent_is_by_count() {
        // 11 customers: 20 % is 2.2, so ranks 1 and 2 are in the top group, rank 3 is not.
        let input: Vec<(String, Decimal)> = (1..=11)
            .map(|i| (format!("c{i:02}"), Decimal::from(100 - i)))
            .collect();
        let out = rank(&input).unwrap();
        let top: Vec<&str> = out
            .iter()
            .filter(|(_, v)| v.top_20_pct)
            .map(|(id, _)| id.as_str())
            .collect();
        assert_eq!(top, ["c01", "c02"]);
    }
}
