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
//!
//! How one field is filled, in order:
//! 1. **source** — exactly one of `path`, `template`, `expr`, `value`;
//! 2. **empty?** — missing, `null`, a blank string, an empty list, and `false` unless the
//!    field is read as `bool` (Odoo sends `false` for unset fields) count as empty;
//! 3. if not empty: **`transforms`** in order, then **`lookup`**;
//! 4. if empty now: **`default`** (typed, but not transformed or looked up), else an error when
//!    the field is `required` — fields the entity cannot do without (`source_key`, `name`, …)
//!    always are — else the field is left out and the model's own default applies;
//! 5. **typing** as `type` (by default the target field's type), then rendered for the target:
//!    decimals as exact strings, dates as `YYYY-MM-DD`, date-times as RFC 3339; enum fields
//!    (`kind`, `status`, `tier` of a stock position) and currencies are checked here.
//!
//! Compiling checks every field name against the entity, every `each` sub-field against the
//! line, lookups, regexes, jq programs, time zones, defaults and constants, so a mapping that
//! compiles fails at run time only on the data.

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

/// How one target field is filled. Exactly one of `path`, `template`, `expr`, `value` names
/// the source; a list of objects (`lines`) takes a source plus `each`, or an `expr` that builds
/// the whole list.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Source path: dotted keys with array indices, e.g. `partner.address.city`, `tags[0]`,
    /// `partner_id[1]` (the name of an Odoo many2one `[id, "Name"]`), `lines[-1]` (the last);
    /// a key containing dots can be quoted: `'"a.b".c'`. A step that does not fit the data
    /// (a key on a list, an index past the end, anything under `false`) reads as missing.
    #[serde(default)]
    pub path: Option<String>,
    /// Template concatenation: `{path}` placeholders, e.g. `"{street} {number}, {city}"`.
    /// A placeholder whose value is missing, `null` or `false` renders empty; the result is
    /// whitespace-collapsed. `{{` and `}}` write literal braces.
    #[serde(default)]
    pub template: Option<String>,
    /// A jq expression (run by jaq) over the whole record (inside `each`: over the element);
    /// its first output is the value, no output counts as missing, and a jq error fails the
    /// record. Compiled once; a syntax error is a compile error.
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
    /// Transforms applied in order before typing. Text transforms render numbers and `true`
    /// as text and apply to each element of a list; `split` makes a list, `join` ends one.
    #[serde(default)]
    pub transforms: Vec<Transform>,
    /// Name of a table in `[lookups]` applied after the transforms (to each element of a
    /// list). An unlisted code uses the table's `"*"` entry, or fails the record naming the
    /// lookup and the code. A code mapped to `""` makes the value empty.
    #[serde(default)]
    pub lookup: Option<String>,
    /// Used when the value is empty (see the module docs). It is typed like the source but
    /// not transformed or looked up, and checked when the mapping is compiled.
    #[serde(default)]
    pub default: Option<toml::Value>,
    /// Fail the record when the value is empty and there is no `default`. Fields the entity
    /// cannot do without are required whether or not this is set.
    #[serde(default)]
    pub required: bool,
    /// chrono format for `date` / `datetime` (e.g. `%d.%m.%Y`, `%Y-%m-%d %H:%M:%S`). Without
    /// it, dates are `YYYY-MM-DD` (a date-time gives its own local date) and date-times are
    /// RFC 3339, or `YYYY-MM-DD[T ]HH:MM:SS[.fff]` / `YYYY-MM-DD` with `timezone`.
    #[serde(default)]
    pub format: Option<String>,
    /// Time zone (IANA name such as `Asia/Shanghai`, or an offset like `+08:00`) for
    /// datetimes that carry none.
    #[serde(default)]
    pub timezone: Option<String>,
    /// For a source naming an array of objects (order lines): the mapping of each element,
    /// whose paths are relative to the element. Errors name the element: `lines[2].quantity`.
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
    /// Exact decimal (from a string or a JSON number, never through a float). Only
    /// `[-+]digits[.digits][e±digits]`: `12,500.00` is an error, not twelve thousand.
    Decimal,
    /// Whole number (`"30"`, `30`, `"30.00"`; not `30.5`).
    Integer,
    /// true/false (also `1`/`0`, `yes`/`no`, `y`/`n`, `t`/`f`, any case).
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
    /// Decimals compare by value (`"5000"` equals `"5000.00"`), date-times by instant, `lines`
    /// element by element (only the keys listed per line).
    #[serde(default)]
    pub expect: Option<toml::Table>,
    /// Expected failure: the error message must contain this text (e.g. the field name).
    #[serde(default)]
    pub error: Option<String>,
}
