//! Shared helpers of the integration tests: temporary projects and both store backends.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use rust_decimal::Decimal;
use serde_json::Value;

use tributary::config::Project;

pub mod frappe;
pub mod odoo;

/// The fixture tables `<dir>/<model>.json` of these models, by model.
pub fn fixture_tables(
    dir: &Path,
    models: &[&str],
) -> std::collections::BTreeMap<String, Vec<Value>> {
    models
        .iter()
        .map(|m| (m.to_string(), fixture_table(&dir.join(format!("{m}.json")))))
        .collect()
}

/// The JSON array of records in a fake's fixture file; no file, no records.
pub fn fixture_table(file: &Path) -> Vec<Value> {
    match fs::read_to_string(file) {
        Ok(text) => {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", file.display()),
    }
}

/// Sets `changes` on the row of `model` whose `id` is `id`, in a fake's tables (a record
/// edited in the source between two syncs).
pub fn update_row(
    tables: &std::sync::Mutex<std::collections::BTreeMap<String, Vec<Value>>>,
    model: &str,
    id: i64,
    changes: Value,
) {
    let mut tables = tables.lock().unwrap();
    let row = tables
        .get_mut(model)
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == id)
        .unwrap();
    for (k, v) in changes.as_object().unwrap() {
        row[k] = v.clone();
    }
}

/// Writes files into a fresh temporary project root.
pub fn project_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for sub in ["config", "connectors", "mappings"] {
        fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    for (path, text) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }
    dir
}

/// Loads a project with the given environment.
pub fn load(root: &Path, env: &[(&str, &str)]) -> Project {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Project::load_with_env(root, &env).unwrap_or_else(|e| panic!("project does not load:\n{e}"))
}

/// Settings used by the tests: CNY base, USD and EUR rates.
pub const SETTINGS: &str = r#"
[currency]
base = "CNY"
[currency.rates]
USD = "7.10"
EUR = "7.80"
[reconcile]
source_priority = ["erp"]
[exposure]
stale_after_hours = 36
"#;

/// Runs a test body on each store backend (a fresh SQLite file, a fresh PostgreSQL database).
#[allow(unused_imports)]
pub use tributary::store::testing::each_backend_named as on_each_backend;

/// A temporary project holding the shipped preset `connectors/<connector>.toml` (passed through
/// `edit`, e.g. for smaller pages in tests), every shipped mapping whose file name starts with
/// `mapping_prefix`, and `settings` as `config/tributary.toml`.
pub fn preset_project(
    connector: &str,
    mapping_prefix: &str,
    settings: &str,
    edit: impl FnOnce(String) -> String,
) -> tempfile::TempDir {
    let mut edit = Some(edit);
    presets_project(&[(connector, mapping_prefix)], settings, |_, text| {
        edit.take().expect("one preset")(text)
    })
}

/// [`preset_project`] with several shipped presets, each `(connector, mapping_prefix)`;
/// `edit(connector, text)` may change each preset's text.
pub fn presets_project(
    presets: &[(&str, &str)],
    settings: &str,
    mut edit: impl FnMut(&str, String) -> String,
) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![("config/tributary.toml".to_string(), settings.to_string())];
    for &(connector, _) in presets {
        let preset = fs::read_to_string(root.join(format!("connectors/{connector}.toml"))).unwrap();
        files.push((
            format!("connectors/{connector}.toml"),
            edit(connector, preset),
        ));
    }
    for entry in fs::read_dir(root.join("mappings")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if presets.iter().any(|(_, prefix)| name.starts_with(prefix)) {
            let text = fs::read_to_string(root.join("mappings").join(&name)).unwrap();
            files.push((format!("mappings/{name}"), text));
        }
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    project_dir(&refs)
}

/// Runs one connector of a loaded project with default options (a disabled preset runs too,
/// as it does when named on the command line).
pub async fn run_connector(
    project: &Project,
    store: &tributary::store::Store,
    name: &str,
) -> tributary::sync::RunReport {
    let mappings = project.compile_mappings().unwrap();
    tributary::sync::run_connector(
        project,
        &mappings,
        store,
        &project.connectors[name],
        &tributary::sync::SyncOptions::default(),
        &tributary::sync::NoProgress,
    )
    .await
    .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of the shipped project (config, connectors, mappings, samples) in a temp folder.
pub fn shipped_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for sub in ["config", "connectors", "mappings", "samples"] {
        copy_dir(&root.join(sub), &dir.path().join(sub));
    }
    dir
}

/// A push-only connector: hex signature with a prefix over `{timestamp}.{body}`, event IDs in a
/// header, records in an array.
pub const SHOP: &str = r#"
kind = "webhook"

[webhook]
secret = "${SHOP_SECRET}"
signature_header = "X-Shop-Signature"
signature_prefix = "sha256="
timestamp_header = "X-Shop-Timestamp"
signed_content = "{timestamp}.{body}"
tolerance_seconds = 300
event_id_header = "X-Shop-Event"
stream = "customers"
records = "data.customers"
max_body_bytes = 4096

[[streams]]
name = "customers"
mapping = "shop-customers"
"#;

/// The shop's customer mapping.
pub const SHOP_MAPPING: &str = r#"
entity = "customer"
[fields.source_key]
path = "id"
required = true
[fields.name]
path = "name"
required = true
[fields.currency]
path = "currency"
default = "EUR"
"#;

/// Review tasks that put different exposure at stake: each new ERP customer copies an ERP
/// customer's address, phone and e-mail under another name without a tax ID, so the matcher
/// asks a steward (`names_differ`). (new key, the key it copies, its name.)
pub const REVIEW_CUSTOMERS: [(&str, &str, &str); 4] = [
    // One open USD invoice of 2,000.00: 14,200.00 CNY, smaller than C10001's master.
    ("E9001", "C10001", "深圳南山五金电子商行"),
    // One open invoice of 500,000.00 CNY: C10003's master is the smaller side.
    ("E9002", "C10003", "西湖区文三路办公用品店"),
    // A 3,000.00 invoice and 5,000.00 unapplied: a credit balance of 2,000.00, so 0 at stake.
    ("E9003", "C10011", "高新区天府大道建材经营部"),
    // No documents: 0 at stake.
    ("E9004", "C10016", "滨海新区第二大街劳保用品店"),
];

/// The documents of [`REVIEW_CUSTOMERS`]: (file under samples/erp, CSV lines).
const REVIEW_DOCUMENTS: [(&str, &str); 2] = [
    (
        "invoices.csv",
        "39001,INV/2026/09001,E9001,out_invoice,2026-11-01,2026-12-01,USD,2000.00,2000.00,posted,,2026-11-01T10:00:00+08:00\n\
         39002,INV/2026/09002,E9002,out_invoice,2026-11-01,2026-12-01,CNY,500000.00,500000.00,posted,,2026-11-01T10:00:00+08:00\n\
         39003,INV/2026/09003,E9003,out_invoice,2026-11-01,2026-12-01,CNY,3000.00,3000.00,posted,,2026-11-01T10:00:00+08:00\n",
    ),
    (
        "payments.csv",
        "59003,BNK1/2026/09003,E9003,2026-11-02,CNY,5000.00,5000.00,posted,Bank\n",
    ),
];

/// A copy of the shipped project with [`REVIEW_CUSTOMERS`] and their documents added to the
/// ERP export.
pub fn review_project() -> tempfile::TempDir {
    let dir = shipped_project();
    let erp = dir.path().join("samples/erp");
    let append = |file: &str, lines: &str| {
        let path = erp.join(file);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, format!("{text}{lines}")).unwrap();
    };
    let customers = fs::read_to_string(erp.join("customers.csv")).unwrap();
    let mut added = String::new();
    for (key, copied, name) in REVIEW_CUSTOMERS {
        let row = customers
            .lines()
            .find(|l| l.starts_with(&format!("{copied},")))
            .unwrap_or_else(|| panic!("no ERP customer {copied}"));
        // id, name, vat, …, parent_id (15th), …: no quoted commas in these rows.
        let mut cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 17, "{row}");
        cells[0] = key;
        cells[1] = name;
        cells[2] = "";
        cells[14] = "";
        added.push_str(&cells.join(","));
        added.push('\n');
    }
    append("customers.csv", &added);
    for (file, lines) in REVIEW_DOCUMENTS {
        append(file, lines);
    }
    dir
}

/// The exposure each task of [`review_project`] puts at stake, by the new customer it names,
/// costliest first: E9002's 500,000.00 against the 67,381.90 of C10003's master, E9001's
/// 2,000.00 USD at 7.10, E9003's credit balance and E9004's nothing.
pub const REVIEW_STAKES: [(&str, &str); 4] = [
    ("E9002", "67381.90"),
    ("E9001", "14200.00"),
    ("E9003", "0.00"),
    ("E9004", "0.00"),
];

/// Master ID → exposure (a decimal string) of credit report rows.
pub fn exposures_of(rows: &[Value]) -> HashMap<String, String> {
    rows.iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_string();
            (text("master_id"), text("exposure"))
        })
        .collect()
}

/// Checks that `by_probability` holds the tasks of `tasks`, most probable first.
pub fn check_probability_order(by_probability: &[Value], tasks: &[Value]) {
    let p = |t: &Value| {
        t["probability"]
            .as_str()
            .unwrap()
            .parse::<Decimal>()
            .unwrap()
    };
    assert!(
        by_probability.windows(2).all(|w| p(&w[0]) >= p(&w[1])),
        "not most probable first"
    );
    let ids = |tasks: &[Value]| {
        let mut ids: Vec<i64> = tasks.iter().map(|t| t["id"].as_i64().unwrap()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(by_probability), ids(tasks));
}

/// Checks the open review list of [`review_project`] (as `tributary review --json` and
/// `GET /api/reviews` give it) against the documents: each task's stake and currency, the
/// exposures of both sides in `exposures` (master ID → exposure, from the credit report), and
/// the order: largest stake first, ties most probable first, then by number.
pub fn check_review_queue(tasks: &[Value], exposures: &HashMap<String, String>) {
    let key_of = |t: &Value| -> (&'static str, &'static str, bool) {
        let keys = [&t["left"][1], &t["right"][1]];
        REVIEW_STAKES
            .iter()
            .find_map(|&(k, stake)| {
                let side = keys.iter().position(|x| x.as_str() == Some(k))?;
                Some((k, stake, side == 0))
            })
            .unwrap_or_else(|| panic!("a task without a new customer: {t}"))
    };
    let master = |t: &Value, left: bool| {
        t[if left { "left_master" } else { "right_master" }]
            .as_str()
            .unwrap_or_else(|| panic!("no master: {t}"))
            .to_string()
    };
    let exposure = |m: &str| exposures.get(m).map(String::as_str).unwrap_or("none");
    let mut seen = Vec::new();
    for t in tasks {
        let (key, stake, new_left) = key_of(t);
        assert_eq!(t["at_stake"], stake, "{key}: {t}");
        assert_eq!(t["currency"], "CNY", "{t}");
        assert_eq!(t["status"], "open", "{t}");
        let (new, other) = (master(t, new_left), master(t, !new_left));
        let new_exposure = match key {
            "E9001" => "14200.00",
            "E9002" => "500000.00",
            "E9003" => "-2000.00",
            _ => "0",
        };
        assert_eq!(exposure(&new), new_exposure, "{key}'s master {new}");
        if key == "E9002" {
            assert_eq!(exposure(&other), "67381.90", "C10003's master {other}");
        }
        seen.push(key);
    }
    for (key, _) in REVIEW_STAKES {
        assert!(seen.contains(&key), "no task names {key}: {seen:?}");
    }
    assert_eq!(seen[..2], ["E9002", "E9001"], "costliest first");
    let sort_key = |t: &Value| {
        let dec = |v: &Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
        (
            std::cmp::Reverse(dec(&t["at_stake"])),
            std::cmp::Reverse(dec(&t["probability"])),
            t["id"].as_i64().unwrap(),
        )
    };
    assert!(
        tasks.windows(2).all(|w| sort_key(&w[0]) < sort_key(&w[1])),
        "not ordered by stake, then probability, then number: {seen:?}"
    );
}

/// The text of each of `keys` in a staged canonical record, `-` where the field is absent: one
/// assertion shows every matching field a preset filled.
pub fn texts(canonical: &serde_json::Value, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| canonical[*k].as_str().unwrap_or("-").to_string())
        .collect()
}

/// The canonical customer fields matching compares (besides name, tax ID and parent).
pub const CONTACT_FIELDS: [&str; 8] = [
    "address",
    "city",
    "postal_code",
    "region",
    "country",
    "phone",
    "email",
    "website",
];

/// Blanks the tax ID (`vat`, the third column) of these customers in the project's
/// `samples/erp/customers.csv`, so a steward may merge them into other masters.
pub fn blank_erp_tax_ids(root: &Path, keys: &[&str]) {
    let csv = root.join("samples/erp/customers.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let edited: Vec<String> = text
        .lines()
        .map(|line| {
            let mut cells: Vec<&str> = line.splitn(4, ',').collect();
            if keys.contains(&cells[0]) {
                cells[2] = "";
            }
            cells.join(",")
        })
        .collect();
    std::fs::write(&csv, edited.join("\n") + "\n").unwrap();
}
