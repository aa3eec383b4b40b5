//! Webhook intake on both store backends: signatures (Frappe's base64, hex with a `sha256=`
//! prefix and a signed timestamp), refusals that store nothing, duplicates stored and processed
//! once, processing through mapping and staging to the master, and a restart after a crash.

mod common;

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use http::HeaderMap;
use serde_json::{Value, json};
use tributary::config::Project;
use tributary::intake::{self as webhook, WebhookConfig, WebhookError, signature};
use tributary::model::Entity;
use tributary::store::{Batch, InboxStatus, RunStatus, Store};

const ERPNEXT_SECRET: &str = "frappe-webhook-secret-1";
const SHOP_SECRET: &str = "shop-secret-2";

/// The receiving time of every request.
fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The shipped ERPNext preset, enabled, with its `[webhook]` example uncommented; and the shop.
fn project() -> (tempfile::TempDir, Project) {
    let dir = common::preset_project("erpnext", "erpnext-", common::SETTINGS, |text| {
        let text = text.replace("enabled = false", "enabled = true");
        let uncommented: Vec<&str> = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(code) if !code.is_empty() && !code.starts_with(' ') => code,
                _ => l,
            })
            .collect();
        uncommented.join("\n")
    });
    std::fs::write(dir.path().join("connectors/shop.toml"), common::SHOP).unwrap();
    std::fs::write(
        dir.path().join("mappings/shop-customers.toml"),
        common::SHOP_MAPPING,
    )
    .unwrap();
    let project = load(dir.path());
    (dir, project)
}

fn load(root: &Path) -> Project {
    common::load(
        root,
        &[
            ("ERPNEXT_URL", "http://127.0.0.1:9"),
            ("ERPNEXT_API_KEY", "key"),
            ("ERPNEXT_API_SECRET", "secret"),
            ("ERPNEXT_WEBHOOK_SECRET", ERPNEXT_SECRET),
            ("SHOP_SECRET", SHOP_SECRET),
        ],
    )
}

fn webhook_config<'p>(project: &'p Project, connector: &str) -> &'p WebhookConfig {
    project.connectors[connector]
        .config
        .webhook
        .as_ref()
        .unwrap()
}

/// The first ERPNext Customer of the fixtures, as ERPNext's webhook sends it (`{{ doc | tojson }}`).
fn erpnext_customer() -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/erpnext/Customer.json");
    let docs: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_vec(&docs[0]).unwrap()
}

/// Headers of an ERPNext delivery of `body`, signed with `secret`.
fn erpnext_headers(project: &Project, body: &[u8], secret: &str) -> HeaderMap {
    let sig = signature::sign(
        webhook_config(project, "erpnext"),
        secret.as_bytes(),
        "",
        body,
    );
    let mut h = HeaderMap::new();
    h.insert("x-frappe-webhook-signature", sig.parse().unwrap());
    h.insert("content-type", "application/json".parse().unwrap());
    h
}

/// Headers of a shop delivery of `body` with event `id`, sent at `sent`.
fn shop_headers(project: &Project, body: &[u8], id: &str, sent: DateTime<Utc>) -> HeaderMap {
    let ts = sent.timestamp().to_string();
    let sig = signature::sign(
        webhook_config(project, "shop"),
        SHOP_SECRET.as_bytes(),
        &ts,
        body,
    );
    let mut h = HeaderMap::new();
    h.insert("x-shop-signature", sig.parse().unwrap());
    h.insert("x-shop-timestamp", ts.parse().unwrap());
    h.insert("x-shop-event", id.parse().unwrap());
    h
}

fn shop_body(customers: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"event": "customers.updated", "data": {"customers": customers}}))
        .unwrap()
}

/// An ERPNext delivery of `body`, correctly signed.
async fn deliver_erpnext(project: &Project, store: &Store, body: &[u8]) -> webhook::Accepted {
    let headers = erpnext_headers(project, body, ERPNEXT_SECRET);
    webhook::accept(project, store, "erpnext", &headers, body, now())
        .await
        .unwrap()
}

/// A shop delivery of `body` as event `id`, correctly signed and sent now.
async fn deliver_shop(
    project: &Project,
    store: &Store,
    body: &[u8],
    id: &str,
) -> webhook::Accepted {
    let headers = shop_headers(project, body, id, now());
    webhook::accept(project, store, "shop", &headers, body, now())
        .await
        .unwrap()
}

/// One refused request: what, connector, headers, body, expected status and reason.
struct Refused<'a>(&'a str, &'a str, HeaderMap, Vec<u8>, u16, &'a str);

async fn inbox_len(store: &Store) -> usize {
    store.inbox(None, 100).await.unwrap().len()
}

#[tokio::test]
async fn an_erpnext_customer_signed_in_base64_reaches_the_master() {
    common::on_each_backend(|backend, store| async move {
        let (_dir, project) = project();
        let mappings = project.compile_mappings().unwrap();
        let body = erpnext_customer();
        let accepted = deliver_erpnext(&project, &store, &body).await;
        assert!(!accepted.duplicate, "{backend}");
        assert_eq!(accepted.stream, "customers");
        assert!(accepted.idempotency_key.starts_with("sha256:"));
        let events = store.inbox(Some("erpnext"), 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].status, InboxStatus::Pending);
        assert_eq!(
            events[0].body.as_bytes(),
            &body[..],
            "the body is kept as received"
        );
        assert!(events[0].headers["x-frappe-webhook-signature"].is_string());

        let report = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!((report.processed, report.failed), (1, 0), "{backend}");
        assert_eq!((report.counts.fetched, report.counts.staged), (1, 1));
        assert!(report.staged_any());
        assert_eq!(report.runs.len(), 1);
        assert_eq!(report.runs[0].status, RunStatus::Success);

        let staged = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(staged.len(), 1);
        assert_eq!(
            (
                staged[0].connector.as_str(),
                staged[0].stream.as_str(),
                staged[0].key.as_str()
            ),
            ("erpnext", "customers", "Brauerei Nordlicht GmbH")
        );
        let runs = store.runs(Some("erpnext"), 10).await.unwrap();
        assert_eq!(runs.len(), 1, "the event is a run in the history");
        assert_eq!((runs[0].counts.fetched, runs[0].counts.staged), (1, 1));
        let event = &store.inbox(Some("erpnext"), 10).await.unwrap()[0];
        assert_eq!(event.status, InboxStatus::Processed);
        assert_eq!((event.run, event.attempts), (Some(runs[0].id), 1));

        let summary = tributary::master::reconcile_master(&project, &store)
            .await
            .unwrap();
        assert_eq!(summary.masters, 1, "{backend}");
        let master = store.load_master().await.unwrap();
        assert_eq!(master.masters[0].golden["name"], "Brauerei Nordlicht GmbH");
        assert_eq!(master.xrefs[0].source, "erpnext");
    })
    .await;
}

#[tokio::test]
async fn a_hex_signature_over_timestamp_and_body_stages_and_quarantines() {
    common::on_each_backend(|backend, store| async move {
        let (_dir, project) = project();
        let mappings = project.compile_mappings().unwrap();
        let body = shop_body(json!([
            {"id": "S-1", "name": "Nordwind Handel GmbH", "currency": "EUR"},
            {"id": "S-2"}
        ]));
        let headers = shop_headers(&project, &body, "evt-1", now() - Duration::seconds(30));
        let accepted = webhook::accept(&project, &store, "shop", &headers, &body, now())
            .await
            .unwrap();
        assert_eq!(accepted.idempotency_key, "evt-1");

        let report = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!(report.counts.fetched, 2, "{backend}");
        assert_eq!((report.counts.staged, report.counts.quarantined), (1, 1));
        assert_eq!(report.runs[0].status, RunStatus::Partial);
        let bad = store.quarantine(Some("shop"), 10).await.unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].key, "S-2");
        assert_eq!(
            bad[0].locator,
            format!("webhook event {} record 2", accepted.inbox_id)
        );
        assert!(bad[0].reason.contains("name"), "{}", bad[0].reason);
        assert_eq!(bad[0].run, report.runs[0].run);
    })
    .await;
}

#[tokio::test]
async fn refused_requests_store_nothing() {
    common::on_each_backend(|backend, store| async move {
        let (_dir, project) = project();
        let erp = erpnext_customer();
        let shop = shop_body(json!([{"id": "S-1", "name": "A"}]));
        let sent = now();
        let sign_shop = |body: &[u8]| shop_headers(&project, body, "evt-9", sent);
        let sign_erp = |body: &[u8]| erpnext_headers(&project, body, ERPNEXT_SECRET);

        let mut unsigned = sign_shop(&shop);
        unsigned.remove("x-shop-signature");
        let mut no_event_id = sign_shop(&shop);
        no_event_id.remove("x-shop-event");
        let mut tampered = erp.clone();
        tampered[10] ^= 1;
        let big = shop_body(json!([{"id": "S-1", "name": "x".repeat(5000)}]));
        let huge = vec![b' '; (1 << 20) + 1];
        let not_json = b"{\"doctype\": \"Customer\",".to_vec();
        let no_records = serde_json::to_vec(&json!({"data": {}})).unwrap();
        let item = serde_json::to_vec(&json!({"doctype": "Item", "name": "I-1"})).unwrap();

        let cases = vec![
            Refused(
                "wrong secret",
                "erpnext",
                erpnext_headers(&project, &erp, "guess"),
                erp.clone(),
                401,
                "bad_signature",
            ),
            Refused(
                "body changed after signing",
                "erpnext",
                sign_erp(&erp),
                tampered,
                401,
                "bad_signature",
            ),
            Refused(
                "no signature",
                "shop",
                unsigned,
                shop.clone(),
                401,
                "bad_signature",
            ),
            Refused(
                "hex without its prefix",
                "shop",
                {
                    let mut h = sign_shop(&shop);
                    let bare = h["x-shop-signature"]
                        .to_str()
                        .unwrap()
                        .trim_start_matches("sha256=")
                        .to_string();
                    h.insert("x-shop-signature", bare.parse().unwrap());
                    h
                },
                shop.clone(),
                401,
                "bad_signature",
            ),
            Refused(
                "sent 301 s ago",
                "shop",
                shop_headers(&project, &shop, "evt-9", sent - Duration::seconds(301)),
                shop.clone(),
                401,
                "replay",
            ),
            Refused(
                "sent 10 min ahead",
                "shop",
                shop_headers(&project, &shop, "evt-9", sent + Duration::seconds(600)),
                shop.clone(),
                401,
                "replay",
            ),
            Refused(
                "over max_body_bytes",
                "shop",
                sign_shop(&big),
                big.clone(),
                413,
                "too_large",
            ),
            Refused(
                "over 1 MiB, unknown connector",
                "nope",
                HeaderMap::new(),
                huge,
                413,
                "too_large",
            ),
            Refused(
                "unknown connector",
                "nope",
                sign_erp(&erp),
                erp.clone(),
                404,
                "unknown_connector",
            ),
            Refused(
                "not JSON",
                "erpnext",
                sign_erp(&not_json),
                not_json.clone(),
                400,
                "malformed",
            ),
            Refused(
                "no records at the path",
                "shop",
                sign_shop(&no_records),
                no_records.clone(),
                400,
                "malformed",
            ),
            Refused(
                "doctype not routed",
                "erpnext",
                sign_erp(&item),
                item.clone(),
                400,
                "malformed",
            ),
            Refused(
                "no event ID",
                "shop",
                no_event_id,
                shop.clone(),
                400,
                "malformed",
            ),
        ];
        for Refused(what, connector, headers, body, status, reason) in cases {
            let err = webhook::accept(&project, &store, connector, &headers, &body, now())
                .await
                .expect_err(what);
            assert_eq!(
                (err.status(), err.reason()),
                (status, reason),
                "{backend} {what}: {err}"
            );
            assert!(!err.public_message().is_empty());
            assert_eq!(
                inbox_len(&store).await,
                0,
                "{backend} {what} stored something"
            );
        }
        let err = WebhookError::UnknownConnector("x".into());
        assert_eq!(err.to_string(), "no connector `x` receives webhooks");
    })
    .await;
}

#[tokio::test]
async fn a_repeated_delivery_is_accepted_as_duplicate_and_processed_once() {
    common::on_each_backend(|backend, store| async move {
        let (_dir, project) = project();
        let mappings = project.compile_mappings().unwrap();
        let erp = erpnext_customer();
        let first = deliver_erpnext(&project, &store, &erp).await;
        let again = deliver_erpnext(&project, &store, &erp).await;
        assert!(!first.duplicate && again.duplicate, "{backend}");
        assert_eq!(first.inbox_id, again.inbox_id);

        // Same event ID, other body: the event ID decides.
        let one = shop_body(json!([{"id": "S-1", "name": "One"}]));
        let other = shop_body(json!([{"id": "S-1", "name": "Other"}]));
        let a = deliver_shop(&project, &store, &one, "evt-7").await;
        let b = deliver_shop(&project, &store, &other, "evt-7").await;
        assert!(!a.duplicate && b.duplicate);
        assert_eq!(inbox_len(&store).await, 2, "{backend}");

        let report = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!(
            (report.processed, report.counts.staged),
            (2, 2),
            "{backend}"
        );
        let shop_rows = store.staged(Entity::Customer).await.unwrap();
        let s1 = shop_rows.iter().find(|r| r.key == "S-1").unwrap();
        assert_eq!(s1.canonical["name"], "One");

        // Delivered again after processing: still a duplicate, nothing to do.
        let late = deliver_erpnext(&project, &store, &erp).await;
        assert!(late.duplicate);
        let report = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!((report.processed, report.runs.len()), (0, 0), "{backend}");
        assert_eq!(
            store.runs(None, 10).await.unwrap().len(),
            2,
            "one run per connector"
        );
    })
    .await;
}

#[tokio::test]
async fn a_crash_after_accept_loses_nothing_and_stages_once() {
    tributary::store::testing::each_backend_url(|backend, url| async move {
        let (dir, project) = project();
        let body = shop_body(json!([{"id": "S-1", "name": "Nordwind"}, {"id": "S-2"}]));
        {
            let store = Store::connect(&url).await.unwrap();
            let headers = shop_headers(&project, &body, "evt-1", now());
            webhook::accept(&project, &store, "shop", &headers, &body, now())
                .await
                .unwrap();
            // The process dies right after answering 2xx: nothing but the store survives.
            store.close().await;
            drop(project);
        }

        let project = load(dir.path());
        let mappings = project.compile_mappings().unwrap();
        let store = Store::connect(&url).await.unwrap();
        let pending = store.pending_events(10).await.unwrap();
        assert_eq!(pending.len(), 1, "{backend}: the accepted event survived");
        let report = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!(
            (report.counts.staged, report.counts.quarantined),
            (1, 1),
            "{backend}"
        );

        // Processing again, or staging the same event a second time (a second processor, or a
        // retry after a crash), writes nothing: the claim and the records share a transaction.
        let again = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!(again.processed, 0);
        let replay = store
            .stage_event(
                pending[0].id,
                Batch {
                    run: report.runs[0].run,
                    connector: "shop",
                    stream: "customers",
                    records: vec![],
                    quarantined: vec![tributary::store::Quarantined {
                        key: "S-2".into(),
                        locator: "again".into(),
                        payload: json!({}),
                        reason: "again".into(),
                    }],
                    cursor: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(replay, None, "{backend}");
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 1);
        assert_eq!(store.quarantine(Some("shop"), 10).await.unwrap().len(), 1);
        store.close().await;
    })
    .await;
}

#[test]
fn webhook_tables_are_checked_at_load_naming_file_line_and_field() {
    let dir = common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        ("mappings/shop-customers.toml", common::SHOP_MAPPING),
        (
            "connectors/bad.toml",
            r#"kind = "webhook"

[webhook]
secret = "hunter2"
signature_header = "X Sig"
signature_encoding = "base64"
signed_content = "{timestamp}:{body}"
stream = "orders"

[[streams]]
name = "customers"
mapping = "shop-customers"
"#,
        ),
        (
            "connectors/typo.toml",
            "kind = \"webhook\"\n[webhook]\nsecret = \"${S}\"\nsignature_header = \"X\"\nsignature_encodng = \"hex\"\nstream = \"c\"\n[[streams]]\nname = \"c\"\nmapping = \"shop-customers\"\n",
        ),
    ]);
    let env = [("S".to_string(), "s".to_string())].into_iter().collect();
    let errors = Project::load_with_env(dir.path(), &env)
        .unwrap_err()
        .to_string();
    for expected in [
        "connectors/bad.toml:4: field `webhook.secret`: secrets are never written in config files",
        "connectors/bad.toml:5: field `webhook.signature_header`: `X Sig` is not a valid HTTP header name",
        "connectors/bad.toml:7: field `webhook.signed_content`: uses `{timestamp}`: set `timestamp_header` too",
        "connectors/bad.toml:8: field `webhook.stream`: no stream named `orders`",
        "connectors/typo.toml:5: field `signature_encodng`: unknown field `signature_encodng`",
    ] {
        assert!(
            errors.contains(expected),
            "missing `{expected}` in:\n{errors}"
        );
    }
}

#[tokio::test]
async fn an_event_whose_stream_is_gone_fails_with_its_reason_and_the_others_go_on() {
    common::on_each_backend(|backend, store| async move {
        let (dir, project) = project();
        let gone = shop_body(json!([{"id": "S-1", "name": "One"}]));
        let gone_id = deliver_shop(&project, &store, &gone, "evt-1")
            .await
            .inbox_id;
        deliver_erpnext(&project, &store, &erpnext_customer()).await;

        // The shop's stream is renamed before the event is processed.
        let renamed = common::SHOP.replace("\"customers\"", "\"clients\"");
        std::fs::write(dir.path().join("connectors/shop.toml"), renamed).unwrap();
        let project = load(dir.path());
        let mappings = project.compile_mappings().unwrap();
        let report = webhook::process_inbox(&project, &mappings, &store)
            .await
            .unwrap();
        assert_eq!((report.processed, report.failed), (1, 1), "{backend}");
        let shop_run = report.runs.iter().find(|r| r.connector == "shop").unwrap();
        assert_eq!(shop_run.status, RunStatus::Failed);
        let event = store
            .inbox(Some("shop"), 10)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.id == gone_id)
            .unwrap();
        assert_eq!(event.status, InboxStatus::Failed, "{backend}");
        assert_eq!(event.attempts, 1);
        assert!(event.processed_at.is_some());
        let error = event.error.unwrap();
        assert!(error.contains("no stream `customers`"), "{error}");
        let run = &store.runs(Some("shop"), 10).await.unwrap()[0];
        assert!(run.error.as_deref().unwrap().contains(&error), "{run:?}");
        assert_eq!(store.pending_events(10).await.unwrap().len(), 0);
    })
    .await;
}

#[tokio::test]
async fn two_processors_at_once_stage_each_event_once() {
    common::on_each_backend(|backend, store| async move {
        let (_dir, project) = project();
        let mappings = project.compile_mappings().unwrap();
        for i in 0..12 {
            let body = shop_body(json!([{"id": format!("S-{i}"), "name": "N"}, {"id": "bad"}]));
            deliver_shop(&project, &store, &body, &format!("evt-{i}")).await;
        }
        let (a, b) = tokio::join!(
            webhook::process_inbox(&project, &mappings, &store),
            webhook::process_inbox(&project, &mappings, &store)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.processed + b.processed, 12, "{backend}");
        assert_eq!(a.counts.quarantined + b.counts.quarantined, 12);
        assert_eq!(store.quarantine(Some("shop"), 100).await.unwrap().len(), 12);
        assert_eq!(store.staged(Entity::Customer).await.unwrap().len(), 12);
    })
    .await;
}
