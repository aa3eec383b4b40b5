//! The declarative mapping language: source record → canonical record.
//!
//! A [`MappingSpec`] (parsed from a mapping file) is compiled once into a [`Mapping`]: paths
//! are parsed, regexes and jq filters compiled, lookups resolved and the target fields checked
//! against the entity. [`Mapping::apply`] then maps one record without further parsing and
//! never does I/O. A failure names the field, the value and the reason.

pub mod spec;

use serde_json::Value;
use thiserror::Error;

use crate::model::{CanonicalRecord, Entity};
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
}

impl Mapping {
    /// Compiles a parsed mapping file.
    pub fn compile(_spec: &MappingSpec) -> Result<Mapping, CompileError> {
        todo!("mapping compile")
    }

    /// The entity it produces.
    pub fn entity(&self) -> Entity {
        self.entity
    }

    /// Maps one source record.
    pub fn apply(&self, _record: &Value) -> Result<CanonicalRecord, MappingError> {
        todo!("mapping apply")
    }

    /// Best effort: the record's `source_key` even when the full mapping fails (for quarantine).
    pub fn key_of(&self, _record: &Value) -> Option<String> {
        todo!("mapping key_of")
    }

    /// Runs the spec's own test cases against this compiled mapping.
    pub fn run_tests(&self, _spec: &MappingSpec) -> Vec<TestOutcome> {
        todo!("mapping tests")
    }
}
