//! What a webhook body says: the stream its records go to, the records, and its idempotency key.
//! Read once when the event is accepted (so a body without them is refused with 400) and again
//! when it is processed.

use http::HeaderMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::connector::value_at_path;
use crate::connector::webhook::WebhookConfig;

/// Longest idempotency key accepted.
const MAX_KEY_CHARS: usize = 512;

/// The stream whose mapping the event's records take.
pub(super) fn stream_of(config: &WebhookConfig, body: &Value) -> Result<String, String> {
    if let Some(stream) = &config.stream {
        return Ok(stream.clone());
    }
    let Some(route) = &config.route else {
        return Err("the connector routes no events".into());
    };
    let value = value_at_path(body, &route.field)
        .and_then(scalar)
        .ok_or_else(|| format!("no `{}` to route the event by", route.field))?;
    route.streams.get(&value).cloned().ok_or_else(|| {
        let known: Vec<&str> = route.streams.keys().map(String::as_str).collect();
        format!(
            "`{}` = `{value}` is not routed to a stream (routed: {})",
            route.field,
            known.join(", ")
        )
    })
}

/// The records of the event: the object at `records`, or each object of the array there.
pub(super) fn records_of(config: &WebhookConfig, body: &Value) -> Result<Vec<Value>, String> {
    let at = if config.records.trim().is_empty() {
        "the body".to_string()
    } else {
        format!("`{}`", config.records)
    };
    match value_at_path(body, &config.records) {
        Some(record @ Value::Object(_)) => Ok(vec![record.clone()]),
        Some(Value::Array(items)) => {
            if let Some(i) = items.iter().position(|v| !v.is_object()) {
                return Err(format!("record {} at {at} is not a JSON object", i + 1));
            }
            Ok(items.clone())
        }
        Some(_) => Err(format!(
            "{at} is neither a record (object) nor a list of them"
        )),
        None => Err(format!("no {at} in the body")),
    }
}

/// The event's idempotency key: its event ID from the configured header or field, or else
/// `sha256:<hex>` of the body.
pub(super) fn idempotency_key(
    config: &WebhookConfig,
    headers: &HeaderMap,
    body: &Value,
    raw: &[u8],
) -> Result<String, String> {
    let key = if let Some(name) = &config.event_id_header {
        header_text(headers, name).ok_or_else(|| format!("no `{name}` header (the event ID)"))?
    } else if let Some(path) = &config.event_id_field {
        value_at_path(body, path)
            .and_then(scalar)
            .ok_or_else(|| format!("no event ID at `{path}` in the body"))?
    } else {
        return Ok(format!("sha256:{}", hex::encode(Sha256::digest(raw))));
    };
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(format!(
            "the event ID must have 1 to {MAX_KEY_CHARS} characters"
        ));
    }
    Ok(key)
}

/// A header's value as trimmed visible text; `None` when absent, empty or not text.
pub(super) fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// A string or number as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(extra: &str) -> WebhookConfig {
        toml::from_str(&format!(
            "secret = \"${{S}}\"\nsignature_header = \"X-Sig\"\n{extra}"
        ))
        .unwrap()
    }

    #[test]
    fn routes_by_a_body_field() {
        let c = config("route = { field = \"doctype\", streams = { Customer = \"customers\" } }");
        assert_eq!(
            stream_of(&c, &json!({"doctype": "Customer"})).unwrap(),
            "customers"
        );
        let err = stream_of(&c, &json!({"doctype": "Item"})).unwrap_err();
        assert!(err.contains("`Item` is not routed"), "{err}");
        assert!(stream_of(&c, &json!({})).is_err());
    }

    #[test]
    fn records_are_the_body_an_object_or_an_array_of_objects() {
        let body = json!({"data": [{"a": 1}, {"a": 2}], "one": {"b": 1}, "bad": [1]});
        assert_eq!(records_of(&config(""), &body).unwrap(), vec![body.clone()]);
        assert_eq!(
            records_of(&config("records = \"data\""), &body)
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            records_of(&config("records = \"one\""), &body)
                .unwrap()
                .len(),
            1
        );
        assert!(records_of(&config("records = \"bad\""), &body).is_err());
        assert!(records_of(&config("records = \"missing\""), &body).is_err());
    }

    #[test]
    fn keys_come_from_a_header_a_field_or_the_body_hash() {
        let mut headers = HeaderMap::new();
        headers.insert("x-event-id", "evt_1".parse().unwrap());
        let body = json!({"id": 42});
        let by_header = config("event_id_header = \"X-Event-Id\"");
        assert_eq!(
            idempotency_key(&by_header, &headers, &body, b"{}").unwrap(),
            "evt_1"
        );
        assert!(idempotency_key(&by_header, &HeaderMap::new(), &body, b"{}").is_err());
        let by_field = config("event_id_field = \"id\"");
        assert_eq!(
            idempotency_key(&by_field, &headers, &body, b"{}").unwrap(),
            "42"
        );
        let hashed = idempotency_key(&config(""), &headers, &body, b"{}").unwrap();
        assert_eq!(
            hashed,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
