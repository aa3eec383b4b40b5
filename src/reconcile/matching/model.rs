//! The Fellegi–Sunter model: per comparison level, m (how often matches show it) and u (how
//! often non-matches do); a pair's match weight is log2 of the prior odds plus
//! Σ log2(m/u) over its levels, and its match probability follows from the weight.
//!
//! Training: u from random record pairs, which are nearly all non-matches; m and the prior λ
//! (the probability that two records drawn at random match) by expectation–maximisation over
//! all pairs — the candidate pairs as they are, and the pairs blocking left out represented by
//! the random sample, weighted up to their number. Comparison vectors are counted by pattern
//! first, so each EM iteration costs the number of distinct patterns, not of pairs.
//! Configured m or u values are kept fixed.

use std::collections::HashMap;

use serde::Serialize;

use super::compare::{Comparator, NULL};
use super::profile::{Field, Profile};

/// Smallest probability a level may have (keeps weights finite).
const FLOOR: f64 = 1e-6;
/// Weight of the starting m values in each EM update, in pairs.
const PSEUDO_PAIRS: f64 = 2.0;

/// One comparison of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Its name (shown in explanations).
    pub name: String,
    /// The profile field it compares.
    pub field: Field,
    /// How.
    pub comparator: Comparator,
    /// P(level | match), per level.
    pub m: Vec<f64>,
    /// The m values before training (the prior of the EM updates).
    pub start_m: Vec<f64>,
    /// P(level | non-match), per level.
    pub u: Vec<f64>,
    /// m values fixed by configuration (not trained).
    pub fixed_m: bool,
    /// u values fixed by configuration (not trained).
    pub fixed_u: bool,
    /// A level whose m is known rather than learnt (two different valid tax IDs are almost
    /// never one legal entity, however few examples the data holds).
    pub pinned_m: Option<(usize, f64)>,
}

impl Comparison {
    /// A comparison with starting values: m falls and u rises from the strongest level to
    /// "else" (a different valid tax ID starts as very unlikely among matches).
    pub fn new(name: &str, field: Field, comparator: Comparator) -> Self {
        let n = comparator.levels();
        let names = comparator.level_names();
        let mut m: Vec<f64> = (0..n)
            .map(|i| if i == 0 { 0.8 } else { 0.2 / (n - 1) as f64 })
            .collect();
        let pinned_m = names
            .iter()
            .position(|l| l == "different valid IDs")
            .map(|i| (i, 0.0001));
        if let Some((i, v)) = pinned_m {
            m[i] = v;
        }
        normalise(&mut m);
        let u: Vec<f64> = (0..n)
            .map(|i| {
                if i + 1 == n {
                    0.9
                } else {
                    0.1 / (n - 1) as f64
                }
            })
            .collect();
        Comparison {
            name: name.to_string(),
            field,
            comparator,
            start_m: m.clone(),
            m,
            u,
            fixed_m: false,
            fixed_u: false,
            pinned_m,
        }
    }

    /// The level of two profiles (`NULL` when either value is missing).
    pub fn level(&self, a: &Profile, b: &Profile) -> u8 {
        match (a.get(self.field), b.get(self.field)) {
            (Some(x), Some(y)) => self.comparator.level(x, y),
            _ => NULL,
        }
    }

    /// log2(m/u) of a level (0 for `NULL`).
    pub fn weight(&self, level: u8) -> f64 {
        if level == NULL {
            return 0.0;
        }
        let l = level as usize;
        (self.m[l].max(FLOOR) / self.u[l].max(FLOOR)).log2()
    }
}

fn normalise(p: &mut [f64]) {
    let mass: f64 = p.iter().sum();
    if mass > 0.0 {
        p.iter_mut().for_each(|x| *x /= mass);
    }
}

/// A comparison vector packed 4 bits per comparison.
pub type Pattern = u64;

/// A trained (or configured) model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The comparisons.
    pub comparisons: Vec<Comparison>,
    /// Prior probability that a candidate pair is a match.
    pub lambda: f64,
}

/// What training did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Training {
    /// Random pairs sampled for u.
    pub u_sample_pairs: u64,
    /// EM iterations run.
    pub iterations: u32,
    /// True when the parameters stopped moving before the iteration limit.
    pub converged: bool,
    /// Distinct comparison patterns among the candidates.
    pub patterns: u64,
}

impl Model {
    /// A model with starting values.
    pub fn new(comparisons: Vec<Comparison>) -> Self {
        Model {
            comparisons,
            lambda: 0.01,
        }
    }

    /// The comparison vector of a pair.
    pub fn pattern(&self, a: &Profile, b: &Profile) -> Pattern {
        self.comparisons.iter().enumerate().fold(0, |acc, (i, c)| {
            acc | (Pattern::from(c.level(a, b)) << (4 * i))
        })
    }

    /// The level of comparison `i` in a pattern.
    pub fn level_of(pattern: Pattern, i: usize) -> u8 {
        ((pattern >> (4 * i)) & 0xF) as u8
    }

    /// The match weight of a pattern: prior log-odds plus every comparison's weight.
    pub fn weight(&self, pattern: Pattern) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        prior
            + self
                .comparisons
                .iter()
                .enumerate()
                .map(|(i, c)| c.weight(Self::level_of(pattern, i)))
                .sum::<f64>()
    }

    /// Estimates u from the pattern counts of random pairs, which are nearly all non-matches
    /// (configured u values stay).
    pub fn estimate_u(&mut self, sample: &HashMap<Pattern, f64>) {
        for (i, c) in self.comparisons.iter_mut().enumerate() {
            if c.fixed_u {
                continue;
            }
            let mut counts = vec![0.0; c.comparator.levels()];
            for (&p, &n) in sample {
                let l = Self::level_of(p, i);
                if l != NULL {
                    counts[l as usize] += n;
                }
            }
            let seen: f64 = counts.iter().sum();
            if seen == 0.0 {
                continue;
            }
            // Add-one smoothing: a level never seen among random pairs is rare, not impossible.
            let smoothed = seen + counts.len() as f64;
            c.u = counts.iter().map(|&k| (k + 1.0) / smoothed).collect();
        }
    }

    /// Replaces u of the exact level by its exact value over all records — the chance that two
    /// records with values share the same one, Σ n_v(n_v − 1) / (n(n − 1)) from the value
    /// counts — and rescales the other levels to fit. A random sample cannot resolve how rare
    /// exact agreement is in a large set (it floors at one in the sample size); the counts can,
    /// so the evidence of an equal phone or name grows with the data as the prior shrinks.
    pub fn exact_u(&mut self, profiles: &[Profile]) {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        for c in self.comparisons.iter_mut().filter(|c| !c.fixed_u) {
            let valid_only = matches!(c.comparator, super::compare::Comparator::TaxId);
            let mut counts: HashMap<u64, u64> = HashMap::new();
            let mut n = 0u64;
            for v in profiles.iter().filter_map(|p| p.get(c.field)) {
                n += 1;
                if !valid_only || v.starts_with("V:") {
                    *counts.entry(hasher.hash_one(v)).or_default() += 1;
                }
            }
            if n < 2 || c.u.len() < 2 {
                continue;
            }
            let pairs = (n * (n - 1)) as f64;
            let same: f64 = counts
                .values()
                .map(|&k| (k * k.saturating_sub(1)) as f64)
                .sum();
            let u0 = (same / pairs).max(0.5 / pairs);
            let rest: f64 = c.u[1..].iter().sum();
            if rest <= 0.0 {
                continue;
            }
            let scale = (1.0 - u0) / rest;
            c.u[0] = u0;
            c.u[1..].iter_mut().for_each(|u| *u *= scale);
        }
    }

    /// The comparison pattern of each pair (on every core).
    pub fn pair_patterns(&self, profiles: &[Profile], pairs: &[(u32, u32)]) -> Vec<Pattern> {
        super::on_every_core(pairs, 10_000, |chunk| {
            chunk
                .iter()
                .map(|&(i, j)| self.pattern(&profiles[i as usize], &profiles[j as usize]))
                .collect()
        })
    }

    /// Counts the pairs by comparison pattern.
    pub fn patterns(&self, profiles: &[Profile], pairs: &[(u32, u32)]) -> HashMap<Pattern, f64> {
        count(&self.pair_patterns(profiles, pairs))
    }

    /// Expectation–maximisation of m and λ over weighted pattern counts (u stays as estimated
    /// from random pairs). Stops when no parameter moves by more than `tolerance`.
    pub fn train_em(
        &mut self,
        patterns: &HashMap<Pattern, f64>,
        max_iterations: u32,
        tolerance: f64,
    ) -> (u32, bool) {
        let patterns: Vec<(Pattern, f64)> = patterns.iter().map(|(&p, &n)| (p, n)).collect();
        let pair_count: f64 = patterns.iter().map(|(_, n)| n).sum();
        if pair_count == 0.0 {
            return (0, true);
        }
        for iteration in 1..=max_iterations {
            let mut m_num: Vec<Vec<f64>> = self
                .comparisons
                .iter()
                .map(|c| vec![0.0; c.m.len()])
                .collect();
            let mut matches = 0.0;
            for &(p, n) in &patterns {
                let w = self.weight(p);
                let prob = 1.0 / (1.0 + (-w).exp2());
                matches += prob * n;
                for (i, num) in m_num.iter_mut().enumerate() {
                    let l = Self::level_of(p, i);
                    if l != NULL {
                        num[l as usize] += prob * n;
                    }
                }
            }
            let mut moved: f64 = 0.0;
            let lambda = (matches / pair_count).clamp(FLOOR, 1.0 - FLOOR);
            moved = moved.max((lambda - self.lambda).abs());
            self.lambda = lambda;
            for (c, num) in self.comparisons.iter_mut().zip(m_num) {
                if c.fixed_m {
                    continue;
                }
                // A few pseudo-pairs at the starting values keep sparse data from driving a
                // level to 0 or 1 (a Dirichlet prior).
                let sum: f64 = num.iter().sum::<f64>() + PSEUDO_PAIRS;
                let mut next: Vec<f64> = num
                    .iter()
                    .zip(&c.start_m)
                    .map(|(x, m0)| ((x + PSEUDO_PAIRS * m0) / sum).max(FLOOR))
                    .collect();
                if let Some((i, v)) = c.pinned_m {
                    let rest: f64 = next
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, x)| x)
                        .sum();
                    for (j, x) in next.iter_mut().enumerate() {
                        *x = if j == i { v } else { *x / rest * (1.0 - v) };
                    }
                }
                for (m, new) in c.m.iter_mut().zip(next) {
                    moved = moved.max((new - *m).abs());
                    *m = new;
                }
            }
            if moved < tolerance {
                return (iteration, true);
            }
        }
        (max_iterations, false)
    }
}

/// Patterns counted.
pub fn count(patterns: &[Pattern]) -> HashMap<Pattern, f64> {
    let mut out: HashMap<Pattern, f64> = HashMap::new();
    for &p in patterns {
        *out.entry(p).or_default() += 1.0;
    }
    out
}

/// Match probability of a weight.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Patterns drawn from a known model: EM must find its m and λ again.
    #[test]
    fn em_recovers_known_m_and_lambda() {
        let truth_m = [[0.9, 0.07, 0.03], [0.8, 0.15, 0.05], [0.95, 0.05, 0.0]];
        let truth_u = [[0.05, 0.15, 0.8], [0.01, 0.09, 0.9], [0.2, 0.8, 0.0]];
        let (levels, lambda) = ([3usize, 3, 2], 0.2);
        let comparator = |n: usize| match n {
            2 => Comparator::Exact,
            _ => Comparator::JaroWinkler {
                thresholds: vec![0.9],
            },
        };
        let mut model = Model::new(
            (0..3)
                .map(|i| Comparison::new(&format!("c{i}"), Field::ALL[i], comparator(levels[i])))
                .collect(),
        );
        for (i, c) in model.comparisons.iter_mut().enumerate() {
            c.u = truth_u[i][..levels[i]].to_vec();
            c.fixed_u = true;
        }
        // Exact expected counts of every pattern in 100,000 pairs.
        let mut counts = HashMap::new();
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..2 {
                    let pm = truth_m[0][a] * truth_m[1][b] * truth_m[2][c];
                    let pu = truth_u[0][a] * truth_u[1][b] * truth_u[2][c];
                    let n = (100_000.0 * (lambda * pm + (1.0 - lambda) * pu)).round();
                    let p = a as u64 | (b as u64) << 4 | (c as u64) << 8;
                    counts.insert(p, n);
                }
            }
        }
        let (iterations, converged) = model.train_em(&counts, 500, 1e-9);
        assert!(converged, "after {iterations}");
        assert!((model.lambda - lambda).abs() < 0.005, "{}", model.lambda);
        for (i, c) in model.comparisons.iter().enumerate() {
            for (l, m) in c.m.iter().enumerate() {
                assert!(
                    (m - truth_m[i][l]).abs() < 0.01,
                    "m[{i}][{l}] = {m}, truth {}",
                    truth_m[i][l]
                );
            }
        }
    }

    #[test]
    fn exact_u_comes_from_value_counts() {
        // City values a, a, a, b, b, c and one missing: 3·2 + 2·1 = 8 ordered equal pairs of
        // 6·5 = 30.
        let mut profiles = vec![];
        for v in ["a", "a", "a", "b", "b", "c"] {
            let mut p = Profile::default();
            p.set(Field::City, Some(v.into()));
            profiles.push(p);
        }
        profiles.push(Profile::default());
        let mut c = Comparison::new("city", Field::City, Comparator::Exact);
        c.u = vec![0.5, 0.5];
        let mut model = Model::new(vec![c]);
        model.exact_u(&profiles);
        let u = &model.comparisons[0].u;
        assert!((u[0] - 8.0 / 30.0).abs() < 1e-12, "{u:?}");
        assert!((u[0] + u[1] - 1.0).abs() < 1e-12);
        // Only valid tax IDs count as the exact level of a tax-ID comparison.
        let mut tax = vec![];
        for v in ["V:X", "V:X", "I:Y", "I:Y"] {
            let mut p = Profile::default();
            p.set(Field::TaxId, Some(v.into()));
            tax.push(p);
        }
        let mut model = Model::new(vec![Comparison::new(
            "tax",
            Field::TaxId,
            Comparator::TaxId,
        )]);
        model.exact_u(&tax);
        assert!((model.comparisons[0].u[0] - 2.0 / 12.0).abs() < 1e-12);
    }

    #[test]
    fn weights_add_up_and_nulls_count_nothing() {
        let mut c = Comparison::new("x", Field::City, Comparator::Exact);
        c.m = vec![0.9, 0.1];
        c.u = vec![0.1, 0.9];
        let model = Model {
            comparisons: vec![c.clone(), c],
            lambda: 0.5,
        };
        let both_agree = 0;
        assert!((model.weight(both_agree) - 2.0 * 9f64.log2()).abs() < 1e-9);
        let one_null = Pattern::from(NULL) << 4;
        assert!((model.weight(one_null) - 9f64.log2()).abs() < 1e-9);
        assert!((probability(0.0) - 0.5).abs() < 1e-12);
        assert!(probability(20.0) > 0.999_99);
    }
}
