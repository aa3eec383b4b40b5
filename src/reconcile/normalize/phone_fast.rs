//! The fast path of [`super::normalize_phone`]: numbers written as digits and plain separators
//! (spaces, `-`, `.`, `/`, brackets), with or without a leading `+`, read by the same steps and
//! the same metadata as the `phonenumber` crate — country code, international and national
//! prefixes, carrier codes, possible lengths, the validity patterns of each number type.
//!
//! The crate is correct but slow for bulk work: every pattern match goes through one
//! process-wide regex cache behind a mutex (and re-parses the text with a general grammar),
//! about 25 µs a number with the threads taking turns. Here each country's patterns are compiled
//! once, on first use, into plain [`Regex`]es that every thread matches without a lock. Anything
//! outside this narrow input shape (extensions, letters, `tel:` parameters, an international
//! dialling prefix other than `00`, non-geographic codes) is left to the crate: the result is
//! [`Fast::Unsure`] and the caller asks the crate. A test compares both paths on many numbers.

use std::collections::HashMap;
use std::sync::OnceLock;

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// What the fast path found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fast {
    /// The E.164 form, or `None` for a number the crate also refuses.
    Done(Option<String>),
    /// Not a shape the fast path reads; ask the crate.
    Unsure,
}

/// Shortest and longest national significant number the crate accepts.
const NSN_LENGTHS: std::ops::RangeInclusive<usize> = 2..=17;

/// A metadata pattern compiled the crate's way (whitespace in the pattern ignored), anchored at
/// the start: the crate accepts a match only where it starts at the first digit, and a
/// leftmost-first search finds one there exactly when an anchored search does.
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern})"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

/// One number-type pattern with its possible lengths.
struct Pattern {
    regex: Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn of(d: &Descriptor) -> Option<Self> {
        Some(Pattern {
            regex: anchored(d.national_number().as_str())?,
            lengths: d.possible_length().to_vec(),
        })
    }

    /// A possible length (when any are listed) and the pattern matching from the start.
    fn matches(&self, digits: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(digits.len() as u16)))
            && self.regex.is_match(digits)
    }
}

/// How a national number's length compares with the country's possible lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Length {
    Possible,
    TooShort,
    Impossible,
}

/// A country's metadata, compiled.
struct Region {
    code: u16,
    national_prefix: Option<String>,
    /// National prefix (and carrier code) for parsing, with its transform rule.
    parsing: Option<(Regex, Option<String>)>,
    international: Option<Regex>,
    leading: Option<Regex>,
    general: Pattern,
    general_lengths: Vec<u16>,
    local_lengths: Vec<u16>,
    /// Every type a valid number may be of (fixed line, mobile, toll free, …).
    types: Vec<Pattern>,
}

impl Region {
    fn compile(m: &Metadata) -> Option<Self> {
        let d = m.descriptors();
        let types = [
            d.premium_rate(),
            d.toll_free(),
            d.shared_cost(),
            d.voip(),
            d.personal_number(),
            d.pager(),
            d.uan(),
            d.voicemail(),
            d.fixed_line(),
            d.mobile(),
        ];
        let optional = |pattern: Option<&str>| match pattern {
            Some(p) => anchored(p).map(Some),
            None => Some(None),
        };
        Some(Region {
            code: m.country_code(),
            national_prefix: m.national_prefix().map(String::from),
            parsing: optional(m.national_prefix_for_parsing().map(|r| r.as_str()))?
                .map(|re| (re, m.national_prefix_transform_rule().map(String::from))),
            international: optional(m.international_prefix().map(|r| r.as_str()))?,
            leading: optional(m.leading_digits().map(|r| r.as_str()))?,
            general: Pattern::of(d.general())?,
            general_lengths: d.general().possible_length().to_vec(),
            local_lengths: d.general().possible_local_length().to_vec(),
            types: types
                .into_iter()
                .flatten()
                .map(Pattern::of)
                .collect::<Option<_>>()?,
        })
    }

    /// Valid: the general pattern and the pattern of some number type match.
    fn valid(&self, national: &str) -> bool {
        self.general.matches(national) && self.types.iter().any(|t| t.matches(national))
    }

    fn length(&self, national: &str) -> Length {
        let n = national.len() as u16;
        let Some(&min) = self.general_lengths.first() else {
            return Length::Impossible;
        };
        if self.local_lengths.contains(&n) || self.general_lengths.contains(&n) {
            Length::Possible
        } else if n < min {
            Length::TooShort
        } else {
            Length::Impossible
        }
    }

    /// The national number without its national prefix or carrier code.
    fn national_number(&self, national: &str) -> String {
        let Some((re, transform)) = &self.parsing else {
            return self.strip_national_prefix(national).to_string();
        };
        let Some(caps) = re.captures(national) else {
            return national.to_string();
        };
        let last = caps.get(caps.len() - 1);
        match transform {
            Some(rule) if last.is_some() => {
                let transformed = re.replace(national, rule.as_str()).into_owned();
                if self.general.matches(national) && !self.general.matches(&transformed) {
                    national.to_string()
                } else {
                    transformed
                }
            }
            _ => national[caps.get(0).map_or(0, |m| m.end())..].to_string(),
        }
    }

    fn strip_national_prefix<'a>(&self, national: &'a str) -> &'a str {
        match &self.national_prefix {
            Some(p) => national.strip_prefix(p.as_str()).unwrap_or(national),
            None => national,
        }
    }
}

/// Compiled regions by ISO code, each compiled on first use.
fn regions() -> &'static HashMap<&'static str, OnceLock<Option<Region>>> {
    static REGIONS: OnceLock<HashMap<&'static str, OnceLock<Option<Region>>>> = OnceLock::new();
    REGIONS.get_or_init(|| {
        DATABASE
            .iter()
            .filter(|m| m.id() != "001")
            .map(|m| (m.id(), OnceLock::new()))
            .collect()
    })
}

/// The compiled region of an ISO code (`None` for unknown codes and non-geographic entities).
fn region(id: &str) -> Option<&'static Region> {
    regions()
        .get(id)?
        .get_or_init(|| DATABASE.by_id(id).and_then(Region::compile))
        .as_ref()
}

/// Where a number of calling code `code` belongs, as the crate decides it: the only region of
/// the code, or the first whose leading digits (or, without those, whose number types) fit.
/// `Err(())` for non-geographic codes, which the fast path leaves to the crate.
fn region_for(code: u16, national: &str) -> Result<Option<&'static Region>, ()> {
    let Some(ids) = DATABASE.region(&code) else {
        return Ok(None);
    };
    if ids.contains(&"001") {
        return Err(());
    }
    if let [id] = ids.as_slice() {
        return Ok(region(id));
    }
    for id in ids {
        let Some(r) = region(id) else { return Err(()) };
        let fits = match &r.leading {
            Some(re) => re.is_match(national),
            None => r.valid(national),
        };
        if fits {
            return Ok(Some(r));
        }
    }
    Ok(None)
}

/// The E.164 form of `text` (already half-width, trimmed, `tel:` and a leading `00` turned into
/// `+`), read in `country` (an ISO code) when it has no `+`.
pub(super) fn e164(text: &str, country: Option<&str>) -> Fast {
    let (plus, body) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let plain = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '/' | '(' | ')');
    if !body.chars().all(plain) || !body.ends_with(|c: char| c.is_ascii_digit()) {
        return Fast::Unsure;
    }
    let digits: String = body.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 3 {
        return Fast::Unsure;
    }
    let read = if plus {
        international(body, &digits)
    } else {
        match country.and_then(region) {
            Some(r) => national(&digits, r),
            None => return Fast::Unsure,
        }
    };
    match read {
        Ok(found) => Fast::Done(found),
        Err(()) => Fast::Unsure,
    }
}

/// Digits after a `+`: the calling code (the first of one to three digits the metadata knows),
/// then the national number. Written without spaces but with a separator, the text reads as
/// RFC 3966 (as the crate reads it): the code is everything before the first separator.
fn international(body: &str, digits: &str) -> Result<Option<String>, ()> {
    let known = |code: u16| DATABASE.by_code(&code).is_some();
    if let Some(i) = body.find(['-', '.', '(', ')']).filter(|&i| i > 0)
        && !body.contains(' ')
    {
        if body.contains('/') {
            return Err(());
        }
        let rest: String = body[i..].chars().filter(char::is_ascii_digit).collect();
        if rest.len() < 3 {
            return Err(());
        }
        return match body[..i].parse::<u16>() {
            Ok(code) if known(code) => {
                finish(code, &rest, region_for(code, rest.trim_start_matches('0'))?)
            }
            _ => Ok(None),
        };
    }
    if digits.starts_with('0') {
        return Ok(None);
    }
    let Some((code, rest)) = (1..=3).find_map(|len| {
        let code: u16 = digits[..len].parse().ok()?;
        known(code).then(|| (code, &digits[len..]))
    }) else {
        return Ok(None);
    };
    finish(code, rest, region_for(code, rest.trim_start_matches('0'))?)
}

/// Digits without a `+`, in `r`: an international dialling prefix is left to the crate; a
/// leading calling code of `r` is dropped when the number does not fit `r` with it.
fn national(digits: &str, r: &'static Region) -> Result<Option<String>, ()> {
    if let Some(m) = r.international.as_ref().and_then(|re| re.find(digits))
        && !digits[m.end()..].starts_with('0')
    {
        return Err(());
    }
    let code = r.code.to_string();
    let national = match digits.strip_prefix(code.as_str()) {
        Some(rest) if !r.general.matches(digits) || r.length(digits) != Length::Possible => rest,
        _ => digits,
    };
    finish(r.code, national, Some(r))
}

/// National prefix and carrier code removed (unless that leaves too few digits), the length
/// checked, the number validated in the region its code and digits point to.
fn finish(code: u16, national: &str, meta: Option<&'static Region>) -> Result<Option<String>, ()> {
    let mut national = national.to_string();
    if let Some(r) = meta {
        let stripped = r.national_number(&national);
        let stripped = r.strip_national_prefix(&stripped);
        if r.length(stripped) != Length::TooShort {
            national = stripped.to_string();
        }
    }
    let significant = national.trim_start_matches('0');
    if !NSN_LENGTHS.contains(&national.len())
        || significant.is_empty()
        || significant.parse::<u64>().map_or(true, |v| v >= 1 << 56)
    {
        return Ok(None);
    }
    let valid = region_for(code, &national)?.is_some_and(|r| r.valid(&national));
    Ok(valid.then(|| format!("+{code}{national}")))
}
