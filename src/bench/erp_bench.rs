//! The multi-ERP benchmark (`tributary bench master --shape multi-erp`): customers generated
//! as real systems hold them ([`super::multi_erp`]) matched whole; pairwise quality overall
//! and per evidence class of the true pairs, and the true pairs a steward would never see
//! (neither linked nor in the review queue).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::febrl::{Quality, count_pairs};
use super::multi_erp::{self, ErpRecord};
use super::scale::peak_rss_mib;
use crate::reconcile::matching::priors::{Prior, Priors};
use crate::reconcile::matching::profile::{Field, Profile, profiles_of};
use crate::reconcile::matching::{Constraints, Decision, Matching};
use crate::reconcile::taxid;

/// What the tax IDs of a true pair say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Both hold the same valid tax ID.
    SharedTaxId,
    /// One holds a valid tax ID, the other none.
    TaxIdOneSide,
    /// Neither holds one.
    NoTaxId,
    /// One holds a mistyped (invalid) tax ID.
    MistypedTaxId,
}

impl Evidence {
    fn of(a: Option<&str>, b: Option<&str>) -> Evidence {
        let valid = |t: Option<&str>| taxid::valid(t).is_some();
        let mistyped = |t: Option<&str>| t.is_some_and(|t| !t.trim().is_empty()) && !valid(t);
        if mistyped(a) || mistyped(b) {
            Evidence::MistypedTaxId
        } else if valid(a) && valid(b) {
            Evidence::SharedTaxId
        } else if valid(a) || valid(b) {
            Evidence::TaxIdOneSide
        } else {
            Evidence::NoTaxId
        }
    }
}

/// The true pairs of one evidence class and what became of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClassFigures {
    /// True pairs.
    pub pairs: u64,
    /// In one master.
    pub linked: u64,
    /// Apart, but the two masters have a review task between them.
    pub in_review: u64,
    /// Apart with no review task: invisible to a steward.
    pub invisible: u64,
    /// linked / pairs.
    pub recall: f64,
}

/// The benchmark's figures.
#[derive(Debug, Clone, Serialize)]
pub struct ErpReport {
    /// Records matched.
    pub records: u64,
    /// Records per system.
    pub per_source: BTreeMap<String, u64>,
    /// True pairs.
    pub true_pairs: u64,
    /// Candidate pairs after blocking.
    pub candidate_pairs: u64,
    /// Pairwise quality of the clusters.
    pub quality: Quality,
    /// Per evidence class of the true pairs.
    pub classes: BTreeMap<Evidence, ClassFigures>,
    /// True pairs with identical normalised names: count, and those invisible.
    pub same_name_pairs: u64,
    /// True pairs with identical normalised names neither linked nor in review.
    pub same_name_invisible: u64,
    /// Review tasks.
    pub reviews: u64,
    /// Review tasks between records of one company (the rest a steward rejects).
    pub reviews_true: u64,
    /// Review tasks by reason.
    pub reviews_by_reason: BTreeMap<String, u64>,
    /// Seconds to build the profiles.
    pub seconds_profiles: f64,
    /// Seconds of the whole match.
    pub seconds_match: f64,
    /// Peak resident memory of the process, MiB (Linux).
    pub peak_rss_mib: Option<u64>,
    /// Examples of false positives and invisible false negatives, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mistakes: Vec<super::febrl::Mistake>,
}

/// Generates `records` multi-ERP records and matches them whole; `show` examples of each kind
/// of mistake are explained.
pub fn run(records: usize, matching: &mut Matching, show: usize) -> (ErpReport, Priors) {
    let data = multi_erp::generate(records, 42, 0);
    let started = std::time::Instant::now();
    let profiles: Vec<Profile> = profiles_of(&data, |r| &r.customer, &matching.profile);
    let seconds_profiles = started.elapsed().as_secs_f64();
    let outcome = matching.run_with(&profiles, None, &Constraints::default());
    let mut report = judge(&data, &profiles, &outcome.clusters, &outcome.pairs);
    report.candidate_pairs = outcome.blocking.candidates;
    report.seconds_profiles = seconds_profiles;
    report.seconds_match = outcome.seconds.whole;
    report.peak_rss_mib = peak_rss_mib();
    report.mistakes = examples(&data, &profiles, &outcome, matching, show);
    let priors = priors_of(
        matching,
        &profiles,
        format!("the built-in comparisons trained on {records} multi-ERP records (seed 42)"),
    );
    (report, priors)
}

/// Up to `show` false positives and `show` true pairs left apart with no review task between
/// them, explained.
fn examples(
    data: &[ErpRecord],
    profiles: &[Profile],
    outcome: &crate::reconcile::matching::Outcome,
    matching: &Matching,
    show: usize,
) -> Vec<super::febrl::Mistake> {
    let clusters = &outcome.clusters;
    let mut out = vec![];
    let mistake = |kind, a: usize, b: usize| super::febrl::Mistake {
        kind,
        records: [
            format!("{} {}", data[a].source, data[a].customer.name),
            format!("{} {}", data[b].source, data[b].customer.name),
        ],
        explanation: Some(matching.explain(&profiles[a], &profiles[b])),
    };
    let mut wrong = 0;
    for c in clusters {
        for (x, &a) in c.iter().enumerate() {
            for &b in &c[x + 1..] {
                if data[a].entity != data[b].entity && wrong < show {
                    out.push(mistake("false_positive", a, b));
                    wrong += 1;
                }
            }
        }
    }
    let (cluster_of, reviewed) = apart(data.len(), clusters, &outcome.pairs);
    // Same-name pairs first: the floor is meant to keep every one of them visible.
    let mut missed: Vec<(bool, usize, usize)> = vec![];
    for a in 0..data.len() {
        for b in a + 1..(a + 4).min(data.len()) {
            let (x, y) = (cluster_of[a], cluster_of[b]);
            if data[a].entity == data[b].entity
                && x != y
                && !reviewed.contains(&(x.min(y), x.max(y)))
            {
                let name = |i: usize| profiles[i].get(Field::OrgName);
                missed.push((name(a).is_none() || name(a) != name(b), a, b));
            }
        }
    }
    missed.sort();
    for &(_, a, b) in missed.iter().take(show) {
        out.push(mistake("false_negative", a, b));
    }
    out
}

/// The model `matching` trained on `profiles` as shipped priors: the comparisons whose field
/// some profile holds.
pub fn priors_of(matching: &Matching, profiles: &[Profile], derived_from: String) -> Priors {
    let comparisons = matching
        .model
        .comparisons
        .iter()
        .filter(|c| profiles.iter().any(|p| p.get(c.field).is_some()))
        .map(|c| Prior {
            name: c.name.clone(),
            m: c.m.clone(),
            u: c.u.clone(),
        })
        .collect();
    Priors {
        derived_from,
        comparisons,
    }
}

/// The cluster of each of `n` records, and the pairs of clusters (smaller first) that a
/// review task stands between.
fn apart(
    n: usize,
    clusters: &[Vec<usize>],
    pairs: &[crate::reconcile::matching::ScoredPair],
) -> (Vec<usize>, HashSet<(usize, usize)>) {
    let mut cluster_of = vec![0usize; n];
    for (c, members) in clusters.iter().enumerate() {
        members.iter().for_each(|&m| cluster_of[m] = c);
    }
    let reviewed = pairs
        .iter()
        .filter(|p| matches!(p.decision, Decision::Review | Decision::Refused(_)))
        .map(|p| {
            let (x, y) = (cluster_of[p.a as usize], cluster_of[p.b as usize]);
            (x.min(y), x.max(y))
        })
        .collect();
    (cluster_of, reviewed)
}

/// Judges clusters and review tasks against the records' true companies.
pub fn judge(
    data: &[ErpRecord],
    profiles: &[Profile],
    clusters: &[Vec<usize>],
    pairs: &[crate::reconcile::matching::ScoredPair],
) -> ErpReport {
    let (cluster_of, reviewed) = apart(data.len(), clusters, pairs);
    let mut per_entity: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in data.iter().enumerate() {
        per_entity.entry(r.entity).or_default().push(i);
    }
    let mut classes: BTreeMap<Evidence, ClassFigures> = BTreeMap::new();
    let (mut same_name_pairs, mut same_name_invisible) = (0, 0);
    for members in per_entity.values() {
        for (x, &a) in members.iter().enumerate() {
            for &b in &members[x + 1..] {
                let class = Evidence::of(
                    data[a].customer.tax_id.as_deref(),
                    data[b].customer.tax_id.as_deref(),
                );
                let f = classes.entry(class).or_default();
                f.pairs += 1;
                let (ca, cb) = (cluster_of[a], cluster_of[b]);
                let same_name = profiles[a].get(Field::OrgName).is_some()
                    && profiles[a].get(Field::OrgName) == profiles[b].get(Field::OrgName);
                same_name_pairs += u64::from(same_name);
                if ca == cb {
                    f.linked += 1;
                } else if reviewed.contains(&(ca.min(cb), ca.max(cb))) {
                    f.in_review += 1;
                } else {
                    f.invisible += 1;
                    same_name_invisible += u64::from(same_name);
                }
            }
        }
    }
    for f in classes.values_mut() {
        f.recall = if f.pairs == 0 {
            1.0
        } else {
            f.linked as f64 / f.pairs as f64
        };
    }
    let all = |_: usize, _: usize| true;
    let truth = count_pairs(per_entity.values(), &all, &all);
    let predicted = count_pairs(clusters.iter(), &all, &all);
    let same = |a: usize, b: usize| data[a].entity == data[b].entity;
    let tp = count_pairs(clusters.iter(), &all, &same);
    let tasks: Vec<&crate::reconcile::matching::ScoredPair> = pairs
        .iter()
        .filter(|p| matches!(p.decision, Decision::Review | Decision::Refused(_)))
        .collect();
    let mut reviews_by_reason = BTreeMap::new();
    for p in &tasks {
        let reason = match p.decision {
            Decision::Refused(r) => format!("{r:?}"),
            _ => "review".to_string(),
        };
        *reviews_by_reason.entry(reason).or_insert(0) += 1;
    }
    let mut per_source = BTreeMap::new();
    for r in data {
        *per_source.entry(r.source.to_string()).or_insert(0) += 1;
    }
    ErpReport {
        records: data.len() as u64,
        per_source,
        true_pairs: truth,
        candidate_pairs: 0,
        quality: Quality::new(tp, predicted, truth),
        classes,
        same_name_pairs,
        same_name_invisible,
        reviews: tasks.len() as u64,
        reviews_true: tasks
            .iter()
            .filter(|p| data[p.a as usize].entity == data[p.b as usize].entity)
            .count() as u64,
        reviews_by_reason,
        seconds_profiles: 0.0,
        seconds_match: 0.0,
        peak_rss_mib: None,
        mistakes: vec![],
    }
}
