//! The `[http]` table of a connector file and the `[streams.http]` table of its streams, with
//! their checks: everything a stream's runtime is built from is tried here first (URL, headers,
//! credentials, rate limit, pagination, incremental cursor, body template, detail and link
//! paths), so `tributary check` finds what `open` would refuse.
//!
//! ```toml
//! kind = "http"
//! [http]
//! base_url = "${ERP_URL}"
//! auth = { type = "bearer", token = "${ERP_TOKEN}" }
//!
//! [[streams]]
//! name = "customers"
//! mapping = "erp-customers"
//! [streams.http]
//! path = "/api/v1/customers"
//! records = "data"
//! pagination = { type = "page", page_size = 200 }
//! incremental = { field = "updated_at", param = "modified_since", sorted = true }
//! ```

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::Value;

use super::super::spec::{PageSize, Problem, Reference, SourceConfig, unresolved};
use super::super::{ConnectorError, Opening, Source};

/// Options of an `http` connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// Base URL; stream paths are appended to it.
    pub base_url: String,
    /// Authentication.
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    /// Extra headers sent with every request.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// How many times a request is retried after a transport error or a 429, 502, 503 or 504
    /// answer (default 3). Other statuses, 500 included, fail at once.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Base delay of the exponential backoff between retries, in milliseconds (default 500:
    /// 0.5 s, 1 s, 2 s, …). A `Retry-After` header (capped at 60 s) takes precedence.
    #[serde(default = "default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Client-side rate limit applied to every request of the connector's streams, retries,
    /// detail fetches and token requests included.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
}

/// At most `requests` requests every `per_secs` seconds (bursts up to `requests`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests allowed per window (at least 1).
    pub requests: u32,
    /// Window length in seconds (default 1).
    #[serde(default = "one")]
    pub per_secs: u64,
}

/// How an `http` connector authenticates. Secrets come from `${ENV_VAR}` references.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HttpAuth {
    /// `Authorization: Bearer <token>`.
    Bearer {
        /// The token.
        token: String,
    },
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// An API key in a header or a query parameter.
    ApiKey {
        /// The key.
        key: String,
        /// Header to send it in (default `X-API-Key`), unless `query_param` is set.
        #[serde(default)]
        header: Option<String>,
        /// Query parameter to send it in instead of a header.
        #[serde(default)]
        query_param: Option<String>,
    },
    /// Frappe / ERPNext API keys: `Authorization: token <key>:<secret>`.
    Token {
        /// The API key.
        key: String,
        /// The API secret.
        secret: String,
    },
    /// OAuth 2.0 client credentials grant: a token is requested from `token_url` (form POST),
    /// kept until shortly before it expires, and sent as `Authorization: Bearer …`.
    Oauth2ClientCredentials {
        /// The token endpoint.
        token_url: String,
        /// The application (client) ID.
        client_id: String,
        /// The client secret.
        client_secret: String,
        /// Space-separated scopes, if the provider needs them.
        #[serde(default)]
        scope: Option<String>,
    },
}

/// A stream read from a REST endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStream {
    /// Path appended to the base URL.
    pub path: String,
    /// Fixed query parameters.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Dotted path to the record array inside the response body; empty = the body itself.
    #[serde(default)]
    pub records: String,
    /// Pagination.
    #[serde(default)]
    pub pagination: Pagination,
    /// Incremental cursor; without it every run reads everything.
    #[serde(default)]
    pub incremental: Option<Incremental>,
    /// Fetch each listed record's full document and use it as the record (for APIs whose list
    /// endpoint leaves out child tables).
    #[serde(default)]
    pub detail: Option<Detail>,
    /// Linked documents fetched for each record after `detail`, in the order listed, each
    /// added to the record under its own key (e.g. an ERPNext Customer's primary Address).
    #[serde(default)]
    pub links: Vec<Link>,
    /// How response bodies are read: `json` (default) or `xml` (SOAP and other XML APIs).
    #[serde(default)]
    pub response: ResponseFormat,
    /// XML: element names always converted to arrays, even when they occur once.
    #[serde(default)]
    pub arrays: Vec<String>,
    /// A request body template; when set, every request is a POST of this body (a SOAP
    /// envelope, a JSON query). `{{ name }}` is replaced by the pagination or incremental
    /// parameter of that name, escaped for the body's format; `{% if since %}…{% endif %}`
    /// leaves a part out of the first, full read. Parameters the template uses are not also
    /// sent in the query string.
    #[serde(default)]
    pub body: Option<String>,
    /// Content type of `body` (default `text/xml; charset=utf-8` for XML responses,
    /// `application/json` otherwise).
    #[serde(default)]
    pub content_type: Option<String>,
    /// Extra request headers of this stream, e.g. `SOAPAction`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// Response body formats of the `http` kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    /// A JSON document.
    #[default]
    Json,
    /// An XML document (SOAP envelopes included), converted to JSON as the `file` kind's XML
    /// records are: local names, repeated elements as arrays, attributes as `@name`.
    Xml,
}

/// Per-record detail requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detail {
    /// Path (appended to the base URL) with `{field}` placeholders filled from the listed
    /// record, each encoded as one path segment, e.g. `/api/resource/Sales Order/{name}`.
    pub path: String,
    /// Dotted path of the document inside the detail response; empty = the body itself.
    #[serde(default)]
    pub records: String,
    /// Detail requests in flight at once (default 4).
    #[serde(default = "default_detail_concurrency")]
    pub concurrency: usize,
}

/// A document another document links to, fetched per record and added to it.
///
/// A record whose `field` is absent, `null`, `false` or blank fetches nothing and goes on
/// without the key; a linked document that does not exist (HTTP 404) leaves the key out too,
/// with a warning in the log. Any other error fails the page, like a detail request's. Within
/// one page each distinct document is fetched once. Answers are read as JSON.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Dotted path of the link inside the record, e.g. `customer_primary_address`; it may
    /// point into a document an earlier link added (`_primary_address.country`).
    pub field: String,
    /// Path (appended to the base URL) with `{field}` placeholders filled from the record, each
    /// encoded as one path segment, e.g. `/api/resource/Address/{customer_primary_address}`.
    pub path: String,
    /// Dotted path of the document inside the response; empty = the body itself.
    #[serde(default)]
    pub records: String,
    /// Key the document is added under, at the top of the record (e.g. `_primary_address`). A key
    /// the record already has is replaced, so pick one the source never writes (a leading `_`:
    /// an ERPNext Customer has a `primary_address` text field of its own).
    #[serde(rename = "as")]
    pub key: String,
    /// Requests of this link in flight at once (default 4).
    #[serde(default = "default_detail_concurrency")]
    pub concurrency: usize,
}

/// Pagination styles.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pagination {
    /// One request returns everything.
    #[default]
    None,
    /// `?page=N&per_page=S`, starting at `start`; stops at a short or empty page.
    Page {
        /// Page-number parameter.
        #[serde(default = "default_page_param")]
        page_param: String,
        /// Page-size parameter.
        #[serde(default = "default_size_param")]
        size_param: String,
        /// Records per request (default 100; `size` is read as an alias).
        #[serde(default = "default_page_size", alias = "size")]
        page_size: u64,
        /// First page number.
        #[serde(default = "one")]
        start: u64,
    },
    /// `?offset=N&limit=S`; stops at a short or empty page.
    Offset {
        /// Offset parameter.
        #[serde(default = "default_offset_param")]
        offset_param: String,
        /// Limit parameter.
        #[serde(default = "default_limit_param")]
        limit_param: String,
        /// Records per request (default 100; `size` is read as an alias).
        #[serde(default = "default_page_size", alias = "size")]
        page_size: u64,
    },
    /// A token from the response body is sent back as a parameter; stops when it is absent.
    Cursor {
        /// Dotted path of the next token in the response body.
        #[serde(default)]
        token_path: Option<String>,
        /// Dotted path of the next token inside the last record of the page instead (a
        /// bookmark key such as a SOAP page service's `Key`); the read stops after a page
        /// shorter than `page_size` or an empty one.
        #[serde(default)]
        token_field: Option<String>,
        /// Parameter that carries the token.
        param: String,
        /// Page-size parameter and size, if the API takes one.
        #[serde(default)]
        size_param: Option<String>,
        /// Records per request, sent in `size_param` (`size` is read as an alias).
        #[serde(default, alias = "size")]
        page_size: Option<u64>,
    },
    /// The response names the next URL (body path, or the `Link: rel="next"` header).
    NextLink {
        /// Dotted path of the next URL in the body; absent = use the `Link` header.
        #[serde(default)]
        url_path: Option<String>,
    },
}

/// Incremental reading: only records changed since the cursor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incremental {
    /// Dotted path of the change timestamp (or sequence) inside each record.
    pub field: String,
    /// Query parameter that sends the cursor (e.g. `modified_since`).
    pub param: String,
    /// True when the API returns records sorted ascending by `field`; the cursor can then be
    /// committed after every page. Otherwise it moves only when the stream has been read whole.
    #[serde(default)]
    pub sorted: bool,
    /// Value sent on the first run, if any.
    #[serde(default)]
    pub start: Option<String>,
    /// Text sent in `param` instead of the bare value, with `{value}` replaced by it, e.g.
    /// `[["modified", ">=", "{value}"]]` or `lastModifiedDateTime ge {value}`. The parameter
    /// replaces a fixed `params` entry of the same name.
    #[serde(default)]
    pub template: Option<String>,
    /// How the value is written when sent: `as_is` (default: as the source wrote it),
    /// `rfc3339` (`2026-03-02T08:15:09.293Z`) or `frappe` (`2026-03-02 09:15:09.412208`).
    #[serde(default)]
    pub value_format: ValueFormat,
    /// Seconds subtracted from the cursor before it is sent (clock skew, late commits);
    /// records re-read in that window are deduplicated by staging.
    #[serde(default)]
    pub lookback_secs: u64,
    /// Dotted path of a record ID that breaks ties between records with the same cursor
    /// value: records with exactly the cursor's value and an ID not above the cursor's ID are
    /// skipped, so an inclusive `>=` filter neither loses nor repeats them. Needs the API to
    /// sort by (field, tiebreak).
    #[serde(default)]
    pub tiebreak: Option<String>,
}

/// How an incremental value is written in requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFormat {
    /// As the source wrote it (timestamps are re-written in the same style after a lookback).
    #[default]
    AsIs,
    /// RFC 3339 in UTC with the fractional digits needed (OData `DateTimeOffset`).
    Rfc3339,
    /// `YYYY-MM-DD HH:MM:SS.ffffff`, naive (Frappe `Datetime`).
    Frappe,
}

fn one() -> u64 {
    1
}
/// Shared by the kinds that speak HTTP or reach a server (jsonrpc, sql).
pub(in crate::connector) fn default_timeout() -> u64 {
    30
}
/// Shared with the jsonrpc kind, which sends its calls through the same client.
pub(in crate::connector) fn default_max_retries() -> u32 {
    3
}
/// Shared with the jsonrpc kind, which sends its calls through the same client.
pub(in crate::connector) fn default_retry_backoff_ms() -> u64 {
    500
}
fn default_detail_concurrency() -> usize {
    4
}
fn default_page_size() -> u64 {
    PageSize::HTTP
}
fn default_page_param() -> String {
    "page".into()
}
fn default_size_param() -> String {
    "per_page".into()
}
fn default_offset_param() -> String {
    "offset".into()
}
fn default_limit_param() -> String {
    "limit".into()
}

impl Pagination {
    /// The page size, when the style has one.
    fn page_size(&self) -> Option<u64> {
        match self {
            Pagination::Page { page_size, .. } | Pagination::Offset { page_size, .. } => {
                Some(*page_size)
            }
            Pagination::Cursor { page_size, .. } => *page_size,
            Pagination::None | Pagination::NextLink { .. } => None,
        }
    }
}

impl SourceConfig for HttpOptions {
    type Stream = HttpStream;

    fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !unresolved(&self.base_url)
            && let Err(e) = super::stream_url(&self.base_url, "")
        {
            out.push(Problem::new("base_url", e));
        }
        out.extend(super::client::header_problems(&self.headers, "headers"));
        if let Some(limit) = &self.rate_limit
            && let Err(p) = super::client::quota(limit)
        {
            out.push(p.under("rate_limit"));
        }
        if let Some(auth) = &self.auth
            && let Err(p) = super::auth::check(auth)
        {
            out.push(p.under("auth"));
        }
        out
    }

    fn validate_stream(&self, spec: &HttpStream) -> Vec<Problem> {
        let mut out = Vec::new();
        if !unresolved(&self.base_url)
            && let Err(e) = super::stream_url(&self.base_url, &spec.path)
        {
            out.push(Problem::new("path", e));
        }
        out.extend(PageSize::check(spec.pagination.page_size(), "pagination"));
        if let Err(e) = super::paginate::Paginator::new(&spec.pagination) {
            out.push(Problem::new("pagination", e));
        }
        if let Some(inc) = &spec.incremental
            && let Err(e) = super::incremental::Tracker::new(inc, None)
        {
            out.push(Problem::new("incremental", e));
        }
        if let Some(text) = &spec.body
            && let Err(e) = super::body_template(spec, text)
        {
            out.push(Problem::new("body", e));
        }
        out.extend(super::client::header_problems(&spec.headers, "headers"));
        out.extend(detail_and_link_problems(spec));
        out
    }

    fn references(&mut self) -> Vec<Reference<'_>> {
        let mut out = vec![Reference::plain("base_url", &mut self.base_url)];
        for (k, v) in self.headers.iter_mut() {
            out.push(Reference::plain(format!("headers.{k}"), v));
        }
        match &mut self.auth {
            None => {}
            Some(HttpAuth::Bearer { token }) => out.push(Reference::secret("auth.token", token)),
            Some(HttpAuth::Basic { username, password }) => {
                out.push(Reference::plain("auth.username", username));
                out.push(Reference::secret("auth.password", password));
            }
            Some(HttpAuth::ApiKey { key, .. }) => out.push(Reference::secret("auth.key", key)),
            Some(HttpAuth::Token { key, secret }) => {
                out.push(Reference::plain("auth.key", key));
                out.push(Reference::secret("auth.secret", secret));
            }
            Some(HttpAuth::Oauth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                ..
            }) => {
                out.push(Reference::plain("auth.token_url", token_url));
                out.push(Reference::plain("auth.client_id", client_id));
                out.push(Reference::secret("auth.client_secret", client_secret));
            }
        }
        out
    }

    fn stream_references(stream: &mut HttpStream) -> Vec<Reference<'_>> {
        let mut out = Vec::new();
        for (k, v) in stream.params.iter_mut() {
            out.push(Reference::plain(format!("params.{k}"), v));
        }
        for (k, v) in stream.headers.iter_mut() {
            out.push(Reference::plain(format!("headers.{k}"), v));
        }
        if let Some(body) = &mut stream.body {
            out.push(Reference::plain("body", body));
        }
        out
    }

    fn open(
        &self,
        stream: &HttpStream,
        at: &Opening<'_>,
        cursor: Option<Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        super::open(at, self, stream, cursor)
    }
}

/// What is wrong with the `detail` and `links` of a stream (empty when nothing is).
fn detail_and_link_problems(spec: &HttpStream) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut problem = |field: String, message: String| out.push(Problem::new(field, message));
    if let Some(d) = &spec.detail {
        if d.concurrency == 0 {
            problem("detail.concurrency".into(), "must be at least 1".into());
        }
        if let Err(e) = super::placeholders(&d.path) {
            problem("detail.path".into(), e);
        }
    }
    let mut keys = HashMap::new();
    for (i, link) in spec.links.iter().enumerate() {
        let at = |key: &str| format!("links[{i}].{key}");
        if link.field.trim().is_empty() {
            problem(at("field"), "names no field of the record".into());
        }
        if link.key.trim().is_empty() {
            problem(at("as"), "names no key to add the document under".into());
        } else if let Some(first) = keys.insert(link.key.as_str(), i) {
            problem(
                at("as"),
                format!("`{}` is already the key of links[{first}]", link.key),
            );
        }
        if link.concurrency == 0 {
            problem(at("concurrency"), "must be at least 1".into());
        }
        match super::placeholders(&link.path) {
            Err(e) => problem(at("path"), e),
            Ok(keys) if keys.is_empty() => problem(
                at("path"),
                format!(
                    "`{}` has no `{{field}}` placeholder: every record would fetch the same document",
                    link.path
                ),
            ),
            Ok(_) => {}
        }
    }
    out
}
