//! The `http` kind: REST/JSON APIs.
//!
//! One stream is one endpoint (`base_url` + `path`) read page by page: each response is one
//! [`Page`]. Concerns are split by file:
//!
//! - [`auth`]: bearer, basic, API key in a header or a query parameter, Frappe `token
//!   key:secret`, OAuth 2.0 client credentials (cached, renewed);
//! - [`client`]: the GET itself, JSON decoding, error statuses (401/403 as auth errors), the
//!   rate limit, retries with backoff and
//!   `Retry-After`;
//! - [`paginate`]: `none`, `page`, `offset`, `cursor`, `next_link`;
//! - [`incremental`]: the `field >= cursor` parameter (bare or templated, with a lookback), the
//!   running maximum, its compound cursor and the tiebreak skip;
//! - detail requests (`detail`): each listed record replaced by its full document, fetched
//!   `concurrency` at a time, in list order;
//! - linked documents (`links`): for each record, the document its link field names, added
//!   under a key of its own (a missing link or a 404 leaves the key out).
//!
//! Every request of one read carries the same fixed `params` and incremental value, so pages
//! stay stable while the read moves forward. Records are located as `page N #i` (1-based).

mod auth;
mod body;
pub(super) mod client;
pub mod config;
mod incremental;
mod paginate;
mod xml;

use std::collections::HashMap;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::Value;
use url::Url;

use reqwest::header::HeaderMap;

use self::body::BodyTemplate;
use self::client::{Client, Decode};
use self::config::{Detail, HttpOptions, HttpStream, Link, ResponseFormat};
use self::incremental::Tracker;
use self::paginate::{NextRequest, Paginator};
use self::xml::XmlBodies;
use super::spec::Problem;
use super::{ConnectorError, Opening, Page, RawRecord, Source, value_at_path};

/// Opens an HTTP stream (its options already validated); nothing is requested yet.
pub(super) fn open(
    at: &Opening<'_>,
    options: &HttpOptions,
    spec: &HttpStream,
    cursor: Option<Value>,
) -> Result<Box<dyn Source>, ConnectorError> {
    let problem = |p: Problem| at.stream_error(p.to_string());
    let url = stream_url(&options.base_url, &spec.path).map_err(|e| at.error(e))?;
    let client = Client::new(options)
        .map_err(|p| at.error(p.under("http").to_string()))?
        .named(at.connector);
    let paginator = Paginator::new(&spec.pagination).map_err(|e| at.stream_error(e))?;
    let incremental = match &spec.incremental {
        Some(inc) => Some(Tracker::new(inc, cursor).map_err(|e| at.stream_error(e))?),
        None => None,
    };
    let body = match &spec.body {
        Some(text) => Some(body_template(spec, text).map_err(|e| at.stream_error(e))?),
        None => None,
    };
    let headers = client::header_map(&spec.headers).map_err(|p| problem(p.under("headers")))?;
    Ok(Box::new(HttpSource {
        client,
        url,
        base_url: options.base_url.clone(),
        detail: spec.detail.clone(),
        links: spec.links.clone(),
        params: spec
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        records: spec.records.clone(),
        xml: (spec.response == ResponseFormat::Xml).then(|| XmlBodies {
            arrays: spec.arrays.iter().cloned().collect(),
        }),
        body,
        headers,
        paginator,
        incremental,
        page: 0,
        done: false,
    }))
}

/// The stream's body template, which may use the parameters of its pagination and cursor.
fn body_template(spec: &HttpStream, text: &str) -> Result<BodyTemplate, String> {
    let mut known = spec.pagination.param_names();
    known.extend(spec.incremental.as_ref().map(|i| i.param.clone()));
    let content_type = spec.content_type.clone().unwrap_or_else(|| {
        match spec.response {
            ResponseFormat::Xml => "text/xml; charset=utf-8",
            ResponseFormat::Json => "application/json",
        }
        .to_string()
    });
    BodyTemplate::new(text, content_type, &known)
}

/// `base_url` + `path`; a path that is a whole URL is used as it is.
pub(super) fn stream_url(base: &str, path: &str) -> Result<Url, String> {
    let text = if path.starts_with("http://") || path.starts_with("https://") {
        path.to_string()
    } else if path.is_empty() {
        base.to_string()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    };
    Url::parse(&text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))
}

struct HttpSource {
    client: Client,
    url: Url,
    base_url: String,
    detail: Option<Detail>,
    links: Vec<Link>,
    params: Vec<(String, String)>,
    records: String,
    /// XML bodies (`response = "xml"`); `None` for JSON.
    xml: Option<XmlBodies>,
    /// The POST body template, if requests carry one.
    body: Option<BodyTemplate>,
    /// The stream's own headers (sent with a body).
    headers: HeaderMap,
    paginator: Paginator,
    incremental: Option<Tracker>,
    /// Pages read so far.
    page: u64,
    done: bool,
}

#[async_trait]
impl Source for HttpSource {
    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let (response, records) = self.list().await?;
        self.page += 1;
        let more = self.paginator.advance(&response, &records)?;
        self.done = !more;
        let (records, checkpoint) = match &mut self.incremental {
            Some(t) => {
                let records = t.skip_seen(records);
                t.observe(&records);
                (records, t.checkpoint(!more))
            }
            None => (records, None),
        };
        let mut records = match &self.detail {
            Some(detail) => self.fetch_details(detail, records).await?,
            None => records,
        };
        for link in &self.links {
            self.fetch_link(link, &mut records).await?;
        }
        tracing::debug!(url = %response.url, page = self.page, records = records.len(), more, "page read");
        let page = self.page;
        Ok(Some(Page {
            records: records
                .into_iter()
                .enumerate()
                .map(|(i, payload)| RawRecord {
                    locator: format!("page {page} #{}", i + 1),
                    payload,
                })
                .collect(),
            rejected: vec![],
            checkpoint,
        }))
    }

    async fn probe(&mut self) -> Result<(), ConnectorError> {
        self.list().await.map(|_| ())
    }
}

impl HttpSource {
    /// Sends the next list request and takes its records out of the answer.
    async fn list(&self) -> Result<(client::Response, Vec<Value>), ConnectorError> {
        let request = self
            .paginator
            .next_request()
            .map_err(|reason| ConnectorError::Response {
                url: self.url.to_string(),
                reason,
            })?;
        let decode = match &self.xml {
            Some(bodies) => Decode::Xml(bodies),
            None => Decode::Json,
        };
        let (url, mut query) = match request {
            NextRequest::Params(extra) => {
                let mut query = self.params.clone();
                if let Some(t) = &self.incremental
                    && let Some(param) = t.param()
                {
                    // The incremental parameter replaces a fixed one of the same name.
                    query.retain(|(k, _)| k != t.param_name());
                    query.push(param);
                }
                query.extend(extra);
                (self.url.clone(), query)
            }
            NextRequest::Url(url) => (url, vec![]),
        };
        let body = match &self.body {
            Some(template) => {
                let text = template
                    .render(&query)
                    .map_err(|reason| ConnectorError::Response {
                        url: url.to_string(),
                        reason,
                    })?;
                query.retain(|(k, _)| !template.uses(k));
                Some((&self.headers, template.content_type.as_str(), text))
            }
            None => None,
        };
        let response = self.client.fetch(&url, &query, body, &decode).await?;
        let records = match &self.xml {
            Some(_) => xml::records_at(&response.body, &self.records).map_err(|reason| {
                ConnectorError::Response {
                    url: response.url.clone(),
                    reason,
                }
            })?,
            None => json_records(&response.body, &self.records).map_err(|reason| {
                ConnectorError::Response {
                    url: response.url.clone(),
                    reason,
                }
            })?,
        };
        Ok((response, records))
    }

    /// Replaces each listed record by its full document.
    async fn fetch_details(
        &self,
        detail: &Detail,
        records: Vec<Value>,
    ) -> Result<Vec<Value>, ConnectorError> {
        let client = &self.client;
        let requests = records
            .into_iter()
            .map(|record| {
                let path = fill_placeholders(&detail.path, &record);
                let url = path.and_then(|p| stream_url(&self.base_url, &p));
                async move {
                    let url = url.map_err(|reason| ConnectorError::Response {
                        url: detail.path.clone(),
                        reason,
                    })?;
                    let response = client.get_json(&url, &[]).await?;
                    document_at(&response, &detail.records)
                }
            })
            .collect::<Vec<_>>();
        futures::stream::iter(requests)
            .buffered(detail.concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// Adds the document `link` names to each record of the page that names one, fetching
    /// each distinct document once, `concurrency` at a time.
    async fn fetch_link(&self, link: &Link, records: &mut [Value]) -> Result<(), ConnectorError> {
        let mut urls: Vec<Url> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        // Per record: which of `urls` it links to.
        let mut targets: Vec<Option<usize>> = Vec::with_capacity(records.len());
        for record in records.iter() {
            if !names_a_document(value_at_path(record, &link.field)) {
                targets.push(None);
                continue;
            }
            let url = fill_placeholders(&link.path, record)
                .and_then(|p| stream_url(&self.base_url, &p))
                .map_err(|reason| ConnectorError::Response {
                    url: link.path.clone(),
                    reason,
                })?;
            let next = urls.len();
            let i = *seen.entry(url.to_string()).or_insert(next);
            if i == next {
                urls.push(url);
            }
            targets.push(Some(i));
        }
        let client = &self.client;
        let requests = urls
            .into_iter()
            .map(|url| async move {
                match client.get_json_if_found(&url).await? {
                    Some(response) => document_at(&response, &link.records).map(Some),
                    None => {
                        tracing::warn!(url = %url, field = %link.field, key = %link.key, "linked document not found; the record goes on without it");
                        Ok(None)
                    }
                }
            })
            .collect::<Vec<_>>();
        let docs: Vec<Option<Value>> = futures::stream::iter(requests)
            .buffered(link.concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        for (record, target) in records.iter_mut().zip(targets) {
            if let (Some(i), Value::Object(fields)) = (target, record)
                && let Some(doc) = &docs[i]
            {
                fields.insert(link.key.clone(), doc.clone());
            }
        }
        Ok(())
    }
}

/// Whether a link field's value names a document: not absent, `null`, `false` or blank.
fn names_a_document(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

/// The document (an object) at `path` of a response.
fn document_at(response: &client::Response, path: &str) -> Result<Value, ConnectorError> {
    match lookup(&response.body, path) {
        Some(doc @ Value::Object(_)) => Ok(doc.clone()),
        other => Err(ConnectorError::Response {
            url: response.url.clone(),
            reason: format!(
                "expected a document at `{}`, found {}",
                display_path(path),
                other.map(short).unwrap_or_else(|| "nothing".into())
            ),
        }),
    }
}

/// A path template's literal text and `{field}` placeholders, in order.
enum Piece<'t> {
    Text(&'t str),
    Field(&'t str),
}

/// Splits a path template into its pieces; the error says what is wrong.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| c + open)
            .ok_or_else(|| format!("path `{template}`: unclosed `{{`"))?;
        let key = &rest[open + 1..close];
        if key.trim().is_empty() {
            return Err(format!("path `{template}`: an empty `{{}}` placeholder"));
        }
        out.push(Piece::Text(&rest[..open]));
        out.push(Piece::Field(key));
        rest = &rest[close + 1..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// The fields a path template's placeholders name.
pub(super) fn placeholders(template: &str) -> Result<Vec<&str>, String> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field(f) => Some(f),
            Piece::Text(_) => None,
        })
        .collect())
}

/// `{field}` placeholders replaced by the record's values, each encoded as a path segment.
fn fill_placeholders(template: &str, record: &Value) -> Result<String, String> {
    let mut out = String::new();
    for piece in pieces(template)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Field(key) => {
                let value = match value_at_path(record, key) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(format!(
                            "path `{template}`: the record has no `{key}`: {}",
                            short(record)
                        ));
                    }
                };
                out.push_str(&encode_segment(&value));
            }
        }
    }
    Ok(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The record array at `path` of a JSON body.
fn json_records(body: &Value, path: &str) -> Result<Vec<Value>, String> {
    match lookup(body, path) {
        Some(Value::Array(items)) => Ok(items.clone()),
        Some(other) => Err(format!(
            "expected an array of records at `{}`, found {}",
            display_path(path),
            short(other)
        )),
        None => Err(format!("no `{path}` in the response: {}", short(body))),
    }
}

/// The value at `path`, where a key holding dots (`@odata.nextLink`) is first tried as one
/// key of the top-level object.
pub(super) fn lookup<'v>(body: &'v Value, path: &str) -> Option<&'v Value> {
    body.as_object()
        .and_then(|o| o.get(path.trim()))
        .or_else(|| value_at_path(body, path))
}

fn display_path(path: &str) -> &str {
    if path.trim().is_empty() {
        "(the body)"
    } else {
        path
    }
}

/// A value cut short for an error message.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod soap_tests;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_are_filled_as_path_segments() {
        let r = json!({"name": "SAL-ORD/2026 #12", "n": 7});
        assert_eq!(
            fill_placeholders("/api/resource/Sales Order/{name}", &r).unwrap(),
            "/api/resource/Sales Order/SAL-ORD%2F2026%20%2312"
        );
        assert_eq!(fill_placeholders("/x/{n}/y", &r).unwrap(), "/x/7/y");
        assert!(fill_placeholders("/x/{missing}", &r).is_err());
        assert!(fill_placeholders("/x/{name", &r).is_err());
        let url = stream_url("https://erp.example", "/api/resource/Sales Order/A%2FB").unwrap();
        assert_eq!(
            url.as_str(),
            "https://erp.example/api/resource/Sales%20Order/A%2FB"
        );
    }

    #[test]
    fn keys_with_dots_are_found_whole_first() {
        let body = json!({"@odata.nextLink": "https://x/next", "a": {"b": 1}});
        assert_eq!(
            lookup(&body, "@odata.nextLink"),
            Some(&json!("https://x/next"))
        );
        assert_eq!(lookup(&body, "a.b"), Some(&json!(1)));
        assert_eq!(lookup(&body, ""), Some(&body));
    }
}
