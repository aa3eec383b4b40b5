//! The FEBRL benchmark: synthetic person records with known duplicates, read as a user would
//! map a person-customer source, matched, and scored against the truth.
//!
//! Columns `rec_id, given_name, surname, street_number, address_1, address_2, suburb,
//! postcode, state, date_of_birth, soc_sec_id` map to the customer's `given_name`,
//! `family_name`, `address` (number and both lines), `city`, `postal_code`, `region`,
//! `birth_date` (`YYYYMMDD`; an impossible date is left out) and, only when asked,
//! `personal_id`. Records `rec-N-org` and `rec-N-dup-K` are the same person (same N).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use serde::Serialize;

use crate::model::Customer;
use crate::reconcile::matching::profile::{Profile, profiles_of};
use crate::reconcile::matching::{Decision, Matching};

/// One FEBRL record mapped onto a customer, with its true entity.
#[derive(Debug, Clone)]
pub struct FebrlRecord {
    /// The customer.
    pub customer: Customer,
    /// The N of `rec-N-…`.
    pub entity: u32,
}

/// Reads a FEBRL file.
pub fn read(path: &Path, with_ssn: bool) -> Result<Vec<FebrlRecord>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no column `{name}`", path.display()))
    };
    let cols: Vec<usize> = [
        "rec_id",
        "given_name",
        "surname",
        "street_number",
        "address_1",
        "address_2",
        "suburb",
        "postcode",
        "state",
        "date_of_birth",
        "soc_sec_id",
    ]
    .iter()
    .map(|c| column(c))
    .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (line, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("{}: {e}", path.display()))?;
        let get = |i: usize| {
            row.get(cols[i])
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let id =
            get(0).ok_or_else(|| format!("{}: line {}: no rec_id", path.display(), line + 2))?;
        let entity = id
            .split('-')
            .nth(1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("{}: rec_id `{id}` is not rec-N-…", path.display()))?;
        let (given, family) = (get(1), get(2));
        let address: Vec<String> = [get(3), get(4), get(5)].into_iter().flatten().collect();
        let customer = Customer {
            source_key: id,
            name: [given.clone(), family.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            kind: Default::default(),
            tax_id: None,
            country: Some("AU".into()),
            region: get(8),
            city: get(6),
            postal_code: get(7),
            address: (!address.is_empty()).then(|| address.join(" ")),
            phone: None,
            email: None,
            website: None,
            given_name: given,
            family_name: family,
            birth_date: get(9).and_then(|d| NaiveDate::parse_from_str(&d, "%Y%m%d").ok()),
            personal_id: if with_ssn { get(10) } else { None },
            credit_limit: None,
            currency: None,
            payment_terms_days: None,
            parent_key: None,
            tier: None,
            active: true,
            updated_at: None,
        };
        out.push(FebrlRecord { customer, entity });
    }
    Ok(out)
}

/// Pairwise quality.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Quality {
    /// True pairs predicted.
    pub true_positives: u64,
    /// Pairs predicted that are not true.
    pub false_positives: u64,
    /// True pairs missed.
    pub false_negatives: u64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN).
    pub recall: f64,
    /// Harmonic mean of the two.
    pub f1: f64,
}

impl Quality {
    pub(crate) fn new(tp: u64, predicted: u64, truth: u64) -> Self {
        let (fp, fn_) = (predicted - tp, truth - tp);
        let precision = if predicted == 0 {
            1.0
        } else {
            tp as f64 / predicted as f64
        };
        let recall = if truth == 0 {
            1.0
        } else {
            tp as f64 / truth as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Quality {
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
            precision,
            recall,
            f1,
        }
    }
}

/// The benchmark's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Records read.
    pub records: u64,
    /// True matching pairs.
    pub true_pairs: u64,
    /// Candidate pairs after blocking.
    pub candidate_pairs: u64,
    /// Share of the true pairs among the candidates (blocking recall).
    pub blocking_recall: f64,
    /// Pairs linked by score (decision `link`).
    pub links: Quality,
    /// Pairs in the same cluster (what the master holds).
    pub clusters: Quality,
    /// Review tasks created.
    pub reviews: u64,
    /// EM iterations and convergence.
    pub em_iterations: u32,
    /// Whether EM converged.
    pub em_converged: bool,
    /// Seconds for blocking, training, and the whole match (profiles included).
    pub seconds_blocking: f64,
    /// Seconds of u estimation and EM.
    pub seconds_training: f64,
    /// Seconds of the whole run.
    pub seconds_run: f64,
    /// Examples of wrong decisions, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mistakes: Vec<Mistake>,
}

/// A wrong decision with its explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Mistake {
    /// `false_positive` (linked, different persons) or `false_negative` (same person, apart).
    pub kind: &'static str,
    /// The two rec_ids.
    pub records: [String; 2],
    /// Why it scored as it did (`None` for a pair blocking never compared).
    pub explanation: Option<crate::reconcile::matching::Explanation>,
}

/// Deduplicates one file (`files.len() == 1`) or links two, and scores the result.
pub fn run(files: &[Vec<FebrlRecord>], matching: &mut Matching, show: usize) -> Report {
    let started = std::time::Instant::now();
    let records: Vec<&FebrlRecord> = files.iter().flatten().collect();
    let groups: Vec<u32> = files
        .iter()
        .enumerate()
        .flat_map(|(g, f)| std::iter::repeat_n(g as u32, f.len()))
        .collect();
    let linking = files.len() > 1;
    let profiles: Vec<Profile> = profiles_of(&records, |r| &r.customer, &matching.profile);
    let outcome = matching.run(&profiles, linking.then_some(groups.as_slice()));
    let counts_as = |a: usize, b: usize| !linking || groups[a] != groups[b];
    let same = |a: usize, b: usize| records[a].entity == records[b].entity;

    // True pairs: per entity, pairs (across files when linking).
    let mut per_entity: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        per_entity.entry(r.entity).or_default().push(i);
    }
    let true_pairs = count_pairs(per_entity.values(), &counts_as, &|_, _| true);
    let blocked_true = outcome
        .pairs
        .iter()
        .filter(|p| same(p.a as usize, p.b as usize))
        .count() as u64;
    let links: Vec<(usize, usize)> = outcome
        .pairs
        .iter()
        .filter(|p| p.decision == Decision::Link)
        .map(|p| (p.a as usize, p.b as usize))
        .collect();
    let link_tp = links.iter().filter(|&&(a, b)| same(a, b)).count() as u64;
    let cluster_predicted = count_pairs(outcome.clusters.iter(), &counts_as, &|_, _| true);
    let cluster_tp = count_pairs(outcome.clusters.iter(), &counts_as, &same);
    let reviews = outcome
        .pairs
        .iter()
        .filter(|p| matches!(p.decision, Decision::Review | Decision::Refused(_)))
        .count() as u64;
    let mut mistakes = Vec::new();
    let mut cluster_of = vec![0usize; records.len()];
    for (c, members) in outcome.clusters.iter().enumerate() {
        for &m in members {
            cluster_of[m] = c;
        }
    }
    let mut mistake = |kind: &'static str, a: usize, b: usize, scored: bool| {
        mistakes.push(Mistake {
            kind,
            records: [
                records[a].customer.source_key.clone(),
                records[b].customer.source_key.clone(),
            ],
            explanation: scored.then(|| matching.explain(&profiles[a], &profiles[b])),
        })
    };
    for (a, b) in links.iter().filter(|&&(a, b)| !same(a, b)).take(show) {
        mistake("false_positive", *a, *b, true);
    }
    let scored: std::collections::HashSet<(usize, usize)> = outcome
        .pairs
        .iter()
        .map(|p| (p.a as usize, p.b as usize))
        .collect();
    let missed = per_entity.values().flat_map(|g| {
        g.iter()
            .enumerate()
            .flat_map(move |(x, &a)| g[x + 1..].iter().map(move |&b| (a.min(b), a.max(b))))
    });
    let mut missed: Vec<(usize, usize)> = missed
        .filter(|&(a, b)| counts_as(a, b) && cluster_of[a] != cluster_of[b])
        .collect();
    missed.sort();
    for (a, b) in missed.into_iter().take(show) {
        mistake("false_negative", a, b, scored.contains(&(a, b)));
    }
    Report {
        mistakes,
        records: records.len() as u64,
        true_pairs,
        candidate_pairs: outcome.blocking.candidates,
        blocking_recall: if true_pairs == 0 {
            1.0
        } else {
            blocked_true as f64 / true_pairs as f64
        },
        links: Quality::new(link_tp, links.len() as u64, true_pairs),
        clusters: Quality::new(cluster_tp, cluster_predicted, true_pairs),
        reviews,
        em_iterations: outcome.training.iterations,
        em_converged: outcome.training.converged,
        seconds_blocking: outcome.seconds.blocking,
        seconds_training: outcome.seconds.training,
        seconds_run: started.elapsed().as_secs_f64(),
    }
}

/// Pairs inside groups that `counts` admits and `is` accepts.
pub(crate) fn count_pairs<'a>(
    groups: impl Iterator<Item = &'a Vec<usize>>,
    counts: &dyn Fn(usize, usize) -> bool,
    is: &dyn Fn(usize, usize) -> bool,
) -> u64 {
    let mut n = 0;
    for g in groups {
        for (x, &a) in g.iter().enumerate() {
            for &b in &g[x + 1..] {
                if counts(a, b) && is(a, b) {
                    n += 1;
                }
            }
        }
    }
    n
}

/// Splits the records of one file by whether their rec_id ends in `-org`: two files to link.
pub fn split_originals(records: Vec<FebrlRecord>) -> [Vec<FebrlRecord>; 2] {
    let (org, dup): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|r| r.customer.source_key.ends_with("-org"));
    [org, dup]
}

/// A one-line summary per figure, for the CLI.
pub fn summary(report: &Report) -> BTreeMap<&'static str, String> {
    let q = |q: &Quality| {
        format!(
            "precision {:.4}  recall {:.4}  F1 {:.4}  (TP {}, FP {}, FN {})",
            q.precision, q.recall, q.f1, q.true_positives, q.false_positives, q.false_negatives
        )
    };
    BTreeMap::from([
        ("1 records", report.records.to_string()),
        ("2 true pairs", report.true_pairs.to_string()),
        (
            "3 candidate pairs",
            format!(
                "{} (blocking recall {:.4})",
                report.candidate_pairs, report.blocking_recall
            ),
        ),
        ("4 links", q(&report.links)),
        ("5 clusters", q(&report.clusters)),
        ("6 review tasks", report.reviews.to_string()),
        (
            "7 EM",
            format!(
                "{} iterations{}",
                report.em_iterations,
                if report.em_converged {
                    ", converged"
                } else {
                    ", NOT converged"
                }
            ),
        ),
        (
            "8 seconds",
            format!(
                "{:.3} total ({:.3} blocking, {:.3} training)",
                report.seconds_run, report.seconds_blocking, report.seconds_training
            ),
        ),
    ])
}
