//! The `webhook` kind and the `[webhook]` table any connector may carry: events its source
//! pushes to `POST /webhooks/{name}`. Only the configuration lives here; receiving, checking
//! and staging events is the server's webhook intake ([`crate::intake`]), above the connectors.
//!
//! A `kind = "webhook"` connector polls nothing: its streams need no table and open as empty
//! sources; its `[webhook]` table is required.

pub mod config;

pub use config::{
    BODY, DEFAULT_MAX_BODY_BYTES, Route, SignatureEncoding, TIMESTAMP, WebhookConfig,
};
