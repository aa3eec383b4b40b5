//! `tributary bench rebuild`: the master rebuilt through a real store — generated customers
//! staged, the first rebuild (training), edits and new records staged, the incremental rebuild,
//! then a full re-cluster with the kept model — with the seconds of each.

use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{scale, synth};
use crate::config::Project;
use crate::master::{MasterError, MasterSummary, Rebuild, reconcile_master_with};
use crate::model::{Customer, Entity};
use crate::store::{Batch, Counts, RunStatus, StagedRecord, Store};

/// Stages customers as canonical records, one successful run per source, as a connector
/// would (stream `customers`).
pub async fn stage_customers(
    store: &Store,
    customers: &[(String, Customer)],
) -> Result<(), MasterError> {
    let mut sources: Vec<&str> = customers.iter().map(|(s, _)| s.as_str()).collect();
    sources.sort_unstable();
    sources.dedup();
    for source in sources {
        let run = store.start_run(source).await?;
        let records: Vec<StagedRecord> = customers
            .iter()
            .filter(|(s, _)| s == source)
            .map(|(_, c)| {
                let canonical = serde_json::to_value(c).unwrap_or_default();
                StagedRecord {
                    key: c.source_key.clone(),
                    entity: Entity::Customer,
                    customer_key: None,
                    payload: json!({}),
                    hash: hex::encode(Sha256::digest(canonical.to_string().as_bytes())),
                    canonical,
                }
            })
            .collect();
        let mut counts = Counts::default();
        for chunk in records.chunks(1_000) {
            let c = store
                .commit_batch(Batch {
                    run,
                    connector: source,
                    stream: "customers",
                    records: chunk.to_vec(),
                    quarantined: vec![],
                    cursor: None,
                })
                .await?;
            counts.staged += c.staged;
            counts.unchanged += c.unchanged;
        }
        store
            .finish_run(run, RunStatus::Success, counts, None)
            .await?;
    }
    Ok(())
}

/// One timed rebuild.
#[derive(Debug, Clone, Serialize)]
pub struct Timed {
    /// Seconds.
    pub seconds: f64,
    /// How it matched.
    pub matched: &'static str,
    /// Records changed since the last rebuild.
    pub changed: usize,
    /// Records clustered again.
    pub reclustered: usize,
    /// Masters after it.
    pub masters: usize,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildBench {
    /// Customers staged first.
    pub records: usize,
    /// Records edited, then as many new ones staged.
    pub changes: usize,
    /// Seconds to stage the first records.
    pub seconds_stage: f64,
    /// The first rebuild: the model trained, every record clustered.
    pub first: Timed,
    /// The rebuild after the changes: incremental.
    pub incremental: Timed,
    /// A full re-cluster with the kept model afterwards.
    pub recluster: Timed,
    /// True when the re-cluster left the master as the incremental rebuild had it.
    pub agree: bool,
    /// Peak resident memory of the process, MiB (Linux).
    pub peak_rss_mib: Option<u64>,
}

async fn timed(project: &Project, store: &Store, how: Rebuild) -> Result<Timed, MasterError> {
    let t = Instant::now();
    let s: MasterSummary = reconcile_master_with(project, store, how).await?;
    Ok(Timed {
        seconds: t.elapsed().as_secs_f64(),
        matched: s.matched.as_str(),
        changed: s.changed,
        reclustered: s.reclustered,
        masters: s.masters,
    })
}

/// Runs the benchmark on `store` (which should be empty) with `project`'s settings.
pub async fn run(
    project: &Project,
    store: &Store,
    records: usize,
    changes: usize,
) -> Result<RebuildBench, MasterError> {
    if !store.staged(Entity::Customer).await?.is_empty() || store.match_model().await?.is_some() {
        return Err(MasterError::Matching(
            "the benchmark needs an empty store: this one holds customers or a master".into(),
        ));
    }
    let data: Vec<(String, Customer)> = synth::generate(records, 42, 0)
        .into_iter()
        .map(|r| (r.source.to_string(), r.customer))
        .collect();
    let t = Instant::now();
    stage_customers(store, &data).await?;
    let seconds_stage = t.elapsed().as_secs_f64();
    let first = timed(project, store, Rebuild::Update).await?;

    // Half the changes are edits (another record's phone), half new records.
    let mut rng = fastrand::Rng::with_seed(7);
    let mut changed: Vec<(String, Customer)> = (0..changes / 2)
        .map(|_| {
            let (source, mut c) = data[rng.usize(..data.len())].clone();
            c.phone = data[rng.usize(..data.len())].1.phone.clone();
            (source, c)
        })
        .collect();
    let entities = records as u32 + 1;
    changed.extend(
        synth::generate(changes - changes / 2, 4242, entities)
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let c = Customer {
                    source_key: format!("new-{i}"),
                    ..r.customer
                };
                (r.source.to_string(), c)
            }),
    );
    stage_customers(store, &changed).await?;
    let incremental = timed(project, store, Rebuild::Update).await?;
    let before = store.load_master().await?;
    let recluster = timed(project, store, Rebuild::Recluster).await?;
    let after = store.load_master().await?;
    Ok(RebuildBench {
        records,
        changes,
        seconds_stage,
        first,
        incremental,
        recluster,
        agree: before == after,
        peak_rss_mib: scale::peak_rss_mib(),
    })
}
