//! Phone numbers in E.164 form, by libphonenumber's metadata: plainly written numbers by the
//! fast path (`phone_fast.rs`), anything else by the `phonenumber` crate.

use std::str::FromStr;

use phonenumber::country::Id;

use super::phone_fast::{Fast, e164};
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
        Some(normalize_country(default_country?)?)
    };
    match e164(&text, country.as_deref()) {
        Fast::Done(found) => found,
        Fast::Unsure => by_crate(&text, country.as_deref()),
    }
}

/// The `phonenumber` crate's reading of `text` (in `country` when it has no `+`).
fn by_crate(text: &str, country: Option<&str>) -> Option<String> {
    let country = match country {
        Some(c) => Some(Id::from_str(c).ok()?),
        None => None,
    };
    let number = phonenumber::parse(country, text).ok()?;
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

    /// The fast path reads every plainly written number as the crate does: numbers of many
    /// countries in the shapes people write them, valid or not, with national prefixes, carrier
    /// codes, calling codes without `+`, too few and too many digits.
    #[test]
    fn the_fast_path_agrees_with_the_crate() {
        let mut rng = fastrand::Rng::with_seed(7);
        let countries = [
            "CN", "US", "CA", "GB", "DE", "FR", "IT", "JP", "IN", "BR", "AU", "RU", "KZ", "MX",
            "AR", "HK", "SG", "NZ", "ES", "NL", "KR", "TW", "CH", "SE",
        ];
        let (mut fast, mut checked) = (0, 0);
        for _ in 0..6_000 {
            let country = countries[rng.usize(..countries.len())];
            let meta = phonenumber::metadata::DATABASE.by_id(country).unwrap();
            let code = meta.country_code().to_string();
            // A national number: an example of the country with its tail changed, or digits.
            let examples: Vec<&str> = [
                meta.descriptors().fixed_line(),
                meta.descriptors().mobile(),
                meta.descriptors().toll_free(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|d| d.example())
            .collect();
            let mut national: String = match examples.get(rng.usize(..examples.len().max(1))) {
                Some(e) if rng.f64() < 0.8 => e.to_string(),
                _ => (0..rng.usize(2..14)).map(|_| rng.digit(10)).collect(),
            };
            let tail = rng.usize(..4.min(national.len()));
            national.truncate(national.len() - tail);
            for _ in 0..tail + rng.usize(..2) {
                national.push(rng.digit(10));
            }
            let prefix = meta.national_prefix().unwrap_or("");
            let spaced = |s: &str, sep: &str| {
                s.as_bytes()
                    .chunks(3)
                    .map(|c| std::str::from_utf8(c).unwrap())
                    .collect::<Vec<_>>()
                    .join(sep)
            };
            let written = match rng.usize(..8) {
                0 => format!("+{code} {}", spaced(&national, " ")),
                1 => format!("+{code}{national}"),
                2 => format!("{prefix}{national}"),
                3 => format!("{code}{national}"),
                4 => format!("+{code}-{}", spaced(&national, "-")),
                5 => format!("({prefix}{}) {}", &national[..2], &national[2..]),
                6 => format!("00{code} {national}"),
                _ => national.clone(),
            };
            // As `normalize_phone` hands it over: a leading `00` read as `+`.
            let text = match written.strip_prefix("00") {
                Some(rest) => format!("+{rest}"),
                None => written,
            };
            let home = (!text.starts_with('+')).then_some(country);
            let crate_says = by_crate(&text, home);
            if let Fast::Done(found) = e164(&text, home) {
                fast += 1;
                assert_eq!(found, crate_says, "{text:?} in {home:?}");
            }
            checked += 1;
        }
        assert!(
            fast * 10 > checked * 8,
            "fast path took {fast} of {checked}"
        );
    }
}
