//! `[[tests]]` in a mapping file: sample input → expected output or expected error.
//!
//! Only the fields listed in `expect` are compared. Decimals compare by value (`"5000"`
//! equals `"5000.00"` and `5000`), date-times by instant, lines element by element with the
//! same rules, everything else by equality of the JSON values.

use chrono::DateTime;
use serde_json::Value;

use super::convert::decimal;
use super::plan::toml_to_json;
use super::schema::{self, Kind, TargetField};
use super::spec::MappingTest;
use super::{Mapping, TestOutcome};

/// Runs one case.
pub(super) fn run_case(mapping: &Mapping, case: &MappingTest) -> TestOutcome {
    let input = toml_to_json(&case.input);
    let failure = match (mapping.apply(&input), &case.error) {
        (Err(e), Some(wanted)) => {
            let message = e.to_string();
            (!message.contains(wanted.as_str()))
                .then(|| format!("expected an error containing `{wanted}`, got: {message}"))
        }
        (Ok(_), Some(wanted)) => Some(format!(
            "expected an error containing `{wanted}`, but the record mapped"
        )),
        (Err(e), None) => Some(format!("mapping failed: {e}")),
        (Ok(record), None) => {
            let actual = record.to_value();
            let mut problems = Vec::new();
            if let Some(expect) = &case.expect {
                let table = schema::fields(mapping.entity());
                for (key, wanted) in expect {
                    compare(
                        table,
                        key,
                        key,
                        &toml_to_json(wanted),
                        &actual,
                        &mut problems,
                    );
                }
            }
            (!problems.is_empty()).then(|| problems.join("; "))
        }
    };
    TestOutcome {
        name: case.name.clone(),
        failure,
    }
}

/// Compares one expected field of `actual` (an object); pushes a message when they differ.
fn compare(
    table: &'static [TargetField],
    key: &str,
    shown: &str,
    wanted: &Value,
    actual: &Value,
    problems: &mut Vec<String>,
) {
    let Some(target) = schema::find(table, key) else {
        problems.push(format!("field `{shown}`: not a field of the entity"));
        return;
    };
    let got = actual.get(key).unwrap_or(&Value::Null);
    if let (Kind::Lines(sub), Value::Array(want_items), Value::Array(got_items)) =
        (target.kind, wanted, got)
    {
        if want_items.len() != got_items.len() {
            problems.push(format!(
                "field `{shown}`: expected {} lines, got {}",
                want_items.len(),
                got_items.len()
            ));
            return;
        }
        for (i, (w, g)) in want_items.iter().zip(got_items).enumerate() {
            let Value::Object(w) = w else {
                problems.push(format!("field `{shown}[{i}]`: expect a table per line"));
                continue;
            };
            for (k, wv) in w {
                compare(sub, k, &format!("{shown}[{i}].{k}"), wv, g, problems);
            }
        }
        return;
    }
    if !same(target.kind, wanted, got) {
        problems.push(format!(
            "field `{shown}`: expected {}, got {}",
            show(wanted),
            show(got)
        ));
    }
}

fn same(kind: Kind, wanted: &Value, got: &Value) -> bool {
    match kind {
        Kind::Decimal | Kind::Integer => match (decimal(wanted), decimal(got)) {
            (Some(a), Some(b)) => a == b,
            _ => wanted == got,
        },
        Kind::Datetime => match (wanted, got) {
            (Value::String(a), Value::String(b)) => {
                match (
                    DateTime::parse_from_rfc3339(a),
                    DateTime::parse_from_rfc3339(b),
                ) {
                    (Ok(a), Ok(b)) => a == b,
                    _ => a == b,
                }
            }
            _ => wanted == got,
        },
        Kind::Currency => match (wanted, got) {
            (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
            _ => wanted == got,
        },
        _ => wanted == got,
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "nothing".to_string(),
        other => other.to_string(),
    }
}
