//! A fake ERP REST API with page pagination, a `modified_since` cursor and bearer auth:
//! incremental syncs restage only what changed, and a run that fails on page 3 resumes from
//! its last committed page without losing or duplicating anything. On SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, NoProgress, RunReport, SyncOptions};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const CONNECTOR: &str = r#"
kind = "http"
[http]
base_url = "${ERP_URL}"
auth = { type = "bearer", token = "${ERP_TOKEN}" }

[[streams]]
name = "customers"
mapping = "erp-customers"
[streams.http]
path = "/api/v1/customers"
records = "data"
pagination = { type = "page", page_param = "page", size_param = "per_page", size = 5 }
incremental = { field = "updated_at", param = "modified_since", sorted = true }
"#;

const MAPPING: &str = r#"
entity = "customer"
[fields.source_key]
path = "id"
required = true
[fields.name]
path = "name"
transforms = ["trim"]
[fields.tax_id]
path = "uscc"
[fields.updated_at]
path = "updated_at"
type = "datetime"
"#;

/// The ERP's customer table and its REST API: `GET /api/v1/customers?page&per_page&modified_since`,
/// records with `updated_at >= modified_since`, sorted by (updated_at, id).
#[derive(Clone)]
struct Erp {
    rows: Arc<Mutex<BTreeMap<u32, Value>>>,
    fail_page: Arc<Mutex<Option<u64>>>,
    requests: Arc<Mutex<Vec<String>>>,
    down: Arc<AtomicBool>,
}

impl Erp {
    fn new(n: u32) -> Self {
        let rows = (1..=n)
            .map(|i| (i, json!({"id": i, "name": format!("Customer {i}"), "uscc": null, "updated_at": ts(i)})))
            .collect();
        Erp {
            rows: Arc::new(Mutex::new(rows)),
            fail_page: Arc::new(Mutex::new(None)),
            requests: Arc::new(Mutex::new(vec![])),
            down: Arc::new(AtomicBool::new(false)),
        }
    }

    fn change(&self, id: u32, name: &str, minute: u32) {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.get_mut(&id).unwrap();
        row["name"] = json!(name);
        row["updated_at"] = json!(ts(minute));
    }
}

fn ts(minute: u32) -> String {
    format!(
        "2026-11-01T{:02}:{:02}:00+08:00",
        8 + minute / 60,
        minute % 60
    )
}

impl Respond for Erp {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let q: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self.requests
            .lock()
            .unwrap()
            .push(req.url.query().unwrap_or("").to_string());
        let page: u64 = q["page"].parse().unwrap();
        let size: usize = q["per_page"].parse().unwrap();
        if self.down.load(Ordering::SeqCst) || *self.fail_page.lock().unwrap() == Some(page) {
            return ResponseTemplate::new(500)
                .set_body_json(json!({"error": "internal server error"}));
        }
        let since = q.get("modified_since").cloned();
        let mut rows: Vec<Value> = self
            .rows
            .lock()
            .unwrap()
            .values()
            .filter(|r| {
                since
                    .as_deref()
                    .is_none_or(|s| r["updated_at"].as_str().unwrap() >= s)
            })
            .cloned()
            .collect();
        rows.sort_by_key(|r| {
            (
                r["updated_at"].as_str().unwrap().to_string(),
                r["id"].as_u64().unwrap(),
            )
        });
        let start = (page as usize - 1) * size;
        let data: Vec<Value> = rows.iter().skip(start).take(size).cloned().collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": data, "meta": {"page": page, "total": rows.len()}}))
    }
}

async fn serve(erp: &Erp) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/customers"))
        .and(header("authorization", "Bearer s3cret"))
        .respond_with(erp.clone())
        .mount(&server)
        .await;
    server
}

async fn sync_once(root: &std::path::Path, url: &str, store: &Store) -> RunReport {
    let project = common::load(root, &[("ERP_URL", url), ("ERP_TOKEN", "s3cret")]);
    let mappings = project.compile_mappings().unwrap();
    let connector = &project.connectors["erp"];
    sync::run_connector(
        &project,
        &mappings,
        store,
        connector,
        &SyncOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap()
}

async fn names(store: &Store) -> BTreeMap<String, String> {
    store
        .staged(Entity::Customer)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.canonical["name"].as_str().unwrap().to_string()))
        .collect()
}

fn files() -> tempfile::TempDir {
    common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        ("connectors/erp.toml", CONNECTOR),
        ("mappings/erp-customers.toml", MAPPING),
    ])
}

#[tokio::test]
async fn incremental_syncs_restage_only_changed_records() {
    common::on_each_backend(|backend, store| async move {
        let erp = Erp::new(12);
        let server = serve(&erp).await;
        let dir = files();

        let first = sync_once(dir.path(), &server.uri(), &store).await;
        assert_eq!(first.status, RunStatus::Success, "{backend}");
        assert_eq!(
            (
                first.counts.fetched,
                first.counts.staged,
                first.counts.unchanged
            ),
            (12, 12, 0),
            "{backend}"
        );
        assert_eq!(names(&store).await.len(), 12);

        // Nothing changed: the cursor re-reads only the newest record (>=) and stages nothing.
        let second = sync_once(dir.path(), &server.uri(), &store).await;
        assert_eq!(
            (second.counts.staged, second.counts.unchanged),
            (0, second.counts.fetched),
            "{backend}"
        );
        assert!(
            second.counts.fetched <= 1,
            "{backend}: the cursor was not used: {second:?}"
        );
        assert!(
            erp.requests
                .lock()
                .unwrap()
                .last()
                .unwrap()
                .contains("modified_since=2026-11-01T08%3A12%3A00%2B08%3A00"),
            "{backend}: {:?}",
            erp.requests.lock().unwrap()
        );

        // Two records change at the source: exactly those two are restaged.
        erp.change(3, "Customer 3 (renamed)", 30);
        erp.change(7, "Customer 7 (renamed)", 31);
        let third = sync_once(dir.path(), &server.uri(), &store).await;
        assert_eq!(third.counts.staged, 2, "{backend}: {third:?}");
        assert_eq!(third.counts.quarantined, 0);
        let n = names(&store).await;
        assert_eq!(n.len(), 12, "{backend}");
        assert_eq!(n["3"], "Customer 3 (renamed)");
        assert_eq!(n["7"], "Customer 7 (renamed)");
        assert_eq!(n["4"], "Customer 4");
    })
    .await;
}

#[tokio::test]
async fn a_run_failing_on_page_three_resumes_without_loss_or_duplicates() {
    common::on_each_backend(|backend, store| async move {
        let erp = Erp::new(12);
        *erp.fail_page.lock().unwrap() = Some(3);
        let server = serve(&erp).await;
        let dir = files();

        let failed = sync_once(dir.path(), &server.uri(), &store).await;
        assert_eq!(failed.status, RunStatus::Failed, "{backend}");
        assert!(
            failed.streams[0].error_message().unwrap().contains("500"),
            "{backend}: {failed:?}"
        );
        assert_eq!(
            failed.streams[0].error.as_ref().map(|e| e.kind),
            Some(tributary::sync::FailureKind::Http),
            "{backend}: an error status after the retries is an HTTP failure"
        );
        assert_eq!(failed.counts.staged, 10, "{backend}: pages 1-2 are kept");
        assert_eq!(names(&store).await.len(), 10);
        let cursor = store.cursor("erp", "customers").await.unwrap();
        assert!(
            cursor.is_some(),
            "{backend}: the cursor of page 2 was committed"
        );

        let runs = store.runs(Some("erp"), 10).await.unwrap();
        assert_eq!(runs[0].status, RunStatus::Failed);
        assert!(
            runs[0].error.as_deref().unwrap_or("").contains("500"),
            "{backend}: {:?}",
            runs[0]
        );

        *erp.fail_page.lock().unwrap() = None;
        let resumed = sync_once(dir.path(), &server.uri(), &store).await;
        assert_eq!(resumed.status, RunStatus::Success, "{backend}");
        let n = names(&store).await;
        assert_eq!(n.len(), 12, "{backend}: nothing missing");
        let expected: std::collections::BTreeSet<String> =
            (1..=12).map(|i| i.to_string()).collect();
        assert_eq!(
            n.keys().cloned().collect::<std::collections::BTreeSet<_>>(),
            expected,
            "{backend}"
        );
        assert_eq!(
            resumed.counts.staged, 2,
            "{backend}: only the two records never staged: {resumed:?}"
        );
        // The resumed run started from the committed cursor, not from the beginning.
        assert!(resumed.counts.fetched < 12, "{backend}: {resumed:?}");
        let all = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(all.len(), 12, "{backend}: no duplicates");
    })
    .await;
}

#[tokio::test]
async fn a_wrong_token_fails_the_run_and_moves_no_cursor() {
    common::on_each_backend(|backend, store| async move {
        let erp = Erp::new(3);
        let server = serve(&erp).await; // only answers to `Bearer s3cret`; anything else 404s
        let dir = files();
        let project = common::load(
            dir.path(),
            &[("ERP_URL", &server.uri()), ("ERP_TOKEN", "wrong")],
        );
        let mappings = project.compile_mappings().unwrap();
        let report = sync::run_connector(
            &project,
            &mappings,
            &store,
            &project.connectors["erp"],
            &SyncOptions::default(),
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        assert_eq!(
            store.cursor("erp", "customers").await.unwrap(),
            None,
            "{backend}"
        );
        assert!(names(&store).await.is_empty());
    })
    .await;
}
