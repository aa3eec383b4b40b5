//! Blocking: which pairs of records are compared at all.
//!
//! Each rule is a key built from a few fields (or their first characters); records with the
//! same key form a block and every pair inside a block is a candidate. Candidates are the
//! union over all rules, so cost grows with the sizes of the blocks, not with n². A block
//! larger than the cap is skipped (and reported): a key that common says nothing.

use std::collections::HashMap;
use std::hash::Hasher;

use serde::Deserialize;

use super::profile::{Field, Profile};

/// One part of a blocking key: a field, or its first `prefix` characters.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPart {
    /// The field.
    pub field: Field,
    /// Only this many leading characters.
    pub prefix: Option<usize>,
}

/// A blocking rule: records whose parts are all present and equal are compared.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockingRule {
    /// Its name (the parts joined by `+`).
    pub name: String,
    /// The parts.
    pub parts: Vec<KeyPart>,
}

/// How a rule is written in configuration: `["family_name", "birth_date"]`, `["org_name:4",
/// "postal_code"]` (`:N` = first N characters).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct RuleSpec(pub Vec<String>);

impl BlockingRule {
    /// Parses a configured rule.
    pub fn parse(spec: &RuleSpec) -> Result<Self, String> {
        if spec.0.is_empty() {
            return Err("a blocking rule needs at least one field".into());
        }
        let parts = spec
            .0
            .iter()
            .map(|p| {
                let (name, prefix) = match p.split_once(':') {
                    Some((n, k)) => (
                        n,
                        Some(k.parse::<usize>().ok().filter(|k| *k > 0).ok_or_else(|| {
                            format!("`{p}`: the prefix length must be a positive number")
                        })?),
                    ),
                    None => (p.as_str(), None),
                };
                Ok(KeyPart {
                    field: Field::parse(name)?,
                    prefix,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(BlockingRule {
            name: spec.0.join("+"),
            parts,
        })
    }

    /// The key as a 64-bit hash (fixed keys, so it repeats from run to run); equal keys give
    /// equal hashes, and the rare collision only adds a candidate pair.
    pub fn hashed_key(&self, p: &Profile) -> Option<u64> {
        let mut h = std::hash::DefaultHasher::new();
        for part in &self.parts {
            let v = p.get(part.field)?;
            let end = match part.prefix {
                Some(n) => v.char_indices().nth(n).map_or(v.len(), |(i, _)| i),
                None => v.len(),
            };
            h.write(&v.as_bytes()[..end]);
            h.write_u8(0x1f);
        }
        Some(h.finish())
    }
}

/// The blocking keys of a set of profiles, one sorted table per rule, plus the records added
/// since (for matching new records against everything without re-blocking).
#[derive(Debug, Clone, Default)]
pub struct BlockIndex {
    /// Per rule: (hashed key, record), sorted.
    sorted: Vec<Vec<(u64, u32)>>,
    /// Per rule: records added after the sorted table was built.
    added: Vec<HashMap<u64, Vec<u32>>>,
}

impl BlockIndex {
    /// Indexes `profiles` under `rules`.
    pub fn build(profiles: &[Profile], rules: &[BlockingRule]) -> Self {
        let sorted = rules
            .iter()
            .map(|rule| {
                let mut keys: Vec<(u64, u32)> = profiles
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| Some((rule.hashed_key(p)?, i as u32)))
                    .collect();
                keys.sort_unstable();
                keys
            })
            .collect();
        BlockIndex {
            sorted,
            added: vec![HashMap::new(); rules.len()],
        }
    }

    /// The blocks of rule `r` (records sharing a key), in key order.
    fn blocks(&self, r: usize) -> impl Iterator<Item = Vec<u32>> + '_ {
        self.sorted[r]
            .chunk_by(|a, b| a.0 == b.0)
            .map(|run| run.iter().map(|&(_, i)| i).collect())
    }

    /// Records indexed under `key` for rule `r` (the block of that key).
    pub fn members(&self, r: usize, key: u64) -> impl Iterator<Item = u32> + '_ {
        let table = &self.sorted[r];
        let start = table.partition_point(|e| e.0 < key);
        table[start..]
            .iter()
            .take_while(move |e| e.0 == key)
            .map(|e| e.1)
            .chain(self.added[r].get(&key).into_iter().flatten().copied())
    }

    /// Adds the records `first..profiles.len()` to the index.
    pub fn insert(&mut self, profiles: &[Profile], first: usize, rules: &[BlockingRule]) {
        for (r, rule) in rules.iter().enumerate() {
            for (j, p) in profiles.iter().enumerate().skip(first) {
                if let Some(key) = rule.hashed_key(p) {
                    self.added[r].entry(key).or_default().push(j as u32);
                }
            }
        }
    }
}

/// The hashed key of `profile` under each rule (`None` where a part is missing).
pub fn keys_of(profile: &Profile, rules: &[BlockingRule]) -> Vec<Option<u64>> {
    rules.iter().map(|rule| rule.hashed_key(profile)).collect()
}

/// What blocking did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BlockingStats {
    /// Per rule: (name, pairs it produced before de-duplication, blocks skipped as too large).
    pub rules: Vec<(String, u64, u64)>,
    /// Distinct candidate pairs.
    pub candidates: u64,
}

/// Distinct candidate pairs `(i, j)` with `i < j`, sorted. With `groups`, only pairs from
/// different groups are candidates (linking two datasets rather than deduplicating one).
pub fn candidate_pairs(
    profiles: &[Profile],
    rules: &[BlockingRule],
    max_block: usize,
    groups: Option<&[u32]>,
) -> (Vec<(u32, u32)>, BlockingStats) {
    candidates_of(
        &BlockIndex::build(profiles, rules),
        rules,
        max_block,
        groups,
    )
}

/// [`candidate_pairs`] from an index built already.
pub fn candidates_of(
    index: &BlockIndex,
    rules: &[BlockingRule],
    max_block: usize,
    groups: Option<&[u32]>,
) -> (Vec<(u32, u32)>, BlockingStats) {
    let mut pairs: Vec<u64> = Vec::new();
    let mut stats = BlockingStats::default();
    for (r, rule) in rules.iter().enumerate() {
        let (mut produced, mut skipped) = (0u64, 0u64);
        for members in index.blocks(r) {
            if members.len() > max_block {
                skipped += 1;
                continue;
            }
            for (x, &a) in members.iter().enumerate() {
                for &b in &members[x + 1..] {
                    if groups.is_some_and(|g| g[a as usize] == g[b as usize]) {
                        continue;
                    }
                    let (i, j) = if a < b { (a, b) } else { (b, a) };
                    pairs.push((u64::from(i) << 32) | u64::from(j));
                    produced += 1;
                }
            }
        }
        stats.rules.push((rule.name.clone(), produced, skipped));
    }
    pairs.sort_unstable();
    pairs.dedup();
    stats.candidates = pairs.len() as u64;
    let pairs = pairs
        .into_iter()
        .map(|p| ((p >> 32) as u32, p as u32))
        .collect();
    (pairs, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(values: &[(Field, &str)]) -> Profile {
        let mut p = Profile::default();
        for (f, v) in values {
            p.set(*f, Some(v.to_string()));
        }
        p
    }

    fn rule(parts: &[&str]) -> BlockingRule {
        BlockingRule::parse(&RuleSpec(parts.iter().map(|s| s.to_string()).collect())).unwrap()
    }

    #[test]
    fn pairs_are_the_union_of_the_rules_without_repeats() {
        let ps = vec![
            profile(&[(Field::FamilyName, "smith"), (Field::PostalCode, "2600")]),
            profile(&[(Field::FamilyName, "smith"), (Field::PostalCode, "2600")]),
            profile(&[(Field::FamilyName, "smyth"), (Field::PostalCode, "2600")]),
            profile(&[(Field::FamilyName, "jones")]),
        ];
        let rules = [rule(&["family_name"]), rule(&["postal_code"])];
        let (pairs, stats) = candidate_pairs(&ps, &rules, 100, None);
        assert_eq!(pairs, [(0, 1), (0, 2), (1, 2)]);
        assert_eq!(stats.candidates, 3);
        assert_eq!(
            stats.rules,
            [
                ("family_name".to_string(), 1, 0),
                ("postal_code".to_string(), 3, 0)
            ]
        );
        // Prefixes, and a cap that skips the big block.
        let (pairs, stats) = candidate_pairs(&ps, &[rule(&["family_name:2"])], 2, None);
        assert!(pairs.is_empty());
        assert_eq!(stats.rules[0].2, 1);
        // Linking: only across groups.
        let (pairs, _) = candidate_pairs(&ps, &rules, 100, Some(&[0, 0, 1, 1]));
        assert_eq!(pairs, [(0, 2), (1, 2)]);
    }

    #[test]
    fn recall_on_a_labelled_set() {
        // Ten entities, each with a clean record and a corrupted one (a typo in the family
        // name or a missing postcode, never both): the two rules together find every true pair.
        let mut ps = vec![];
        let mut truth = vec![];
        for e in 0..10u32 {
            let family = format!("family{e}");
            let dob = format!("19{:02}-01-0{}", 40 + e, 1 + e % 9);
            let pc = format!("{}", 2600 + e);
            ps.push(profile(&[
                (Field::FamilyName, &family),
                (Field::BirthDate, &dob),
                (Field::PostalCode, &pc),
            ]));
            let corrupted = if e % 2 == 0 {
                profile(&[
                    (Field::FamilyName, &format!("famliy{e}")),
                    (Field::BirthDate, &dob),
                    (Field::PostalCode, &pc),
                ])
            } else {
                profile(&[(Field::FamilyName, &family), (Field::BirthDate, &dob)])
            };
            ps.push(corrupted);
            truth.push((2 * e, 2 * e + 1));
        }
        let rules = [rule(&["family_name"]), rule(&["birth_date", "postal_code"])];
        let (pairs, _) = candidate_pairs(&ps, &rules, 100, None);
        let found = truth.iter().filter(|t| pairs.contains(t)).count();
        assert_eq!(found, truth.len(), "recall 1.0");
        // Either rule alone misses half of them.
        for r in &rules {
            let (pairs, _) = candidate_pairs(&ps, std::slice::from_ref(r), 100, None);
            assert_eq!(truth.iter().filter(|t| pairs.contains(t)).count(), 5);
        }
    }

    #[test]
    fn records_added_later_meet_the_indexed_ones_and_each_other() {
        let ps = vec![
            profile(&[(Field::FamilyName, "smith")]),
            profile(&[(Field::FamilyName, "jones")]),
            profile(&[(Field::FamilyName, "smith")]),
            profile(&[(Field::FamilyName, "smith")]),
        ];
        let rules = [rule(&["family_name"])];
        let mut index = BlockIndex::build(&ps[..2], &rules);
        index.insert(&ps, 2, &rules);
        let key = rules[0].hashed_key(&ps[0]).unwrap();
        let mut block: Vec<u32> = index.members(0, key).collect();
        block.sort_unstable();
        assert_eq!(block, [0, 2, 3]);
        // The same block as indexing everything at once.
        let all = BlockIndex::build(&ps, &rules);
        assert_eq!(all.members(0, key).collect::<Vec<_>>(), [0, 2, 3]);
        let (pairs, _) = candidate_pairs(&ps, &rules, 100, None);
        assert_eq!(pairs, [(0, 2), (0, 3), (2, 3)]);
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(BlockingRule::parse(&RuleSpec(vec![])).is_err());
        assert!(BlockingRule::parse(&RuleSpec(vec!["nope".into()])).is_err());
        assert!(BlockingRule::parse(&RuleSpec(vec!["org_name:x".into()])).is_err());
        assert!(BlockingRule::parse(&RuleSpec(vec!["org_name:0".into()])).is_err());
    }
}
