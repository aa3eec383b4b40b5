//! The matching engine: profiles, blocking, EM training, scoring and the decision per pair,
//! over every core.

use std::collections::HashMap;
use std::time::Instant;

use super::blocking::{BlockIndex, BlockingRule, RuleSpec, candidate_pairs, candidates_of};
use super::compare::NULL;
use super::model::{Comparison, Model, Pattern, Training, probability};
use super::profile::{Field, Profile, ProfileOptions};
use super::*;

/// A matcher built from settings.
#[derive(Debug, Clone)]
pub struct Matching {
    /// Settings.
    pub settings: MatchSettings,
    /// Blocking rules.
    pub rules: Vec<BlockingRule>,
    /// The model (starting values until trained).
    pub model: Model,
    /// Profile options.
    pub profile: ProfileOptions,
}

impl Matching {
    /// Checks and compiles the settings.
    pub fn new(settings: &MatchSettings) -> Result<Self, String> {
        let s = settings;
        if !(0.0 < s.review_threshold
            && s.review_threshold <= s.link_threshold
            && s.link_threshold < 1.0)
        {
            return Err(format!(
                "need 0 < review_threshold ({}) <= link_threshold ({}) < 1",
                s.review_threshold, s.link_threshold
            ));
        }
        let rules = if s.blocking.is_empty() {
            default_blocking()
                .into_iter()
                .map(|r| RuleSpec(r.into_iter().map(String::from).collect()))
                .collect()
        } else {
            s.blocking.clone()
        };
        let rules = rules
            .iter()
            .map(BlockingRule::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if rules.len() > 16 {
            return Err("at most 16 blocking rules".into());
        }
        let comparisons = if s.comparisons.is_empty() {
            default_comparisons()
                .into_iter()
                .map(|(n, f, c)| Comparison::new(n, f, c))
                .collect()
        } else {
            s.comparisons
                .iter()
                .map(compile_comparison)
                .collect::<Result<Vec<_>, _>>()?
        };
        if !(s.retrain_growth >= 0.0 && s.retrain_growth.is_finite()) {
            return Err(format!(
                "retrain_growth must be 0 or more, not {}",
                s.retrain_growth
            ));
        }
        if comparisons.len() > 16 {
            return Err("at most 16 comparisons".into());
        }
        for g in &s.gate {
            if !comparisons.iter().any(|c: &Comparison| &c.name == g) {
                return Err(format!("gate names `{g}`, which is not a comparison"));
            }
        }
        Ok(Matching {
            settings: s.clone(),
            rules,
            model: Model::new(comparisons),
            profile: ProfileOptions {
                default_country: s.default_phone_country.clone(),
                strip_plus_tags: s.strip_email_plus_tags,
            },
        })
    }

    /// Blocks, trains the model on these profiles, scores the candidates, decides and
    /// clusters. `groups` restricts candidates to pairs from different groups (linking).
    pub fn run(&mut self, profiles: &[Profile], groups: Option<&[u32]>) -> Outcome {
        self.run_with(profiles, groups, &Constraints::default())
    }

    /// [`Matching::run`] under a steward's constraints: must-links are applied first, then
    /// links between records with the same valid tax ID, then the others strongest first;
    /// no link may join two records that cannot be linked.
    pub fn run_with(
        &mut self,
        profiles: &[Profile],
        groups: Option<&[u32]>,
        constraints: &Constraints,
    ) -> Outcome {
        self.run_kept(profiles, groups, constraints).0
    }

    /// The run itself, with the blocking index and the clusters it built.
    pub(super) fn run_kept(
        &mut self,
        profiles: &[Profile],
        groups: Option<&[u32]>,
        constraints: &Constraints,
    ) -> (Outcome, Incremental) {
        let started = Instant::now();
        let index = BlockIndex::build(profiles, &self.rules);
        let (pairs, blocking) =
            candidates_of(&index, &self.rules, self.settings.max_block_size, groups);
        let blocked = started.elapsed().as_secs_f64();
        // Two strata (see `model.rs`): the candidates, all counted, and the rest, represented by
        // random pairs outside the candidates, each standing for many. The sample gives u its
        // starting values; the exact levels' u comes from the value counts.
        let sample = sample_pairs(profiles.len(), groups, self.settings.u_sample_pairs);
        let outside: Vec<(u32, u32)> = sample
            .iter()
            .copied()
            .filter(|p| pairs.binary_search(p).is_err())
            .collect();
        let outside_patterns = self.model.patterns(profiles, &outside);
        self.model.estimate_u(&outside_patterns);
        self.model.exact_u(profiles);
        let candidate_patterns = self.model.pair_patterns(profiles, &pairs);
        let counted = model::count(&candidate_patterns);
        let mut rest = HashMap::new();
        let all = total_pairs(profiles.len(), groups);
        if !outside.is_empty() && all > pairs.len() as u64 {
            let scale = (all - pairs.len() as u64) as f64 / outside.len() as f64;
            rest = outside_patterns
                .into_iter()
                .map(|(p, n)| (p, n * scale))
                .collect();
        }
        let (iterations, converged) =
            self.model
                .train_em(&counted, &rest, self.settings.em_max_iterations, 1e-7);
        let trained = started.elapsed().as_secs_f64();
        let scored = self.scored(&pairs, &candidate_patterns);
        let mut outcome = Outcome {
            pairs: scored,
            clusters: vec![],
            blocking,
            training: Training {
                u_sample_pairs: sample.len() as u64,
                iterations,
                converged,
                patterns: (counted.len() + rest.len()) as u64,
            },
            seconds: Seconds::default(),
        };
        let mut state = self.cluster(profiles, &mut outcome.pairs, constraints);
        outcome.clusters = state.clusters();
        outcome.seconds = Seconds {
            blocking: blocked,
            training: trained - blocked,
            whole: started.elapsed().as_secs_f64(),
        };
        (outcome, Incremental { index, state })
    }

    /// Decides every pair and clusters the links (see the module doc).
    pub(super) fn cluster(
        &self,
        profiles: &[Profile],
        pairs: &mut Vec<ScoredPair>,
        constraints: &Constraints,
    ) -> Clustering {
        let mut state = Clustering::new(profiles);
        self.link(&mut state, profiles, pairs, constraints);
        state
    }

    /// Decides `pairs` and applies the links to `state` (see the module doc).
    pub(super) fn link(
        &self,
        state: &mut Clustering,
        profiles: &[Profile],
        pairs: &mut Vec<ScoredPair>,
        constraints: &Constraints,
    ) {
        let s = &self.settings;
        let n = profiles.len();
        state.grow(profiles);
        let prob: HashMap<(u32, u32), f64> =
            pairs.iter().map(|p| ((p.a, p.b), p.probability)).collect();
        let mut cannot: HashMap<u32, Vec<u32>> = HashMap::new();
        for &(a, b) in &constraints.cannot_link {
            cannot.entry(a).or_default().push(b);
            cannot.entry(b).or_default().push(a);
        }
        // Must-links that blocking did not pair are added as pairs of their own.
        for &(a, b) in &constraints.must_link {
            let (a, b) = (a.min(b), a.max(b));
            if (a as usize) < n && (b as usize) < n && a != b && !prob.contains_key(&(a, b)) {
                pairs.push(ScoredPair {
                    a,
                    b,
                    weight: f64::INFINITY,
                    probability: 1.0,
                    decision: Decision::Separate,
                });
            }
        }
        let must: std::collections::HashSet<(u32, u32)> = constraints
            .must_link
            .iter()
            .map(|&(a, b)| (a.min(b), a.max(b)))
            .collect();
        let same_tax = |p: &ScoredPair| {
            let t = valid_tax(&profiles[p.a as usize]);
            t.is_some() && t == valid_tax(&profiles[p.b as usize])
        };
        // Rank: 0 must-link, 1 same valid tax ID, 2 the rest; then by weight.
        let rank = |p: &ScoredPair| {
            if must.contains(&(p.a, p.b)) {
                0
            } else if same_tax(p) {
                1
            } else {
                2
            }
        };
        let mut order: Vec<usize> = (0..pairs.len())
            .filter(|&i| {
                let p = &pairs[i];
                rank(p) < 2
                    || p.probability >= s.review_threshold
                    || self.plausible(&profiles[p.a as usize], &profiles[p.b as usize])
            })
            .collect();
        order.sort_by(|&x, &y| {
            rank(&pairs[x])
                .cmp(&rank(&pairs[y]))
                .then(pairs[y].weight.total_cmp(&pairs[x].weight))
        });
        for i in order {
            let (a, b) = (pairs[i].a as usize, pairs[i].b as usize);
            let forced = rank(&pairs[i]);
            if forced == 2 && pairs[i].probability < s.link_threshold {
                pairs[i].decision = Decision::Review;
                continue;
            }
            if forced == 2 && self.gated(&profiles[a], &profiles[b]) {
                pairs[i].decision = Decision::Refused(Refusal::NamesDiffer);
                continue;
            }
            if forced == 2 && is_branch(&profiles[a]) != is_branch(&profiles[b]) {
                pairs[i].decision = Decision::Refused(Refusal::Branch);
                continue;
            }
            let (ra, rb) = (state.uf.find(a), state.uf.find(b));
            if ra == rb {
                pairs[i].decision = Decision::Link;
                continue;
            }
            let (small, big) = if state.members[ra].len() <= state.members[rb].len() {
                (ra, rb)
            } else {
                (rb, ra)
            };
            let forbidden = state.members[small].iter().any(|x| {
                cannot
                    .get(x)
                    .is_some_and(|ys| ys.iter().any(|&y| state.uf.find(y as usize) == big))
            });
            if forbidden {
                pairs[i].decision = Decision::Refused(Refusal::Steward);
                continue;
            }
            if let (Some(x), Some(y)) = (&state.tax[ra], &state.tax[rb])
                && x != y
            {
                pairs[i].decision = Decision::Refused(Refusal::TaxIdConflict);
                continue;
            }
            if forced == 2 && state.members[ra].len() > 1 && state.members[rb].len() > 1 {
                let mut sum = 0.0;
                for &x in &state.members[ra] {
                    for &y in &state.members[rb] {
                        let key = if x < y { (x, y) } else { (y, x) };
                        sum += prob.get(&key).copied().unwrap_or(0.0);
                    }
                }
                let avg = sum / (state.members[ra].len() * state.members[rb].len()) as f64;
                if avg < s.cluster_join {
                    pairs[i].decision = Decision::Refused(Refusal::WeakJoin);
                    continue;
                }
            }
            state.join(ra, rb);
            pairs[i].decision = Decision::Link;
        }
    }

    /// [`Matching::run_with`], keeping what later records are matched against: the blocking
    /// index and the clusters.
    pub fn run_keeping(
        &mut self,
        profiles: &[Profile],
        constraints: &Constraints,
    ) -> (Outcome, Incremental) {
        self.run_kept(profiles, None, constraints)
    }

    /// Merges the records `first..profiles.len()` (new ones, appended) into the clusters kept
    /// in `inc`, with the model as trained: no re-blocking, no retraining, and only the
    /// records the new ones can reach clustered again (see [`update`]), so the clusters equal
    /// [`Matching::recluster`]'s. Returns the records clustered again and their pairs.
    /// (Changed and removed records: [`crate::reconcile::incremental::update`].)
    pub fn add(
        &self,
        inc: &mut Incremental,
        profiles: &[Profile],
        first: usize,
        constraints: &Constraints,
    ) -> (Vec<u32>, update::Subset) {
        inc.index.insert(profiles, first, &self.rules);
        inc.state.grow(profiles);
        let keys: Vec<Vec<Option<u64>>> = profiles[first..]
            .iter()
            .map(|p| blocking::keys_of(p, &self.rules))
            .collect();
        let joined: Vec<update::KeyChange> = keys.iter().map(|k| (None, Some(&k[..]))).collect();
        let crossed = update::crossed_blocks(&inc.index, self.settings.max_block_size, &joined);
        let seeds: Vec<u32> = (first as u32..profiles.len() as u32)
            .chain(crossed)
            .collect();
        let state = std::cell::RefCell::new(&mut inc.state);
        // Each cluster's members are handed out once (the closure takes them all at once).
        let expanded = std::cell::RefCell::new(std::collections::HashSet::new());
        let mates = |x: u32| {
            let mut state = state.borrow_mut();
            let root = state.uf.find(x as usize);
            if expanded.borrow_mut().insert(root) {
                state.members[root].clone()
            } else {
                vec![]
            }
        };
        let affected = self.affected(profiles, &inc.index, seeds, &mates, constraints);
        let subset = self.cluster_subset(profiles, &inc.index, &affected, constraints);
        inc.state.regroup(profiles, &affected, &subset.clusters);
        (affected, subset)
    }

    /// Blocks, scores and clusters every record again with the model as trained (no
    /// training): the full path that [`Matching::add`] must agree with.
    pub fn recluster(&self, profiles: &[Profile], constraints: &Constraints) -> Vec<Vec<usize>> {
        self.recluster_pairs(profiles, constraints).clusters
    }

    /// [`Matching::recluster`] with every candidate pair, scored and decided.
    pub fn recluster_pairs(
        &self,
        profiles: &[Profile],
        constraints: &Constraints,
    ) -> update::Subset {
        let (pairs, _) = candidate_pairs(profiles, &self.rules, self.settings.max_block_size, None);
        let mut scored = self.score(profiles, &pairs);
        let clusters = self.cluster(profiles, &mut scored, constraints).clusters();
        update::Subset {
            pairs: scored,
            clusters,
        }
    }

    /// Scores pairs with the model as it stands.
    pub(super) fn score(&self, profiles: &[Profile], pairs: &[(u32, u32)]) -> Vec<ScoredPair> {
        self.scored(pairs, &self.model.pair_patterns(profiles, pairs))
    }

    /// Pairs scored from their patterns.
    pub(super) fn scored(&self, pairs: &[(u32, u32)], patterns: &[Pattern]) -> Vec<ScoredPair> {
        let mut cache: HashMap<Pattern, f64> = HashMap::new();
        pairs
            .iter()
            .zip(patterns)
            .map(|(&(a, b), &pattern)| {
                let weight = *cache
                    .entry(pattern)
                    .or_insert_with(|| self.model.weight(pattern));
                ScoredPair {
                    a,
                    b,
                    weight,
                    probability: probability(weight),
                    decision: Decision::Separate,
                }
            })
            .collect()
    }

    /// True when a pair scored below the review threshold must still be shown to a steward:
    /// identical normalised legal names, or a shared company domain and names at least
    /// similar, with nothing that says two customers (different valid tax IDs, different
    /// countries or provinces, a branch on one side only).
    pub(super) fn plausible(&self, a: &Profile, b: &Profile) -> bool {
        let both = |f: Field| a.get(f).zip(b.get(f));
        let differ = |f: Field| both(f).is_some_and(|(x, y)| x != y);
        let contradicted = valid_tax(a).zip(valid_tax(b)).is_some_and(|(x, y)| x != y)
            || differ(Field::Country)
            || differ(Field::Region)
            || is_branch(a) != is_branch(b);
        if contradicted {
            return false;
        }
        if both(Field::OrgName).is_some_and(|(x, y)| x == y) {
            return true;
        }
        let shared_domain = both(Field::Domains).is_some_and(|(x, y)| compare::share_a_word(x, y));
        // One name holding the other whole (华南泵业集团 and 华南泵业) counts as similar.
        let contained = both(Field::OrgName)
            .is_some_and(|(x, y)| x.len() > 3 && y.len() > 3 && (x.contains(y) || y.contains(x)));
        shared_domain
            && (contained
                || self.model.comparisons.iter().any(|c| {
                    c.field == Field::NameTokens && {
                        let level = c.level(a, b);
                        level != NULL && !c.is_else(level)
                    }
                }))
    }

    /// True when a gate comparison disagrees outright.
    pub(super) fn gated(&self, a: &Profile, b: &Profile) -> bool {
        self.model
            .comparisons
            .iter()
            .any(|c| self.settings.gate.contains(&c.name) && c.is_else(c.level(a, b)))
    }

    /// Why a pair scored as it did: the prior, then each comparison's level, values and
    /// weight (a waterfall), then the total and the probability.
    pub fn explain(&self, a: &Profile, b: &Profile) -> Explanation {
        let prior = (self.model.lambda / (1.0 - self.model.lambda)).log2();
        let steps: Vec<Step> = self
            .model
            .comparisons
            .iter()
            .map(|c| {
                let level = c.level(a, b);
                Step {
                    comparison: c.name.clone(),
                    field: c.field.name().to_string(),
                    level: if level == NULL {
                        "null".into()
                    } else {
                        c.comparator.level_names()[level as usize].clone()
                    },
                    left: a.get(c.field).map(String::from),
                    right: b.get(c.field).map(String::from),
                    weight: c.weight(level),
                }
            })
            .collect();
        let weight = prior + steps.iter().map(|s| s.weight).sum::<f64>();
        Explanation {
            prior,
            steps,
            weight,
            probability: probability(weight),
        }
    }
}

/// `work` over `items` split into one chunk per core (one chunk below `min` items), the
/// results concatenated in order.
pub(super) fn on_every_core<'a, T: Sync, R: Send>(
    items: &'a [T],
    min: usize,
    work: impl Fn(&'a [T]) -> Vec<R> + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || items.len() < min {
        return work(items);
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || work(chunk)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("matching work does not panic"))
            .collect()
    })
}

/// True when the profile is a company's branch (分公司, "… Branch").
pub(super) fn is_branch(p: &Profile) -> bool {
    p.get(Field::OrgName)
        .is_some_and(crate::reconcile::normalize::is_branch_name)
}

/// The valid tax ID of a profile, if any.
pub(super) fn valid_tax(p: &Profile) -> Option<&str> {
    p.get(Field::TaxId).filter(|t| t.starts_with("V:"))
}

/// Number of pairs: all pairs of `n` records, or only those across groups.
pub(super) fn total_pairs(n: usize, groups: Option<&[u32]>) -> u64 {
    match groups {
        None => (n as u64) * (n as u64).saturating_sub(1) / 2,
        Some(g) => {
            let mut sizes: HashMap<u32, u64> = HashMap::new();
            for &x in g {
                *sizes.entry(x).or_default() += 1;
            }
            let n = n as u64;
            let same: u64 = sizes.values().map(|s| s * s.saturating_sub(1) / 2).sum();
            n * n.saturating_sub(1) / 2 - same
        }
    }
}

/// `count` distinct random pairs `(i, j)`, `i < j` (across groups when given), sorted; all
/// of them when there are not more. The seed is fixed, so results repeat.
pub fn sample_pairs(n: usize, groups: Option<&[u32]>, count: u64) -> Vec<(u32, u32)> {
    let admit = |i: usize, j: usize| groups.is_none_or(|g| g[i] != g[j]);
    let mut out: Vec<(u32, u32)> = Vec::new();
    if total_pairs(n, groups) <= count {
        for i in 0..n {
            for j in i + 1..n {
                if admit(i, j) {
                    out.push((i as u32, j as u32));
                }
            }
        }
        return out;
    }
    let mut rng = fastrand::Rng::with_seed(0x7472_6962);
    let mut seen = std::collections::HashSet::new();
    while (out.len() as u64) < count {
        let (i, j) = (rng.usize(..n), rng.usize(..n));
        let (i, j) = (i.min(j), i.max(j));
        if i != j && admit(i, j) && seen.insert((i, j)) {
            out.push((i as u32, j as u32));
        }
    }
    out.sort_unstable();
    out
}
