//! Matching changes against what was matched before, with the model as trained, re-clustering
//! only the records a change can reach — and getting the clusters a full re-cluster would.
//!
//! Why that holds. Clustering ([`Matching::run_with`]) walks the pairs that can link (a
//! steward's must-link, the same valid tax ID, or a probability at or above the review
//! threshold — the *eligible* pairs) strongest first, and each decision looks only at the two
//! clusters the pair would join. So the clusters of a connected component of the eligible
//! pairs depend on that component alone, and a record's cluster can change only when its
//! component changes. The records to cluster again ([`Matching::affected`]) are therefore the
//! changed records, the records that shared a cluster with one of them (a change can break the
//! link that held them), and everything eligible pairs reach from those, closed under both
//! rules until nothing is added. Every other record keeps its cluster. One more way a pair can
//! appear or vanish without either record changing: a block crossing the size cap
//! (`max_block_size`) as records join or leave it — [`crossed_blocks`] names the members of
//! such blocks, which are changed records too.
//!
//! Inside the set, pairs are numbered in the order of the full run (the caller passes the
//! records in that order), so ties in weight break the same way.

use std::collections::{HashMap, HashSet, VecDeque};

use super::blocking::BlockIndex;
use super::model::probability;
use super::profile::Profile;
use super::{Constraints, Matching, ScoredPair, valid_tax};

/// A change of one record's blocking keys: before (`None`: it is new) and after (`None`: it is
/// gone), one entry per rule.
pub type KeyChange<'a> = (Option<&'a [Option<u64>]>, Option<&'a [Option<u64>]>);

/// Records re-clustered, with their pairs decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Subset {
    /// The candidate pairs among them, scored and decided (positions in the subset).
    pub pairs: Vec<ScoredPair>,
    /// Their clusters (positions in the subset; sorted; ordered by smallest member).
    pub clusters: Vec<Vec<usize>>,
}

/// The members of every block whose size crossed `max_block` (in either direction) when the
/// records of `changes` moved between blocks: their candidate pairs appeared or vanished.
pub fn crossed_blocks(index: &BlockIndex, max_block: usize, changes: &[KeyChange<'_>]) -> Vec<u32> {
    let mut delta: HashMap<(usize, u64), i64> = HashMap::new();
    for (before, after) in changes {
        let rules = before
            .map_or(0, <[_]>::len)
            .max(after.map_or(0, <[_]>::len));
        for r in 0..rules {
            let old = before.and_then(|k| k.get(r).copied().flatten());
            let new = after.and_then(|k| k.get(r).copied().flatten());
            if old == new {
                continue;
            }
            if let Some(k) = old {
                *delta.entry((r, k)).or_default() -= 1;
            }
            if let Some(k) = new {
                *delta.entry((r, k)).or_default() += 1;
            }
        }
    }
    let max = max_block as i64;
    let mut out = Vec::new();
    for ((r, key), d) in delta {
        let now = index.members(r, key).count() as i64;
        if ((now - d) <= max) != (now <= max) {
            out.extend(index.members(r, key));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl Matching {
    /// The records `x` is a candidate pair with: those sharing a block of at most
    /// `max_block_size` records with it, under any rule; sorted, without `x`.
    pub fn neighbours(&self, profiles: &[Profile], index: &BlockIndex, x: u32) -> Vec<u32> {
        let mut out = Vec::new();
        for (r, rule) in self.rules.iter().enumerate() {
            let Some(key) = rule.hashed_key(&profiles[x as usize]) else {
                continue;
            };
            // One more than the cap is enough to know the block is skipped.
            let max = self.settings.max_block_size;
            let block: Vec<u32> = index.members(r, key).take(max + 1).collect();
            if block.len() <= max {
                out.extend(block.into_iter().filter(|&y| y != x));
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// True when a pair can take part in clustering by itself (must-links aside): the same
    /// valid tax ID, or a probability at or above the review threshold.
    fn eligible(&self, a: &Profile, b: &Profile) -> bool {
        let tax = valid_tax(a);
        if tax.is_some() && tax == valid_tax(b) {
            return true;
        }
        probability(self.model.weight(self.model.pattern(a, b))) >= self.settings.review_threshold
    }

    /// The records to cluster again when `seeds` changed (see the module doc): the seeds, the
    /// records `mates` says shared a cluster with any record taken, and every record an
    /// eligible pair or a must-link of `constraints` reaches, until closed. `profiles` and
    /// `index` are the records as they are now; sorted.
    pub fn affected(
        &self,
        profiles: &[Profile],
        index: &BlockIndex,
        seeds: impl IntoIterator<Item = u32>,
        mates: &dyn Fn(u32) -> Vec<u32>,
        constraints: &Constraints,
    ) -> Vec<u32> {
        let mut must: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(a, b) in &constraints.must_link {
            must.entry(a).or_default().push(b);
            must.entry(b).or_default().push(a);
        }
        let mut taken: HashSet<u32> = HashSet::new();
        let mut queue: VecDeque<u32> = VecDeque::new();
        let n = profiles.len() as u32;
        let take = |x: u32, taken: &mut HashSet<u32>, queue: &mut VecDeque<u32>| {
            if x < n && taken.insert(x) {
                queue.push_back(x);
            }
        };
        for s in seeds {
            take(s, &mut taken, &mut queue);
        }
        while let Some(x) = queue.pop_front() {
            for y in mates(x) {
                take(y, &mut taken, &mut queue);
            }
            let forced = must.get(&x).cloned().unwrap_or_default();
            for y in forced {
                take(y, &mut taken, &mut queue);
            }
            for y in self.neighbours(profiles, index, x) {
                if !taken.contains(&y)
                    && self.eligible(&profiles[x as usize], &profiles[y as usize])
                {
                    take(y, &mut taken, &mut queue);
                }
            }
        }
        let mut out: Vec<u32> = taken.into_iter().collect();
        out.sort_unstable();
        out
    }

    /// Scores, decides and clusters the records `subset` (sorted positions in `profiles`)
    /// among themselves with the model as trained: their candidate pairs with each other, as
    /// the full run would find them, under `constraints` (pairs of positions in `profiles`;
    /// those leaving the subset are ignored).
    pub fn cluster_subset(
        &self,
        profiles: &[Profile],
        index: &BlockIndex,
        subset: &[u32],
        constraints: &Constraints,
    ) -> Subset {
        let local: HashMap<u32, u32> = subset
            .iter()
            .enumerate()
            .map(|(i, &g)| (g, i as u32))
            .collect();
        let sub: Vec<Profile> = subset
            .iter()
            .map(|&g| profiles[g as usize].clone())
            .collect();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (i, &g) in subset.iter().enumerate() {
            for y in self.neighbours(profiles, index, g) {
                if let Some(&j) = local.get(&y)
                    && (i as u32) < j
                {
                    pairs.push((i as u32, j));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let map = |v: &[(u32, u32)]| -> Vec<(u32, u32)> {
            v.iter()
                .filter_map(|(a, b)| Some((*local.get(a)?, *local.get(b)?)))
                .collect()
        };
        let constraints = Constraints {
            must_link: map(&constraints.must_link),
            cannot_link: map(&constraints.cannot_link),
        };
        let mut scored = self.score(&sub, &pairs);
        let clusters = self.cluster(&sub, &mut scored, &constraints).clusters();
        Subset {
            pairs: scored,
            clusters,
        }
    }
}
