//! A fake Odoo: a JSON-RPC server that answers `common.login` and
//! `object.execute_kw(…, "search_read")` with real domain filtering (Polish notation,
//! `write_date`/`id` comparisons), `order`, `limit` and `offset`, Odoo's value shapes
//! (`[id, "name"]`, `false` for empty) and its error envelope. Its tables are read from a fixture
//! folder, one `<model>.json` per model (a model without a file is an empty table).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const DB: &str = "brewery";
pub const USER: &str = "api@brewery.example";
pub const KEY: &str = "0a1b2c3d4e5f-api-key";
pub const UID: i64 = 7;
pub const MODELS: [&str; 6] = [
    "res.partner",
    "sale.order",
    "sale.order.line",
    "account.move",
    "account.payment",
    "stock.quant",
];

/// The fake Odoo: its tables and the calls it received.
#[derive(Clone)]
pub struct Odoo {
    pub tables: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    pub calls: Arc<Mutex<Vec<Value>>>,
    /// Answer every execute_kw with AccessDenied (a revoked key after login).
    pub deny: Arc<AtomicBool>,
}

impl Odoo {
    /// The fake holding the records of `dir` (`tests/fixtures/odoo`, …).
    pub fn new(dir: &Path) -> Self {
        let tables = super::fixture_tables(dir, &MODELS);
        Odoo {
            tables: Arc::new(Mutex::new(tables)),
            calls: Arc::new(Mutex::new(vec![])),
            deny: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn update(&self, model: &str, id: i64, changes: Value) {
        super::update_row(&self.tables, model, id, changes);
    }

    pub fn logins(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c["method"] == "login")
            .count()
    }

    pub fn search_reads(&self, model: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c["method"] == "execute_kw" && c["args"][3] == model)
            .cloned()
            .collect()
    }

    fn search_read(&self, model: &str, domain: &[Value], kwargs: &Value) -> Result<Value, Value> {
        let tables = self.tables.lock().unwrap();
        let Some(rows) = tables.get(model) else {
            return Err(error("builtins.KeyError", model));
        };
        let mut rows: Vec<Value> = rows
            .iter()
            .filter(|r| matches_domain(domain, r))
            .cloned()
            .collect();
        let order = kwargs["order"].as_str().unwrap_or("id asc").to_string();
        rows.sort_by(|a, b| {
            for term in order.split(',') {
                let mut w = term.split_whitespace();
                let field = w.next().unwrap();
                let desc = w.next() == Some("desc");
                let o = compare(&a[field], &b[field]).unwrap_or(Ordering::Equal);
                let o = if desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let offset = kwargs["offset"].as_u64().unwrap_or(0) as usize;
        let limit = kwargs["limit"].as_u64().map_or(usize::MAX, |l| l as usize);
        let fields: Option<Vec<&str>> = kwargs["fields"]
            .as_array()
            .map(|f| f.iter().map(|v| v.as_str().unwrap()).collect());
        Ok(Value::Array(
            rows.into_iter()
                .skip(offset)
                .take(limit)
                .map(|r| match &fields {
                    None => r,
                    Some(fields) => {
                        let mut out = serde_json::Map::new();
                        out.insert("id".into(), r["id"].clone());
                        for f in fields {
                            // Odoo refuses unknown fields; the fake answers `false` like an empty one.
                            out.insert(f.to_string(), r.get(*f).cloned().unwrap_or(json!(false)));
                        }
                        Value::Object(out)
                    }
                })
                .collect(),
        ))
    }
}

/// Odoo's error envelope (`error.data.name` is the exception class).
fn error(name: &str, message: &str) -> Value {
    json!({"code": 200, "message": "Odoo Server Error",
           "data": {"name": name, "message": message, "arguments": [message], "context": {}, "debug": "Traceback (most recent call last): …"}})
}

/// Many2one values compare by their ID; numbers, text and booleans as such.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    let key = |v: &Value| match v {
        Value::Array(pair) => pair.first().cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    match (key(a), key(b)) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(&y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

fn leaf(term: &[Value], record: &Value) -> bool {
    let field = term[0].as_str().unwrap();
    if field.contains('.') {
        return true; // related paths (location_id.usage) are not modelled by the fake
    }
    let value = record.get(field).cloned().unwrap_or(json!(false));
    let arg = &term[2];
    let ord = compare(&value, arg);
    match term[1].as_str().unwrap() {
        "=" => ord == Some(Ordering::Equal) || (value == json!(false) && arg == &json!(false)),
        "!=" => ord != Some(Ordering::Equal),
        ">" => ord == Some(Ordering::Greater),
        ">=" => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        "<" => ord == Some(Ordering::Less),
        "<=" => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
        "in" => arg
            .as_array()
            .unwrap()
            .iter()
            .any(|a| compare(&value, a) == Some(Ordering::Equal)),
        "not in" => !arg
            .as_array()
            .unwrap()
            .iter()
            .any(|a| compare(&value, a) == Some(Ordering::Equal)),
        op => panic!("operator {op} not in the fake"),
    }
}

/// One expression in Polish notation starting at `*at`.
fn expression(domain: &[Value], at: &mut usize, record: &Value) -> bool {
    let item = &domain[*at];
    *at += 1;
    match item.as_str() {
        Some("|") => {
            let a = expression(domain, at, record);
            let b = expression(domain, at, record);
            a || b
        }
        Some("&") => {
            let a = expression(domain, at, record);
            let b = expression(domain, at, record);
            a && b
        }
        Some("!") => !expression(domain, at, record),
        _ => leaf(item.as_array().unwrap(), record),
    }
}

/// A domain: expressions AND-ed.
fn matches_domain(domain: &[Value], record: &Value) -> bool {
    let mut at = 0;
    let mut all = true;
    while at < domain.len() {
        all &= expression(domain, &mut at, record);
    }
    all
}

impl Respond for Odoo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["method"], "call");
        let params = body["params"].clone();
        self.calls.lock().unwrap().push(params.clone());
        let args = params["args"].as_array().unwrap();
        let outcome = match (params["service"].as_str(), params["method"].as_str()) {
            (Some("common"), Some("login")) => {
                Ok(if args[0] == DB && args[1] == USER && args[2] == KEY {
                    json!(UID)
                } else {
                    json!(false)
                })
            }
            (Some("object"), Some("execute_kw")) => {
                if args[1] != UID || args[2] != KEY || self.deny.load(AtomicOrdering::SeqCst) {
                    Err(error("odoo.exceptions.AccessDenied", "Access Denied"))
                } else {
                    assert_eq!(args[4], "search_read");
                    let domain = args[5][0].as_array().unwrap();
                    self.search_read(args[3].as_str().unwrap(), domain, &args[6])
                }
            }
            _ => Err(error("builtins.NotImplementedError", "not in the fake")),
        };
        let answer = match outcome {
            Ok(result) => json!({"jsonrpc": "2.0", "id": body["id"], "result": result}),
            Err(e) => json!({"jsonrpc": "2.0", "id": body["id"], "error": e}),
        };
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

/// Serves `odoo` at `{uri}/jsonrpc`.
pub async fn serve(odoo: &Odoo) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jsonrpc"))
        .respond_with(odoo.clone())
        .mount(&server)
        .await;
    server
}
