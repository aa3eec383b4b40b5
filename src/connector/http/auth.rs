//! Authentication of an `http` connector: bearer token, basic, an API key in a header or a
//! query parameter, Frappe `token key:secret`, or OAuth 2.0 client credentials. Secret values
//! arrive already expanded from `${VAR}` references; these types have no `Debug` so they cannot
//! end up in a log line by accident.
//!
//! OAuth tokens are cached per process, keyed by a hash of the token URL, client ID, secret and
//! scope (so every stream of a connector shares one token, and a changed secret never reuses an
//! old token). A token is used until [`EXPIRY_MARGIN`] before its `expires_in`.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use reqwest::RequestBuilder;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::config::HttpAuth;
use crate::connector::spec::{Problem, unresolved};

/// Header an API key goes in when the connector file names none.
const DEFAULT_KEY_HEADER: &str = "X-API-Key";
/// A token is renewed this long before the provider says it expires.
pub(super) const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Lifetime assumed when a token answer has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// Checks credentials as [`Auth::new`] does, once their `${VAR}` references are resolved.
pub(super) fn check(config: &HttpAuth) -> Result<(), Problem> {
    let waiting = match config {
        HttpAuth::Oauth2ClientCredentials { token_url, .. } => unresolved(token_url),
        _ => false,
    };
    if waiting {
        return Ok(());
    }
    Auth::new(Some(config)).map(|_| ())
}

/// Ready-to-apply credentials.
pub(super) enum Auth {
    /// No authentication.
    None,
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// HTTP basic.
    Basic { username: String, password: String },
    /// A key in a header (also Frappe's `Authorization: token key:secret`).
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    /// A key in a query parameter.
    Query { param: String, key: String },
    /// OAuth 2.0 client credentials.
    OAuth(OAuth),
}

impl Auth {
    /// Checks the configured credentials once, when the stream opens; problems are relative
    /// to the `auth` table.
    pub(super) fn new(config: Option<&HttpAuth>) -> Result<Self, Problem> {
        Ok(match config {
            None => Auth::None,
            Some(HttpAuth::Bearer { token }) => Auth::Bearer(token.clone()),
            Some(HttpAuth::Basic { username, password }) => Auth::Basic {
                username: username.clone(),
                password: password.clone(),
            },
            Some(HttpAuth::ApiKey {
                key,
                header,
                query_param,
            }) => match (header, query_param) {
                (Some(_), Some(_)) => {
                    return Err(Problem::new(
                        "query_param",
                        "set either `header` or `query_param`, not both",
                    ));
                }
                (_, Some(param)) => Auth::Query {
                    param: param.clone(),
                    key: key.clone(),
                },
                (header, None) => {
                    let name = header.as_deref().unwrap_or(DEFAULT_KEY_HEADER);
                    let name = HeaderName::try_from(name).map_err(|_| {
                        Problem::new("header", format!("`{name}` is not a header name"))
                    })?;
                    Auth::Header {
                        name,
                        value: sensitive(key, "key")?,
                    }
                }
            },
            Some(HttpAuth::Token { key, secret }) => Auth::Header {
                name: AUTHORIZATION,
                value: sensitive(&format!("token {key}:{secret}"), "secret")?,
            },
            Some(HttpAuth::Oauth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
            }) => {
                let url = Url::parse(token_url).map_err(|e| {
                    Problem::new(
                        "token_url",
                        format!("`{token_url}` is not a valid URL: {e}"),
                    )
                })?;
                let mut hash = Sha256::new();
                for part in [
                    token_url.as_str(),
                    client_id,
                    client_secret,
                    scope.as_deref().unwrap_or(""),
                ] {
                    hash.update(part.as_bytes());
                    hash.update([0]);
                }
                Auth::OAuth(OAuth {
                    token_url: url,
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    scope: scope.clone(),
                    key: hash.finalize().into(),
                })
            }
        })
    }

    /// Adds the credentials to a request (query-parameter keys are added to the URL by
    /// [`Auth::query_pair`] instead; OAuth tokens are passed in as `token`).
    pub(super) fn apply(&self, request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
        match self {
            Auth::None | Auth::Query { .. } => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Header { name, value } => request.header(name.clone(), value.clone()),
            Auth::OAuth(_) => match token {
                Some(t) => request.bearer_auth(t),
                None => request,
            },
        }
    }

    /// The query parameter carrying the key, if the key goes in the URL.
    pub(super) fn query_pair(&self) -> Option<(&str, &str)> {
        match self {
            Auth::Query { param, key } => Some((param, key)),
            _ => None,
        }
    }
}

fn sensitive(text: &str, field: &str) -> Result<HeaderValue, Problem> {
    let mut value = HeaderValue::try_from(text).map_err(|_| {
        Problem::new(
            field,
            "the credentials hold characters a header cannot carry",
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// An access token and when to stop using it.
#[derive(Clone)]
struct Token {
    access: String,
    renew_at: Instant,
}

static TOKENS: LazyLock<Mutex<HashMap<[u8; 32], Token>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// OAuth 2.0 client-credentials settings of one connector.
pub(super) struct OAuth {
    token_url: Url,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    /// Cache key.
    key: [u8; 32],
}

impl OAuth {
    /// The cached token, if it is still good.
    pub(super) fn cached(&self) -> Option<String> {
        let tokens = TOKENS.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(&self.key)
            .filter(|t| Instant::now() < t.renew_at)
            .map(|t| t.access.clone())
    }

    /// Drops the cached token (the server refused it).
    pub(super) fn forget(&self) {
        TOKENS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.key);
    }

    /// The token endpoint, for messages.
    pub(super) fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// Requests a new token and caches it. The error is the reason to report.
    pub(super) async fn fetch(&self, http: &reqwest::Client) -> Result<String, String> {
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            form.append_pair("client_id", &self.client_id);
            form.append_pair("client_secret", &self.client_secret);
            if let Some(scope) = &self.scope {
                form.append_pair("scope", scope);
            }
            form.finish()
        };
        tracing::debug!(url = %self.token_url, "requesting an OAuth token");
        let response = http
            .post(self.token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|e| format!("token endpoint {}: {e}", self.token_url))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("token endpoint {}: {e}", self.token_url))?;
        if !status.is_success() {
            return Err(format!(
                "token endpoint {} answered status {status}: {}",
                self.token_url,
                super::client::excerpt(&body)
            ));
        }
        let json: Value = serde_json::from_slice(&body).map_err(|e| {
            format!(
                "token endpoint {}: the answer is not JSON ({e})",
                self.token_url
            )
        })?;
        let access = json
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                format!(
                    "token endpoint {}: no `access_token` in the answer",
                    self.token_url
                )
            })?
            .to_string();
        let lifetime = match json.get("expires_in") {
            Some(Value::Number(n)) => n.as_u64().map(Duration::from_secs),
            Some(Value::String(s)) => s.trim().parse().ok().map(Duration::from_secs),
            _ => None,
        }
        .unwrap_or(DEFAULT_LIFETIME);
        let renew_at = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        TOKENS.lock().unwrap_or_else(|e| e.into_inner()).insert(
            self.key,
            Token {
                access: access.clone(),
                renew_at,
            },
        );
        Ok(access)
    }
}
