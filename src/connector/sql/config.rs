//! The `[sql]` table of a connector file and the `[streams.sql]` table of its streams.
//!
//! ```toml
//! kind = "sql"
//! [sql]
//! url = "${ERP_DB_URL}"          # the whole URL, or its password, only as ${VAR}
//!
//! [[streams]]
//! name = "customers"
//! mapping = "odoo-customers"
//! [streams.sql]
//! query = "SELECT id, name, vat, write_date FROM res_partner WHERE is_company"
//! cursor = "write_date"
//! key = "id"
//! ```

use serde::Deserialize;
use serde_json::Value;

use super::super::spec::{PageSize, Problem, Reference, Secrecy, SourceConfig, unresolved};
use super::super::{ConnectorError, Opening, Source};
use super::query::{self, Dialect};
use super::row::Zone;

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
    #[serde(default = "crate::connector::http::config::default_timeout")]
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
    /// Rows per committed page (default 1000; `batch_size` is read as an alias).
    #[serde(default, alias = "batch_size")]
    pub page_size: Option<u64>,
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

impl SqlStream {
    /// Rows per page.
    pub(super) fn page_size(&self) -> usize {
        let size = self.page_size.unwrap_or(PageSize::SQL);
        usize::try_from(size).unwrap_or(usize::MAX)
    }
}

impl SourceConfig for SqlOptions {
    type Stream = SqlStream;

    fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !unresolved(&self.url) && Dialect::of_url(&self.url).is_none() {
            out.push(Problem::new(
                "url",
                format!(
                    "`{}` is not a postgres://, mysql:// or mariadb:// URL",
                    query::redact(&self.url)
                ),
            ));
        }
        out
    }

    fn validate_stream(&self, spec: &SqlStream) -> Vec<Problem> {
        let mut out = Vec::new();
        if let Err(e) = query::check_query(&spec.query) {
            out.push(Problem::new("query", e));
        }
        out.extend(PageSize::check(spec.page_size, ""));
        for (what, col) in [("cursor", &spec.cursor), ("key", &spec.key)] {
            if col.trim().is_empty() {
                out.push(Problem::new(
                    what,
                    format!("`{what}` must name a column of the query"),
                ));
            }
        }
        if let Some(tz) = &spec.timezone
            && let Err(e) = Zone::parse(tz)
        {
            out.push(Problem::new("timezone", e));
        }
        out
    }

    fn references(&mut self) -> Vec<Reference<'_>> {
        vec![Reference {
            field: "url".into(),
            value: &mut self.url,
            secrecy: Secrecy::DatabaseUrl,
        }]
    }

    fn stream_references(_stream: &mut SqlStream) -> Vec<Reference<'_>> {
        Vec::new()
    }

    fn open(
        &self,
        stream: &SqlStream,
        at: &Opening<'_>,
        cursor: Option<Value>,
    ) -> Result<Box<dyn Source>, ConnectorError> {
        super::open(at, self, stream, cursor)
    }
}
