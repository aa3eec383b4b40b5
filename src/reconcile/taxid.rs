//! Tax identifiers: the Chinese Unified Social Credit Code, EU VAT numbers and US EINs.
//!
//! [`parse`] normalises what a source holds (full-width → half-width, spaces, dashes and dots
//! dropped, upper-case) and classifies it. Only a USCC carries a check character that is
//! verified here; VAT numbers are checked by their country's format and EINs by format and
//! IRS prefix. Two records with the same *valid* [`TaxId`] are the same legal entity.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use thiserror::Error;

use super::normalize::to_half_width;

/// Which scheme a tax identifier belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxIdKind {
    /// Chinese Unified Social Credit Code (GB 32100-2015), 18 characters.
    Uscc,
    /// EU VAT identification number with its country prefix.
    EuVat,
    /// US Employer Identification Number.
    UsEin,
}

impl TaxIdKind {
    /// Short name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaxIdKind::Uscc => "uscc",
            TaxIdKind::EuVat => "eu_vat",
            TaxIdKind::UsEin => "us_ein",
        }
    }
}

/// A valid tax identifier in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxId {
    /// Its scheme.
    pub kind: TaxIdKind,
    /// Canonical text: USCC upper-case, VAT with its prefix (`DE123456789`), EIN `NN-NNNNNNN`.
    pub value: String,
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// Why a tax identifier is not valid.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TaxIdError {
    /// Nothing left after normalisation.
    #[error("empty tax identifier")]
    Empty,
    /// A USCC-shaped code whose check character is wrong.
    #[error("USCC `{value}`: check character should be `{expected}`")]
    UsccCheck {
        /// The normalised code.
        value: String,
        /// The check character its first 17 characters give.
        expected: char,
    },
    /// An EIN-shaped number with a prefix the IRS does not assign.
    #[error("EIN `{0}`: prefix is not assigned by the IRS")]
    EinPrefix(String),
    /// None of the known schemes.
    #[error("`{0}` is not a USCC, EU VAT number or EIN")]
    Unrecognised(String),
}

/// The 31 characters of a USCC (the Latin alphabet without I, O, Z, S and V), in value order.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character of a USCC from its first 17 characters (weights 3^i mod 31), or
/// `None` when `first17` is not 17 characters of the USCC alphabet.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut weight = 1u32;
    let mut sum = 0u32;
    for &b in bytes {
        sum += uscc_value(b)? * weight;
        weight = weight * 3 % 31;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_ALPHABET[check as usize] as char)
}

/// Strips spaces, dashes, dots and slashes, maps full-width to half-width and upper-cases.
pub fn normalize_tax_id(raw: &str) -> String {
    to_half_width(raw)
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '.' | '/' | '–' | '—'))
        .collect::<String>()
        .to_uppercase()
}

/// EU VAT formats by country prefix (the part after the prefix).
static VAT_FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("AT", r"U\d{8}"),
        ("BE", r"[01]\d{9}"),
        ("BG", r"\d{9,10}"),
        ("CY", r"\d{8}[A-Z]"),
        ("CZ", r"\d{8,10}"),
        ("DE", r"\d{9}"),
        ("DK", r"\d{8}"),
        ("EE", r"\d{9}"),
        ("EL", r"\d{9}"),
        ("ES", r"[A-Z0-9]\d{7}[A-Z0-9]"),
        ("FI", r"\d{8}"),
        ("FR", r"[A-HJ-NP-Z0-9]{2}\d{9}"),
        ("HR", r"\d{11}"),
        ("HU", r"\d{8}"),
        ("IE", r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}"),
        ("IT", r"\d{11}"),
        ("LT", r"\d{9}|\d{12}"),
        ("LU", r"\d{8}"),
        ("LV", r"\d{11}"),
        ("MT", r"\d{8}"),
        ("NL", r"\d{9}B\d{2}"),
        ("PL", r"\d{10}"),
        ("PT", r"\d{9}"),
        ("RO", r"[1-9]\d{1,9}"),
        ("SE", r"\d{10}01"),
        ("SI", r"\d{8}"),
        ("SK", r"\d{10}"),
        ("XI", r"\d{9}|\d{12}|GD\d{3}|HA\d{3}"),
    ]
    .into_iter()
    .map(|(cc, body)| {
        let re = Regex::new(&format!("^(?:{body})$")).expect("VAT patterns are valid");
        (cc, re)
    })
    .collect()
});

/// EIN prefixes the IRS does not assign.
const EIN_UNASSIGNED: &[u8] = &[
    0, 7, 8, 9, 17, 18, 19, 28, 29, 49, 69, 70, 78, 79, 89, 96, 97,
];

/// Normalises and classifies a tax identifier.
pub fn parse(raw: &str) -> Result<TaxId, TaxIdError> {
    let v = normalize_tax_id(raw);
    if v.is_empty() {
        return Err(TaxIdError::Empty);
    }
    let b = v.as_bytes();
    // USCC: 18 characters of its alphabet.
    if b.len() == 18 && b.iter().all(|&c| uscc_value(c).is_some()) {
        let expected = uscc_check_char(&v[..17]).expect("17 USCC characters");
        return if b[17] as char == expected {
            Ok(TaxId {
                kind: TaxIdKind::Uscc,
                value: v,
            })
        } else {
            Err(TaxIdError::UsccCheck { value: v, expected })
        };
    }
    // EIN: nine digits.
    if b.len() == 9 && b.iter().all(u8::is_ascii_digit) {
        let prefix = (b[0] - b'0') * 10 + (b[1] - b'0');
        return if EIN_UNASSIGNED.contains(&prefix) {
            Err(TaxIdError::EinPrefix(v))
        } else {
            Ok(TaxId {
                kind: TaxIdKind::UsEin,
                value: format!("{}-{}", &v[..2], &v[2..]),
            })
        };
    }
    // EU VAT: a known country prefix and its format. Greece is also written GR.
    if v.len() > 2 && v.is_char_boundary(2) {
        let (cc, body) = v.split_at(2);
        let cc = if cc == "GR" { "EL" } else { cc };
        if let Some((_, re)) = VAT_FORMATS.iter().find(|(c, _)| *c == cc)
            && re.is_match(body)
        {
            return Ok(TaxId {
                kind: TaxIdKind::EuVat,
                value: format!("{cc}{body}"),
            });
        }
    }
    Err(TaxIdError::Unrecognised(v))
}

/// The valid tax ID in `raw`, if any (for matching, where an invalid one is just absent).
pub fn valid(raw: Option<&str>) -> Option<TaxId> {
    raw.and_then(|r| parse(r).ok())
}
