//! Countries as ISO 3166-1 alpha-2 codes.

use super::to_half_width;

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

/// The ISO 3166-1 alpha-2 code of a country given as a code or a common name (a known name
/// wins, so "UK" is `GB`); any other two letters are taken as a code; `None` when empty or
/// unknown.
pub fn normalize_country(country: &str) -> Option<String> {
    let s = to_half_width(country).trim().to_uppercase();
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    // Names first: "UK" is a common name of GB, not a code.
    if let Some((_, code)) = COUNTRY_NAMES.iter().find(|(name, _)| *name == s) {
        return Some((*code).to_string());
    }
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase())).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_become_alpha2_codes() {
        for (input, expected) in [
            ("cn", Some("CN")),
            (" ｄｅ ", Some("DE")),
            ("UK", Some("GB")),
            ("uk", Some("GB")),
            ("Great  Britain", Some("GB")),
            ("中华人民共和国", Some("CN")),
            ("USA", Some("US")),
            ("Atlantis", None),
            ("C", None),
            ("", None),
        ] {
            assert_eq!(normalize_country(input).as_deref(), expected, "{input:?}");
        }
    }
}
