//! [`accept`]: one webhook request checked and written to the inbox.

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::{Map, Value};

use super::WebhookError;
use super::event::{header_text, idempotency_key, records_of, stream_of};
use super::signature::{parse_timestamp, verify};
use crate::config::{ConnectorFile, Project};
use crate::connector::webhook::{DEFAULT_MAX_BODY_BYTES, WebhookConfig};
use crate::store::{InboxId, NewEvent, Store};

/// A request written to the inbox (or found there already); serializes as the answer's body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    /// The inbox row holding the event.
    pub inbox_id: InboxId,
    /// True when an event with the same idempotency key was stored before: nothing was written
    /// and it will not be processed again.
    pub duplicate: bool,
    /// The stream its records go to.
    pub stream: String,
    /// The idempotency key it was stored under.
    pub idempotency_key: String,
}

/// The connector receiving webhooks under `name`: it exists, is enabled, has a `[webhook]`
/// table and its secret is set.
fn receiver<'p>(
    project: &'p Project,
    name: &str,
) -> Option<(&'p ConnectorFile, &'p WebhookConfig)> {
    let connector = project.connectors.get(name)?;
    let config = connector.config.webhook.as_ref()?;
    (connector.config.enabled && connector.unresolved.is_empty()).then_some((connector, config))
}

/// The largest body `POST /webhooks/{name}` takes (the default 1 MiB for an unknown name).
pub fn body_limit(project: &Project, name: &str) -> usize {
    receiver(project, name).map_or(DEFAULT_MAX_BODY_BYTES, |(_, c)| c.max_body_bytes)
}

/// The largest body any connector takes: a limit for the whole route, applied before the body
/// is read (e.g. axum's `DefaultBodyLimit`); [`accept`] then applies each connector's own.
pub fn max_body_limit(project: &Project) -> usize {
    project
        .connectors
        .keys()
        .map(|name| body_limit(project, name))
        .max()
        .unwrap_or(DEFAULT_MAX_BODY_BYTES)
        .max(DEFAULT_MAX_BODY_BYTES)
}

/// Checks a webhook request for connector `name` and writes it to the inbox. Once this returns
/// `Ok`, the event is on disk: answer 2xx (202 suits, with `duplicate` in the body if useful)
/// and wake whatever runs [`super::process_inbox`]. On `Err`, nothing was stored: answer
/// [`WebhookError::status`].
///
/// `now` is the receiving time (the replay window is measured against it).
pub async fn accept(
    project: &Project,
    store: &Store,
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Accepted, WebhookError> {
    let target = receiver(project, name);
    let limit = target.map_or(DEFAULT_MAX_BODY_BYTES, |(_, c)| c.max_body_bytes);
    if body.len() > limit {
        return Err(WebhookError::TooLarge {
            size: body.len(),
            limit,
        });
    }
    let (connector, config) = target.ok_or_else(|| WebhookError::UnknownConnector(name.into()))?;

    let timestamp = match &config.timestamp_header {
        Some(h) => Some(
            header_text(headers, h)
                .ok_or_else(|| WebhookError::Replay(format!("no `{h}` header")))?,
        ),
        None => None,
    };
    let signature = header_text(headers, &config.signature_header).ok_or_else(|| {
        WebhookError::BadSignature(format!("no `{}` header", config.signature_header))
    })?;
    verify(
        config,
        config.secret.as_bytes(),
        &signature,
        timestamp.as_deref().unwrap_or(""),
        body,
    )
    .map_err(WebhookError::BadSignature)?;
    if let Some(text) = &timestamp {
        check_window(config, text, now)?;
    }

    let text = std::str::from_utf8(body)
        .map_err(|_| WebhookError::Malformed("the body is not UTF-8".into()))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| WebhookError::Malformed(format!("the body is not JSON: {e}")))?;
    let stream = stream_of(config, &value).map_err(WebhookError::Malformed)?;
    records_of(config, &value).map_err(WebhookError::Malformed)?;
    let key = idempotency_key(config, headers, &value, body).map_err(WebhookError::Malformed)?;

    let kept = kept_headers(config, headers);
    let (inbox_id, duplicate) = store
        .insert_event(NewEvent {
            connector: &connector.config.name,
            idempotency_key: &key,
            stream: &stream,
            received_at: now,
            body: text,
            headers: &kept,
        })
        .await?;
    tracing::info!(
        connector = %connector.config.name,
        inbox_id,
        duplicate,
        stream = %stream,
        "webhook event accepted"
    );
    Ok(Accepted {
        inbox_id,
        duplicate,
        stream,
        idempotency_key: key,
    })
}

/// Refuses a timestamp that is unreadable or further than `tolerance_seconds` from `now`.
fn check_window(
    config: &WebhookConfig,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let sent = parse_timestamp(text).ok_or_else(|| {
        WebhookError::Replay(format!(
            "timestamp `{text}` is neither Unix seconds nor RFC 3339"
        ))
    })?;
    let skew = (now - sent).num_seconds().unsigned_abs();
    if skew > config.tolerance_seconds {
        return Err(WebhookError::Replay(format!(
            "timestamp {sent} is {skew} s from now, more than the {} s allowed",
            config.tolerance_seconds
        )));
    }
    Ok(())
}

/// The headers kept with the event: those the configuration names, and the content type.
fn kept_headers(config: &WebhookConfig, headers: &HeaderMap) -> Value {
    let names = [
        Some(config.signature_header.as_str()),
        config.timestamp_header.as_deref(),
        config.event_id_header.as_deref(),
        Some("content-type"),
        Some("user-agent"),
    ];
    let mut kept = Map::new();
    for name in names.into_iter().flatten() {
        if let Some(value) = header_text(headers, name) {
            kept.insert(name.to_ascii_lowercase(), Value::String(value));
        }
    }
    Value::Object(kept)
}
