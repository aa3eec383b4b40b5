//! The layering of the library, checked over its source: `connector` imports nothing of the
//! crate above `model` and `support` (it knows no canonical entity, store, sync or server),
//! so a connector kind stays a component the loader and the runs build on, never the reverse.

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The modules of the crate a line names (`crate::store`, …), outside comments.
fn crate_modules(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or_default();
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn connector_imports_nothing_above_model_and_support() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/connector");
    let allowed = ["connector", "model", "support"];
    let mut upward = Vec::new();
    for file in rust_files(&root) {
        let text = fs::read_to_string(&file).unwrap();
        for (i, line) in text.lines().enumerate() {
            for module in crate_modules(line) {
                if !allowed.contains(&module.as_str()) {
                    upward.push(format!("{}:{}: crate::{module}", file.display(), i + 1));
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "connector imports upward:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_sees_imports_and_skips_comments() {
    assert_eq!(crate_modules("use crate::store::Store;"), ["store"]);
    assert_eq!(
        crate_modules("    crate::support::secrets::expand(x) // crate::sync"),
        ["support"]
    );
    assert!(crate_modules("//! see [`crate::webhook`]").is_empty());
}
