//! The `[webhook]` table of a connector file (any kind may have one; `kind = "webhook"` has
//! nothing else): how pushed events are authenticated, deduplicated
//! and routed to a stream's mapping.
//!
//! ```toml
//! [webhook]
//! secret = "${ERPNEXT_WEBHOOK_SECRET}"          # only as a ${VAR} reference
//! signature_header = "X-Frappe-Webhook-Signature"
//! signature_encoding = "base64"                  # or "hex" (default)
//! route = { field = "doctype", streams = { Customer = "customers" } }
//! ```

use std::collections::BTreeMap;

use http::HeaderName;
use serde::Deserialize;

use crate::connector::spec::{Problem, StreamConfig};

/// Default largest body accepted: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// `[webhook]`: events pushed to `POST /webhooks/{connector}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The shared HMAC-SHA256 key; only as a `${VAR}` reference.
    pub secret: String,
    /// Header carrying the signature, e.g. `X-Hub-Signature-256`.
    pub signature_header: String,
    /// How the signature is written: `hex` (default) or `base64`.
    #[serde(default)]
    pub signature_encoding: SignatureEncoding,
    /// Text before the signature in its header, e.g. `sha256=`.
    #[serde(default)]
    pub signature_prefix: String,
    /// What is signed: `{body}` (default) or a template with `{timestamp}` too, such as
    /// `{timestamp}.{body}` or `v0:{timestamp}:{body}`.
    #[serde(default = "default_signed_content")]
    pub signed_content: String,
    /// Header carrying the time the sender signed the event (Unix seconds or RFC 3339); when
    /// set, events outside `tolerance_seconds` of now are refused as replays.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// Largest difference allowed between the event's timestamp and now (default 300).
    #[serde(default = "default_tolerance")]
    pub tolerance_seconds: u64,
    /// Largest body accepted, in bytes (default 1 MiB).
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Header carrying a unique event ID (the idempotency key).
    #[serde(default)]
    pub event_id_header: Option<String>,
    /// Path of a unique event ID inside the JSON body instead. Without either, the key is the
    /// SHA-256 of the body.
    #[serde(default)]
    pub event_id_field: Option<String>,
    /// The stream whose mapping every event's records take.
    #[serde(default)]
    pub stream: Option<String>,
    /// Or: a field of the body choosing the stream.
    #[serde(default)]
    pub route: Option<Route>,
    /// Path of the record (an object) or records (an array of objects) in the body; empty (the
    /// default) = the body is one record.
    #[serde(default)]
    pub records: String,
}

/// Chooses the stream of an event by a value in its body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Path of the value in the body, e.g. `doctype`.
    pub field: String,
    /// Value → stream name.
    pub streams: BTreeMap<String, String>,
}

/// How a signature is written in its header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureEncoding {
    /// Lower- or upper-case hex (GitHub, Shopify-style `sha256=…` with a prefix).
    #[default]
    Hex,
    /// Standard base64 with padding (Frappe / ERPNext).
    Base64,
}

/// Placeholder of the body in [`WebhookConfig::signed_content`].
pub const BODY: &str = "{body}";
/// Placeholder of the timestamp in [`WebhookConfig::signed_content`].
pub const TIMESTAMP: &str = "{timestamp}";

fn default_signed_content() -> String {
    BODY.to_string()
}
fn default_tolerance() -> u64 {
    300
}
fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}

impl WebhookConfig {
    /// Every problem of the table, with paths from the top of the file. The secret's
    /// reference is checked (and expanded) by the loader; an empty value is refused here.
    pub fn validate(&self, streams: &[StreamConfig]) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad =
            |field: &str, msg: String| out.push(Problem::new(format!("webhook.{field}"), msg));
        if self.secret.is_empty() {
            bad("secret", "the secret is empty".into());
        }
        let headers = [
            ("signature_header", Some(&self.signature_header)),
            ("timestamp_header", self.timestamp_header.as_ref()),
            ("event_id_header", self.event_id_header.as_ref()),
        ];
        for (field, name) in headers {
            if let Some(name) = name
                && HeaderName::from_bytes(name.as_bytes()).is_err()
            {
                bad(field, format!("`{name}` is not a valid HTTP header name"));
            }
        }
        if self.signed_content.matches(BODY).count() != 1 {
            bad(
                "signed_content",
                format!("must hold `{BODY}` exactly once, e.g. \"{TIMESTAMP}.{BODY}\""),
            );
        }
        if self.signed_content.contains(TIMESTAMP) && self.timestamp_header.is_none() {
            bad(
                "signed_content",
                format!("uses `{TIMESTAMP}`: set `timestamp_header` too"),
            );
        }
        if self.timestamp_header.is_some() && self.tolerance_seconds == 0 {
            bad("tolerance_seconds", "must be at least 1".into());
        }
        if self.max_body_bytes == 0 {
            bad("max_body_bytes", "must be at least 1".into());
        }
        if self.event_id_header.is_some() && self.event_id_field.is_some() {
            bad(
                "event_id_field",
                "set `event_id_header` or `event_id_field`, not both".into(),
            );
        }
        match (&self.stream, &self.route) {
            (Some(_), Some(_)) => bad("route", "set `stream` or `route`, not both".into()),
            (None, None) => bad(
                "stream",
                "name the stream whose mapping events take (`stream`), or a `route`".into(),
            ),
            (None, Some(route)) if route.streams.is_empty() => {
                bad(
                    "route.streams",
                    "route at least one value to a stream".into(),
                );
            }
            _ => {}
        }
        let named = self
            .stream
            .iter()
            .map(|s| ("webhook.stream".to_string(), s));
        let routed = self.route.iter().flat_map(|r| {
            r.streams
                .iter()
                .map(|(value, s)| (format!("webhook.route.streams.{value}"), s))
        });
        for (field, stream) in named.chain(routed) {
            if !streams.iter().any(|c| &c.name == stream) {
                out.push(Problem::new(
                    field,
                    format!("no stream named `{stream}` in [[streams]]"),
                ));
            }
        }
        out
    }
}
