//! Constrained clustering of the decided links: strongest first, never two valid tax IDs in one
//! cluster, clusters of several records joined only on a strong average.

use super::blocking::BlockIndex;
use super::profile::Profile;
use super::*;
use crate::reconcile::cluster::UnionFind;

/// Clusters being built: disjoint sets of records with their members and the valid tax ID
/// each holds (at most one).
#[derive(Debug, Clone)]
pub struct Clustering {
    pub(super) uf: UnionFind,
    pub(super) members: Vec<Vec<u32>>,
    pub(super) tax: Vec<Option<Box<str>>>,
}

impl Clustering {
    /// Every record alone.
    pub(super) fn new(profiles: &[Profile]) -> Self {
        let mut c = Clustering {
            uf: UnionFind::new(0),
            members: vec![],
            tax: vec![],
        };
        c.grow(profiles);
        c
    }

    /// Adds the records of `profiles` not known yet, each alone.
    pub(super) fn grow(&mut self, profiles: &[Profile]) {
        for (i, p) in profiles.iter().enumerate().skip(self.members.len()) {
            self.uf.push();
            self.members.push(vec![i as u32]);
            self.tax.push(valid_tax(p).map(Box::from));
        }
    }

    /// Clusters the records `subset` as `clusters` says (positions in `subset`); every other
    /// record keeps its cluster. `subset` must be whole clusters (every member of each).
    pub(super) fn regroup(
        &mut self,
        profiles: &[Profile],
        subset: &[u32],
        clusters: &[Vec<usize>],
    ) {
        let xs: Vec<usize> = subset.iter().map(|&x| x as usize).collect();
        self.uf.detach(&xs);
        for &x in &xs {
            self.members[x] = vec![x as u32];
            self.tax[x] = valid_tax(&profiles[x]).map(Box::from);
        }
        for c in clusters {
            let first = subset[c[0]] as usize;
            for &i in &c[1..] {
                let (a, b) = (self.uf.find(first), self.uf.find(subset[i] as usize));
                if a != b {
                    self.join(a, b);
                }
            }
        }
    }

    /// Joins two roots.
    pub(super) fn join(&mut self, ra: usize, rb: usize) {
        self.uf.union(ra, rb);
        let root = self.uf.find(ra);
        let other = if root == ra { rb } else { ra };
        let moved = std::mem::take(&mut self.members[other]);
        self.members[root].extend(moved);
        if self.tax[root].is_none() {
            self.tax[root] = self.tax[other].take();
        }
    }

    /// The clusters: each sorted, ordered by smallest member.
    pub fn clusters(&mut self) -> Vec<Vec<usize>> {
        let n = self.members.len();
        let pairs: Vec<(usize, usize)> = (0..n).map(|i| (i, self.uf.find(i))).collect();
        crate::reconcile::cluster::clusters(n, pairs)
    }
}

/// What later records are matched against: the blocking index and the clusters.
#[derive(Debug, Clone)]
pub struct Incremental {
    /// Blocking keys of every record so far.
    pub index: BlockIndex,
    /// Clusters of every record so far.
    pub state: Clustering,
}
