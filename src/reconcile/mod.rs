//! Reconciliation: which source customers are the same customer, and their golden record.
//!
//! v0 is deterministic ([`DeterministicMatcher`]): the same valid tax ID links records; so do
//! the same normalised name, postal code and country. The [`Matcher`] trait is the seam where
//! probabilistic matching plugs in. Clustering keeps master IDs stable: a cluster that holds
//! records already linked to a master keeps that master's ID; when two masters come together
//! the older survives and the other becomes an alias.
//!
//! Decisions of [`reconcile`]:
//! - **Master IDs.** A new cluster's ID is `M-` + the first 12 hex digits of
//!   sha256(source + U+001F + key) of its smallest (source, key) member, so rebuilding from the
//!   same records gives the same IDs. Should that ID already be taken (live, aliased or given
//!   earlier in the same rebuild), `U+001F` + a counter is appended to the hashed text until
//!   it is free. An ID, once given, is never reused for another customer.
//! - **Existing masters.** A cluster keeps the master its records are already linked to
//!   (through the existing xrefs, resolved through aliases). When it holds records of several,
//!   the oldest (created_at, then ID) survives and the others become aliases of it. When one
//!   master's records are split over several clusters, the first cluster (by smallest member)
//!   that can claim it keeps it; the others get new IDs.
//! - **Aliases** map a retired ID straight to a live master: existing aliases are kept and
//!   re-pointed, so there are no chains. Aliased masters are not in `masters`.
//! - **Masters whose records all disappeared** from staging are kept unchanged (history is
//!   not deleted), and so are the xrefs of vanished records, re-pointed to the survivor when
//!   their master was merged.
//! - **Xref rules** say why a record is in its master now: the rule of the first link that
//!   reached it (the deterministic matcher lists `tax_id` links before `name_postcode` ones), or
//!   `singleton` when it is alone. There is no `existing` rule: keeping a master ID is not a
//!   reason to be linked.
//! - **Timestamps.** `created_at` of an existing master is kept; `updated_at` becomes `now`
//!   only when its golden record or lineage changed.

pub mod cluster;
pub mod groups;
pub mod incremental;
pub mod matching;
pub mod normalize;
pub mod survivorship;
pub mod taxid;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::model::Customer;
use crate::model::{MasterRow, MasterState, RunId, XrefRow};

/// A customer as staged from one source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceCustomer {
    /// Connector name.
    pub source: String,
    /// The run that last staged it (for lineage).
    pub run: RunId,
    /// The canonical customer.
    pub customer: Customer,
}

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

/// Settings of survivorship.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Survivorship {
    /// Connector names, most trusted first; a value from an earlier source wins. Sources not
    /// listed rank after the listed ones; ties go to the most recently updated record.
    pub source_priority: Vec<String>,
}

/// The rule of an xref whose record is alone in its master.
pub const RULE_SINGLETON: &str = "singleton";

/// The stable ID of a new master whose smallest member is (`source`, `key`); `attempt` > 0
/// only when an earlier attempt's ID was taken.
pub fn master_id_for(source: &str, key: &str, attempt: u32) -> String {
    let mut h = Sha256::new();
    h.update(source.as_bytes());
    h.update("\u{1f}".as_bytes());
    h.update(key.as_bytes());
    if attempt > 0 {
        h.update(format!("\u{1f}{attempt}").as_bytes());
    }
    let hex = hex::encode(h.finalize());
    format!("M-{}", &hex[..12])
}

/// Follows `aliases` from `id` to an ID that is not an alias (cycles stop where they close).
fn resolve(aliases: &HashMap<String, String>, id: &str) -> String {
    let mut current = id.to_string();
    for _ in 0..=aliases.len() {
        match aliases.get(&current) {
            Some(next) if *next != current => current = next.clone(),
            _ => break,
        }
    }
    current
}

/// Rebuilds the master from every staged customer, keeping existing master IDs stable.
/// Returns the whole new state (masters, xrefs, aliases including the old ones).
///
/// See the module documentation for how IDs, aliases, rules and timestamps are decided.
/// When the same (source, key) occurs twice in `customers`, the one of the later run wins.
pub fn reconcile(
    existing: &MasterState,
    customers: &[SourceCustomer],
    matcher: &dyn Matcher,
    survivorship: &Survivorship,
    now: DateTime<Utc>,
) -> MasterState {
    let records = unique_records(customers);
    let links = matcher.links(&records);
    assign(existing, &records, &links, survivorship, now)
}

/// The records in (source, key) order, one per (source, key): the one of the latest run.
pub fn unique_records(customers: &[SourceCustomer]) -> Vec<SourceCustomer> {
    unique_indices(customers)
        .into_iter()
        .map(|i| customers[i].clone())
        .collect()
}

/// [`unique_records`] as indexes into `customers` (of equal runs, the later one).
pub fn unique_indices(customers: &[SourceCustomer]) -> Vec<usize> {
    let mut unique: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, c) in customers.iter().enumerate() {
        let k = (c.source.as_str(), c.customer.source_key.as_str());
        match unique.get(&k) {
            Some(&prev) if customers[prev].run > c.run => {}
            _ => {
                unique.insert(k, i);
            }
        }
    }
    unique.into_values().collect()
}

/// Clusters `records` (unique, in (source, key) order) by `links` (indexes into them) and
/// gives each cluster its master (see the module doc). Records not in `records` keep their
/// xrefs, and masters none of `records` belonged to stay as they are — so `records` may be
/// every staged record or only those an incremental update clusters again.
pub fn assign(
    existing: &MasterState,
    records: &[SourceCustomer],
    links: &[Link],
    survivorship: &Survivorship,
    now: DateTime<Utc>,
) -> MasterState {
    // Links → clusters, and the rule that first reached each record.
    let mut rules: Vec<Option<&'static str>> = vec![None; records.len()];
    for l in links {
        for i in [l.a, l.b] {
            if let Some(slot) = rules.get_mut(i)
                && slot.is_none()
                && l.a != l.b
            {
                *slot = Some(l.rule);
            }
        }
    }
    let clusters = cluster::clusters(records.len(), links.iter().map(|l| (l.a, l.b)));

    // What exists.
    let old_aliases: HashMap<String, String> = existing.aliases.iter().cloned().collect();
    let old_masters: HashMap<&str, &MasterRow> = existing
        .masters
        .iter()
        .filter(|m| !old_aliases.contains_key(&m.master_id))
        .map(|m| (m.master_id.as_str(), m))
        .collect();
    let old_xref: HashMap<(&str, &str), &XrefRow> = existing
        .xrefs
        .iter()
        .map(|x| ((x.source.as_str(), x.key.as_str()), x))
        .collect();
    let master_of = |r: &SourceCustomer| -> Option<&MasterRow> {
        let x = old_xref.get(&(r.source.as_str(), r.customer.source_key.as_str()))?;
        old_masters
            .get(resolve(&old_aliases, &x.master_id).as_str())
            .copied()
    };
    let mut taken: HashSet<String> = existing
        .masters
        .iter()
        .map(|m| m.master_id.clone())
        .chain(old_aliases.keys().cloned())
        .chain(old_aliases.values().cloned())
        .collect();

    // Give each cluster its master ID.
    let mut claimed: HashSet<&str> = HashSet::new();
    let mut cluster_ids: Vec<String> = Vec::with_capacity(clusters.len());
    let mut candidates_of: Vec<Vec<&MasterRow>> = Vec::with_capacity(clusters.len());
    for members in &clusters {
        let mut candidates: Vec<&MasterRow> = members
            .iter()
            .filter_map(|&i| master_of(&records[i]))
            .collect();
        candidates.sort_by(|a, b| (a.created_at, &a.master_id).cmp(&(b.created_at, &b.master_id)));
        candidates.dedup_by(|a, b| a.master_id == b.master_id);
        let id = match candidates
            .iter()
            .find(|m| !claimed.contains(m.master_id.as_str()))
        {
            Some(m) => {
                claimed.insert(m.master_id.as_str());
                m.master_id.clone()
            }
            None => {
                let first = &records[members[0]];
                let mut attempt = 0;
                loop {
                    let id = master_id_for(&first.source, &first.customer.source_key, attempt);
                    if taken.insert(id.clone()) {
                        break id;
                    }
                    attempt += 1;
                }
            }
        };
        cluster_ids.push(id);
        candidates_of.push(candidates);
    }

    // Masters that lost all their records to clusters with another ID retire into the first
    // such cluster's master.
    let mut aliases: HashMap<String, String> = old_aliases.clone();
    for (candidates, id) in candidates_of.iter().zip(&cluster_ids) {
        for m in candidates {
            if !claimed.contains(m.master_id.as_str()) && !aliases.contains_key(&m.master_id) {
                aliases.insert(m.master_id.clone(), id.clone());
            }
        }
    }
    let flat: Vec<(String, String)> = {
        let mut v: Vec<(String, String)> = aliases
            .keys()
            .map(|k| (k.clone(), resolve(&aliases, k)))
            .filter(|(k, v)| k != v)
            .collect();
        v.sort();
        v
    };
    let alias_map: HashMap<String, String> = flat.iter().cloned().collect();

    // Masters and xrefs of the clusters.
    let mut masters: Vec<MasterRow> = Vec::new();
    let mut xrefs: Vec<XrefRow> = Vec::new();
    let mut present: HashSet<(&str, &str)> = HashSet::new();
    for (members, id) in clusters.iter().zip(&cluster_ids) {
        let refs: Vec<&SourceCustomer> = members.iter().map(|&i| &records[i]).collect();
        let g = survivorship::golden_record(&refs, survivorship);
        let row = match old_masters.get(id.as_str()) {
            Some(old) => MasterRow {
                master_id: id.clone(),
                updated_at: if old.golden == g.golden && old.lineage == g.lineage {
                    old.updated_at
                } else {
                    now
                },
                created_at: old.created_at,
                golden: g.golden,
                lineage: g.lineage,
            },
            None => MasterRow {
                master_id: id.clone(),
                golden: g.golden,
                lineage: g.lineage,
                created_at: now,
                updated_at: now,
            },
        };
        masters.push(row);
        for &i in members {
            let r = &records[i];
            present.insert((r.source.as_str(), r.customer.source_key.as_str()));
            xrefs.push(XrefRow {
                source: r.source.clone(),
                key: r.customer.source_key.clone(),
                master_id: id.clone(),
                rule: rules[i].unwrap_or(RULE_SINGLETON).to_string(),
            });
        }
    }

    // Masters whose records all disappeared stay as they are; so do the xrefs of vanished
    // records, pointed at the live master.
    let live: HashSet<String> = masters.iter().map(|m| m.master_id.clone()).collect();
    for m in &existing.masters {
        if !live.contains(&m.master_id) && !alias_map.contains_key(&m.master_id) {
            masters.push(m.clone());
        }
    }
    for x in &existing.xrefs {
        if !present.contains(&(x.source.as_str(), x.key.as_str())) {
            xrefs.push(XrefRow {
                master_id: resolve(&alias_map, &x.master_id),
                ..x.clone()
            });
        }
    }
    masters.sort_by(|a, b| a.master_id.cmp(&b.master_id));
    xrefs.sort_by(|a, b| (&a.source, &a.key).cmp(&(&b.source, &b.key)));
    MasterState {
        masters,
        xrefs,
        aliases: flat,
    }
}
