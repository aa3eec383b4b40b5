//! Streaming XML throughput: generates a DEBMAS07 file of customer IDocs in a temporary folder
//! (default 200 MB; `XML_BENCH_MB` overrides) and reads it through a `file` connector stream with
//! `format = "xml"`, printing records/s and MB/s. Run with `cargo bench --bench xml`.

use std::io::Write;
use std::time::Instant;

use tributary::connector::{ConnectorConfig, SourceContext, open_stream};

fn idoc(n: u64) -> String {
    format!(
        r#"  <IDOC BEGIN="1">
    <EDI_DC40 SEGMENT="1"><TABNAM>EDI_DC40</TABNAM><DOCNUM>{n:016}</DOCNUM><IDOCTYP>DEBMAS07</IDOCTYP><MESTYP>DEBMAS</MESTYP><CREDAT>20261120</CREDAT><CRETIM>093000</CRETIM></EDI_DC40>
    <E1KNA1M SEGMENT="1">
      <MSGFN>005</MSGFN><KUNNR>{n:010}</KUNNR><KTOKD>0001</KTOKD><LAND1>DE</LAND1>
      <NAME1>Kunde {n} GmbH &amp; Co. KG</NAME1><ORT01>Köln</ORT01><PSTLZ>50667</PSTLZ>
      <STRAS>Hohe Straße {n}</STRAS><TELF1>+49 221 555 {n}</TELF1><STCEG>DE{n:09}</STCEG>
      <E1KNB1M SEGMENT="1"><MSGFN>005</MSGFN><BUKRS>1000</BUKRS><ZTERM>NT30</ZTERM></E1KNB1M>
      <E1KNVVM SEGMENT="1"><MSGFN>005</MSGFN><VKORG>1000</VKORG><VTWEG>10</VTWEG><SPART>00</SPART><WAERS>EUR</WAERS><ZTERM>NT30</ZTERM></E1KNVVM>
    </E1KNA1M>
  </IDOC>
"#
    )
}

#[tokio::main]
async fn main() {
    let mb: usize = std::env::var("XML_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    let path = dir.path().join("in/DEBMAS07_bench.xml");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    out.write_all(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DEBMAS07>\n")
        .unwrap();
    let (mut written, mut n) = (0usize, 0u64);
    while written < mb * 1024 * 1024 {
        let s = idoc(n);
        written += s.len();
        out.write_all(s.as_bytes()).unwrap();
        n += 1;
    }
    out.write_all(b"</DEBMAS07>\n").unwrap();
    out.flush().unwrap();
    drop(out);
    let bytes = std::fs::metadata(&path).unwrap().len();

    let config: ConnectorConfig = toml::from_str(
        r#"
name = "bench"
kind = "file"
[file]
dir = "in"
[[streams]]
name = "debmas"
mapping = "m"
file = { pattern = "*.xml", format = "xml", record_path = "DEBMAS07/IDOC", arrays = ["E1KNB1M", "E1KNVVM"], batch_size = 1000 }
"#,
    )
    .unwrap();
    let ctx = SourceContext {
        root: dir.path().to_path_buf(),
    };
    let started = Instant::now();
    let mut source = open_stream(&config, "debmas", None, &ctx).unwrap();
    let mut records = 0u64;
    while let Some(page) = source.next_page().await.unwrap() {
        records += page.records.len() as u64;
        assert!(page.rejected.is_empty());
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(records, n);
    let mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "xml: {records} DEBMAS07 IDocs, {mib:.1} MiB in {secs:.2} s: {:.0} records/s, {:.1} MiB/s",
        records as f64 / secs,
        mib / secs
    );
}
