//! The connector file format (`connectors/<name>.toml`).
//!
//! One file describes one source system: its kind, how to reach it, and its streams. Every
//! table denies unknown keys so a typo is an error that names the key, not a silent default.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::support::cron::CronExpr;

pub use super::jsonrpc::config::{JsonRpcOptions, JsonRpcStream};

/// A whole connector file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// The connector's name; defaults to the file stem. Used as the `source` of its records.
    #[serde(default)]
    pub name: String,
    /// Free text for humans.
    #[serde(default)]
    pub description: Option<String>,
    /// Which kind of source this is.
    pub kind: SourceKind,
    /// Cron expression of the incremental polls run by `tributary serve` (five fields, or six
    /// with seconds first; see [`crate::support::cron`]).
    #[serde(default)]
    pub schedule: Option<CronExpr>,
    /// Cron expression of full resyncs (every stream's cursor reset first, as `sync --full`).
    #[serde(default)]
    pub full_schedule: Option<CronExpr>,
    /// Time zone of both schedules (IANA name); `[scheduler] timezone` when absent.
    #[serde(default, deserialize_with = "crate::support::cron::optional_timezone")]
    pub timezone: Option<chrono_tz::Tz>,
    /// Set false to leave the connector out of `sync --all`.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Options of the `file` kind.
    #[serde(default)]
    pub file: Option<FileOptions>,
    /// Options of the `http` kind.
    #[serde(default)]
    pub http: Option<HttpOptions>,
    /// Options of the `jsonrpc` kind (Odoo, Tryton).
    #[serde(default)]
    pub jsonrpc: Option<JsonRpcOptions>,
    /// Options of the `sql` kind.
    #[serde(default)]
    pub sql: Option<SqlOptions>,
    /// Events the source pushes to `POST /webhooks/{name}` (any kind may have them).
    #[serde(default)]
    pub webhook: Option<crate::webhook::WebhookConfig>,
    /// The streams (record sets) this connector reads, each with its mapping.
    pub streams: Vec<StreamConfig>,
}

/// Source kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// Files (CSV, JSON Lines, XML) dropped in a folder.
    File,
    /// A REST/JSON API.
    Http,
    /// A JSON-RPC ERP API (Odoo or Tryton).
    Jsonrpc,
    /// A query against an ERP's own database (PostgreSQL, MariaDB/MySQL).
    Sql,
    /// Push only: records arrive as webhook events (`[webhook]`); nothing is polled.
    Webhook,
}

impl SourceKind {
    /// The name written in connector files.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::File => "file",
            SourceKind::Http => "http",
            SourceKind::Jsonrpc => "jsonrpc",
            SourceKind::Sql => "sql",
            SourceKind::Webhook => "webhook",
        }
    }
}

/// Options of a `file` connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOptions {
    /// Folder holding the files; relative paths are relative to the project root.
    pub dir: String,
    /// Upload-folder mode: once the page holding a file's last records is committed, the file
    /// is moved into this folder (relative to `dir`), with a timestamp suffix when the name is
    /// taken. Without it files stay where they are and the cursor tracks how far each was read.
    #[serde(default)]
    pub archive_dir: Option<String>,
    /// Files modified less than this many seconds ago are still being written: they are left
    /// for a later run (default 0: every file is read).
    #[serde(default)]
    pub settle_secs: u64,
    /// When set, every record gets the name of its file under this key (e.g. `_file`), so a
    /// mapping can take a dealer code out of `D1001_stock_20261122.csv`.
    #[serde(default)]
    pub file_name_field: Option<String>,
}

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

/// One stream of a connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// Stream name, unique within the connector.
    pub name: String,
    /// Name of the mapping file (`mappings/<mapping>.toml`) applied to its records.
    pub mapping: String,
    /// Set false to skip the stream.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How to read it when the connector is of the `file` kind.
    #[serde(default)]
    pub file: Option<FileStream>,
    /// How to read it when the connector is of the `http` kind.
    #[serde(default)]
    pub http: Option<HttpStream>,
    /// How to read it when the connector is of the `jsonrpc` kind.
    #[serde(default)]
    pub jsonrpc: Option<JsonRpcStream>,
    /// How to read it when the connector is of the `sql` kind.
    #[serde(default)]
    pub sql: Option<SqlStream>,
}

/// A stream read from files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStream {
    /// Glob-like file name pattern inside the folder (`*` and `?`), e.g. `orders-*.jsonl`.
    pub pattern: String,
    /// File format.
    pub format: FileFormat,
    /// CSV field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// Records per committed page (default 500).
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// XML: `/`-separated local names of the record elements, e.g. `DEBMAS07/IDOC`.
    #[serde(default)]
    pub record_path: Option<String>,
    /// XML: element names always converted to arrays, even when they occur once.
    #[serde(default)]
    pub arrays: Vec<String>,
    /// XML: maximum element nesting (default 64).
    #[serde(default)]
    pub max_depth: Option<usize>,
    /// XML: maximum size of one record in bytes (default 16 MiB).
    #[serde(default)]
    pub max_record_bytes: Option<u64>,
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// XML documents, streamed; one record per element matched by `record_path`.
    Xml,
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
        /// Page size.
        #[serde(default = "default_page_size")]
        size: u64,
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
        /// Page size.
        #[serde(default = "default_page_size")]
        size: u64,
    },
    /// A token from the response body is sent back as a parameter; stops when it is absent.
    Cursor {
        /// Dotted path of the next token in the response body.
        #[serde(default)]
        token_path: Option<String>,
        /// Dotted path of the next token inside the last record of the page instead (a
        /// bookmark key such as a SOAP page service's `Key`); the read stops after a page
        /// shorter than `size` or an empty one.
        #[serde(default)]
        token_field: Option<String>,
        /// Parameter that carries the token.
        param: String,
        /// Page-size parameter and size, if the API takes one.
        #[serde(default)]
        size_param: Option<String>,
        /// Page size.
        #[serde(default)]
        size: Option<u64>,
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

/// Options of a `sql` connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlOptions {
    /// `postgres://…`, `mysql://…` or `mariadb://…`. A password must be a `${VAR}` reference.
    pub url: String,
    /// Connections kept open to the database (default 2).
    #[serde(default = "default_sql_connections")]
    pub max_connections: u32,
    /// Seconds allowed to connect and to read one page (default 30).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

/// A stream read with a query (see `docs/connect-sql.md`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlStream {
    /// One `SELECT` (or `WITH … SELECT`) without `ORDER BY` or `LIMIT`; the connector wraps it.
    pub query: String,
    /// Column that grows when a row changes (e.g. `write_date`).
    pub cursor: String,
    /// Unique, non-null column that orders rows sharing a cursor value (e.g. `id`).
    pub key: String,
    /// Rows per committed page (default 1000).
    #[serde(default)]
    pub batch_size: Option<usize>,
    /// Seconds the stored cursor is moved back before each run (default 0).
    #[serde(default)]
    pub lookback_secs: u64,
    /// Time zone (`UTC`, `Europe/Berlin`, `+08:00`) attached to timestamps without one.
    #[serde(default)]
    pub timezone: Option<String>,
}

fn default_sql_connections() -> u32 {
    2
}
fn yes() -> bool {
    true
}
fn one() -> u64 {
    1
}
fn default_timeout() -> u64 {
    30
}
fn default_max_retries() -> u32 {
    3
}
fn default_retry_backoff_ms() -> u64 {
    500
}
fn default_detail_concurrency() -> usize {
    4
}
fn default_page_size() -> u64 {
    100
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
