//! The connector file (`connectors/<name>.toml`): the keys every connector has, and its kind.
//!
//! ```toml
//! kind = "http"                 # which kind, and so which table below holds its options
//! schedule = "*/30 * * * *"
//! [http]                        # the kind's own table
//! base_url = "${ERP_URL}"
//!
//! [[streams]]                   # the streams, each with its mapping …
//! name = "customers"
//! mapping = "erp-customers"
//! [streams.http]                # … and a table of the connector's kind
//! path = "/customers"
//! ```
//!
//! In Rust the kind is one enum, [`Kind`], whose arm holds the options of the kind's table, and
//! each stream holds a [`StreamSource`] of the same kind; a file whose tables do not fit its
//! `kind` never becomes a [`ConnectorConfig`]. The file itself keeps its flat shape (`kind`
//! beside a table named after it): it is read into a private `shape` first, then converted, so
//! every table still denies unknown keys with the line of the key.
//!
//! **A kind's contract.** Each kind lives in its own folder (`file/`, `http/`, `jsonrpc/`,
//! `sql/`) whose `config.rs` holds the two option types and implements [`SourceConfig`] for
//! the kind's table: `validate` and `validate_stream` say what is wrong (with a field path) and
//! are called by the loader (`tributary check`) and by [`crate::connector::open_stream`] alike;
//! `references` lists the values that may hold `${VAR}`; `open` builds the runtime. The kind is
//! then one line of the `kinds!` list below.
//!
//! **Page sizes** have one name everywhere, `page_size` (records per request or per committed
//! page); the older names (`batch_size` of `file` and `sql` streams, `size` of `http`
//! pagination) are read as aliases. Absent, each kind uses its own default (see
//! the constants of [`PageSize`]); 0 is refused by every kind through [`PageSize::check`].

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use super::file::config::{FileOptions, FileStream};
use super::http::config::{HttpOptions, HttpStream};
use super::jsonrpc::config::{JsonRpcOptions, JsonRpcStream};
use super::sql::config::{SqlOptions, SqlStream};
use super::webhook::WebhookConfig;
use super::{ConnectorError, Opening, Source};
use crate::support::cron::CronExpr;

/// One thing wrong in a connector file: the field (a key path such as
/// `streams[2].http.pagination.page_size`) and what is wrong with it. The loader adds the
/// file and the line.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field}: {message}")]
pub struct Problem {
    /// Key path of the field, from the top of the file (or of the table that reports it).
    pub field: String,
    /// What is wrong, and how to put it right where that is clear.
    pub message: String,
}

impl Problem {
    /// A problem of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same problem seen from the table that holds `prefix`: `prefix.field`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = join(prefix, &self.field);
        self
    }
}

/// `prefix.field` (`prefix[0]` for an index, `prefix` alone for an empty field).
fn join(prefix: &str, field: &str) -> String {
    if field.is_empty() {
        prefix.to_string()
    } else if prefix.is_empty() || field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

/// What a value that may hold `${VAR}` references may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    /// Any text; references are expanded where they stand.
    Plain,
    /// A secret: the whole value must be one `${VAR}` reference.
    Secret,
    /// A database URL: the whole URL, or its password, must be a reference.
    DatabaseUrl,
}

impl Secrecy {
    /// Refuses a secret written in clear (checked before the value is expanded).
    pub fn check(self, value: &str) -> Result<(), String> {
        match self {
            Secrecy::Plain => Ok(()),
            Secrecy::Secret if crate::support::secrets::is_reference(value) => Ok(()),
            Secrecy::Secret => Err("secrets are never written in config files: put it in an environment variable and write \"${VAR_NAME}\"".into()),
            Secrecy::DatabaseUrl => super::sql::check_url_secret(value),
        }
    }
}

/// A value of a connector file that may hold `${VAR}` references, for the loader to check and
/// expand without knowing the kind.
#[derive(Debug)]
pub struct Reference<'a> {
    /// Key path of the value (relative to the table that lists it until [`Reference::under`]).
    pub field: String,
    /// The value, expanded in place.
    pub value: &'a mut String,
    /// What it may be.
    pub secrecy: Secrecy,
}

impl<'a> Reference<'a> {
    /// A plain value.
    pub fn plain(field: impl Into<String>, value: &'a mut String) -> Self {
        Reference {
            field: field.into(),
            value,
            secrecy: Secrecy::Plain,
        }
    }

    /// A secret.
    pub fn secret(field: impl Into<String>, value: &'a mut String) -> Self {
        Reference {
            field: field.into(),
            value,
            secrecy: Secrecy::Secret,
        }
    }

    /// The same reference seen from the table that holds `prefix`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.field = join(prefix, &self.field);
        self
    }
}

/// True while `value` still holds a `${VAR}` reference: a disabled connector waiting for its
/// variables. Checks of what the value means (is it a URL?) wait for it too.
pub fn unresolved(value: &str) -> bool {
    value.contains("${")
}

/// The page size of every kind: one key, `page_size`, one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize;

impl PageSize {
    /// The key, everywhere.
    pub const KEY: &'static str = "page_size";
    /// Older names still read as aliases of [`PageSize::KEY`].
    pub const ALIASES: &'static [&'static str] = &["batch_size", "size"];

    /// Defaults when a file gives none, in one place: file 500 records per committed page …
    pub const FILE: u64 = 500;
    /// … http 100 per request (`page` and `offset` pagination; `cursor` sends none unless set) …
    pub const HTTP: u64 = 100;
    /// … jsonrpc 200 per `search_read` …
    pub const JSONRPC: u64 = 200;
    /// … and sql 1000 rows per committed page.
    pub const SQL: u64 = 1000;

    /// Refuses 0 (a page of nothing would never end a read), naming `field`.
    pub fn check(value: Option<u64>, field: &str) -> Option<Problem> {
        (value == Some(0)).then(|| {
            Problem::new(
                join(field, Self::KEY),
                "must be at least 1 (records per page)",
            )
        })
    }
}

/// What every connector kind's table provides. Implemented in each kind's `config.rs`; the
/// loader and [`crate::connector::open_stream`] reach the kind only through it.
pub trait SourceConfig {
    /// The options of one stream of this kind (`[streams.<kind>]`).
    type Stream;

    /// Problems of the kind's table alone, with paths relative to it. Exists so that
    /// `tributary check` and `open` find the same mistakes, before anything is reached.
    fn validate(&self) -> Vec<Problem>;

    /// Problems of one stream's table, relative to it, seen with the kind's options (a stream
    /// path joins the base URL). Called by `check` for every stream and by `open` for its own.
    fn validate_stream(&self, stream: &Self::Stream) -> Vec<Problem>;

    /// Values of the kind's table that may hold `${VAR}` references, relative to it: the
    /// loader checks the secrets among them and expands them all.
    fn references(&mut self) -> Vec<Reference<'_>>;

    /// Values of a stream's table that may hold `${VAR}` references, relative to it.
    fn stream_references(stream: &mut Self::Stream) -> Vec<Reference<'_>>;

    /// Builds the runtime of one stream, resuming after `cursor`. Called once validation
    /// found nothing, so it fails only on what depends on the cursor or the outside world.
    fn open(
        &self,
        stream: &Self::Stream,
        at: &Opening<'_>,
        cursor: Option<Value>,
    ) -> Result<Box<dyn Source>, ConnectorError>;
}

/// Generates, from one line per kind: [`SourceKind`], [`Kind`], [`StreamSource`], their
/// accessors, the file's shape and the dispatch to [`SourceConfig`].
macro_rules! kinds {
    ($( $(#[$doc:meta])* $Variant:ident: $table:ident($Options:ty, $Stream:ty), )*) => {
        /// The `kind = "…"` of a connector file.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum SourceKind {
            $( $(#[$doc])* $Variant, )*
            /// Push only: records arrive as webhook events (`[webhook]`); nothing is polled.
            Webhook,
        }

        impl SourceKind {
            /// The name written in connector files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( SourceKind::$Variant => stringify!($table), )*
                    SourceKind::Webhook => "webhook",
                }
            }
        }

        /// A connector's kind with the options of its table.
        #[derive(Debug, Clone)]
        pub enum Kind {
            $( $(#[$doc])* $Variant($Options), )*
            /// Push only: the `[webhook]` table says how events arrive; nothing is polled.
            Webhook,
        }

        impl Kind {
            /// Which kind.
            pub fn kind(&self) -> SourceKind {
                match self {
                    $( Kind::$Variant(_) => SourceKind::$Variant, )*
                    Kind::Webhook => SourceKind::Webhook,
                }
            }

            /// The name written in connector files.
            pub fn as_str(&self) -> &'static str {
                self.kind().as_str()
            }

            fn validate(&self) -> Vec<Problem> {
                match self {
                    $( Kind::$Variant(o) => o.validate(), )*
                    Kind::Webhook => Vec::new(),
                }
            }

            fn validate_stream(&self, stream: &StreamSource) -> Vec<Problem> {
                match (self, stream) {
                    $( (Kind::$Variant(o), StreamSource::$Variant(s)) => o.validate_stream(s), )*
                    (Kind::Webhook, StreamSource::Pushed) => Vec::new(),
                    _ => vec![Problem::new("", format!("the stream is not of kind \"{}\"", self.as_str()))],
                }
            }

            fn references(&mut self) -> Vec<Reference<'_>> {
                match self {
                    $( Kind::$Variant(o) => o.references(), )*
                    Kind::Webhook => Vec::new(),
                }
            }

            pub(super) fn open(
                &self,
                stream: &StreamSource,
                at: &Opening<'_>,
                cursor: Option<Value>,
            ) -> Result<Box<dyn Source>, ConnectorError> {
                match (self, stream) {
                    $( (Kind::$Variant(o), StreamSource::$Variant(s)) => o.open(s, at, cursor), )*
                    (Kind::Webhook, StreamSource::Pushed) => Ok(Box::new(super::Pushed)),
                    _ => Err(at.error(format!("the stream is not of kind \"{}\"", self.as_str()))),
                }
            }
        }

        impl PartialEq<SourceKind> for Kind {
            fn eq(&self, other: &SourceKind) -> bool {
                self.kind() == *other
            }
        }

        /// How one stream is read: a table of the connector's kind.
        // A handful per connector, built once at load: boxing the large arms buys nothing.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug, Clone)]
        pub enum StreamSource {
            $( $(#[$doc])* $Variant($Stream), )*
            /// A stream of a `webhook` connector: its records are pushed.
            Pushed,
        }

        impl StreamSource {
            fn references(&mut self) -> Vec<Reference<'_>> {
                match self {
                    $( StreamSource::$Variant(s) => <$Options as SourceConfig>::stream_references(s), )*
                    StreamSource::Pushed => Vec::new(),
                }
            }
        }

        impl ConnectorConfig {
            $(
                #[doc = concat!("The `[", stringify!($table), "]` table, when the kind is `", stringify!($table), "`.")]
                pub fn $table(&self) -> Option<&$Options> {
                    match &self.kind {
                        Kind::$Variant(o) => Some(o),
                        _ => None,
                    }
                }
            )*
        }

        impl StreamConfig {
            $(
                #[doc = concat!("The stream's `", stringify!($table), "` table, when the kind is `", stringify!($table), "`.")]
                pub fn $table(&self) -> Option<&$Stream> {
                    match &self.source {
                        StreamSource::$Variant(s) => Some(s),
                        _ => None,
                    }
                }
            )*
        }

        /// The file as written: `kind` beside one optional table per kind.
        mod shape {
            use serde::Deserialize;

            use super::*;

            #[derive(Debug, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub(super) struct Connector {
                #[serde(default)]
                pub name: String,
                #[serde(default)]
                pub description: Option<String>,
                pub kind: SourceKind,
                #[serde(default)]
                pub schedule: Option<CronExpr>,
                #[serde(default)]
                pub full_schedule: Option<CronExpr>,
                #[serde(default, deserialize_with = "crate::support::cron::optional_timezone")]
                pub timezone: Option<chrono_tz::Tz>,
                #[serde(default = "super::yes")]
                pub enabled: bool,
                $( #[serde(default)] pub $table: Option<$Options>, )*
                #[serde(default)]
                pub webhook: Option<WebhookConfig>,
                pub streams: Vec<Stream>,
            }

            #[derive(Debug, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub(super) struct Stream {
                pub name: String,
                pub mapping: String,
                #[serde(default = "super::yes")]
                pub enabled: bool,
                $( #[serde(default)] pub $table: Option<$Stream>, )*
            }

            impl Connector {
                /// The kind's options, or `None` when its table is missing.
                pub(super) fn take_kind(&mut self) -> Option<Kind> {
                    match self.kind {
                        $( SourceKind::$Variant => self.$table.take().map(Kind::$Variant), )*
                        SourceKind::Webhook => self.webhook.is_some().then_some(Kind::Webhook),
                    }
                }
            }

            impl Stream {
                /// The stream's table of `kind`, and the names of the tables of other kinds.
                pub(super) fn take_source(&mut self, kind: SourceKind) -> (Option<StreamSource>, Vec<&'static str>) {
                    let mut source = None;
                    let mut others = Vec::new();
                    $(
                        if let Some(s) = self.$table.take() {
                            if kind == SourceKind::$Variant {
                                source = Some(StreamSource::$Variant(s));
                            } else {
                                others.push(stringify!($table));
                            }
                        }
                    )*
                    if kind == SourceKind::Webhook {
                        source = Some(StreamSource::Pushed);
                    }
                    (source, others)
                }
            }
        }
    };
}

kinds! {
    /// Files (CSV, JSON Lines, XML) dropped in a folder.
    File: file(FileOptions, FileStream),
    /// A REST/JSON API (or SOAP and other XML APIs).
    Http: http(HttpOptions, HttpStream),
    /// A JSON-RPC ERP API (Odoo or Tryton).
    Jsonrpc: jsonrpc(JsonRpcOptions, JsonRpcStream),
    /// A query against an ERP's own database (PostgreSQL, MariaDB/MySQL).
    Sql: sql(SqlOptions, SqlStream),
}

fn yes() -> bool {
    true
}

/// A whole connector file.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "shape::Connector")]
pub struct ConnectorConfig {
    /// The connector's name; defaults to the file stem. Used as the `source` of its records.
    pub name: String,
    /// Free text for humans.
    pub description: Option<String>,
    /// The kind, with the options of its table.
    pub kind: Kind,
    /// Cron expression of the incremental polls run by `tributary serve` (five fields, or six
    /// with seconds first; see [`crate::support::cron`]).
    pub schedule: Option<CronExpr>,
    /// Cron expression of full resyncs (every stream's cursor reset first, as `sync --full`).
    pub full_schedule: Option<CronExpr>,
    /// Time zone of both schedules (IANA name); `[scheduler] timezone` when absent.
    pub timezone: Option<chrono_tz::Tz>,
    /// Set false to leave the connector out of `sync --all`.
    pub enabled: bool,
    /// Events the source pushes to `POST /webhooks/{name}` (any kind may have them).
    pub webhook: Option<WebhookConfig>,
    /// The streams (record sets) this connector reads, each with its mapping.
    pub streams: Vec<StreamConfig>,
}

/// One stream of a connector.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// Stream name, unique within the connector.
    pub name: String,
    /// Name of the mapping file (`mappings/<mapping>.toml`) applied to its records.
    pub mapping: String,
    /// Set false to skip the stream.
    pub enabled: bool,
    /// How it is read: a table of the connector's kind.
    pub source: StreamSource,
}

/// A connector file as written, before its tables are matched to its kind. The loader reads
/// this (so that every problem of the file can be listed) and converts it with
/// [`ConnectorShape::into_config`].
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct ConnectorShape(shape::Connector);

impl ConnectorShape {
    /// The (name, mapping) of every stream, in file order.
    pub fn stream_mappings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .streams
            .iter()
            .map(|s| (s.name.as_str(), s.mapping.as_str()))
    }

    /// The connector, unless its tables do not fit its kind, and the problems found (each
    /// table of the wrong kind, a missing one). `default_name` is used when the file names
    /// none (the file stem).
    pub fn into_config(self, default_name: &str) -> (Option<ConnectorConfig>, Vec<Problem>) {
        let mut shape = self.0;
        let mut problems = Vec::new();
        let kind_name = shape.kind.as_str();
        let kind = shape.take_kind();
        if kind.is_none() {
            problems.push(Problem::new(
                "kind",
                format!("kind = \"{kind_name}\" needs a [{kind_name}] table"),
            ));
        }
        let mut streams = Vec::new();
        for (i, mut s) in std::mem::take(&mut shape.streams).into_iter().enumerate() {
            let at = format!("streams[{i}]");
            let (source, others) = s.take_source(shape.kind);
            if !others.is_empty() {
                problems.push(Problem::new(
                    &at,
                    format!(
                        "stream `{}` has options of another kind than \"{kind_name}\"",
                        s.name
                    ),
                ));
            }
            match source {
                Some(source) => streams.push(StreamConfig {
                    name: s.name,
                    mapping: s.mapping,
                    enabled: s.enabled,
                    source,
                }),
                None => problems.push(Problem::new(
                    &at,
                    format!(
                        "stream `{}` needs a `{kind_name}` table for kind \"{kind_name}\"",
                        s.name
                    ),
                )),
            }
        }
        let config = kind.filter(|_| problems.is_empty()).map(|kind| {
            let name = if shape.name.is_empty() {
                default_name.to_string()
            } else {
                shape.name
            };
            ConnectorConfig {
                name,
                description: shape.description,
                kind,
                schedule: shape.schedule,
                full_schedule: shape.full_schedule,
                timezone: shape.timezone,
                enabled: shape.enabled,
                webhook: shape.webhook,
                streams,
            }
        });
        (config, problems)
    }
}

impl TryFrom<shape::Connector> for ConnectorConfig {
    type Error = String;

    fn try_from(shape: shape::Connector) -> Result<Self, Self::Error> {
        match ConnectorShape(shape).into_config("") {
            (Some(config), _) => Ok(config),
            (None, problems) => Err(problems
                .iter()
                .map(Problem::to_string)
                .collect::<Vec<_>>()
                .join("; ")),
        }
    }
}

impl ConnectorConfig {
    /// The stream named `name`.
    pub fn stream(&self, name: &str) -> Option<&StreamConfig> {
        self.streams.iter().find(|s| s.name == name)
    }

    /// Every problem of the file, with paths from its top: the common keys, the kind's table
    /// and every stream's. What `tributary check` reports; see [`ConnectorConfig::validate_stream`]
    /// for what `open` checks.
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push(Problem::new(
                "name",
                "use only letters, digits, `-` and `_`",
            ));
        }
        if self.streams.is_empty() {
            out.push(Problem::new(
                "streams",
                "at least one [[streams]] entry is needed",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, s) in self.streams.iter().enumerate() {
            if !seen.insert(s.name.as_str()) {
                out.push(Problem::new(
                    format!("streams[{i}].name"),
                    format!("stream `{}` is defined twice", s.name),
                ));
            }
        }
        out.extend(self.kind_problems());
        for (i, s) in self.streams.iter().enumerate() {
            out.extend(self.stream_problems(i, s));
        }
        if let Some(webhook) = &self.webhook {
            out.extend(webhook.validate(&self.streams));
        }
        out
    }

    /// The problems that stop `stream` from opening: the kind's table and the stream's own.
    /// [`crate::connector::open_stream`] refuses a stream with any.
    pub fn validate_stream(&self, stream: &StreamConfig) -> Vec<Problem> {
        let i = self
            .streams
            .iter()
            .position(|s| std::ptr::eq(s, stream))
            .unwrap_or_default();
        let mut out = self.kind_problems();
        out.extend(self.stream_problems(i, stream));
        out
    }

    fn kind_problems(&self) -> Vec<Problem> {
        let table = self.kind.as_str();
        self.kind
            .validate()
            .into_iter()
            .map(|p| p.under(table))
            .collect()
    }

    fn stream_problems(&self, i: usize, s: &StreamConfig) -> Vec<Problem> {
        let at = format!("streams[{i}].{}", self.kind.as_str());
        self.kind
            .validate_stream(&s.source)
            .into_iter()
            .map(|mut p| {
                p.message = format!("stream `{}`: {}", s.name, p.message);
                p.under(&at)
            })
            .collect()
    }

    /// Every value of the file that may hold `${VAR}` references, with paths from its top.
    pub fn references(&mut self) -> Vec<Reference<'_>> {
        let table = self.kind.as_str();
        let mut out: Vec<Reference<'_>> = self
            .kind
            .references()
            .into_iter()
            .map(|r| r.under(table))
            .collect();
        if let Some(webhook) = &mut self.webhook {
            out.push(Reference::secret("webhook.secret", &mut webhook.secret));
        }
        for (i, s) in self.streams.iter_mut().enumerate() {
            let at = format!("streams[{i}].{table}");
            out.extend(s.source.references().into_iter().map(|r| r.under(&at)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: &str = "kind = \"http\"\n[http]\nbase_url = \"http://x\"\n[[streams]]\nname = \"s\"\nmapping = \"m\"\n[streams.http]\npath = \"/s\"\n";

    #[test]
    fn the_flat_file_shape_becomes_one_kind() {
        let c: ConnectorConfig = toml::from_str(HTTP).unwrap();
        assert_eq!(c.kind.kind(), SourceKind::Http);
        assert_eq!(c.http().map(|h| h.base_url.as_str()), Some("http://x"));
        assert!(c.file().is_none());
        assert_eq!(c.streams[0].http().map(|s| s.path.as_str()), Some("/s"));
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }

    #[test]
    fn tables_that_do_not_fit_the_kind_are_problems() {
        let text = HTTP.replace(
            "[streams.http]\npath = \"/s\"\n",
            "sql = { query = \"SELECT 1\", cursor = \"a\", key = \"b\" }\n",
        );
        let shape: ConnectorShape = toml::from_str(&text).unwrap();
        let (config, problems) = shape.into_config("x");
        assert!(config.is_none());
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["streams[0]", "streams[0]"], "{problems:?}");
        assert!(toml::from_str::<ConnectorConfig>(&text).is_err());
    }

    #[test]
    fn problems_and_references_carry_paths_from_the_top_of_the_file() {
        let text = HTTP.replace(
            "path = \"/s\"",
            "path = \"/s\"\npagination = { type = \"page\", size = 0 }\nheaders = { X = \"${V}\" }",
        );
        let mut c: ConnectorConfig = toml::from_str(&text).unwrap();
        let problems = c.validate();
        assert_eq!(
            problems,
            [Problem::new(
                "streams[0].http.pagination.page_size",
                "stream `s`: must be at least 1 (records per page)"
            )]
        );
        let fields: Vec<String> = c.references().into_iter().map(|r| r.field).collect();
        assert!(fields.contains(&"http.base_url".to_string()), "{fields:?}");
        assert!(
            fields.contains(&"streams[0].http.headers.X".to_string()),
            "{fields:?}"
        );
    }
}
