//! Phone numbers in E.164 form, by the `phonenumber` crate (libphonenumber's metadata).

use std::str::FromStr;

use phonenumber::country::Id;

use super::{normalize_country, to_half_width};

/// The E.164 form of a phone number (`+8675512345678`): no spaces, no extension.
///
/// A number that starts with `+` or `00` is international; any other is read as a national
/// number of `default_country` (an ISO alpha-2 code or a name [`normalize_country`] knows).
/// `None` when the number cannot be parsed, has no country to be read in, or is not a valid
/// number of its country by the metadata (wrong length or prefix).
pub fn normalize_phone(raw: &str, default_country: Option<&str>) -> Option<String> {
    let half = to_half_width(raw);
    let mut s = half.trim();
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tel:")) {
        s = s[4..].trim_start();
    }
    let text = match s.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => s.to_string(),
    };
    let country = if text.starts_with('+') {
        None
    } else {
        Some(Id::from_str(&normalize_country(default_country?)?).ok()?)
    };
    let number = phonenumber::parse(country, &text).ok()?;
    phonenumber::is_valid(&number)
        .then(|| format!("+{}{}", number.code().value(), number.national()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_become_e164() {
        for (input, country, expected) in [
            // Chinese mobiles.
            ("138 0013 8000", Some("CN"), Some("+8613800138000")),
            ("+86-138-0013-8000", None, Some("+8613800138000")),
            ("0086 13800138000", None, Some("+8613800138000")),
            ("0086 13800138000", Some("US"), Some("+8613800138000")),
            (
                "１３８００１３８０００",
                Some("China"),
                Some("+8613800138000"),
            ),
            ("tel:+86-138-0013-8000", None, Some("+8613800138000")),
            // Chinese landlines with their area code.
            ("0755-8888 8888", Some("CN"), Some("+8675588888888")),
            ("(010) 6552 9988", Some("CN"), Some("+861065529988")),
            ("+86 (0)755 8888 8888", None, Some("+8675588888888")),
            // Germany, the US, the UK.
            ("030 12345678", Some("DE"), Some("+493012345678")),
            ("+49 (0)89 1234567", None, Some("+49891234567")),
            ("(650) 253-0000", Some("US"), Some("+16502530000")),
            ("+1 650 253 0000", Some("CN"), Some("+16502530000")),
            ("020 7031 3000", Some("GB"), Some("+442070313000")),
            ("+44 7911 123456", None, Some("+447911123456")),
            // Extensions are dropped.
            ("+1 650-253-0000 ext. 123", None, Some("+16502530000")),
            ("(650) 253-0000 x42", Some("US"), Some("+16502530000")),
            // No country, or garbage.
            ("138 0013 8000", None, None),
            ("138 0013 8000", Some("Atlantis"), None),
            ("12345", Some("CN"), None),
            ("+86 123", None, None),
            ("n/a", Some("CN"), None),
            ("", Some("CN"), None),
            ("   ", None, None),
            ("phone: call me", Some("US"), None),
            ("电话", Some("CN"), None),
            ("电话：", Some("CN"), None),
        ] {
            assert_eq!(
                normalize_phone(input, country).as_deref(),
                expected,
                "{input:?} in {country:?}"
            );
        }
    }
}
