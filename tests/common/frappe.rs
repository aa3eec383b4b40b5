//! A fake Frappe / ERPNext `/api/resource` API that really applies `fields`, JSON `filters`,
//! `order_by modified, name`, `limit_start` / `limit_page_length`, serves full documents (with
//! child tables) per name, checks `Authorization: token key:secret`, and answers errors with
//! Frappe's error bodies. Its documents are read from a fixture folder, one `<DocType>.json` per
//! DocType (a DocType without a file has no documents).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const KEY: &str = "7c1e5a0b2f4d9e1";
pub const SECRET: &str = "3f9b8a7c6d5e4f3";
pub const DOCTYPES: [&str; 8] = [
    "Customer",
    "Sales Order",
    "Sales Invoice",
    "Payment Entry",
    "Bin",
    // Only read one by one, through the customers' links.
    "Address",
    "Contact",
    "Country",
];

/// The fake site: documents per DocType, and the requests it saw.
#[derive(Clone)]
pub struct Frappe {
    pub docs: Arc<Mutex<BTreeMap<String, Vec<Value>>>>,
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Answer this many next list requests with 429 + Retry-After.
    pub throttle: Arc<AtomicU32>,
}

impl Frappe {
    /// The fake site holding the documents of `dir` (`tests/fixtures/erpnext`, …).
    pub fn new(dir: &Path) -> Self {
        let docs = DOCTYPES
            .iter()
            .map(|d| {
                (
                    d.to_string(),
                    super::fixture_table(&dir.join(format!("{d}.json"))),
                )
            })
            .collect();
        Frappe {
            docs: Arc::new(Mutex::new(docs)),
            requests: Arc::new(Mutex::new(vec![])),
            throttle: Arc::new(AtomicU32::new(0)),
        }
    }

    pub fn update(&self, doctype: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let mut docs = self.docs.lock().unwrap();
        let doc = docs
            .get_mut(doctype)
            .unwrap()
            .iter_mut()
            .find(|d| d["name"] == name)
            .unwrap();
        change(doc);
    }

    /// Requests for single documents of `doctype`.
    pub fn doc_requests(&self, doctype: &str) -> usize {
        self.requests_starting(&format!("/api/resource/{doctype}/"))
    }

    pub fn list_requests(&self, doctype: &str) -> usize {
        self.requests_starting(&format!("/api/resource/{doctype}?"))
    }

    fn requests_starting(&self, prefix: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn frappe_error(status: u16, exc_type: &str, message: &str) -> ResponseTemplate {
    let server_messages = serde_json::to_string(&vec![
        json!({"message": message, "title": "Message", "indicator": "red", "raise_exception": 1})
            .to_string(),
    ])
    .unwrap();
    ResponseTemplate::new(status).set_body_json(json!({
        "exc_type": exc_type,
        "exception": format!("frappe.exceptions.{exc_type}: {message}"),
        "_server_messages": server_messages,
    }))
}

/// One `[field, op, value]` filter.
fn matches(doc: &Value, filter: &Value) -> bool {
    let f = filter.as_array().unwrap();
    let (field, op, want) = (f[0].as_str().unwrap(), f[1].as_str().unwrap(), &f[2]);
    let have = &doc[field];
    let cmp = match (have, want) {
        (Value::Number(a), Value::Number(b)) => {
            a.as_f64().unwrap().partial_cmp(&b.as_f64().unwrap())
        }
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    };
    use std::cmp::Ordering::*;
    match op {
        "=" => cmp == Some(Equal),
        ">=" => matches!(cmp, Some(Greater | Equal)),
        ">" => cmp == Some(Greater),
        other => panic!("the fake does not know operator {other}"),
    }
}

impl Respond for Frappe {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = decode(req.url.path());
        self.requests.lock().unwrap().push(format!(
            "{path}?{}",
            decode(&req.url.query().unwrap_or("").replace('+', " "))
        ));
        let auth = req
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string());
        if auth != Some(format!("token {KEY}:{SECRET}")) {
            return frappe_error(401, "AuthenticationError", "Invalid API key or secret");
        }
        let rest = path.strip_prefix("/api/resource/").unwrap();
        let docs = self.docs.lock().unwrap();
        if let Some((doctype, name)) = rest.split_once('/') {
            return match docs[doctype].iter().find(|d| d["name"] == name) {
                Some(doc) => ResponseTemplate::new(200).set_body_json(json!({"data": doc})),
                None => frappe_error(
                    404,
                    "DoesNotExistError",
                    &format!("{doctype} {name} not found"),
                ),
            };
        }
        if self
            .throttle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_string("<html><body>Too Many Requests</body></html>");
        }
        let q: BTreeMap<String, String> = req
            .url
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let filters: Vec<Value> = q
            .get("filters")
            .map(|f| serde_json::from_str(f).unwrap())
            .unwrap_or_default();
        let fields: Vec<String> = q
            .get("fields")
            .map(|f| serde_json::from_str(f).unwrap())
            .unwrap_or_else(|| vec!["name".into()]);
        assert_eq!(q["order_by"], "modified asc, name asc");
        let mut rows: Vec<&Value> = docs[rest]
            .iter()
            .filter(|d| filters.iter().all(|f| matches(d, f)))
            .collect();
        rows.sort_by_key(|d| {
            (
                d["modified"].as_str().unwrap().to_string(),
                d["name"].as_str().unwrap().to_string(),
            )
        });
        let start: usize = q.get("limit_start").map_or(0, |s| s.parse().unwrap());
        let size: usize = q
            .get("limit_page_length")
            .map_or(20, |s| s.parse().unwrap());
        let data: Vec<Value> = rows
            .into_iter()
            .skip(start)
            .take(size)
            .map(|d| {
                // Lists hold parent columns only, never child tables.
                let obj = d.as_object().unwrap();
                Value::Object(
                    obj.iter()
                        .filter(|(k, v)| {
                            !v.is_array() && (fields.iter().any(|f| f == "*" || f == *k))
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
    }
}

/// Serves `frappe` at the server's root.
pub async fn serve(frappe: &Frappe) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(frappe.clone())
        .mount(&server)
        .await;
    server
}
