//! Intake: webhook events that sources push to `POST /webhooks/{connector}`.
//!
//! Two steps, so that the sender's answer never waits on mapping or reconciliation:
//!
//! 1. [`accept`] checks a request and writes it to the inbox (`src/store/inbox.rs`) **before**
//!    the handler answers 2xx. In this order: body size (413), a connector with an enabled
//!    `[webhook]` table (404), the HMAC-SHA256 signature, compared in constant time (401), the
//!    sender's timestamp within the window (401), well-formed JSON with its records and stream
//!    (400), the idempotency key (400). A request refused at any step stores nothing. A repeated
//!    delivery (same idempotency key) is accepted again, as a duplicate, and stored once.
//! 2. [`process_inbox`] takes the pending events, maps their records with the stream's mapping and
//!    stages them the way a poll run does (malformed records quarantined with a reason; one sync
//!    run per connector in the run history), each event in the transaction that marks it
//!    processed, so it is staged exactly once even across crashes. The caller then rebuilds the
//!    master with [`crate::master::reconcile_master`] when [`ProcessReport::staged_any`] says so.
//!
//! Files: the `[webhook]` table is [`crate::connector::webhook`]; `signature.rs` (HMAC and timestamps), `event.rs`
//! (stream, records and idempotency key of a body), `accept.rs` ([`accept`]), `process.rs`
//! ([`process_inbox`]).

mod accept;
mod event;
mod process;
pub mod signature;

use thiserror::Error;

pub use crate::connector::webhook::{
    DEFAULT_MAX_BODY_BYTES, Route, SignatureEncoding, WebhookConfig,
};
pub use accept::{Accepted, accept, body_limit, max_body_limit};
pub use process::{InboxRun, ProcessReport, process_inbox};

use crate::store::StoreError;

/// Why a webhook request was refused. Nothing was stored for it.
#[derive(Debug, Error)]
pub enum WebhookError {
    /// The body is larger than the connector's `max_body_bytes`.
    #[error("the body has {size} bytes, more than the {limit} allowed")]
    TooLarge {
        /// Bytes received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// No enabled connector of that name has a `[webhook]` table.
    #[error("no connector `{0}` receives webhooks")]
    UnknownConnector(String),
    /// The signature is missing, unreadable or wrong.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The timestamp is missing, unreadable or outside the window.
    #[error("replay refused: {0}")]
    Replay(String),
    /// The body is not what the connector expects (not JSON, no records, no stream, no event ID).
    #[error("malformed event: {0}")]
    Malformed(String),
    /// The inbox could not be written; the sender should retry.
    #[error("storing the event: {0}")]
    Store(#[from] StoreError),
}

impl WebhookError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::TooLarge { .. } => 413,
            WebhookError::UnknownConnector(_) => 404,
            WebhookError::BadSignature(_) | WebhookError::Replay(_) => 401,
            WebhookError::Malformed(_) => 400,
            WebhookError::Store(_) => 503,
        }
    }

    /// A stable machine-readable reason, e.g. for a metrics label.
    pub fn reason(&self) -> &'static str {
        match self {
            WebhookError::TooLarge { .. } => "too_large",
            WebhookError::UnknownConnector(_) => "unknown_connector",
            WebhookError::BadSignature(_) => "bad_signature",
            WebhookError::Replay(_) => "replay",
            WebhookError::Malformed(_) => "malformed",
            WebhookError::Store(_) => "store_unavailable",
        }
    }

    /// The text to send back: the error itself, except that store errors (which may name
    /// tables and servers) are told only as "retry later"; log the full error instead.
    pub fn public_message(&self) -> String {
        match self {
            WebhookError::Store(_) => "the event could not be stored; retry later".into(),
            other => other.to_string(),
        }
    }
}
