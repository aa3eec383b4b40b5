//! Normalisation of names, postal codes and countries for matching.
//!
//! Normalised values are match keys, never shown: they lose case, punctuation, spacing and
//! legal-form suffixes so that "Feiyue Technology Co., Ltd." and "FEIYUE TECHNOLOGY" meet.

/// Maps full-width ASCII variants (U+FF01–U+FF5E) and the ideographic space to their
/// half-width forms; every other character is kept.
pub fn to_half_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Latin legal-form words removed from the end of a name (after punctuation is dropped, so
/// "S.A." is `sa` and "Co.," is `co`).
const LATIN_SUFFIXES: &[&str] = &[
    "ltd",
    "limited",
    "co",
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
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "pte",
    "pty",
    "oy",
    "ab",
    "kk",
];

/// Chinese legal-form suffixes, longest first. 集团 (group) is deliberately kept: a group head
/// and its operating company are different legal entities that often share an address.
const CJK_SUFFIXES: &[&str] = &["股份有限公司", "有限责任公司", "有限公司", "公司"];

/// The matching form of a company name: half-width, lower-case, without punctuation or
/// whitespace and without trailing legal-form suffixes. A suffix is only removed when
/// something remains, so "Company Ltd" keeps `company`.
pub fn normalize_name(name: &str) -> String {
    let half = to_half_width(name).to_lowercase();
    // Dots and apostrophes join ("S.A." → "sa"); other punctuation separates words.
    let cleaned: String = half
        .chars()
        .filter(|c| !matches!(c, '.' | '\'' | '’'))
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    while words.len() > 1 && LATIN_SUFFIXES.contains(words.last().unwrap_or(&"")) {
        words.pop();
    }
    let mut joined: String = words.concat();
    // The longest suffix that matches is removed, and only when something remains.
    while let Some(rest) = CJK_SUFFIXES
        .iter()
        .find_map(|s| joined.strip_suffix(s))
        .filter(|r| !r.is_empty())
    {
        joined = rest.to_string();
    }
    joined
}

/// The matching form of a postal code: half-width, without whitespace, upper-case; `None`
/// when nothing is left.
pub fn normalize_postcode(code: &str) -> Option<String> {
    let s: String = to_half_width(code)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    (!s.is_empty()).then_some(s)
}

/// Common country names and three-letter codes → ISO 3166-1 alpha-2.
const COUNTRY_NAMES: &[(&str, &str)] = &[
    ("CHINA", "CN"),
    ("PRC", "CN"),
    ("CHN", "CN"),
    ("PEOPLE'S REPUBLIC OF CHINA", "CN"),
    ("PEOPLES REPUBLIC OF CHINA", "CN"),
    ("中国", "CN"),
    ("中华人民共和国", "CN"),
    ("中國", "CN"),
    ("HONG KONG", "HK"),
    ("香港", "HK"),
    ("TAIWAN", "TW"),
    ("台湾", "TW"),
    ("JAPAN", "JP"),
    ("日本", "JP"),
    ("GERMANY", "DE"),
    ("DEUTSCHLAND", "DE"),
    ("DEU", "DE"),
    ("FRANCE", "FR"),
    ("FRA", "FR"),
    ("UNITED KINGDOM", "GB"),
    ("UK", "GB"),
    ("GREAT BRITAIN", "GB"),
    ("GBR", "GB"),
    ("UNITED STATES", "US"),
    ("UNITED STATES OF AMERICA", "US"),
    ("USA", "US"),
    ("美国", "US"),
    ("NETHERLANDS", "NL"),
    ("ITALY", "IT"),
    ("SPAIN", "ES"),
];

/// The ISO 3166-1 alpha-2 code of a country given as a code or a common name; `None` when
/// empty or unknown.
pub fn normalize_country(country: &str) -> Option<String> {
    let s = to_half_width(country).trim().to_uppercase();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
        return Some(s);
    }
    COUNTRY_NAMES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, code)| (*code).to_string())
}
