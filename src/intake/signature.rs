//! HMAC-SHA256 signatures of webhook bodies, and the sender's timestamp.
//!
//! The signed content is `signed_content` with `{timestamp}` replaced by the timestamp header's
//! text and `{body}` by the raw body, fed to the MAC in pieces (the body is never copied). The
//! comparison is constant-time: the header's signature is decoded to bytes and checked by
//! [`Mac::verify_slice`].

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::connector::webhook::{BODY, SignatureEncoding, TIMESTAMP, WebhookConfig};

type HmacSha256 = Hmac<Sha256>;

/// The MAC over the signed content of `body`.
fn mac(config: &WebhookConfig, secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    // Any key length is accepted by HMAC; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    let (before, after) = config.signed_content.split_once(BODY).unwrap_or(("", ""));
    mac.update(before.replace(TIMESTAMP, timestamp).as_bytes());
    mac.update(body);
    mac.update(after.replace(TIMESTAMP, timestamp).as_bytes());
    mac
}

/// Checks the signature header's value. `Err` says what is wrong, without revealing the
/// expected signature.
pub fn verify(
    config: &WebhookConfig,
    secret: &[u8],
    header: &str,
    timestamp: &str,
    body: &[u8],
) -> Result<(), String> {
    let header = header.trim();
    let Some(encoded) = header.strip_prefix(config.signature_prefix.as_str()) else {
        return Err(format!(
            "the signature does not start with `{}`",
            config.signature_prefix
        ));
    };
    let given = match config.signature_encoding {
        SignatureEncoding::Hex => hex::decode(encoded.trim()).map_err(|_| "not hex")?,
        SignatureEncoding::Base64 => STANDARD.decode(encoded.trim()).map_err(|_| "not base64")?,
    };
    mac(config, secret, timestamp, body)
        .verify_slice(&given)
        .map_err(|_| "the signature does not match the body".to_string())
}

/// The signature header's value for `body`, as a sender following `config` writes it (for
/// tests, and for anyone writing a sender).
pub fn sign(config: &WebhookConfig, secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(config, secret, timestamp, body).finalize().into_bytes();
    let encoded = match config.signature_encoding {
        SignatureEncoding::Hex => hex::encode(tag),
        SignatureEncoding::Base64 => STANDARD.encode(tag),
    };
    format!("{}{encoded}", config.signature_prefix)
}

/// Reads a timestamp header: Unix seconds, or RFC 3339.
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    match text.parse::<i64>() {
        Ok(secs) => DateTime::from_timestamp(secs, 0),
        Err(_) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml_text: &str) -> WebhookConfig {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn hex_with_prefix_and_timestamp_round_trips_and_rejects_tampering() {
        let c = config(
            r#"secret = "${S}"
               signature_header = "X-Sig"
               signature_prefix = "sha256="
               timestamp_header = "X-Ts"
               signed_content = "{timestamp}.{body}""#,
        );
        let sig = sign(&c, b"key", "1700000000", b"{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64, "{sig}");
        assert_eq!(verify(&c, b"key", &sig, "1700000000", b"{\"a\":1}"), Ok(()));
        assert_eq!(
            verify(
                &c,
                b"key",
                &sig.to_uppercase().replace("SHA256=", "sha256="),
                "1700000000",
                b"{\"a\":1}"
            ),
            Ok(()),
            "hex is case-insensitive"
        );
        assert!(verify(&c, b"key", &sig, "1700000001", b"{\"a\":1}").is_err());
        assert!(verify(&c, b"key", &sig, "1700000000", b"{\"a\":2}").is_err());
        assert!(verify(&c, b"other", &sig, "1700000000", b"{\"a\":1}").is_err());
        let bare = sig.trim_start_matches("sha256=");
        assert!(
            verify(&c, b"key", bare, "1700000000", b"{\"a\":1}")
                .unwrap_err()
                .contains("sha256=")
        );
    }

    #[test]
    fn base64_matches_a_known_frappe_signature() {
        // base64(HMAC-SHA256("secret", "{}")) as Python's hmac + base64 modules compute it.
        let c = config(
            r#"secret = "${S}"
               signature_header = "X-Frappe-Webhook-Signature"
               signature_encoding = "base64""#,
        );
        let expected = "dzJZAsrKgS3CWXM6rNBGtzgXNyx3e42VtAJkdHRRbhM=";
        assert_eq!(sign(&c, b"secret", "", b"{}"), expected);
        assert_eq!(verify(&c, b"secret", expected, "", b"{}"), Ok(()));
        assert!(verify(&c, b"secret", "not base64!", "", b"{}").is_err());
    }

    #[test]
    fn timestamps_are_unix_seconds_or_rfc3339() {
        let t = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert_eq!(parse_timestamp(" 1700000000 "), Some(t));
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z"), Some(t));
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
