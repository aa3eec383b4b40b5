use std::fs;
use std::io::{BufReader, Write};
use std::path::Path;

use serde_json::{Value, json};

use super::records::{XmlError, XmlItem, XmlOptions, XmlRecords, records_of};
use crate::connector::{ConnectorConfig, Page, SourceContext, open_stream};

fn opts(path: &str, arrays: &[&str]) -> XmlOptions {
    let mut o = XmlOptions::new(path).unwrap();
    o.arrays = arrays.iter().map(|s| s.to_string()).collect();
    o
}

fn values(xml: &str, o: XmlOptions) -> Vec<Value> {
    records_of(xml.as_bytes(), o)
        .expect("reads")
        .into_iter()
        .map(|i| match i {
            XmlItem::Record { value, .. } => value,
            XmlItem::Rejected { reason, .. } => panic!("rejected: {reason}"),
        })
        .collect()
}

#[test]
fn children_repeats_forced_arrays_attributes_and_text() {
    let xml = r#"<?xml version="1.0"?>
<ROOT>
  <IDOC BEGIN="1">
    <A>  x </A>
    <B>1</B><B>2</B>
    <E1EDP01><POSEX>10</POSEX></E1EDP01>
    <C unit="KG">12.50</C>
    <D/>
    <E>   </E>
    <F>a &amp; b &#65;<![CDATA[<raw>]]></F>
  </IDOC>
</ROOT>"#;
    let v = values(xml, opts("ROOT/IDOC", &["E1EDP01"]));
    assert_eq!(
        v,
        vec![json!({
            "@BEGIN": "1",
            "A": "  x ",
            "B": ["1", "2"],
            "E1EDP01": [{"POSEX": "10"}],
            "C": {"@unit": "KG", "#text": "12.50"},
            "D": "",
            "E": "",
            "F": "a & b A<raw>",
        })]
    );
}

#[test]
fn numbers_stay_strings_and_namespaces_are_ignored() {
    let xml = r#"<n:ROOT xmlns:n="urn:x" xmlns="urn:d"><n:IDOC n:k="v"><n:AMT>0012.30</n:AMT></n:IDOC><IDOC><AMT>5</AMT></IDOC></n:ROOT>"#;
    let v = values(xml, opts("ROOT/IDOC", &[]));
    assert_eq!(
        v,
        vec![json!({"@k": "v", "AMT": "0012.30"}), json!({"AMT": "5"})]
    );
}

#[test]
fn record_path_matches_nested_elements_only_at_its_place() {
    let xml = "<R><X><IDOC><A>1</A></IDOC></X><IDOC><A>2</A></IDOC></R>";
    assert_eq!(values(xml, opts("R/IDOC", &[])), vec![json!({"A": "2"})]);
    assert_eq!(values(xml, opts("IDOC", &[])).len(), 2);
}

#[test]
fn doctype_is_refused_so_an_entity_bomb_is_never_expanded() {
    let bomb = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<R><IDOC><A>&lol2;</A></IDOC></R>"#;
    let err = records_of(bomb.as_bytes(), opts("R/IDOC", &[])).unwrap_err();
    assert!(matches!(err, XmlError::Doctype { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("DOCTYPE"));
}

#[test]
fn unknown_entities_reject_the_record_only() {
    let xml = "<R><IDOC><A>&foo;</A></IDOC><IDOC><A>ok</A></IDOC></R>";
    let items = records_of(xml.as_bytes(), opts("R/IDOC", &[])).unwrap();
    assert!(
        matches!(&items[0], XmlItem::Rejected { reason, raw, index: 1, .. } if reason.contains("&foo;") && raw.starts_with("<IDOC>"))
    );
    assert!(matches!(&items[1], XmlItem::Record { index: 2, .. }));
}

#[test]
fn a_mismatched_end_tag_rejects_the_record_and_reading_goes_on() {
    let xml = "<R>\n<IDOC><A>1</B></IDOC>\n<IDOC><A>2</A></IDOC>\n</R>";
    let items = records_of(xml.as_bytes(), opts("R/IDOC", &[])).unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    match &items[0] {
        XmlItem::Rejected {
            line, raw, reason, ..
        } => {
            assert_eq!(*line, 2);
            assert!(reason.contains("expected </A>, found </B>"), "{reason}");
            assert_eq!(raw, "<IDOC><A>1</B></IDOC>");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        items[1],
        XmlItem::Record {
            index: 2,
            line: 3,
            value: json!({"A": "2"})
        }
    );
}

#[test]
fn an_unrecoverable_syntax_error_names_the_position() {
    let xml = "<R><IDOC><A>1</A></IDOC>\n<IDOC><!X></IDOC></R>";
    let mut r = XmlRecords::new(xml.as_bytes(), opts("R/IDOC", &[]));
    let err = loop {
        match r.next_item() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("no error"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, XmlError::Syntax { line: 2, .. }), "{err}");
    assert!(err.to_string().starts_with("line 2 (byte "), "{err}");
}

#[test]
fn depth_limit_inside_and_outside_records() {
    let mut o = opts("R/IDOC", &[]);
    o.max_depth = 4;
    let xml = "<R><IDOC><a><b><c>1</c></b></a></IDOC><IDOC><a>ok</a></IDOC></R>";
    let items = records_of(xml.as_bytes(), o.clone()).unwrap();
    assert!(
        matches!(&items[0], XmlItem::Rejected { reason, .. } if reason.contains("max_depth = 4"))
    );
    assert!(matches!(&items[1], XmlItem::Record { .. }));
    let deep = "<R><x><y><z><w>1</w></z></y></x></R>";
    let err = records_of(deep.as_bytes(), o).unwrap_err();
    assert!(matches!(err, XmlError::TooDeep { limit: 4, .. }), "{err}");
}

#[test]
fn size_limit_rejects_a_large_record_and_bounds_single_events() {
    let mut o = opts("R/IDOC", &[]);
    o.max_record_bytes = 100;
    let big: String = "<A>x</A>".repeat(30);
    let xml = format!("<R><IDOC>{big}</IDOC><IDOC><A>1</A></IDOC></R>");
    let items = records_of(xml.as_bytes(), o.clone()).unwrap();
    assert!(
        matches!(&items[0], XmlItem::Rejected { reason, .. } if reason.contains("max_record_bytes = 100"))
    );
    assert_eq!(
        items[1],
        XmlItem::Record {
            index: 2,
            line: 1,
            value: json!({"A": "1"})
        }
    );
    // One text node larger than the limit cannot even be buffered: the reading stops.
    let huge = format!("<R><IDOC><A>{}</A></IDOC></R>", "y".repeat(10_000));
    let mut r = XmlRecords::new(BufReader::with_capacity(16, huge.as_bytes()), o);
    assert!(r.next_item().is_err());
}

#[test]
fn tiny_buffers_give_the_same_records_and_positions() {
    let xml = "<?xml version=\"1.0\"?>\n<n:R xmlns:n=\"urn:x\">\n<n:IDOC a=\"1\"><B>x &amp; y</B><C><![CDATA[z]]></C></n:IDOC>\n<n:IDOC><B>2</B><B>3</B></n:IDOC>\n</n:R>\n";
    let whole = records_of(xml.as_bytes(), opts("R/IDOC", &[])).unwrap();
    assert_eq!(whole.len(), 2);
    for cap in 1..8 {
        let mut r = XmlRecords::new(
            BufReader::with_capacity(cap, xml.as_bytes()),
            opts("R/IDOC", &[]),
        );
        let mut items = vec![];
        while let Some(i) = r.next_item().unwrap() {
            items.push(i);
        }
        assert_eq!(items, whole, "buffer of {cap} bytes");
        assert_eq!(r.safe_point().offset, xml.len() as u64);
        assert_eq!(r.safe_point().lines, 5);
    }
}

#[test]
fn records_are_yielded_incrementally_from_a_large_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xml");
    let mut f = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    writeln!(f, "<?xml version=\"1.0\"?>\n<DEBMAS07>").unwrap();
    let mut n = 0u64;
    let mut written = 0usize;
    while written < 50 * 1024 * 1024 {
        let rec = format!(
            "<IDOC BEGIN=\"1\"><E1KNA1M SEGMENT=\"1\"><KUNNR>{n:010}</KUNNR><NAME1>Customer {n}</NAME1><ORT01>Lyon</ORT01></E1KNA1M></IDOC>\n"
        );
        written += rec.len();
        f.write_all(rec.as_bytes()).unwrap();
        n += 1;
    }
    writeln!(f, "</DEBMAS07>").unwrap();
    f.flush().unwrap();
    drop(f);
    let file = fs::File::open(&path).unwrap();
    let mut r = XmlRecords::new(
        BufReader::with_capacity(8 * 1024, file),
        opts("DEBMAS07/IDOC", &[]),
    );
    let first = r.next_item().unwrap().unwrap();
    assert!(
        matches!(&first, XmlItem::Record { value, .. } if value["E1KNA1M"]["KUNNR"] == "0000000000")
    );
    // After the first record only a buffer's worth of the 50 MB file was read.
    assert!(r.consumed() < 64 * 1024, "consumed {}", r.consumed());
    let mut count = 1;
    let mut max_consumed_ahead = 0;
    while let Some(item) = r.next_item().unwrap() {
        assert!(matches!(item, XmlItem::Record { .. }));
        count += 1;
        max_consumed_ahead = max_consumed_ahead.max(r.consumed() - r.safe_point().offset);
        assert!(r.buffer_capacity() <= 64 * 1024);
    }
    assert_eq!(count, n);
    assert!(max_consumed_ahead < 1024, "{max_consumed_ahead}");
    assert_eq!(r.safe_point().offset, fs::metadata(&path).unwrap().len());
}

// ---- through the file source ----

fn connector(file: &str) -> ConnectorConfig {
    let text = format!(
        "name = \"t\"\nkind = \"file\"\n[file]\ndir = \"in\"\n[[streams]]\nname = \"s\"\nmapping = \"m\"\nfile = {file}\n"
    );
    toml::from_str(&text).expect("connector parses")
}

fn write(root: &Path, name: &str, text: &str) {
    let dir = root.join("in");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), text).unwrap();
}

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

fn locators(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.locator.clone()))
        .collect()
}

const STREAM: &str =
    r#"{ pattern = "*.xml", format = "xml", record_path = "R/IDOC", batch_size = 2 }"#;

fn doc(ids: &[u32], closed: bool) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<R>\n");
    for id in ids {
        s.push_str(&format!("<IDOC>\n<ID>{id}</ID>\n</IDOC>\n"));
    }
    if closed {
        s.push_str("</R>\n");
    }
    s
}

#[tokio::test]
async fn pages_cursor_resume_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(STREAM);
    write(dir.path(), "a.xml", &doc(&[1, 2, 3], false));
    let (pages, cursor) = run(dir.path(), &c, None).await;
    assert_eq!(
        locators(&pages),
        vec![
            "a.xml:record 1 (line 3)",
            "a.xml:record 2 (line 6)",
            "a.xml:record 3 (line 9)"
        ]
    );
    let pos = &cursor.as_ref().unwrap()["files"]["a.xml"];
    assert_eq!(pos["records"], 3);
    assert_eq!(pos["elements"], json!(["R"]));
    // Nothing new.
    let (pages, same) = run(dir.path(), &c, cursor.clone()).await;
    assert!(pages.iter().all(|p| p.records.is_empty()));
    assert_eq!(same, cursor);
    // Appended: only the new records, numbered on.
    write(dir.path(), "a.xml", &doc(&[1, 2, 3, 4], true));
    let (pages, cursor) = run(dir.path(), &c, cursor).await;
    assert_eq!(locators(&pages), vec!["a.xml:record 4 (line 12)"]);
    assert_eq!(pages[0].records[0].payload, json!({"ID": "4"}));
    let (pages, _) = run(dir.path(), &c, cursor.clone()).await;
    assert!(pages.is_empty());
    // Rewritten: read again from the start.
    write(dir.path(), "a.xml", &doc(&[9, 2], true));
    let (pages, _) = run(dir.path(), &c, cursor).await;
    assert_eq!(locators(&pages).len(), 2);
    assert_eq!(pages[0].records[0].payload, json!({"ID": "9"}));
}

#[tokio::test]
async fn a_resumed_run_continues_after_the_last_committed_page() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(STREAM);
    write(dir.path(), "a.xml", &doc(&[1, 2, 3, 4, 5], true));
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    let mut source = open_stream(&c, "s", None, &ctx).unwrap();
    let first = source.next_page().await.unwrap().unwrap();
    assert_eq!(first.records.len(), 2);
    drop(source);
    let (pages, _) = run(dir.path(), &c, first.checkpoint).await;
    let ids: Vec<Value> = pages
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.payload["ID"].clone()))
        .collect();
    assert_eq!(ids, vec![json!("3"), json!("4"), json!("5")]);
}

#[tokio::test]
async fn a_fatal_error_names_the_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let c = connector(STREAM);
    write(
        dir.path(),
        "bomb.xml",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE R [<!ENTITY a \"aaaa\">]>\n<R><IDOC>&a;</IDOC></R>",
    );
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    let mut source = open_stream(&c, "s", None, &ctx).unwrap();
    let err = source.next_page().await.unwrap_err().to_string();
    assert!(err.starts_with("bomb.xml: line 2"), "{err}");
    assert!(err.contains("DOCTYPE"), "{err}");
}

#[test]
fn xml_streams_need_a_record_path() {
    let c = connector(r#"{ pattern = "*.xml", format = "xml" }"#);
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("in")).unwrap();
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    let err = open_stream(&c, "s", None, &ctx).err().unwrap().to_string();
    assert!(err.contains("record_path"), "{err}");
}

#[tokio::test]
async fn the_file_name_goes_into_each_record_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.xml", &doc(&[1], true));
    let text = format!(
        "name = \"t\"\nkind = \"file\"\n[file]\ndir = \"in\"\nfile_name_field = \"_file\"\n[[streams]]\nname = \"s\"\nmapping = \"m\"\nfile = {STREAM}\n"
    );
    let c: ConnectorConfig = toml::from_str(&text).unwrap();
    let (pages, _) = run(dir.path(), &c, None).await;
    assert_eq!(
        pages[0].records[0].payload,
        json!({"ID": "1", "_file": "a.xml"})
    );
}
