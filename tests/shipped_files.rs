//! The example project shipped in the repository (`config/`, `connectors/`, `mappings/`,
//! `samples/`) is what a user runs first (`cargo run -- sync --all`) and copies from. These tests
//! hold it to its promises without a store or a running source:
//!
//! - the project loads and validates: two connectors that run, disabled presets beside them
//!   (`enabled = false`, waiting for a user to fill them in), every mapping compiles;
//! - every mapping passes its own `[[tests]]`, and each has at least one error case;
//! - mapping every sample record fails exactly twice, on the two deliberately malformed records
//!   (an ERP customer without a name, an ERP invoice with a corrupt amount), and nowhere else;
//! - the samples are coherent: documents point at existing customers, dealer records at existing
//!   dealers, tax IDs carry valid check characters, and the ERP / dealer overlaps the customer
//!   master is expected to merge are really there.
//!
//! The samples are read here the way the `file` connector reads them (CSV rows as objects of
//! strings keyed by the header row, JSON Lines one object per line, locators `file:line`), so
//! these tests do not depend on the connector's runtime.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use tributary::config::Project;
use tributary::connector::SourceKind;
use tributary::connector::file::config::FileFormat;
use tributary::mapping::{Mapping, MappingError};
use tributary::model::{CanonicalRecord, CustomerKind};

/// The repository root, which is the shipped project.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped project, independent of `TRIBUTARY__…` variables in the caller's environment.
fn project() -> Project {
    Project::load_with_env(root(), &HashMap::new())
        .unwrap_or_else(|e| panic!("the shipped project does not load:\n{e}"))
}

/// Fetched records per (connector, stream) in the shipped samples.
const EXPECTED_STREAMS: [(&str, &str, &str, usize); 8] = [
    ("dealer-portal", "dealers", "dealer-dealers", 25),
    ("dealer-portal", "channel_stock", "dealer-channel-stock", 70),
    ("dealer-portal", "sell_through", "dealer-sell-through", 200),
    ("erp", "customers", "erp-customers", 40),
    ("erp", "sales_orders", "erp-sales-orders", 80),
    ("erp", "invoices", "erp-invoices", 120),
    ("erp", "payments", "erp-payments", 40),
    ("erp", "stock", "erp-stock", 60),
];

/// One source record with its location.
struct Row {
    locator: String,
    payload: Value,
}

/// `*` and `?` file name patterns, as the file connector takes them.
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob_match(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob_match(&pattern[1..], &name[1..]),
        _ => false,
    }
}

fn files(dir: &Path, pattern: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && glob_match(
                    pattern.as_bytes(),
                    p.file_name().unwrap().to_string_lossy().as_bytes(),
                )
        })
        .collect();
    out.sort();
    out
}

fn read_csv(path: &Path, delimiter: u8) -> Vec<Row> {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_path(path)
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.len(), headers.len(), "{name}: ragged row {r:?}");
            let line = r.position().unwrap().line();
            let object: Map<String, Value> = headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), Value::String(v.to_string())))
                .collect();
            Row {
                locator: format!("{name}:{line}"),
                payload: Value::Object(object),
            }
        })
        .collect()
}

fn read_jsonl(path: &Path) -> Vec<Row> {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Row {
            locator: format!("{name}:{}", i + 1),
            payload: serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{name}:{}: not JSON: {e}", i + 1)),
        })
        .collect()
}

/// Every record of every stream, keyed by (connector, stream), with the stream's mapping name.
fn sample_rows(project: &Project) -> BTreeMap<(String, String), (String, Vec<Row>)> {
    let mut out = BTreeMap::new();
    for (name, file) in project.connectors.iter().filter(|(_, c)| c.config.enabled) {
        let config = &file.config;
        assert_eq!(config.kind, SourceKind::File, "{name}");
        let dir = root().join(&config.file().expect("a [file] table").dir);
        for stream in &config.streams {
            let spec = stream.file().expect("a file stream");
            let found = files(&dir, &spec.pattern);
            assert_eq!(
                found.len(),
                1,
                "{name}/{}: `{}` should match one file in {}",
                stream.name,
                spec.pattern,
                dir.display()
            );
            let rows = match spec.format {
                FileFormat::Csv => read_csv(&found[0], spec.delimiter.unwrap_or(',') as u8),
                FileFormat::Jsonl => read_jsonl(&found[0]),
                FileFormat::Xml => panic!("{name}: no shipped XML samples"),
            };
            out.insert(
                (name.clone(), stream.name.clone()),
                (stream.mapping.clone(), rows),
            );
        }
    }
    out
}

/// A record that did not map.
#[derive(Debug)]
struct Failure {
    connector: String,
    stream: String,
    locator: String,
    key: Option<String>,
    error: MappingError,
}

/// Mapped records per (connector, stream).
type Mapped = BTreeMap<(String, String), Vec<CanonicalRecord>>;

/// Maps every sample record; returns the mapped records per (connector, stream) and the failures.
fn map_samples() -> (Mapped, Vec<Failure>) {
    let project = project();
    let mappings = project.compile_mappings().unwrap();
    let mut mapped = BTreeMap::new();
    let mut failures = Vec::new();
    for ((connector, stream), (mapping, rows)) in sample_rows(&project) {
        let m: &Mapping = &mappings[&mapping];
        let mut ok = Vec::new();
        for row in rows {
            match m.apply(&row.payload) {
                Ok(r) => {
                    assert_eq!(r.entity(), m.entity(), "{}", row.locator);
                    ok.push(r);
                }
                Err(error) => failures.push(Failure {
                    connector: connector.clone(),
                    stream: stream.clone(),
                    locator: row.locator.clone(),
                    key: m.key_of(&row.payload),
                    error,
                }),
            }
        }
        mapped.insert((connector, stream), ok);
    }
    (mapped, failures)
}

#[test]
fn the_shipped_project_loads_and_validates() {
    let project = Project::load(root()).unwrap_or_else(|e| panic!("{e}"));
    let connectors: Vec<&str> = project
        .connectors
        .values()
        .filter(|c| c.config.enabled)
        .map(|c| c.config.name.as_str())
        .collect();
    assert_eq!(connectors, ["dealer-portal", "erp"]);
    let presets: Vec<&str> = project
        .connectors
        .values()
        .filter(|c| !c.config.enabled)
        .map(|c| c.config.name.as_str())
        .collect();
    assert!(presets.contains(&"dealer-api") && presets.contains(&"dealer-uploads"));
    assert!(presets.contains(&"erpnext") && presets.contains(&"business-central"));
    assert!(presets.contains(&"odoo") && presets.contains(&"tryton"));
    assert!(presets.contains(&"sap-idoc"));
    let on_disk = files(&root().join("mappings"), "*.toml").len();
    assert!(on_disk >= 36, "{on_disk}");
    assert_eq!(
        project.mappings.len(),
        on_disk,
        "{:?}",
        project.mappings.keys()
    );

    let mut streams: Vec<(&str, &str, &str)> = project
        .connectors
        .values()
        .filter(|c| c.config.enabled)
        .flat_map(|c| {
            c.config.streams.iter().map(|s| {
                assert!(s.enabled, "{}/{} is enabled", c.config.name, s.name);
                (c.config.name.as_str(), s.name.as_str(), s.mapping.as_str())
            })
        })
        .collect();
    streams.sort();
    let mut expected: Vec<(&str, &str, &str)> = EXPECTED_STREAMS
        .iter()
        .map(|(c, s, m, _)| (*c, *s, *m))
        .collect();
    expected.sort();
    assert_eq!(streams, expected);
    let used: BTreeSet<&str> = streams.iter().map(|(_, _, m)| *m).collect();
    assert_eq!(used.len(), 8, "every mapping is used by one stream");
    for c in project.connectors.values().filter(|c| !c.config.enabled) {
        for s in &c.config.streams {
            assert!(
                project.mappings.contains_key(&s.mapping),
                "{}/{}",
                c.config.name,
                s.name
            );
        }
    }
}

#[test]
fn the_settings_file_holds_the_documented_defaults() {
    let project = project();
    let s = &project.settings;
    assert_eq!(s.store.url, "sqlite://data/tributary.db");
    assert_eq!(s.currency.base.as_str(), "CNY");
    let rates: Vec<(String, String)> = s
        .currency
        .rates
        .iter()
        .map(|(c, r)| (c.to_string(), r.to_string()))
        .collect();
    assert_eq!(
        rates,
        [
            ("EUR".to_string(), "7.80".to_string()),
            ("USD".to_string(), "7.10".to_string())
        ]
    );
    assert_eq!(s.reconcile.source_priority, ["erp", "dealer-portal"]);
    assert_eq!(s.exposure.stale_after_hours, 36);
}

#[test]
fn every_mapping_compiles_and_passes_its_own_tests() {
    let project = project();
    let compiled = project.compile_mappings().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        compiled.len(),
        files(&root().join("mappings"), "*.toml").len()
    );
    let mut failed = Vec::new();
    for (name, file) in &project.mappings {
        let tests = &file.spec.tests;
        assert!(
            (2..=4).contains(&tests.len()),
            "{name}: {} tests",
            tests.len()
        );
        assert!(
            tests.iter().any(|t| t.error.is_some()),
            "{name} has no error case"
        );
        let outcomes = compiled[name].run_tests(&file.spec);
        assert_eq!(outcomes.len(), tests.len(), "{name}");
        for o in outcomes {
            if let Some(why) = o.failure {
                failed.push(format!("{name}: {}: {why}", o.name));
            }
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn mapping_the_samples_fails_only_on_the_two_deliberate_records() {
    let (mapped, failures) = map_samples();

    // Every record is fetched: mapped or failed.
    for (connector, stream, _, fetched) in EXPECTED_STREAMS {
        let ok = mapped[&(connector.to_string(), stream.to_string())].len();
        let bad = failures
            .iter()
            .filter(|f| f.connector == connector && f.stream == stream)
            .count();
        assert_eq!(ok + bad, fetched, "{connector}/{stream}");
    }

    assert_eq!(failures.len(), 2, "{failures:#?}");
    let name = &failures
        .iter()
        .find(|f| f.stream == "customers")
        .expect("the nameless customer");
    assert_eq!(name.connector, "erp");
    assert_eq!(name.locator, "customers.csv:32");
    assert_eq!(name.key.as_deref(), Some("C10031"));
    assert_eq!(name.error.field, "name", "{}", name.error);
    assert!(name.error.to_string().contains("name"), "{}", name.error);

    let amount = &failures
        .iter()
        .find(|f| f.stream == "invoices")
        .expect("the invoice with a corrupt amount");
    assert_eq!(amount.connector, "erp");
    assert_eq!(amount.locator, "invoices.csv:97");
    assert_eq!(amount.key.as_deref(), Some("30096"));
    assert_eq!(amount.error.field, "total", "{}", amount.error);
    assert!(
        amount.error.to_string().contains("total") && amount.error.to_string().contains("5O0"),
        "{}",
        amount.error
    );
}

/// GB 32100-2015: the 18th character of a USCC is a check character over the first 17.
fn uscc_is_valid(id: &str) -> bool {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let values: Option<Vec<usize>> = id.chars().map(|c| CHARS.find(c)).collect();
    match values {
        Some(v) if v.len() == 18 => {
            let sum: usize = v[..17].iter().zip(WEIGHTS).map(|(a, w)| a * w).sum();
            (31 - sum % 31) % 31 == v[17]
        }
        _ => false,
    }
}

#[test]
fn the_samples_are_coherent() {
    let (mapped, _) = map_samples();
    let records = |c: &str, s: &str| &mapped[&(c.to_string(), s.to_string())];

    let erp_customers: BTreeMap<&str, _> = records("erp", "customers")
        .iter()
        .map(|r| match r {
            CanonicalRecord::Customer(c) => (c.source_key.as_str(), c),
            other => panic!("{other:?}"),
        })
        .collect();
    let dealers: BTreeMap<&str, _> = records("dealer-portal", "dealers")
        .iter()
        .map(|r| match r {
            CanonicalRecord::Customer(c) => (c.source_key.as_str(), c),
            other => panic!("{other:?}"),
        })
        .collect();

    // Documents point at customers of their own source; parents exist.
    for stream in ["sales_orders", "invoices", "payments"] {
        for r in records("erp", stream) {
            let key = r.customer_key().unwrap();
            assert!(erp_customers.contains_key(key), "erp/{stream}: {key}");
        }
    }
    for stream in ["channel_stock", "sell_through"] {
        for r in records("dealer-portal", stream) {
            let key = r.customer_key().unwrap();
            assert!(dealers.contains_key(key), "dealer-portal/{stream}: {key}");
        }
    }
    for c in erp_customers.values().chain(dealers.values()) {
        if let Some(p) = &c.parent_key {
            assert!(
                erp_customers.contains_key(p.as_str()) || dealers.contains_key(p.as_str()),
                "{}: parent {p}",
                c.source_key
            );
        }
    }

    // Dealers are channel partners; some ERP customers are too.
    assert!(dealers.values().all(|d| matches!(
        d.kind,
        CustomerKind::Dealer | CustomerKind::Distributor | CustomerKind::Agent
    )));

    // Every Chinese tax ID is a USCC with a valid check character.
    for c in erp_customers.values().chain(dealers.values()) {
        if let (Some(id), Some("CN")) = (&c.tax_id, c.country.as_deref()) {
            assert!(uscc_is_valid(id), "{}: {id}", c.source_key);
        }
    }

    // Seven companies are known in both systems under the same USCC …
    let erp_ids: BTreeMap<&str, &str> = erp_customers
        .values()
        .filter_map(|c| Some((c.tax_id.as_deref()?, c.source_key.as_str())))
        .collect();
    let mut shared: Vec<(&str, &str)> = dealers
        .values()
        .filter_map(|d| Some((*erp_ids.get(d.tax_id.as_deref()?)?, d.source_key.as_str())))
        .collect();
    shared.sort();
    assert_eq!(
        shared,
        [
            ("C10001", "D1001"),
            ("C10004", "D1004"),
            ("C10008", "D1007"),
            ("C10009", "D1002"),
            ("C10011", "D1010"),
            ("C10012", "D1011"),
            ("C10021", "D1017"),
        ]
    );
    // … and two more by name, postcode and country only: one side has no tax ID.
    for (c, d) in [("C10014", "D1012"), ("C10022", "D1019")] {
        let (c, d) = (erp_customers[c], dealers[d]);
        assert_eq!(c.postal_code, d.postal_code);
        assert_eq!(c.country, d.country);
        assert!(c.tax_id.is_none() != d.tax_id.is_none());
        assert_ne!(c.name, d.name, "written differently");
    }
}

#[test]
fn the_http_connector_example_validates_in_place_of_the_file_connector() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["config", "mappings", "connectors"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    for path in ["config/tributary.toml"]
        .into_iter()
        .map(PathBuf::from)
        .chain(
            files(&root().join("mappings"), "*.toml")
                .into_iter()
                .map(|p| Path::new("mappings").join(p.file_name().unwrap())),
        )
    {
        std::fs::copy(root().join(&path), dir.path().join(&path)).unwrap();
    }
    std::fs::copy(
        root().join("examples/connectors/erp-http.toml.example"),
        dir.path().join("connectors/erp.toml"),
    )
    .unwrap();

    let env: HashMap<String, String> = [
        ("ERP_BASE_URL", "https://erp.example.cn"),
        ("ERP_API_TOKEN", "t0ken"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let project = Project::load_with_env(dir.path(), &env).unwrap_or_else(|e| panic!("{e}"));
    let erp = &project.connectors["erp"].config;
    assert_eq!(erp.kind, SourceKind::Http);
    assert_eq!(
        erp.http().unwrap().base_url,
        "https://erp.example.cn/api/v1"
    );
    let streams: Vec<&str> = erp.streams.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        streams,
        ["customers", "sales_orders", "invoices", "payments", "stock"]
    );

    // Without its variables, the example names what is missing.
    let errors = Project::load_with_env(dir.path(), &HashMap::new())
        .unwrap_err()
        .to_string();
    assert!(errors.contains("ERP_API_TOKEN"), "{errors}");
}
