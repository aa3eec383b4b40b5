//! Comparison levels: how alike two values of one field are, as a small level number.
//!
//! Level 0 is the strongest agreement; the last level is "else" (disagreement). A missing
//! value on either side has no level ([`NULL`]) and counts neither for nor against a match.
//! Values reach the comparators already normalised by the profile (see `profile.rs`).

use chrono::NaiveDate;
use serde::Deserialize;
use strsim::{damerau_levenshtein, jaro_winkler, levenshtein};

/// The level of a pair where either value is missing.
pub const NULL: u8 = 0x0F;
/// Most levels one comparison may have (levels are stored in 4 bits, one value is [`NULL`]).
pub const MAX_LEVELS: usize = 15;

/// How the values of one field are compared.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Comparator {
    /// Equal or not.
    Exact,
    /// Equal; then Jaro–Winkler similarity at or above each threshold (descending); else.
    JaroWinkler {
        /// Similarity thresholds, highest first, e.g. `[0.92, 0.8]`.
        thresholds: Vec<f64>,
    },
    /// Equal; then at most each edit distance (ascending); else.
    Levenshtein {
        /// Edit distances, smallest first, e.g. `[1, 2]`.
        distances: Vec<usize>,
    },
    /// Equal token sets; then Jaccard similarity of the space-separated tokens at or above
    /// each threshold (descending); else. Word order and repeated words do not matter.
    TokenSet {
        /// Similarity thresholds, highest first.
        thresholds: Vec<f64>,
    },
    /// Equal; then the better of Jaro–Winkler (on the text) and token-set similarity (on its
    /// words) at or above each threshold (descending); else. For names and addresses, whose
    /// words may be misspelt or reordered.
    Fuzzy {
        /// Similarity thresholds, highest first.
        thresholds: Vec<f64>,
    },
    /// Person names written `given` U+001F `family`: both equal; swapped; one equal and the
    /// other similar (Jaro–Winkler ≥ `threshold`, either order); both similar; one equal and
    /// the other different; one similar; else.
    PersonName {
        /// Similarity threshold (default 0.88).
        #[serde(default = "default_person_threshold")]
        threshold: f64,
    },
    /// Dates written `YYYY-MM-DD`: equal; one edit or transposition apart (a typo, day and
    /// month swapped digits); within a year; else.
    Date,
    /// E-mail addresses with the company domains of both records (their e-mail's and
    /// website's, free mail left out): the same mailbox; one edit apart; another mailbox (or
    /// the website) on a shared company domain; different company domains. Mail on a free
    /// provider with another mailbox says nothing (no level).
    Email,
    /// Tax IDs as the profile writes them (`V:<canonical>` when valid, `I:<text>` when not):
    /// the same valid ID; the same invalid text; one edit apart with at least one invalid (a
    /// typo); two *different valid* IDs (strong evidence of two legal entities); else.
    TaxId,
}

impl Comparator {
    /// Names of the levels, strongest first.
    pub fn level_names(&self) -> Vec<String> {
        let mut names = vec!["exact".to_string()];
        match self {
            Comparator::Exact => {}
            Comparator::JaroWinkler { thresholds } => {
                names.extend(thresholds.iter().map(|t| format!("jaro_winkler >= {t}")));
            }
            Comparator::Levenshtein { distances } => {
                names.extend(distances.iter().map(|d| format!("edits <= {d}")));
            }
            Comparator::TokenSet { thresholds } => {
                names.extend(thresholds.iter().map(|t| format!("token_set >= {t}")));
            }
            Comparator::Fuzzy { thresholds } => {
                names.extend(thresholds.iter().map(|t| format!("similarity >= {t}")));
            }
            Comparator::PersonName { .. } => {
                names.extend(
                    [
                        "swapped",
                        "one equal, one similar",
                        "both similar",
                        "one equal, one different",
                        "one similar",
                    ]
                    .map(String::from),
                );
            }
            Comparator::Date => {
                names.push("one edit or transposition".into());
                names.push("within 365 days".into());
            }
            Comparator::Email => {
                names.push("edits <= 1".into());
                names.push("same company domain".into());
            }
            Comparator::TaxId => {
                return [
                    "same valid ID",
                    "same text, not a valid ID",
                    "one edit apart",
                    "different valid IDs",
                    "else",
                ]
                .map(String::from)
                .to_vec();
            }
        }
        names.push("else".into());
        names
    }

    /// Number of levels (without [`NULL`]).
    pub fn levels(&self) -> usize {
        self.level_names().len()
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), String> {
        let bands = |v: &[f64]| {
            v.windows(2).all(|w| w[0] > w[1]) && v.iter().all(|t| (0.0..=1.0).contains(t))
        };
        match self {
            Comparator::JaroWinkler { thresholds }
            | Comparator::TokenSet { thresholds }
            | Comparator::Fuzzy { thresholds }
                if !bands(thresholds) =>
            {
                return Err("thresholds must lie in 0..1, highest first".into());
            }
            Comparator::Levenshtein { distances } if !distances.windows(2).all(|w| w[0] < w[1]) => {
                return Err("distances must be ascending".into());
            }
            _ => {}
        }
        if self.levels() > MAX_LEVELS {
            return Err(format!("at most {} levels", MAX_LEVELS));
        }
        Ok(())
    }

    /// The level of two present, normalised values.
    pub fn level(&self, a: &str, b: &str) -> u8 {
        if a == b && !matches!(self, Comparator::TaxId) {
            return 0;
        }
        let banded = |found: Option<usize>, n: usize| found.map_or(n + 1, |i| i + 1) as u8;
        match self {
            Comparator::Exact => 1,
            Comparator::JaroWinkler { thresholds } => {
                let s = jaro_winkler(a, b);
                banded(thresholds.iter().position(|t| s >= *t), thresholds.len())
            }
            Comparator::Levenshtein { distances } => {
                let d = levenshtein(a, b);
                banded(distances.iter().position(|t| d <= *t), distances.len())
            }
            Comparator::TokenSet { thresholds } => {
                let s = token_set(a, b);
                if s >= 1.0 {
                    return 0;
                }
                banded(thresholds.iter().position(|t| s >= *t), thresholds.len())
            }
            Comparator::Fuzzy { thresholds } => {
                let s = jaro_winkler(a, b).max(token_set(a, b));
                banded(thresholds.iter().position(|t| s >= *t), thresholds.len())
            }
            Comparator::PersonName { threshold } => person_level(a, b, *threshold),
            Comparator::Date => date_level(a, b),
            Comparator::TaxId => tax_id_level(a, b),
            Comparator::Email => {
                let domains = |e: &str| {
                    super::super::normalize::corporate_domains(Some(e), None).unwrap_or_default()
                };
                email_level((Some(a), &domains(a)), (Some(b), &domains(b)))
            }
        }
    }
}

/// The [`Comparator::Email`] level of two records' (e-mail, company domains); `NULL` when
/// neither a mailbox nor company domains can be compared.
pub fn email_level(a: (Option<&str>, &str), b: (Option<&str>, &str)) -> u8 {
    if let (Some(x), Some(y)) = (a.0, b.0) {
        if x == y {
            return 0;
        }
        if levenshtein(x, y) <= 1 {
            return 1;
        }
    }
    let (da, db) = (a.1, b.1);
    if da.is_empty() || db.is_empty() {
        return NULL;
    }
    if share_a_word(da, db) { 2 } else { 3 }
}

/// True when two space-separated lists (company domains) hold a word in common.
pub fn share_a_word(a: &str, b: &str) -> bool {
    a.split(' ')
        .any(|x| !x.is_empty() && b.split(' ').any(|y| y == x))
}

/// Jaccard similarity of the sets of space-separated tokens.
pub fn token_set(a: &str, b: &str) -> f64 {
    let mut ta: Vec<&str> = a.split_whitespace().collect();
    let mut tb: Vec<&str> = b.split_whitespace().collect();
    if ta.is_empty() && tb.is_empty() {
        return 1.0;
    }
    ta.sort_unstable();
    ta.dedup();
    tb.sort_unstable();
    tb.dedup();
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < ta.len() && j < tb.len() {
        match ta[i].cmp(tb[j]) {
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    common as f64 / (ta.len() + tb.len() - common) as f64
}

fn default_person_threshold() -> f64 {
    0.88
}

fn person_level(a: &str, b: &str, threshold: f64) -> u8 {
    let (g1, f1) = a.split_once('\u{1f}').unwrap_or((a, ""));
    let (g2, f2) = b.split_once('\u{1f}').unwrap_or((b, ""));
    // 2 = equal, 1 = similar, 0 = different (an empty part is different).
    let grade = |x: &str, y: &str| {
        if x.is_empty() || y.is_empty() {
            0
        } else if x == y {
            2
        } else if jaro_winkler(x, y) >= threshold {
            1
        } else {
            0
        }
    };
    let straight = (grade(g1, g2), grade(f1, f2));
    let swapped = (grade(g1, f2), grade(f1, g2));
    if straight == (2, 2) {
        return 0;
    }
    if swapped == (2, 2) {
        return 1;
    }
    let level = |(x, y): (u8, u8)| match (x.max(y), x.min(y)) {
        (2, 1) => 2,
        (1, 1) => 3,
        (2, 0) => 4,
        (1, 0) => 5,
        _ => 6,
    };
    level(straight).min(level(swapped))
}

fn date_level(a: &str, b: &str) -> u8 {
    if damerau_levenshtein(a, b) <= 1 {
        return 1;
    }
    let parse = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) if (x - y).num_days().abs() <= 365 => 2,
        _ => 3,
    }
}

fn tax_id_level(a: &str, b: &str) -> u8 {
    let split = |s: &str| match s.split_once(':') {
        Some(("V", v)) => (true, v.to_string()),
        Some((_, v)) => (false, v.to_string()),
        None => (false, s.to_string()),
    };
    let ((va, a), (vb, b)) = (split(a), split(b));
    match (va, vb) {
        (true, true) if a == b => 0,
        (true, true) => 3,
        _ if a == b => 1,
        _ if damerau_levenshtein(&a, &b) <= 1 => 2,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_bands() {
        let jw = Comparator::JaroWinkler {
            thresholds: vec![0.92, 0.8],
        };
        assert_eq!(jw.levels(), 4);
        for (a, b, level) in [
            ("martha", "martha", 0),
            ("martha", "marhta", 1),
            ("dixon", "dicksonx", 2),
            ("jones", "smith", 3),
        ] {
            assert_eq!(jw.level(a, b), level, "{a} / {b}");
        }
        let lev = Comparator::Levenshtein {
            distances: vec![1, 2],
        };
        for (a, b, level) in [
            ("4510", "4510", 0),
            ("4510", "4511", 1),
            ("4510", "4501", 2),
            ("4510", "2000", 3),
        ] {
            assert_eq!(lev.level(a, b), level, "{a} / {b}");
        }
        assert_eq!(Comparator::Exact.level("a", "b"), 1);
        assert_eq!(Comparator::Exact.levels(), 2);
    }

    #[test]
    fn token_sets_ignore_order_and_repeats() {
        let ts = Comparator::TokenSet {
            thresholds: vec![0.6, 0.3],
        };
        assert_eq!(ts.level("acme trading", "trading acme acme"), 0);
        assert_eq!(ts.level("a b c d", "a b c e"), 1); // 3/5
        assert_eq!(ts.level("a b c", "a x y"), 3); // 1/5 < 0.3
        assert!((token_set("a b c", "a x y") - 0.2).abs() < 1e-9);
        assert_eq!(ts.level("a b", "c d"), 3);
        let fuzzy = Comparator::Fuzzy {
            thresholds: vec![0.9, 0.7],
        };
        assert_eq!(fuzzy.level("acme trading", "trading acme"), 1, "tokens");
        assert_eq!(
            fuzzy.level("44 forbes street", "44 forbse street"),
            1,
            "typo"
        );
        assert_eq!(fuzzy.level("acme trading", "zenith mills"), 3);
    }

    #[test]
    fn person_names_tolerate_swaps_and_typos() {
        let p = Comparator::PersonName { threshold: 0.88 };
        assert_eq!(p.levels(), 7);
        for (a, b, level) in [
            ("sophie\u{1f}snell", "sophie\u{1f}snell", 0),
            ("sophie\u{1f}snell", "snell\u{1f}sophie", 1),
            ("sophie\u{1f}snell", "sophie\u{1f}snekl", 2),
            ("sophie\u{1f}snell", "snekl\u{1f}sophie", 2),
            ("sophie\u{1f}snell", "sophia\u{1f}snekl", 3),
            ("hannah\u{1f}green", "hannah\u{1f}ottens", 4),
            ("hannah\u{1f}green", "hannha\u{1f}ottens", 5),
            ("hannah\u{1f}green", "\u{1f}green", 4),
            ("hannah\u{1f}green", "lucas\u{1f}mccarthy", 6),
        ] {
            assert_eq!(p.level(a, b), level, "{a} / {b}");
        }
    }

    #[test]
    fn dates_tolerate_typos_and_swaps() {
        let d = Comparator::Date;
        for (a, b, level) in [
            ("1930-02-13", "1930-02-13", 0),
            ("1930-02-13", "1930-02-31", 1),
            ("1930-02-13", "1930-02-14", 1),
            ("1930-02-13", "1930-12-03", 2),
            ("1930-02-13", "1953-02-13", 3),
            ("1930-02-13", "garbage!!!", 3),
        ] {
            assert_eq!(d.level(a, b), level, "{a} / {b}");
        }
    }

    #[test]
    fn tax_ids_tell_typos_from_different_entities() {
        let t = Comparator::TaxId;
        for (a, b, level) in [
            ("V:91440300MA5DC1234X", "V:91440300MA5DC1234X", 0),
            ("I:12345", "I:12345", 1),
            ("V:91440300MA5DC1234X", "I:91440300MA5DC1243X", 2),
            ("V:DE811907980", "V:DE136695976", 3),
            ("I:12345", "I:99999", 4),
        ] {
            assert_eq!(t.level(a, b), level, "{a} / {b}");
        }
        assert_eq!(t.levels(), 5);
    }

    /// Mail: the same mailbox, a typo, another mailbox on a shared company domain (or the
    /// website's), different company domains; free mail with another mailbox says nothing.
    #[test]
    fn email_levels_tell_company_domains_from_free_mail() {
        for (a, b, level) in [
            (
                (Some("ap@acme.cn"), "acme.cn"),
                (Some("ap@acme.cn"), "acme.cn"),
                0,
            ),
            ((Some("ap@acme.cn"), "acme.cn"), (Some("ap@acme.cm"), ""), 1),
            (
                (Some("ap@acme.cn"), "acme.cn"),
                (Some("finance@acme.cn"), "acme.cn"),
                2,
            ),
            ((None, "acme.cn"), (Some("finance@acme.cn"), "acme.cn"), 2),
            (
                (Some("ap@acme.cn"), "acme.cn acme.com"),
                (None, "acme.com"),
                2,
            ),
            (
                (Some("ap@acme.cn"), "acme.cn"),
                (Some("ap@zenith.cn"), "zenith.cn"),
                3,
            ),
            ((Some("zhang@qq.com"), ""), (Some("li@qq.com"), ""), NULL),
            (
                (Some("zhang@qq.com"), ""),
                (Some("ap@acme.cn"), "acme.cn"),
                NULL,
            ),
            ((Some("zhang@qq.com"), ""), (Some("zhang@qq.com"), ""), 0),
            ((None, ""), (Some("ap@acme.cn"), "acme.cn"), NULL),
        ] {
            assert_eq!(email_level(a, b), level, "{a:?} / {b:?}");
        }
        let e = Comparator::Email;
        assert_eq!(e.levels(), 4);
        assert_eq!(e.level("ap@acme.cn", "finance@acme.cn"), 2);
        assert_eq!(e.level("ap@163.com", "finance@163.com"), NULL);
    }

    #[test]
    fn bad_bands_are_refused() {
        assert!(
            Comparator::JaroWinkler {
                thresholds: vec![0.8, 0.9]
            }
            .validate()
            .is_err()
        );
        assert!(
            Comparator::Levenshtein {
                distances: vec![2, 1]
            }
            .validate()
            .is_err()
        );
        assert!(
            Comparator::TokenSet {
                thresholds: vec![1.5]
            }
            .validate()
            .is_err()
        );
        assert!(Comparator::Date.validate().is_ok());
    }
}
