//! The steward's review queue with the exposure each task puts at stake, ordered the same way
//! for the CLI, the API and the web page.
//!
//! A task pairs two source records the matcher was unsure about. While they sit in two masters,
//! finance reads two partial exposures where there may be one customer; what a wrong split hides
//! is bounded by the smaller side. So the exposure at stake is the smaller of the two masters'
//! exposures, in the base currency, with these rules:
//! - a record in no master, or a master without documents, counts 0;
//! - a negative exposure (a credit balance: more unapplied payments than open items) counts 0:
//!   kept apart, it only makes the other side look larger, it hides nothing;
//! - when both records already sit in one master nothing is split, and the stake is 0.
//!
//! The exposures are the credit figures of [`super::exposures`], read once per listing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{ViewError, compute_exposures, exposure_input};
use crate::config::Project;
use crate::exposure::Exposure;
use crate::model::Currency;
use crate::store::Store;
use crate::store::steward::{Review, ReviewStatus};

/// How review tasks are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ReviewSort {
    /// Largest exposure at stake first; ties most probable first, then by number.
    #[default]
    AtStake,
    /// Most probable first, then by number.
    Probability,
}

/// A review task with the masters its records are in now and the exposure it puts at stake.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReviewTask {
    /// The review.
    #[serde(flatten)]
    pub review: Review,
    /// The master the left record is in now (null when it is in none).
    pub left_master: Option<String>,
    /// The master the right record is in now (null when it is in none).
    pub right_master: Option<String>,
    /// The smaller of the two masters' credit exposures, in the base currency, with cents; 0
    /// when both records are in one master, for a side without documents, and for a credit
    /// balance.
    #[serde(with = "rust_decimal::serde::str")]
    #[schema(value_type = String, example = "67381.90")]
    pub at_stake: Decimal,
    /// The base currency of `at_stake`.
    #[schema(value_type = String, example = "CNY")]
    pub currency: Currency,
}

/// The exposure at stake between two masters (see the module doc), with two decimals.
pub fn at_stake(
    exposures: &BTreeMap<String, Exposure>,
    left: Option<&str>,
    right: Option<&str>,
) -> Decimal {
    let side = |m: Option<&str>| {
        m.and_then(|m| exposures.get(m))
            .map_or(Decimal::ZERO, |e| e.exposure.max(Decimal::ZERO))
    };
    let mut stake = if left.is_some() && left == right {
        Decimal::ZERO
    } else {
        side(left).min(side(right))
    };
    stake.rescale(2);
    stake
}

/// Orders tasks by `sort`. The store lists them most probable first, then by number; the sort
/// is stable, so that order breaks ties.
pub fn order(tasks: &mut [ReviewTask], sort: ReviewSort) {
    match sort {
        ReviewSort::AtStake => tasks.sort_by_key(|t| std::cmp::Reverse(t.at_stake)),
        ReviewSort::Probability => {}
    }
}

/// Reviews with `status` (all when `None`), each with its exposure at stake as of `now`, in the
/// order of `sort`.
pub async fn review_queue(
    project: &Project,
    store: &Store,
    status: Option<ReviewStatus>,
    sort: ReviewSort,
    now: DateTime<Utc>,
) -> Result<Vec<ReviewTask>, ViewError> {
    let reviews = store.reviews(status).await?;
    if reviews.is_empty() {
        return Ok(Vec::new());
    }
    let state = store.load_master().await?;
    let sides: Vec<(Option<String>, Option<String>)> = {
        let owner: HashMap<(&str, &str), &str> = state
            .xrefs
            .iter()
            .map(|x| ((x.source.as_str(), x.key.as_str()), x.master_id.as_str()))
            .collect();
        let master = |(s, k): &(String, String)| {
            owner
                .get(&(s.as_str(), k.as_str()))
                .map(|m| (*m).to_string())
        };
        reviews
            .iter()
            .map(|r| (master(&r.left), master(&r.right)))
            .collect()
    };
    let input = exposure_input(store, state.masters, state.xrefs).await?;
    let exposures = compute_exposures(project, &input, now.date_naive(), now)?;
    let currency = project.settings.currency.base;
    let mut tasks: Vec<ReviewTask> = reviews
        .into_iter()
        .zip(sides)
        .map(|(review, (left_master, right_master))| ReviewTask {
            at_stake: at_stake(&exposures, left_master.as_deref(), right_master.as_deref()),
            review,
            left_master,
            right_master,
            currency,
        })
        .collect();
    order(&mut tasks, sort);
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposure::Aging;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn exposure(id: &str, amount: Decimal) -> (String, Exposure) {
        let e = Exposure {
            master_id: id.into(),
            name: id.into(),
            currency: "CNY".parse().unwrap(),
            credit_limit: None,
            open_receivables: amount,
            open_orders: Decimal::ZERO,
            unapplied_payments: Decimal::ZERO,
            exposure: amount,
            available: None,
            utilization_pct: None,
            aging: Aging::default(),
            max_days_overdue: None,
            sources: Vec::new(),
        };
        (id.into(), e)
    }

    fn all() -> BTreeMap<String, Exposure> {
        [
            exposure("M-big", dec!(500000.00)),
            exposure("M-small", dec!(67381.9)),
            exposure("M-credit", dec!(-2000.00)),
            exposure("M-none", Decimal::ZERO),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn the_smaller_side_is_at_stake_with_cents() {
        let all = all();
        let stake = at_stake(&all, Some("M-big"), Some("M-small"));
        assert_eq!(stake.to_string(), "67381.90");
        assert_eq!(at_stake(&all, Some("M-small"), Some("M-big")), stake);
    }

    #[test]
    fn nothing_split_no_documents_or_a_credit_balance_put_nothing_at_stake() {
        let all = all();
        for (left, right) in [
            (Some("M-big"), Some("M-big")),
            (Some("M-big"), Some("M-none")),
            (Some("M-big"), Some("M-unknown")),
            (Some("M-big"), None),
            (None, None),
            (Some("M-credit"), Some("M-big")),
        ] {
            assert_eq!(
                at_stake(&all, left, right).to_string(),
                "0.00",
                "{left:?} ~ {right:?}"
            );
        }
    }

    fn task(id: i64, probability: Decimal, at_stake: Decimal) -> ReviewTask {
        let now = Utc::now();
        ReviewTask {
            review: Review {
                id,
                left: ("erp".into(), format!("L{id}")),
                right: ("erp".into(), format!("R{id}")),
                probability,
                reason: "names_differ".into(),
                explanation: json!({}),
                status: ReviewStatus::Open,
                created_at: now,
                updated_at: now,
            },
            left_master: None,
            right_master: None,
            at_stake,
            currency: "CNY".parse().unwrap(),
        }
    }

    #[test]
    fn costly_tasks_come_first_and_ties_keep_the_probability_order() {
        // As the store lists them: most probable first, then by number.
        let listed = vec![
            task(4, dec!(1), dec!(0)),
            task(7, dec!(1), dec!(14200.00)),
            task(2, dec!(0.9), dec!(0)),
            task(3, dec!(0.6), dec!(67381.90)),
        ];
        let ids = |sort| {
            let mut tasks = listed.clone();
            order(&mut tasks, sort);
            tasks.iter().map(|t| t.review.id).collect::<Vec<_>>()
        };
        assert_eq!(ids(ReviewSort::AtStake), [3, 7, 4, 2]);
        assert_eq!(ids(ReviewSort::Probability), [4, 7, 2, 3]);
    }
}
