//! The shipped Tryton preset (`connectors/tryton.toml` + `mappings/tryton-*.toml`) against a
//! fake trytond 8.x: `POST /<db>/rpc/` answering `common.db.login` (HTTP 401 with an HTML body
//! for a wrong password) and `model.<name>.search_read` behind the `Session` header, with
//! real domain filtering (nested `OR`, `write_date`/`create_date`/`id` comparisons on encoded
//! datetimes, `null`), order, offset and limit, Tryton's encoded values
//! (`{"__class__": "Decimal"|"date"|"datetime"}`), nested `"field."` objects for dotted
//! fields, `1`/`0` booleans as SQLite sends them and `[kind, details]` errors. The records are
//! the fixtures in `tests/fixtures/tryton/`. On SQLite and PostgreSQL.

mod common;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use chrono::{NaiveDate, Utc};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::RunReport;
use tributary::views;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const DB: &str = "brewery";
const USER: &str = "sync";
const PASSWORD: &str = "correct horse";
const UID: i64 = 4;
const SESSION: &str = "e1e6f4e7a6d3e646edf2208e56f322bb54f9c7e1070d752493e672e9c62856c4";
const MODELS: [&str; 5] = [
    "party.party",
    "sale.sale",
    "sale.line",
    "account.invoice",
    "product.product",
];

/// The fake Tryton: its tables, the calls it received, and a model whose reads fail.
#[derive(Clone)]
struct Tryton {
    tables: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    calls: Arc<Mutex<Vec<Value>>>,
    failing: Arc<Mutex<Option<String>>>,
}

impl Tryton {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tryton");
        let tables = common::fixture_tables(&dir, &MODELS);
        Tryton {
            tables: Arc::new(Mutex::new(tables)),
            calls: Arc::new(Mutex::new(vec![])),
            failing: Arc::new(Mutex::new(None)),
        }
    }

    fn update(&self, model: &str, id: i64, changes: Value) {
        common::update_row(&self.tables, model, id, changes);
    }

    fn calls_of(&self, method: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c["method"] == method)
            .cloned()
            .collect()
    }

    fn search_read(&self, model: &str, params: &[Value]) -> Result<Value, Value> {
        if self.failing.lock().unwrap().as_deref() == Some(model) {
            return Err(json!([
                "UserError",
                [
                    "You are trying to read records \"999\" of \"Invoice\" that don't exist.",
                    "",
                    null
                ]
            ]));
        }
        let tables = self.tables.lock().unwrap();
        let Some(rows) = tables.get(model) else {
            return Err(json!([format!("'{model}'"), ""]));
        };
        let (domain, offset, limit, order, fields, context) = (
            &params[0], &params[1], &params[2], &params[3], &params[4], &params[5],
        );
        assert!(context.is_object(), "the last param is the context");
        let mut rows: Vec<Value> = rows
            .iter()
            .filter(|r| matches(domain, r))
            .cloned()
            .collect();
        let order: Vec<(String, bool)> = order
            .as_array()
            .map(|o| {
                o.iter()
                    .map(|p| (p[0].as_str().unwrap().to_string(), p[1] == "ASC"))
                    .collect()
            })
            .unwrap_or_default();
        rows.sort_by(|a, b| {
            for (field, asc) in &order {
                // NULLS FIRST, as SQLite sorts them.
                let o = match (a[field].is_null(), b[field].is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    _ => compare(&a[field], &b[field]).unwrap(),
                };
                let o = if *asc { o } else { o.reverse() };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        let fields: Option<Vec<&str>> = fields
            .as_array()
            .map(|f| f.iter().map(|v| v.as_str().unwrap()).collect());
        Ok(Value::Array(
            rows.into_iter()
                .skip(offset.as_u64().unwrap_or(0) as usize)
                .take(limit.as_u64().map_or(usize::MAX, |l| l as usize))
                .map(|r| match &fields {
                    None => r,
                    Some(fields) => {
                        let mut out = serde_json::Map::new();
                        out.insert("id".into(), r["id"].clone());
                        for f in fields {
                            let head = f.split('.').next().unwrap();
                            out.insert(head.into(), r.get(head).cloned().unwrap_or(Value::Null));
                            if f.contains('.') {
                                let nested = format!("{head}.");
                                if let Some(v) = r.get(&nested) {
                                    out.insert(nested, v.clone());
                                }
                            }
                        }
                        Value::Object(out)
                    }
                })
                .collect(),
        ))
    }
}

/// A comparable form of a value: encoded datetimes and dates as ISO text, decimals as text.
fn plain(v: &Value) -> Value {
    match v.get("__class__").and_then(Value::as_str) {
        Some("datetime") => json!(format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
            v["year"],
            v["month"],
            v["day"],
            v["hour"],
            v["minute"],
            v["second"],
            v["microsecond"].as_u64().unwrap()
        )),
        Some("date") => json!(format!(
            "{:04}-{:02}-{:02}",
            v["year"], v["month"], v["day"]
        )),
        Some("Decimal") => v["decimal"].clone(),
        _ => v.clone(),
    }
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (plain(a), plain(b)) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(&y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

fn is_leaf(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.len() == 3 && a[0].is_string() && a[0] != "OR" && a[0] != "AND" && a[1].is_string()
    })
}

/// A Tryton domain: a list AND-ed unless it starts with "OR"; elements are leaves or domains.
fn matches(domain: &Value, record: &Value) -> bool {
    if is_leaf(domain) {
        return leaf(domain.as_array().unwrap(), record);
    }
    let items = domain.as_array().unwrap();
    match items.first().and_then(Value::as_str) {
        Some("OR") => items[1..].iter().any(|d| matches(d, record)),
        Some("AND") => items[1..].iter().all(|d| matches(d, record)),
        _ => items.iter().all(|d| matches(d, record)),
    }
}

fn leaf(term: &[Value], record: &Value) -> bool {
    let value = record
        .get(term[0].as_str().unwrap())
        .cloned()
        .unwrap_or(Value::Null);
    let arg = &term[2];
    if arg.is_null() {
        return match term[1].as_str().unwrap() {
            "=" => value.is_null(),
            "!=" => !value.is_null(),
            op => panic!("{op} null"),
        };
    }
    let ord = compare(&value, arg);
    match term[1].as_str().unwrap() {
        "=" => ord == Some(Ordering::Equal),
        "!=" => ord != Some(Ordering::Equal),
        ">" => ord == Some(Ordering::Greater),
        ">=" => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        "<" => ord == Some(Ordering::Less),
        "in" => arg
            .as_array()
            .unwrap()
            .iter()
            .any(|a| compare(&value, a) == Some(Ordering::Equal)),
        op => panic!("operator {op} not in the fake"),
    }
}

fn session_header() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{UID}:{SESSION}"));
    format!("Session {token}")
}

impl Respond for Tryton {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        self.calls.lock().unwrap().push(body.clone());
        let method = body["method"].as_str().unwrap();
        let params = body["params"].as_array().unwrap();
        let outcome = if method == "common.db.login" {
            if params[0] == USER && params[1]["password"] == PASSWORD {
                Ok(json!([UID, SESSION, null]))
            } else {
                return ResponseTemplate::new(401).set_body_raw(
                    "<!doctype html><title>401 Unauthorized</title><h1>Unauthorized</h1>",
                    "text/html",
                );
            }
        } else {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            if auth != session_header() {
                return ResponseTemplate::new(401);
            }
            let model = method
                .strip_prefix("model.")
                .and_then(|m| m.strip_suffix(".search_read"))
                .expect("only search_read in the fake");
            self.search_read(model, params)
        };
        // Tryton's answers carry no `jsonrpc` key.
        let answer = match outcome {
            Ok(result) => json!({"id": body["id"], "result": result}),
            Err(e) => json!({"id": body["id"], "error": e}),
        };
        ResponseTemplate::new(200).set_body_json(answer)
    }
}

async fn serve(tryton: &Tryton) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/{DB}/rpc/")))
        .respond_with(tryton.clone())
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
source_priority = ["tryton"]
[exposure]
stale_after_hours = 36
"#;

/// A project holding the shipped preset (pages of 2 records) and its mappings.
fn project_files() -> tempfile::TempDir {
    common::preset_project("tryton", "tryton-", SETTINGS, |preset| {
        assert!(preset.contains("page_size = 200"));
        preset.replace("page_size = 200", "page_size = 2")
    })
}

fn project(root: &Path, url: &str, password: &str) -> tributary::config::Project {
    common::load(
        root,
        &[
            ("TRYTON_URL", url),
            ("TRYTON_DB", DB),
            ("TRYTON_USER", USER),
            ("TRYTON_PASSWORD", password),
        ],
    )
}

async fn sync_once(root: &Path, url: &str, password: &str, store: &Store) -> RunReport {
    let project = project(root, url, password);
    assert!(
        !project.connectors["tryton"].config.enabled,
        "the preset ships disabled"
    );
    common::run_connector(&project, store, "tryton").await
}

fn staged_per_stream(report: &RunReport) -> BTreeMap<&str, u64> {
    report
        .streams
        .iter()
        .map(|s| (s.stream.as_str(), s.counts.staged))
        .collect()
}

async fn staged(store: &Store, entity: Entity) -> BTreeMap<String, Value> {
    store
        .staged(entity)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.canonical))
        .collect()
}

#[tokio::test]
async fn the_tryton_preset_syncs_decoded_records_incrementally_with_exact_exposure() {
    common::on_each_backend(|backend, store| async move {
        let tryton = Tryton::new();
        let server = serve(&tryton).await;
        let dir = project_files();

        let started = Instant::now();
        let first = sync_once(dir.path(), &server.uri(), PASSWORD, &store).await;
        eprintln!(
            "tryton preset: {} records fetched, {} staged in {:.2}s ({backend})",
            first.counts.fetched,
            first.counts.staged,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        assert_eq!(
            staged_per_stream(&first),
            BTreeMap::from([
                ("parties", 6),
                ("sales", 2),    // the draft is filtered by the domain
                ("invoices", 3), // the draft and the supplier invoice are filtered
                ("stock", 2),    // the service product is filtered
            ]),
            "{backend}"
        );
        assert_eq!(first.counts.quarantined, 0);

        // Login once per stream, then the session header (checked by the fake) on every call.
        let logins = tryton.calls_of("common.db.login");
        assert_eq!(logins.len(), 4);
        assert_eq!(
            logins[0]["params"],
            json!([USER, {"password": PASSWORD}, "en"])
        );
        let reads = tryton.calls_of("model.party.party.search_read");
        assert_eq!(
            reads[0]["params"][3],
            json!([["write_date", "ASC"], ["id", "ASC"]])
        );
        assert_eq!(reads[0]["params"][5]["active_test"], false);
        let stock = tryton.calls_of("model.product.product.search_read");
        assert_eq!(stock[0]["params"][5]["locations"], json!([3]));

        // Party 4 was never written (write_date null, as on 7.x): found by create_date; the
        // read then commits once, at its end, the greatest (write_date, id).
        assert_eq!(
            store.cursor("tryton", "parties").await.unwrap(),
            Some(json!({"version": 1, "field": "write_date",
                        "value": "2026-03-04T10:00:00.250000Z", "id": 5})),
            "{backend}"
        );

        let customers = staged(&store, Entity::Customer).await;
        assert_eq!(customers["1"]["tax_id"], "DE811907980");
        assert_eq!(customers["1"]["country"], "DE");
        assert_eq!(customers["1"]["updated_at"], "2026-03-02T08:15:09Z");
        assert_eq!(customers["2"]["active"], true, "SQLite's 1 is true");
        assert_eq!(
            customers["3"]["active"], false,
            "archived party: a tombstone"
        );
        assert_eq!(customers["4"]["updated_at"], "2026-03-01T07:00:00Z");
        // Every matching field: the first address (with its subdivision) and contact mechanisms.
        assert_eq!(
            common::texts(&customers["1"], &common::CONTACT_FIELDS),
            [
                "Hafenstraße 12",
                "Hamburg",
                "20457",
                "Hamburg",
                "DE",
                "+49 40 5550 1200",
                "einkauf@nordlicht.example",
                "https://www.nordlicht.example"
            ],
            "{backend}"
        );
        assert_eq!(
            common::texts(&customers["5"], &["region", "phone", "website"]),
            ["Salzburg", "+43 664 555 3030", "seeblick.example"],
            "{backend}: no phone mechanism, the mobile one"
        );
        assert_eq!(
            common::texts(&customers["6"], &["region", "phone"]),
            ["-", "-"]
        );
        let orders = staged(&store, Entity::SalesOrder).await;
        assert_eq!(orders["11"]["total"], "595.00", "Decimal kept exactly");
        assert_eq!(
            // Tryton sends the quantity as the float 40.0; its text is kept as sent.
            orders["11"]["lines"],
            json!([{"sku": "HOP-500", "description": "Hop pellets 500 g", "quantity": "40.0",
                    "quantity_invoiced": "0", "unit_price": "12.5000"}]),
            "{backend}"
        );
        let invoices = staged(&store, Entity::Invoice).await;
        assert_eq!(invoices["32"]["kind"], "credit_note");
        assert_eq!(invoices["32"]["residual"], "50.00");
        assert_eq!(invoices["31"]["due_date"], "2026-03-31");

        // Nothing changed: nothing read after the cursor (stock is a snapshot, read whole,
        // and unchanged).
        let second = sync_once(dir.path(), &server.uri(), PASSWORD, &store).await;
        assert_eq!(second.status, RunStatus::Success);
        assert_eq!(second.counts.staged, 0, "{backend}: {second:?}");
        assert_eq!(second.streams[0].counts.fetched, 0, "{backend}: {second:?}");

        // A party written in the same microsecond as the cursor, with a greater ID: still read.
        tryton.update(
            "party.party",
            6,
            json!({"name": "Weinstube Rebe OHG", "write_date": {"__class__": "datetime",
                   "year": 2026, "month": 3, "day": 4, "hour": 10, "minute": 0, "second": 0,
                   "microsecond": 250000}}),
        );
        let third = sync_once(dir.path(), &server.uri(), PASSWORD, &store).await;
        assert_eq!(
            staged_per_stream(&third)["parties"],
            1,
            "{backend}: {third:?}"
        );
        assert_eq!(third.counts.staged, 1);
        assert_eq!(
            staged(&store, Entity::Customer).await["6"]["name"],
            "Weinstube Rebe OHG"
        );

        // Exposure of Brauerei Nordlicht (base EUR, 2026-04-15): receivables 295 − 50 = 245;
        // open orders: SO-11 595.00, nothing invoiced yet → exposure 840.
        let p = project(dir.path(), &server.uri(), PASSWORD);
        tributary::master::reconcile_master(&p, &store)
            .await
            .unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 4, 15).unwrap();
        let all = views::exposures(&p, &store, today, Utc::now())
            .await
            .unwrap();
        let e = all
            .values()
            .find(|e| e.name == "Brauerei Nordlicht GmbH")
            .expect("a master for party 1");
        assert_eq!(e.open_receivables, dec!(245), "{backend}");
        assert_eq!(e.open_orders, dec!(595), "{backend}");
        assert_eq!(e.unapplied_payments, dec!(0));
        assert_eq!(e.exposure, dec!(840), "{backend}");
        assert_eq!(e.credit_limit, None);
        let m = all.values().find(|e| e.name == "Hopfenhof Müller").unwrap();
        assert_eq!(
            m.exposure,
            dec!(338),
            "{backend}: 100 receivable + 238 open order"
        );
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_fails_the_run_with_an_auth_error() {
    common::on_each_backend(|backend, store| async move {
        let tryton = Tryton::new();
        let server = serve(&tryton).await;
        let dir = project_files();
        let report = sync_once(dir.path(), &server.uri(), "wrong", &store).await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        for s in &report.streams {
            let error = s.error_message().unwrap_or_default();
            assert!(
                error.contains("authentication failed") && error.contains(USER),
                "{backend}: {error}"
            );
        }
        assert_eq!(
            tryton.calls_of("common.db.login").len(),
            4,
            "one login per stream, none retried"
        );
        assert_eq!(store.cursor("tryton", "parties").await.unwrap(), None);
        assert!(store.staged(Entity::Customer).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_tryton_user_error_fails_its_stream_only() {
    common::on_each_backend(|backend, store| async move {
        let tryton = Tryton::new();
        *tryton.failing.lock().unwrap() = Some("account.invoice".into());
        let server = serve(&tryton).await;
        let dir = project_files();
        let report = sync_once(dir.path(), &server.uri(), PASSWORD, &store).await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        let by_stream: BTreeMap<&str, Option<&str>> = report
            .streams
            .iter()
            .map(|s| (s.stream.as_str(), s.error_message()))
            .collect();
        let error = by_stream["invoices"].unwrap();
        assert!(
            error.contains("Tryton UserError: You are trying to read records"),
            "{backend}: {error}"
        );
        assert_eq!(by_stream["parties"], None);
        assert_eq!(staged_per_stream(&report)["parties"], 6);
    })
    .await;
}
