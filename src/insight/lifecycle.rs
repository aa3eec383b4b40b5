//! The loyalty ladder and the churn warning, from a customer's order dates.
//!
//! Orders dated after the as-of date are not seen. Gaps are counted in days between
//! consecutive *order days* (several orders on one day are one purchase), and the median gap is
//! the customer's own usual interval (the mean of the two middle gaps when their number is even).
//!
//! | stage | when (first match) |
//! |---|---|
//! | `prospect` | no order yet |
//! | `lapsed` | days since the last order > `lapsed_multiple` × median gap, or, with one order day only, > `lapsed_days_without_history` |
//! | `loyal` | several orders, in at least `loyal_min_periods` of the last `loyal_periods` periods of `period_days` days |
//! | `repeat` | several orders |
//! | `first_time` | one order |
//!
//! Period 0 is the `period_days` days ending on the as-of date, period 1 the days before it, …
//! The churn warning needs orders on at least three days (two gaps); it is raised when the days
//! since the last order exceed `churn_multiple` × the median gap.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::InsightSettings;

/// Order days a churn warning needs (two gaps).
pub const MIN_ORDER_DAYS_FOR_CHURN: usize = 3;

/// A rung of the loyalty ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// No order yet.
    Prospect,
    /// One order.
    FirstTime,
    /// Several orders.
    Repeat,
    /// Orders in enough of the recent periods.
    Loyal,
    /// No order for longer than its usual interval allows.
    Lapsed,
}

/// Whether a customer is overdue for its next order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnStatus {
    /// Ordering within its usual rhythm.
    Ok,
    /// Overdue: days since the last order exceed the threshold.
    AtRisk,
    /// Too few order days to know its rhythm.
    NoHistory,
}

macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal),* $(,)? }) => {
        impl $ty {
            /// The snake_case name used in JSON and in the store.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),* }
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)*
                    other => Err(format!("unknown {} `{other}`", stringify!($ty))),
                }
            }
        }
    };
}

names!(Stage {
    Prospect = "prospect",
    FirstTime = "first_time",
    Repeat = "repeat",
    Loyal = "loyal",
    Lapsed = "lapsed",
});
names!(ChurnStatus {
    Ok = "ok",
    AtRisk = "at_risk",
    NoHistory = "no_history",
});

/// The churn warning of one customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Churn {
    /// The verdict.
    pub status: ChurnStatus,
    /// `churn_multiple` × median gap, in days, when there is a gap history.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub threshold_days: Option<Decimal>,
    /// The verdict in words, with its figures.
    pub reason: String,
}

/// Where a customer stands on the ladder, with the figures behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The stage.
    pub stage: Stage,
    /// Orders up to the as-of date.
    pub orders: u32,
    /// Distinct days with an order.
    pub order_days: u32,
    /// Date of the first order.
    pub first_order: Option<NaiveDate>,
    /// Date of the last order.
    pub last_order: Option<NaiveDate>,
    /// Days from the last order to the as-of date.
    pub days_since_last_order: Option<i64>,
    /// Median gap between order days, when there are at least two.
    #[serde(with = "rust_decimal::serde::str_option")]
    pub median_gap_days: Option<Decimal>,
    /// Of the last `loyal_periods` periods, how many hold an order.
    pub active_periods: u32,
    /// The churn warning.
    pub churn: Churn,
}

/// The median of `values` (sorted here); `None` when empty.
pub fn median(values: &mut [i64]) -> Option<Decimal> {
    values.sort_unstable();
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(Decimal::from(values[n / 2])),
        _ => Some((Decimal::from(values[n / 2 - 1]) + Decimal::from(values[n / 2])) / Decimal::TWO),
    }
}

/// Places a customer on the ladder from the dates of its orders (any order, duplicates allowed),
/// as of `as_of`.
pub fn lifecycle(orders: &[NaiveDate], as_of: NaiveDate, rules: &InsightSettings) -> Lifecycle {
    let mut dates: Vec<NaiveDate> = orders.iter().copied().filter(|d| *d <= as_of).collect();
    let count = u32::try_from(dates.len()).unwrap_or(u32::MAX);
    dates.sort_unstable();
    dates.dedup();
    let mut gaps: Vec<i64> = dates.windows(2).map(|w| (w[1] - w[0]).num_days()).collect();
    let median_gap = median(&mut gaps);
    let last = dates.last().copied();
    let since = last.map(|d| (as_of - d).num_days());
    let period = i64::from(rules.period_days);
    let mut periods: Vec<i64> = dates
        .iter()
        .map(|d| (as_of - *d).num_days() / period)
        .filter(|p| *p < i64::from(rules.loyal_periods))
        .collect();
    periods.dedup();
    let active_periods = u32::try_from(periods.len()).unwrap_or(u32::MAX);

    let lapsed = match (since, median_gap) {
        (Some(days), Some(gap)) => Decimal::from(days) > rules.lapsed_multiple * gap,
        (Some(days), None) => days > i64::from(rules.lapsed_days_without_history),
        (None, _) => false,
    };
    let stage = if count == 0 {
        Stage::Prospect
    } else if lapsed {
        Stage::Lapsed
    } else if count >= 2 && active_periods >= rules.loyal_min_periods {
        Stage::Loyal
    } else if count >= 2 {
        Stage::Repeat
    } else {
        Stage::FirstTime
    };
    Lifecycle {
        stage,
        orders: count,
        order_days: u32::try_from(dates.len()).unwrap_or(u32::MAX),
        first_order: dates.first().copied(),
        last_order: last,
        days_since_last_order: since,
        median_gap_days: median_gap,
        active_periods,
        churn: churn(dates.len(), since, median_gap, rules.churn_multiple),
    }
}

fn churn(
    order_days: usize,
    since: Option<i64>,
    median_gap: Option<Decimal>,
    multiple: Decimal,
) -> Churn {
    let (Some(days), Some(gap), true) = (since, median_gap, order_days >= MIN_ORDER_DAYS_FOR_CHURN)
    else {
        return Churn {
            status: ChurnStatus::NoHistory,
            threshold_days: None,
            reason: format!(
                "no gap history: needs orders on at least {MIN_ORDER_DAYS_FOR_CHURN} different days (has {order_days})"
            ),
        };
    };
    let threshold = (multiple * gap).normalize();
    let (status, word) = if Decimal::from(days) > threshold {
        (ChurnStatus::AtRisk, "more than")
    } else {
        (ChurnStatus::Ok, "within")
    };
    Churn {
        status,
        threshold_days: Some(threshold),
        reason: format!(
            "{days} days since the last order, {word} {} × the median gap of {} days ({threshold})",
            multiple.normalize(),
            gap.normalize()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    const AS_OF: &str = "2026-11-22";

    fn day(d: &str) -> NaiveDate {
        d.parse().unwrap()
    }

    /// Dates `days` before the as-of date.
    fn ago(days: &[i64]) -> Vec<NaiveDate> {
        days.iter()
            .map(|d| day(AS_OF) - chrono::Duration::days(*d))
            .collect()
    }

    fn rules() -> InsightSettings {
        InsightSettings {
            period_days: 30,
            loyal_periods: 3,
            loyal_min_periods: 3,
            lapsed_multiple: dec!(3),
            lapsed_days_without_history: 180,
            churn_multiple: dec!(2),
            channel_days: 28,
        }
    }

    fn stage(days_ago: &[i64]) -> Stage {
        lifecycle(&ago(days_ago), day(AS_OF), &rules()).stage
    }

    #[test]
    fn each_rung_of_the_ladder() {
        assert_eq!(stage(&[]), Stage::Prospect);
        assert_eq!(stage(&[10]), Stage::FirstTime);
        assert_eq!(
            stage(&[180]),
            Stage::FirstTime,
            "180 days is not more than 180"
        );
        assert_eq!(stage(&[181]), Stage::Lapsed);
        assert_eq!(stage(&[10, 40]), Stage::Repeat, "two periods of three");
        assert_eq!(
            stage(&[5, 35, 65]),
            Stage::Loyal,
            "one order in each period"
        );
        assert_eq!(
            stage(&[0, 30, 89]),
            Stage::Loyal,
            "period edges: days 0–29, 30–59, 60–89"
        );
        assert_eq!(
            stage(&[0, 29, 59]),
            Stage::Repeat,
            "days 0 and 29 share period 0"
        );
        assert_eq!(
            stage(&[0, 29, 90]),
            Stage::Repeat,
            "day 90 is outside the three periods"
        );
        // Median gap 20; 61 days > 3 × 20: lapsed, whatever the periods say.
        assert_eq!(stage(&[61, 81, 101]), Stage::Lapsed);
        assert_eq!(
            stage(&[60, 80, 100]),
            Stage::Repeat,
            "60 is not more than 60"
        );
        // A loyal customer that stops ordering lapses.
        assert_eq!(stage(&[25, 30, 35, 40, 45, 50, 55, 60, 65]), Stage::Lapsed);
    }

    #[test]
    fn one_order_is_never_loyal_and_same_day_orders_are_one_purchase() {
        let mut r = rules();
        r.loyal_min_periods = 1;
        let one = lifecycle(&ago(&[3]), day(AS_OF), &r);
        assert_eq!(one.stage, Stage::FirstTime);
        let same_day = lifecycle(&ago(&[3, 3, 40]), day(AS_OF), &rules());
        assert_eq!((same_day.orders, same_day.order_days), (3, 2));
        assert_eq!(same_day.median_gap_days, Some(dec!(37)));
        assert_eq!(same_day.churn.status, ChurnStatus::NoHistory);
    }

    #[test]
    fn orders_after_the_as_of_date_are_not_seen() {
        let dates = vec![day("2026-06-01"), day("2026-12-01")];
        let l = lifecycle(&dates, day("2026-11-22"), &rules());
        assert_eq!(l.orders, 1);
        assert_eq!(l.last_order, Some(day("2026-06-01")));
        assert_eq!(l.days_since_last_order, Some(174));
        // Injecting an earlier as-of date changes the picture.
        let earlier = lifecycle(&dates, day("2026-06-15"), &rules());
        assert_eq!(earlier.days_since_last_order, Some(14));
        assert_eq!(earlier.stage, Stage::FirstTime);
        assert_eq!(
            lifecycle(&dates, day("2026-05-31"), &rules()).stage,
            Stage::Prospect
        );
    }

    #[test]
    fn median_of_odd_and_even_numbers_of_gaps() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [7]), Some(dec!(7)));
        assert_eq!(median(&mut [30, 10, 20]), Some(dec!(20)));
        assert_eq!(median(&mut [40, 10, 20, 35]), Some(dec!(27.5)));
    }

    #[test]
    fn churn_with_an_odd_number_of_gaps() {
        // Gaps 10, 30, 20 (median 20): the threshold is 40 days.
        let dates = ago(&[40, 50, 80, 100]);
        let ok = lifecycle(&dates, day(AS_OF), &rules()).churn;
        assert_eq!(ok.status, ChurnStatus::Ok, "40 is not more than 40");
        assert_eq!(ok.threshold_days, Some(dec!(40)));
        let late = lifecycle(&ago(&[41, 51, 81, 101]), day(AS_OF), &rules()).churn;
        assert_eq!(late.status, ChurnStatus::AtRisk);
        assert_eq!(
            late.reason,
            "41 days since the last order, more than 2 × the median gap of 20 days (40)"
        );
    }

    #[test]
    fn churn_with_an_even_number_of_gaps_and_a_fractional_multiple() {
        // Gaps 10 and 15: median 12.5; × 1.5 = 18.75 days.
        let mut r = rules();
        r.churn_multiple = dec!(1.5);
        let at = |since: i64| lifecycle(&ago(&[since, since + 10, since + 25]), day(AS_OF), &r);
        assert_eq!(at(18).churn.status, ChurnStatus::Ok);
        assert_eq!(at(19).churn.status, ChurnStatus::AtRisk);
        assert_eq!(at(19).median_gap_days, Some(dec!(12.5)));
        assert_eq!(at(19).churn.threshold_days, Some(dec!(18.75)));
    }

    #[test]
    fn churn_needs_three_order_days() {
        let two = lifecycle(&ago(&[300, 310]), day(AS_OF), &rules());
        assert_eq!(two.churn.status, ChurnStatus::NoHistory);
        assert_eq!(two.churn.threshold_days, None);
        assert!(
            two.churn
                .reason
                .contains("at least 3 different days (has 2)"),
            "{}",
            two.churn.reason
        );
        assert_eq!(two.stage, Stage::Lapsed, "one gap is enough to tell lapsed");
        let none = lifecycle(&[], day(AS_OF), &rules());
        assert_eq!(none.churn.status, ChurnStatus::NoHistory);
        assert_eq!((none.orders, none.days_since_last_order), (0, None));
    }

    #[test]
    fn names_round_trip() {
        for s in [
            Stage::Prospect,
            Stage::FirstTime,
            Stage::Repeat,
            Stage::Loyal,
            Stage::Lapsed,
        ] {
            assert_eq!(s.as_str().parse::<Stage>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for c in [ChurnStatus::Ok, ChurnStatus::AtRisk, ChurnStatus::NoHistory] {
            assert_eq!(c.as_str().parse::<ChurnStatus>(), Ok(c));
        }
        assert!("gold".parse::<Stage>().is_err());
    }
}
