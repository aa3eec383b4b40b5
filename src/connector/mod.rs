//! Connectors: read records from source systems, page by page, from a durable cursor.
//!
//! A connector knows nothing of canonical entities or the store. It turns a source into
//! [`Page`]s of [`RawRecord`]s; each page carries the cursor value to commit once the page is
//! staged, so a failed run resumes from its last committed page.
//!
//! Files: [`spec`] (the connector file: common keys and one enum of kinds, with the contract
//! every kind implements), one folder per kind (`file/`, `http/`, `jsonrpc/`, `sql/`, each
//! with its `config.rs`), [`webhook`] (the `[webhook]` table of pushed events) and `path.rs`
//! (record paths). This module imports nothing of the crate above `model` and `support`.

pub mod file;
pub mod http;
pub mod jsonrpc;
mod path;
pub mod spec;
pub mod sql;
pub mod webhook;

use std::path::PathBuf;

use async_trait::async_trait;
use serde_json::Value;
use thiserror::Error;

pub use path::value_at_path;
pub use spec::{
    ConnectorConfig, ConnectorShape, Kind, PageSize, Problem, Reference, Secrecy, SourceConfig,
    SourceKind, StreamConfig, StreamSource,
};

/// One record as the source gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// Where it came from, for quarantine and logs (e.g. `customers.csv:17`, `page 3 #12`).
    pub locator: String,
    /// The record as JSON (CSV rows become objects of strings keyed by header).
    pub payload: Value,
}

/// Input the connector could not even parse into a record (e.g. a CSV row with too many
/// fields). It is quarantined with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedInput {
    /// Where it came from.
    pub locator: String,
    /// The raw text.
    pub raw: String,
    /// Why it was rejected.
    pub reason: String,
}

/// One page of a stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Records read.
    pub records: Vec<RawRecord>,
    /// Input that could not be parsed.
    pub rejected: Vec<RejectedInput>,
    /// Cursor to commit with this page; `None` leaves the stored cursor as it is.
    pub checkpoint: Option<Value>,
}

/// Errors that stop a run (the cursor stays at the last committed page).
#[derive(Debug, Error)]
pub enum ConnectorError {
    /// The connector file is not usable for this kind.
    #[error("connector `{connector}`: {reason}")]
    Config {
        /// Connector name.
        connector: String,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP request failed or the server answered with an error status.
    #[error("HTTP {url}: {reason}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong (status and body excerpt, or transport error).
        reason: String,
    },
    /// Input that cannot be read at all (e.g. a CSV header that is not UTF-8): unlike a bad
    /// row, nothing after it could be interpreted, so the stream stops.
    #[error("{locator}: {reason}")]
    Input {
        /// Where (`file:line`).
        locator: String,
        /// What is wrong.
        reason: String,
    },
    /// The source refused the credentials (wrong password or API key, expired session; HTTP
    /// 401/403), or no OAuth token could be obtained. Never retried: repeating a refused login only risks locking the account.
    #[error("connector `{connector}`: authentication failed: {reason}")]
    Auth {
        /// Connector name.
        connector: String,
        /// What the source said.
        reason: String,
    },
    /// The response was not in the expected shape.
    #[error("unexpected response from {url}: {reason}")]
    Response {
        /// The URL requested.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

/// What a source needs from its surroundings.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// Project root: relative folders in connector files are resolved against it.
    pub root: PathBuf,
}

/// A readable stream of one connector.
#[async_trait]
pub trait Source: Send {
    /// Reads the next page, or `None` when the stream is exhausted. Called until it returns
    /// `None` or an error; each returned page is committed before the next call.
    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError>;

    /// Called once the page last returned by [`Source::next_page`] has been committed with its
    /// cursor. Exists for side effects that must never run before the data is safe, such as
    /// moving a fully read upload file into its archive folder. Not called after a failed
    /// commit; a crash before it runs means the source sees its input again next time.
    async fn committed(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Reaches the source once without reading a page for staging: logs in, connects and
    /// describes the query, or sends the first list request. Exists for `tributary check
    /// --environment`, which tells a wrong password or an unreachable host before a sync
    /// would. Kinds that reach their source when they open (a folder is listed) need nothing.
    async fn probe(&mut self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// What the opening of one stream knows besides its options: names for errors, the root.
#[derive(Debug, Clone, Copy)]
pub struct Opening<'a> {
    /// Connector name.
    pub connector: &'a str,
    /// Stream name.
    pub stream: &'a str,
    /// The surroundings.
    pub ctx: &'a SourceContext,
}

impl Opening<'_> {
    /// A configuration error of the connector.
    pub fn error(&self, reason: impl Into<String>) -> ConnectorError {
        ConnectorError::Config {
            connector: self.connector.to_string(),
            reason: reason.into(),
        }
    }

    /// A configuration error of the stream.
    pub fn stream_error(&self, reason: impl std::fmt::Display) -> ConnectorError {
        self.error(format!("stream `{}`: {reason}", self.stream))
    }

    /// The project root.
    pub fn root(&self) -> &std::path::Path {
        &self.ctx.root
    }
}

/// Opens one stream of a connector, resuming after `cursor` (`None` = from the beginning).
///
/// The stream is first validated as `tributary check` validates it
/// ([`ConnectorConfig::validate_stream`]); the first problem found is the error.
pub fn open_stream(
    connector: &ConnectorConfig,
    stream: &str,
    cursor: Option<Value>,
    ctx: &SourceContext,
) -> Result<Box<dyn Source>, ConnectorError> {
    let at = Opening {
        connector: &connector.name,
        stream,
        ctx,
    };
    let spec = connector
        .stream(stream)
        .ok_or_else(|| at.error(format!("no stream named `{stream}`")))?;
    if let Some(problem) = connector.validate_stream(spec).into_iter().next() {
        return Err(at.error(problem.to_string()));
    }
    connector.kind.open(&spec.source, &at, cursor)
}

/// What reaching one connector's source gave, per enabled stream.
#[derive(Debug)]
pub struct Probe {
    /// The stream.
    pub stream: String,
    /// `Ok` when it opened and answered.
    pub outcome: Result<(), ConnectorError>,
}

/// Reaches every enabled stream of a connector once, as cheaply as its kind allows (see
/// [`Source::probe`]), from the beginning: for `tributary check --environment`.
pub async fn probe(connector: &ConnectorConfig, ctx: &SourceContext) -> Vec<Probe> {
    let mut out = Vec::new();
    for stream in connector.streams.iter().filter(|s| s.enabled) {
        let outcome = match open_stream(connector, &stream.name, None, ctx) {
            Ok(mut source) => source.probe().await,
            Err(e) => Err(e),
        };
        out.push(Probe {
            stream: stream.name.clone(),
            outcome,
        });
    }
    out
}

/// A stream of a `webhook` connector: its records are pushed (to the server's webhook
/// intake), so a poll reads nothing.
struct Pushed;

#[async_trait]
impl Source for Pushed {
    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        Ok(None)
    }
}
