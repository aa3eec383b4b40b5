//! The compiled plan: one [`FieldPlan`] per mapped target field, built once from the spec and
//! then applied to each record without parsing anything again.
//!
//! Applying one field: read the source (path, template, expr or constant) → if not empty, run
//! the transforms and the lookup → if empty now, use the default (or fail when the field is
//! required, by the spec or by the entity) or leave the field out → read it as its type →
//! emit it in the target's JSON form. A field with `each` maps every element of its array with
//! its own sub-plans.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::convert::{Fail, Pattern, Typing, Zone, is_empty, shorten};
use super::expr::{Expr, JqInput};
use super::path::Path;
use super::schema::{self, Kind, TargetField};
use super::spec::{FieldSpec, FieldType};
use super::template::Template;
use super::transform::Step;
use super::{CompileError, MappingError};

/// Where a field's value comes from.
#[derive(Debug, Clone)]
enum Source {
    Path(Path),
    Template(Template),
    Expr(Expr),
    Const(Value),
}

/// A code table: code → replacement, with an optional `"*"` fallback.
#[derive(Debug)]
pub(super) struct Lookup {
    name: String,
    codes: BTreeMap<String, String>,
    fallback: Option<String>,
}

impl Lookup {
    /// Builds a table from the spec's `[lookups.<name>]`.
    pub(super) fn new(name: &str, table: &BTreeMap<String, String>) -> Lookup {
        let mut codes = table.clone();
        let fallback = codes.remove("*");
        Lookup {
            name: name.to_string(),
            codes,
            fallback,
        }
    }

    fn translate(&self, value: &Value) -> Result<Value, Fail> {
        let rendered;
        let code: &str = match value {
            Value::Array(items) => {
                return items
                    .iter()
                    .map(|i| self.translate(i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array);
            }
            Value::Object(_) => {
                return Err(Fail::new(
                    Some(shorten(value)),
                    format!("lookup `{}` needs a code, not an object", self.name),
                ));
            }
            Value::Null => return Ok(Value::Null),
            Value::String(s) => s,
            other => {
                rendered = other.to_string();
                &rendered
            }
        };
        match self.codes.get(code).or(self.fallback.as_ref()) {
            Some(to) => Ok(Value::String(to.clone())),
            None => Err(Fail::new(
                Some(shorten(value)),
                format!(
                    "code `{code}` is not in lookup `{}` (add it, or a \"*\" fallback)",
                    self.name
                ),
            )),
        }
    }

    /// Every value the table can produce.
    fn outputs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.codes
            .iter()
            .map(|(code, out)| (code.as_str(), out.as_str()))
            .chain(self.fallback.as_deref().map(|out| ("*", out)))
    }
}

/// How one target field is filled.
#[derive(Debug, Clone)]
pub(super) struct FieldPlan {
    /// Target field name.
    pub name: &'static str,
    kind: Kind,
    source: Source,
    steps: Vec<Step>,
    lookup: Option<Arc<Lookup>>,
    /// The default, already in the target's JSON form.
    default: Option<Value>,
    required: bool,
    /// `None` for lists of lines.
    typing: Option<Typing>,
    each: Option<Vec<FieldPlan>>,
}

/// Compiles the field specs of one object (the entity, or the element of an `each`).
pub(super) fn compile_fields(
    specs: &BTreeMap<String, FieldSpec>,
    table: &'static [TargetField],
    lookups: &BTreeMap<String, Arc<Lookup>>,
    prefix: &str,
    entity: &str,
) -> Result<Vec<FieldPlan>, CompileError> {
    let mut plans = Vec::with_capacity(specs.len());
    for (name, spec) in specs {
        let full = format!("{prefix}{name}");
        let target = schema::find(table, name).ok_or_else(|| CompileError {
            field: full.clone(),
            reason: format!(
                "`{name}` is not a field of {entity} (fields: {})",
                schema::names(table)
            ),
        })?;
        plans.push(compile_field(spec, target, lookups, &full, entity)?);
    }
    for target in table.iter().filter(|t| t.required) {
        if !specs.contains_key(target.name) {
            return Err(CompileError {
                field: format!("{prefix}{}", target.name),
                reason: format!("{entity} needs this field, but the mapping does not fill it"),
            });
        }
    }
    // Fill fields in the model's order, so output objects read naturally.
    plans.sort_by_key(|p| table.iter().position(|t| t.name == p.name));
    Ok(plans)
}

fn compile_field(
    spec: &FieldSpec,
    target: &'static TargetField,
    lookups: &BTreeMap<String, Arc<Lookup>>,
    full: &str,
    entity: &str,
) -> Result<FieldPlan, CompileError> {
    let err = |reason: String| CompileError {
        field: full.to_string(),
        reason,
    };
    let source = compile_source(spec).map_err(err)?;
    let steps = spec
        .transforms
        .iter()
        .map(Step::compile)
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    let lookup = match &spec.lookup {
        None => None,
        Some(name) => Some(lookups.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = lookups.keys().map(String::as_str).collect();
            err(format!(
                "lookup `{name}` is not defined in [lookups] (defined: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?),
    };

    let mut plan = FieldPlan {
        name: target.name,
        kind: target.kind,
        source,
        steps,
        lookup,
        default: None,
        required: spec.required || target.required,
        typing: None,
        each: None,
    };

    if let Kind::Lines(sub) = target.kind {
        if spec.ty.is_some() || spec.format.is_some() || spec.timezone.is_some() {
            return Err(err(
                "a list of lines takes no `type`, `format` or `timezone`; type its `each` fields"
                    .to_string(),
            ));
        }
        if !plan.steps.is_empty() || plan.lookup.is_some() || spec.default.is_some() {
            return Err(err(
                "a list of lines takes no `transforms`, `lookup` or `default`".to_string(),
            ));
        }
        if let Some(each) = &spec.each {
            let element = format!("{entity} {}", target.name);
            plan.each = Some(compile_fields(
                each,
                sub,
                lookups,
                &format!("{full}."),
                &element,
            )?);
        }
        return Ok(plan);
    }
    if spec.each.is_some() {
        return Err(err(format!(
            "`each` is only for lists of objects; `{}` holds {}",
            target.name,
            target.kind.describe()
        )));
    }

    let ty = spec
        .ty
        .or(target.kind.default_type())
        .unwrap_or(FieldType::String);
    if !target.kind.accepts(ty) {
        return Err(err(format!(
            "type `{}` cannot fill this field, which holds {}",
            type_name(ty),
            target.kind.describe()
        )));
    }
    if spec.format.is_some() && !matches!(ty, FieldType::Date | FieldType::Datetime) {
        return Err(err("`format` is only for date and datetime".to_string()));
    }
    let zone = match &spec.timezone {
        None => None,
        Some(z) => {
            if ty != FieldType::Datetime {
                return Err(err("`timezone` is only for datetime".to_string()));
            }
            Some(Zone::parse(z).map_err(err)?)
        }
    };
    let typing = Typing {
        ty,
        format: spec
            .format
            .as_deref()
            .map(Pattern::new)
            .transpose()
            .map_err(err)?,
        zone,
    };

    if let Some(lookup) = &plan.lookup {
        check_lookup(lookup, target.kind, &typing).map_err(err)?;
    }

    if let Some(d) = &spec.default {
        let raw = toml_to_json(d);
        if !is_empty(Some(&raw), Some(ty)) {
            let emitted = typing
                .read(Cow::Borrowed(&raw))
                .and_then(|t| t.emit(target.kind))
                .map_err(|f| err(format!("default {}: {}", shorten(&raw), f.reason)))?;
            plan.default = Some(emitted);
        }
    }
    plan.typing = Some(typing);
    // A constant does not depend on the record: check it now rather than on every record.
    if matches!(plan.source, Source::Const(_))
        && let Err(e) = plan.eval(&Scope::new(&Value::Null), At::Top)
    {
        let shown = e
            .value
            .map(|v| format!(" (value: {v})"))
            .unwrap_or_default();
        return Err(err(format!("`value`: {}{shown}", e.reason)));
    }
    Ok(plan)
}

/// The one source of a field.
fn compile_source(spec: &FieldSpec) -> Result<Source, String> {
    match (&spec.path, &spec.template, &spec.expr, &spec.value) {
        (Some(p), None, None, None) => Path::parse(p)
            .map(Source::Path)
            .map_err(|e| format!("bad path {e}")),
        (None, Some(t), None, None) => Template::parse(t)
            .map(Source::Template)
            .map_err(|e| format!("bad template: {e}")),
        (None, None, Some(x), None) => Expr::compile(x).map(Source::Expr),
        (None, None, None, Some(v)) => Ok(Source::Const(toml_to_json(v))),
        (None, None, None, None) => {
            Err("no source: set one of `path`, `template`, `expr`, `value`".to_string())
        }
        (p, t, x, v) => {
            let given: Vec<&str> = [
                ("path", p.is_some()),
                ("template", t.is_some()),
                ("expr", x.is_some()),
                ("value", v.is_some()),
            ]
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
            Err(format!(
                "more than one source ({}); set only one",
                given.join(", ")
            ))
        }
    }
}

/// Lookup outputs that can never fill an enum or currency field are a mistake in the file.
fn check_lookup(lookup: &Lookup, kind: Kind, typing: &Typing) -> Result<(), String> {
    if !matches!(kind, Kind::Enum(_) | Kind::Currency) || typing.ty != FieldType::String {
        return Ok(());
    }
    for (code, out) in lookup.outputs() {
        if out.trim().is_empty() {
            continue;
        }
        if let Err(f) = typing
            .read(Cow::Owned(Value::String(out.to_string())))
            .and_then(|t| t.emit(kind))
        {
            return Err(format!(
                "lookup `{}` maps `{code}` to `{out}`: {}",
                lookup.name, f.reason
            ));
        }
    }
    Ok(())
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::String => "string",
        FieldType::Decimal => "decimal",
        FieldType::Integer => "integer",
        FieldType::Bool => "bool",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
    }
}

/// Where a field sits, for error messages: at the top, or inside one element of a list.
#[derive(Debug, Clone, Copy)]
pub(super) enum At<'a> {
    /// A field of the record itself.
    Top,
    /// A field of element `i` of the list field named here (`lines[2].quantity`).
    Line(&'a str, usize),
}

impl At<'_> {
    fn name(self, field: &str) -> String {
        match self {
            At::Top => field.to_string(),
            At::Line(list, i) => format!("{list}[{i}].{field}"),
        }
    }
}

/// The object being mapped, with its jq form made once on first use and shared by every
/// `expr` field of the object.
pub(super) struct Scope<'a> {
    record: &'a Value,
    jq: OnceCell<JqInput>,
}

impl<'a> Scope<'a> {
    /// A scope over `record`.
    pub(super) fn new(record: &'a Value) -> Self {
        Scope {
            record,
            jq: OnceCell::new(),
        }
    }

    fn jq(&self) -> &JqInput {
        self.jq.get_or_init(|| JqInput::new(self.record))
    }
}

impl FieldPlan {
    /// The field's output value for one object (`None`: leave the field out).
    pub(super) fn eval(
        &self,
        scope: &Scope<'_>,
        at: At<'_>,
    ) -> Result<Option<Value>, MappingError> {
        let fail = |f: Fail| MappingError {
            field: at.name(self.name),
            value: f.value,
            reason: f.reason,
        };
        let ty = self.typing.as_ref().map(|t| t.ty);

        let mut value: Option<Cow<'_, Value>> = match &self.source {
            Source::Path(p) => p.get(scope.record).map(Cow::Borrowed),
            Source::Template(t) => Some(Cow::Owned(t.render(scope.record).map_err(fail)?)),
            Source::Expr(x) => x
                .run(scope.jq())
                .map_err(|reason| fail(Fail::new(None, reason)))?
                .map(Cow::Owned),
            Source::Const(v) => Some(Cow::Borrowed(v)),
        };

        if !self.steps.is_empty()
            && !is_empty(value.as_deref(), ty)
            && let Some(raw) = value.take()
        {
            let mut v = raw.into_owned();
            for step in &self.steps {
                v = step.apply(v).map_err(fail)?;
            }
            value = Some(Cow::Owned(v));
        }
        if let Some(lookup) = &self.lookup
            && let Some(v) = value.as_deref()
            && !is_empty(Some(v), ty)
        {
            let translated = lookup.translate(v).map_err(fail)?;
            value = Some(Cow::Owned(translated));
        }

        let value = match value {
            Some(v) if !is_empty(Some(&v), ty) => v,
            emptied => {
                if let Some(d) = &self.default {
                    return Ok(Some(d.clone()));
                }
                if !self.required {
                    return Ok(None);
                }
                // Show what the source held, before transforms emptied it.
                let held = match &self.source {
                    Source::Path(p) => p.get(scope.record),
                    _ => emptied.as_deref(),
                };
                return Err(fail(Fail::new(
                    held.filter(|v| !v.is_null() && v.as_str() != Some(""))
                        .map(shorten),
                    "required, but the source has no value",
                )));
            }
        };

        match (&self.typing, &self.each) {
            (Some(typing), _) => {
                let typed = typing.read(value).map_err(fail)?;
                typed.emit(self.kind).map(Some).map_err(fail)
            }
            (None, Some(each)) => {
                let Value::Array(items) = value.as_ref() else {
                    return Err(fail(Fail::new(
                        Some(shorten(&value)),
                        "not a list (`each` needs an array of objects)",
                    )));
                };
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let object = build(each, &Scope::new(item), At::Line(self.name, i))?;
                    out.push(Value::Object(object));
                }
                Ok(Some(Value::Array(out)))
            }
            // A list filled as a whole (e.g. by `expr`): the model checks its shape.
            (None, None) => Ok(Some(value.into_owned())),
        }
    }
}

/// Maps one object: every plan's output, keyed by field name.
pub(super) fn build(
    plans: &[FieldPlan],
    scope: &Scope<'_>,
    at: At<'_>,
) -> Result<Map<String, Value>, MappingError> {
    let mut out = Map::with_capacity(plans.len());
    for plan in plans {
        if let Some(v) = plan.eval(scope, at)? {
            out.insert(plan.name.to_string(), v);
        }
    }
    Ok(out)
}

/// A TOML value as JSON (datetimes become their RFC 3339 text).
pub(super) fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::Number((*i).into()),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}
