//! Matchers: which source customers are linked. [`DeterministicMatcher`] (the same valid tax
//! ID; the same name, postal code and country) and [`ProbabilisticMatcher`] (the matching
//! engine under steward decisions), behind the [`Matcher`] trait.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::model::Customer;

/// A reason to put two source customers in one master.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Index of one record in the input slice.
    pub a: usize,
    /// Index of the other.
    pub b: usize,
    /// The rule that linked them (`tax_id`, `name_postcode`, …).
    pub rule: &'static str,
}

/// Finds links between source customers.
pub trait Matcher {
    /// Every link the matcher is sure of. Pairs may be listed in any order.
    fn links(&self, records: &[SourceCustomer]) -> Vec<Link>;
}

/// v0: same valid tax ID, or same normalised name + postal code + country.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeterministicMatcher;

impl DeterministicMatcher {
    /// The name + postal code + country block key, when all three are non-empty.
    fn name_key(c: &Customer) -> Option<String> {
        let name = normalize::normalize_name(&c.name);
        let postcode = normalize::normalize_postcode(c.postal_code.as_deref()?)?;
        let country = normalize::normalize_country(c.country.as_deref()?)?;
        (!name.is_empty()).then(|| format!("{name}\u{1f}{postcode}\u{1f}{country}"))
    }
}

/// Links every member of a block to its first member (enough for union-find).
fn chain(members: &[usize], rule: &'static str, out: &mut Vec<Link>) {
    if let Some((&first, rest)) = members.split_first() {
        out.extend(rest.iter().map(|&b| Link { a: first, b, rule }));
    }
}

impl Matcher for DeterministicMatcher {
    /// Blocks records by valid tax ID and by name + postal code + country (hash maps, so
    /// linear in the number of records) and links the records of each block.
    ///
    /// A name block whose records carry two or more *different* valid tax IDs is a set of
    /// distinct legal entities with the same name at one address: there, only the records
    /// without a valid tax ID are linked (among themselves).
    fn links(&self, records: &[SourceCustomer]) -> Vec<Link> {
        let tax_ids: Vec<Option<taxid::TaxId>> = records
            .iter()
            .map(|r| taxid::valid(r.customer.tax_id.as_deref()))
            .collect();
        let mut by_tax: HashMap<&taxid::TaxId, Vec<usize>> = HashMap::new();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Some(t) = &tax_ids[i] {
                by_tax.entry(t).or_default().push(i);
            }
            if let Some(k) = Self::name_key(&r.customer) {
                by_name.entry(k).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        let mut tax_blocks: Vec<&Vec<usize>> = by_tax.values().collect();
        tax_blocks.sort();
        for block in tax_blocks {
            chain(block, "tax_id", &mut out);
        }
        let mut name_blocks: Vec<&Vec<usize>> = by_name.values().collect();
        name_blocks.sort();
        for block in name_blocks {
            let distinct: HashSet<&taxid::TaxId> =
                block.iter().filter_map(|&i| tax_ids[i].as_ref()).collect();
            if distinct.len() <= 1 {
                chain(block, "name_postcode", &mut out);
            } else {
                let untaxed: Vec<usize> = block
                    .iter()
                    .copied()
                    .filter(|&i| tax_ids[i].is_none())
                    .collect();
                chain(&untaxed, "name_postcode", &mut out);
            }
        }
        out
    }
}

/// The matcher of `[reconcile.matching]`: probabilistic scoring (see [`matching`]), with the
/// steward's decisions as constraints. Each call to [`Matcher::links`] trains on the records
/// it is given and keeps the pairs that need a steward, for [`ProbabilisticMatcher::reviews`].
///
/// Given a kept model ([`ProbabilisticMatcher::with_model`]) it does not train: it blocks,
/// scores and clusters with that model (a full re-cluster that [`incremental::update`] agrees
/// with).
#[derive(Debug)]
pub struct ProbabilisticMatcher {
    settings: matching::MatchSettings,
    decisions: Vec<StewardDecision>,
    kept: Option<matching::model::ModelParams>,
    reviews: std::sync::Mutex<Vec<ReviewCandidate>>,
    trained: std::sync::Mutex<Option<matching::model::ModelParams>>,
    keys: std::sync::Mutex<Vec<Vec<Option<u64>>>>,
}

/// A steward's decision about two source records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct StewardDecision {
    /// One record (source, key).
    pub left: (String, String),
    /// The other.
    pub right: (String, String),
    /// True: the same customer (must link); false: different customers (cannot link).
    pub same: bool,
}

/// A pair a steward should look at.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReviewCandidate {
    /// One record (source, key).
    pub left: (String, String),
    /// The other.
    pub right: (String, String),
    /// Match probability.
    pub probability: f64,
    /// Why it is not linked automatically: `between_thresholds`, `tax_id_conflict`,
    /// `weak_join`, `names_differ`.
    pub reason: String,
    /// How the score came about.
    pub explanation: matching::Explanation,
}

impl ProbabilisticMatcher {
    /// Checks the settings.
    pub fn new(
        settings: &matching::MatchSettings,
        decisions: Vec<StewardDecision>,
    ) -> Result<Self, String> {
        matching::Matching::new(settings)?;
        Ok(ProbabilisticMatcher {
            settings: settings.clone(),
            decisions,
            kept: None,
            reviews: Default::default(),
            trained: Default::default(),
            keys: Default::default(),
        })
    }

    /// Uses a model trained earlier instead of training; refused when it does not fit the
    /// settings' comparisons.
    pub fn with_model(mut self, params: matching::model::ModelParams) -> Result<Self, String> {
        matching::Matching::new(&self.settings)?
            .model
            .apply(&params)?;
        self.kept = Some(params);
        Ok(self)
    }

    /// The review candidates of the last call to `links`.
    pub fn reviews(&self) -> Vec<ReviewCandidate> {
        self.reviews.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The blocking keys of each record of the last call to `links`, one per rule (what
    /// [`incremental::Basis`] keeps).
    pub fn block_keys(&self) -> Vec<Vec<Option<u64>>> {
        self.keys.lock().map(|k| k.clone()).unwrap_or_default()
    }

    /// The model the last call to `links` used (trained there, or kept).
    pub fn model(&self) -> Option<matching::model::ModelParams> {
        self.trained.lock().ok().and_then(|t| t.clone())
    }
}

/// Record indexes of the steward's decisions whose two records are both in `index`.
pub fn constraints_of(
    decisions: &[StewardDecision],
    index: &HashMap<(&str, &str), u32>,
) -> matching::Constraints {
    let mut constraints = matching::Constraints::default();
    for d in decisions {
        let find = |(s, k): &(String, String)| index.get(&(s.as_str(), k.as_str())).copied();
        if let (Some(a), Some(b)) = (find(&d.left), find(&d.right)) {
            if d.same {
                constraints.must_link.push((a, b));
            } else {
                constraints.cannot_link.push((a, b));
            }
        }
    }
    constraints
}

/// (source, key) of each record → its index.
pub fn index_of(records: &[SourceCustomer]) -> HashMap<(&str, &str), u32> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            (
                (r.source.as_str(), r.customer.source_key.as_str()),
                i as u32,
            )
        })
        .collect()
}

/// The links and the review candidates of decided pairs. `profile(i)` and `record(i)` give
/// the profile and the record of index `i` of the pairs.
pub fn decided<'a>(
    m: &matching::Matching,
    pairs: &[matching::ScoredPair],
    profile: impl Fn(u32) -> &'a matching::profile::Profile,
    record: impl Fn(u32) -> &'a SourceCustomer,
) -> (Vec<Link>, Vec<ReviewCandidate>) {
    let id = |i: u32| {
        let r = record(i);
        (r.source.clone(), r.customer.source_key.clone())
    };
    let mut reviews = Vec::new();
    let mut links = Vec::new();
    for p in pairs {
        let reason = match &p.decision {
            matching::Decision::Link => {
                let tax = |i: u32| profile(i).get(matching::profile::Field::TaxId);
                let rule = if tax(p.a).is_some_and(|t| t.starts_with("V:")) && tax(p.a) == tax(p.b)
                {
                    "tax_id"
                } else if p.weight.is_infinite() {
                    "steward"
                } else {
                    "probabilistic"
                };
                links.push(Link {
                    a: p.a as usize,
                    b: p.b as usize,
                    rule,
                });
                continue;
            }
            matching::Decision::Separate => continue,
            matching::Decision::Review if p.probability < m.settings.review_threshold => {
                "plausible"
            }
            matching::Decision::Review => "between_thresholds",
            matching::Decision::Refused(matching::Refusal::Branch) => "branch",
            matching::Decision::Refused(matching::Refusal::TaxIdConflict) => "tax_id_conflict",
            matching::Decision::Refused(matching::Refusal::WeakJoin) => "weak_join",
            matching::Decision::Refused(matching::Refusal::NamesDiffer) => "names_differ",
            matching::Decision::Refused(matching::Refusal::Steward) => continue,
        };
        reviews.push(ReviewCandidate {
            left: id(p.a),
            right: id(p.b),
            probability: p.probability,
            reason: reason.to_string(),
            explanation: m.explain(profile(p.a), profile(p.b)),
        });
    }
    // Stronger links first, so an xref's rule names its best evidence.
    links.sort_by_key(|l| match l.rule {
        "steward" => 0,
        "tax_id" => 1,
        _ => 2,
    });
    (links, reviews)
}

impl Matcher for ProbabilisticMatcher {
    fn links(&self, records: &[SourceCustomer]) -> Vec<Link> {
        let Ok(mut m) = matching::Matching::new(&self.settings) else {
            return vec![];
        };
        let profiles = matching::profile::profiles_of(records, |r| &r.customer, &m.profile);
        let constraints = constraints_of(&self.decisions, &index_of(records));
        let pairs = match &self.kept {
            Some(params) => {
                if m.model.apply(params).is_err() {
                    return vec![];
                }
                m.recluster_pairs(&profiles, &constraints).pairs
            }
            None => m.run_with(&profiles, None, &constraints).pairs,
        };
        let (links, reviews) = decided(
            &m,
            &pairs,
            |i| &profiles[i as usize],
            |i| &records[i as usize],
        );
        if let Ok(mut r) = self.reviews.lock() {
            *r = reviews;
        }
        if let Ok(mut t) = self.trained.lock() {
            *t = Some(m.model.params());
        }
        if let Ok(mut k) = self.keys.lock() {
            *k = profiles
                .iter()
                .map(|p| matching::blocking::keys_of(p, &m.rules))
                .collect();
        }
        links
    }
}
