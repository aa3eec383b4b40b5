//! The shipped Business Central preset (connectors/business-central.toml +
//! mappings/business-central-*.toml) against a fake Entra token endpoint and a fake BC API v2.0
//! that really applies `$filter=lastModifiedDateTime ge …`, orders by (lastModifiedDateTime, id),
//! pages with `Prefer: odata.maxpagesize` and `@odata.nextLink` (`$skiptoken`), honours
//! `$expand=salesOrderLines`, accepts only the bearer tokens it issued, and answers errors with
//! OData / Entra error bodies. Fixtures: tests/fixtures/business-central/<entity set>.json.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::RunReport;
use tributary::views;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CLIENT_ID: &str = "3fa1c2d4-5b6e-4f70-8a9b-0c1d2e3f4a5b";
const SECRET: &str = "bc~client~secret";
const COMPANY: &str =
    "/v2.0/8c1b0d2e-tenant/Production/api/v2.0/companies(5d115c9b-ee7a-4a5c-9f53-6c0e1a3b7c11)";
const TOKEN_PATH: &str = "/8c1b0d2e-tenant/oauth2/v2.0/token";
const SETS: [&str; 4] = [
    "customers",
    "salesOrders",
    "salesInvoices",
    "customerPayments",
];

const SETTINGS: &str = r#"
[currency]
base = "EUR"
[currency.rates]
USD = "0.92"
[reconcile]
source_priority = ["business-central"]
[exposure]
stale_after_hours = 36
"#;

/// The fake tenant: token endpoint and API.
#[derive(Clone)]
struct Bc {
    /// A client ID of its own: tokens are cached per process by token URL and client, and a
    /// later fake may get the port of an earlier one.
    client_id: String,
    sets: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    tokens: Arc<Mutex<HashSet<String>>>,
    issued: Arc<AtomicU32>,
    expires_in: Arc<AtomicU64>,
    data_requests: Arc<AtomicU32>,
    throttle: Arc<AtomicU32>,
}

impl Bc {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/business-central");
        let sets = SETS
            .iter()
            .map(|s| {
                let text = std::fs::read_to_string(dir.join(format!("{s}.json"))).unwrap();
                (s.to_string(), serde_json::from_str(&text).unwrap())
            })
            .collect();
        static NEXT: AtomicU32 = AtomicU32::new(0);
        Bc {
            client_id: format!("{CLIENT_ID}-{}", NEXT.fetch_add(1, Ordering::SeqCst)),
            sets: Arc::new(Mutex::new(sets)),
            tokens: Arc::new(Mutex::new(HashSet::new())),
            issued: Arc::new(AtomicU32::new(0)),
            expires_in: Arc::new(AtomicU64::new(3599)),
            data_requests: Arc::new(AtomicU32::new(0)),
            throttle: Arc::new(AtomicU32::new(0)),
        }
    }

    fn update(&self, set: &str, number: &str, change: impl FnOnce(&mut Value)) {
        let mut sets = self.sets.lock().unwrap();
        change(
            sets.get_mut(set)
                .unwrap()
                .iter_mut()
                .find(|r| r["number"] == number)
                .unwrap(),
        );
    }

    fn token(&self, req: &Request) -> ResponseTemplate {
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(&req.body)
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(
            form["scope"],
            "https://api.businesscentral.dynamics.com/.default"
        );
        if form["client_id"] != self.client_id || form["client_secret"] != SECRET {
            return ResponseTemplate::new(401).set_body_json(json!({
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                "error_codes": [7000215],
                "timestamp": "2026-03-02 08:15:09Z",
                "trace_id": "0c2a6f1e-1b4f-4c3a-8e6b-0d2f9a7c5b14",
                "correlation_id": "5e1d9b0a-7c3f-4e21-9a8b-6f4d2c1e0b93"
            }));
        }
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("eyJ0eXAiOiJKV1Qi.fake.{n}");
        self.tokens.lock().unwrap().insert(token.clone());
        ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "Bearer",
            "expires_in": self.expires_in.load(Ordering::SeqCst),
            "ext_expires_in": 3599,
            "access_token": token
        }))
    }

    fn data(&self, req: &Request) -> ResponseTemplate {
        self.data_requests.fetch_add(1, Ordering::SeqCst);
        let bearer = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        if !bearer.is_some_and(|t| self.tokens.lock().unwrap().contains(&t)) {
            return odata_error(
                401,
                "Authentication_InvalidCredentials",
                "The server has rejected the client credentials.",
            );
        }
        if self
            .throttle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return odata_error(
                429,
                "Application_TooManyRequests",
                "Too many requests reached. Actual (601). Maximum (600).",
            )
            .insert_header("Retry-After", "0");
        }
        let set = req
            .url
            .path()
            .strip_prefix(COMPANY)
            .unwrap()
            .trim_start_matches('/');
        let q: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert_eq!(q["$orderby"], "lastModifiedDateTime asc,id asc");
        let since = q.get("$filter").map(|f| {
            let value = f.strip_prefix("lastModifiedDateTime ge ").unwrap();
            assert!(
                !value.contains('\''),
                "DateTimeOffset literals take no quotes"
            );
            DateTime::parse_from_rfc3339(value).unwrap()
        });
        let page_size: usize = req
            .headers
            .get("prefer")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("odata.maxpagesize="))
            .map_or(20_000, |n| n.parse().unwrap());
        let skip: usize = q.get("$skiptoken").map_or(0, |s| s.parse().unwrap());
        let expand = q.get("$expand").map(String::as_str);
        let ts = |r: &Value| {
            DateTime::parse_from_rfc3339(r["lastModifiedDateTime"].as_str().unwrap()).unwrap()
        };
        let sets = self.sets.lock().unwrap();
        let Some(rows) = sets.get(set) else {
            return odata_error(
                404,
                "BadRequest_ResourceNotFound",
                "Resource not found for the segment.",
            );
        };
        let mut rows: Vec<Value> = rows
            .iter()
            .filter(|r| since.is_none_or(|s| ts(r) >= s))
            .cloned()
            .map(|mut r| {
                if expand != Some("salesOrderLines") {
                    r.as_object_mut().unwrap().remove("salesOrderLines");
                }
                r
            })
            .collect();
        rows.sort_by_key(|r| (ts(r), r["id"].as_str().unwrap().to_string()));
        let total = rows.len();
        let page: Vec<Value> = rows.into_iter().skip(skip).take(page_size).collect();
        let mut body = json!({
            "@odata.context": format!("{}$metadata#companies(5d115c9b-ee7a-4a5c-9f53-6c0e1a3b7c11)/{set}", COMPANY.split("companies").next().unwrap()),
            "value": page,
        });
        if skip + page_size < total {
            // wiremock reports `localhost`; a real next link carries the API's own host.
            let host = req.headers.get("host").unwrap().to_str().unwrap();
            let mut next = url::Url::parse(&format!("http://{host}{}", req.url.path())).unwrap();
            let kept: Vec<(String, String)> =
                q.into_iter().filter(|(k, _)| k != "$skiptoken").collect();
            next.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("$skiptoken", &(skip + page_size).to_string());
            body["@odata.nextLink"] = json!(next.to_string());
        }
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn odata_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({"error": {
        "code": code,
        "message": format!("{message}  CorrelationId:  2f6c0a1e-1f4b-4c3a-8e6b-0d2f9a7c5b14.")
    }}))
}

impl Respond for Bc {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.url.path() == TOKEN_PATH {
            assert_eq!(req.method.as_str(), "POST");
            self.token(req)
        } else {
            assert_eq!(req.method.as_str(), "GET");
            self.data(req)
        }
    }
}

async fn serve(bc: &Bc) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(bc.clone())
        .mount(&server)
        .await;
    server
}

/// The shipped preset and mappings, with pages of 2 and fast retries.
fn project_files() -> tempfile::TempDir {
    common::preset_project("business-central", "business-central-", SETTINGS, |c| {
        c.replace("odata.maxpagesize=200", "odata.maxpagesize=2")
            .replace("retry_backoff_ms = 1000", "retry_backoff_ms = 5")
            .replace(
                "rate_limit = { requests = 5, per_secs = 1 }",
                "rate_limit = { requests = 1000, per_secs = 1 }",
            )
    })
}

fn env(bc: &Bc, server: &MockServer, secret: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BC_API_URL", format!("{}{COMPANY}", server.uri())),
        ("BC_TOKEN_URL", format!("{}{TOKEN_PATH}", server.uri())),
        ("BC_CLIENT_ID", bc.client_id.clone()),
        ("BC_CLIENT_SECRET", secret.to_string()),
    ]
}

fn load(bc: &Bc, dir: &Path, server: &MockServer, secret: &str) -> tributary::config::Project {
    let vars = env(bc, server, secret);
    let refs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    common::load(dir, &refs)
}

async fn run(bc: &Bc, dir: &Path, server: &MockServer, secret: &str, store: &Store) -> RunReport {
    let project = load(bc, dir, server, secret);
    assert!(
        !project.connectors["business-central"].config.enabled,
        "the preset ships disabled"
    );
    common::run_connector(&project, store, "business-central").await
}

fn staged(report: &RunReport) -> Vec<u64> {
    report.streams.iter().map(|s| s.counts.staged).collect()
}

#[tokio::test]
async fn business_central_preset_syncs_incrementally_and_computes_exposure() {
    common::on_each_backend(|backend, store| async move {
        let bc = Bc::new();
        let server = serve(&bc).await;
        let dir = project_files();

        let started = std::time::Instant::now();
        let first = run(&bc, dir.path(), &server, SECRET, &store).await;
        eprintln!(
            "{backend}: first Business Central sync took {:?}",
            started.elapsed()
        );
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        assert_eq!(first.counts.quarantined, 0, "{backend}: {first:?}");
        assert_eq!(staged(&first), [3, 1, 3, 1], "{backend}: {first:?}");
        assert_eq!(
            bc.issued.load(Ordering::SeqCst),
            1,
            "one token for every stream and page"
        );
        let customers = store.staged(Entity::Customer).await.unwrap();
        let blocked = customers.iter().find(|c| c.key == "C10020").unwrap();
        assert_eq!(
            blocked.canonical["active"],
            json!(false),
            "a tombstone, not a gap"
        );
        let nordlicht = customers.iter().find(|c| c.key == "C10014").unwrap();
        assert_eq!(
            common::texts(&nordlicht.canonical, &common::CONTACT_FIELDS),
            [
                "Hafenstraße 12 Speicher 3",
                "Hamburg",
                "20457",
                "HH",
                "DE",
                "+49 40 5550 1200",
                "einkauf@nordlicht.example",
                "www.nordlicht.example"
            ],
            "{backend}"
        );
        // BC writes "" for every empty text: nothing is filled from it.
        assert_eq!(
            common::texts(&blocked.canonical, &["phone", "email", "website", "region"]),
            ["-", "-", "-", "-"]
        );
        let cursor = store
            .cursor("business-central", "customers")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            cursor,
            json!({"version": 2, "field": "lastModifiedDateTime", "value": "2026-03-06T08:00:00.5Z",
                   "tiebreak": "id", "id": "0a5e4d3c-af30-4b20-9c99-4b3e5f607c83"})
        );

        let second = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(second.status, RunStatus::Success);
        assert_eq!(
            (second.counts.fetched, second.counts.staged),
            (0, 0),
            "{backend}: {second:?}"
        );
        assert_eq!(
            bc.issued.load(Ordering::SeqCst),
            1,
            "the cached token is reused"
        );

        // C10014 changes at exactly the cursor's instant (written differently), with an id
        // after the cursor's: read once, then not again.
        bc.update("customers", "C10014", |c| {
            c["displayName"] = json!("Brauerei Nordlicht GmbH & Co. KG");
            c["lastModifiedDateTime"] = json!("2026-03-06T08:00:00.500Z");
        });
        let third = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(staged(&third), [1, 0, 0, 0], "{backend}: {third:?}");
        let fourth = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(
            (fourth.counts.fetched, fourth.counts.staged),
            (0, 0),
            "{backend}: {fourth:?}"
        );

        // By hand (base EUR, today 2026-03-10): receivables 295 (not due) + 120 (due 31 Jan:
        // 31–60 days) = 415, the draft invoice does not count; open order 101005: 595 with
        // 250 of 500 net invoiced → 595 − 297.50 = 297.50 (the comment line is no order
        // line); unapplied payment 100 (entered as −100) → exposure 612.50 of 25000.
        let project = load(&bc, dir.path(), &server, SECRET);
        tributary::master::reconcile_master(&project, &store)
            .await
            .unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let all = views::exposures(&project, &store, today, Utc::now())
            .await
            .unwrap();
        let e = all
            .values()
            .find(|e| e.name == "Brauerei Nordlicht GmbH & Co. KG")
            .unwrap_or_else(|| panic!("{backend}: {all:#?}"));
        assert_eq!(e.open_receivables, dec!(415), "{backend}");
        assert_eq!(e.aging.not_due, dec!(295));
        assert_eq!(e.aging.d31_60, dec!(120));
        assert_eq!(e.open_orders, dec!(297.50), "{backend}");
        assert_eq!(e.unapplied_payments, dec!(100));
        assert_eq!(e.exposure, dec!(612.50));
        assert_eq!(e.currency.as_str(), "EUR");
        assert_eq!(e.credit_limit, Some(dec!(25000)));
        assert_eq!(e.available, Some(dec!(24387.50)));
    })
    .await;
}

#[tokio::test]
async fn the_oauth_token_is_renewed_when_it_expires_or_is_refused() {
    common::on_each_backend(|backend, store| async move {
        let bc = Bc::new();
        // Tokens that live less than the renewal margin are stale at once: one per request.
        bc.expires_in.store(30, Ordering::SeqCst);
        let server = serve(&bc).await;
        let dir = project_files();
        let first = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        let requests = bc.data_requests.load(Ordering::SeqCst);
        assert!(requests > 4);
        assert_eq!(bc.issued.load(Ordering::SeqCst), requests, "{backend}");

        // A long-lived token that the server stops accepting: one 401, one new token, success.
        bc.expires_in.store(3599, Ordering::SeqCst);
        let _ = run(&bc, dir.path(), &server, SECRET, &store).await;
        let issued = bc.issued.load(Ordering::SeqCst);
        bc.tokens.lock().unwrap().clear();
        let renewed = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(renewed.status, RunStatus::Success, "{backend}: {renewed:?}");
        assert_eq!(bc.issued.load(Ordering::SeqCst), issued + 1, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_the_sync_succeeds() {
    common::on_each_backend(|backend, store| async move {
        let bc = Bc::new();
        bc.throttle.store(1, Ordering::SeqCst);
        let server = serve(&bc).await;
        let dir = project_files();
        let report = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(report.status, RunStatus::Success, "{backend}: {report:?}");
        assert_eq!(staged(&report), [3, 1, 3, 1]);
        assert_eq!(bc.throttle.load(Ordering::SeqCst), 0, "the 429 was served");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_client_secret_fails_the_run_with_an_auth_error_and_keeps_the_cursor() {
    common::on_each_backend(|backend, store| async move {
        let bc = Bc::new();
        let server = serve(&bc).await;
        let dir = project_files();
        let ok = run(&bc, dir.path(), &server, SECRET, &store).await;
        assert_eq!(ok.status, RunStatus::Success);
        let before = store.cursor("business-central", "customers").await.unwrap();
        bc.update("customers", "C10020", |c| {
            c["lastModifiedDateTime"] = json!("2026-03-09T12:00:00Z");
        });
        let requests = bc.data_requests.load(Ordering::SeqCst);

        let failed = run(&bc, dir.path(), &server, "an-old-secret", &store).await;
        assert_eq!(failed.status, RunStatus::Failed, "{backend}: {failed:?}");
        let error = failed.streams[0].error_message().unwrap();
        assert!(
            error.contains("authentication failed") && error.contains("AADSTS7000215"),
            "{backend}: {error}"
        );
        assert_eq!(
            store.cursor("business-central", "customers").await.unwrap(),
            before
        );
        assert_eq!(
            bc.data_requests.load(Ordering::SeqCst),
            requests,
            "no API call without a token"
        );
    })
    .await;
}
