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
pub use tributary::store::testing::each_backend_named as on_each_backend;
