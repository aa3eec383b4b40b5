//! Shared helpers of the integration tests: temporary projects and both store backends.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use tributary::config::Project;

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
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let preset = fs::read_to_string(root.join(format!("connectors/{connector}.toml"))).unwrap();
    let mut files = vec![
        ("config/tributary.toml".to_string(), settings.to_string()),
        (format!("connectors/{connector}.toml"), edit(preset)),
    ];
    for entry in fs::read_dir(root.join("mappings")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.starts_with(mapping_prefix) {
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
