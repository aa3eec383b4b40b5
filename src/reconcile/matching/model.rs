//! The Fellegi–Sunter model: per comparison level, m (how often matches show it) and u (how
//! often non-matches do); a pair's match weight is log2 of the prior odds plus
//! Σ log2(m/u) over its levels, and its match probability follows from the weight.
//!
//! Training: m, u and the prior λ (the probability that two records drawn at random match) by
//! expectation–maximisation over all pairs, in two strata — the candidate pairs, every one of
//! them counted, and the pairs blocking left out, represented by a random sample weighted up to
//! their number. Comparison vectors are counted by pattern first, so each EM iteration costs
//! the number of distinct patterns, not of pairs. Configured m or u values are kept fixed.
//!
//! Why u is estimated this way. u of a level is how often non-matching pairs reach it. Exact
//! agreement comes from the value counts over all records ([`Model::exact_u`]). Near agreement
//! (similar names, phones one edit apart) is rare — at a million records, a few pairs in ten
//! million — and a random sample of s pairs cannot see below one in s; the smoothed sample
//! estimate floors there, and as the prior λ shrinks with the data, near agreement counts for
//! too little. But the pairs that agree nearly are almost all in the candidate stratum, which
//! blocking enumerates completely: there the non-matches at each level are counted pair by pair
//! (each pair counting by its EM probability of not matching), so u resolves to one pair in all
//! of them, and the sampled rest adds its own (small, unbiased) share. The estimate is thus
//! stratified — exact where the mass is, sampled where it is thin — with no tuned constant;
//! the only floor left is half a pair among all pairs compared.

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
    /// The exact level's u is counted over all values ([`Model::exact_u`]); EM keeps it.
    pub exact_counted: bool,
    /// Smallest u a level may have: half a pair among the pairs compared, once trained.
    pub u_floor: f64,
    /// For an exact level counted over the values: the pairs that share a value, and the
    /// pairs where both records have one (unordered). Matches among them are taken out in
    /// training, so u is the chance that two *different* customers share the value.
    pub exact_pairs: Option<(f64, f64)>,
    /// The shipped u per level ([`super::priors`]) that the data's estimate is drawn toward.
    pub prior_u: Option<Vec<f64>>,
    /// Weight of `start_m` in each m update, in matching pairs.
    pub m_strength: f64,
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
        let mut u: Vec<f64> = (0..n)
            .map(|i| {
                if i + 1 == n {
                    0.9
                } else {
                    0.1 / (n - 1) as f64
                }
            })
            .collect();
        let prior = super::priors::shipped(name, n);
        if let Some(p) = prior {
            m = p.m.iter().map(|x| x.max(FLOOR)).collect();
            if let Some((i, v)) = pinned_m {
                m[i] = v;
            }
            normalise(&mut m);
            u = p.u.clone();
        }
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
            exact_counted: false,
            u_floor: FLOOR,
            exact_pairs: None,
            prior_u: prior.map(|p| p.u.clone()),
            m_strength: if prior.is_some() {
                super::priors::MATCH_PAIRS
            } else {
                PSEUDO_PAIRS
            },
        }
    }

    /// The level of two profiles (`NULL` when either value is missing).
    pub fn level(&self, a: &Profile, b: &Profile) -> u8 {
        if matches!(self.comparator, Comparator::Email) {
            return super::compare::email_level(
                (a.get(self.field), a.get(Field::Domains).unwrap_or_default()),
                (b.get(self.field), b.get(Field::Domains).unwrap_or_default()),
            );
        }
        match (a.get(self.field), b.get(self.field)) {
            (Some(x), Some(y)) => self.comparator.level(x, y),
            _ => NULL,
        }
    }

    /// True when `level` is this comparison's last ("else"): the values disagree outright.
    pub fn is_else(&self, level: u8) -> bool {
        level != NULL && usize::from(level) + 1 == self.comparator.levels()
    }

    /// log2(m/u) of a level (0 for `NULL`).
    pub fn weight(&self, level: u8) -> f64 {
        if level == NULL {
            return 0.0;
        }
        let l = level as usize;
        (self.m[l].max(FLOOR) / self.u[l].max(self.u_floor)).log2()
    }

    /// New u from the expected non-match count of each level: the exact level keeps its
    /// counted value when it has one and the other levels share the rest.
    fn update_u(&mut self, non_matches: &[f64]) -> f64 {
        let first = usize::from(self.exact_counted);
        let seen: f64 = non_matches[first..].iter().sum();
        if seen <= 0.0 {
            return 0.0;
        }
        let rest = 1.0 - self.u[..first].iter().sum::<f64>();
        // The shipped prior's share of these levels.
        let mass: f64 = self
            .prior_u
            .as_ref()
            .map_or(1.0, |p| p[first..].iter().sum());
        let mut moved: f64 = 0.0;
        for l in first..self.u.len() {
            let prior = self.prior_u.as_ref().map(|p| p[l] / mass);
            let new = (rest * with_prior(non_matches[l], seen, prior)).max(self.u_floor);
            moved = moved.max((new - self.u[l]).abs());
            self.u[l] = new;
        }
        moved
    }
}

/// The share `hits / pairs` (a probability, not money), drawn toward the shipped `prior`
/// share as if it were [`super::priors::NON_MATCH_PAIRS`] more non-matching pairs.
fn with_prior(hits: f64, pairs: f64, prior: Option<f64>) -> f64 {
    match prior {
        Some(p0) => {
            let k = super::priors::NON_MATCH_PAIRS;
            (hits + k * p0) / (pairs + k)
        }
        None => hits / pairs,
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

/// The trained values of a model, as kept between syncs: what a pair's weight is made of.
/// Numbers are kept as text (`1.5e-7`), which reads back bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ModelParams {
    /// Prior probability that two records match.
    #[serde(with = "exact")]
    pub lambda: f64,
    /// Per comparison, in the model's order.
    pub comparisons: Vec<ComparisonParams>,
}

/// The trained values of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ComparisonParams {
    /// Its name.
    pub name: String,
    /// m per level.
    #[serde(with = "exact::list")]
    pub m: Vec<f64>,
    /// u per level.
    #[serde(with = "exact::list")]
    pub u: Vec<f64>,
    /// Smallest u a level may have.
    #[serde(with = "exact")]
    pub u_floor: f64,
}

/// f64 as text in exponent form, read back exactly (JSON numbers lose the last bit here).
mod exact {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{x:e}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }

    pub(super) mod list {
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        pub(crate) fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| format!("{x:e}")))
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Vec::<String>::deserialize(d)?
                .iter()
                .map(|x| x.parse().map_err(D::Error::custom))
                .collect()
        }
    }
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

    /// The trained values.
    pub fn params(&self) -> ModelParams {
        ModelParams {
            lambda: self.lambda,
            comparisons: self
                .comparisons
                .iter()
                .map(|c| ComparisonParams {
                    name: c.name.clone(),
                    m: c.m.clone(),
                    u: c.u.clone(),
                    u_floor: c.u_floor,
                })
                .collect(),
        }
    }

    /// Takes trained values kept earlier; refused when they were trained for other
    /// comparisons (names or numbers of levels differ).
    pub fn apply(&mut self, params: &ModelParams) -> Result<(), String> {
        let fits = params.comparisons.len() == self.comparisons.len()
            && self
                .comparisons
                .iter()
                .zip(&params.comparisons)
                .all(|(c, p)| {
                    let n = c.comparator.levels();
                    c.name == p.name && p.m.len() == n && p.u.len() == n
                });
        if !fits || !(0.0..1.0).contains(&params.lambda) {
            return Err("the kept model was trained for other comparisons".into());
        }
        self.lambda = params.lambda;
        for (c, p) in self.comparisons.iter_mut().zip(&params.comparisons) {
            c.m = p.m.clone();
            c.u = p.u.clone();
            c.u_floor = p.u_floor;
        }
        Ok(())
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

    /// Starting u from the pattern counts of random pairs, which are nearly all non-matches
    /// (configured u values stay); EM refines it ([`Model::train_em`]).
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
            c.exact_counted = true;
            c.u_floor = 0.5 / pairs;
            c.exact_pairs = Some((same / 2.0, pairs / 2.0));
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

    /// Expectation–maximisation of m, u and λ over the two strata of pairs: `candidates`, the
    /// pattern counts of the pairs blocking kept, and `rest`, those of the pairs it left out
    /// (a sample weighted up to their number). Blocking is taken to keep the matches (its
    /// recall is what the benchmarks measure), so the rest count as non-matches: they inform u
    /// and the size of the population, never m — else pairs that agree by correlation alone
    /// (same city, neighbouring postal codes) can form a class of their own among hundreds of
    /// millions. Every candidate counts for m by its match probability and for u by its
    /// non-match probability; configured values, and u of exact levels counted over the
    /// values, stay. λ is the expected number of matches over all pairs. Stops when no
    /// parameter moves by more than `tolerance`.
    pub fn train_em(
        &mut self,
        candidates: &HashMap<Pattern, f64>,
        rest: &HashMap<Pattern, f64>,
        max_iterations: u32,
        tolerance: f64,
    ) -> (u32, bool) {
        let patterns: Vec<(Pattern, f64)> = candidates.iter().map(|(&p, &n)| (p, n)).collect();
        let shape: Vec<usize> = self.comparisons.iter().map(|c| c.m.len()).collect();
        let zeros = || -> Vec<Vec<f64>> { shape.iter().map(|&n| vec![0.0; n]).collect() };
        // Pairs per level over some pattern counts.
        let per_level = |counts: &HashMap<Pattern, f64>, out: &mut Vec<Vec<f64>>| {
            for (&p, &n) in counts {
                for (i, num) in out.iter_mut().enumerate() {
                    let l = Self::level_of(p, i);
                    if l != NULL {
                        num[l as usize] += n;
                    }
                }
            }
        };
        let mut rest_levels = zeros();
        per_level(rest, &mut rest_levels);
        let mut seen = rest_levels.clone();
        per_level(candidates, &mut seen);
        let pair_count: f64 = candidates.values().chain(rest.values()).sum();
        if patterns.is_empty() || pair_count == 0.0 {
            return (0, true);
        }
        for iteration in 1..=max_iterations {
            let mut m_num = zeros();
            let mut u_num = rest_levels.clone();
            let mut matches = 0.0;
            for &(p, n) in &patterns {
                let w = self.weight(p);
                let prob = 1.0 / (1.0 + (-w).exp2());
                matches += prob * n;
                for (i, (num, non)) in m_num.iter_mut().zip(&mut u_num).enumerate() {
                    let l = Self::level_of(p, i);
                    if l != NULL {
                        num[l as usize] += prob * n;
                        non[l as usize] += (1.0 - prob) * n;
                    }
                }
            }
            let mut moved: f64 = 0.0;
            // At least half a match among all pairs.
            let lambda = (matches / pair_count).clamp(0.5 / pair_count, 1.0 - FLOOR);
            moved = moved.max((lambda - self.lambda).abs());
            self.lambda = lambda;
            for ((c, non), num) in self.comparisons.iter_mut().zip(&u_num).zip(&m_num) {
                if c.fixed_u {
                    continue;
                }
                if let Some((same, valued)) = c.exact_pairs {
                    // The pairs sharing a value, less the matches expected among them.
                    let matched: f64 = num.iter().sum();
                    let u0 = with_prior(
                        (same - num[0]).max(0.5),
                        (valued - matched).max(1.0),
                        c.prior_u.as_ref().map(|p| p[0]),
                    )
                    .clamp(c.u_floor, 1.0 - FLOOR);
                    moved = moved.max((u0 - c.u[0]).abs());
                    c.u[0] = u0;
                }
                moved = moved.max(c.update_u(non));
            }
            for (c, num) in self.comparisons.iter_mut().zip(m_num) {
                if c.fixed_m {
                    continue;
                }
                // A few pseudo-pairs at the starting values keep sparse data from driving a
                // level to 0 or 1 (a Dirichlet prior).
                let sum: f64 = num.iter().sum::<f64>() + c.m_strength;
                let mut next: Vec<f64> = num
                    .iter()
                    .zip(&c.start_m)
                    .map(|(x, m0)| ((x + c.m_strength * m0) / sum).max(FLOOR))
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
                self.no_evidence_where_unseen(&seen);
                return (iteration, true);
            }
        }
        self.no_evidence_where_unseen(&seen);
        (max_iterations, false)
    }

    /// A level no pair reached, candidate or sampled, says nothing: its m and u are set to the
    /// same floor (a weight of 0). Otherwise the floors of both — m's prior share of the
    /// matches, u's half a pair among all pairs — would read as strong evidence.
    fn no_evidence_where_unseen(&mut self, seen: &[Vec<f64>]) {
        for (c, seen) in self.comparisons.iter_mut().zip(seen) {
            // A shipped prior knows what the level is worth.
            if c.fixed_u || c.prior_u.is_some() {
                continue;
            }
            for (l, &k) in seen.iter().enumerate().skip(usize::from(c.exact_counted)) {
                if k == 0.0 {
                    let floor = c.m[l].max(FLOOR).max(c.u_floor);
                    (c.m[l], c.u[l]) = (floor, floor);
                }
            }
        }
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

    /// Kept parameters come back bit for bit (a weight a hair off could move a pair across a
    /// threshold between the sync that trained and a later one), and only onto the same
    /// comparisons.
    #[test]
    fn kept_params_come_back_exactly_and_only_onto_their_comparisons() {
        let mut rng = fastrand::Rng::with_seed(7);
        let comparisons = super::super::default_comparisons()
            .into_iter()
            .map(|(n, f, c)| Comparison::new(n, f, c))
            .collect();
        let mut model = Model::new(comparisons);
        model.lambda = rng.f64() * 1e-6;
        for c in &mut model.comparisons {
            c.m.iter_mut().for_each(|m| *m = rng.f64());
            c.u.iter_mut().for_each(|u| *u = rng.f64() * 1e-7);
            c.u_floor = 0.5 / (rng.u64(1..u64::MAX >> 12) as f64);
        }
        let json = serde_json::to_string(&model.params()).unwrap();
        let back: ModelParams = serde_json::from_str(&json).unwrap();
        let mut fresh = Model::new(model.comparisons.clone());
        fresh.apply(&back).unwrap();
        assert_eq!(fresh.params(), model.params());
        for (a, b) in fresh.comparisons.iter().zip(&model.comparisons) {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.u), bits(&b.u));
            assert_eq!(bits(&a.m), bits(&b.m));
        }
        let mut other = Model::new(vec![Comparison::new(
            "name",
            Field::NameTokens,
            Comparator::Exact,
        )]);
        assert!(other.apply(&back).is_err());
    }

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
        let (iterations, converged) = model.train_em(&counts, &HashMap::new(), 500, 1e-9);
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

    /// u of levels far rarer than one in the random sample: a population of 10¹¹ pairs with
    /// 10⁵ matches, whose candidate stratum (every pair agreeing at least nearly on something)
    /// is counted whole and whose rest is a sample of 200,000 pairs weighted up. The smoothed
    /// sample alone cannot go below one in 200,000; EM over both strata finds the true u.
    #[test]
    fn em_recovers_rare_u_from_the_counted_stratum() {
        let truth_m = [[0.8, 0.15, 0.05], [0.7, 0.2, 0.1], [0.85, 0.1, 0.05]];
        let truth_u = [[1e-6, 4e-7, 0.0], [3e-6, 2e-7, 0.0], [5e-6, 1e-7, 0.0]];
        let truth_u = truth_u.map(|[a, b, _]| [a, b, 1.0 - a - b]);
        let (pairs, matches): (f64, f64) = (1e11, 1e5);
        let comparator = Comparator::JaroWinkler {
            thresholds: vec![0.9],
        };
        let mut model = Model::new(
            (0..3)
                .map(|i| Comparison::new(&format!("c{i}"), Field::ALL[i], comparator.clone()))
                .collect(),
        );
        let mut counts = HashMap::new();
        let mut all_else = 0.0;
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    let pm = truth_m[0][a] * truth_m[1][b] * truth_m[2][c];
                    let pu = truth_u[0][a] * truth_u[1][b] * truth_u[2][c];
                    let n = matches * pm + (pairs - matches) * pu;
                    if (a, b, c) == (2, 2, 2) {
                        all_else = n;
                    } else {
                        counts.insert(a as u64 | (b as u64) << 4 | (c as u64) << 8, n.round());
                    }
                }
            }
        }
        let sample = HashMap::from([(0x222, 200_000.0)]);
        model.estimate_u(&sample);
        let smoothed = model.comparisons[0].u[1];
        assert!(smoothed > 1e-6, "the sample alone floors: {smoothed}");
        for c in &mut model.comparisons {
            c.u_floor = 0.5 / pairs;
        }
        let rest = HashMap::from([(0x222, all_else)]);
        let (iterations, converged) = model.train_em(&counts, &rest, 1_000, 1e-12);
        assert!(converged, "after {iterations}");
        for (i, c) in model.comparisons.iter().enumerate() {
            for (l, (u, t)) in c.u.iter().zip(truth_u[i]).take(2).enumerate() {
                assert!(
                    (u / t - 1.0).abs() < 0.05,
                    "u[{i}][{l}] = {u:e}, truth {t:e}"
                );
            }
        }
        assert!((model.lambda * pairs / matches - 1.0).abs() < 0.05);
    }

    /// A level no pair reaches weighs nothing, though m and u both sit at their floors.
    #[test]
    fn unseen_levels_weigh_nothing() {
        // A comparison without a shipped prior (`city` has one, which knows the level's worth).
        let mut c = Comparison::new(
            "town",
            Field::City,
            Comparator::JaroWinkler {
                thresholds: vec![0.9],
            },
        );
        c.u_floor = 1e-12;
        let mut model = Model::new(vec![c]);
        // Levels 0 (exact) and 2 (else) only; nothing at level 1.
        let candidates = HashMap::from([(0, 1_000.0), (2, 4_000.0)]);
        let rest = HashMap::from([(2, 1e9)]);
        model.train_em(&candidates, &rest, 200, 1e-9);
        let c = &model.comparisons[0];
        assert_eq!(c.weight(1), 0.0);
        assert!(c.weight(0) > 10.0 && c.weight(2) < 0.0, "{c:?}");
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
