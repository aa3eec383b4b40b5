//! The master kept up to date with what changed since it was last built: new and changed
//! source records are matched against the existing master with the model kept from the last
//! training, and only the records a change can reach are clustered again (see
//! [`super::matching::update`] for why that gives the clusters a full re-cluster would).
//!
//! What the master was built from is its *basis*: per record, a digest of the staged row and
//! the record's blocking keys then. A record is changed when its digest differs or it has no
//! basis yet; a record with a basis but no longer staged has vanished. Steward decisions made
//! or undone since are changes too: their records are re-clustered.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::matching::Matching;
use super::matching::blocking::{BlockIndex, keys_of};
use super::matching::profile::profiles_of;
use super::matching::update::{KeyChange, crossed_blocks};
use super::{
    ReviewCandidate, SourceCustomer, StewardDecision, Survivorship, assign, constraints_of,
    decided, index_of, resolve,
};
use crate::model::MasterState;

/// A record as the master was built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    /// Digest of the staged row (content and run).
    pub digest: String,
    /// Its blocking keys, one per rule.
    pub keys: Vec<Option<u64>>,
}

/// (source, key) of a record.
pub type RecordKey = (String, String);

/// A record's new basis, or `None` when it is gone.
pub type BasisChange = (RecordKey, Option<Basis>);

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The whole master after it.
    pub state: MasterState,
    /// Review candidates among the records clustered again.
    pub reviews: Vec<ReviewCandidate>,
    /// The records clustered again, and the vanished ones: review tasks touching them and not
    /// proposed again are obsolete.
    pub scope: HashSet<RecordKey>,
    /// Records new, changed or vanished (by digest).
    pub changed: usize,
    /// Records clustered again.
    pub reclustered: usize,
    /// Records seeded because a block they are in crossed the size cap.
    pub crossed: usize,
    /// The basis to keep: new values for records set, `None` for records gone.
    pub basis: Vec<BasisChange>,
}

/// Fingerprints of the settings a kept model depends on: `(model, rules)`. A model trained
/// under other blocking, comparisons or profile options must be trained again; one applied
/// under other thresholds, gate or survivorship needs a full re-cluster. The model fingerprint
/// also covers how blocking keys are hashed, since the basis keeps them.
pub fn fingerprints(matching: &Matching, survivorship: &Survivorship) -> (String, String) {
    use sha2::{Digest, Sha256};
    let s = &matching.settings;
    let mut probe = super::matching::profile::Profile::default();
    for &field in super::matching::profile::Field::ALL.iter() {
        probe.set(field, Some("fingerprint".into()));
    }
    let model = format!(
        "v2|{:?}|{:?}|{}|{:?}|{}|{}|{:?}|{}|{:?}",
        s.blocking,
        s.comparisons,
        s.max_block_size,
        s.u_sample_pairs,
        s.em_max_iterations,
        s.strip_email_plus_tags,
        s.default_phone_country,
        matching.rules.len(),
        matching
            .rules
            .iter()
            .map(|r| r.hashed_key(&probe))
            .collect::<Vec<_>>(),
    );
    let rules = format!(
        "v1|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.link_threshold.to_bits(),
        s.review_threshold.to_bits(),
        s.cluster_join.to_bits(),
        s.gate,
        survivorship.source_priority,
    );
    let hash = |t: String| hex::encode(&Sha256::digest(t.as_bytes())[..16]);
    (hash(model), hash(rules))
}

/// Brings `existing` up to date with `records` (unique, in (source, key) order, with their
/// `digests`) by re-clustering only what changed since `basis`, with `matching`'s model as
/// kept. `decisions` are the active steward decisions; `changed_decisions` those made or
/// undone since the basis was written.
#[allow(clippy::too_many_arguments)]
pub fn update(
    existing: &MasterState,
    records: &[SourceCustomer],
    digests: &[String],
    basis: &HashMap<RecordKey, Basis>,
    matching: &Matching,
    decisions: &[StewardDecision],
    changed_decisions: &[StewardDecision],
    survivorship: &Survivorship,
    now: DateTime<Utc>,
) -> Update {
    let profiles = profiles_of(records, |r| &r.customer, &matching.profile);
    let index = BlockIndex::build(&profiles, &matching.rules);
    let position = index_of(records);
    let key_of = |r: &SourceCustomer| (r.source.clone(), r.customer.source_key.clone());

    // Changed and vanished records, and how their blocking keys moved.
    let mut seeds: Vec<u32> = Vec::new();
    let mut new_basis: Vec<BasisChange> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let k = key_of(r);
        if basis.get(&k).map(|b| &b.digest) != Some(&digests[i]) {
            seeds.push(i as u32);
            let keys = keys_of(&profiles[i], &matching.rules);
            new_basis.push((
                k,
                Some(Basis {
                    digest: digests[i].clone(),
                    keys,
                }),
            ));
        }
    }
    let vanished: Vec<&RecordKey> = basis
        .keys()
        .filter(|(s, k)| !position.contains_key(&(s.as_str(), k.as_str())))
        .collect();
    let changes: Vec<KeyChange> = new_basis
        .iter()
        .map(|(k, after)| {
            (
                basis.get(k).map(|b| &b.keys[..]),
                after.as_ref().map(|b| &b.keys[..]),
            )
        })
        .chain(vanished.iter().map(|k| (Some(&basis[*k].keys[..]), None)))
        .collect();
    let crossed = crossed_blocks(&index, matching.settings.max_block_size, &changes);
    let crossed_count = crossed.len();
    seeds.extend(crossed);
    let changed = new_basis.len() + vanished.len();
    new_basis.extend(vanished.iter().map(|k| ((*k).clone(), None)));

    // The clusters as they are: live records per master.
    let aliases: HashMap<String, String> = existing.aliases.iter().cloned().collect();
    let mut master_of: HashMap<(&str, &str), String> = HashMap::new();
    let mut members: HashMap<String, Vec<u32>> = HashMap::new();
    for x in &existing.xrefs {
        let master = resolve(&aliases, &x.master_id);
        if let Some(&i) = position.get(&(x.source.as_str(), x.key.as_str())) {
            members.entry(master.clone()).or_default().push(i);
        }
        master_of.insert((x.source.as_str(), x.key.as_str()), master);
    }
    for k in &vanished {
        if let Some(m) = master_of.get(&(k.0.as_str(), k.1.as_str())) {
            seeds.extend(members.get(m).into_iter().flatten());
        }
    }
    for d in changed_decisions {
        for (s, k) in [&d.left, &d.right] {
            seeds.extend(position.get(&(s.as_str(), k.as_str())));
        }
    }
    // Each master's members are handed out once (the closure takes them all at once).
    let expanded = std::cell::RefCell::new(HashSet::new());
    let mates = |x: u32| {
        let r = &records[x as usize];
        master_of
            .get(&(r.source.as_str(), r.customer.source_key.as_str()))
            .filter(|m| expanded.borrow_mut().insert(m.as_str()))
            .and_then(|m| members.get(m))
            .cloned()
            .unwrap_or_default()
    };

    // Cluster the affected records again, and give their clusters masters.
    let constraints = constraints_of(decisions, &position);
    let affected = matching.affected(&profiles, &index, seeds, &mates, &constraints);
    let subset = matching.cluster_subset(&profiles, &index, &affected, &constraints);
    let (links, reviews) = decided(
        matching,
        &subset.pairs,
        |i| &profiles[affected[i as usize] as usize],
        |i| &records[affected[i as usize] as usize],
    );
    let sub: Vec<SourceCustomer> = affected
        .iter()
        .map(|&g| records[g as usize].clone())
        .collect();
    let state = assign(existing, &sub, &links, survivorship, now);
    let scope: HashSet<RecordKey> = sub
        .iter()
        .map(key_of)
        .chain(vanished.iter().map(|k| (*k).clone()))
        .collect();
    Update {
        state,
        reviews,
        scope,
        changed,
        reclustered: affected.len(),
        crossed: crossed_count,
        basis: new_basis,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::TimeZone;

    use super::*;
    use crate::bench::synth;
    use crate::reconcile::matching::MatchSettings;
    use crate::reconcile::{ProbabilisticMatcher, reconcile, unique_records};

    fn digest(r: &SourceCustomer) -> String {
        format!("{:?}|{}", r.customer, r.run)
    }

    /// Open review tasks as the store keeps them: by pair.
    type Reviews = BTreeSet<(RecordKey, RecordKey, String, u64)>;

    fn reviews_of(candidates: &[ReviewCandidate]) -> Reviews {
        candidates
            .iter()
            .map(|r| {
                let (a, b) = if r.left <= r.right {
                    (r.left.clone(), r.right.clone())
                } else {
                    (r.right.clone(), r.left.clone())
                };
                (a, b, r.reason.clone(), r.probability.to_bits())
            })
            .collect()
    }

    /// The records of one round: synthetic customers with a run each.
    struct World {
        records: Vec<SourceCustomer>,
        rng: fastrand::Rng,
        next_key: u32,
    }

    impl World {
        /// Edits about 2 % of the records (moves a record to another customer's data, gives it
        /// another record's phone, or misspells its name), removes about 1 % and adds about
        /// 2 % (new customers, and new copies of existing ones).
        fn churn(&mut self, run: i64, round: u64) {
            let n = self.records.len();
            for _ in 0..n / 50 {
                let i = self.rng.usize(..self.records.len());
                let j = self.rng.usize(..self.records.len());
                let other = self.records[j].customer.clone();
                let c = &mut self.records[i].customer;
                match self.rng.u8(..3) {
                    0 => {
                        let key = c.source_key.clone();
                        *c = Customer {
                            source_key: key,
                            ..other
                        };
                    }
                    1 => c.phone = other.phone,
                    _ => c.name = format!("{}x", c.name),
                }
                self.records[i].run = run;
            }
            for _ in 0..n / 100 {
                let i = self.rng.usize(..self.records.len());
                self.records.swap_remove(i);
            }
            let fresh = synth::generate(n / 100, 100 + round, 1_000_000 * round as u32);
            for r in fresh {
                self.next_key += 1;
                let mut customer = r.customer;
                customer.source_key = format!("new-{}", self.next_key);
                self.records.push(SourceCustomer {
                    source: r.source.into(),
                    run,
                    customer,
                });
            }
            for _ in 0..n / 100 {
                let copy = self.records[self.rng.usize(..self.records.len())].clone();
                self.next_key += 1;
                let mut customer = copy.customer;
                customer.source_key = format!("copy-{}", self.next_key);
                self.records.push(SourceCustomer {
                    source: "webshop".into(),
                    run,
                    customer,
                });
            }
        }
    }

    use crate::model::Customer;

    /// Rounds of changes, each matched incrementally and compared with a full re-cluster;
    /// returns how many records were seeded by blocks crossing the cap.
    fn rounds(settings: MatchSettings) -> usize {
        let survivorship = Survivorship::default();
        let at = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
        let mut world = World {
            records: synth::generate(1_200, 5, 0)
                .into_iter()
                .map(|r| SourceCustomer {
                    source: r.source.into(),
                    run: 1,
                    customer: r.customer,
                })
                .collect(),
            rng: fastrand::Rng::with_seed(9),
            next_key: 0,
        };
        // Round 0: trained and built whole.
        let records = unique_records(&world.records);
        let matcher = ProbabilisticMatcher::new(&settings, vec![]).unwrap();
        let mut state = reconcile(
            &MasterState::default(),
            &records,
            &matcher,
            &survivorship,
            at(1),
        );
        let mut open = reviews_of(&matcher.reviews());
        let params = matcher.model().unwrap();
        let mut matching = Matching::new(&settings).unwrap();
        matching.model.apply(&params).unwrap();
        let digests: Vec<String> = records.iter().map(digest).collect();
        let mut basis: HashMap<RecordKey, Basis> = records
            .iter()
            .map(|r| (r.source.clone(), r.customer.source_key.clone()))
            .zip(matcher.block_keys().into_iter().zip(digests))
            .map(|(k, (keys, digest))| (k, Basis { digest, keys }))
            .collect();
        let mut decisions: Vec<StewardDecision> = vec![];
        let mut reclustered = 0;
        let mut crossed = 0;
        for round in 1..=4u64 {
            let run = round as i64 + 1;
            world.churn(run, round);
            let records = unique_records(&world.records);
            let key = |i: usize| {
                (
                    records[i].source.clone(),
                    records[i].customer.source_key.clone(),
                )
            };
            // Steward decisions come and go: a forced link and a forced split in round 2,
            // the link undone in round 4.
            let mut changed_decisions = vec![];
            if round == 2 {
                let mut by_master: HashMap<&str, Vec<RecordKey>> = HashMap::new();
                for x in &state.xrefs {
                    by_master
                        .entry(x.master_id.as_str())
                        .or_default()
                        .push((x.source.clone(), x.key.clone()));
                }
                let mut pairs: Vec<&Vec<RecordKey>> =
                    by_master.values().filter(|m| m.len() > 1).collect();
                pairs.sort();
                let linked = (pairs[0][0].clone(), pairs[0][1].clone());
                changed_decisions = vec![
                    StewardDecision {
                        left: key(3),
                        right: key(records.len() - 3),
                        same: true,
                    },
                    StewardDecision {
                        left: linked.0,
                        right: linked.1,
                        same: false,
                    },
                ];
                decisions.extend(changed_decisions.clone());
            }
            if round == 4 {
                changed_decisions = vec![decisions.remove(0)];
            }

            let full_matcher = ProbabilisticMatcher::new(&settings, decisions.clone())
                .unwrap()
                .with_model(params.clone())
                .unwrap();
            let full = reconcile(
                &state,
                &records,
                &full_matcher,
                &survivorship,
                at(round as u32 + 1),
            );
            let digests: Vec<String> = records.iter().map(digest).collect();
            let inc = update(
                &state,
                &records,
                &digests,
                &basis,
                &matching,
                &decisions,
                &changed_decisions,
                &survivorship,
                at(round as u32 + 1),
            );
            assert_eq!(inc.state.masters, full.masters, "round {round}: masters");
            assert_eq!(inc.state.xrefs, full.xrefs, "round {round}: xrefs");
            assert_eq!(inc.state.aliases, full.aliases, "round {round}: aliases");
            open.retain(|(a, b, _, _)| !inc.scope.contains(a) && !inc.scope.contains(b));
            open.extend(reviews_of(&inc.reviews));
            assert_eq!(
                open,
                reviews_of(&full_matcher.reviews()),
                "round {round}: review tasks"
            );
            assert!(inc.changed > 0 && inc.reclustered > 0, "round {round}");
            assert!(
                inc.reclustered < records.len() / 2,
                "round {round}: {} of {} records clustered again",
                inc.reclustered,
                records.len()
            );
            reclustered += inc.reclustered;
            crossed += inc.crossed;
            for (k, b) in inc.basis {
                match b {
                    Some(b) => basis.insert(k, b),
                    None => basis.remove(&k),
                };
            }
            state = inc.state;
        }
        assert!(reclustered > 0);
        crossed
    }

    #[test]
    fn incremental_updates_equal_full_reclusters_over_rounds_of_edits() {
        rounds(MatchSettings {
            u_sample_pairs: 20_000,
            ..MatchSettings::default()
        });
    }

    /// Blocking on phone and e-mail only, at most two records a block: a copy of a record
    /// pushes its blocks over the cap, which removes the pair of the two records already
    /// there (and their link) though neither changed; a record leaving brings it back.
    #[test]
    fn blocks_crossing_the_size_cap_are_clustered_again() {
        use crate::reconcile::matching::blocking::RuleSpec;
        let crossed = rounds(MatchSettings {
            max_block_size: 2,
            u_sample_pairs: 20_000,
            blocking: vec![
                RuleSpec(vec!["phone".into()]),
                RuleSpec(vec!["email".into()]),
            ],
            ..MatchSettings::default()
        });
        assert!(crossed > 0, "some blocks crossed the cap");
    }
}
