//! The scale benchmark (`tributary bench master`): a generated set of customer records with
//! known duplicates matched whole, then a batch of new records matched and merged into the
//! result without re-clustering; time, peak memory and pairwise quality of both.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use super::febrl::{Quality, count_pairs};
use super::synth::{self, SynthRecord};
use crate::reconcile::matching::profile::{Profile, profiles_of};
use crate::reconcile::matching::{Constraints, Matching};

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// Records matched whole.
    pub records: u64,
    /// True matching pairs among them.
    pub true_pairs: u64,
    /// Candidate pairs after blocking.
    pub candidate_pairs: u64,
    /// Per blocking rule: (rule, pairs, blocks skipped as too large).
    pub blocking_rules: Vec<(String, u64, u64)>,
    /// Review tasks by reason.
    pub reviews_by_reason: std::collections::BTreeMap<String, u64>,
    /// Pairwise quality of the clusters.
    pub quality: Quality,
    /// Review tasks.
    pub reviews: u64,
    /// Seconds to generate the records (not part of matching).
    pub seconds_generate: f64,
    /// Seconds to build the profiles (normalisation).
    pub seconds_profiles: f64,
    /// Seconds of the whole match (blocking, training, scoring, clustering).
    pub seconds_match: f64,
    /// New records matched and merged afterwards.
    pub new_records: u64,
    /// Seconds to profile, match and merge them.
    pub seconds_new: f64,
    /// Records clustered again to merge them (the new ones and what they reach).
    pub reclustered_new: u64,
    /// Pairwise quality of all records after the merge.
    pub quality_after_new: Quality,
    /// Peak resident memory of the process, MiB (Linux).
    pub peak_rss_mib: Option<u64>,
}

/// Peak resident set size of this process in MiB, from `/proc/self/status`.
pub fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Pairwise quality of `clusters` against the records' entities.
fn quality(records: &[SynthRecord], clusters: &[Vec<usize>]) -> (Quality, u64) {
    let mut per_entity: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        per_entity.entry(r.entity).or_default().push(i);
    }
    let all = |_: usize, _: usize| true;
    let truth = count_pairs(per_entity.values(), &all, &all);
    let predicted = count_pairs(clusters.iter(), &all, &all);
    let same = |a: usize, b: usize| records[a].entity == records[b].entity;
    let tp = count_pairs(clusters.iter(), &all, &same);
    (Quality::new(tp, predicted, truth), truth)
}

/// Generates `records` records (and `new` more: half new entities, half new records of
/// entities already there), matches the first set whole and merges the new ones.
pub fn run(records: usize, new: usize, matching: &mut Matching) -> ScaleReport {
    let t = Instant::now();
    let mut data = synth::generate(records, 42, 0);
    let entities = data.iter().map(|r| r.entity).max().map_or(0, |e| e + 1);
    // New records: fresh entities, and second sources of existing ones.
    let mut fresh = synth::generate(new / 2, 4242, entities);
    let again: Vec<SynthRecord> = synth::generate(new - new / 2, 42, 0)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.customer.source_key = format!("n-{i}");
            r.source = "webshop";
            r
        })
        .collect();
    fresh.extend(again);
    let seconds_generate = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let profiles: Vec<Profile> = profiles_of(&data, |r| &r.customer, &matching.profile);
    let seconds_profiles = t.elapsed().as_secs_f64();

    let (outcome, mut inc) = matching.run_keeping(&profiles, &Constraints::default());
    let seconds_match = outcome.seconds.whole;
    let (q, true_pairs) = quality(&data, &outcome.clusters);
    let reviews = outcome
        .pairs
        .iter()
        .filter(|p| {
            matches!(
                p.decision,
                crate::reconcile::matching::Decision::Review
                    | crate::reconcile::matching::Decision::Refused(_)
            )
        })
        .count() as u64;
    let candidate_pairs = outcome.blocking.candidates;
    let blocking_rules = outcome.blocking.rules.clone();
    let mut reviews_by_reason = std::collections::BTreeMap::new();
    for p in &outcome.pairs {
        let reason = match &p.decision {
            crate::reconcile::matching::Decision::Review => "between_thresholds".to_string(),
            crate::reconcile::matching::Decision::Refused(r) => format!("{r:?}"),
            _ => continue,
        };
        *reviews_by_reason.entry(reason).or_insert(0) += 1;
    }
    drop(outcome);

    let t = Instant::now();
    let first = profiles.len();
    let mut profiles = profiles;
    profiles.extend(
        fresh
            .iter()
            .map(|r| Profile::of(&r.customer, &matching.profile)),
    );
    let (affected, _) = matching.add(&mut inc, &profiles, first, &Constraints::default());
    let clusters = inc.state.clusters();
    let seconds_new = t.elapsed().as_secs_f64();
    data.extend(fresh);
    let (quality_after_new, _) = quality(&data, &clusters);
    ScaleReport {
        records: records as u64,
        true_pairs,
        candidate_pairs,
        blocking_rules,
        reviews_by_reason,
        quality: q,
        reviews,
        seconds_generate,
        seconds_profiles,
        seconds_match,
        new_records: new as u64,
        seconds_new,
        reclustered_new: affected.len() as u64,
        quality_after_new,
        peak_rss_mib: peak_rss_mib(),
    }
}
