//! Clustering: union-find over links, so linking is transitive (a–b and b–c put a, b, c in
//! one cluster).

/// Disjoint sets over `0..n` with path halving and union by size.
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<usize>,
    size: Vec<usize>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        UnionFind {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    /// Adds one element, alone in its set.
    pub fn push(&mut self) {
        self.parent.push(self.parent.len());
        self.size.push(1);
    }

    /// Makes each of `xs` a singleton again. `xs` must be whole sets (every member of a set
    /// that has one of them), so no other element points into them.
    pub fn detach(&mut self, xs: &[usize]) {
        for &x in xs {
            self.parent[x] = x;
            self.size[x] = 1;
        }
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Joins the sets of `a` and `b`; false when they were already one.
    pub fn union(&mut self, a: usize, b: usize) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra] < self.size[rb] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb] = ra;
        self.size[ra] += self.size[rb];
        true
    }
}

/// The clusters of `0..n` under `pairs`: each cluster sorted ascending, clusters ordered by
/// their smallest member. Pairs naming an index ≥ `n` are ignored.
pub fn clusters(n: usize, pairs: impl IntoIterator<Item = (usize, usize)>) -> Vec<Vec<usize>> {
    let mut uf = UnionFind::new(n);
    for (a, b) in pairs {
        if a < n && b < n {
            uf.union(a, b);
        }
    }
    let mut by_root: Vec<Option<usize>> = vec![None; n];
    let mut out: Vec<Vec<usize>> = Vec::new();
    for i in 0..n {
        let root = uf.find(i);
        match by_root[root] {
            Some(c) => out[c].push(i),
            None => {
                by_root[root] = Some(out.len());
                out.push(vec![i]);
            }
        }
    }
    out
}
