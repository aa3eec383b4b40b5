//! The `sql` kind end to end: an "ERP database" in PostgreSQL with customers and invoices,
//! a connector with two streams and their mappings, `run_connector` into the store (SQLite
//! and PostgreSQL). A second run stages nothing; one updated row is restaged alone.
//!
//! The ERP database is a scratch database in the server named by `TRIBUTARY_TEST_PG_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped afterwards. When the
//! server is unreachable the test fails with the command to start it, unless
//! `TRIBUTARY_SKIP_PG=1`.

mod common;

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, NoProgress, RunReport, SyncOptions};

const CONNECTOR: &str = r#"
kind = "sql"
description = "The ERP's own PostgreSQL database, read-only"
[sql]
url = "${ERP_DB_URL}"
max_connections = 1

[[streams]]
name = "customers"
mapping = "erp-customers"
[streams.sql]
query = "SELECT id, name, vat, write_date FROM customers WHERE active"
cursor = "write_date"
key = "id"
batch_size = 2
timezone = "UTC"

[[streams]]
name = "invoices"
mapping = "erp-invoices"
[streams.sql]
query = """
SELECT i.id, i.partner_id, i.name, i.invoice_date, i.invoice_date_due, i.currency,
       i.amount_total, i.amount_residual, i.write_date
  FROM invoices i
 WHERE i.state = 'posted' AND i.amount_residual <> 0
"""
cursor = "write_date"
key = "id"
"#;

const CUSTOMERS: &str = r#"
entity = "customer"
[fields.source_key]
path = "id"
required = true
[fields.name]
path = "name"
[fields.tax_id]
path = "vat"
[fields.updated_at]
path = "write_date"
type = "datetime"
"#;

const INVOICES: &str = r#"
entity = "invoice"
[fields.source_key]
path = "id"
required = true
[fields.customer_key]
path = "partner_id"
[fields.number]
path = "name"
[fields.invoice_date]
path = "invoice_date"
type = "date"
[fields.due_date]
path = "invoice_date_due"
type = "date"
[fields.currency]
path = "currency"
[fields.total]
path = "amount_total"
type = "decimal"
[fields.residual]
path = "amount_residual"
type = "decimal"
"#;

const ERP_SCHEMA: &[&str] = &[
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, vat VARCHAR(32),
     active BOOLEAN NOT NULL DEFAULT TRUE, write_date TIMESTAMP NOT NULL)",
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, partner_id INTEGER NOT NULL REFERENCES customers,
     name VARCHAR(32) NOT NULL, state VARCHAR(16) NOT NULL, invoice_date DATE NOT NULL,
     invoice_date_due DATE NOT NULL, currency CHAR(3) NOT NULL, amount_total NUMERIC(16,2) NOT NULL,
     amount_residual NUMERIC(16,2) NOT NULL, write_date TIMESTAMP NOT NULL)",
    "INSERT INTO customers VALUES
     (1, '深圳市飞跃科技有限公司', '91440300MA5EXAMPLE', TRUE, '2026-11-01 08:00:00'),
     (2, 'Acme GmbH', 'DE123456789', TRUE, '2026-11-01 08:00:00'),
     (3, 'Globex Inc.', NULL, TRUE, '2026-11-01 08:00:00'),
     (4, 'Archived Ltd', NULL, FALSE, '2026-11-01 08:00:00')",
    "INSERT INTO invoices VALUES
     (10, 1, 'INV/2026/0010', 'posted', '2026-10-01', '2026-10-31', 'CNY', 12345.67, 12345.67, '2026-11-01 09:00:00'),
     (11, 2, 'INV/2026/0011', 'posted', '2026-10-05', '2026-11-04', 'EUR', 1000.00, 250.50, '2026-11-01 09:00:00'),
     (12, 2, 'INV/2026/0012', 'posted', '2026-10-06', '2026-11-05', 'EUR', 80.00, 0.00, '2026-11-01 09:00:00'),
     (13, 3, 'INV/2026/0013', 'draft', '2026-10-07', '2026-11-06', 'USD', 99.00, 99.00, '2026-11-01 09:00:00')",
];

fn admin_url() -> String {
    std::env::var("TRIBUTARY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn exec(url: &str, statements: &[&str]) {
    let mut c = PgConnection::connect(url).await.expect("connect");
    for s in statements {
        c.execute(AssertSqlSafe(s.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    c.close().await.ok();
}

async fn sync_once(root: &std::path::Path, erp_url: &str, store: &Store) -> RunReport {
    let project = common::load(root, &[("ERP_DB_URL", erp_url)]);
    let mappings = project.compile_mappings().unwrap();
    sync::run_connector(
        &project,
        &mappings,
        store,
        &project.connectors["erp-db"],
        &SyncOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_erp_database_is_synced_incrementally() {
    let admin = admin_url();
    if let Err(e) = PgConnection::connect(&admin).await {
        if std::env::var("TRIBUTARY_SKIP_PG").as_deref() == Ok("1") {
            eprintln!("skipping: PostgreSQL unreachable ({e})");
            return;
        }
        panic!(
            "PostgreSQL at {admin} is unreachable ({e}): start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or set TRIBUTARY_SKIP_PG=1"
        );
    }
    common::on_each_backend(|backend, store| {
        let admin = admin.clone();
        async move {
            let name = format!(
                "trib_erp_{}_{}",
                std::process::id(),
                backend.replace(|c: char| !c.is_ascii_alphanumeric(), "")
            );
            exec(
                &admin,
                &[
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    &format!("CREATE DATABASE {name}"),
                ],
            )
            .await;
            let erp = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
            let outcome = AssertUnwindSafe(scenario(&backend, &erp, &store))
                .catch_unwind()
                .await;
            exec(
                &admin,
                &[&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
            )
            .await;
            if let Err(panic) = outcome {
                std::panic::resume_unwind(panic);
            }
        }
    })
    .await;
}

async fn scenario(backend: &str, erp: &str, store: &Store) {
    exec(erp, ERP_SCHEMA).await;
    let dir = common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        ("connectors/erp-db.toml", CONNECTOR),
        ("mappings/erp-customers.toml", CUSTOMERS),
        ("mappings/erp-invoices.toml", INVOICES),
    ]);

    let first = sync_once(dir.path(), erp, store).await;
    assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
    assert_eq!(
        (first.counts.fetched, first.counts.staged),
        (5, 5),
        "{backend}: 3 active customers and 2 open invoices"
    );
    let customers = store.staged(Entity::Customer).await.unwrap();
    let keys: Vec<&str> = customers.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["1", "2", "3"], "{backend}");
    assert_eq!(customers[0].canonical["name"], "深圳市飞跃科技有限公司");
    let invoices = store.staged(Entity::Invoice).await.unwrap();
    assert_eq!(invoices.len(), 2, "{backend}");
    assert_eq!(invoices[0].key, "10");
    assert_eq!(invoices[0].customer_key.as_deref(), Some("1"));
    assert_eq!(invoices[0].canonical["total"], "12345.67");
    assert_eq!(invoices[1].canonical["residual"], "250.50");

    // Nothing changed in the ERP: nothing is read, nothing staged.
    let second = sync_once(dir.path(), erp, store).await;
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(
        (second.counts.fetched, second.counts.staged),
        (0, 0),
        "{backend}"
    );

    // One customer renamed (Odoo moves write_date): exactly that row is restaged.
    exec(
        erp,
        &["UPDATE customers SET name = 'Acme Deutschland GmbH', write_date = '2026-11-02 10:00:00' WHERE id = 2"],
    )
    .await;
    let third = sync_once(dir.path(), erp, store).await;
    assert_eq!(third.status, RunStatus::Success);
    assert_eq!(
        (third.counts.fetched, third.counts.staged),
        (1, 1),
        "{backend}"
    );
    let renamed = store.staged(Entity::Customer).await.unwrap();
    assert_eq!(renamed[1].canonical["name"], "Acme Deutschland GmbH");
    assert_eq!(renamed[1].run, third.run);
}

fn shipped_project_with(connector: &str) -> tempfile::TempDir {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(String, String)> = vec![(
        "config/tributary.toml".into(),
        std::fs::read_to_string(root.join("config/tributary.toml")).unwrap(),
    )];
    for entry in std::fs::read_dir(root.join("mappings")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push((
                format!("mappings/{}", path.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
    files.push(("connectors/erp.toml".into(), connector.to_string()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    common::project_dir(&refs)
}

#[test]
fn the_sql_connector_example_validates_in_place_of_the_file_connector() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example =
        std::fs::read_to_string(root.join("examples/connectors/erp-sql.toml.example")).unwrap();
    let dir = shipped_project_with(&example);
    let project = common::load(
        dir.path(),
        &[("ERP_DB_URL", "postgres://tributary_ro:pw@odoo-db/odoo")],
    );
    let erp = &project.connectors["erp"].config;
    assert_eq!(
        erp.sql().unwrap().url,
        "postgres://tributary_ro:pw@odoo-db/odoo"
    );
    let streams: Vec<&str> = erp.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(streams, ["customers", "invoices"]);
    project.compile_mappings().unwrap();
    // Without its variable, the example names what is missing.
    let errors = tributary::config::Project::load_with_env(dir.path(), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(errors.contains("ERP_DB_URL"), "{errors}");
}

#[test]
fn check_refuses_clear_passwords_and_queries_that_are_not_one_select() {
    let bad = r#"
kind = "sql"
[sql]
url = "postgres://odoo:hunter2@db/odoo"

[[streams]]
name = "customers"
mapping = "erp-customers"
[streams.sql]
query = "SELECT id, write_date FROM res_partner ORDER BY write_date"
cursor = "write_date"
key = "id"

[[streams]]
name = "invoices"
mapping = "erp-invoices"
[streams.sql]
query = "DELETE FROM account_move"
cursor = "write_date"
key = "id"
"#;
    let dir = shipped_project_with(bad);
    let errors = tributary::config::Project::load_with_env(dir.path(), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("connectors/erp.toml:4")
            && errors.contains("never written in config files"),
        "{errors}"
    );
    assert!(errors.contains("remove `ORDER`"), "{errors}");
    assert!(errors.contains("not DELETE"), "{errors}");
    assert!(!errors.contains("hunter2"), "{errors}");
}

/// Just enough of Odoo's schema for the example connector's queries.
const ODOO_SCHEMA: &[&str] = &[
    "CREATE TABLE res_country (id SERIAL PRIMARY KEY, code VARCHAR(2) NOT NULL)",
    "CREATE TABLE res_country_state (id SERIAL PRIMARY KEY, code VARCHAR NOT NULL)",
    "CREATE TABLE res_currency (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL)",
    "CREATE TABLE res_partner (id SERIAL PRIMARY KEY, name VARCHAR, vat VARCHAR,
     country_id INTEGER REFERENCES res_country, state_id INTEGER REFERENCES res_country_state,
     city VARCHAR, zip VARCHAR, street VARCHAR, phone VARCHAR, email VARCHAR,
     parent_id INTEGER REFERENCES res_partner, active BOOLEAN, customer_rank INTEGER,
     write_date TIMESTAMP)",
    "CREATE TABLE account_move (id SERIAL PRIMARY KEY, commercial_partner_id INTEGER REFERENCES res_partner,
     name VARCHAR, move_type VARCHAR NOT NULL, invoice_date DATE, invoice_date_due DATE,
     currency_id INTEGER NOT NULL REFERENCES res_currency, amount_total NUMERIC, amount_residual NUMERIC,
     invoice_origin VARCHAR, state VARCHAR NOT NULL, write_date TIMESTAMP)",
    "INSERT INTO res_country (id, code) VALUES (1, 'CN'), (2, 'DE')",
    "INSERT INTO res_country_state (id, code) VALUES (1, 'GD')",
    "INSERT INTO res_currency (id, name) VALUES (1, 'CNY'), (2, 'EUR')",
    "INSERT INTO res_partner VALUES
     (7, '深圳市飞跃科技有限公司', '91440300MA5EXAMPLE', 1, 1, '深圳', '518000', '科技园路 1 号', NULL, NULL, NULL, TRUE, 3, '2026-11-01 08:00:00'),
     (8, 'Acme GmbH', 'DE123456789', 2, NULL, 'Berlin', '10115', 'Hauptstr. 1', '+49 30 1234567', 'ap@acme.example', NULL, TRUE, 1, '2026-11-01 08:00:00'),
     (9, 'A vendor only', NULL, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, TRUE, 0, '2026-11-01 08:00:00')",
    "INSERT INTO account_move VALUES
     (100, 7, 'INV/2026/00100', 'out_invoice', '2026-10-01', '2026-10-31', 1, 12345.67, 2345.67, 'S00042', 'posted', '2026-11-01 09:00:00'),
     (101, 8, 'RINV/2026/00001', 'out_refund', '2026-10-02', '2026-10-02', 2, 50.00, 50.00, NULL, 'posted', '2026-11-01 09:00:00'),
     (102, 8, 'BILL/2026/00001', 'in_invoice', '2026-10-03', '2026-11-02', 2, 70.00, 70.00, NULL, 'posted', '2026-11-01 09:00:00')",
];

#[tokio::test]
async fn the_odoo_example_reads_an_odoo_shaped_database_with_the_shipped_mappings() {
    let admin = admin_url();
    if let Err(e) = PgConnection::connect(&admin).await {
        if std::env::var("TRIBUTARY_SKIP_PG").as_deref() == Ok("1") {
            eprintln!("skipping: PostgreSQL unreachable ({e})");
            return;
        }
        panic!(
            "PostgreSQL at {admin} is unreachable ({e}): start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, or set TRIBUTARY_SKIP_PG=1"
        );
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example =
        std::fs::read_to_string(root.join("examples/connectors/erp-sql.toml.example")).unwrap();
    let name = format!("trib_odoo_{}", std::process::id());
    exec(
        &admin,
        &[
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            &format!("CREATE DATABASE {name}"),
        ],
    )
    .await;
    let odoo = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let outcome = AssertUnwindSafe(async {
        exec(&odoo, ODOO_SCHEMA).await;
        let dir = shipped_project_with(&example);
        let store = Store::connect(&format!("sqlite://{}/data/store.db", dir.path().display()))
            .await
            .unwrap();
        let project = common::load(dir.path(), &[("ERP_DB_URL", &odoo)]);
        let mappings = project.compile_mappings().unwrap();
        let run = |store: Store| {
            let (project, mappings) = (&project, &mappings);
            async move {
                sync::run_connector(
                    project,
                    mappings,
                    &store,
                    &project.connectors["erp"],
                    &SyncOptions::default(),
                    &NoProgress,
                )
                .await
                .unwrap()
            }
        };
        let first = run(store.clone()).await;
        assert_eq!(first.status, RunStatus::Success, "{first:?}");
        assert_eq!((first.counts.fetched, first.counts.staged), (4, 4));
        let customers = store.staged(Entity::Customer).await.unwrap();
        assert_eq!(customers.len(), 2);
        assert_eq!(customers[0].key, "7");
        assert_eq!(customers[0].canonical["country"], "CN");
        assert_eq!(customers[0].canonical["active"], true);
        let invoices = store.staged(Entity::Invoice).await.unwrap();
        let kinds: Vec<(&str, &Value)> = invoices
            .iter()
            .map(|r| (r.key.as_str(), &r.canonical["kind"]))
            .collect();
        assert_eq!(
            kinds,
            [("100", &json!("invoice")), ("101", &json!("credit_note"))]
        );
        assert_eq!(invoices[0].canonical["residual"], "2345.67");
        // The look-back re-reads the newest rows; nothing is staged again.
        let second = run(store.clone()).await;
        assert_eq!(second.status, RunStatus::Success);
        assert_eq!(second.counts.staged, 0);
    })
    .catch_unwind()
    .await;
    exec(
        &admin,
        &[&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
    )
    .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
