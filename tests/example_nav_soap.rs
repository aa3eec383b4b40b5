//! The SOAP example (examples/connectors/nav-soap.toml.example + mappings/nav-soap-customers.toml)
//! against a fake Dynamics NAV SOAP page service: `POST …/Page/Customer` with a `ReadMultiple`
//! envelope (filter, `bookmarkKey`, `setSize`), basic auth and the `SOAPAction` header, answered
//! with a `ReadMultiple_Result` envelope of `Customer` entities carrying their bookmark `Key`, as
//! the service documents it. Fixture: tests/fixtures/nav-soap/customers.json.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use base64::Engine;
use regex::Regex;
use serde_json::Value;
use tributary::model::Entity;
use tributary::store::RunStatus;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const PAGE_NS: &str = "urn:microsoft-dynamics-schemas/page/customer";

/// The text of the first `<name>` element of a request body.
fn tag(body: &str, name: &str) -> Option<String> {
    let re = Regex::new(&format!(r"<(?:\w+:)?{name}>([^<]*)</(?:\w+:)?{name}>")).unwrap();
    re.captures(body).map(|c| c[1].to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

/// The page service: entities after the bookmark, at most `setSize`, filtered by
/// `Last_Date_Modified` `>=` when the envelope carries a filter.
#[derive(Clone)]
struct PageService {
    rows: Arc<Mutex<Vec<Value>>>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl PageService {
    fn new() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nav-soap");
        let text = std::fs::read_to_string(dir.join("customers.json")).unwrap();
        PageService {
            rows: Arc::new(Mutex::new(serde_json::from_str(&text).unwrap())),
            bodies: Arc::new(Mutex::new(vec![])),
        }
    }

    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body = String::from_utf8_lossy(&req.body).into_owned();
        self.bodies.lock().unwrap().push(body.clone());
        let size: usize = tag(&body, "setSize").unwrap().parse().unwrap();
        let bookmark = tag(&body, "bookmarkKey").unwrap_or_default();
        let since = tag(&body, "Criteria").map(|c| c.trim_start_matches("&gt;=").to_string());
        let key = |row: &Value| format!("12;{};", row["No"].as_str().unwrap());
        let entities: String = self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                since
                    .as_deref()
                    .is_none_or(|s| r["Last_Date_Modified"].as_str().unwrap() >= s)
            })
            .filter(|r| bookmark.is_empty() || key(r) > bookmark)
            .take(size)
            .map(|r| {
                let fields: String = r
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| format!("<{k}>{}</{k}>", escape(v.as_str().unwrap())))
                    .collect();
                format!("<Customer><Key>{}</Key>{fields}</Customer>", key(r))
            })
            .collect();
        let xml = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><Soap:Envelope xmlns:Soap="http://schemas.xmlsoap.org/soap/envelope/"><Soap:Body><ReadMultiple_Result xmlns="{PAGE_NS}"><ReadMultiple_Result>{entities}</ReadMultiple_Result></ReadMultiple_Result></Soap:Body></Soap:Envelope>"#
        );
        ResponseTemplate::new(200).set_body_raw(xml, "text/xml; charset=utf-8")
    }
}

async fn serve(service: &PageService) -> MockServer {
    let server = MockServer::start().await;
    let credentials = base64::engine::general_purpose::STANDARD.encode("WS-USER:s3cret");
    let s = service.clone();
    Mock::given(method("POST"))
        .and(path("/DynamicsNAV/WS/CRONUS/Page/Customer"))
        .and(header("authorization", format!("Basic {credentials}")))
        .and(header("SOAPAction", format!("{PAGE_NS}:ReadMultiple")))
        .and(header("content-type", "text/xml; charset=utf-8"))
        .respond_with(move |req: &Request| s.respond(req))
        .mount(&server)
        .await;
    server
}

/// A project with the example as connectors/nav.toml, pages of 2.
fn project() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example =
        std::fs::read_to_string(root.join("examples/connectors/nav-soap.toml.example")).unwrap();
    let mapping = std::fs::read_to_string(root.join("mappings/nav-soap-customers.toml")).unwrap();
    common::project_dir(&[
        ("config/tributary.toml", common::SETTINGS),
        (
            "connectors/nav.toml",
            &example.replace("size = 200", "size = 2"),
        ),
        ("mappings/nav-soap-customers.toml", &mapping),
    ])
}

#[tokio::test]
async fn the_soap_example_syncs_customers_by_bookmark_then_incrementally() {
    common::on_each_backend(|backend, store| async move {
        let service = PageService::new();
        let server = serve(&service).await;
        let dir = project();
        let url = format!("{}/DynamicsNAV/WS/CRONUS", server.uri());
        let project = common::load(
            dir.path(),
            &[
                ("NAV_WS_URL", url.as_str()),
                ("NAV_USER", "WS-USER"),
                ("NAV_PASSWORD", "s3cret"),
            ],
        );

        let started = Instant::now();
        let first = common::run_connector(&project, &store, "nav").await;
        eprintln!(
            "{backend}: nav-soap first sync: {} records in {:.2} s",
            first.counts.fetched,
            started.elapsed().as_secs_f64()
        );
        assert_eq!(first.status, RunStatus::Success, "{backend}: {first:?}");
        assert_eq!(
            (first.counts.fetched, first.counts.staged),
            (5, 5),
            "{backend}"
        );
        let staged = store.staged(Entity::Customer).await.unwrap();
        let by_key = |k: &str| {
            staged
                .iter()
                .find(|r| r.key == k)
                .unwrap_or_else(|| panic!("{backend}: no customer {k}"))
                .canonical
                .clone()
        };
        let trey = by_key("20000");
        assert_eq!(trey["name"], "Trey Research & Co.");
        assert_eq!(trey["currency"], "USD");
        assert_eq!(by_key("30000")["active"], false, "blocked for invoicing");
        assert_eq!(by_key("40000")["credit_limit"], "12000.50");
        assert_eq!(by_key("10000")["tax_id"], "GB789456278");
        {
            // Pages of 2, 2 and 1; the first read has no filter, later pages carry the bookmark.
            let bodies = service.bodies.lock().unwrap();
            assert_eq!(bodies.len(), 3, "{backend}");
            assert!(!bodies[0].contains("<filter>"), "{backend}: {}", bodies[0]);
            assert_eq!(tag(&bodies[1], "bookmarkKey").as_deref(), Some("12;20000;"));
            assert_eq!(tag(&bodies[2], "bookmarkKey").as_deref(), Some("12;40000;"));
        }

        // A change at the source; the next run filters on the cursor's day.
        {
            let mut rows = service.rows.lock().unwrap();
            let row = rows.iter_mut().find(|r| r["No"] == "50000").unwrap();
            row["Name"] = "Relecloud Ltd".into();
            row["Last_Date_Modified"] = "2026-11-06".into();
        }
        service.bodies.lock().unwrap().clear();
        let second = common::run_connector(&project, &store, "nav").await;
        assert_eq!(second.status, RunStatus::Success, "{backend}: {second:?}");
        assert_eq!(
            (second.counts.fetched, second.counts.staged),
            (1, 1),
            "{backend}"
        );
        let body = service.bodies.lock().unwrap()[0].clone();
        assert!(
            body.contains("<Criteria>&gt;=2026-11-05</Criteria>"),
            "{backend}: {body}"
        );
        let staged = store.staged(Entity::Customer).await.unwrap();
        let relecloud = staged.iter().find(|r| r.key == "50000").unwrap();
        assert_eq!(relecloud.canonical["name"], "Relecloud Ltd");
    })
    .await;
}
