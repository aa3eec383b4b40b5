//! Survivorship: which source record gives each field of the golden record.
//!
//! Per field, only records with a non-empty value compete (null, or text that is blank, is
//! empty). Among them the winner is the record whose source comes first in
//! [`Survivorship::source_priority`] (unlisted sources rank after listed ones, all equal), then
//! the most recently updated (`updated_at`; unknown ranks last), then the smallest
//! (source, key) so that the result never depends on input order. `credit_limit` and
//! `currency` travel together: both come from the best record that has a limit. Each chosen
//! value has its lineage `{"source", "key", "run"}`; a field that every record leaves empty is
//! null in the golden record and has no lineage.

use std::cmp::Reverse;

use serde_json::{Map, Value, json};

use super::SourceCustomer;

/// Settings of survivorship.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Survivorship {
    /// Connector names, most trusted first; a value from an earlier source wins. Sources not
    /// listed rank after the listed ones; ties go to the most recently updated record.
    pub source_priority: Vec<String>,
}

/// A golden record with its lineage.
#[derive(Debug, Clone, PartialEq)]
pub struct Golden {
    /// Canonical customer fields.
    pub golden: Value,
    /// Per non-empty golden field: `{"source", "key", "run"}` of the record it came from.
    pub lineage: Value,
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn lineage_of(r: &SourceCustomer) -> Value {
    json!({"source": r.source, "key": r.customer.source_key, "run": r.run})
}

/// Builds the golden record of a cluster. `members` must not be empty.
pub fn golden_record(members: &[&SourceCustomer], rules: &Survivorship) -> Golden {
    let rank = |r: &SourceCustomer| {
        rules
            .source_priority
            .iter()
            .position(|s| *s == r.source)
            .unwrap_or(rules.source_priority.len())
    };
    let mut ranked: Vec<(&SourceCustomer, Map<String, Value>)> = members
        .iter()
        .map(|r| {
            let fields = match serde_json::to_value(&r.customer) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            (*r, fields)
        })
        .collect();
    ranked.sort_by_key(|(r, _)| {
        (
            rank(r),
            r.customer.updated_at.is_none(),
            Reverse(r.customer.updated_at),
            r.source.clone(),
            r.customer.source_key.clone(),
        )
    });

    let mut golden = Map::new();
    let mut lineage = Map::new();
    // Every field any member writes (optional fields are left out of records without them).
    let mut field_names: Vec<String> = Vec::new();
    for (_, m) in &ranked {
        for k in m.keys() {
            if !field_names.contains(k) {
                field_names.push(k.clone());
            }
        }
    }
    let limit_holder = ranked
        .iter()
        .find(|(_, m)| m.get("credit_limit").is_some_and(|v| !is_empty(v)));
    for field in field_names {
        let chosen = if field == "credit_limit" || field == "currency" {
            limit_holder.or_else(|| {
                ranked
                    .iter()
                    .find(|(_, m)| m.get(&field).is_some_and(|v| !is_empty(v)))
            })
        } else {
            ranked
                .iter()
                .find(|(_, m)| m.get(&field).is_some_and(|v| !is_empty(v)))
        };
        match chosen {
            Some((r, m)) if m.get(&field).is_some_and(|v| !is_empty(v)) => {
                golden.insert(field.clone(), m[&field].clone());
                lineage.insert(field, lineage_of(r));
            }
            _ => {
                golden.insert(field, Value::Null);
            }
        }
    }
    Golden {
        golden: Value::Object(golden),
        lineage: Value::Object(lineage),
    }
}
