//! File sources end to end: a CSV with malformed rows is partly quarantined, and the credit
//! exposure of a small hand-computed fixture (two sources, three currencies, one customer known
//! under both sources by the same USCC) comes out exactly. On SQLite and PostgreSQL.

mod common;

use chrono::{NaiveDate, Utc};
use rust_decimal_macros::dec;
use tributary::config::Project;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, NoProgress, RunReport, SyncOptions};
use tributary::views;

const ERP: &str = r#"
kind = "file"
[file]
dir = "in/erp"

[[streams]]
name = "customers"
mapping = "customers"
file = { pattern = "customers*.csv", format = "csv" }

[[streams]]
name = "invoices"
mapping = "invoices"
file = { pattern = "invoices.csv", format = "csv" }

[[streams]]
name = "orders"
mapping = "orders"
file = { pattern = "orders.jsonl", format = "jsonl" }

[[streams]]
name = "payments"
mapping = "payments"
file = { pattern = "payments.csv", format = "csv" }
"#;

const DEALERS: &str = r#"
kind = "file"
[file]
dir = "in/dealers"

[[streams]]
name = "dealers"
mapping = "customers"
file = { pattern = "dealers.csv", format = "csv" }

[[streams]]
name = "invoices"
mapping = "invoices"
file = { pattern = "invoices.csv", format = "csv" }
"#;

const CUSTOMERS_MAP: &str = r#"
entity = "customer"
[fields.source_key]
path = "no"
required = true
[fields.name]
path = "name"
required = true
transforms = ["collapse_whitespace"]
[fields.tax_id]
path = "uscc"
[fields.country]
path = "country"
[fields.postal_code]
path = "postcode"
[fields.credit_limit]
path = "credit_limit"
type = "decimal"
[fields.currency]
path = "currency"
transforms = ["upper"]
"#;

const INVOICES_MAP: &str = r#"
entity = "invoice"
[fields.source_key]
path = "no"
required = true
[fields.customer_key]
path = "customer"
required = true
[fields.kind]
path = "type"
lookup = "kinds"
[fields.invoice_date]
path = "date"
type = "date"
[fields.due_date]
path = "due"
type = "date"
format = "%d.%m.%Y"
[fields.currency]
path = "currency"
[fields.total]
path = "total"
type = "decimal"
[fields.residual]
path = "open"
type = "decimal"
[lookups.kinds]
INV = "invoice"
CRN = "credit_note"
"#;

const ORDERS_MAP: &str = r#"
entity = "sales_order"
[fields.source_key]
path = "id"
[fields.customer_key]
path = "partner.code"
[fields.order_date]
path = "date"
type = "date"
[fields.status]
path = "state"
lookup = "states"
[fields.currency]
path = "currency"
[fields.total]
path = "amount_total"
type = "decimal"
[fields.lines]
path = "lines"
[fields.lines.each.sku]
path = "sku"
[fields.lines.each.quantity]
path = "qty"
type = "decimal"
[fields.lines.each.quantity_invoiced]
path = "qty_invoiced"
type = "decimal"
default = "0"
[fields.lines.each.unit_price]
path = "price"
type = "decimal"
[lookups.states]
draft = "draft"
sale = "confirmed"
done = "closed"
"#;

const PAYMENTS_MAP: &str = r#"
entity = "payment"
[fields.source_key]
path = "no"
[fields.customer_key]
path = "customer"
[fields.payment_date]
path = "date"
type = "date"
[fields.currency]
path = "currency"
[fields.amount]
path = "amount"
type = "decimal"
[fields.unapplied]
path = "unapplied"
type = "decimal"
"#;

const USCC: &str = "91350100M000100Y43";

fn fixture(customers_csv: &str) -> tempfile::TempDir {
    let dealers = format!(
        "no,name,uscc,country,postcode,credit_limit,currency\nD9,飞跃科技(深圳)有限公司,{},CN,518000,,\n",
        USCC.to_lowercase()
    );
    common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        ("connectors/erp.toml", ERP),
        ("connectors/dealers.toml", DEALERS),
        ("mappings/customers.toml", CUSTOMERS_MAP),
        ("mappings/invoices.toml", INVOICES_MAP),
        ("mappings/orders.toml", ORDERS_MAP),
        ("mappings/payments.toml", PAYMENTS_MAP),
        ("in/erp/customers.csv", customers_csv),
        (
            "in/erp/invoices.csv",
            "no,customer,type,date,due,currency,total,open\n\
             INV1,C1,INV,2026-11-10,10.12.2026,CNY,100000,100000\n\
             INV2,C1,INV,2026-10-08,07.11.2026,USD,10000,4000\n\
             INV3,C1,INV,2026-07-20,19.08.2026,CNY,12345.67,12345.67\n\
             CN1,C1,CRN,2026-11-01,22.11.2026,CNY,2000,2000\n\
             INV4,C1,INV,2026-06-01,01.07.2026,CNY,5000,0\n\
             INV5,C2,INV,2026-11-01,01.12.2026,CNY,800,800\n",
        ),
        (
            "in/erp/orders.jsonl",
            concat!(
                r#"{"id":"SO1","partner":{"code":"C1"},"date":"2026-11-02","state":"sale","currency":"USD","amount_total":1130,"lines":[{"sku":"A","qty":10,"qty_invoiced":3,"price":60},{"sku":"B","qty":4,"price":100}]}"#,
                "\n",
                r#"{"id":"SO2","partner":{"code":"C1"},"date":"2026-11-03","state":"draft","currency":"CNY","amount_total":50000,"lines":[]}"#,
                "\n",
                r#"{"id":"SO3","partner":{"code":"C1"},"date":"2026-11-04","state":"sale","currency":"CNY","amount_total":"20000","lines":[{"sku":"C","qty":"2","price":"10000"}]}"#,
                "\n"
            ),
        ),
        (
            "in/erp/payments.csv",
            "no,customer,date,currency,amount,unapplied\nP1,C1,2026-11-15,USD,5000,1500\nP2,C1,2026-11-16,CNY,3000,0\n",
        ),
        ("in/dealers/dealers.csv", &dealers),
        (
            "in/dealers/invoices.csv",
            "no,customer,type,date,due,currency,total,open\nDI1,D9,INV,2026-09-01,01.10.2026,EUR,1000,1000\n",
        ),
    ])
}

const CUSTOMERS: &str = "no,name,uscc,country,postcode,credit_limit,currency\n\
    C1,Feiyue Technology Co.  Ltd.,91350100M000100Y43,CN,518000,500000,cny\n\
    C2,Acme GmbH,,DE,10115,10000,EUR\n";

async fn sync_all(project: &Project, store: &Store) -> Vec<RunReport> {
    let mappings = project.compile_mappings().unwrap();
    let mut out = vec![];
    for c in project.connectors.values() {
        out.push(
            sync::run_connector(
                project,
                &mappings,
                store,
                c,
                &SyncOptions::default(),
                &NoProgress,
            )
            .await
            .unwrap(),
        );
    }
    tributary::master::reconcile_master(project, store)
        .await
        .unwrap();
    out
}

#[tokio::test]
async fn exposure_of_the_hand_computed_fixture_is_exact() {
    common::on_each_backend(|backend, store| async move {
        let dir = fixture(CUSTOMERS);
        let project = common::load(dir.path(), &[]);
        let reports = sync_all(&project, &store).await;
        assert!(
            reports.iter().all(|r| r.status == RunStatus::Success),
            "{backend}: {reports:?}"
        );

        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let all = views::exposures(&project, &store, today, Utc::now())
            .await
            .unwrap();
        assert_eq!(
            all.len(),
            2,
            "{backend}: C1 and D9 are one master, C2 another: {all:#?}"
        );
        let e = all
            .values()
            .find(|e| e.open_orders > dec!(0))
            .expect("the Feiyue master");

        // Receivables (CNY): 100000 (not due) + 4000 USD × 7.10 = 28400 (15 days overdue)
        // + 12345.67 (95 days) − 2000 credit note (due today: not due) + 1000 EUR × 7.80 = 7800
        // (dealer invoice, 52 days) = 146545.67; INV4 is paid.
        assert_eq!(e.open_receivables, dec!(146545.67), "{backend}");
        assert_eq!(e.aging.not_due, dec!(98000.00));
        assert_eq!(e.aging.d1_30, dec!(28400.00));
        assert_eq!(e.aging.d31_60, dec!(7800.00));
        assert_eq!(e.aging.d61_90, dec!(0));
        assert_eq!(e.aging.over_90, dec!(12345.67));
        // Open orders: SO1 net 1000 USD of which 180 invoiced (18 %) → 1130 − 203.40 = 926.60 USD
        // × 7.10 = 6578.86; SO3 20000 CNY not invoiced; SO2 is a draft → 26578.86.
        assert_eq!(e.open_orders, dec!(26578.86), "{backend}");
        // Unapplied: 1500 USD × 7.10 = 10650.
        assert_eq!(e.unapplied_payments, dec!(10650.00));
        assert_eq!(e.exposure, dec!(162474.53));
        assert_eq!(e.credit_limit, Some(dec!(500000)));
        assert_eq!(e.available, Some(dec!(337525.47)));
        assert_eq!(e.utilization_pct, Some(dec!(32.49)));
        let sources: Vec<&str> = e.sources.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(sources, ["dealers", "erp"]);
        assert!(
            e.sources
                .iter()
                .all(|s| s.last_synced_at.is_some() && !s.stale)
        );

        let json = serde_json::to_value(e).unwrap();
        for key in [
            "master_id",
            "name",
            "currency",
            "credit_limit",
            "open_receivables",
            "open_orders",
            "unapplied_payments",
            "exposure",
            "available",
            "utilization_pct",
            "aging",
            "sources",
        ] {
            assert!(json.get(key).is_some(), "the JSON contract lacks `{key}`");
        }
        assert_eq!(json["exposure"], "162474.53");
        assert_eq!(json["aging"]["over_90"], "12345.67");
        assert_eq!(json["currency"], "CNY");

        // The other customer: 800 CNY open, limit 10000 EUR = 78000 CNY.
        let acme = all.values().find(|x| x.name == "Acme GmbH").unwrap();
        assert_eq!(acme.exposure, dec!(800));
        assert_eq!(acme.credit_limit, Some(dec!(78000.00)));
        assert_eq!(acme.utilization_pct, Some(dec!(1.03)));
    })
    .await;
}

#[tokio::test]
async fn malformed_csv_rows_are_quarantined_and_the_rest_staged() {
    common::on_each_backend(|backend, store| async move {
        let csv = format!(
            "{CUSTOMERS}C3,Too,Many,Fields,CN,1,2,3,4\nC4,,,CN,100000,1000,CNY\nC5,Bad Limit Co,,CN,200000,12.5O,CNY\nC6,Fine Co,,CN,300000,,\n"
        );
        let dir = fixture(&csv);
        let project = common::load(dir.path(), &[]);
        let reports = sync_all(&project, &store).await;
        let erp = reports.iter().find(|r| r.connector == "erp").unwrap();
        assert_eq!(erp.status, RunStatus::Partial, "{backend}: quarantine makes a run partial");
        let customers = erp.streams.iter().find(|s| s.stream == "customers").unwrap();
        assert_eq!(customers.counts.fetched, 6, "{backend}");
        assert_eq!(customers.counts.staged, 3, "{backend}: C1, C2, C6");
        assert_eq!(customers.counts.quarantined, 3, "{backend}");

        let q = store.quarantine(Some("erp"), 10).await.unwrap();
        assert_eq!(q.len(), 3, "{backend}: {q:#?}");
        let by_key = |k: &str| q.iter().find(|r| r.key == k).unwrap_or_else(|| panic!("{k} not quarantined: {q:#?}"));
        let c4 = by_key("C4");
        assert!(c4.reason.contains("name"), "{}", c4.reason);
        assert_eq!(c4.stream, "customers");
        assert_eq!(c4.payload["no"], "C4", "the raw payload is kept");
        let c5 = by_key("C5");
        assert!(c5.reason.contains("credit_limit") && c5.reason.contains("12.5O"), "{}", c5.reason);
        let extra = q.iter().find(|r| r.locator.contains("customers.csv:4")).expect("the row with too many fields");
        assert!(!extra.reason.is_empty());

        // Running again changes nothing: staged records are unchanged, no new quarantine.
        let again = sync_all(&project, &store).await;
        let erp = again.iter().find(|r| r.connector == "erp").unwrap();
        assert_eq!(erp.counts.staged, 0, "{backend}: {erp:?}");
    })
    .await;
}

/// A source that renames a field: the run summary reports the drift, and the records whose
/// mapping now misses a required field are quarantined with the reason, not dropped.
#[tokio::test]
async fn a_renamed_source_field_is_reported_as_drift_and_its_records_quarantined() {
    common::on_each_backend(|backend, store| async move {
        let dir = fixture(CUSTOMERS);
        let project = common::load(dir.path(), &[]);
        let first = sync_all(&project, &store).await;
        assert!(
            first
                .iter()
                .flat_map(|r| &r.streams)
                .all(|s| s.drift.is_empty()),
            "{backend}: a first run has nothing to compare with"
        );

        // The dealer system renames `name` to `dealer_name` and adds `tier`.
        std::fs::write(
            dir.path().join("in/dealers/dealers.csv"),
            "no,dealer_name,uscc,country,postcode,credit_limit,currency,tier\n\
             D9,Fujian Feiyue,91350100M000100Y43,CN,350001,,CNY,gold\n",
        )
        .unwrap();
        let second = sync_all(&project, &store).await;
        let run = second.iter().find(|r| r.connector == "dealers").unwrap();
        let dealers = run.streams.iter().find(|s| s.stream == "dealers").unwrap();
        assert_eq!(dealers.drift.added, ["dealer_name", "tier"], "{backend}");
        assert_eq!(dealers.drift.missing, ["name"], "{backend}");
        assert_eq!(dealers.counts.quarantined, 1, "{backend}");
        assert_eq!(run.status, RunStatus::Partial, "{backend}");
        let invoices = run.streams.iter().find(|s| s.stream == "invoices").unwrap();
        assert!(
            invoices.drift.is_empty(),
            "{backend}: untouched streams have no drift"
        );
        let q = store.quarantine(Some("dealers"), 10).await.unwrap();
        assert!(q[0].reason.contains("`name`"), "{backend}: {}", q[0].reason);
    })
    .await;
}

/// `--full` on one stream reads that stream again from the start (everything unchanged, nothing
/// duplicated) and leaves the other streams' cursors alone.
#[tokio::test]
async fn a_full_resync_of_one_stream_leaves_the_others_alone() {
    common::on_each_backend(|backend, store| async move {
        let dir = fixture(CUSTOMERS);
        let project = common::load(dir.path(), &[]);
        sync_all(&project, &store).await;
        let customers_cursor = store.cursor("erp", "customers").await.unwrap();
        let mappings = project.compile_mappings().unwrap();
        let options = SyncOptions {
            streams: vec!["invoices".into()],
            full: true,
            ..Default::default()
        };
        let report = sync::run_connector(
            &project,
            &mappings,
            &store,
            &project.connectors["erp"],
            &options,
            &NoProgress,
        )
        .await
        .unwrap();
        assert_eq!(
            report.streams.len(),
            1,
            "{backend}: only the named stream runs"
        );
        assert_eq!(report.counts.fetched, 6, "{backend}: invoices read again");
        assert_eq!(report.counts.unchanged, 6, "{backend}: nothing duplicated");
        assert_eq!(report.counts.staged, 0, "{backend}");
        assert_eq!(
            store.cursor("erp", "customers").await.unwrap(),
            customers_cursor,
            "{backend}: other cursors untouched"
        );
        let again = sync_all(&project, &store).await;
        let erp = again.iter().find(|r| r.connector == "erp").unwrap();
        assert_eq!(
            erp.counts.fetched, 0,
            "{backend}: every cursor is at the end again"
        );
    })
    .await;
}
