//! The layering of `src/` stays as the README's architecture section draws it: every top-level
//! module imports only modules on a lower floor, so there is no import circle, no domain
//! module (`reconcile`, `channel`, `exposure`, `insight`) reaches the store, the use cases, the
//! server or the command line, and `connector` reaches nothing above `model` and `support`.
//!
//! Production code only: test modules (`tests.rs`, `*_tests.rs`, an inline `#[cfg(test)] mod
//! … {` to the end of its file) may use whatever helps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;

/// Floors, lowest first. A module may import a module of a lower floor only; modules on one
/// floor do not import each other.
const FLOORS: &[&[&str]] = &[
    &["support"],
    &["model"],
    &["connector", "mapping"],
    &["reconcile", "channel"],
    &["exposure"],
    &["insight"],
    &["config"],
    &["store"],
    &["views"],
    &["master", "sync"],
    &["intake", "bench"],
    &["server"],
    &["cli"],
];

fn floor(module: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The production lines of a file: up to an inline test module, comments left out.
fn production_lines(text: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        let test_attr = trimmed.starts_with("#[cfg(") && trimmed.contains("test");
        let next = lines.get(i + 1).map_or("", |l| l.trim());
        if test_attr && next.starts_with("mod ") && next.ends_with('{') {
            break;
        }
        if !trimmed.starts_with("//") {
            out.push((i + 1, *line));
        }
    }
    out
}

/// (importing module, imported module) → where.
fn imports() -> BTreeMap<(String, String), Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let path_re = Regex::new(r"crate::([a-z_]+)").expect("static regex");
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src/");
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if rel.components().count() == 1 && (name == "lib.rs" || name == "main.rs") {
            continue;
        }
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .unwrap_or("")
            .trim_end_matches(".rs")
            .to_string();
        let text = std::fs::read_to_string(&file).expect("a source file reads");
        for (n, line) in production_lines(&text) {
            for cap in path_re.captures_iter(line) {
                let to = cap[1].to_string();
                if to != top {
                    found
                        .entry((top.clone(), to))
                        .or_default()
                        .push(format!("src/{}:{n}", rel.display()));
                }
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_lower_floors() {
    let mut wrong = Vec::new();
    for ((from, to), at) in imports() {
        let (Some(a), Some(b)) = (floor(&from), floor(&to)) else {
            wrong.push(format!(
                "`{from}` → `{to}`: a module missing from FLOORS ({})",
                at[0]
            ));
            continue;
        };
        if b >= a {
            wrong.push(format!(
                "`{from}` → `{to}` runs up or across ({})",
                at.join(", ")
            ));
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_scan_sees_imports_and_skips_test_modules() {
    let text = "use crate::store::Store;\n// crate::cli in a comment\nfn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n";
    let lines = production_lines(text);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].1.contains("crate::store"));
    // The real tree has imports to check: the store is imported from above it.
    let all = imports();
    assert!(all.contains_key(&("sync".to_string(), "store".to_string())));
    assert!(all.keys().all(|(from, _)| from != "lib" && from != "main"));
}
