//! `expr`: jq programs run by jaq, compiled once when the mapping is compiled.
//!
//! The program sees the whole record (or, inside `each`, the element) and its first output is
//! the field's value; no output counts as missing. Numbers cross into jaq exactly (non-integers
//! as decimal text) and jaq's decimal numbers come back as strings, so a decimal target never
//! sees a float rounding it did not ask for. Filters that read the environment or the clock,
//! log or halt are not available: the same record always maps to the same result.

use std::fmt;
use std::sync::Arc;

use jaq_core::compile::Undefined;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::{Map, Num, Val};
use serde_json::{Number, Value};

type Data = data::JustLut<Val>;

/// jq filters left out: a mapping is a pure function of the record. Reading the environment
/// (where secrets live) or the clock would make re-syncing the same data change its content
/// hash, and logging or halting has no place in one field.
const IMPURE: &[&str] = &[
    "env",
    "now",
    "halt",
    "input",
    "inputs",
    "debug_empty",
    "stderr_empty",
];

/// Standard-library definitions built on the filters above.
const IMPURE_DEFS: &[&str] = &["stderr", "debug", "halt", "halt_error"];

/// A compiled jq program.
#[derive(Clone)]
pub(super) struct Expr {
    source: Arc<str>,
    filter: Arc<jaq_core::Filter<Data>>,
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl Expr {
    /// Parses and compiles `code`; the error describes the problem.
    pub(super) fn compile(code: &str) -> Result<Expr, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .filter(|def| !IMPURE_DEFS.contains(&def.name));
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .filter(|(name, _, _)| !IMPURE.contains(name));
        let arena = Arena::default();
        let loader = Loader::new(defs);
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| {
                let mut parts = Vec::new();
                for (_, e) in errs {
                    match e {
                        jaq_core::load::Error::Io(io) => {
                            parts.extend(io.into_iter().map(|(p, m)| format!("{p}: {m}")))
                        }
                        jaq_core::load::Error::Lex(lex) => {
                            parts.extend(lex.into_iter().map(|(exp, at)| {
                                format!("expected {} at {}", exp.as_str(), near(at))
                            }))
                        }
                        jaq_core::load::Error::Parse(parse) => {
                            parts.extend(parse.into_iter().map(|(exp, at)| {
                                format!("expected {} at {}", exp.as_str(), near(at))
                            }))
                        }
                    }
                }
                format!("jq syntax error: {}", parts.join("; "))
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let names: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, es)| {
                        es.into_iter().map(|(name, what)| match what {
                            Undefined::Filter(arity) => format!("filter `{name}/{arity}`"),
                            Undefined::Var => format!("variable `{name}`"),
                            Undefined::Mod => format!("module `{name}`"),
                            Undefined::Label => format!("label `{name}`"),
                            _ => format!("`{name}`"),
                        })
                    })
                    .collect();
                format!("jq: undefined {}", names.join(", "))
            })?;
        Ok(Expr {
            source: Arc::from(code),
            filter: Arc::new(filter),
        })
    }

    /// Runs the program on `input`: its first output, `None` when it has none.
    pub(super) fn run(&self, input: &JqInput) -> Result<Option<Value>, String> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        // Cloning a jq value only bumps reference counts.
        let mut out = self.filter.id.run((ctx, input.0.clone())).map(unwrap_valr);
        match out.next() {
            None => Ok(None),
            Some(Ok(v)) => Ok(Some(from_val(&v))),
            Some(Err(e)) => Err(format!("jq error: {e}")),
        }
    }
}

/// A record converted to jq's value type (done once per record, shared by its `expr` fields).
pub(super) struct JqInput(Val);

impl JqInput {
    /// Converts `record`.
    pub(super) fn new(record: &Value) -> Self {
        JqInput(to_val(record))
    }
}

/// Where a syntax error is, as a short quote of the rest of the program.
fn near(rest: &str) -> String {
    if rest.is_empty() {
        return "the end".to_string();
    }
    let cut: String = rest.chars().take(20).collect();
    format!("`{cut}`")
}

fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(match n.as_i64() {
            Some(i) => Num::from_integral(i),
            // The exact text (serde_json keeps it: `arbitrary_precision`); jaq turns it into a
            // float only when a program does arithmetic on it.
            None => Num::Dec(n.to_string().into()),
        }),
        Value::String(s) => Val::utf8_str(s.clone().into_bytes()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => {
            let mut m = Map::default();
            for (k, v) in map {
                m.insert(Val::utf8_str(k.clone().into_bytes()), to_val(v));
            }
            Val::obj(m)
        }
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => match n {
            Num::Int(i) => Value::Number(Number::from(*i as i64)),
            Num::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            // Big integers and decimals keep their exact text.
            other => Value::String(other.to_string()),
        },
        Val::TStr(b) | Val::BStr(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        Val::Arr(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Obj(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(b) | Val::BStr(b) => String::from_utf8_lossy(b).into_owned(),
                        other => other.to_string(),
                    };
                    (key, from_val(v))
                })
                .collect(),
        ),
    }
}
