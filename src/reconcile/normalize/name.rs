//! Legal names of companies.
//!
//! Rules, in order:
//! 1. Full-width → half-width, lower-case.
//! 2. A bracketed segment — `()`, `[]`, `【】`, `〔〕`, half- or full-width — is dropped
//!    ("飞跃科技（深圳）有限公司", "Siemens (China) Co., Ltd."): it holds a place or a
//!    qualifier, never the name itself. Brackets whose removal would leave nothing are kept
//!    as plain text.
//! 3. Dots and apostrophes join ("S.A." → `sa`), other punctuation separates words; spaces
//!    between CJK characters go.
//! 4. Latin legal forms are removed from the end, one to three words at a time ("Co., Ltd.",
//!    "Pty Ltd", "S.à r.l.", "GmbH & Co. KG"); CJK legal forms from the end (有限公司,
//!    股份有限公司, 有限责任公司, 公司, 株式会社, …) and 株式会社 / 有限会社 from the start.
//! 5. A leading Chinese province, autonomous region, municipality or major city (深圳市,
//!    广东省, 上海, …), repeatedly, when at least two characters remain.
//!
//! **集团 (group) is kept**, also inside 集团有限公司: a group holding and its operating
//! company are different legal entities that often share an address, so "海尔集团有限公司" and
//! "海尔集团公司" give `海尔集团`, not `海尔`. The same holds for English "Group" / "Holdings".
//!
//! **Branches stay distinct from their parent.** A name ending in 分公司, 分行, 支行, 分店 or
//! 办事处 (or a Latin name ending in "branch") keeps the branch part; only the parent's legal
//! form inside it goes, so "飞跃科技有限公司北京分公司" and "深圳市飞跃科技北京分公司" both give
//! `飞跃科技北京分公司` (the branch has its own tax ID and address, but shares the parent's
//! tokens for similarity).
//!
//! A name is never emptied: a rule whose result would be empty is not applied.

use super::geo::is_pinyin_place;
use super::places::strip_place_prefixes;
use super::{clean_words, is_cjk, to_half_width};

/// Latin legal forms removed from the end of a name, written as their words run together
/// after dots are dropped ("S.à r.l." → `sàrl`, "Pte. Ltd." → `pteltd` also as two words).
const LATIN_FORMS: &[&str] = &[
    "ltd",
    "limited",
    "co",
    "coltd",
    "company",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "llc",
    "llp",
    "lp",
    "plc",
    "gmbh",
    "ag",
    "kg",
    "kgaa",
    "se",
    "sa",
    "sas",
    "sarl",
    "sàrl",
    "srl",
    "spa",
    "sl",
    "bv",
    "nv",
    "pte",
    "pteltd",
    "pty",
    "ptyltd",
    "pvt",
    "oy",
    "ab",
    "as",
    "aps",
    "kk",
    "kabushikikaisha",
    "sdnbhd",
    "bhd",
    "sro",
];

/// CJK legal forms removed from the end, longest first. 集团 is not one (see the module doc).
const CJK_FORMS: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "有限合伙",
    "有限公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "公司",
];

/// Japanese legal forms also written before the name ("株式会社ソニー").
const CJK_LEADING_FORMS: &[&str] = &["株式会社", "有限会社", "合同会社"];

/// Endings that make a name a branch's (see the module doc).
const BRANCH_MARKERS: &[&str] = &["分公司", "分行", "支行", "分店", "办事处"];

/// True when a normalised name ([`normalize_name`]) is a branch's: it ends in 分公司, 分行,
/// 支行, 分店, 办事处 or "branch".
pub fn is_branch_name(normalized: &str) -> bool {
    BRANCH_MARKERS.iter().any(|m| normalized.ends_with(m)) || normalized.ends_with("branch")
}

/// The matching form of a company name: half-width, lower-case, without punctuation,
/// whitespace, brackets, legal forms or a leading Chinese place name (see the module doc for
/// the rules). "深圳市飞跃科技有限公司", "飞跃科技（深圳）有限公司" and "飞跃科技" give the same key,
/// and so do "ACME Co., Ltd.", "Acme Company Limited" and "ACME CO LTD".
pub fn normalize_name(name: &str) -> String {
    name_words(name).replace(' ', "")
}

/// The tokens of a name for token-set similarity, sorted and without duplicates: the Latin
/// (and digit) words of its [`normalize_name`] form, and the character bigrams of its CJK
/// text (a lone CJK character is its own token).
pub fn name_tokens(name: &str) -> Vec<String> {
    let words = name_words(name);
    let mut out: Vec<String> = Vec::new();
    for word in words.split(' ').filter(|w| !w.is_empty()) {
        let chars: Vec<char> = word.chars().collect();
        for run in chars.chunk_by(|a, b| is_cjk(*a) == is_cjk(*b)) {
            if run.first().copied().is_some_and(is_cjk) {
                if let [single] = run {
                    out.push(single.to_string());
                }
                out.extend(run.windows(2).map(|w| w.iter().collect::<String>()));
            } else {
                out.push(run.iter().collect());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The normalised name with single spaces where Latin words (or a Latin and a CJK run) meet.
fn name_words(name: &str) -> String {
    let unbracketed = drop_brackets(&to_half_width(name));
    let text = clean_words(&unbracketed);
    if let Some(marker) = BRANCH_MARKERS.iter().find(|m| text.ends_with(*m)) {
        let head = &text[..text.len() - marker.len()];
        return branch_name(head, marker);
    }
    let mut words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    if words.len() > 2 && words.last() == Some(&"branch") {
        drop_inner_latin_forms(&mut words);
        return words.join(" ");
    }
    // A leading pinyin place ("Shenzhen Acme Trading"), when two words follow it.
    if words.len() > 2 && is_pinyin_place(words[0]) {
        words.remove(0);
    }
    strip_latin_forms(&mut words);
    strip_cjk_forms(&words.join(" "))
}

/// A branch: the parent part before the last CJK legal form loses it and its leading place;
/// the branch place and `marker` stay.
fn branch_name(head: &str, marker: &str) -> String {
    let cut = CJK_FORMS
        .iter()
        .filter_map(|f| head.rfind(f).map(|at| (at, at + f.len())))
        .filter(|&(at, _)| at > 0)
        .max_by_key(|&(at, end)| (end, std::cmp::Reverse(at)));
    let (parent, place) = match cut {
        Some((at, end)) => (&head[..at], &head[end..]),
        None => (head, ""),
    };
    let parent = strip_cjk_forms(parent);
    format!("{parent}{place}{marker}")
}

/// Removes Latin legal forms from the end of `words`, keeping at least one word.
fn strip_latin_forms(words: &mut Vec<&str>) {
    'outer: while words.len() > 1 {
        for k in 1..=3.min(words.len() - 1) {
            let tail = words[words.len() - k..].concat();
            if LATIN_FORMS.contains(&tail.as_str()) {
                words.truncate(words.len() - k);
                continue 'outer;
            }
        }
        break;
    }
}

/// In "acme co ltd shanghai branch", removes the last run of legal-form words before the
/// branch place (`co ltd`), when some word stays before it.
fn drop_inner_latin_forms(words: &mut Vec<&str>) {
    let is_form = |w: &&str| LATIN_FORMS.contains(w);
    let before_branch = &words[..words.len() - 1];
    if let Some(end) = before_branch.iter().rposition(is_form) {
        let start = before_branch[..end]
            .iter()
            .rposition(|w| !is_form(w))
            .map_or(0, |p| p + 1);
        if start > 0 {
            words.drain(start..=end);
        }
    }
}

/// Removes CJK legal forms from the end (and Japanese ones from the start), then leading
/// place names; each only when something remains.
fn strip_cjk_forms(s: &str) -> String {
    let mut rest = s.trim();
    while let Some(r) = CJK_FORMS
        .iter()
        .find_map(|f| rest.strip_suffix(f))
        .map(str::trim_end)
        .filter(|r| !r.is_empty())
    {
        rest = r;
    }
    if let Some(r) = CJK_LEADING_FORMS
        .iter()
        .find_map(|f| rest.strip_prefix(f))
        .map(str::trim_start)
        .filter(|r| !r.is_empty())
    {
        rest = r;
    }
    strip_place_prefixes(rest, 2).to_string()
}

/// `s` without its bracketed segments (unnested pairs of the same kind); kept whole when
/// that would leave no letter or digit.
fn drop_brackets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find(['(', '[', '【', '〔']) {
        let opener = rest[open..].chars().next().unwrap_or('(');
        let closer = match opener {
            '(' => ')',
            '[' => ']',
            '【' => '】',
            _ => '〕',
        };
        let after = &rest[open + opener.len_utf8()..];
        out.push_str(&rest[..open]);
        match after.find(closer) {
            Some(close) => {
                out.push(' ');
                rest = &after[close + closer.len_utf8()..];
            }
            None => {
                out.push(' ');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    if out.chars().any(char::is_alphanumeric) {
        out
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_names_meet_across_places_brackets_and_legal_forms() {
        for (input, expected) in [
            ("深圳市飞跃科技有限公司", "飞跃科技"),
            ("飞跃科技(深圳)有限公司", "飞跃科技"),
            ("飞跃科技（深圳）有限公司", "飞跃科技"),
            ("飞跃科技【深圳】有限公司", "飞跃科技"),
            ("广东省深圳市飞跃科技有限公司", "飞跃科技"),
            ("上海飞跃科技股份有限公司", "飞跃科技"),
            ("北京市飞跃科技有限责任公司", "飞跃科技"),
            ("广州市 飞跃 科技 有限公司", "飞跃科技"),
            ("广西壮族自治区飞跃科技有限公司", "飞跃科技"),
            ("深圳市飞跃有限公司", "飞跃"),
            ("深圳市飞有限公司", "深圳市飞"),
            ("深圳市有限公司", "深圳市"),
            ("有限公司", "有限公司"),
            ("中山大学", "中山大学"),
            ("株式会社ソニー", "ソニー"),
            ("ソニー株式会社", "ソニー"),
            ("（深圳）", "深圳"),
        ] {
            assert_eq!(normalize_name(input), expected, "{input}");
        }
    }

    #[test]
    fn group_is_kept_and_branches_stay_distinct() {
        for (input, expected) in [
            ("海尔集团有限公司", "海尔集团"),
            ("海尔集团公司", "海尔集团"),
            ("青岛海尔集团股份有限公司", "海尔集团"),
            ("海尔集团", "海尔集团"),
            ("飞跃科技有限公司北京分公司", "飞跃科技北京分公司"),
            ("深圳市飞跃科技有限公司北京分公司", "飞跃科技北京分公司"),
            ("飞跃科技北京分公司", "飞跃科技北京分公司"),
            ("飞跃科技（深圳）有限公司上海分公司", "飞跃科技上海分公司"),
            ("招商银行股份有限公司深圳分行", "招商银行深圳分行"),
            ("分公司", "分公司"),
            ("Acme Co., Ltd. Shanghai Branch", "acmeshanghaibranch"),
            ("Acme Shanghai Branch", "acmeshanghaibranch"),
            ("Acme Group Ltd", "acmegroup"),
        ] {
            assert_eq!(normalize_name(input), expected, "{input}");
        }
        assert_ne!(normalize_name("海尔集团"), normalize_name("海尔"));
        assert_ne!(
            normalize_name("飞跃科技北京分公司"),
            normalize_name("飞跃科技有限公司")
        );
    }

    #[test]
    fn latin_legal_forms_are_removed_in_their_variants() {
        for (input, expected) in [
            ("ACME Co., Ltd.", "acme"),
            ("Acme Company Limited", "acme"),
            ("ACME CO LTD", "acme"),
            ("ACME Co.,Ltd", "acme"),
            ("ACME Co.Ltd.", "acme"),
            ("Acme Inc.", "acme"),
            ("Acme Incorporated", "acme"),
            ("Acme Corp.", "acme"),
            ("Acme Corporation", "acme"),
            ("Acme GmbH & Co. KG", "acme"),
            ("Acme AG", "acme"),
            ("Acme LLC", "acme"),
            ("Acme LLP", "acme"),
            ("Acme PLC", "acme"),
            ("Acme S.A.", "acme"),
            ("Acme S.à r.l.", "acme"),
            ("Acme Pty Ltd", "acme"),
            ("Acme Pte. Ltd.", "acme"),
            ("Acme K.K.", "acme"),
            ("Acme (Shanghai) Co., Ltd.", "acme"),
            ("ＡＣＭＥ　Ｃｏ．，Ｌｔｄ．", "acme"),
            ("O'Neil Trading Ltd", "oneiltrading"),
            ("Company Ltd", "company"),
            ("Ltd", "ltd"),
            ("", ""),
            ("  ,.  ", ""),
        ] {
            assert_eq!(normalize_name(input), expected, "{input:?}");
        }
    }

    #[test]
    fn name_tokens_are_latin_words_and_cjk_bigrams() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (input, expected) in [
            ("Feiyue Technology Co., Ltd.", v(&["feiyue", "technology"])),
            ("ACME acme Acme Inc", v(&["acme"])),
            ("深圳市飞跃科技有限公司", v(&["科技", "跃科", "飞跃"])),
            ("飞跃科技 Feiyue", v(&["feiyue", "科技", "跃科", "飞跃"])),
            ("飞有限公司", v(&["飞"])),
            ("3M Company", v(&["3m"])),
            ("", v(&[])),
        ] {
            assert_eq!(name_tokens(input), expected, "{input}");
        }
    }

    #[test]
    fn brackets_are_dropped_only_when_something_remains() {
        for (input, expected) in [
            ("a (b) c", "a   c"),
            ("a (b", "a  b"),
            ("(b)", "(b)"),
            ("a【b】c〔d〕", "a c "),
        ] {
            assert_eq!(drop_brackets(input), expected, "{input}");
        }
    }
}
