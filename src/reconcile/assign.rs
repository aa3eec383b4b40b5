//! From links to the master: clusters get stable master IDs (see the module doc of
//! [`crate::reconcile`]), golden records by survivorship, xrefs with their rule, aliases.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::*;
use crate::model::{MasterRow, MasterState, XrefRow};

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
pub(super) fn resolve(aliases: &HashMap<String, String>, id: &str) -> String {
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
