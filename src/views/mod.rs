//! Read-side views over the store for the CLI, the API and the web page: credit exposure (per
//! customer and rolled up to groups), the credit report, customer search, the customer 360 and
//! the steward's review queue with the exposure at stake. Nothing here writes.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::config::Project;
use crate::exposure::{self, Exposure, ExposureError, ExposureInput, FxTable, GroupExposure};
use crate::insight::CustomerInsight;
use crate::model::{CanonicalRecord, Entity, Invoice, Payment, SalesOrder};
use crate::model::{MasterRow, MasterState, XrefRow};
use crate::reconcile::groups::{GroupIssue, Groups};
use crate::store::{Store, StoreError};

pub mod channel;
pub mod report;
pub mod review;

pub use channel::dealer_inventory;
pub use report::{Page, ReportQuery, SortKey, credit_report, group_report};
pub use review::{ReviewSort, ReviewTask, review_queue};

/// Errors of the views.
#[derive(Debug, Error)]
pub enum ViewError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Exposure could not be computed.
    #[error(transparent)]
    Exposure(#[from] ExposureError),
    /// The channel inventory could not be computed.
    #[error(transparent)]
    Channel(#[from] crate::channel::ChannelError),
    /// A staged record no longer fits its entity.
    #[error("staged {entity} {connector}/{key} does not fit the model: {reason}")]
    Corrupt {
        /// Entity.
        entity: Entity,
        /// Connector.
        connector: String,
        /// Key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The FX table of the project's settings.
pub fn fx_table(project: &Project) -> FxTable {
    FxTable {
        base: project.settings.currency.base,
        rates: project
            .settings
            .currency
            .rates
            .iter()
            .map(|(c, r)| (*c, *r))
            .collect(),
    }
}

/// Every staged invoice with its source.
pub async fn staged_invoices(store: &Store) -> Result<Vec<(String, Invoice)>, ViewError> {
    Ok(only(staged_of(store, Entity::Invoice).await?, invoice))
}

/// Every staged sales order with its source.
pub async fn staged_orders(store: &Store) -> Result<Vec<(String, SalesOrder)>, ViewError> {
    Ok(only(staged_of(store, Entity::SalesOrder).await?, order))
}

/// Every staged record of an entity with its source, decoded.
pub async fn staged_of(
    store: &Store,
    entity: Entity,
) -> Result<Vec<(String, CanonicalRecord)>, ViewError> {
    decoded(store.staged(entity).await?, entity)
}

/// Staged rows of an entity, decoded, with their source.
fn decoded(
    rows: Vec<crate::store::StagedRow>,
    entity: Entity,
) -> Result<Vec<(String, CanonicalRecord)>, ViewError> {
    rows.into_iter()
        .map(|row| {
            CanonicalRecord::from_value(entity, row.canonical)
                .map(|rec| (row.connector.clone(), rec))
                .map_err(|e| ViewError::Corrupt {
                    entity,
                    connector: row.connector,
                    key: row.key,
                    reason: e.to_string(),
                })
        })
        .collect()
}

/// The records of one kind among decoded ones (`pick` keeps what it matches).
fn only<T>(
    records: Vec<(String, CanonicalRecord)>,
    pick: fn(CanonicalRecord) -> Option<T>,
) -> Vec<(String, T)> {
    records
        .into_iter()
        .filter_map(|(source, rec)| pick(rec).map(|t| (source, t)))
        .collect()
}

fn invoice(r: CanonicalRecord) -> Option<Invoice> {
    match r {
        CanonicalRecord::Invoice(i) => Some(i),
        _ => None,
    }
}

fn order(r: CanonicalRecord) -> Option<SalesOrder> {
    match r {
        CanonicalRecord::SalesOrder(o) => Some(o),
        _ => None,
    }
}

fn payment(r: CanonicalRecord) -> Option<Payment> {
    match r {
        CanonicalRecord::Payment(p) => Some(p),
        _ => None,
    }
}

/// Credit exposure of every master customer, as of `today` / `now`.
pub async fn exposures(
    project: &Project,
    store: &Store,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Exposure>, ViewError> {
    let master = store.load_master().await?;
    let input = exposure_input(store, master.masters, master.xrefs).await?;
    compute_exposures(project, &input, today, now)
}

/// The staged documents and source freshness exposure is computed from, for these masters.
async fn exposure_input(
    store: &Store,
    masters: Vec<MasterRow>,
    xrefs: Vec<XrefRow>,
) -> Result<ExposureInput, ViewError> {
    let mut input = ExposureInput {
        masters,
        xrefs,
        last_sync: store.last_successful_sync().await?,
        ..ExposureInput::default()
    };
    input.invoices = staged_invoices(store).await?;
    input.orders = staged_orders(store).await?;
    input.payments = only(staged_of(store, Entity::Payment).await?, payment);
    Ok(input)
}

/// The (source, key) of every source customer these xrefs link.
fn source_customers(xrefs: &[XrefRow]) -> Vec<(String, String)> {
    xrefs
        .iter()
        .map(|x| (x.source.clone(), x.key.clone()))
        .collect()
}

/// One master (by ID or alias) and what its exposure is computed from, read through the
/// store's per-customer indexes: its xrefs and the documents of its source customers only.
async fn customer_input(
    store: &Store,
    id: &str,
) -> Result<Option<(MasterRow, ExposureInput)>, ViewError> {
    let Some(master) = store.master(id).await? else {
        return Ok(None);
    };
    let xrefs = store.xrefs_of(&master.master_id).await?;
    let keys = &source_customers(&xrefs);
    let docs =
        |entity| async move { decoded(store.staged_of_customers(entity, keys).await?, entity) };
    let input = ExposureInput {
        masters: vec![master.clone()],
        invoices: only(docs(Entity::Invoice).await?, invoice),
        orders: only(docs(Entity::SalesOrder).await?, order),
        payments: only(docs(Entity::Payment).await?, payment),
        xrefs,
        last_sync: store.last_successful_sync().await?,
    };
    Ok(Some((master, input)))
}

/// The credit exposure of one master customer (by ID or alias), read per customer; `None`
/// when no master has that ID.
pub async fn customer_exposure(
    project: &Project,
    store: &Store,
    id: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<Exposure>, ViewError> {
    let Some((master, input)) = customer_input(store, id).await? else {
        return Ok(None);
    };
    Ok(compute_exposures(project, &input, today, now)?.remove(&master.master_id))
}

fn compute_exposures(
    project: &Project,
    input: &ExposureInput,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<BTreeMap<String, Exposure>, ViewError> {
    let stale_after = chrono::Duration::hours(project.settings.exposure.stale_after_hours as i64);
    Ok(exposure::compute(
        input,
        &fx_table(project),
        today,
        now,
        stale_after,
    )?)
}

/// The exposure of master `id` (resolved already) and all its descendants, or `None` when it
/// has no exposure.
pub async fn group_exposure(
    project: &Project,
    store: &Store,
    id: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<GroupExposure>, ViewError> {
    Ok(rolled_up(project, store, Some(id), today, now).await?.pop())
}

/// The rolled-up exposure of every group head (a master with children and no parent).
pub async fn group_exposures(
    project: &Project,
    store: &Store,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<GroupExposure>, ViewError> {
    rolled_up(project, store, None, today, now).await
}

/// The group exposure of `head`, or of every group head when `None`.
async fn rolled_up(
    project: &Project,
    store: &Store,
    head: Option<&str>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vec<GroupExposure>, ViewError> {
    let all = exposures(project, store, today, now).await?;
    let groups = store.groups().await?;
    let heads = head.map_or_else(|| groups.heads(), |h| vec![h]);
    let mut out = Vec::new();
    for h in heads {
        out.extend(exposure::roll_up(h, &groups, &all)?);
    }
    Ok(out)
}

/// A line of a customer search.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CustomerHit {
    /// Master ID.
    pub master_id: String,
    /// Golden name.
    pub name: String,
    /// Golden tax ID.
    pub tax_id: Option<String>,
    /// Golden city.
    pub city: Option<String>,
    /// Golden country.
    pub country: Option<String>,
    /// Linked source records as `source:key`.
    pub sources: Vec<String>,
}

fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_string)
}

/// Master customers whose name, tax ID, master ID or a linked source key contains `query`
/// (case-insensitive); all of them when `query` is empty.
pub fn search(state: &MasterState, query: &str) -> Vec<CustomerHit> {
    let q = query.trim().to_lowercase();
    let mut members: HashMap<&str, Vec<&XrefRow>> = HashMap::new();
    for x in &state.xrefs {
        members.entry(x.master_id.as_str()).or_default().push(x);
    }
    state
        .masters
        .iter()
        .filter_map(|m| {
            let xrefs = members
                .get(m.master_id.as_str())
                .cloned()
                .unwrap_or_default();
            let name = text(&m.golden, "name").unwrap_or_default();
            let tax_id = text(&m.golden, "tax_id");
            let hit = q.is_empty()
                || name.to_lowercase().contains(&q)
                || m.master_id.to_lowercase().contains(&q)
                || tax_id
                    .as_deref()
                    .is_some_and(|t| t.to_lowercase().contains(&q))
                || xrefs.iter().any(|x| x.key.to_lowercase().contains(&q));
            hit.then(|| CustomerHit {
                master_id: m.master_id.clone(),
                name,
                tax_id,
                city: text(&m.golden, "city"),
                country: text(&m.golden, "country"),
                sources: xrefs
                    .iter()
                    .map(|x| format!("{}:{}", x.source, x.key))
                    .collect(),
            })
        })
        .collect()
}

/// One linked source record of a master.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LinkedRecord {
    /// Connector.
    pub source: String,
    /// Customer key there.
    pub key: String,
    /// Why it is linked.
    pub rule: String,
    /// The staged canonical customer, when staged.
    pub record: Option<Value>,
}

/// The whole customer: golden record with lineage, its source records, its exposure and what
/// the last sync derived about it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Customer360 {
    /// Master ID (the surviving one when an alias was asked for).
    pub master_id: String,
    /// The ID asked for, when it was an alias.
    pub alias_of: Option<String>,
    /// Golden record.
    pub golden: Value,
    /// Where each golden value came from.
    pub lineage: Value,
    /// Linked source records.
    pub records: Vec<LinkedRecord>,
    /// Credit exposure, when computed.
    #[schema(value_type = Option<Exposure>)]
    pub exposure: Option<Exposure>,
    /// Value tier, lifecycle, churn and channel inventory as derived by the last sync; `None`
    /// before the first sync that derives them.
    #[schema(value_type = Option<Object>)]
    pub insight: Option<CustomerInsight>,
    /// Where the customer sits in its group: parent, children, head and issues.
    #[schema(value_type = Object)]
    pub group: GroupPosition,
    /// Its open orders, open invoices and payments in every linked source.
    pub documents: Documents,
}

/// A master's documents across its linked sources, as canonical records with their source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Documents {
    /// Confirmed orders not yet fully invoiced, newest first.
    pub open_orders: Vec<SourceDocument>,
    /// Posted invoices and credit notes with a residual, oldest due first.
    pub open_invoices: Vec<SourceDocument>,
    /// Payments, newest first (at most [`PAYMENTS_SHOWN`]).
    pub payments: Vec<SourceDocument>,
}

/// How many payments the 360 lists.
pub const PAYMENTS_SHOWN: usize = 50;

/// One document and the connector it came from.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SourceDocument {
    /// Connector.
    pub source: String,
    /// The canonical record (amounts as decimal strings).
    pub record: Value,
}

/// The documents of the customers keyed `(source, customer key)` in `owned`, taken from the
/// documents exposure is computed from (read once for both).
fn documents(input: &ExposureInput) -> Documents {
    fn listed<K: Ord, T: Serialize>(
        mut docs: Vec<(K, &String, &T)>,
        limit: usize,
    ) -> Vec<SourceDocument> {
        docs.sort_by(|a, b| a.0.cmp(&b.0));
        docs.into_iter()
            .take(limit)
            .map(|(_, source, d)| SourceDocument {
                source: source.clone(),
                record: serde_json::to_value(d).expect("canonical entities serialise to JSON"),
            })
            .collect()
    }
    let orders = input
        .orders
        .iter()
        .filter(|(_, o)| o.open_amount() > rust_decimal::Decimal::ZERO)
        .map(|(s, o)| (std::cmp::Reverse(o.order_date), s, o))
        .collect();
    let invoices = input
        .invoices
        .iter()
        .filter(|(_, i)| i.posted && !i.signed_residual().is_zero())
        .map(|(s, i)| (i.due_date, s, i))
        .collect();
    let payments = input
        .payments
        .iter()
        .map(|(s, p)| (std::cmp::Reverse(p.payment_date), s, p))
        .collect();
    Documents {
        open_orders: listed(orders, usize::MAX),
        open_invoices: listed(invoices, usize::MAX),
        payments: listed(payments, PAYMENTS_SHOWN),
    }
}

/// A parent or child master and the source record that links the two.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupLink {
    /// The other master.
    pub master_id: String,
    /// Its golden name.
    pub name: String,
    /// Source of the record that names the parent.
    pub source: String,
    /// That record's key.
    pub key: String,
    /// The parent key it names.
    pub parent_key: String,
}

/// Where a master sits in the group structure.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GroupPosition {
    /// The group's head (top ancestor; the master itself when it heads a group), `None` when
    /// the master is in no group.
    pub head: Option<String>,
    /// The parent master.
    pub parent: Option<GroupLink>,
    /// The child masters, by ID.
    pub children: Vec<GroupLink>,
    /// Parent references of this master's records that gave no edge (dangling, self-reference,
    /// cycle, overruled).
    pub issues: Vec<GroupIssue>,
}

/// The masters next to `id` in `groups`: its parent and its children.
fn neighbours<'a>(groups: &'a Groups, id: &str) -> Vec<&'a str> {
    groups
        .edges
        .iter()
        .filter_map(|e| {
            if e.master_id == id {
                Some(e.parent_id.as_str())
            } else if e.parent_id == id {
                Some(e.master_id.as_str())
            } else {
                None
            }
        })
        .collect()
}

/// The position of master `id` in `groups`; `names` holds the names of its neighbours.
pub fn group_position(names: &HashMap<String, String>, groups: &Groups, id: &str) -> GroupPosition {
    let name = |m: &str| names.get(m).cloned().unwrap_or_default();
    let link = |other: &str, e: &crate::reconcile::groups::GroupEdge| GroupLink {
        master_id: other.to_string(),
        name: name(other),
        source: e.source.clone(),
        key: e.key.clone(),
        parent_key: e.parent_key.clone(),
    };
    let parent = groups
        .edges
        .iter()
        .find(|e| e.master_id == id)
        .map(|e| link(&e.parent_id, e));
    let children: Vec<GroupLink> = groups
        .edges
        .iter()
        .filter(|e| e.parent_id == id)
        .map(|e| link(&e.master_id, e))
        .collect();
    let parents = groups.parents();
    let mut head = id;
    let mut seen = std::collections::HashSet::from([id]);
    while let Some(p) = parents.get(head).filter(|p| seen.insert(**p)) {
        head = p;
    }
    GroupPosition {
        head: (parent.is_some() || !children.is_empty()).then(|| head.to_string()),
        parent,
        children,
        issues: groups
            .issues
            .iter()
            .filter(|i| i.master_id == id)
            .cloned()
            .collect(),
    }
}

/// The 360 of one master (ID or alias), or `None` when unknown.
pub async fn customer_360(
    project: &Project,
    store: &Store,
    id: &str,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Option<Customer360>, ViewError> {
    let Some((master, input)) = customer_input(store, id).await? else {
        return Ok(None);
    };
    let staged: HashMap<(String, String), Value> = store
        .staged_of_customers(Entity::Customer, &source_customers(&input.xrefs))
        .await?
        .into_iter()
        .map(|r| ((r.connector, r.key), r.canonical))
        .collect();
    let records = input
        .xrefs
        .iter()
        .map(|x| LinkedRecord {
            source: x.source.clone(),
            key: x.key.clone(),
            rule: x.rule.clone(),
            record: staged.get(&(x.source.clone(), x.key.clone())).cloned(),
        })
        .collect();
    let documents = documents(&input);
    let mut exposure = compute_exposures(project, &input, today, now)?;
    let groups = store.groups().await?;
    let mut names = HashMap::new();
    for other in neighbours(&groups, &master.master_id) {
        if let Some(m) = store.master(other).await? {
            names.insert(
                other.to_string(),
                text(&m.golden, "name").unwrap_or_default(),
            );
        }
    }
    Ok(Some(Customer360 {
        master_id: master.master_id.clone(),
        alias_of: (master.master_id != id).then(|| id.to_string()),
        golden: master.golden.clone(),
        lineage: master.lineage.clone(),
        records,
        exposure: exposure.remove(&master.master_id),
        insight: store.insight(&master.master_id).await?,
        group: group_position(&names, &groups, &master.master_id),
        documents,
    }))
}
