//! Blocking: which pairs of records are compared at all.
//!
//! Each rule is a key built from a few fields (or their first characters); records with the
//! same key form a block and every pair inside a block is a candidate. Candidates are the
//! union over all rules, so cost grows with the sizes of the blocks, not with n². A block
//! larger than the cap is skipped (and reported): a key that common says nothing.

use std::collections::HashMap;

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

    /// The key of a profile, when every part is present.
    pub fn key(&self, p: &Profile) -> Option<String> {
        let mut key = String::new();
        for part in &self.parts {
            let v = p.get(part.field)?;
            if !key.is_empty() {
                key.push('\u{1f}');
            }
            match part.prefix {
                Some(n) => key.extend(v.chars().take(n)),
                None => key.push_str(v),
            }
        }
        Some(key)
    }
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
    let mut pairs: Vec<u64> = Vec::new();
    let mut stats = BlockingStats::default();
    for rule in rules {
        let mut blocks: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, p) in profiles.iter().enumerate() {
            if let Some(k) = rule.key(p) {
                blocks.entry(k).or_default().push(i as u32);
            }
        }
        let (mut produced, mut skipped) = (0u64, 0u64);
        for members in blocks.values() {
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
    fn bad_rules_are_refused() {
        assert!(BlockingRule::parse(&RuleSpec(vec![])).is_err());
        assert!(BlockingRule::parse(&RuleSpec(vec!["nope".into()])).is_err());
        assert!(BlockingRule::parse(&RuleSpec(vec!["org_name:x".into()])).is_err());
        assert!(BlockingRule::parse(&RuleSpec(vec!["org_name:0".into()])).is_err());
    }
}
