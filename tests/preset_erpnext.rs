//! The shipped ERPNext preset (connectors/erpnext.toml + mappings/erpnext-*.toml) against the
//! fake Frappe `/api/resource` API of `tests/common/frappe.rs`. Fixtures:
//! tests/fixtures/erpnext/<DocType>.json (full documents; Address, Contact and Country are only
//! read one by one, as the customers' links name them).

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;

use chrono::{NaiveDate, Utc};
use rust_decimal_macros::dec;
use serde_json::json;
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::RunReport;
use tributary::views;

use common::frappe::{Frappe, KEY, SECRET, serve};

const SETTINGS: &str = r#"
[currency]
base = "EUR"
[currency.rates]
USD = "0.92"
[reconcile]
source_priority = ["erpnext"]
[exposure]
stale_after_hours = 36
"#;

/// The fake site holding `tests/fixtures/erpnext`.
fn fixture_site() -> Frappe {
    Frappe::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/erpnext"))
}

/// The shipped preset and its mappings in a temporary project, with small pages (to exercise
/// paging), short backoff and a loose rate limit to keep the test fast.
fn project_files() -> tempfile::TempDir {
    common::preset_project("erpnext", "erpnext-", SETTINGS, |c| {
        c.replace("size = 100", "size = 2")
            .replace("retry_backoff_ms = 1000", "retry_backoff_ms = 5")
            .replace(
                "rate_limit = { requests = 10, per_secs = 1 }",
                "rate_limit = { requests = 1000, per_secs = 1 }",
            )
    })
}

async fn run(dir: &Path, url: &str, secret: &str, store: &Store) -> RunReport {
    let project = common::load(
        dir,
        &[
            ("ERPNEXT_URL", url),
            ("ERPNEXT_API_KEY", KEY),
            ("ERPNEXT_API_SECRET", secret),
        ],
    );
    assert!(
        !project.connectors["erpnext"].config.enabled,
        "the preset ships disabled"
    );
    common::run_connector(&project, store, "erpnext").await
}

fn staged_of(report: &RunReport, stream: &str) -> u64 {
    report
        .streams
        .iter()
        .find(|s| s.stream == stream)
        .unwrap()
        .counts
        .staged
}

#[tokio::test]
async fn erpnext_preset_syncs_incrementally_and_computes_exposure() {
    common::on_each_backend(|backend, store| async move {
        let frappe = fixture_site();
        let server = serve(&frappe).await;
        let dir = project_files();

        let started = std::time::Instant::now();
        let first = run(dir.path(), &server.uri(), SECRET, &store).await;
        eprintln!("{backend}: first ERPNext sync took {:?}", started.elapsed());
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        assert_eq!(first.counts.quarantined, 0, "{backend}: {first:?}");
        // 3 customers, 3 orders, 4 submitted invoices (the draft is filtered out by the
        // server), 1 customer receipt (the supplier payment is filtered out), 2 bins.
        let staged: Vec<u64> = ["customers", "sales_orders", "invoices", "payments", "stock"]
            .iter()
            .map(|s| staged_of(&first, s))
            .collect();
        assert_eq!(staged, [3, 3, 4, 1, 2], "{backend}: {first:?}");
        let customers = store.staged(Entity::Customer).await.unwrap();
        let disabled = customers.iter().find(|c| c.key == "CUST-00042").unwrap();
        assert_eq!(disabled.canonical["active"], json!(false), "a tombstone, not a gap");
        // No primary address or contact: synced with what the Customer itself holds.
        assert_eq!(disabled.canonical["phone"], "+49 89 5550 4242");
        assert_eq!(disabled.canonical["region"], "Germany", "the territory");
        for absent in ["address", "city", "postal_code", "country", "email", "website"] {
            assert!(disabled.canonical[absent].is_null(), "{backend}: {absent}: {}", disabled.canonical);
        }
        // The primary Address, its Country and the primary Contact, each read by its link.
        let nordlicht = customers.iter().find(|c| c.key == "Brauerei Nordlicht GmbH").unwrap();
        let keys = common::CONTACT_FIELDS;
        assert_eq!(
            common::texts(&nordlicht.canonical, &keys),
            ["Hafenstraße 12 Speicher 3", "Hamburg", "20457", "Hamburg", "DE", "+49 171 5550 1201",
             "einkauf@nordlicht.example", "https://www.nordlicht.example"],
            "{backend}"
        );
        // No mobile number anywhere: the contact's landline; the email comes from the address.
        let alpen = customers.iter().find(|c| c.key == "Alpen Getränke AG").unwrap();
        assert_eq!(
            common::texts(&alpen.canonical, &keys),
            ["Museumstraße 5", "Innsbruck", "6020", "Tirol", "AT", "+43 512 555 0140",
             "office@alpen-getraenke.example", "-"],
            "{backend}"
        );
        // Two addresses, two countries, two contacts; nothing for the customer without links.
        for doctype in ["Address", "Country", "Contact"] {
            assert_eq!(frappe.doc_requests(doctype), 2, "{backend}: {doctype}");
        }
        let order = store
            .staged(Entity::SalesOrder)
            .await
            .unwrap()
            .into_iter()
            .find(|o| o.key == "SAL-ORD-2026-00014")
            .unwrap();
        assert_eq!(order.canonical["lines"][0]["sku"], "MALT-25", "items came from the detail GET");
        let cursor = store.cursor("erpnext", "customers").await.unwrap().unwrap();
        assert_eq!(
            cursor,
            json!({"version": 2, "field": "modified", "value": "2026-03-06 08:00:00.500000",
                   "tiebreak": "name", "id": "Alpen Getränke AG"})
        );

        // Nothing changed: the boundary records are skipped by the compound cursor.
        let second = run(dir.path(), &server.uri(), SECRET, &store).await;
        assert_eq!(second.status, RunStatus::Success);
        assert_eq!(
            (second.counts.fetched, second.counts.staged),
            (0, 0),
            "{backend}: {second:?}"
        );
        let last = frappe.requests.lock().unwrap().iter().rev()
            .find(|r| r.starts_with("/api/resource/Sales Invoice?")).unwrap().clone();
        assert!(
            last.contains(
                r#"filters=[["docstatus", "=", 1], ["modified", ">=", "2026-03-05 14:22:10.118730"]]"#
            ),
            "{last}"
        );

        // A customer changes within the very microsecond of the cursor, with a name after the
        // cursor's: picked up once, then never again.
        frappe.update("Customer", "Brauerei Nordlicht GmbH", |d| {
            d["customer_name"] = json!("Brauerei Nordlicht GmbH & Co. KG");
            d["modified"] = json!("2026-03-06 08:00:00.500000");
        });
        let third = run(dir.path(), &server.uri(), SECRET, &store).await;
        assert_eq!(staged_of(&third, "customers"), 1, "{backend}: {third:?}");
        assert_eq!(third.counts.staged, 1, "{backend}: {third:?}");
        let fourth = run(dir.path(), &server.uri(), SECRET, &store).await;
        assert_eq!(
            (fourth.counts.fetched, fourth.counts.staged),
            (0, 0),
            "{backend}: {fourth:?}"
        );

        // Master and exposure of the customer, computed by hand (base EUR, today 2026-03-10):
        // receivables 120 (due 31 Jan: 38 days, 31–60) + 295 (not due) − 59.5 credit note
        // (not due) = 355.5 (the paid invoice counts 0; the draft was never read);
        // open orders: SAL-ORD-2026-00014 238 (to deliver and bill); -00012 is fully billed,
        // -00015 a draft; unapplied 100 → exposure 493.5 of a 25000 limit.
        tributary::master::reconcile_master(
            &common::load(dir.path(), &[("ERPNEXT_URL", &server.uri()), ("ERPNEXT_API_KEY", KEY), ("ERPNEXT_API_SECRET", SECRET)]),
            &store,
        )
        .await
        .unwrap();
        let project = common::load(dir.path(), &[("ERPNEXT_URL", &server.uri()), ("ERPNEXT_API_KEY", KEY), ("ERPNEXT_API_SECRET", SECRET)]);
        let today = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let all = views::exposures(&project, &store, today, Utc::now())
            .await
            .unwrap();
        let e = all
            .values()
            .find(|e| e.name == "Brauerei Nordlicht GmbH & Co. KG")
            .unwrap_or_else(|| panic!("{backend}: {all:#?}"));
        assert_eq!(e.open_receivables, dec!(355.5), "{backend}");
        assert_eq!(e.aging.not_due, dec!(235.5));
        assert_eq!(e.aging.d31_60, dec!(120));
        assert_eq!(e.open_orders, dec!(238), "{backend}");
        assert_eq!(e.unapplied_payments, dec!(100));
        assert_eq!(e.exposure, dec!(493.5));
        assert_eq!(e.credit_limit, Some(dec!(25000)));
        assert_eq!(e.available, Some(dec!(24506.5)));
    })
    .await;
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_and_the_sync_succeeds() {
    common::on_each_backend(|backend, store| async move {
        let frappe = fixture_site();
        frappe.throttle.store(2, Ordering::SeqCst);
        let server = serve(&frappe).await;
        let dir = project_files();
        let report = run(dir.path(), &server.uri(), SECRET, &store).await;
        assert_eq!(report.status, RunStatus::Success, "{backend}: {report:?}");
        assert_eq!(staged_of(&report, "customers"), 3);
        // Two 429s and the successful retry of the first customer page.
        assert_eq!(frappe.throttle.load(Ordering::SeqCst), 0);
        assert!(
            frappe.list_requests("Customer") >= 4,
            "{:?}",
            frappe.requests.lock().unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn a_wrong_secret_fails_the_run_with_an_auth_error_and_keeps_the_cursor() {
    common::on_each_backend(|backend, store| async move {
        let frappe = fixture_site();
        let server = serve(&frappe).await;
        let dir = project_files();
        let ok = run(dir.path(), &server.uri(), SECRET, &store).await;
        assert_eq!(ok.status, RunStatus::Success);
        let before = store.cursor("erpnext", "customers").await.unwrap();
        frappe.update("Customer", "CUST-00042", |d| {
            d["modified"] = json!("2026-03-09 12:00:00.000000");
        });
        let requests_before = frappe.requests.lock().unwrap().len();

        let failed = run(dir.path(), &server.uri(), "wrong-secret", &store).await;
        assert_eq!(failed.status, RunStatus::Failed, "{backend}: {failed:?}");
        let error = failed.streams[0].error_message().unwrap();
        assert!(
            error.contains("authentication failed")
                && error.contains("401")
                && error.contains("AuthenticationError"),
            "{backend}: {error}"
        );
        assert_eq!(store.cursor("erpnext", "customers").await.unwrap(), before);
        // Not retried: one request per stream at most.
        let sent = frappe.requests.lock().unwrap().len() - requests_before;
        assert!(sent <= 5, "{backend}: {sent} requests");
    })
    .await;
}

#[tokio::test]
async fn a_link_to_a_deleted_contact_leaves_its_fields_out_and_the_customer_syncs() {
    common::on_each_backend(|backend, store| async move {
        let frappe = fixture_site();
        frappe.update("Customer", "Alpen Getränke AG", |d| {
            d["customer_primary_contact"] = json!("Gone-Alpen Getränke AG");
        });
        let server = serve(&frappe).await;
        let dir = project_files();
        let report = run(dir.path(), &server.uri(), SECRET, &store).await;
        assert_eq!(report.status, RunStatus::Success, "{backend}: {report:?}");
        assert_eq!(staged_of(&report, "customers"), 3, "{backend}: {report:?}");
        assert_eq!(report.counts.quarantined, 0, "{backend}");
        let customers = store.staged(Entity::Customer).await.unwrap();
        let alpen = customers
            .iter()
            .find(|c| c.key == "Alpen Getränke AG")
            .unwrap();
        // The Contact answered 404: no phone from it; the Address still arrived.
        assert_eq!(
            common::texts(&alpen.canonical, &["phone", "city", "country"]),
            ["-", "Innsbruck", "AT"],
            "{backend}"
        );
        assert_eq!(
            frappe.doc_requests("Contact"),
            2,
            "one found, one 404, none retried"
        );
    })
    .await;
}
