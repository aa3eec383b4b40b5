//! The mapping file format (`mappings/<name>.toml`).
//!
//! ```toml
//! entity = "customer"
//!
//! [fields.source_key]
//! path = "id"
//! required = true
//!
//! [fields.name]
//! path = "name"
//! transforms = ["trim", "collapse_whitespace"]
//!
//! [fields.credit_limit]
//! path = "credit.limit"
//! type = "decimal"
//!
//! [[tests]]
//! name = "a plain customer"
//! input = { id = 7, name = " ACME  Ltd ", credit = { limit = "5000" } }
//! expect = { source_key = "7", name = "ACME Ltd", credit_limit = "5000" }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::model::Entity;

/// A whole mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// The canonical entity produced.
    pub entity: Entity,
    /// Free text for humans.
    #[serde(default)]
    pub description: Option<String>,
    /// Target field name → how to fill it.
    pub fields: BTreeMap<String, FieldSpec>,
    /// Named code tables used by `lookup`; the key `"*"` is the fallback for unlisted codes.
    #[serde(default)]
    pub lookups: BTreeMap<String, BTreeMap<String, String>>,
    /// Test cases that `tributary test` runs.
    #[serde(default)]
    pub tests: Vec<MappingTest>,
}

/// How one target field is filled. Exactly one of `path`, `template`, `expr`, `value` (or, for
/// arrays of objects, `path` with `each`) names the source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Source path: dotted keys with array indices, e.g. `partner.address.city`, `tags[0]`,
    /// `partner_id[1]`.
    #[serde(default)]
    pub path: Option<String>,
    /// Template concatenation: `{path}` placeholders, e.g. `"{street} {number}, {city}"`.
    /// A placeholder whose value is missing renders empty.
    #[serde(default)]
    pub template: Option<String>,
    /// A jq expression (run by jaq) over the whole record; its first output is the value.
    #[serde(default)]
    pub expr: Option<String>,
    /// A constant.
    #[serde(default)]
    pub value: Option<toml::Value>,
    /// The type the source value is read as. When not given, the target field's own type
    /// (`decimal` for `credit_limit`, `date` for `order_date`, `string` for text, enums and
    /// currencies). Any type may fill a text field (it is rendered as text); `integer` may fill
    /// a decimal field and `datetime` a date field (its local date).
    #[serde(default, rename = "type")]
    pub ty: Option<FieldType>,
    /// Transforms applied in order to the (string) value before typing.
    #[serde(default)]
    pub transforms: Vec<Transform>,
    /// Name of a table in `[lookups]` applied after the transforms.
    #[serde(default)]
    pub lookup: Option<String>,
    /// Used when the source value is missing, null or empty.
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// Fail the record when the value is missing (after `default`).
    #[serde(default)]
    pub required: bool,
    /// chrono format for `date` / `datetime` (e.g. `%d.%m.%Y`, `%Y-%m-%d %H:%M:%S`).
    #[serde(default)]
    pub format: Option<String>,
    /// Time zone (IANA name such as `Asia/Shanghai`, or an offset like `+08:00`) for
    /// datetimes that carry none.
    #[serde(default)]
    pub timezone: Option<String>,
    /// For a `path` naming an array of objects (order lines): the mapping of each element.
    #[serde(default)]
    pub each: Option<BTreeMap<String, FieldSpec>>,
}

/// Target types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text.
    #[default]
    String,
    /// Exact decimal (from a string or a JSON number).
    Decimal,
    /// Whole number.
    Integer,
    /// true/false (also `1`/`0`, `yes`/`no`, `y`/`n`, `t`/`f`).
    Bool,
    /// Calendar date (ISO `YYYY-MM-DD` unless `format` says otherwise).
    Date,
    /// Date and time with offset (RFC 3339 unless `format`; `timezone` for naive values).
    Datetime,
}

/// A transform step. In TOML: `"trim"`, or `{ regex_replace = { pattern = "…", with = "…" } }`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// Strip leading and trailing white space.
    Trim,
    /// Lower-case.
    Lower,
    /// Upper-case.
    Upper,
    /// Runs of white space become one space (and the ends are trimmed).
    CollapseWhitespace,
    /// Keep only the digits 0–9.
    DigitsOnly,
    /// Regular-expression replacement (`$1` refers to groups).
    RegexReplace {
        /// The pattern (Rust `regex` syntax).
        pattern: String,
        /// The replacement.
        with: String,
    },
    /// Split a string into an array.
    Split {
        /// Separator.
        sep: String,
    },
    /// Join an array into a string.
    Join {
        /// Separator.
        sep: String,
    },
}

/// One test case of a mapping.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingTest {
    /// What it checks.
    pub name: String,
    /// The source record.
    pub input: toml::Value,
    /// Expected canonical fields (each listed field must equal; others are not compared).
    #[serde(default)]
    pub expect: Option<toml::Table>,
    /// Expected failure: the error message must contain this text (e.g. the field name).
    #[serde(default)]
    pub error: Option<String>,
}
