//! `tributary check --environment`: after the static check, every enabled connector is reached
//! (the fake Odoo logged in to, a folder listed) and the store connected to, one line each; a
//! wrong key or a missing folder fails the check with exit code 1 and the reason.

mod common;

use std::path::Path;
use std::process::Output;

use common::odoo::{DB, KEY, Odoo, USER, serve};

const SETTINGS: &str = r#"
[store]
url = "sqlite://data/check.db"
[currency]
base = "EUR"
[currency.rates]
USD = "0.92"
"#;

/// A folder connector beside the Odoo preset, reading `inbox/`.
const UPLOADS: &str = r#"
kind = "file"
[file]
dir = "inbox"

[[streams]]
name = "customers"
mapping = "odoo-customers"
file = { pattern = "*.jsonl", format = "jsonl" }
"#;

async fn check_environment(root: &Path, url: &str, key: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(["check", "--environment"])
        .env("TRIBUTARY_ROOT", root)
        .env_remove("TRIBUTARY__STORE__URL")
        .env("ODOO_URL", url)
        .env("ODOO_DB", DB)
        .env("ODOO_USER", USER)
        .env("ODOO_API_KEY", key)
        .output()
        .await
        .expect("the binary runs")
}

#[tokio::test]
async fn every_enabled_connector_and_the_store_are_reached_and_failures_named() {
    let odoo = Odoo::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odoo"));
    let server = serve(&odoo).await;
    let dir = common::preset_project("odoo", "odoo-", SETTINGS, |preset| {
        preset.replace("enabled = false", "enabled = true")
    });
    std::fs::write(dir.path().join("connectors/uploads.toml"), UPLOADS).unwrap();
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();

    let ok = check_environment(dir.path(), &server.uri(), KEY).await;
    let out = String::from_utf8_lossy(&ok.stdout).to_string();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.starts_with("ok: 2 connectors"), "{out}");
    for line in [
        "   ok      connector odoo (jsonrpc, 5 streams)",
        "   ok      connector uploads (file, 1 streams)",
        "   ok      store sqlite://",
    ] {
        assert!(out.contains(line), "`{line}` missing from:\n{out}");
    }
    assert!(odoo.logins() >= 1, "the probe logs in");
    assert!(
        odoo.search_reads("res.partner").is_empty(),
        "a probe reads no records"
    );

    std::fs::remove_dir(dir.path().join("inbox")).unwrap();
    let failed = check_environment(dir.path(), &server.uri(), "wrong-key").await;
    let out = String::from_utf8_lossy(&failed.stdout).to_string();
    assert_eq!(failed.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "   FAILED  connector odoo: stream `partners`: connector `odoo`: authentication failed"
        ),
        "{out}"
    );
    assert!(
        out.contains("   FAILED  connector uploads: stream `customers`: reading "),
        "{out}"
    );
    assert!(out.contains("   ok      store sqlite://"), "{out}");
}
