//! The shipped Tryton preset against a REAL trytond 8.2 on loopback, not a fake.
//!
//! Steps: make sure the pinned Tryton venv exists (`tests/tryton/install.sh`, or the one named by
//! `$TRIBUTARY_TRYTON_VENV`); build a fresh SQLite database with `tests/tryton/setup_db.py`
//! (company, chart of accounts, two customers, a posted and partly paid invoice, open sales,
//! stock), which prints the figures a client must see; start `trytond` on a free port of
//! 127.0.0.1 (killed when the test ends, its output kept in a log shown on failure); then sync
//! the preset `connectors/tryton.toml` with `mappings/tryton-*.toml` into each store backend,
//! reconcile, and compare the credit exposure with the script's figures.
//!
//! Without Python or pip the test fails and says why, unless `TRIBUTARY_SKIP_TRYTON=1` (then it
//! prints a loud SKIPPED line). How to run it by hand: docs/tryton-real-test.md.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use tributary::model::Entity;
use tributary::store::{RunStatus, Store};
use tributary::sync::{self, NoProgress, RunReport, SyncOptions};
use tributary::views;

/// The date every business date of the database is relative to, and the aging date.
const AS_OF: &str = "2026-11-20";
const DB: &str = "tributary";
const PASSWORD: &str = "admin";

const SETTINGS: &str = r#"
[currency]
base = "CNY"
[currency.rates]
EUR = "7.80"
[reconcile]
source_priority = ["tryton"]
[exposure]
stale_after_hours = 36
"#;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv holding trytond and proteus, installed on first use.
fn venv() -> Result<PathBuf, String> {
    let venv = match std::env::var("TRIBUTARY_TRYTON_VENV") {
        Ok(v) if !v.is_empty() => PathBuf::from(v),
        _ => manifest_dir().join("target/tryton-venv"),
    };
    if venv.join("bin/trytond").exists() && venv.join("bin/python").exists() {
        return Ok(venv);
    }
    let script = manifest_dir().join("tests/tryton/install.sh");
    let started = Instant::now();
    let out = Command::new("bash")
        .arg(&script)
        .env("TRIBUTARY_TRYTON_VENV", &venv)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    eprintln!(
        "tryton-real: install.sh took {:.1}s\n{}{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}): {}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(venv)
}

/// A running trytond, killed on drop.
struct Trytond {
    child: Child,
    log: PathBuf,
}

impl Trytond {
    fn start(venv: &Path, dir: &Path) -> (Trytond, u16) {
        // A free port: bound, read, released just before trytond binds it.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("trytond.conf");
        fs::write(
            &conf,
            format!(
                "[database]\nuri = sqlite://\npath = {}\n[web]\nlisten = 127.0.0.1:{port}\n",
                dir.display()
            ),
        )
        .unwrap();
        let log = dir.join("trytond.log");
        let out = fs::File::create(&log).unwrap();
        let child = Command::new(venv.join("bin/trytond"))
            .args(["-c", conf.to_str().unwrap(), "-d", DB])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}/bin/trytond: {e}", venv.display()));
        let mut server = Trytond { child, log };
        let started = Instant::now();
        // Not a timing assertion: a bound on waiting for a server that will never answer.
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("trytond exited with {status}:\n{}", server.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "trytond did not listen on port {port}:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "tryton-real: trytond listening on 127.0.0.1:{port} after {:.2}s",
            started.elapsed().as_secs_f64()
        );
        (server, port)
    }

    fn log_text(&self) -> String {
        let mut text = String::new();
        if let Ok(mut f) = fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Trytond {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- trytond log ({}) ----\n{}",
                self.log.display(),
                self.log_text()
            );
        }
    }
}

/// Runs setup_db.py into `dir` and returns its JSON summary.
fn setup_database(venv: &Path, dir: &Path) -> Value {
    let started = Instant::now();
    let out = Command::new(venv.join("bin/python"))
        .arg(manifest_dir().join("tests/tryton/setup_db.py"))
        .arg(dir)
        .args(["--as-of", AS_OF, "--database", DB, "--password", PASSWORD])
        .output()
        .expect("cannot run setup_db.py");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "setup_db.py failed ({}):\n{stderr}",
        out.status
    );
    eprintln!(
        "tryton-real: setup_db.py took {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("setup_db.py printed nothing");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("summary is not JSON ({e}): {last}"))
}

/// A project with the shipped preset and its mappings, as a user would copy them.
fn project_files() -> tempfile::TempDir {
    let root = manifest_dir();
    let mut files = vec![
        ("config/tributary.toml".to_string(), SETTINGS.to_string()),
        (
            "connectors/tryton.toml".to_string(),
            fs::read_to_string(root.join("connectors/tryton.toml")).unwrap(),
        ),
    ];
    for entry in fs::read_dir(root.join("mappings")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with("tryton-") {
            let text = fs::read_to_string(root.join("mappings").join(&name)).unwrap();
            files.push((format!("mappings/{name}"), text));
        }
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    common::project_dir(&refs)
}

fn project(root: &Path, url: &str) -> tributary::config::Project {
    common::load(
        root,
        &[
            ("TRYTON_URL", url),
            ("TRYTON_DB", DB),
            ("TRYTON_USER", "admin"),
            ("TRYTON_PASSWORD", PASSWORD),
        ],
    )
}

async fn sync_once(project: &tributary::config::Project, store: &Store) -> RunReport {
    let mappings = project.compile_mappings().unwrap();
    let connector = &project.connectors["tryton"];
    assert!(!connector.config.enabled, "the preset ships disabled");
    sync::run_connector(
        project,
        &mappings,
        store,
        connector,
        &SyncOptions::default(),
        &NoProgress,
    )
    .await
    .unwrap()
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .unwrap()
}

fn key(v: &Value) -> String {
    v.as_i64().expect("an id").to_string()
}

#[tokio::test]
async fn the_tryton_preset_against_a_real_trytond_gives_the_exposure_the_erp_shows() {
    if std::env::var("TRIBUTARY_SKIP_TRYTON").as_deref() == Ok("1") {
        eprintln!(
            "\n!!!!!!!! SKIPPED tryton_real: TRIBUTARY_SKIP_TRYTON=1, no real Tryton server was tested !!!!!!!!\n"
        );
        return;
    }
    let venv = venv().unwrap_or_else(|e| {
        panic!(
            "the real-Tryton test needs Python 3 with venv and pip (see docs/tryton-real-test.md); \
             set TRIBUTARY_SKIP_TRYTON=1 to skip it loudly. Reason: {e}"
        )
    });
    let work = tempfile::tempdir().unwrap();
    let summary = setup_database(&venv, work.path());
    let (server, port) = Trytond::start(&venv, work.path());
    let url = format!("http://127.0.0.1:{port}");
    let dir = project_files();
    let (summary, url, dir) = (&summary, &url, &dir);

    common::on_each_backend(|backend, store| async move {
        let project = project(dir.path(), url);
        let started = Instant::now();
        let first = sync_once(&project, &store).await;
        eprintln!(
            "tryton-real: preset sync fetched {} records, staged {} in {:.2}s ({backend})",
            first.counts.fetched,
            first.counts.staged,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:#?}");
        assert_eq!(first.counts.quarantined, 0, "{backend}: {first:#?}");
        let per_stream: BTreeMap<&str, u64> = first
            .streams
            .iter()
            .map(|s| (s.stream.as_str(), s.counts.staged))
            .collect();
        assert_eq!(
            per_stream,
            BTreeMap::from([
                ("parties", 3), // the company's own party, A and B
                ("sales", 3),
                ("invoices", 1),
                ("stock", 1),
            ]),
            "{backend}"
        );

        // The parties are staged as customers, with what Tryton holds about them.
        let customers: BTreeMap<String, Value> = store
            .staged(Entity::Customer)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.canonical))
            .collect();
        let a = &summary["parties"]["A"];
        let b = &summary["parties"]["B"];
        let ca = &customers[&key(&a["id"])];
        assert_eq!(ca["name"], a["name"], "{backend}: {ca}");
        assert_eq!(ca["tax_id"], a["tax_identifier"], "{backend}: {ca}");
        assert_eq!(ca["country"], "CN", "{backend}: {ca}");
        assert_eq!(ca["postal_code"], a["postal_code"], "{backend}: {ca}");
        // The address's subdivision and the contact mechanisms: no phone, so the mobile one.
        assert_eq!(ca["region"], a["region"], "{backend}: {ca}");
        assert_eq!(ca["phone"], a["mobile"], "{backend}: {ca}");
        assert_eq!(ca["website"], a["website"], "{backend}: {ca}");
        assert_eq!(ca["email"], "buyer@feiyue.example", "{backend}: {ca}");
        let cb = &customers[&key(&b["id"])];
        assert_eq!(cb["name"], b["name"]);
        assert_eq!(cb["phone"], b["phone"], "{backend}: {cb}");
        assert!(
            cb["region"].is_null() && cb.get("website").is_none_or(Value::is_null),
            "{backend}: {cb}"
        );

        let invoices: BTreeMap<String, Value> = store
            .staged(Entity::Invoice)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.canonical))
            .collect();
        let inv = &summary["invoice"];
        let staged_inv = &invoices[&key(&inv["id"])];
        assert_eq!(
            staged_inv["due_date"], inv["due_date"],
            "{backend}: {staged_inv}"
        );
        assert_eq!(dec(&staged_inv["residual"]), dec(&inv["amount_to_pay"]));

        let orders: BTreeMap<String, Value> = store
            .staged(Entity::SalesOrder)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.canonical))
            .collect();
        let sales = &summary["sales"];
        assert_eq!(
            orders[&key(&sales["invoiced"]["id"])]["status"],
            "invoiced",
            "{backend}: {orders:#?}"
        );
        for open in ["open_a", "open_b"] {
            let order = &orders[&key(&sales[open]["id"])];
            assert_eq!(order["status"], "confirmed", "{backend}: {order}");
            assert_eq!(dec(&order["total"]), dec(&sales[open]["total_amount"]));
        }
        // Stock in the warehouse storage: 100 counted, 4 shipped for sale 1.
        let stock: BTreeMap<String, Value> = store
            .staged(Entity::InventoryPosition)
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.canonical))
            .collect();
        let product = &summary["product"];
        let code = product["code"].as_str().unwrap();
        let position = &stock[&format!("WH-STO/{code}")];
        assert_eq!(
            dec(&position["on_hand"]),
            Decimal::from(product["on_hand"].as_i64().unwrap()),
            "{backend}: {position}"
        );

        // Nothing changed in Tryton: a second run stages nothing.
        let second = sync_once(&project, &store).await;
        assert_eq!(second.status, RunStatus::Success, "{backend}: {second:#?}");
        assert_eq!(second.counts.staged, 0, "{backend}: {second:#?}");

        // The master and its exposure on the as-of date equal what the ERP says.
        tributary::master::reconcile_master(&project, &store)
            .await
            .unwrap();
        let as_of = NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").unwrap();
        let all = views::exposures(&project, &store, as_of, Utc::now())
            .await
            .unwrap();
        let find = |name: &Value| {
            all.values()
                .find(|e| e.name == name.as_str().unwrap())
                .unwrap_or_else(|| panic!("{backend}: no master named {name}: {all:#?}"))
        };
        let want = &summary["expected"]["A"];
        let ea = find(&a["name"]);
        assert_eq!(serde_json::to_value(ea.currency).unwrap(), "CNY");
        assert_eq!(
            ea.open_receivables,
            dec(&want["open_receivables"]),
            "{backend}: {ea:#?}"
        );
        assert_eq!(
            ea.open_orders,
            dec(&want["open_orders"]),
            "{backend}: {ea:#?}"
        );
        // Due 15 days before the as-of date.
        assert_eq!(
            ea.aging.d1_30,
            dec(&want["aging_d1_30"]),
            "{backend}: {ea:#?}"
        );
        assert_eq!(ea.aging.not_due, Decimal::ZERO);
        assert_eq!(
            ea.exposure,
            dec(&want["open_receivables"]) + dec(&want["open_orders"]),
            "{backend}: {ea:#?}"
        );
        let eb = find(&b["name"]);
        let want = &summary["expected"]["B"];
        assert_eq!(
            eb.open_receivables,
            dec(&want["open_receivables"]),
            "{backend}"
        );
        assert_eq!(
            eb.open_orders,
            dec(&want["open_orders"]),
            "{backend}: {eb:#?}"
        );
        assert!(
            ea.sources
                .iter()
                .any(|s| s.source == "tryton" && s.last_synced_at.is_some()),
            "{backend}: {:?}",
            ea.sources
        );
    })
    .await;
    drop(server);
}
