//! Cron expressions and time zones as written in connector and settings files.
//!
//! Users write the cron they know: five fields, `minute hour day-of-month month day-of-week`
//! (`30 2 * * *`), or six with a leading seconds field (`0 30 2 * * *`). The `cron` crate wants
//! the six-field form and numbers the days of the week 1 = Sunday … 7 = Saturday, while Unix cron
//! numbers them 0 = Sunday, 1 = Monday … 6 = Saturday, 7 = Sunday again. So an expression is
//! converted once, when the file is read:
//!
//! - a five-field expression gets a seconds field of `0`;
//! - the day-of-week field is always read the Unix way, in both forms: `1-5` and `MON-FRI`
//!   both mean Monday to Friday, `0` and `7` mean Sunday. Each item (`N`, `A-B`, `*/S`, `A-B/S`,
//!   `A/S`, names) is expanded to the days it names and handed to the crate as a list of its
//!   own numbers (`1-5` becomes `2,3,4,5,6`);
//! - `@hourly`, `@daily`, `@weekly`, `@monthly` and `@yearly` are passed through;
//! - restricting both day-of-month and day-of-week is refused: Unix cron runs on either day,
//!   the crate only on days matching both, and a schedule must not mean two things.

use std::fmt;
use std::str::FromStr;

use chrono_tz::Tz;
use serde::{Deserialize, Deserializer};

/// A parsed cron expression, keeping the text the user wrote.
#[derive(Debug, Clone)]
pub struct CronExpr {
    source: String,
    schedule: cron::Schedule,
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl CronExpr {
    /// The expression as written in the file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The converted six-field schedule (seconds first, the crate's day numbers).
    pub fn schedule(&self) -> &cron::Schedule {
        &self.schedule
    }
}

impl fmt::Display for CronExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for CronExpr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let converted = to_crate_form(text)?;
        let schedule = cron::Schedule::from_str(&converted)
            .map_err(|e| format!("`{text}` is not a valid cron expression: {e}"))?;
        Ok(CronExpr {
            source: text.to_string(),
            schedule,
        })
    }
}

impl<'de> Deserialize<'de> for CronExpr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads an IANA time zone name (`UTC`, `Asia/Shanghai`, `Europe/Berlin`).
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.trim().parse::<Tz>().map_err(|_| {
        format!("`{name}` is not an IANA time zone name (e.g. \"UTC\", \"Asia/Shanghai\")")
    })
}

/// `deserialize_with` for a required time zone.
pub fn timezone<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    parse_timezone(&name).map_err(serde::de::Error::custom)
}

/// `deserialize_with` for an optional time zone.
pub fn optional_timezone<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Tz>, D::Error> {
    timezone(d).map(Some)
}

const FIELDS: &str =
    "expected 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)";

/// Converts a user's expression into the six-field form of the `cron` crate.
fn to_crate_form(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.starts_with('@') {
        return Ok(trimmed.to_string());
    }
    let mut fields: Vec<&str> = trimmed.split_whitespace().collect();
    match fields.len() {
        5 => fields.insert(0, "0"),
        6 => {}
        n => return Err(format!("`{text}` has {n} fields; {FIELDS}")),
    }
    let (dom, dow) = (fields[3], fields[5]);
    if !is_any(dom) && !is_any(dow) {
        return Err(format!(
            "`{text}` restricts both day-of-month and day-of-week; classic cron runs on either \
             day, this scheduler only on days matching both: restrict one and write `*` in the other"
        ));
    }
    let dow = if is_any(dow) {
        dow.to_string()
    } else {
        convert_days_of_week(dow).map_err(|e| format!("`{text}`: day-of-week: {e}"))?
    };
    fields[5] = &dow;
    Ok(fields.join(" "))
}

fn is_any(field: &str) -> bool {
    field == "*" || field == "?"
}

/// Expands a Unix day-of-week field into the crate's numbers (1 = Sunday).
fn convert_days_of_week(field: &str) -> Result<String, String> {
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: usize = s
                    .parse()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("`{s}` is not a step (a whole number from 1)"))?;
                (r, step)
            }
            None => (item, 1),
        };
        let (first, last) = match range.split_once('-') {
            _ if range == "*" => (0, 6),
            Some((a, b)) => (day_number(a)?, day_number(b)?),
            // `A/S` runs from A to Saturday.
            None if step > 1 => {
                let d = day_number(range)?;
                (d, d.max(6))
            }
            None => {
                let d = day_number(range)?;
                (d, d)
            }
        };
        if first > last {
            return Err(format!("`{range}` runs backwards"));
        }
        for d in (first..=last).step_by(step) {
            days[d % 7] = true;
        }
    }
    Ok(days
        .iter()
        .enumerate()
        .filter(|(_, on)| **on)
        .map(|(unix, _)| (unix + 1).to_string())
        .collect::<Vec<_>>()
        .join(","))
}

/// A Unix day number (0–7) or an English day name (`MON`, `monday`, any case).
fn day_number(text: &str) -> Result<usize, String> {
    const NAMES: [&str; 7] = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    let lower = text.to_ascii_lowercase();
    let named = NAMES
        .iter()
        .position(|full| lower == *full || lower == full[..3]);
    match (text.parse::<usize>(), named) {
        (Ok(n), _) if n <= 7 => Ok(n),
        (_, Some(i)) => Ok(i),
        _ => Err(format!(
            "`{text}` is not a day (0–7, 0 and 7 = Sunday, or SUN–SAT)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_form(text: &str) -> String {
        to_crate_form(text).unwrap()
    }

    #[test]
    fn five_fields_get_seconds_and_unix_days() {
        assert_eq!(crate_form("30 2 * * *"), "0 30 2 * * *");
        assert_eq!(crate_form("0 8 * * 1-5"), "0 0 8 * * 2,3,4,5,6");
        assert_eq!(crate_form("0 8 * * MON-FRI"), "0 0 8 * * 2,3,4,5,6");
        assert_eq!(crate_form("0 8 * * 0"), "0 0 8 * * 1");
        assert_eq!(crate_form("0 8 * * 7"), "0 0 8 * * 1");
        assert_eq!(crate_form("0 8 * * 5-7"), "0 0 8 * * 1,6,7");
        assert_eq!(crate_form("0 8 * * sat,Sunday"), "0 0 8 * * 1,7");
        assert_eq!(crate_form("0 8 * * */2"), "0 0 8 * * 1,3,5,7");
        assert_eq!(crate_form("0 8 * * 1/2"), "0 0 8 * * 2,4,6");
        assert_eq!(crate_form("15 0 8 * * 1"), "15 0 8 * * 2");
        assert_eq!(crate_form("@daily"), "@daily");
    }

    #[test]
    fn bad_expressions_say_why() {
        for (text, says) in [
            ("30 2 * *", "4 fields"),
            ("0 0 30 2 * * * 2026", "8 fields"),
            ("0 8 * * 8", "not a day"),
            ("0 8 * * FRX", "not a day"),
            ("0 8 * * 5-1", "backwards"),
            ("0 8 * * */0", "not a step"),
            ("0 8 1 * 1", "both day-of-month and day-of-week"),
            ("61 * * * *", "not a valid cron expression"),
        ] {
            let e = text.parse::<CronExpr>().unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(parse_timezone("Asia/Shanghai").unwrap(), Tz::Asia__Shanghai);
        assert!(parse_timezone("Mars/Olympus").unwrap_err().contains("IANA"));
    }
}
