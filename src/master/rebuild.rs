//! Rebuilding the customer master after a sync, a webhook event or a steward's action.
//!
//! With probabilistic matching the model is trained once and kept in the store with the
//! settings' fingerprints; later rebuilds match what changed since the last one against the
//! master with that model ([`reconcile::incremental`]), which gives what a full re-cluster with
//! the same model gives. The model is trained again when the matching settings changed, when
//! the staged customers have grown by `retrain_growth` since, or when asked
//! ([`Rebuild::Retrain`]); a change of thresholds, gate or survivorship re-clusters whole with
//! the kept model. Deterministic matching always rebuilds whole (it is linear and keeps no
//! model).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use super::MasterError;
use crate::config::Project;
use crate::model::{CanonicalRecord, Entity};
use crate::reconcile::groups::IssueKind;
use crate::reconcile::incremental::{self, BasisChange, RecordKey};
use crate::reconcile::matching::model::ModelParams;
use crate::reconcile::matching::{MatchMode, Matching};
use crate::reconcile::{
    self, DeterministicMatcher, Matcher, ProbabilisticMatcher, ReviewCandidate, SourceCustomer,
    StewardDecision, Survivorship,
};
use crate::store::steward::ReviewInput;
use crate::store::{MatchModelRow, RunLock, Store, StoreError};

/// How a rebuild matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rebuild {
    /// Incrementally with the kept model, unless it must be trained or re-clustered whole.
    #[default]
    Update,
    /// Every record clustered again with the kept model (trained when there is none).
    Recluster,
    /// The model trained again, then every record clustered.
    Retrain,
}

/// How the master was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// The deterministic rules, over every record.
    Deterministic,
    /// The model trained on every record, then every record clustered.
    Trained,
    /// Every record clustered with the kept model.
    Reclustered,
    /// Only what changed, with the kept model.
    Incremental,
}

impl Matched {
    /// As printed: `deterministic`, `trained`, `re-clustered`, `incremental`.
    pub fn as_str(self) -> &'static str {
        match self {
            Matched::Deterministic => "deterministic",
            Matched::Trained => "trained",
            Matched::Reclustered => "re-clustered",
            Matched::Incremental => "incremental",
        }
    }
}

/// Summary of a master rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterSummary {
    /// Source customer records considered.
    pub source_records: usize,
    /// Master customers after the rebuild (aliases not counted).
    pub masters: usize,
    /// Masters retired into others by this rebuild.
    pub merged: usize,
    /// Open review tasks after the rebuild.
    pub reviews: usize,
    /// Of those, pairs not proposed before.
    pub new_reviews: usize,
    /// How the records were matched.
    pub matched: Matched,
    /// Records new, changed or gone since the last rebuild (all of them when not incremental).
    pub changed: usize,
    /// Records clustered again.
    pub reclustered: usize,
    /// Masters that have a parent master (see [`reconcile::groups`]).
    pub group_links: usize,
    /// Parent references dropped because they would make a master its own ancestor.
    pub group_cycles: usize,
    /// Parent references into the record's own master.
    pub group_self_references: usize,
    /// Parent keys that name no staged record of the same source.
    pub group_dangling: usize,
    /// Parent references overruled by a more trusted record of the same master.
    pub group_overruled: usize,
}

impl MasterSummary {
    /// Group warnings of the rebuild: cycles, self-references and dangling parent keys.
    pub fn group_warnings(&self) -> usize {
        self.group_cycles + self.group_self_references + self.group_dangling
    }
}

/// Rebuilds the customer master ([`Rebuild::Update`]).
pub async fn reconcile_master(
    project: &Project,
    store: &Store,
) -> Result<MasterSummary, MasterError> {
    reconcile_master_with(project, store, Rebuild::Update).await
}

/// Every staged customer row, and one per (source, key) in (source, key) order with the digest
/// of its staged row (content hash and run).
async fn staged_customers(store: &Store) -> Result<Staged, MasterError> {
    let mut all = Vec::new();
    let mut hashes = Vec::new();
    for row in store.staged(Entity::Customer).await? {
        match CanonicalRecord::from_value(Entity::Customer, row.canonical) {
            Ok(CanonicalRecord::Customer(customer)) => {
                hashes.push(row.hash);
                all.push(SourceCustomer {
                    source: row.connector,
                    run: row.run,
                    customer,
                });
            }
            Ok(_) => unreachable!("from_value(Customer) yields a customer"),
            Err(e) => {
                return Err(MasterError::Store(StoreError::Corrupt {
                    table: "staged_records",
                    reason: format!("{} {}: {e}", row.connector, row.key),
                }));
            }
        }
    }
    let unique = reconcile::unique_indices(&all);
    Ok(Staged {
        records: unique.iter().map(|&i| all[i].clone()).collect(),
        digests: unique
            .iter()
            .map(|&i| format!("{}:{}", all[i].run, hashes[i]))
            .collect(),
        all,
    })
}

/// The staged customers a rebuild reads.
struct Staged {
    /// Every staged customer row (groups read parent keys from each).
    all: Vec<SourceCustomer>,
    /// One per (source, key), in (source, key) order.
    records: Vec<SourceCustomer>,
    /// Digest of each of `records`' staged row.
    digests: Vec<String>,
}

/// Decisions in one list and not the other (made or undone since).
fn changed_decisions(kept: &Value, now: &[StewardDecision]) -> Vec<StewardDecision> {
    // A list that does not read (written by another version) counts as empty: every decision
    // of `now` is then a change, which costs work, never a miss.
    let before: Vec<StewardDecision> = serde_json::from_value(kept.clone()).unwrap_or_default();
    let before_set: HashSet<&StewardDecision> = before.iter().collect();
    let now_set: HashSet<&StewardDecision> = now.iter().collect();
    before
        .iter()
        .filter(|d| !now_set.contains(d))
        .chain(now.iter().filter(|d| !before_set.contains(d)))
        .cloned()
        .collect()
}

/// Rebuilds the customer master from every staged customer, keeping master IDs stable (see
/// the module doc for how it matches), then resolves the group structure (parent masters) and
/// replaces the stored one.
///
/// One rebuild at a time per database: it holds the store's lock [`MASTER_LOCK`] (across
/// processes and daemons, as a connector's run lock; see [`lock_master`]).
pub async fn reconcile_master_with(
    project: &Project,
    store: &Store,
    how: Rebuild,
) -> Result<MasterSummary, MasterError> {
    let lock = lock_master(project, store).await?;
    let summary = rebuild_held(project, store, how).await;
    release(lock).await;
    summary
}

/// Takes the master lock [`MASTER_LOCK`], the one lock every writer of the master holds (a
/// rebuild, a steward's action), waiting for another holder up to `[reconcile]
/// lock_wait_secs`, then failing with [`MasterError::LockTimeout`].
pub async fn lock_master(project: &Project, store: &Store) -> Result<RunLock, MasterError> {
    let limit = std::time::Duration::from_secs(project.settings.reconcile.lock_wait_secs);
    let started = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(50);
    let mut told = false;
    loop {
        if let Some(lock) = store.try_lock_run(MASTER_LOCK).await? {
            return Ok(lock);
        }
        let waited = started.elapsed();
        if waited >= limit {
            return Err(MasterError::LockTimeout {
                waited_secs: waited.as_secs(),
            });
        }
        if !told {
            tracing::info!("waiting for another master rebuild on this database to finish");
            told = true;
        }
        tokio::time::sleep(pause.min(limit - waited)).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(250));
    }
}

/// Gives the master lock back; a failure is logged (the lock expires by itself).
pub(super) async fn release(lock: RunLock) {
    if let Err(e) = lock.release().await {
        tracing::warn!(error = %e, "the master lock was not released cleanly");
    }
}

/// Runs CPU-bound work (matching, clustering, survivorship) on the blocking pool, so the async
/// workers stay free for requests and other runs.
async fn off_workers<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, MasterError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| MasterError::Worker(e.to_string()))
}

/// The name of the store lock a master rebuild holds (not a valid connector name).
pub const MASTER_LOCK: &str = "customer master";

/// What a matcher made of the staged customers.
struct Built {
    state: crate::model::MasterState,
    reviews: Vec<ReviewCandidate>,
    /// Records clustered again (incremental); `None`: all of them.
    scope: Option<HashSet<RecordKey>>,
    matched: Matched,
    changed: usize,
    reclustered: usize,
    /// The model and basis to keep, written once everything else is saved.
    keep: Option<(MatchModelRow, Vec<BasisChange>)>,
}

/// The inputs every rebuild reads.
struct Inputs<'a> {
    staged: Arc<Staged>,
    existing: Arc<crate::model::MasterState>,
    survivorship: Survivorship,
    phase: &'a (dyn Fn(&str) + Sync),
}

/// [`reconcile_master_with`] for a caller holding the master lock.
pub(super) async fn rebuild_held(
    project: &Project,
    store: &Store,
    how: Rebuild,
) -> Result<MasterSummary, MasterError> {
    let started = std::time::Instant::now();
    let phase = |what: &str| {
        tracing::debug!(
            seconds = started.elapsed().as_secs_f64(),
            "master rebuild: {what}"
        )
    };
    let staged = staged_customers(store).await?;
    phase("staged customers read");
    let existing = store.load_master().await?;
    phase("master read");
    let input = Inputs {
        staged: Arc::new(staged),
        existing: Arc::new(existing),
        survivorship: Survivorship {
            source_priority: project.settings.reconcile.source_priority.clone(),
        },
        phase: &phase,
    };
    let built = match project.settings.reconcile.matching.mode {
        MatchMode::Deterministic => {
            let (staged, prior) = (input.staged.clone(), input.existing.clone());
            let survivorship = input.survivorship.clone();
            let state = off_workers(move || {
                let records = &staged.records;
                let links = DeterministicMatcher.links(records);
                reconcile::assign(&prior, records, &links, &survivorship, Utc::now())
            })
            .await?;
            store.forget_match_model().await?;
            store.save_master_over(&input.existing, &state).await?;
            let n = input.staged.records.len();
            Built {
                state,
                reviews: vec![],
                scope: None,
                matched: Matched::Deterministic,
                changed: n,
                reclustered: n,
                keep: None,
            }
        }
        MatchMode::Probabilistic => probabilistic(project, store, how, &input).await?,
    };
    let groups = reconcile::groups::resolve(
        &input.staged.all,
        &built.state,
        &project.settings.reconcile.source_priority,
    );
    store.replace_groups(&groups).await?;
    phase("groups saved");
    let proposed: Vec<ReviewInput> = built.reviews.iter().map(review_input).collect();
    let queue = store
        .save_reviews(&proposed, built.scope.as_ref(), Utc::now())
        .await?;
    phase("reviews saved");
    if let Some((model, basis)) = &built.keep {
        store.update_master_basis(basis, false).await?;
        store.save_match_model(model).await?;
        phase("model and basis saved");
    }
    Ok(MasterSummary {
        source_records: input.staged.records.len(),
        masters: built.state.masters.len(),
        merged: built
            .state
            .aliases
            .len()
            .saturating_sub(input.existing.aliases.len()),
        reviews: queue.open as usize,
        new_reviews: queue.created as usize,
        matched: built.matched,
        changed: built.changed,
        reclustered: built.reclustered,
        group_links: groups.edges.len(),
        group_cycles: groups.count(IssueKind::Cycle),
        group_self_references: groups.count(IssueKind::SelfReference),
        group_dangling: groups.count(IssueKind::Dangling),
        group_overruled: groups.count(IssueKind::Overruled),
    })
}

/// The probabilistic rebuild: incremental with the kept model when it may be, else whole
/// (see the module doc). Before the master is saved the kept model is marked stale (and a whole
/// rebuild drops the old basis); the new basis and model are written by the caller after the
/// groups and reviews, so a rebuild stopped anywhere is followed by a full re-cluster.
async fn probabilistic(
    project: &Project,
    store: &Store,
    how: Rebuild,
    input: &Inputs<'_>,
) -> Result<Built, MasterError> {
    let (records, existing) = (&input.staged.records, &input.existing);
    let settings = &project.settings.reconcile.matching;
    let now = Utc::now();
    let decisions = active_decisions(store).await?;
    let mut matching = Matching::new(settings).map_err(MasterError::Matching)?;
    let (model_fp, rules_fp) = incremental::fingerprints(&matching, &input.survivorship);
    let kept = store
        .match_model()
        .await?
        .filter(|row| row.model_fingerprint == model_fp)
        .and_then(|row| {
            let params: ModelParams = serde_json::from_value(row.params.clone()).ok()?;
            matching.model.apply(&params).ok()?;
            Some((row, params))
        });
    let grown = |row: &MatchModelRow| {
        settings.retrain_growth > 0.0
            && records.len() as f64 > row.trained_records as f64 * (1.0 + settings.retrain_growth)
    };
    // `master recluster` is the full path with the kept model, grown or not.
    let kept = kept.filter(|(row, _)| match how {
        Rebuild::Retrain => false,
        Rebuild::Recluster => true,
        Rebuild::Update => !grown(row),
    });
    let (trained_records, trained_at) = kept
        .as_ref()
        .map_or((records.len() as u64, now), |(row, _)| {
            (row.trained_records, row.trained_at)
        });
    let update = kept
        .as_ref()
        .filter(|(row, _)| how == Rebuild::Update && row.rules_fingerprint == rules_fp);
    let (built, params, basis) = match update {
        Some((row, params)) => {
            let basis = store.master_basis().await?;
            (input.phase)("basis read");
            let changed = changed_decisions(&row.decisions, &decisions);
            let (staged, prior) = (input.staged.clone(), input.existing.clone());
            let (survivorship, decided) = (input.survivorship.clone(), decisions.clone());
            let up = off_workers(move || {
                incremental::update(
                    &prior,
                    &staged.records,
                    &staged.digests,
                    &basis,
                    &matching,
                    &decided,
                    &changed,
                    &survivorship,
                    now,
                )
            })
            .await?;
            (input.phase)("matched incrementally");
            store.mark_match_model_stale().await?;
            store.save_master_over(existing, &up.state).await?;
            let built = Built {
                state: up.state,
                reviews: up.reviews,
                scope: Some(up.scope),
                matched: Matched::Incremental,
                changed: up.changed,
                reclustered: up.reclustered,
                keep: None,
            };
            (built, params.clone(), up.basis)
        }
        None => {
            let mut matcher = ProbabilisticMatcher::new(settings, decisions.clone())
                .map_err(MasterError::Matching)?;
            let mut matched = Matched::Trained;
            if let Some((_, params)) = &kept {
                matcher = matcher
                    .with_model(params.clone())
                    .map_err(MasterError::Matching)?;
                matched = Matched::Reclustered;
            }
            let (staged, prior) = (input.staged.clone(), input.existing.clone());
            let survivorship = input.survivorship.clone();
            let whole = off_workers(move || {
                let records = &staged.records;
                let links = matcher.links(records);
                let state = reconcile::assign(&prior, records, &links, &survivorship, now);
                let keys = matcher.block_keys();
                (state, matcher.reviews(), matcher.model(), keys)
            })
            .await?;
            let (state, reviews, params, keys) = whole;
            (input.phase)("matched whole");
            let params =
                params.ok_or_else(|| MasterError::Matching("the matcher gave no model".into()))?;
            store.mark_match_model_stale().await?;
            store.update_master_basis(&[], true).await?;
            store.save_master_over(existing, &state).await?;
            let basis = records
                .iter()
                .map(|r| (r.source.clone(), r.customer.source_key.clone()))
                .zip(keys.into_iter().zip(&input.staged.digests))
                .map(|(k, (keys, digest))| {
                    let digest = digest.clone();
                    (k, Some(incremental::Basis { digest, keys }))
                })
                .collect();
            let n = records.len();
            let built = Built {
                state,
                reviews,
                scope: None,
                matched,
                changed: n,
                reclustered: n,
                keep: None,
            };
            (built, params, basis)
        }
    };
    (input.phase)("master saved");
    let model = MatchModelRow {
        model_fingerprint: model_fp,
        rules_fingerprint: rules_fp,
        params: serde_json::to_value(&params).unwrap_or(Value::Null),
        decisions: serde_json::to_value(&decisions).unwrap_or(Value::Null),
        trained_records,
        trained_at,
        built_at: now,
    };
    let basis: Vec<BasisChange> = basis;
    let mut built = built;
    built.keep = Some((model, basis));
    Ok(built)
}

/// The must-link and cannot-link pairs of every action not undone.
pub async fn active_decisions(store: &Store) -> Result<Vec<StewardDecision>, StoreError> {
    Ok(store
        .decisions()
        .await?
        .into_iter()
        .filter(|d| d.undone_at.is_none())
        .flat_map(|d| {
            d.what
                .pairs
                .into_iter()
                .map(move |(left, right)| StewardDecision {
                    left,
                    right,
                    same: d.what.same,
                })
        })
        .collect())
}

fn review_input(r: &ReviewCandidate) -> ReviewInput {
    ReviewInput {
        left: r.left.clone(),
        right: r.right.clone(),
        probability: r.probability,
        reason: r.reason.clone(),
        explanation: serde_json::to_value(&r.explanation).unwrap_or(Value::Null),
    }
}
