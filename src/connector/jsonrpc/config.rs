//! The `[jsonrpc]` table of a connector file and the `[streams.jsonrpc]` table of its streams.
//!
//! ```toml
//! kind = "jsonrpc"
//! [jsonrpc]
//! dialect = "odoo"                 # or "tryton"
//! url = "${ODOO_URL}"
//! database = "${ODOO_DB}"
//! username = "${ODOO_USER}"
//! password = "${ODOO_API_KEY}"     # a secret: only as ${VAR}
//!
//! [[streams]]
//! name = "partners"
//! mapping = "odoo-customers"
//! [streams.jsonrpc]
//! model = "res.partner"
//! fields = ["name", "vat", "write_date"]
//! incremental = { field = "write_date", lookback_secs = 0 }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::super::spec::{PageSize, Problem, Reference, SourceConfig, unresolved};
use super::super::{ConnectorError, Opening, Source};

/// Options of a `jsonrpc` connector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRpcOptions {
    /// Which server speaks at the other end.
    pub dialect: Dialect,
    /// Base URL of the server (`https://erp.example.com`); the dialect appends its RPC path.
    pub url: String,
    /// Database name.
    pub database: String,
    /// Login of the API user.
    pub username: String,
    /// Password (for Odoo an API key works too); must be a `${VAR}` reference.
    pub password: String,
    /// Tryton: path of the RPC endpoint, `{database}` replaced by the database name. Default
    /// `/{database}/rpc/` (Tryton 8.x); Tryton 6.0–7.6 use `/{database}/`. Odoo ignores it
    /// unless set (default `/jsonrpc`).
    #[serde(default)]
    pub rpc_path: Option<String>,
    /// Request timeout in seconds.
    #[serde(default = "crate::connector::http::config::default_timeout")]
    pub timeout_secs: u64,
    /// Retries after transport errors and 429/502/503/504 answers (never after a refused login).
    #[serde(default = "crate::connector::http::config::default_max_retries")]
    pub max_retries: u32,
    /// Backoff base between retries in milliseconds (doubles each time, `Retry-After` wins).
    #[serde(default = "crate::connector::http::config::default_retry_backoff_ms")]
    pub retry_backoff_ms: u64,
    /// Records per page when the stream does not say (default 200; 0 is refused).
    #[serde(default = "default_page_size")]
    pub page_size: u64,
}

/// JSON-RPC dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Odoo 14–18 external API (`/jsonrpc`, `common.login`, `object.execute_kw`).
    Odoo,
    /// Tryton 6.0–8.x (`common.db.login`, `model.<name>.search_read`, session header).
    Tryton,
}

/// One stream of a `jsonrpc` connector: one model read with `search_read`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRpcStream {
    /// Model name (`res.partner`, `party.party`).
    pub model: String,
    /// Fields to read (`id` is always read). Empty = every field (slow on big models).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Extra static domain in the dialect's own syntax, AND-ed with the cursor condition, e.g.
    /// `[["move_type", "in", ["out_invoice", "out_refund"]], ["state", "=", "posted"]]`.
    #[serde(default)]
    pub domain: Vec<toml::Value>,
    /// Sort order of a stream without `incremental` (Odoo: `"name asc, id asc"`; Tryton:
    /// `"name asc, id asc"` too, turned into `[["name","ASC"],["id","ASC"]]`). Default `id asc`.
    /// An incremental stream is always read in cursor order.
    #[serde(default)]
    pub order: Option<String>,
    /// Records per page (default: the connector's `page_size`; 0 is refused).
    #[serde(default)]
    pub page_size: Option<u64>,
    /// Context sent with every call, over the defaults (`active_test = false`, so archived
    /// records arrive with `active = false` instead of vanishing).
    #[serde(default)]
    pub context: BTreeMap<String, toml::Value>,
    /// Incremental reading by a change timestamp with a compound (value, id) cursor.
    #[serde(default)]
    pub incremental: Option<JsonRpcIncremental>,
    /// One-to-many children embedded in each parent record (one extra call per page).
    #[serde(default)]
    pub children: Vec<ChildStream>,
}

/// Incremental reading of a `jsonrpc` stream.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonRpcIncremental {
    /// The change timestamp (`write_date`).
    pub field: String,
    /// Seconds re-read before the cursor on every run, for clock skew and late commits
    /// (re-read records are unchanged and cost nothing downstream). Default 0.
    #[serde(default)]
    pub lookback_secs: u64,
}

/// Children of a model embedded into their parent, e.g. order lines into orders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChildStream {
    /// Key of the array put into the parent record (`order_line`); it replaces the list of
    /// ids the parent itself carries under that name.
    pub field: String,
    /// Child model (`sale.order.line`).
    pub model: String,
    /// Child fields to read (`id` and `parent_field` are always read).
    #[serde(default)]
    pub fields: Vec<String>,
    /// The child's many2one to the parent (`order_id`).
    pub parent_field: String,
}

fn default_page_size() -> u64 {
    PageSize::JSONRPC
}

impl SourceConfig for JsonRpcOptions {
    type Stream = JsonRpcStream;

    fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(PageSize::check(Some(self.page_size), ""));
        if !unresolved(&self.url)
            && !unresolved(&self.database)
            && let Err(e) = super::endpoint(self)
        {
            out.push(Problem::new("url", e));
        }
        out
    }

    fn validate_stream(&self, stream: &JsonRpcStream) -> Vec<Problem> {
        let mut out = Vec::new();
        out.extend(PageSize::check(stream.page_size, ""));
        match (&stream.incremental, &stream.order) {
            (Some(_), Some(_)) => out.push(Problem::new(
                "order",
                "`order` cannot be set on an incremental stream (it is read in cursor order)",
            )),
            (None, Some(order)) => {
                if let Err(e) = super::parse_order(order) {
                    out.push(Problem::new("order", e));
                }
            }
            _ => {}
        }
        out
    }

    fn references(&mut self) -> Vec<Reference<'_>> {
        vec![
            Reference::plain("url", &mut self.url),
            Reference::plain("database", &mut self.database),
            Reference::plain("username", &mut self.username),
            Reference::secret("password", &mut self.password),
        ]
    }

    fn stream_references(_stream: &mut JsonRpcStream) -> Vec<Reference<'_>> {
        Vec::new()
    }

    fn open(
        &self,
        stream: &JsonRpcStream,
        at: &Opening<'_>,
        cursor: Option<Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        super::open(at, self, stream, cursor)
    }
}
