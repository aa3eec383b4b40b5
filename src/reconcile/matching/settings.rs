//! `[reconcile.matching]`: the settings of probabilistic matching, their defaults (comparisons
//! and blocking rules) and how a comparison spec compiles.

use serde::Deserialize;

use super::blocking::RuleSpec;
use super::compare::Comparator;
use super::model::Comparison;
use super::profile::Field;

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

pub(super) fn compile_comparison(spec: &ComparisonSpec) -> Result<Comparison, String> {
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
