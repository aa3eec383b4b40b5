//! Street addresses as tokens for token-set similarity.

use super::{clean_words, is_cjk};

/// Street-type and unit abbreviations and their expansion (after dots are dropped).
const ABBREVIATIONS: &[(&str, &str)] = &[
    ("st", "street"),
    ("rd", "road"),
    ("ave", "avenue"),
    ("av", "avenue"),
    ("dr", "drive"),
    ("pl", "place"),
    ("cres", "crescent"),
    ("ct", "court"),
    ("ln", "lane"),
    ("hwy", "highway"),
    ("blvd", "boulevard"),
    ("pkwy", "parkway"),
    ("sq", "square"),
    ("tce", "terrace"),
    ("pde", "parade"),
    ("apt", "apartment"),
    ("ste", "suite"),
    ("fl", "floor"),
    ("bldg", "building"),
    ("rm", "room"),
];

/// CJK characters after which a Chinese address is cut: administrative levels (省 市 区 县
/// 镇 乡), streets (路 街 巷 弄) and numbers (号 栋 幢 室 楼 层). "大道" is handled apart.
const CJK_BOUNDARIES: &[char] = &[
    '省', '市', '区', '县', '镇', '乡', '路', '街', '巷', '弄', '号', '栋', '幢', '室', '楼', '层',
];

/// Units that stay with the number before them ("1号", "3栋", "1201室").
const CJK_UNITS: &[char] = &['号', '栋', '幢', '室', '楼', '层'];

/// The tokens of an address, in the order they stand: half-width, lower-case, without
/// punctuation, with street-type and unit abbreviations spelled out (`st` → `street`,
/// `rd` → `road`, …). German `str`/`straße` endings become `strasse` ("Hauptstr. 5" and
/// "Hauptstraße 5" meet); `st` is always `street`, never Saint.
///
/// Chinese text is cut after each administrative, street or number marker (省 市 区 县 路 街 号
/// 大道 …) and where digits start, keeping a number with its unit: "广东省深圳市南山区科技园路1号"
/// → `广东省`, `深圳市`, `南山区`, `科技园路`, `1号`.
pub fn address_tokens(raw: &str) -> Vec<String> {
    let text = clean_words(raw).replace('ß', "ss");
    // A space between a number and CJK text means nothing ("188 号", "张江镇 188").
    let numeric_or_cjk = |c: char| c.is_ascii_digit() || is_cjk(c);
    let mut words: Vec<String> = Vec::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        match words.last_mut() {
            Some(prev)
                if prev.chars().next_back().is_some_and(numeric_or_cjk)
                    && word.chars().next().is_some_and(numeric_or_cjk)
                    && (prev.chars().any(is_cjk) || word.chars().any(is_cjk)) =>
            {
                prev.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
    }
    let mut out = Vec::new();
    for word in &words {
        if word.chars().any(is_cjk) {
            split_cjk(word, &mut out);
        } else {
            out.push(expand(word));
        }
    }
    out
}

/// A Latin word with its abbreviation expanded.
fn expand(word: &str) -> String {
    if let Some((_, full)) = ABBREVIATIONS.iter().find(|(abbr, _)| *abbr == word) {
        return (*full).to_string();
    }
    if word == "str" {
        return "strasse".to_string();
    }
    match word.strip_suffix("str") {
        Some(stem) if !stem.is_empty() => format!("{word}asse"),
        _ => word.to_string(),
    }
}

/// Cuts a word holding CJK text (and maybe digits or Latin letters) into tokens.
fn split_cjk(word: &str, out: &mut Vec<String>) {
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in word.chars() {
        let digit_starts = c.is_ascii_digit() && prev.is_some_and(|p| !p.is_ascii_digit());
        let number_ends = prev.is_some_and(|p| p.is_ascii_digit())
            && !c.is_ascii_digit()
            && !CJK_UNITS.contains(&c);
        if (digit_starts || number_ends) && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        current.push(c);
        if CJK_BOUNDARIES.contains(&c) || current.ends_with("大道") {
            out.push(std::mem::take(&mut current));
        }
        prev = Some(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_expanded_tokens() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        for (input, expected) in [
            ("12 Main St.", v(&["12", "main", "street"])),
            ("12 MAIN STREET", v(&["12", "main", "street"])),
            (
                "5 Collins Rd, Unit 3",
                v(&["5", "collins", "road", "unit", "3"]),
            ),
            ("100 Fifth Ave.", v(&["100", "fifth", "avenue"])),
            ("7 Ocean Dr", v(&["7", "ocean", "drive"])),
            ("3 Elm Pl", v(&["3", "elm", "place"])),
            ("9 Park Cres", v(&["9", "park", "crescent"])),
            ("4 Oak Ct", v(&["4", "oak", "court"])),
            ("2 Mill Ln", v(&["2", "mill", "lane"])),
            ("Pacific Hwy 101", v(&["pacific", "highway", "101"])),
            ("8600 Sunset Blvd.", v(&["8600", "sunset", "boulevard"])),
            ("Hauptstr. 5", v(&["hauptstrasse", "5"])),
            ("Hauptstraße 5", v(&["hauptstrasse", "5"])),
            ("Berliner Str. 12a", v(&["berliner", "strasse", "12a"])),
            (
                "Apt 4B, 1 O'Connell St",
                v(&["apartment", "4b", "1", "oconnell", "street"]),
            ),
            (
                "ＵＮＩＴ　５，　１２　ＭＡＩＮ　ＳＴ",
                v(&["unit", "5", "12", "main", "street"]),
            ),
            (
                "广东省深圳市南山区科技园路1号",
                v(&["广东省", "深圳市", "南山区", "科技园路", "1号"]),
            ),
            (
                "深圳市福田区深南大道1003号",
                v(&["深圳市", "福田区", "深南大道", "1003号"]),
            ),
            (
                "上海市浦东新区张江镇 188 号 3栋 1201室",
                v(&["上海市", "浦东新区", "张江镇", "188号", "3栋", "1201室"]),
            ),
            (
                "北京市朝阳区建国路88号SOHO现代城A座",
                v(&["北京市", "朝阳区", "建国路", "88号", "soho现代城a座"]),
            ),
            (
                "江苏省昆山县101科技大厦",
                v(&["江苏省", "昆山县", "101", "科技大厦"]),
            ),
            ("", v(&[])),
            (" ,;. ", v(&[])),
        ] {
            assert_eq!(address_tokens(input), expected, "{input:?}");
        }
    }
}
