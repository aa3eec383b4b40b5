//! The `sap-idoc` preset end to end: the shipped connector and mappings, copied with IDoc
//! fixtures (DEBMAS07, ORDERS05, INVOIC02) into a temporary project, synced directly (the
//! preset is disabled), then a second run, a rewritten file, a malformed IDoc, an entity
//! bomb, and the master and credit exposure of one customer. On SQLite and PostgreSQL.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use rust_decimal_macros::dec;
use serde_json::Value;
use tributary::config::Project;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, RunReport};
use tributary::views;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

const DEBMAS: &str = "DEBMAS07_20261120_0001.xml";
const ORDERS: &str = "ORDERS05_20261120_0001.xml";
const INVOIC: &str = "INVOIC02_20261120_0001.xml";

/// The preset, its mappings, the fixtures (in `idoc/`) and the test settings.
fn project_dir() -> tempfile::TempDir {
    let dir = common::preset_project("sap-idoc", "sap-idoc-", common::SETTINGS, |c| c);
    fs::create_dir_all(dir.path().join("idoc")).unwrap();
    for f in [DEBMAS, ORDERS, INVOIC] {
        fs::write(
            dir.path().join("idoc").join(f),
            read(&format!("tests/fixtures/sap-idoc/{f}")),
        )
        .unwrap();
    }
    dir
}

fn load(dir: &Path) -> Project {
    common::load(dir, &[("SAP_IDOC_DIR", "idoc")])
}

async fn sync_preset(project: &Project, store: &Store) -> RunReport {
    assert!(
        !project.connectors["sap-idoc"].config.enabled,
        "the preset ships disabled"
    );
    common::run_connector(project, store, "sap-idoc").await
}

fn stream<'a>(r: &'a RunReport, name: &str) -> &'a sync::StreamReport {
    r.streams.iter().find(|s| s.stream == name).unwrap()
}

async fn staged(store: &Store, entity: tributary::model::Entity) -> Vec<Value> {
    store
        .staged(entity)
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.canonical)
        .collect()
}

#[tokio::test]
async fn the_preset_syncs_the_idoc_fixtures() {
    common::on_each_backend(|backend, store| async move {
        let dir = project_dir();
        let project = load(dir.path());
        let report = sync_preset(&project, &store).await;
        for s in &report.streams {
            eprintln!(
                "{backend}: stream {} fetched {} staged {} quarantined {} ({:?} for the run)",
                s.stream, s.counts.fetched, s.counts.staged, s.counts.quarantined, report.elapsed
            );
        }
        assert_eq!(report.status, RunStatus::Success, "{backend}: {report:?}");
        assert_eq!(stream(&report, "debmas").counts.staged, 2, "{backend}");
        assert_eq!(stream(&report, "orders").counts.staged, 1, "{backend}");
        assert_eq!(stream(&report, "invoices").counts.staged, 2, "{backend}");
        assert_eq!(report.counts.quarantined, 0, "{backend}");

        let customers = staged(&store, tributary::model::Entity::Customer).await;
        let active = customers
            .iter()
            .find(|c| c["source_key"] == "0000100001")
            .expect("customer 100001");
        assert_eq!(active["name"], "Rheinwerk Pumpen GmbH");
        assert_eq!(active["tax_id"], "DE123456789");
        assert_eq!(active["currency"], "EUR");
        assert_eq!(active["payment_terms_days"], 30);
        assert_eq!(active["active"], true);
        // Every matching field E1KNA1M holds; DEBMAS carries no e-mail.
        assert_eq!(
            common::texts(active, &common::CONTACT_FIELDS),
            ["Hohe Straße 12", "Köln", "50667", "05", "DE", "+49 221 555 0100", "-",
             "www.rheinwerk-pumpen.example"],
            "{backend}"
        );
        let deleted = customers
            .iter()
            .find(|c| c["source_key"] == "0000100002")
            .expect("the deleted customer is staged, not skipped");
        assert_eq!(deleted["active"], false, "{backend}: LOEVM = X");
        assert_eq!(deleted["payment_terms_days"], 0);

        let orders = staged(&store, tributary::model::Entity::SalesOrder).await;
        assert_eq!(orders[0]["customer_key"], "0000100001");
        assert_eq!(orders[0]["order_date"], "2026-11-18");
        assert_eq!(orders[0]["lines"][1]["sku"], "SEAL-7");
        let invoices = staged(&store, tributary::model::Entity::Invoice).await;
        let inv = invoices
            .iter()
            .find(|i| i["source_key"] == "0090001234")
            .unwrap();
        assert_eq!(inv["due_date"], "2026-10-31");
        assert_eq!(inv["total"], "1666.00");

        // A second run reads nothing new and stages nothing.
        let again = sync_preset(&project, &store).await;
        assert_eq!(again.status, RunStatus::Success);
        assert_eq!(again.counts.staged, 0, "{backend}: {:?}", again.counts);
        assert_eq!(again.counts.fetched, 0, "{backend}: unchanged files are skipped");

        // The port rewrites the customer file with one more IDoc: read again, only the new
        // customer is staged.
        let path = dir.path().join("idoc").join(DEBMAS);
        let text = fs::read_to_string(&path).unwrap();
        let extra = r#"  <IDOC BEGIN="1">
    <E1KNA1M SEGMENT="1"><KUNNR>0000100003</KUNNR><NAME1>Nordsee Armaturen AG</NAME1><LAND1>DE</LAND1></E1KNA1M>
  </IDOC>
</DEBMAS07>"#;
        fs::write(&path, text.replace("</DEBMAS07>", extra)).unwrap();
        let third = sync_preset(&project, &store).await;
        let debmas = stream(&third, "debmas");
        assert_eq!(
            (debmas.counts.fetched, debmas.counts.staged, debmas.counts.unchanged),
            (3, 1, 2),
            "{backend}"
        );

        // A malformed IDoc in a new file is quarantined; the good one next to it is staged.
        fs::write(
            dir.path().join("idoc/DEBMAS07_20261121_0002.xml"),
            "<DEBMAS07>\n<IDOC BEGIN=\"1\"><E1KNA1M><KUNNR>0000100004</KUNNR><NAME1>Broken</NAME2></E1KNA1M></IDOC>\n\
             <IDOC BEGIN=\"1\"><E1KNA1M><KUNNR>0000100005</KUNNR><NAME1>Fine Ltd</NAME1></E1KNA1M></IDOC>\n</DEBMAS07>\n",
        )
        .unwrap();
        let fourth = sync_preset(&project, &store).await;
        let debmas = stream(&fourth, "debmas");
        assert_eq!(
            (debmas.counts.staged, debmas.counts.quarantined),
            (1, 1),
            "{backend}"
        );
        let q = store.quarantine(Some("sap-idoc"), 10).await.unwrap();
        assert_eq!(
            q[0].locator, "DEBMAS07_20261121_0002.xml:record 1 (line 2)",
            "{backend}"
        );
        assert!(q[0].reason.contains("found </NAME2>"), "{}", q[0].reason);
    })
    .await;
}

#[tokio::test]
async fn an_entity_bomb_is_refused_with_a_clear_error() {
    common::on_each_backend(|backend, store| async move {
        let dir = project_dir();
        fs::write(
            dir.path().join("idoc/DEBMAS07_bomb.xml"),
            concat!(
                "<?xml version=\"1.0\"?>\n",
                "<!DOCTYPE DEBMAS07 [\n",
                " <!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n",
                " <!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n",
                " <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n",
                " <!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n",
                "]>\n",
                "<DEBMAS07><IDOC><E1KNA1M><KUNNR>1</KUNNR><NAME1>&d;&d;&d;&d;</NAME1></E1KNA1M></IDOC></DEBMAS07>\n"
            ),
        )
        .unwrap();
        let project = load(dir.path());
        let report = sync_preset(&project, &store).await;
        let debmas = stream(&report, "debmas");
        let error = debmas.error_message().expect("the stream fails");
        assert!(
            error.contains("DEBMAS07_bomb.xml: line 2") && error.contains("DOCTYPE"),
            "{backend}: {error}"
        );
        // The other streams are not affected.
        assert!(stream(&report, "orders").error.is_none());
        assert_eq!(stream(&report, "invoices").counts.staged, 2);
    })
    .await;
}

#[tokio::test]
async fn master_and_exposure_of_a_sap_customer_are_exact() {
    common::on_each_backend(|backend, store| async move {
        let dir = project_dir();
        let project = load(dir.path());
        let report = sync_preset(&project, &store).await;
        assert_eq!(report.status, RunStatus::Success, "{backend}");
        tributary::master::reconcile_master(&project, &store)
            .await
            .unwrap();
        let master = store.load_master().await.unwrap();
        let id = master
            .xrefs
            .iter()
            .find(|x| x.source == "sap-idoc" && x.key == "0000100001")
            .map(|x| x.master_id.clone())
            .expect("a master for customer 100001");
        let golden = &master
            .masters
            .iter()
            .find(|m| m.master_id == id)
            .unwrap()
            .golden;
        assert_eq!(golden["name"], "Rheinwerk Pumpen GmbH", "{backend}");
        assert_eq!(golden["tax_id"], "DE123456789");
        assert_eq!(golden["country"], "DE");

        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let all = views::exposures(&project, &store, today, Utc::now())
            .await
            .unwrap();
        let e = &all[&id];
        // Invoice 0090001234: 1666.00 EUR × 7.80 = 12994.80, due 2026-10-31 (22 days overdue);
        // credit memo 0070000077: 119.00 EUR × 7.80 = 928.20, due 2026-11-15 (7 days):
        // receivables 12066.60, all in 1–30 days.
        assert_eq!(e.open_receivables, dec!(12066.60), "{backend}");
        assert_eq!(e.aging.d1_30, dec!(12066.60), "{backend}");
        assert_eq!(e.aging.not_due, dec!(0));
        // Order 0000004500: 1400.00 EUR confirmed, nothing invoiced on its lines: 10920.00.
        assert_eq!(e.open_orders, dec!(10920.00), "{backend}");
        assert_eq!(e.unapplied_payments, dec!(0));
        assert_eq!(e.exposure, dec!(22986.60), "{backend}");
        assert_eq!(e.credit_limit, None);
    })
    .await;
}
