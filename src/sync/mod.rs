//! One run of one connector: fetch → map → stage (+ cursor, one transaction per page) →
//! record the run. What follows a run that staged something (the master rebuild and the
//! insights) is [`crate::master`]'s.
//!
//! Invariants:
//! - every fetched record is either staged or quarantined with a reason; when a stream fails,
//!   its cursor stays at the last committed page and the run is marked failed;
//! - a run with quarantined records ends `partial`, never `success`;
//! - streams are independent: one failing stream does not stop the others, and `--full` on one
//!   stream resets only that stream's cursor;
//! - a run whose [`SyncOptions::cancel`] token fires stops between two pages: every page read so
//!   far is committed with its cursor (one transaction each), no further page or stream is read,
//!   and the run ends `cancelled`, never `success`.

mod drift;
mod progress;
mod replay;
pub mod schedule;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use drift::{Drift, FieldSet};
pub use progress::{NoProgress, Progress};
pub use replay::{Replayed, replay_quarantined};

use crate::config::{ConnectorFile, Project};
use crate::connector::{self, ConnectorError, RawRecord, RejectedInput, SourceContext};
use crate::mapping::Mapping;
use crate::model::{CanonicalRecord, RunId};
use crate::store::{
    Batch, Counts, Quarantined, RunLock, RunStatus, StagedRecord, Store, StoreError,
};

/// Errors that stop a sync before or outside a run.
#[derive(Debug, Error)]
pub enum SyncError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stream names a mapping that was not compiled.
    #[error("connector `{connector}` stream `{stream}`: mapping `{mapping}` is not available")]
    MissingMapping {
        /// Connector.
        connector: String,
        /// Stream.
        stream: String,
        /// Mapping name.
        mapping: String,
    },
    /// The connector references environment variables that are not set.
    #[error(
        "connector `{connector}` cannot run: environment variable(s) {} not set",
        vars.join(", ")
    )]
    Unresolved {
        /// Connector.
        connector: String,
        /// The unset variables.
        vars: Vec<String>,
    },
    /// Another process (or task) is running this connector.
    #[error(
        "connector `{connector}` is being synced by another process (its run lock is held); try again when that run has ended"
    )]
    Locked {
        /// Connector.
        connector: String,
    },
    /// A requested stream does not exist.
    #[error("connector `{connector}` has no stream `{stream}`")]
    UnknownStream {
        /// Connector.
        connector: String,
        /// Stream.
        stream: String,
    },
}

/// Why a stream stopped: its source or the store. The cursor stays at the last committed page.
#[derive(Debug, Error)]
pub enum StreamError {
    /// The source failed (see [`ConnectorError`] for the kinds).
    #[error(transparent)]
    Source(#[from] ConnectorError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The kind of failure that stopped a stream, so metrics, retries and the API can tell an
/// authentication failure from a timeout or a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The connector file does not work for its source.
    Config,
    /// A file could not be read.
    Io,
    /// A request failed: transport error, timeout, or an error status after the retries.
    Http,
    /// Input that cannot be read at all.
    Input,
    /// The source refused the credentials.
    Auth,
    /// The source answered in an unexpected shape.
    Response,
    /// The store failed.
    Store,
}

impl FailureKind {
    /// As written in metrics and JSON: `config`, `io`, `http`, `input`, `auth`, `response`,
    /// `store`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Config => "config",
            FailureKind::Io => "io",
            FailureKind::Http => "http",
            FailureKind::Input => "input",
            FailureKind::Auth => "auth",
            FailureKind::Response => "response",
            FailureKind::Store => "store",
        }
    }
}

impl StreamError {
    /// The kind of failure.
    pub fn kind(&self) -> FailureKind {
        match self {
            StreamError::Store(_) => FailureKind::Store,
            StreamError::Source(e) => match e {
                ConnectorError::Config { .. } => FailureKind::Config,
                ConnectorError::Io { .. } => FailureKind::Io,
                ConnectorError::Http { .. } => FailureKind::Http,
                ConnectorError::Input { .. } => FailureKind::Input,
                ConnectorError::Auth { .. } => FailureKind::Auth,
                ConnectorError::Response { .. } => FailureKind::Response,
            },
        }
    }
}

/// A stream's failure as a run reports it: its kind and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamFailure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The error, as the source or the store said it.
    pub message: String,
}

impl StreamFailure {
    /// The report of a stream error.
    pub fn of(e: &StreamError) -> Self {
        StreamFailure {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for StreamFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only these streams (all enabled streams when empty).
    pub streams: Vec<String>,
    /// Forget the streams' cursors first and read everything (backfill).
    pub full: bool,
    /// When this fires, the run stops after committing the page it is on and ends `cancelled`.
    pub cancel: Option<CancellationToken>,
}

impl SyncOptions {
    fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }
}

/// The outcome of one stream.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// Stream name.
    pub stream: String,
    /// Counts.
    pub counts: Counts,
    /// The error that stopped it, if any.
    pub error: Option<StreamFailure>,
    /// Fields the source started or stopped sending, compared with earlier runs.
    pub drift: Drift,
}

impl StreamReport {
    /// The message of the error that stopped the stream, if any.
    pub fn error_message(&self) -> Option<&str> {
        self.error.as_ref().map(|e| e.message.as_str())
    }
}

/// The outcome of one connector run.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Connector name.
    pub connector: String,
    /// Run ID in the store.
    pub run: RunId,
    /// Final status.
    pub status: RunStatus,
    /// Counts over all streams.
    pub counts: Counts,
    /// Wall time.
    pub elapsed: Duration,
    /// Per stream.
    pub streams: Vec<StreamReport>,
}

/// Takes the run lock of a connector (see [`Store::try_lock_run`]), or fails with
/// [`SyncError::Locked`] when another process holds it.
pub async fn lock_connector(store: &Store, connector: &str) -> Result<RunLock, SyncError> {
    store
        .try_lock_run(connector)
        .await?
        .ok_or_else(|| SyncError::Locked {
            connector: connector.to_string(),
        })
}

/// Runs one connector. Callers that may run it concurrently with others take its run lock
/// first ([`lock_connector`]); the scheduler does.
pub async fn run_connector(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    store: &Store,
    connector: &ConnectorFile,
    options: &SyncOptions,
    progress: &dyn Progress,
) -> Result<RunReport, SyncError> {
    let config = &connector.config;
    let started = Instant::now();
    if !connector.unresolved.is_empty() {
        return Err(SyncError::Unresolved {
            connector: config.name.clone(),
            vars: connector.unresolved.clone(),
        });
    }
    for s in &options.streams {
        if !config.streams.iter().any(|c| &c.name == s) {
            return Err(SyncError::UnknownStream {
                connector: config.name.clone(),
                stream: s.clone(),
            });
        }
    }
    let run = store.start_run(&config.name).await?;
    let span = tracing::info_span!("sync", connector = %config.name, run);
    run_streams(
        project, mappings, store, connector, options, progress, run, started,
    )
    .instrument(span)
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run_streams(
    project: &Project,
    mappings: &BTreeMap<String, Mapping>,
    store: &Store,
    connector: &ConnectorFile,
    options: &SyncOptions,
    progress: &dyn Progress,
    run: RunId,
    started: Instant,
) -> Result<RunReport, SyncError> {
    let config = &connector.config;
    tracing::info!("run started");
    let ctx = SourceContext {
        root: project.root.clone(),
    };
    let mut reports = Vec::new();
    let mut total = Counts::default();
    for stream in config.streams.iter().filter(|s| {
        if options.streams.is_empty() {
            s.enabled
        } else {
            options.streams.contains(&s.name)
        }
    }) {
        if options.cancelled() {
            break;
        }
        let mapping = mappings
            .get(&stream.mapping)
            .ok_or_else(|| SyncError::MissingMapping {
                connector: config.name.clone(),
                stream: stream.name.clone(),
                mapping: stream.mapping.clone(),
            })?;
        if options.full {
            store.reset_cursor(&config.name, &stream.name).await?;
        }
        let mut counts = Counts::default();
        let outcome = run_stream(
            store,
            run,
            connector,
            &stream.name,
            mapping,
            &ctx,
            &mut counts,
            progress,
            options,
        )
        .await;
        let (error, drift) = match outcome {
            Ok(drift) => (None, drift),
            Err(e) => {
                tracing::error!(stream = %stream.name, error = %e, "stream failed; its cursor stays at the last committed page");
                (Some(StreamFailure::of(&e)), Drift::default())
            }
        };
        total += counts;
        reports.push(StreamReport {
            stream: stream.name.clone(),
            counts,
            error,
            drift,
        });
    }
    let errors: Vec<String> = reports
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.stream)))
        .collect();
    let status = if !errors.is_empty() {
        RunStatus::Failed
    } else if options.cancelled() {
        RunStatus::Cancelled
    } else if total.quarantined > 0 {
        RunStatus::Partial
    } else {
        RunStatus::Success
    };
    let error = match status {
        RunStatus::Failed => Some(errors.join("; ")),
        RunStatus::Cancelled => Some(CANCELLED.to_string()),
        _ => None,
    };
    store
        .finish_run(run, status, total, error.as_deref())
        .await?;
    tracing::info!(
        status = status.as_str(),
        fetched = total.fetched,
        staged = total.staged,
        unchanged = total.unchanged,
        quarantined = total.quarantined,
        "run finished"
    );
    Ok(RunReport {
        connector: config.name.clone(),
        run,
        status,
        counts: total,
        elapsed: started.elapsed(),
        streams: reports,
    })
}

/// The error text of a cancelled run.
const CANCELLED: &str =
    "cancelled (shutdown) after its last committed page; the next run goes on from its cursor";

/// Reads one stream page by page; each page is committed with its cursor before the next.
/// Stops before reading another page once the run is cancelled. Returns the schema drift seen.
#[allow(clippy::too_many_arguments)]
async fn run_stream(
    store: &Store,
    run: RunId,
    connector: &ConnectorFile,
    stream: &str,
    mapping: &Mapping,
    ctx: &SourceContext,
    counts: &mut Counts,
    progress: &dyn Progress,
    options: &SyncOptions,
) -> Result<Drift, StreamError> {
    let name = &connector.config.name;
    let cursor = store.cursor(name, stream).await?;
    let mut source = connector::open_stream(&connector.config, stream, cursor, ctx)?;
    progress.stream_started(name, stream);
    let mut fields = FieldSet::default();
    while !options.cancelled()
        && let Some(page) = source.next_page().await?
    {
        let fetched = (page.records.len() + page.rejected.len()) as u64;
        for raw in &page.records {
            fields.add(&raw.payload);
        }
        let (records, mut quarantined) = map_records(mapping, page.records);
        quarantined.extend(page.rejected.into_iter().map(reject));
        let mut batch_counts = store
            .commit_batch(Batch {
                run,
                connector: name,
                stream,
                records,
                quarantined,
                cursor: page.checkpoint,
            })
            .await?;
        batch_counts.fetched = fetched;
        *counts += batch_counts;
        source.committed().await?;
        progress.page_committed(name, stream, *counts);
    }
    progress.stream_finished(name, stream, *counts);
    let drift = record_drift(store, run, name, stream, &fields).await?;
    Ok(drift)
}

/// Compares the fields a stream carried in this run with earlier runs, then remembers them.
async fn record_drift(
    store: &Store,
    run: RunId,
    connector: &str,
    stream: &str,
    fields: &FieldSet,
) -> Result<Drift, StoreError> {
    let known = store.known_fields(connector, stream).await?;
    let drift = fields.drift(&known);
    if !drift.is_empty() {
        tracing::warn!(stream, %drift, "schema drift");
    }
    store
        .record_fields(connector, stream, run, fields.fields())
        .await?;
    Ok(drift)
}

/// Maps a page: each record is staged or quarantined, never dropped.
pub fn map_records(
    mapping: &Mapping,
    records: Vec<RawRecord>,
) -> (Vec<StagedRecord>, Vec<Quarantined>) {
    let mut staged = Vec::with_capacity(records.len());
    let mut quarantined = Vec::new();
    for raw in records {
        match mapping.apply(&raw.payload) {
            Ok(rec) => staged.push(stage(rec, raw.payload)),
            Err(e) => quarantined.push(Quarantined {
                key: mapping
                    .key_of(&raw.payload)
                    .unwrap_or_else(|| raw.locator.clone()),
                locator: raw.locator,
                payload: raw.payload,
                reason: e.to_string(),
            }),
        }
    }
    (staged, quarantined)
}

fn stage(rec: CanonicalRecord, payload: Value) -> StagedRecord {
    let canonical = rec.to_value();
    let hash = hex::encode(Sha256::digest(canonical.to_string().as_bytes()));
    StagedRecord {
        key: rec.source_key().to_string(),
        entity: rec.entity(),
        customer_key: rec.customer_key().map(str::to_string),
        payload,
        canonical,
        hash,
    }
}

fn reject(r: RejectedInput) -> Quarantined {
    Quarantined {
        key: r.locator.clone(),
        locator: r.locator,
        payload: Value::String(r.raw),
        reason: r.reason,
    }
}
