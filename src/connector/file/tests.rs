use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::connector::{ConnectorConfig, Page, SourceContext, open_stream};

fn connector(file: &str) -> ConnectorConfig {
    let text = format!(
        "name = \"t\"\nkind = \"file\"\n[file]\ndir = \"in\"\n[[streams]]\nname = \"s\"\nmapping = \"m\"\nfile = {file}\n"
    );
    toml::from_str(&text).expect("connector parses")
}

fn write(root: &Path, name: &str, text: &[u8]) {
    let dir = root.join("in");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), text).unwrap();
}

fn append(root: &Path, name: &str, text: &[u8]) {
    use std::io::Write;
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(root.join("in").join(name))
        .unwrap();
    f.write_all(text).unwrap();
}

/// Reads a whole stream; returns its pages and the last checkpoint.
async fn run(
    root: &Path,
    c: &ConnectorConfig,
    cursor: Option<Value>,
) -> (Vec<Page>, Option<Value>) {
    let ctx = SourceContext {
        root: root.to_path_buf(),
    };
    let mut source = open_stream(c, "s", cursor.clone(), &ctx).expect("opens");
    let mut pages = vec![];
    let mut last = cursor;
    while let Some(page) = source.next_page().await.expect("page") {
        if page.checkpoint.is_some() {
            last = page.checkpoint.clone();
        }
        pages.push(page);
    }
    (pages, last)
}

fn payloads(pages: &[Page]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.payload.clone()))
        .collect()
}

fn locators(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.locator.clone()))
        .collect()
}

const CSV: &str = r#"{ pattern = "*.csv", format = "csv" }"#;

#[tokio::test]
async fn csv_rows_become_objects_of_strings_keyed_by_header() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "customers.csv",
        b"no,name,limit\nC1,\"Acme, Inc.\",100.50\nC2,\"Say \"\"hi\"\"\",\n",
    );
    let (pages, cursor) = run(dir.path(), &connector(CSV), None).await;
    assert_eq!(
        payloads(&pages),
        vec![
            json!({"no": "C1", "name": "Acme, Inc.", "limit": "100.50"}),
            json!({"no": "C2", "name": "Say \"hi\"", "limit": ""}),
        ]
    );
    assert_eq!(locators(&pages), ["customers.csv:2", "customers.csv:3"]);
    let cursor = cursor.unwrap();
    assert_eq!(cursor["version"], 1);
    assert_eq!(cursor["files"]["customers.csv"]["offset"], 54);
    assert_eq!(cursor["files"]["customers.csv"]["lines"], 3);
}

#[tokio::test]
async fn csv_with_semicolons_quoted_line_breaks_crlf_and_a_bom() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.csv",
        "\u{feff}no;addr\r\nC1;\"Line 1\nLine 2\"\r\nC2;x;y\r\nC3;z\r\n".as_bytes(),
    );
    let c = connector(r#"{ pattern = "a.csv", format = "csv", delimiter = ";" }"#);
    let (pages, _) = run(dir.path(), &c, None).await;
    assert_eq!(
        payloads(&pages),
        vec![
            json!({"no": "C1", "addr": "Line 1\nLine 2"}),
            json!({"no": "C3", "addr": "z"}),
        ]
    );
    assert_eq!(locators(&pages), ["a.csv:2", "a.csv:5"]);
    let rejected: Vec<_> = pages.iter().flat_map(|p| p.rejected.clone()).collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].locator, "a.csv:4");
    assert_eq!(rejected[0].raw, "C2;x;y");
}

#[tokio::test]
async fn a_bad_csv_row_is_rejected_with_its_line_and_text_and_the_rest_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"no,name\nC1,A\n\nC2,B,extra\nC3,".to_vec();
    text.extend_from_slice(b"\xff\xfe\nC4,D\n");
    write(dir.path(), "customers.csv", &text);
    let (pages, _) = run(dir.path(), &connector(CSV), None).await;
    assert_eq!(locators(&pages), ["customers.csv:2", "customers.csv:6"]);
    let rejected: Vec<_> = pages.iter().flat_map(|p| p.rejected.clone()).collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert_eq!(rejected[0].locator, "customers.csv:4");
    assert_eq!(rejected[0].raw, "C2,B,extra");
    assert!(
        rejected[0].reason.contains("expected 2 fields"),
        "{}",
        rejected[0].reason
    );
    assert_eq!(rejected[1].locator, "customers.csv:5");
    assert!(rejected[1].reason.contains("UTF-8"));
}

#[tokio::test]
async fn pages_hold_at_most_batch_size_items_each_with_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("no\n");
    for i in 1..=7 {
        text.push_str(&format!("{i}\n"));
    }
    write(dir.path(), "a.csv", text.as_bytes());
    let c = connector(r#"{ pattern = "a.csv", format = "csv", batch_size = 3 }"#);
    let (pages, _) = run(dir.path(), &c, None).await;
    let sizes: Vec<usize> = pages.iter().map(|p| p.records.len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert!(pages.iter().all(|p| p.checkpoint.is_some()));
    // Resuming from page 1's checkpoint reads records 4.. only.
    let (rest, _) = run(dir.path(), &c, pages[0].checkpoint.clone()).await;
    assert_eq!(
        payloads(&rest),
        (4..=7)
            .map(|i| json!({"no": i.to_string()}))
            .collect::<Vec<_>>()
    );
    assert_eq!(locators(&rest)[0], "a.csv:5");
}

#[tokio::test]
async fn an_appended_file_is_read_from_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"no\n1\n2\n");
    let c = connector(CSV);
    let (_, cursor) = run(dir.path(), &c, None).await;
    append(dir.path(), "a.csv", b"3\n");
    let (pages, cursor2) = run(dir.path(), &c, cursor).await;
    assert_eq!(payloads(&pages), vec![json!({"no": "3"})]);
    assert_eq!(locators(&pages), ["a.csv:4"]);
    let (pages, _) = run(dir.path(), &c, cursor2).await;
    assert!(pages.is_empty(), "unchanged files yield nothing: {pages:?}");
}

#[tokio::test]
async fn a_rewritten_or_shortened_file_is_read_again_from_the_start() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"no,v\n1,a\n2,b\n");
    let c = connector(CSV);
    let (_, cursor) = run(dir.path(), &c, None).await;
    write(dir.path(), "a.csv", b"no,v\n1,A\n2,b\n3,c\n");
    let (pages, cursor) = run(dir.path(), &c, cursor).await;
    assert_eq!(payloads(&pages).len(), 3);
    write(dir.path(), "a.csv", b"no,v\n9,z\n");
    let (pages, _) = run(dir.path(), &c, cursor).await;
    assert_eq!(payloads(&pages), vec![json!({"no": "9", "v": "z"})]);
}

#[tokio::test]
async fn files_are_read_in_name_order_and_others_ignored() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "orders-2.jsonl", b"{\"id\":2}\n");
    write(dir.path(), "orders-1.jsonl", b"{\"id\":1}\n");
    write(dir.path(), "notes.txt", b"nothing\n");
    let c = connector(r#"{ pattern = "orders-*.jsonl", format = "jsonl" }"#);
    let (pages, cursor) = run(dir.path(), &c, None).await;
    assert_eq!(payloads(&pages), vec![json!({"id": 1}), json!({"id": 2})]);
    let files = cursor.unwrap()["files"].as_object().unwrap().len();
    assert_eq!(files, 2);
    // A new file is picked up alone on the next run.
    write(dir.path(), "orders-3.jsonl", b"{\"id\":3}\n");
    let (pages, _) = run(dir.path(), &c, None).await;
    assert_eq!(
        payloads(&pages).len(),
        3,
        "without a cursor everything is read"
    );
}

#[tokio::test]
async fn jsonl_skips_blank_lines_and_rejects_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "o.jsonl",
        b"{\"id\":\"SO1\",\"amount\":\"12.30\",\"n\":{\"x\":[1]}}\n\n  \n{bad\n[1,2]\n{\"id\":\"SO2\"}\r\n",
    );
    let c = connector(r#"{ pattern = "o.jsonl", format = "jsonl" }"#);
    let (pages, _) = run(dir.path(), &c, None).await;
    assert_eq!(
        payloads(&pages),
        vec![
            json!({"id": "SO1", "amount": "12.30", "n": {"x": [1]}}),
            json!({"id": "SO2"})
        ]
    );
    assert_eq!(locators(&pages), ["o.jsonl:1", "o.jsonl:6"]);
    let rejected: Vec<_> = pages.iter().flat_map(|p| p.rejected.clone()).collect();
    assert_eq!(rejected.len(), 2);
    assert_eq!(
        (rejected[0].locator.as_str(), rejected[0].raw.as_str()),
        ("o.jsonl:4", "{bad")
    );
    assert!(
        rejected[1].reason.contains("array"),
        "{}",
        rejected[1].reason
    );
}

#[tokio::test]
async fn a_last_line_without_line_break_is_read_and_read_again_once_completed() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "o.jsonl", b"{\"id\":1}\n{\"id\":2");
    let c = connector(r#"{ pattern = "o.jsonl", format = "jsonl" }"#);
    let (pages, cursor) = run(dir.path(), &c, None).await;
    assert_eq!(payloads(&pages), vec![json!({"id": 1})]);
    let rejected: Vec<_> = pages.iter().flat_map(|p| p.rejected.clone()).collect();
    assert_eq!(rejected[0].raw, "{\"id\":2", "the partial line as it was");
    let (pages, _) = run(dir.path(), &c, cursor.clone()).await;
    assert!(pages.is_empty(), "unchanged: {pages:?}");
    append(dir.path(), "o.jsonl", b"2}\n{\"id\":3}\n");
    let (pages, _) = run(dir.path(), &c, cursor).await;
    assert_eq!(payloads(&pages), vec![json!({"id": 22}), json!({"id": 3})]);
    assert_eq!(locators(&pages), ["o.jsonl:2", "o.jsonl:3"]);
}

#[tokio::test]
async fn a_header_only_or_empty_file_yields_no_records() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"no,name\n");
    write(dir.path(), "b.csv", b"");
    let (pages, _) = run(dir.path(), &connector(CSV), None).await;
    assert!(payloads(&pages).is_empty());
    assert!(pages.iter().all(|p| p.rejected.is_empty()));
}

#[tokio::test]
async fn bad_configuration_and_cursors_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"no\n1\n");
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    let zero = connector(r#"{ pattern = "a.csv", format = "csv", batch_size = 0 }"#);
    assert!(open_stream(&zero, "s", None, &ctx).is_err());
    let delim = connector(r#"{ pattern = "a.csv", format = "csv", delimiter = "é" }"#);
    assert!(open_stream(&delim, "s", None, &ctx).is_err());
    let c = connector(CSV);
    let err = open_stream(&c, "s", Some(json!({"version": 9})), &ctx)
        .err()
        .unwrap();
    assert!(err.to_string().contains("--full"), "{err}");
    let missing = SourceContext {
        root: dir.path().join("nope"),
    };
    assert!(matches!(
        open_stream(&c, "s", None, &missing).err(),
        Some(crate::connector::ConnectorError::Io { .. })
    ));
}

#[tokio::test]
async fn a_duplicate_header_stops_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"no,no\n1,2\n");
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    let mut s = open_stream(&connector(CSV), "s", None, &ctx).unwrap();
    let err = s.next_page().await.err().unwrap();
    assert!(err.to_string().contains("a.csv:1"), "{err}");
}

#[tokio::test]
async fn a_csv_without_final_line_break_is_read_and_its_last_row_reread_when_appended() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.csv", b"no\n1\n2");
    let c = connector(CSV);
    let (pages, cursor) = run(dir.path(), &c, None).await;
    assert_eq!(
        payloads(&pages),
        vec![json!({"no": "1"}), json!({"no": "2"})]
    );
    append(dir.path(), "a.csv", b"3\n4\n");
    let (pages, _) = run(dir.path(), &c, cursor).await;
    assert_eq!(
        payloads(&pages),
        vec![json!({"no": "23"}), json!({"no": "4"})]
    );
    assert_eq!(locators(&pages), ["a.csv:3", "a.csv:4"]);
}

#[tokio::test]
async fn a_resumed_stream_keeps_going_across_files() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.jsonl", b"{\"id\":1}\n{\"id\":2}\n");
    write(dir.path(), "b.jsonl", b"{\"id\":3}\n{\"id\":4}\n");
    let c = connector(r#"{ pattern = "*.jsonl", format = "jsonl", batch_size = 3 }"#);
    let (pages, _) = run(dir.path(), &c, None).await;
    assert_eq!(pages.len(), 2);
    // The run "failed" after page 1 (ids 1-3): resuming reads id 4 only.
    let (rest, _) = run(dir.path(), &c, pages[0].checkpoint.clone()).await;
    assert_eq!(payloads(&rest), vec![json!({"id": 4})]);
    assert_eq!(locators(&rest), ["b.jsonl:2"]);
}
