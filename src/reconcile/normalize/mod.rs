//! Normalisation of names, phones, e-mails, addresses, postal codes and countries for matching.
//!
//! Normalised values are match keys, never shown: they lose case, punctuation, spacing and
//! legal-form suffixes so that "Feiyue Technology Co., Ltd." and "FEIYUE TECHNOLOGY" meet.
//! Every function here is pure and total: bad input gives `None` or an empty result, never a
//! panic.
//!
//! - `name.rs`: legal names ([`normalize_name`]) and their similarity tokens ([`name_tokens`]).
//! - `phone.rs`: E.164 phone numbers ([`normalize_phone`]).
//! - `email.rs`: e-mail addresses ([`normalize_email`], [`email_domain`]).
//! - `address.rs`: street-address tokens ([`address_tokens`]).
//! - `postcode.rs`: postal codes, generic and per country ([`normalize_postcode`],
//!   [`normalize_postcode_for`]).
//! - `country.rs`: ISO 3166-1 alpha-2 codes ([`normalize_country`]).

mod address;
mod country;
mod email;
mod geo;
mod name;
mod phone;
mod phone_fast;
mod places;
mod postcode;

pub use address::address_tokens;
pub use country::normalize_country;
pub use email::{
    corporate_domains, email_domain, is_free_mail, normalize_email, registrable_domain,
    website_domain,
};
pub use geo::{Place, parse_place, place_in_name, place_of_phone, place_of_postcode};
pub use name::{is_branch_name, name_tokens, normalize_name};
pub use phone::normalize_phone;
pub use postcode::{normalize_postcode, normalize_postcode_for};

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

/// Whether `c` is written without spaces between words: Han ideographs, Japanese kana and
/// Korean Hangul. Such text is split into characters or bigrams rather than words.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'      // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}'    // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}'    // CJK Unified Ideographs
        | '\u{AC00}'..='\u{D7AF}'    // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'    // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{3134F}') // CJK Extensions B–G
}

/// Half-width, lower-case `s` with apostrophes and dots removed (so "S.A." is `sa` and
/// "O'Neil" is `oneil`) and every other non-alphanumeric character turned into a space;
/// spaces between two CJK characters are dropped, since such text has no word spaces.
fn clean_words(s: &str) -> String {
    let cleaned: String = to_half_width(s)
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, '.' | '\'' | '’'))
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut out = String::with_capacity(cleaned.len());
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            let prev_cjk = words[i - 1].chars().next_back().is_some_and(is_cjk);
            let next_cjk = w.chars().next().is_some_and(is_cjk);
            if !(prev_cjk && next_cjk) {
                out.push(' ');
            }
        }
        out.push_str(w);
    }
    out
}
