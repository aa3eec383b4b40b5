//! Probabilistic matching: profiles → blocking → comparison → Fellegi–Sunter scoring with
//! EM-trained parameters → decisions → constrained clusters.
//!
//! Decisions a steward made come first: a must-link joins its records whatever they score, a
//! cannot-link keeps them apart whatever links them. Records with the same valid tax ID are
//! then linked whatever else they disagree on. Every other candidate pair is decided by its
//! match probability: at or above `link_threshold` it is linked automatically; at or above
//! `review_threshold` it becomes a review task; below, the records stay separate. A pair whose
//! `gate` comparisons (the company name) disagree outright is never linked automatically, only
//! reviewed: a shared address and phone are not enough when the names differ. Nor is a branch
//! (分公司, "… Branch") linked to a record that is not one. And nothing plausible is left
//! unseen: a pair below `review_threshold` with identical normalised names, or a shared
//! company domain and similar names, is reviewed unless something says two customers
//! (different valid tax IDs, countries or provinces, a branch on one side).
//!
//! Clusters are built from the links, strongest first, under two rules: a cluster never holds
//! two different valid tax IDs, and two clusters of several records each are joined only when
//! the average probability over all their cross pairs (unscored pairs count as 0) reaches
//! `cluster_join` — one weak link between two strong clusters is not enough. A link refused by
//! a rule becomes a review task with the reason.

pub mod blocking;
pub mod compare;
pub mod model;
pub mod priors;
pub mod profile;
pub mod update;

use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use self::blocking::{
    BlockIndex, BlockingRule, BlockingStats, RuleSpec, candidate_pairs, candidates_of,
};
use self::compare::{Comparator, NULL};
use self::model::{Comparison, Model, Pattern, Training, probability};
use self::profile::{Field, Profile, ProfileOptions};
use super::cluster::UnionFind;

/// `[reconcile.matching]` in `config/tributary.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchSettings {
    /// `probabilistic` (default) or `deterministic` (the v0 rules: same valid tax ID, or same
    /// normalised name + postal code + country).
    pub mode: MatchMode,
    /// Probability at or above which a pair is linked automatically.
    pub link_threshold: f64,
    /// Probability at or above which a pair not linked becomes a review task.
    pub review_threshold: f64,
    /// Average cross-pair probability needed to join two clusters of several records each.
    pub cluster_join: f64,
    /// Comparisons that must not disagree outright (level "else") for an automatic link: such
    /// a pair goes to review however high it scores (shared addresses and phones are not
    /// enough when the names differ).
    pub gate: Vec<String>,
    /// Blocking rules; empty = the built-in ones.
    pub blocking: Vec<RuleSpec>,
    /// Blocks larger than this are skipped.
    pub max_block_size: usize,
    /// Comparisons; empty = the built-in ones.
    pub comparisons: Vec<ComparisonSpec>,
    /// Random pairs drawn to estimate u.
    pub u_sample_pairs: u64,
    /// EM iterations at most.
    pub em_max_iterations: u32,
    /// Country for phone numbers written without a country prefix.
    pub default_phone_country: Option<String>,
    /// Remove `+tag` from e-mail local parts before comparing.
    pub strip_email_plus_tags: bool,
    /// Retrain the kept model at the next rebuild once the staged customers have grown by
    /// this fraction since it was trained (1.0 = doubled); 0 = only when asked
    /// (`tributary master recluster --retrain`) or when the matching settings change.
    pub retrain_growth: f64,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            mode: MatchMode::Probabilistic,
            link_threshold: 0.95,
            review_threshold: 0.5,
            cluster_join: 0.5,
            gate: vec!["name".into()],
            blocking: vec![],
            max_block_size: 50,
            comparisons: vec![],
            u_sample_pairs: 200_000,
            em_max_iterations: 200,
            default_phone_country: None,
            strip_email_plus_tags: false,
            retrain_growth: 1.0,
        }
    }
}

/// Which matcher builds the master.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// Fellegi–Sunter scoring with EM-trained weights.
    #[default]
    Probabilistic,
    /// The deterministic v0 rules.
    Deterministic,
}

/// Decisions a steward made, as pairs of record indexes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Pairs that must be in one cluster (approved reviews, forced links).
    pub must_link: Vec<(u32, u32)>,
    /// Pairs that must never be in one cluster (rejected reviews, forced splits).
    pub cannot_link: Vec<(u32, u32)>,
}

/// One configured comparison: `{ name = "name", field = "name_tokens", comparator = { type =
/// "fuzzy", thresholds = [0.92, 0.8] } }`, with optional fixed `m` / `u` per level.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonSpec {
    /// Name shown in explanations (default: the field).
    #[serde(default)]
    pub name: Option<String>,
    /// Profile field.
    pub field: String,
    /// How values are compared.
    pub comparator: Comparator,
    /// Fixed m per level (strongest first), instead of training.
    #[serde(default)]
    pub m: Option<Vec<f64>>,
    /// Fixed u per level, instead of estimating.
    #[serde(default)]
    pub u: Option<Vec<f64>>,
}

/// The built-in comparisons: for organisations and persons alike; a field both records lack
/// counts nothing.
pub fn default_comparisons() -> Vec<(&'static str, Field, Comparator)> {
    let fuzzy = |t: &[f64]| Comparator::Fuzzy {
        thresholds: t.to_vec(),
    };
    let jw = |t: &[f64]| Comparator::JaroWinkler {
        thresholds: t.to_vec(),
    };
    vec![
        ("name", Field::NameTokens, fuzzy(&[0.92, 0.8])),
        (
            "person_name",
            Field::PersonName,
            Comparator::PersonName { threshold: 0.88 },
        ),
        ("tax_id", Field::TaxId, Comparator::TaxId),
        ("birth_date", Field::BirthDate, Comparator::Date),
        (
            "personal_id",
            Field::PersonalId,
            Comparator::Levenshtein {
                distances: vec![1, 2],
            },
        ),
        ("address", Field::Address, fuzzy(&[0.9, 0.75])),
        ("city", Field::City, jw(&[0.9])),
        (
            "postal_code",
            Field::PostalCode,
            Comparator::Levenshtein { distances: vec![1] },
        ),
        ("region", Field::Region, Comparator::Exact),
        ("country", Field::Country, Comparator::Exact),
        (
            "phone",
            Field::Phone,
            Comparator::Levenshtein { distances: vec![1] },
        ),
        ("email", Field::Email, Comparator::Email),
    ]
}

/// The built-in blocking rules.
pub fn default_blocking() -> Vec<Vec<&'static str>> {
    vec![
        vec!["tax_id"],
        vec!["personal_id"],
        vec!["phone"],
        vec!["email"],
        vec!["org_name"],
        vec!["org_name:4", "postal_code"],
        vec!["domains", "org_name:2"],
        vec!["domains"],
        vec!["person_tokens"],
        vec!["birth_date"],
        vec!["postal_code", "address:6"],
        vec!["family_name:3", "city"],
    ]
}

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
    fn run_kept(
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
    fn cluster(
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
    fn link(
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
    fn score(&self, profiles: &[Profile], pairs: &[(u32, u32)]) -> Vec<ScoredPair> {
        self.scored(pairs, &self.model.pair_patterns(profiles, pairs))
    }

    /// Pairs scored from their patterns.
    fn scored(&self, pairs: &[(u32, u32)], patterns: &[Pattern]) -> Vec<ScoredPair> {
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
    fn plausible(&self, a: &Profile, b: &Profile) -> bool {
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
    fn gated(&self, a: &Profile, b: &Profile) -> bool {
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
fn on_every_core<'a, T: Sync, R: Send>(
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
fn is_branch(p: &Profile) -> bool {
    p.get(Field::OrgName)
        .is_some_and(super::normalize::is_branch_name)
}

/// The valid tax ID of a profile, if any.
fn valid_tax(p: &Profile) -> Option<&str> {
    p.get(Field::TaxId).filter(|t| t.starts_with("V:"))
}

/// Clusters being built: disjoint sets of records with their members and the valid tax ID
/// each holds (at most one).
#[derive(Debug, Clone)]
pub struct Clustering {
    uf: UnionFind,
    members: Vec<Vec<u32>>,
    tax: Vec<Option<Box<str>>>,
}

impl Clustering {
    /// Every record alone.
    fn new(profiles: &[Profile]) -> Self {
        let mut c = Clustering {
            uf: UnionFind::new(0),
            members: vec![],
            tax: vec![],
        };
        c.grow(profiles);
        c
    }

    /// Adds the records of `profiles` not known yet, each alone.
    fn grow(&mut self, profiles: &[Profile]) {
        for (i, p) in profiles.iter().enumerate().skip(self.members.len()) {
            self.uf.push();
            self.members.push(vec![i as u32]);
            self.tax.push(valid_tax(p).map(Box::from));
        }
    }

    /// Clusters the records `subset` as `clusters` says (positions in `subset`); every other
    /// record keeps its cluster. `subset` must be whole clusters (every member of each).
    fn regroup(&mut self, profiles: &[Profile], subset: &[u32], clusters: &[Vec<usize>]) {
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
    fn join(&mut self, ra: usize, rb: usize) {
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
        super::cluster::clusters(n, pairs)
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

/// Number of pairs: all pairs of `n` records, or only those across groups.
fn total_pairs(n: usize, groups: Option<&[u32]>) -> u64 {
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

fn compile_comparison(spec: &ComparisonSpec) -> Result<Comparison, String> {
    let field = Field::parse(&spec.field)?;
    let name = spec.name.clone().unwrap_or_else(|| spec.field.clone());
    spec.comparator
        .validate()
        .map_err(|e| format!("comparison `{name}`: {e}"))?;
    let mut c = Comparison::new(&name, field, spec.comparator.clone());
    let levels = c.comparator.levels();
    let check = |v: &Vec<f64>, what: &str| {
        if v.len() != levels || v.iter().any(|x| !(0.0..=1.0).contains(x)) {
            Err(format!(
                "comparison `{name}`: {what} needs {levels} probabilities (one per level: {})",
                c.comparator.level_names().join(", ")
            ))
        } else {
            Ok(())
        }
    };
    if let Some(m) = &spec.m {
        check(m, "m")?;
        c.m = m.clone();
        c.start_m = m.clone();
        c.fixed_m = true;
    }
    if let Some(u) = &spec.u {
        check(u, "u")?;
        c.u = u.clone();
        c.fixed_u = true;
    }
    Ok(c)
}

/// What was decided for a candidate pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// In one master.
    Link,
    /// Between the thresholds: a steward decides.
    Review,
    /// Linked by score but refused by a clustering rule: a steward decides.
    Refused(Refusal),
    /// Below the review threshold.
    Separate,
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// The clusters hold different valid tax IDs.
    TaxIdConflict,
    /// Two clusters of several records with too little evidence between them.
    WeakJoin,
    /// A steward said these records are not the same customer.
    Steward,
    /// A `gate` comparison (the name) disagrees outright.
    NamesDiffer,
    /// One record is a branch (分公司, "… Branch") and the other is not: a branch is its own
    /// customer, however much it shares with its parent.
    Branch,
}

/// A scored candidate pair (indexes into the profiles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredPair {
    /// One record.
    pub a: u32,
    /// The other (a < b).
    pub b: u32,
    /// Match weight (log2 odds).
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
    /// The decision.
    pub decision: Decision,
}

/// Seconds spent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Seconds {
    /// Blocking.
    pub blocking: f64,
    /// Estimating u and EM.
    pub training: f64,
    /// The whole run.
    pub whole: f64,
}

/// The result of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Every candidate pair, scored and decided.
    pub pairs: Vec<ScoredPair>,
    /// Clusters of record indexes (sorted; ordered by smallest member).
    pub clusters: Vec<Vec<usize>>,
    /// Blocking figures.
    pub blocking: BlockingStats,
    /// Training figures.
    pub training: Training,
    /// Time.
    pub seconds: Seconds,
}

/// One comparison's part of a score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Comparison name.
    pub comparison: String,
    /// Profile field.
    pub field: String,
    /// The level reached (`null` when a value is missing).
    pub level: String,
    /// Left value (normalised).
    pub left: Option<String>,
    /// Right value (normalised).
    pub right: Option<String>,
    /// Its match weight.
    pub weight: f64,
}

/// A pair's score, step by step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Prior log2 odds.
    pub prior: f64,
    /// Per comparison.
    pub steps: Vec<Step>,
    /// Total weight.
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Customer;

    fn profile(fields: serde_json::Value) -> Profile {
        let c: Customer = serde_json::from_value(fields).unwrap();
        Profile::of(&c, &ProfileOptions::default())
    }

    /// With thresholds so high that nothing links by score, a pair of identical names (or of a
    /// shared company domain and names one of which holds the other) is still queued unless
    /// something says two customers; a branch is never linked to its parent by score.
    #[test]
    fn plausible_pairs_are_reviewed_and_branches_are_not_linked() {
        let profiles = [
            // 0, 1: the same name, one without anything else: plausible.
            serde_json::json!({"source_key": "a", "name": "杭州市长城建材有限公司", "city": "杭州", "phone": "+86 571 8765 4321"}),
            serde_json::json!({"source_key": "b", "name": "长城建材有限公司"}),
            // 2: the same name in another province: contradicted.
            serde_json::json!({"source_key": "c", "name": "北京长城建材有限公司", "region": "北京市", "tax_id": "91110105MA01X2Y3Z4"}),
            // 3, 4: a group and its subsidiary on one domain: plausible.
            serde_json::json!({"source_key": "d", "name": "华南泵业集团有限公司", "email": "group@hnpump.com", "postal_code": "510630", "country": "CN"}),
            serde_json::json!({"source_key": "e", "name": "华南泵业有限公司", "email": "sales@hnpump.com", "postal_code": "511400", "country": "CN"}),
            // 5: a branch of 3 on its domain.
            serde_json::json!({"source_key": "f", "name": "华南泵业集团有限公司北京分公司", "email": "bj@hnpump.com", "country": "CN"}),
            // 6: another country.
            serde_json::json!({"source_key": "g", "name": "Changcheng Jiancai Ltd", "country": "DE"}),
        ]
        .map(profile);
        let settings = MatchSettings {
            link_threshold: 0.999_999_999_9,
            review_threshold: 0.999_999_999_8,
            ..Default::default()
        };
        let mut matching = Matching::new(&settings).unwrap();
        let outcome = matching.run(&profiles, None);
        let decision = |a: u32, b: u32| {
            outcome
                .pairs
                .iter()
                .find(|p| (p.a, p.b) == (a, b))
                .map(|p| p.decision.clone())
        };
        assert_eq!(decision(0, 1), Some(Decision::Review));
        assert!(matches!(decision(0, 2), None | Some(Decision::Separate)));
        // 1 says nothing of where it is: the Beijing namesake may be it.
        assert_eq!(decision(1, 2), Some(Decision::Review));
        assert_eq!(decision(3, 4), Some(Decision::Review));
        assert_ne!(decision(3, 5), Some(Decision::Link));
        assert_ne!(decision(4, 5), Some(Decision::Link));
        assert!(outcome.clusters.iter().all(|c| c.len() == 1));

        // At ordinary thresholds, the branch shares a domain and most of a name with its parent
        // but is refused, never linked.
        let mut matching = Matching::new(&MatchSettings::default()).unwrap();
        let p = [
            serde_json::json!({"source_key": "x", "name": "深圳市飞跃科技有限公司", "email": "ap@feiyue.com.cn", "city": "深圳"}),
            serde_json::json!({"source_key": "y", "name": "深圳市飞跃科技有限公司北京分公司", "email": "bj@feiyue.com.cn", "city": "深圳"}),
        ]
        .map(profile);
        let outcome = matching.run(&p, None);
        assert!(outcome.clusters.iter().all(|c| c.len() == 1), "{outcome:?}");
        for pair in &outcome.pairs {
            assert_ne!(pair.decision, Decision::Link);
        }
    }
}
