//! The shipped Odoo preset (`connectors/odoo.toml` + `mappings/odoo-*.toml`) against the fake
//! Odoo of `tests/common/odoo.rs` (JSON-RPC with real domain filtering, ordering and paging),
//! holding the fixtures in `tests/fixtures/odoo/`. On SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::RunReport;
use tributary::views;

use common::odoo::{DB, KEY, Odoo, USER, serve};

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

/// The fake Odoo holding `tests/fixtures/odoo`.
fn fixture_odoo() -> Odoo {
    Odoo::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odoo"))
}

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
        let odoo = fixture_odoo();
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
        tributary::master::reconcile_master(&project_of(dir.path(), &server.uri()), &store)
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
        let odoo = fixture_odoo();
        let server = serve(&odoo).await;
        let dir = project_files();
        let report = sync_once(dir.path(), &server.uri(), "revoked-key", &store).await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        for s in &report.streams {
            let error = s.error_message().unwrap_or_default();
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
        let odoo = fixture_odoo();
        odoo.deny.store(true, AtomicOrdering::SeqCst);
        let server = serve(&odoo).await;
        let dir = project_files();
        let report = sync_once(dir.path(), &server.uri(), KEY, &store).await;
        assert_eq!(report.status, RunStatus::Failed, "{backend}");
        let error = report.streams[0].error_message().unwrap();
        assert!(
            error.contains("authentication failed")
                && error.contains("odoo.exceptions.AccessDenied"),
            "{backend}: {error}"
        );
        assert_eq!(odoo.search_reads("res.partner").len(), 1, "not retried");
    })
    .await;
}
