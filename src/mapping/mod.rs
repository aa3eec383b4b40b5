//! The declarative mapping language: source record → canonical record.
//!
//! A [`MappingSpec`] (parsed from a mapping file) is compiled once into a [`Mapping`]: paths
//! are parsed, regexes and jq filters compiled, lookups resolved and the target fields checked
//! against the entity. [`Mapping::apply`] then maps one record without further parsing and
//! never does I/O. A failure names the field, the value and the reason.
//!
//! The language itself (sources, empty values, transforms, lookups, types) is described in
//! [`spec`]. The engine is split by job: [`spec`] (the file format), [`schema`] (target fields
//! per entity), `path` (source paths), `template`, `expr` (jq via jaq), `transform`, `convert`
//! (empty values and typing), `plan` (the compiled plan) and `tests_runner` (`[[tests]]`).

mod convert;
mod expr;
mod path;
mod plan;
pub mod schema;
pub mod spec;
mod template;
mod tests_runner;
mod transform;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use thiserror::Error;

use crate::model::{CanonicalRecord, Entity, ModelError};
use plan::{At, FieldPlan, Lookup, Scope};
pub use spec::MappingSpec;

/// The mapping file itself is wrong (found when compiling).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("field `{field}`: {reason}")]
pub struct CompileError {
    /// The target field whose spec is wrong (dotted for `each` sub-fields, e.g. `lines.sku`).
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

/// A record could not be mapped.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("field `{field}`: {reason}{}", value.as_ref().map(|v| format!(" (value: {v})")).unwrap_or_default())]
pub struct MappingError {
    /// The target field.
    pub field: String,
    /// The offending source value, shortened for display.
    pub value: Option<String>,
    /// Why it failed.
    pub reason: String,
}

/// Outcome of one mapping test case.
#[derive(Debug, Clone, PartialEq)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// `None` = passed; otherwise why it failed.
    pub failure: Option<String>,
}

/// A compiled mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    entity: Entity,
    /// One plan per mapped field, in the model's field order.
    plans: Vec<FieldPlan>,
    /// Index of the `source_key` plan in `plans`.
    key: Option<usize>,
}

impl Mapping {
    /// Compiles a parsed mapping file: paths, templates, regexes and jq programs are parsed,
    /// lookups resolved, every target field checked against the entity, and the fields the
    /// entity cannot do without checked to be mapped.
    pub fn compile(spec: &MappingSpec) -> Result<Mapping, CompileError> {
        let lookups: BTreeMap<String, Arc<Lookup>> = spec
            .lookups
            .iter()
            .map(|(name, table)| (name.clone(), Arc::new(Lookup::new(name, table))))
            .collect();
        let plans = plan::compile_fields(
            &spec.fields,
            schema::fields(spec.entity),
            &lookups,
            "",
            spec.entity.as_str(),
        )?;
        let key = plans.iter().position(|p| p.name == "source_key");
        Ok(Mapping {
            entity: spec.entity,
            plans,
            key,
        })
    }

    /// The entity it produces.
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// Maps one source record.
    pub fn apply(&self, record: &Value) -> Result<CanonicalRecord, MappingError> {
        let object = plan::build(&self.plans, &Scope::new(record), At::Top)?;
        CanonicalRecord::from_value(self.entity, Value::Object(object)).map_err(shape_error)
    }

    /// Best effort: the record's `source_key` even when the full mapping fails (for quarantine).
    pub fn key_of(&self, record: &Value) -> Option<String> {
        let plan = &self.plans[self.key?];
        match plan.eval(&Scope::new(record), At::Top) {
            Ok(Some(Value::String(s))) => Some(s),
            _ => None,
        }
    }

    /// Runs the spec's own test cases against this compiled mapping.
    pub fn run_tests(&self, spec: &MappingSpec) -> Vec<TestOutcome> {
        spec.tests
            .iter()
            .map(|case| tests_runner::run_case(self, case))
            .collect()
    }
}

/// A model shape error as a mapping error, naming the field when serde does.
fn shape_error(e: ModelError) -> MappingError {
    let text = e.to_string();
    let field = text
        .split('`')
        .nth(1)
        .filter(|_| text.contains("field `"))
        .unwrap_or("record")
        .to_string();
    MappingError {
        field,
        value: None,
        reason: text,
    }
}
