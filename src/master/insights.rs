//! After the master is rebuilt: derive every master customer's insight (value tier, lifecycle,
//! churn, channel inventory) from staging and replace the stored insights with them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::MasterError;
use crate::config::Project;
use crate::insight::{self, ChurnStatus, InsightInput, Tier};
use crate::model::{CanonicalRecord, CustomerKind, Entity};
use crate::store::Store;
use crate::views::{self, staged_of};

/// How the stored insights came out, for the sync summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InsightSummary {
    /// The date every window ended on.
    pub as_of: Option<NaiveDate>,
    /// Customers per value tier.
    pub tiers: BTreeMap<&'static str, usize>,
    /// Customers per lifecycle stage.
    pub stages: BTreeMap<&'static str, usize>,
    /// Customers with a churn warning.
    pub at_risk: usize,
}

/// Computes the insight of every master customer as of `as_of` (the sync date, or an injected
/// one) and replaces the stored insights with them in one transaction.
pub async fn refresh_insights(
    project: &Project,
    store: &Store,
    as_of: NaiveDate,
    computed_at: DateTime<Utc>,
) -> Result<InsightSummary, MasterError> {
    let rules = &project.settings.insights;
    let master = store.load_master().await?;
    let mut input = InsightInput {
        masters: master.masters.into_iter().map(|m| m.master_id).collect(),
        xrefs: master.xrefs,
        dealers: HashSet::new(),
        channel: views::dealer_inventory(store, as_of, rules.channel_days, None).await?,
        ..InsightInput::default()
    };
    for (source, rec) in staged_of(store, Entity::Customer).await? {
        if let CanonicalRecord::Customer(c) = rec
            && matches!(c.kind, CustomerKind::Dealer | CustomerKind::Distributor)
        {
            input.dealers.insert((source, c.source_key));
        }
    }
    input.invoices = views::staged_invoices(store).await?;
    input.orders = views::staged_orders(store).await?;
    let insights = insight::compute(&input, &views::fx_table(project), rules, as_of, computed_at)?;
    store.replace_insights(&insights).await?;

    let mut summary = InsightSummary {
        as_of: Some(as_of),
        ..InsightSummary::default()
    };
    for tier in [Tier::A, Tier::B, Tier::C] {
        summary.tiers.insert(tier.as_str(), 0);
    }
    for i in &insights {
        *summary.tiers.entry(i.value.tier.as_str()).or_default() += 1;
        *summary
            .stages
            .entry(i.lifecycle.stage.as_str())
            .or_default() += 1;
        summary.at_risk += usize::from(i.lifecycle.churn.status == ChurnStatus::AtRisk);
    }
    Ok(summary)
}
