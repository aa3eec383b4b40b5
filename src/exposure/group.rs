//! Exposure rolled up to a group: a customer plus all its descendants in the master's group
//! structure ([`crate::reconcile::groups`]).
//!
//! Every amount and aging bucket is the sum of the members' own figures (each already in base
//! currency and rounded to cents). The group's credit limit is the limit of the customer the
//! group is asked for (its head); a subsidiary's own limit only counts for its own line. The
//! sources are the union of the members' sources; a source is stale for the group when it is
//! stale for any member.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Exposure, ExposureError, SourceFreshness, add, limit_figures};
use crate::reconcile::groups::Groups;

/// One member of a group with its own figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMember {
    /// Levels below the group's head (0 = the head itself).
    pub depth: usize,
    /// The member's parent master; `None` for the head.
    pub parent_id: Option<String>,
    /// The member's own exposure, against its own limit.
    #[serde(flatten)]
    pub exposure: Exposure,
}

/// The exposure of a customer and all its descendants: the `tributary credit ID --group --json`
/// contract (the fields of [`Exposure`] for the whole group, then `members`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupExposure {
    /// Sums over the members, against the head's credit limit.
    #[serde(flatten)]
    pub total: Exposure,
    /// Every member, head first, then depth first (children by master ID).
    pub members: Vec<GroupMember>,
}

/// Rolls the exposure of `head` and its descendants up. `None` when `head` has no exposure
/// (an unknown master). Descendants without an exposure of their own are left out.
pub fn roll_up(
    head: &str,
    groups: &Groups,
    exposures: &BTreeMap<String, Exposure>,
) -> Result<Option<GroupExposure>, ExposureError> {
    let Some(top) = exposures.get(head) else {
        return Ok(None);
    };
    let parents = groups.parents();
    let mut total = Exposure {
        open_receivables: Decimal::ZERO,
        open_orders: Decimal::ZERO,
        unapplied_payments: Decimal::ZERO,
        exposure: Decimal::ZERO,
        aging: Default::default(),
        max_days_overdue: None,
        sources: vec![],
        ..top.clone()
    };
    let mut sources: BTreeMap<&str, SourceFreshness> = BTreeMap::new();
    let mut members = Vec::new();
    for (id, depth) in groups.subtree(head) {
        let Some(e) = exposures.get(id) else {
            continue;
        };
        total.open_receivables = add(total.open_receivables, e.open_receivables, "receivables")?;
        total.open_orders = add(total.open_orders, e.open_orders, "open orders")?;
        total.unapplied_payments = add(
            total.unapplied_payments,
            e.unapplied_payments,
            "unapplied payments",
        )?;
        total.exposure = add(total.exposure, e.exposure, "exposure")?;
        total.max_days_overdue = total.max_days_overdue.max(e.max_days_overdue);
        let (a, b) = (&mut total.aging, &e.aging);
        for (sum, part) in [
            (&mut a.not_due, b.not_due),
            (&mut a.d1_30, b.d1_30),
            (&mut a.d31_60, b.d31_60),
            (&mut a.d61_90, b.d61_90),
            (&mut a.over_90, b.over_90),
        ] {
            *sum = add(*sum, part, "aging bucket")?;
        }
        for s in &e.sources {
            sources
                .entry(s.source.as_str())
                .and_modify(|known| known.stale |= s.stale)
                .or_insert_with(|| s.clone());
        }
        members.push(GroupMember {
            depth,
            parent_id: (depth > 0)
                .then(|| parents.get(id).map(|p| p.to_string()))
                .flatten(),
            exposure: e.clone(),
        });
    }
    (total.available, total.utilization_pct) = limit_figures(total.credit_limit, total.exposure)?;
    total.sources = sources.into_values().collect();
    Ok(Some(GroupExposure { total, members }))
}
