//! Default m and u per comparison level, shipped with the binary (`priors.json`), so that a
//! first sync of a few dozen records decides as sensibly as one of a million.
//!
//! EM on a small set has few matches to learn m from and few non-matches to see rare levels
//! among, so each estimate is a weighted mean of the shipped prior and what the data says,
//! the prior counting as [`MATCH_PAIRS`] matches (for m) and [`NON_MATCH_PAIRS`] non-matches
//! (for u): at 50 records (≈ 20 matches, ≈ 1,200 pairs) the prior leads, at a million
//! (≈ 10⁵ matches, ≈ 10¹¹ pairs) the data does. The values were trained with the built-in
//! comparisons on 200,000 customers from the multi-ERP generator (`tributary bench master
//! --shape multi-erp --records 200000 --write-priors src/reconcile/matching/priors.json`),
//! whose systems hold what real ERPs hold; comparisons the file does not name (or names with
//! another number of levels) train from the generic starting values alone.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// Weight of the shipped m values, in matching pairs.
pub const MATCH_PAIRS: f64 = 200.0;
/// Weight of the shipped u values, in non-matching pairs.
pub const NON_MATCH_PAIRS: f64 = 20_000.0;

/// The shipped file.
pub const SOURCE: &str = include_str!("priors.json");

/// The priors file: where they come from, and per comparison m and u per level.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Priors {
    /// How they were derived.
    pub derived_from: String,
    /// Per comparison.
    pub comparisons: Vec<Prior>,
}

/// One comparison's prior.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// The comparison's name.
    pub name: String,
    /// m per level, strongest first.
    pub m: Vec<f64>,
    /// u per level.
    pub u: Vec<f64>,
}

static SHIPPED: LazyLock<Priors> =
    LazyLock::new(|| serde_json::from_str(SOURCE).expect("priors.json is checked by a test"));

/// The shipped prior of a comparison with `levels` levels, if any.
pub fn shipped(name: &str, levels: usize) -> Option<&'static Prior> {
    SHIPPED
        .comparisons
        .iter()
        .find(|p| p.name == name && p.m.len() == levels && p.u.len() == levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file reads, and each prior is a probability distribution over a built-in
    /// comparison's levels.
    #[test]
    fn the_shipped_priors_fit_the_built_in_comparisons() {
        let priors: Priors = serde_json::from_str(SOURCE).unwrap();
        assert!(!priors.comparisons.is_empty());
        let built_in = super::super::default_comparisons();
        for p in &priors.comparisons {
            let (_, _, comparator) = built_in
                .iter()
                .find(|(n, ..)| *n == p.name)
                .unwrap_or_else(|| panic!("{} is not a built-in comparison", p.name));
            assert_eq!(p.m.len(), comparator.levels(), "{}", p.name);
            for v in [&p.m, &p.u] {
                assert!(
                    (v.iter().sum::<f64>() - 1.0).abs() < 1e-4,
                    "{}: {v:?}",
                    p.name
                );
                assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
            }
            assert!(shipped(&p.name, p.m.len()).is_some());
        }
    }
}
