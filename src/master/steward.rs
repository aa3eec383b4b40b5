//! A data steward's work on the customer master: answering review tasks, forcing two records
//! together or apart, merging two masters, splitting records out of one, undoing any of these,
//! and the history of a master.
//!
//! Every action is recorded with who, when and why (`steward_decisions`) and takes effect by
//! rebuilding the master; every later rebuild obeys it as a must-link or cannot-link between
//! records until it is undone, so manual decisions survive syncs. When two masters merge, the
//! older keeps its ID and the other becomes an alias that still resolves; records split out
//! form a master with a new ID (or keep the old one when they hold the master's first record).

use chrono::Utc;
use thiserror::Error;

use super::rebuild::{lock_master, rebuild_held, release};
use super::{MasterError, MasterSummary, Rebuild};
use crate::config::Project;
use crate::reconcile::matching::MatchMode;
use crate::store::steward::{Action, Decision, RecordRef, ReviewStatus};
use crate::store::{Store, StoreError};

/// Why a steward action was refused or failed.
#[derive(Debug, Error)]
pub enum StewardError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Rebuilding the master failed.
    #[error(transparent)]
    Master(#[from] MasterError),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The action makes no sense as asked.
    #[error("{0}")]
    Refused(String),
}

/// Runs a steward action holding the master lock from its checks to the rebuild it ends with,
/// so no other action or rebuild comes between (see [`super::lock_master`]).
async fn holding<T>(
    project: &Project,
    store: &Store,
    action: impl Future<Output = Result<T, StewardError>>,
) -> Result<T, StewardError> {
    let lock = lock_master(project, store).await?;
    let done = action.await;
    release(lock).await;
    done
}

/// Who acts, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Name of the steward.
    pub name: String,
    /// Why (required: it is the audit trail).
    pub reason: String,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Done {
    /// The recorded action.
    pub decision: i64,
    /// The master after the rebuild.
    #[serde(skip)]
    pub master: MasterSummary,
    /// Where the records named by the action are now: (source, key, master ID).
    pub records: Vec<(String, String, String)>,
}

/// A source record written `SOURCE:KEY` (e.g. `erp:C10014`), or `None` when it is not.
pub fn parse_record(text: &str) -> Option<RecordRef> {
    match text.split_once(':') {
        Some((s, k)) if !s.is_empty() && !k.is_empty() => Some((s.to_string(), k.to_string())),
        _ => None,
    }
}

fn check(project: &Project, actor: &Actor) -> Result<(), StewardError> {
    if project.settings.reconcile.matching.mode != MatchMode::Probabilistic {
        return Err(StewardError::Refused(
            "steward decisions need [reconcile.matching] mode = \"probabilistic\"".into(),
        ));
    }
    if actor.reason.trim().is_empty() {
        return Err(StewardError::Refused(
            "a reason is required (it is the audit trail)".into(),
        ));
    }
    Ok(())
}

/// Records the action, rebuilds the master and says where the action's records are now.
async fn apply(project: &Project, store: &Store, decision: Action) -> Result<Done, StewardError> {
    let id = store.add_decision(&decision, Utc::now()).await?;
    let master = rebuild_held(project, store, Rebuild::Update).await?;
    Ok(Done {
        decision: id,
        master,
        records: where_now(store, &decision.pairs).await?,
    })
}

/// Where the records of `pairs` are now: (source, key, master ID), sorted.
async fn where_now(
    store: &Store,
    pairs: &[(RecordRef, RecordRef)],
) -> Result<Vec<(String, String, String)>, StewardError> {
    let state = store.load_master().await?;
    let mut records: Vec<RecordRef> = pairs
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect();
    records.sort();
    records.dedup();
    Ok(records
        .into_iter()
        .filter_map(|(s, k)| {
            let x = state.xrefs.iter().find(|x| x.source == s && x.key == k)?;
            Some((s, k, x.master_id.clone()))
        })
        .collect())
}

/// Answers an open review: the same customer (`same`) or not.
pub async fn decide_review(
    project: &Project,
    store: &Store,
    review: i64,
    same: bool,
    actor: &Actor,
) -> Result<Done, StewardError> {
    holding(project, store, async {
        check(project, actor)?;
        let r = store
            .review(review)
            .await?
            .ok_or_else(|| StewardError::NotFound(format!("no review {review}")))?;
        if r.status != ReviewStatus::Open {
            return Err(StewardError::Refused(format!(
                "review {review} is {}, not open",
                r.status.as_str()
            )));
        }
        let subject = format!("{}:{} ~ {}:{}", r.left.0, r.left.1, r.right.0, r.right.1);
        apply(
            project,
            store,
            Action {
                action: (if same { "approve" } else { "reject" }).into(),
                same,
                pairs: vec![(r.left, r.right)],
                review_id: Some(review),
                subject,
                actor: actor.name.clone(),
                reason: actor.reason.clone(),
            },
        )
        .await
    })
    .await
}

/// Forces two source records into one master (`same`) or apart.
pub async fn force(
    project: &Project,
    store: &Store,
    left: RecordRef,
    right: RecordRef,
    same: bool,
    actor: &Actor,
) -> Result<Done, StewardError> {
    holding(project, store, async {
        check(project, actor)?;
        let state = store.load_master().await?;
        for (s, k) in [&left, &right] {
            if !state.xrefs.iter().any(|x| &x.source == s && &x.key == k) {
                return Err(StewardError::NotFound(format!("no source record {s}:{k}")));
            }
        }
        if left == right {
            return Err(StewardError::Refused("a record is always itself".into()));
        }
        let subject = format!("{}:{} ~ {}:{}", left.0, left.1, right.0, right.1);
        apply(
            project,
            store,
            Action {
                action: (if same { "force_link" } else { "force_split" }).into(),
                same,
                pairs: vec![(left, right)],
                review_id: None,
                subject,
                actor: actor.name.clone(),
                reason: actor.reason.clone(),
            },
        )
        .await
    })
    .await
}

/// The live master an ID (or alias) names, and its records.
fn master_records(
    state: &crate::model::MasterState,
    id: &str,
) -> Result<(String, Vec<RecordRef>), StewardError> {
    let live = state
        .aliases
        .iter()
        .find(|(alias, _)| alias == id)
        .map_or(id, |(_, to)| to.as_str())
        .to_string();
    if !state.masters.iter().any(|m| m.master_id == live) {
        return Err(StewardError::NotFound(format!("no master {id}")));
    }
    let mut records: Vec<RecordRef> = state
        .xrefs
        .iter()
        .filter(|x| x.master_id == live)
        .map(|x| (x.source.clone(), x.key.clone()))
        .collect();
    records.sort();
    Ok((live, records))
}

/// Merges two masters: the older keeps its ID, the other becomes its alias.
pub async fn merge(
    project: &Project,
    store: &Store,
    a: &str,
    b: &str,
    actor: &Actor,
) -> Result<Done, StewardError> {
    holding(project, store, async {
        check(project, actor)?;
        let state = store.load_master().await?;
        let (ma, ra) = master_records(&state, a)?;
        let (mb, rb) = master_records(&state, b)?;
        if ma == mb {
            return Err(StewardError::Refused(format!(
                "{a} and {b} are one master already"
            )));
        }
        let (Some(first_a), Some(first_b)) = (ra.first(), rb.first()) else {
            return Err(StewardError::Refused(
                "a master without records cannot merge".into(),
            ));
        };
        let tax = |id: &str| {
            state
                .masters
                .iter()
                .find(|m| m.master_id == id)
                .and_then(|m| m.golden.get("tax_id")?.as_str().map(String::from))
                .and_then(|t| crate::reconcile::taxid::valid(Some(&t)))
        };
        if let (Some(x), Some(y)) = (tax(&ma), tax(&mb))
            && x != y
        {
            return Err(StewardError::Refused(format!(
                "{ma} and {mb} have different valid tax IDs ({x}, {y}): they are different legal \
                 entities; a group is expressed by parent accounts, not by a merge"
            )));
        }
        apply(
            project,
            store,
            Action {
                action: "merge".into(),
                same: true,
                pairs: vec![(first_a.clone(), first_b.clone())],
                review_id: None,
                subject: format!("{ma} + {mb}"),
                actor: actor.name.clone(),
                reason: actor.reason.clone(),
            },
        )
        .await
    })
    .await
}

/// Splits `records` out of a master: they stay together, apart from its other records.
pub async fn split(
    project: &Project,
    store: &Store,
    master: &str,
    records: &[RecordRef],
    actor: &Actor,
) -> Result<Done, StewardError> {
    holding(project, store, async {
        check(project, actor)?;
        let (live, members) = master_records(&store.load_master().await?, master)?;
        for r in records {
            if !members.contains(r) {
                return Err(StewardError::NotFound(format!(
                    "{}:{} is not a record of {live}",
                    r.0, r.1
                )));
            }
        }
        let rest: Vec<&RecordRef> = members.iter().filter(|m| !records.contains(m)).collect();
        if records.is_empty() || rest.is_empty() {
            return Err(StewardError::Refused(
                "name some but not all of the master's records to split out".into(),
            ));
        }
        let pairs = records
            .iter()
            .flat_map(|r| rest.iter().map(move |o| (r.clone(), (*o).clone())))
            .collect();
        apply(
            project,
            store,
            Action {
                action: "split".into(),
                same: false,
                pairs,
                review_id: None,
                subject: live,
                actor: actor.name.clone(),
                reason: actor.reason.clone(),
            },
        )
        .await
    })
    .await
}

/// Undoes an action and rebuilds the master.
pub async fn undo(
    project: &Project,
    store: &Store,
    decision: i64,
    actor: &Actor,
) -> Result<Done, StewardError> {
    holding(project, store, async {
        check(project, actor)?;
        let d = store
            .decisions()
            .await?
            .into_iter()
            .find(|d| d.id == decision)
            .ok_or_else(|| StewardError::NotFound(format!("no steward action {decision}")))?;
        if !store
            .undo_decision(decision, &actor.name, &actor.reason, Utc::now())
            .await?
        {
            return Err(StewardError::Refused(format!(
                "action {decision} was undone already"
            )));
        }
        let master = rebuild_held(project, store, Rebuild::Update).await?;
        Ok(Done {
            decision,
            master,
            records: where_now(store, &d.what.pairs).await?,
        })
    })
    .await
}

/// The steward actions that concern a master (by ID or alias): those naming it, and those
/// about its records; oldest first.
pub async fn history(store: &Store, master: &str) -> Result<Vec<Decision>, StewardError> {
    let state = store.load_master().await?;
    let (live, records) = master_records(&state, master)?;
    let names: Vec<String> = std::iter::once(live.clone())
        .chain(
            state
                .aliases
                .iter()
                .filter(|(_, to)| *to == live)
                .map(|(alias, _)| alias.clone()),
        )
        .collect();
    Ok(store
        .decisions()
        .await?
        .into_iter()
        .filter(|d| {
            names.iter().any(|n| d.what.subject.contains(n.as_str()))
                || d.what
                    .pairs
                    .iter()
                    .any(|(a, b)| records.contains(a) || records.contains(b))
        })
        .collect())
}
