//! Postal codes, generic and per country.

use super::{normalize_country, to_half_width};

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

/// The postal code in its country's canonical form; `country` is an ISO alpha-2 code or a
/// name [`normalize_country`] knows.
///
/// - CN: 6 digits.
/// - US: the 5-digit ZIP (ZIP+4 is cut to its ZIP).
/// - DE: 5 digits.
/// - GB: outward and inward code, upper-case, one space between (`SW1A 1AA`).
/// - NL: 4 digits (not starting with 0) and 2 letters, no space (`1012AB`).
///
/// For US and DE a code one leading zero short (`2134`, `1067`, as spreadsheets leave them)
/// gets it back. A code that does not fit its country's rule is `None`; any other or no
/// country gives the generic [`normalize_postcode`] form.
pub fn normalize_postcode_for(code: &str, country: Option<&str>) -> Option<String> {
    let generic = normalize_postcode(code)?;
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let digits_of_len = |s: &str, n: usize| (s.len() == n && all_digits(s)).then(|| s.to_string());
    let padded = |s: &str, n: usize| {
        if s.len() + 1 == n && all_digits(s) {
            Some(format!("0{s}"))
        } else {
            digits_of_len(s, n)
        }
    };
    match country.and_then(normalize_country).as_deref() {
        Some("CN") => digits_of_len(&generic, 6),
        Some("DE") => padded(&generic, 5),
        Some("US") => {
            let zip = match generic.split_once('-') {
                Some((zip, plus4)) if plus4.len() == 4 && all_digits(plus4) => zip,
                Some(_) => return None,
                None if generic.len() == 9 && all_digits(&generic) => &generic[..5],
                None => &generic,
            };
            padded(zip, 5)
        }
        Some("GB") => uk_postcode(&generic),
        Some("NL") => {
            let (digits, letters) = generic.split_at_checked(4)?;
            (all_digits(digits)
                && !digits.starts_with('0')
                && letters.len() == 2
                && letters.bytes().all(|b| b.is_ascii_uppercase()))
            .then_some(generic)
        }
        _ => Some(generic),
    }
}

/// A UK postcode with its single space (`SW1A 1AA`): an outward code of a letter or two, a
/// digit and an optional letter or digit, and an inward code of a digit and two letters.
fn uk_postcode(s: &str) -> Option<String> {
    let (outward, inward) = s.split_at_checked(s.len().checked_sub(3)?)?;
    let b = outward.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    let outward_ok = (1..=2).contains(&letters)
        && b.get(letters).is_some_and(u8::is_ascii_digit)
        && b.len() <= letters + 2
        && b[letters..].iter().all(u8::is_ascii_alphanumeric);
    let i = inward.as_bytes();
    let inward_ok =
        i.len() == 3 && i[0].is_ascii_digit() && i[1..].iter().all(u8::is_ascii_uppercase);
    (outward_ok && inward_ok).then(|| format!("{outward} {inward}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_follow_their_country_rules() {
        for (input, country, expected) in [
            ("518000", Some("CN"), Some("518000")),
            ("５１８ ０００", Some("China"), Some("518000")),
            ("51800", Some("CN"), None),
            ("518000A", Some("CN"), None),
            ("94043", Some("US"), Some("94043")),
            ("94043-1351", Some("US"), Some("94043")),
            ("940431351", Some("US"), Some("94043")),
            ("2134", Some("USA"), Some("02134")),
            ("9404", Some("US"), Some("09404")),
            ("94043-13", Some("US"), None),
            ("ABCDE", Some("US"), None),
            ("10115", Some("DE"), Some("10115")),
            ("1067", Some("Deutschland"), Some("01067")),
            ("101155", Some("DE"), None),
            ("sw1a1aa", Some("GB"), Some("SW1A 1AA")),
            (" SW1A  1AA ", Some("UK"), Some("SW1A 1AA")),
            ("m1 1ae", Some("GB"), Some("M1 1AE")),
            ("EC1A 1BB", Some("GB"), Some("EC1A 1BB")),
            ("B33 8TH", Some("GB"), Some("B33 8TH")),
            ("12345", Some("GB"), None),
            ("SW1A", Some("GB"), None),
            ("1012 ab", Some("NL"), Some("1012AB")),
            ("1012AB", Some("Netherlands"), Some("1012AB")),
            ("0123 AB", Some("NL"), None),
            ("1012 A1", Some("NL"), None),
            ("75008", Some("FR"), Some("75008")),
            ("a-1234 x", None, Some("A-1234X")),
            ("  ", Some("CN"), None),
        ] {
            assert_eq!(
                normalize_postcode_for(input, country).as_deref(),
                expected,
                "{input:?} in {country:?}"
            );
        }
    }
}
