//! Authentication of an `http` connector: bearer token, basic, or an API key in a header or a
//! query parameter. Secret values arrive already expanded from `${VAR}` references; this type
//! has no `Debug` so they cannot end up in a log line by accident.

use reqwest::RequestBuilder;
use reqwest::header::{HeaderName, HeaderValue};

use crate::connector::config::HttpAuth;

/// Header an API key goes in when the connector file names none.
const DEFAULT_KEY_HEADER: &str = "X-API-Key";

/// Ready-to-apply credentials.
pub(super) enum Auth {
    /// No authentication.
    None,
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// HTTP basic.
    Basic { username: String, password: String },
    /// A key in a header.
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
    /// A key in a query parameter.
    Query { param: String, key: String },
}

impl Auth {
    /// Checks the configured credentials once, when the stream opens.
    pub fn new(config: Option<&HttpAuth>) -> Result<Self, String> {
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
                    return Err("http.auth: set either `header` or `query_param`, not both".into());
                }
                (_, Some(param)) => Auth::Query {
                    param: param.clone(),
                    key: key.clone(),
                },
                (header, None) => {
                    let name = header.as_deref().unwrap_or(DEFAULT_KEY_HEADER);
                    let name = HeaderName::try_from(name)
                        .map_err(|_| format!("http.auth.header: `{name}` is not a header name"))?;
                    let mut value = HeaderValue::try_from(key.as_str()).map_err(|_| {
                        "http.auth.key: the key holds characters a header cannot carry".to_string()
                    })?;
                    value.set_sensitive(true);
                    Auth::Header { name, value }
                }
            },
        })
    }

    /// Adds the credentials to a request (query-parameter keys are added to the URL by
    /// [`Auth::query_pair`] instead).
    pub fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None | Auth::Query { .. } => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { username, password } => request.basic_auth(username, Some(password)),
            Auth::Header { name, value } => request.header(name.clone(), value.clone()),
        }
    }

    /// The query parameter carrying the key, if the key goes in the URL.
    pub fn query_pair(&self) -> Option<(&str, &str)> {
        match self {
            Auth::Query { param, key } => Some((param, key)),
            _ => None,
        }
    }
}
