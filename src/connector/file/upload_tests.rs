//! Upload-folder mode at the connector level: archive only after `committed`, settle time,
//! in-progress names, the file name field.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::connector::{ConnectorConfig, SourceContext, open_stream};

fn connector(extra: &str) -> ConnectorConfig {
    let text = format!(
        "name = \"t\"\nkind = \"file\"\n[file]\ndir = \"in\"\n{extra}\n[[streams]]\nname = \"s\"\nmapping = \"m\"\nfile = {{ pattern = \"*\", format = \"csv\", batch_size = 2 }}\n"
    );
    toml::from_str(&text).expect("connector parses")
}

fn write(root: &Path, name: &str, text: &str, age_secs: u64) {
    let dir = root.join("in");
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(age_secs))
        .unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_type().unwrap().is_file())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[tokio::test]
async fn files_move_only_after_the_page_with_their_last_records_is_committed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "a.csv", "k\n1\n2\n3\n", 60);
    write(root, "b.csv", "k\n4\n", 60);
    let c = connector("archive_dir = \"done\"\nfile_name_field = \"_file\"");
    let ctx = SourceContext {
        root: root.to_path_buf(),
    };
    let mut source = open_stream(&c, "s", None, &ctx).unwrap();
    let mut seen: Vec<Value> = vec![];

    // Page 1: a.csv rows 1-2; nothing finished, nothing moves.
    let page = source.next_page().await.unwrap().unwrap();
    seen.extend(page.records.iter().map(|r| r.payload.clone()));
    source.committed().await.unwrap();
    assert_eq!(names(&root.join("in")), ["a.csv", "b.csv"]);

    // Page 2: a.csv row 3 (a.csv done) and b.csv row 4. Before the commit both stay.
    let page = source.next_page().await.unwrap().unwrap();
    seen.extend(page.records.iter().map(|r| r.payload.clone()));
    let cursor = page.checkpoint.clone().unwrap();
    assert!(
        cursor["files"].get("a.csv").is_none(),
        "a finished file leaves the cursor: {cursor}"
    );
    assert_eq!(names(&root.join("in")), ["a.csv", "b.csv"]);
    source.committed().await.unwrap();
    assert_eq!(names(&root.join("in/done")), ["a.csv"]);

    // Page 3: the end of b.csv.
    let page = source.next_page().await.unwrap().unwrap();
    assert!(page.records.is_empty());
    source.committed().await.unwrap();
    assert!(source.next_page().await.unwrap().is_none());
    assert_eq!(names(&root.join("in")), Vec::<String>::new());
    assert_eq!(names(&root.join("in/done")), ["a.csv", "b.csv"]);
    assert_eq!(
        seen,
        [
            json!({"k": "1", "_file": "a.csv"}),
            json!({"k": "2", "_file": "a.csv"}),
            json!({"k": "3", "_file": "a.csv"}),
            json!({"k": "4", "_file": "b.csv"}),
        ]
    );
}

#[tokio::test]
async fn fresh_and_in_progress_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "old.csv", "k\n1\n", 60);
    write(root, "new.csv", "k\n2\n", 1);
    write(root, "up.csv.part", "k\n3\n", 60);
    write(root, ".hidden.csv", "k\n4\n", 60);
    let c = connector("settle_secs = 5");
    let ctx = SourceContext {
        root: root.to_path_buf(),
    };
    let mut source = open_stream(&c, "s", None, &ctx).unwrap();
    let mut keys = vec![];
    while let Some(page) = source.next_page().await.unwrap() {
        keys.extend(page.records.iter().map(|r| r.payload["k"].clone()));
        source.committed().await.unwrap();
    }
    assert_eq!(keys, [json!("1")]);
    // Without archive_dir nothing moves.
    assert_eq!(
        names(&root.join("in")),
        [".hidden.csv", "new.csv", "old.csv", "up.csv.part"]
    );
}

#[test]
fn an_archive_folder_that_is_the_inbox_or_an_empty_field_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("in")).unwrap();
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    for (extra, needle) in [
        ("archive_dir = \".\"", "archive_dir"),
        ("archive_dir = \"\"", "archive_dir"),
        ("file_name_field = \"\"", "file_name_field"),
    ] {
        let err = open_stream(&connector(extra), "s", None, &ctx)
            .err()
            .expect("refused");
        assert!(err.to_string().contains(needle), "{extra}: {err}");
    }
}
