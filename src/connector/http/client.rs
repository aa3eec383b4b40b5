//! Sending one request (a GET, a POST of a templated body, or a JSON POST for JSON-RPC) and
//! reading its JSON or XML answer, with retries.
//!
//! Retried: transport errors (connection refused or reset, timeouts) and the statuses that say
//! "try again later" — 429, 502, 503, 504 — up to `max_retries` times, waiting
//! `retry_backoff_ms × 2^attempt` or what `Retry-After` asks (seconds or an HTTP date, capped at
//! 60 s). Not retried: 500 and every other 4xx/5xx, which fail the stream at once with the
//! status and the start of the body (or the SOAP fault it carries), except 401 and 403: credentials rejected, reported as
//! [`ConnectorError::Auth`] and never retried — but with OAuth a 401 first drops the cached
//! token, fetches a new one and tries once more (and [`Client::post_json`] hands a 401 back to
//! its caller as [`Sent::Unauthorized`]). [`Client::get_json_if_found`] answers a 404 with
//! `None` (a linked document that does not exist).
//!
//! With `rate_limit`, every attempt (retries and token requests included) first waits for the
//! connector's limiter.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use url::Url;

use super::auth::Auth;
use super::config::{HttpOptions, RateLimit};
use super::xml::{XmlBodies, soap_fault};
use crate::connector::ConnectorError;
use crate::connector::spec::Problem;

/// Longest wait a `Retry-After` header can impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Longest backoff between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Characters of a response body quoted in an error.
const EXCERPT_CHARS: usize = 300;

/// A decoded answer.
pub(crate) struct Response {
    /// The URL as shown in logs and errors (without an API key).
    pub url: String,
    /// The URL requested, to resolve relative links against.
    pub request_url: Url,
    /// Response headers.
    pub headers: HeaderMap,
    /// The JSON body.
    pub body: Value,
}

/// Headers as sent; the problem names the header (relative to the table of headers).
pub(super) fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, Problem> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::try_from(name.as_str())
            .map_err(|_| Problem::new(name.as_str(), format!("`{name}` is not a header name")))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| Problem::new(name.as_str(), "the value is not a valid header"))?;
        map.insert(header, value);
    }
    Ok(map)
}

/// Every problem of a table of headers, under `prefix`.
pub(super) fn header_problems(headers: &BTreeMap<String, String>, prefix: &str) -> Vec<Problem> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            header_map(&BTreeMap::from([(k.clone(), v.clone())]))
                .err()
                .map(|p| p.under(prefix))
        })
        .collect()
}

/// The quota of a rate limit; problems are relative to the `rate_limit` table.
pub(super) fn quota(limit: &RateLimit) -> Result<Quota, Problem> {
    let requests =
        NonZeroU32::new(limit.requests).ok_or(Problem::new("requests", "must be at least 1"))?;
    if limit.per_secs == 0 {
        return Err(Problem::new("per_secs", "must be at least 1"));
    }
    let period = Duration::from_secs(limit.per_secs) / limit.requests;
    Ok(Quota::with_period(period)
        .ok_or(Problem::new("per_secs", "the window is too short"))?
        .allow_burst(requests))
}

/// An HTTP client bound to one connector's headers, credentials and retry policy.
pub(crate) struct Client {
    http: reqwest::Client,
    headers: HeaderMap,
    auth: Auth,
    max_retries: u32,
    backoff: Duration,
    limiter: Option<DefaultDirectRateLimiter>,
    /// Connector name, for authentication errors.
    connector: String,
}

impl Client {
    /// Builds the client. Installs the ring TLS provider as the process default when none is
    /// installed yet (the binary does so in `main`; tests and library users may not). Problems
    /// are relative to the `[http]` table.
    pub(crate) fn new(options: &HttpOptions) -> Result<Self, Problem> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another thread installing one is fine.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let headers = header_map(&options.headers).map_err(|p| p.under("headers"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(options.timeout_secs.max(1)))
            .user_agent(concat!("tributary/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Problem::new("", format!("cannot build the HTTP client: {e}")))?;
        let limiter = match &options.rate_limit {
            None => None,
            Some(limit) => Some(RateLimiter::direct(
                quota(limit).map_err(|p| p.under("rate_limit"))?,
            )),
        };
        Ok(Client {
            http,
            headers,
            auth: Auth::new(options.auth.as_ref()).map_err(|p| p.under("auth"))?,
            max_retries: options.max_retries,
            backoff: Duration::from_millis(options.retry_backoff_ms),
            limiter,
            connector: String::new(),
        })
    }

    /// Names the connector in authentication errors.
    pub(crate) fn named(mut self, connector: &str) -> Self {
        self.connector = connector.to_string();
        self
    }

    async fn throttle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
    }

    fn auth_error(&self, reason: String) -> ConnectorError {
        ConnectorError::Auth {
            connector: self.connector.clone(),
            reason,
        }
    }

    /// The OAuth token to send, fetched when none is cached; `None` for other schemes.
    async fn token(&self) -> Result<Option<String>, ConnectorError> {
        let Auth::OAuth(oauth) = &self.auth else {
            return Ok(None);
        };
        if let Some(token) = oauth.cached() {
            return Ok(Some(token));
        }
        self.throttle().await;
        oauth
            .fetch(&self.http)
            .await
            .map(Some)
            .map_err(|reason| self.auth_error(reason))
    }

    /// GETs `url` with `query` added, retrying as described in the module doc.
    pub(crate) async fn get_json(
        &self,
        url: &Url,
        query: &[(String, String)],
    ) -> Result<Response, ConnectorError> {
        self.fetch(url, query, None, &Decode::Json).await
    }

    /// GETs `url` like [`Client::get_json`], but a 404 answer is `Ok(None)` (the document does
    /// not exist) instead of an error; it is not retried.
    pub(crate) async fn get_json_if_found(
        &self,
        url: &Url,
    ) -> Result<Option<Response>, ConnectorError> {
        let request = || self.http.get(url.clone());
        match self
            .send_passing(url, request, StatusCode::NOT_FOUND)
            .await?
        {
            Outcome::Json(response) => Ok(Some(*response)),
            Outcome::Passed(_) => Ok(None),
        }
    }

    /// GETs `url` with `query` added — or POSTs `body` (`(content type, text)`) there with the
    /// stream's `headers` — and decodes the answer as `decode` says, retrying as described in
    /// the module doc.
    pub(crate) async fn fetch(
        &self,
        url: &Url,
        query: &[(String, String)],
        body: Option<(&HeaderMap, &str, String)>,
        decode: &Decode<'_>,
    ) -> Result<Response, ConnectorError> {
        let mut shown = url.clone();
        if !query.is_empty() {
            let mut pairs = shown.query_pairs_mut();
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        let mut actual = shown.clone();
        if let Some((param, key)) = self.auth.query_pair() {
            actual.query_pairs_mut().append_pair(param, key);
        }
        let request = || match &body {
            None => self.http.get(actual.clone()),
            Some((headers, content_type, text)) => self
                .http
                .post(actual.clone())
                .headers((*headers).clone())
                .header(CONTENT_TYPE, *content_type)
                .body(text.clone()),
        };
        match self
            .send(shown.to_string(), actual.clone(), request, None, decode)
            .await?
        {
            Outcome::Json(response) => Ok(*response),
            Outcome::Passed(_) => unreachable!("no status is passed through here"),
        }
    }

    /// POSTs a JSON `body` to `url` with `headers` added (JSON-RPC calls), retrying like
    /// [`Client::get_json`]. A 401 answer is returned as [`Sent::Unauthorized`] so the caller
    /// can report refused credentials as such; it is never retried.
    pub(crate) async fn post_json(
        &self,
        url: &Url,
        headers: &HeaderMap,
        body: &Value,
    ) -> Result<Sent, ConnectorError> {
        let request = || {
            self.http
                .post(url.clone())
                .headers(headers.clone())
                .json(body)
        };
        Ok(
            match self
                .send_passing(url, request, StatusCode::UNAUTHORIZED)
                .await?
            {
                Outcome::Json(response) => Sent::Json(response),
                Outcome::Passed(detail) => Sent::Unauthorized(detail),
            },
        )
    }

    /// Sends a JSON request to `url` (no API key in its query) that hands an answer with the
    /// status `passed` back instead of failing on it.
    async fn send_passing(
        &self,
        url: &Url,
        make: impl Fn() -> reqwest::RequestBuilder,
        passed: StatusCode,
    ) -> Result<Outcome, ConnectorError> {
        self.send(
            url.to_string(),
            url.clone(),
            make,
            Some(passed),
            &Decode::Json,
        )
        .await
    }

    /// Sends the request `make` builds until it succeeds, fails for good or runs out of
    /// retries; `shown` is the URL for logs and errors (without an API key). An answer with the
    /// status `passed` is handed back as [`Outcome::Passed`], never retried.
    async fn send(
        &self,
        shown: String,
        actual: Url,
        make: impl Fn() -> reqwest::RequestBuilder,
        passed: Option<StatusCode>,
        decode: &Decode<'_>,
    ) -> Result<Outcome, ConnectorError> {
        let mut attempt: u32 = 0;
        let mut renewed = false;
        loop {
            let token = self.token().await?;
            self.throttle().await;
            tracing::debug!(url = %shown, attempt, "request");
            let request = self
                .auth
                .apply(make().headers(self.headers.clone()), token.as_deref());
            let (error, retry_after) = match request.send().await {
                Err(e) if e.is_builder() => {
                    return Err(http_error(&shown, error_chain(&e)));
                }
                Err(e) => (http_error(&shown, error_chain(&e)), None),
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    match response.bytes().await {
                        Err(e) => (http_error(&shown, error_chain(&e)), None),
                        Ok(body) if passed == Some(status) => {
                            return Ok(Outcome::Passed(format!(
                                "{shown}: status {status}: {}",
                                excerpt(&body)
                            )));
                        }
                        Ok(body) if status.is_success() => {
                            let body = decode.success(&body).map_err(|reason| {
                                ConnectorError::Response {
                                    url: shown.clone(),
                                    reason,
                                }
                            })?;
                            return Ok(Outcome::Json(Box::new(Response {
                                url: shown,
                                request_url: actual,
                                headers,
                                body,
                            })));
                        }
                        Ok(body)
                            if status == StatusCode::UNAUTHORIZED
                                && !renewed
                                && let Auth::OAuth(oauth) = &self.auth =>
                        {
                            tracing::info!(url = %shown, token_url = %oauth.token_url(), "token refused; requesting a new one");
                            let _ = body;
                            oauth.forget();
                            renewed = true;
                            continue;
                        }
                        Ok(body)
                            if status == StatusCode::UNAUTHORIZED
                                || status == StatusCode::FORBIDDEN =>
                        {
                            return Err(self.auth_error(format!(
                                "{shown}: status {status}: {}",
                                excerpt(&body)
                            )));
                        }
                        Ok(body) => {
                            let detail = decode.fault(&body).unwrap_or_else(|| excerpt(&body));
                            let error = http_error(&shown, format!("status {status}: {detail}"));
                            if !retryable(status) {
                                return Err(error);
                            }
                            (error, retry_after(&headers))
                        }
                    }
                }
            };
            if attempt >= self.max_retries {
                return Err(error);
            }
            let delay = retry_after
                .unwrap_or_else(|| jitter(backoff(self.backoff, attempt), fastrand::f64()));
            tracing::warn!(url = %shown, attempt = attempt + 1, max_retries = self.max_retries, delay_ms = delay.as_millis() as u64, error = %error, "retrying request");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// How a response body is read.
pub(crate) enum Decode<'a> {
    /// JSON.
    Json,
    /// XML, converted to JSON; a SOAP fault is an error.
    Xml(&'a XmlBodies),
}

impl Decode<'_> {
    /// The body of a successful answer, or why it cannot be used.
    fn success(&self, body: &[u8]) -> Result<Value, String> {
        match self {
            Decode::Json => serde_json::from_slice(body)
                .map_err(|e| format!("the body is not JSON ({e}): {}", excerpt(body))),
            Decode::Xml(bodies) => {
                let doc = bodies
                    .document(body)
                    .map_err(|e| format!("the body is not usable XML ({e}): {}", excerpt(body)))?;
                match soap_fault(&doc) {
                    Some(fault) => Err(fault),
                    None => Ok(doc),
                }
            }
        }
    }

    /// The SOAP fault an error answer carries, if any.
    fn fault(&self, body: &[u8]) -> Option<String> {
        match self {
            Decode::Json => None,
            Decode::Xml(bodies) => soap_fault(&bodies.document(body).ok()?),
        }
    }
}

/// What a request brought back.
pub(crate) enum Sent {
    /// A successful answer with a JSON body.
    Json(Box<Response>),
    /// HTTP 401 (only from [`Client::post_json`]): the URL, status and start of the body.
    Unauthorized(String),
}

/// What [`Client::send`] brought back.
enum Outcome {
    /// A successful answer.
    Json(Box<Response>),
    /// An answer with the status the caller asked for: the URL, status and start of the body.
    Passed(String),
}

fn http_error(url: &str, reason: String) -> ConnectorError {
    ConnectorError::Http {
        url: url.to_string(),
        reason,
    }
}

/// Statuses worth retrying: the server asks to slow down or a gateway is briefly unavailable.
fn retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// `base × 2^attempt`, capped.
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
        .min(MAX_BACKOFF)
}

/// Spreads retries of many clients apart: `delay` scaled into [50 %, 100 %] by `random` in [0, 1).
fn jitter(delay: Duration, random: f64) -> Duration {
    delay.mul_f64(0.5 + random.clamp(0.0, 1.0) * 0.5)
}

/// The wait a `Retry-After` header asks for, in seconds or as an HTTP date, capped.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let wait = match text.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => {
            let at = chrono::DateTime::parse_from_rfc2822(text).ok()?;
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The start of a body, on one line, for error messages.
pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty body)".into();
    }
    match flat.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

/// An error with its causes, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let base = Duration::from_millis(500);
        assert_eq!(backoff(base, 0), Duration::from_millis(500));
        assert_eq!(backoff(base, 2), Duration::from_secs(2));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
    }

    #[test]
    fn jitter_keeps_the_delay_between_half_and_all_of_the_backoff() {
        let d = Duration::from_secs(2);
        assert_eq!(jitter(d, 0.0), Duration::from_secs(1));
        assert_eq!(jitter(d, 0.5), Duration::from_millis(1500));
        assert!(jitter(d, 0.999_999) <= d);
        assert_eq!(jitter(d, 7.0), d, "out-of-range randomness is clamped");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date_is_capped() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(retry_after(&h), Some(MAX_RETRY_AFTER));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(
            retry_after(&h),
            Some(Duration::ZERO),
            "a past date: no wait"
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn excerpts_are_flat_and_short() {
        assert_eq!(excerpt(b"  {\"error\":\n \"x\"} "), "{\"error\": \"x\"}");
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt("é".repeat(400).as_bytes()).chars().count(), 301);
    }
}
