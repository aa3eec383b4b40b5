//! The shipped Odoo preset (`connectors/odoo.toml` + `mappings/odoo-*.toml`) against a fake
//! Odoo: a JSON-RPC server that answers `common.login` and `object.execute_kw(…, "search_read")`
//! with real domain filtering (Polish notation, `write_date`/`id` comparisons), `order`,
//! `limit` and `offset`, Odoo's value shapes (`[id, "name"]`, `false` for empty) and its error
//! envelope. The records are the fixtures in `tests/fixtures/odoo/`. On SQLite and PostgreSQL.

mod common;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, RunReport};
use tributary::views;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DB: &str = "brewery";
const USER: &str = "api@brewery.example";
const KEY: &str = "0a1b2c3d4e5f-api-key";
const UID: i64 = 7;
const MODELS: [&str; 6] = [
    "res.partner",
    "sale.order",
    "sale.order.line",
    "account.move",
    "account.payment",
    "stock.quant",
];

/// The fake Odoo: its tables and the calls it received.
#[derive(Clone)]
struct Odoo {
    tables: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    calls: Arc<Mutex<Vec<Value>>>,
    /// Answer every execute_kw with AccessDenied (a revoked key after login).
    deny: Arc<AtomicBool>,
}

impl Odoo {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odoo");
        let tables = MODELS
            .iter()
            .map(|m| {
                let text = std::fs::read_to_string(dir.join(format!("{m}.json"))).unwrap();
                (m.to_string(), serde_json::from_str(&text).unwrap())
            })
            .collect();
        Odoo {
            tables: Arc::new(Mutex::new(tables)),
            calls: Arc::new(Mutex::new(vec![])),
            deny: Arc::new(AtomicBool::new(false)),
        }
    }

    fn update(&self, model: &str, id: i64, changes: Value) {
        let mut tables = self.tables.lock().unwrap();
        let row = tables
            .get_mut(model)
            .unwrap()
            .iter_mut()
            .find(|r| r["id"] == id)
            .unwrap();
        for (k, v) in changes.as_object().unwrap() {
            row[k] = v.clone();
        }
    }

    fn logins(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c["method"] == "login")
            .count()
    }

    fn search_reads(&self, model: &str) -> Vec<Value> {
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

async fn serve(odoo: &Odoo) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/jsonrpc"))
        .respond_with(odoo.clone())
        .mount(&server)
        .await;
    server
}

const SETTINGS: &str = r#"
[currency]
base = "EUR"
[currency.rates]
USD = "0.92"
[reconcile]
source_priority = ["odoo"]
[exposure]
stale_after_hours = 36
"#;

/// A project holding the shipped preset (pages of 2 records, to exercise paging) and its mappings.
fn project_files() -> tempfile::TempDir {
    common::preset_project("odoo", "odoo-", SETTINGS, |preset| {
        assert!(preset.contains("page_size = 200"));
        preset.replace("page_size = 200", "page_size = 2")
    })
}

async fn sync_once(root: &Path, url: &str, key: &str, store: &Store) -> RunReport {
    let project = common::load(
        root,
        &[
            ("ODOO_URL", url),
            ("ODOO_DB", DB),
            ("ODOO_USER", USER),
            ("ODOO_API_KEY", key),
        ],
    );
    assert!(
        !project.connectors["odoo"].config.enabled,
        "the preset ships disabled"
    );
    common::run_connector(&project, store, "odoo").await
}

fn staged_per_stream(report: &RunReport) -> BTreeMap<&str, u64> {
    report
        .streams
        .iter()
        .map(|s| (s.stream.as_str(), s.counts.staged))
        .collect()
}

#[tokio::test]
async fn the_odoo_preset_syncs_incrementally_with_tombstones_and_exact_exposure() {
    common::on_each_backend(|backend, store| async move {
        let odoo = Odoo::new();
        let server = serve(&odoo).await;
        let dir = project_files();

        let started = Instant::now();
        let first = sync_once(dir.path(), &server.uri(), KEY, &store).await;
        eprintln!(
            "odoo preset: {} records fetched, {} staged in {:.2}s ({backend})",
            first.counts.fetched,
            first.counts.staged,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        assert_eq!(
            staged_per_stream(&first),
            BTreeMap::from([
                ("partners", 5), // the contact Jana Kock (parent_id set) is not a customer
                ("sale_orders", 3),
                ("invoices", 3), // draft invoice and vendor bill filtered by the domain
                ("payments", 2), // the outbound supplier payment is filtered
                ("stock", 2),
            ]),
            "{backend}"
        );
        assert_eq!(first.counts.quarantined, 0);
        assert_eq!(odoo.logins(), 5, "one login per stream");

        // Pages of two, ordered by (write_date, id), each asking for what follows the last.
        let partner_calls = odoo.search_reads("res.partner");
        assert_eq!(partner_calls.len(), 3, "{backend}: 2 + 2 + 1");
        assert_eq!(partner_calls[0]["args"][6]["order"], "write_date asc, id asc");
        assert_eq!(partner_calls[0]["args"][6]["context"]["active_test"], false);
        assert_eq!(
            partner_calls[1]["args"][5][0],
            json!(["|", ["is_company", "=", true], ["parent_id", "=", false],
                   "|", ["write_date", ">", "2026-03-02 08:15:09"],
                   "&", ["write_date", "=", "2026-03-02 08:15:09"], ["id", ">", 14]]),
            "{backend}"
        );
        assert_eq!(
            store.cursor("odoo", "partners").await.unwrap(),
            Some(json!({"version": 1, "field": "write_date", "value": "2026-03-05 12:00:00", "id": 30})),
            "{backend}"
        );

        let customers: BTreeMap<String, Value> = store
            .staged(Entity::Customer)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.canonical))
            .collect();
        assert_eq!(customers.keys().collect::<Vec<_>>(), ["14", "16", "21", "30", "31"]);
        assert_eq!(customers["21"]["active"], false, "archived partner is a tombstone");
        assert_eq!(customers["14"]["tax_id"], "DE811907980");
        assert_eq!(customers["14"]["payment_terms_days"], 30);
        assert_eq!(customers["16"]["address"], "Dorfstraße 3 Hof 2");
        // Every matching field the partner holds, `mobile` and `website` requested by the preset.
        assert_eq!(
            common::texts(&customers["14"], &common::CONTACT_FIELDS),
            ["Hafenstraße 12", "Hamburg", "20457", "Hamburg", "DE", "+49 40 5550 1200",
             "einkauf@nordlicht.example", "https://www.nordlicht.example"],
            "{backend}"
        );
        assert_eq!(customers["30"]["phone"], "+43 664 555 3030", "{backend}: no landline, the mobile");
        assert_eq!(customers["30"]["website"], "seeblick.example");
        assert!(customers["14"]["parent_key"].is_null(), "a company's commercial partner is itself");
        assert!(customers["16"].get("payment_terms_days").is_none_or(Value::is_null));
        let orders: BTreeMap<String, Value> = store
            .staged(Entity::SalesOrder)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.canonical))
            .collect();
        let lines = orders["9"]["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "{backend}: children embedded, the note line left out: {:?}", orders["9"]);
        assert_eq!(lines[0]["sku"], "HOP-500");

        // Nothing changed: nothing is read after the cursor, nothing staged.
        let second = sync_once(dir.path(), &server.uri(), KEY, &store).await;
        assert_eq!(second.status, RunStatus::Success);
        assert_eq!(second.counts.staged, 0, "{backend}: {second:?}");
        assert_eq!(second.counts.fetched, 0, "{backend}: {second:?}");

        // A partner written in the same second as the cursor, with a greater ID: still read.
        odoo.update(
            "res.partner",
            31,
            json!({"name": "Gasthaus Linde OHG", "write_date": "2026-03-05 12:00:00"}),
        );
        let third = sync_once(dir.path(), &server.uri(), KEY, &store).await;
        assert_eq!(staged_per_stream(&third)["partners"], 1, "{backend}: {third:?}");
        assert_eq!(third.counts.staged, 1);
        let renamed = store.staged(Entity::Customer).await.unwrap();
        let linde = renamed.iter().find(|r| r.key == "31").unwrap();
        assert_eq!(linde.canonical["name"], "Gasthaus Linde OHG");

        // Master and exposure of Brauerei Nordlicht (base EUR, as of 2026-04-15):
        // receivables 295 − 50 (credit note) = 245; open orders: S00009 595 with 312.50 of
        // 500 net invoiced → 595 − 371.88 = 223.12 (S00010 is a quotation); unapplied 120
        // (payment 8 is matched) → exposure 348.12 of a 25000 limit.
        sync::reconcile_master(&project_of(dir.path(), &server.uri()), &store)
            .await
            .unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 4, 15).unwrap();
        let all = views::exposures(&project_of(dir.path(), &server.uri()), &store, today, Utc::now())
            .await
            .unwrap();
        let e = all
            .values()
            .find(|e| e.name == "Brauerei Nordlicht GmbH")
            .expect("a master for partner 14");
        assert_eq!(e.open_receivables, dec!(245), "{backend}");
        assert_eq!(e.open_orders, dec!(223.12), "{backend}");
        assert_eq!(e.unapplied_payments, dec!(120), "{backend}");
        assert_eq!(e.exposure, dec!(348.12), "{backend}");
        assert_eq!(e.credit_limit, Some(dec!(25000)));
        assert_eq!(e.available, Some(dec!(24651.88)));
        assert_eq!(e.utilization_pct, Some(dec!(1.39)));
        assert_eq!(e.aging.d1_30, dec!(295), "INV/2026/00017 is 15 days overdue");
        let h = all.values().find(|e| e.name == "Hopfenhof Müller").unwrap();
        assert_eq!(h.exposure, dec!(338), "{backend}: 100 receivable + 238 open order");
    })
    .await;
}

fn project_of(root: &Path, url: &str) -> tributary::config::Project {
    common::load(
        root,
        &[
            ("ODOO_URL", url),
            ("ODOO_DB", DB),
            ("ODOO_USER", USER),
            ("ODOO_API_KEY", KEY),
        ],
    )
}

#[tokio::test]
async fn a_wrong_api_key_fails_the_run_with_an_auth_error_and_is_not_retried() {
    common::on_each_backend(|backend, store| async move {
        let odoo = Odoo::new();
        let server = serve(&odoo).await;
        let dir = project_files();
        let report = sync_once(dir.path(), &server.uri(), "revoked-key", &store).await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        for s in &report.streams {
            let error = s.error.as_deref().unwrap_or_default();
            assert!(
                error.contains("authentication failed")
                    && error.contains(USER)
                    && error.contains(DB),
                "{backend}: {error}"
            );
        }
        assert_eq!(odoo.logins(), 5, "one login per stream, none retried");
        assert_eq!(store.cursor("odoo", "partners").await.unwrap(), None);
        assert!(store.staged(Entity::Customer).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn access_denied_after_login_is_an_auth_error_naming_the_exception() {
    common::on_each_backend(|backend, store| async move {
        let odoo = Odoo::new();
        odoo.deny.store(true, AtomicOrdering::SeqCst);
        let server = serve(&odoo).await;
        let dir = project_files();
        let report = sync_once(dir.path(), &server.uri(), KEY, &store).await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        let error = report.streams[0].error.as_deref().unwrap();
        assert!(
            error.contains("authentication failed")
                && error.contains("odoo.exceptions.AccessDenied"),
            "{backend}: {error}"
        );
        assert_eq!(odoo.search_reads("res.partner").len(), 1, "not retried");
    })
    .await;
}
