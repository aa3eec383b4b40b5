//! Schema drift: fields a source started or stopped sending.
//!
//! Each run collects the field paths of the raw records it read (`partner.id`, `order_line[].qty`)
//! and compares them with every field the stream carried before. Drift is reported, never acted
//! on: unknown fields stay in the raw payload, and a record that lacks a field its mapping
//! requires is quarantined by the mapping with the reason.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

/// How deep nested objects are walked.
const MAX_DEPTH: usize = 4;
/// At most this many distinct paths are tracked per stream and run.
const MAX_FIELDS: usize = 1000;

/// Field paths collected over the records of one stream in one run.
#[derive(Debug, Clone, Default)]
pub struct FieldSet {
    fields: BTreeSet<String>,
}

impl FieldSet {
    /// Adds the field paths of one raw record.
    pub fn add(&mut self, payload: &Value) {
        self.walk(payload, String::new(), 0);
    }

    fn walk(&mut self, value: &Value, prefix: String, depth: usize) {
        match value {
            Value::Object(map) if depth < MAX_DEPTH => {
                for (key, child) in map {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    if self.fields.len() >= MAX_FIELDS && !self.fields.contains(&path) {
                        return;
                    }
                    self.fields.insert(path.clone());
                    self.walk(child, path, depth + 1);
                }
            }
            Value::Array(items) if depth < MAX_DEPTH && !prefix.is_empty() => {
                for item in items.iter().filter(|i| i.is_object()) {
                    self.walk(item, format!("{prefix}[]"), depth + 1);
                }
            }
            _ => {}
        }
    }

    /// The paths collected.
    pub fn fields(&self) -> &BTreeSet<String> {
        &self.fields
    }

    /// Compares with the fields known from earlier runs. With nothing known (a stream's first
    /// run) there is no drift.
    pub fn drift(&self, known: &BTreeSet<String>) -> Drift {
        if known.is_empty() || self.fields.is_empty() {
            return Drift::default();
        }
        Drift {
            added: self.fields.difference(known).cloned().collect(),
            missing: known.difference(&self.fields).cloned().collect(),
        }
    }
}

/// Fields that appeared or did not appear in a run, compared with earlier runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Fields never seen before in this stream.
    pub added: Vec<String>,
    /// Fields seen in earlier runs but in none of this run's records (renamed, removed, or
    /// simply empty in the records this run read).
    pub missing: Vec<String>,
}

impl Drift {
    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.missing.is_empty()
    }
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!("new fields: {}", self.added.join(", ")));
        }
        if !self.missing.is_empty() {
            parts.push(format!("not seen this run: {}", self.missing.join(", ")));
        }
        f.write_str(&parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set(records: &[Value]) -> FieldSet {
        let mut s = FieldSet::default();
        for r in records {
            s.add(r);
        }
        s
    }

    #[test]
    fn nested_objects_and_arrays_of_objects_give_dotted_paths() {
        let s = set(&[
            json!({"id": 1, "partner": {"id": 7}, "lines": [{"qty": "1"}, {"sku": "A"}], "tags": ["x"]}),
        ]);
        let got: Vec<&str> = s.fields().iter().map(String::as_str).collect();
        assert_eq!(
            got,
            [
                "id",
                "lines",
                "lines[].qty",
                "lines[].sku",
                "partner",
                "partner.id",
                "tags"
            ]
        );
    }

    #[test]
    fn first_run_has_no_drift_and_later_runs_report_added_and_missing_fields() {
        let first = set(&[json!({"id": 1, "name": "A", "vat": "X"})]);
        assert!(first.drift(&BTreeSet::new()).is_empty());
        let known = first.fields().clone();
        let second = set(&[json!({"id": 2, "name": "B", "tax_id": "X"})]);
        let d = second.drift(&known);
        assert_eq!(d.added, ["tax_id"]);
        assert_eq!(d.missing, ["vat"]);
        assert_eq!(d.to_string(), "new fields: tax_id; not seen this run: vat");
    }

    #[test]
    fn a_run_that_read_nothing_reports_no_drift() {
        let known: BTreeSet<String> = ["id".to_string()].into();
        assert!(FieldSet::default().drift(&known).is_empty());
    }
}
