//! Pagination: which parameters (or which URL) the next request uses, and when to stop.
//!
//! - `page`: `page_param=N&size_param=S` from `start`; stops after a short or empty page.
//! - `offset`: `offset_param=N&limit_param=S` from 0; stops after a short or empty page.
//! - `cursor`: the token at `token_path` in each body (or at `token_field` in the page's last
//!   record) is sent back as `param`; stops when it is absent, null or empty (or, for a record
//!   token, after an empty or short page).
//! - `next_link`: the URL at `url_path` in the body, or else the `Link: <…>; rel="next"` header
//!   (relative URLs are resolved against the request); stops when there is none.
//!
//! A token or link that repeats the previous one is an error rather than an endless loop, and a
//! link to another scheme, host or port is an error rather than a leak of the credentials.

use reqwest::header::LINK;
use serde_json::Value;
use url::Url;

use super::client::Response;
use super::config::Pagination;
use crate::connector::ConnectorError;

/// What the next request looks like.
pub(super) enum NextRequest {
    /// The stream URL with these parameters added (after the fixed ones).
    Params(Vec<(String, String)>),
    /// This URL as it is (a next link).
    Url(Url),
}

impl Pagination {
    /// Names of the parameters this pagination sends.
    pub fn param_names(&self) -> Vec<String> {
        match self {
            Pagination::None | Pagination::NextLink { .. } => vec![],
            Pagination::Page {
                page_param,
                size_param,
                ..
            } => vec![page_param.clone(), size_param.clone()],
            Pagination::Offset {
                offset_param,
                limit_param,
                ..
            } => vec![offset_param.clone(), limit_param.clone()],
            Pagination::Cursor {
                param, size_param, ..
            } => std::iter::once(param.clone())
                .chain(size_param.clone())
                .collect(),
        }
    }
}

/// Pagination state of one stream read.
pub(super) struct Paginator {
    config: Pagination,
    /// Page number or offset of the next request.
    position: u64,
    /// Token or link of the next request (`None` before the first).
    token: Option<String>,
}

impl Paginator {
    /// Checks the settings.
    pub(super) fn new(config: &Pagination) -> Result<Self, String> {
        let position = match config {
            Pagination::Cursor {
                token_path,
                token_field,
                ..
            } if token_path.is_some() == token_field.is_some() => {
                return Err(
                    "cursor pagination needs exactly one of token_path (in the body) and token_field (in the last record)"
                        .into(),
                );
            }
            Pagination::Page { start, .. } => *start,
            _ => 0,
        };
        Ok(Paginator {
            config: config.clone(),
            position,
            token: None,
        })
    }

    /// The next request.
    pub(super) fn next_request(&self) -> Result<NextRequest, String> {
        Ok(match &self.config {
            Pagination::None => NextRequest::Params(vec![]),
            Pagination::Page {
                page_param,
                size_param,
                page_size: size,
                ..
            } => NextRequest::Params(vec![
                (page_param.clone(), self.position.to_string()),
                (size_param.clone(), size.to_string()),
            ]),
            Pagination::Offset {
                offset_param,
                limit_param,
                page_size: size,
            } => NextRequest::Params(vec![
                (offset_param.clone(), self.position.to_string()),
                (limit_param.clone(), size.to_string()),
            ]),
            Pagination::Cursor {
                param,
                size_param,
                page_size: size,
                ..
            } => {
                let mut params = vec![];
                if let (Some(p), Some(s)) = (size_param, size) {
                    params.push((p.clone(), s.to_string()));
                }
                if let Some(token) = &self.token {
                    params.push((param.clone(), token.clone()));
                }
                NextRequest::Params(params)
            }
            Pagination::NextLink { .. } => match &self.token {
                None => NextRequest::Params(vec![]),
                Some(link) => NextRequest::Url(
                    Url::parse(link).map_err(|e| format!("next link `{link}`: {e}"))?,
                ),
            },
        })
    }

    /// Takes in a response and its records; true when another page follows.
    pub(super) fn advance(
        &mut self,
        response: &Response,
        records: &[Value],
    ) -> Result<bool, ConnectorError> {
        let count = records.len() as u64;
        let bad = |reason: String| ConnectorError::Response {
            url: response.url.clone(),
            reason,
        };
        match &self.config {
            Pagination::None => Ok(false),
            Pagination::Page {
                page_size: size, ..
            } => {
                self.position += 1;
                Ok(count >= *size)
            }
            Pagination::Offset {
                page_size: size, ..
            } => {
                self.position += count;
                Ok(count >= *size)
            }
            Pagination::Cursor {
                token_path: Some(path),
                ..
            } => {
                let token = token_text(super::lookup(&response.body, path), path, &bad)?;
                self.set_token(token, &bad)
            }
            Pagination::Cursor {
                token_field: Some(field),
                page_size: size,
                ..
            } => {
                let Some(last) = records.last() else {
                    return Ok(false);
                };
                if size.is_some_and(|size| count < size) {
                    return Ok(false);
                }
                let token = token_text(crate::connector::value_at_path(last, field), field, &bad)?;
                if token.is_none() {
                    return Err(bad(format!(
                        "the last record of the page has no `{field}` to continue from"
                    )));
                }
                self.set_token(token, &bad)
            }
            Pagination::Cursor { .. } => unreachable!("checked by Paginator::new"),
            Pagination::NextLink { url_path } => {
                let link = match url_path {
                    Some(path) => match super::lookup(&response.body, path) {
                        None | Some(Value::Null) => None,
                        Some(Value::String(s)) if s.is_empty() => None,
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(other) => {
                            return Err(bad(format!(
                                "the next link at `{path}` is not a string: {other}"
                            )));
                        }
                    },
                    None => response
                        .headers
                        .get_all(LINK)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .find_map(next_from_link_header),
                };
                let link = match link {
                    None => None,
                    Some(l) => {
                        let url = response
                            .request_url
                            .join(&l)
                            .map_err(|e| bad(format!("next link `{l}`: {e}")))?;
                        // Credentials go with every request: never follow a link elsewhere.
                        if url.origin() != response.request_url.origin() {
                            return Err(bad(format!(
                                "the next link `{l}` leaves the API's host; not following it with credentials"
                            )));
                        }
                        Some(url.to_string())
                    }
                };
                self.set_token(link, &bad)
            }
        }
    }

    fn set_token(
        &mut self,
        token: Option<String>,
        bad: &dyn Fn(String) -> ConnectorError,
    ) -> Result<bool, ConnectorError> {
        match token {
            None => Ok(false),
            Some(t) if self.token.as_deref() == Some(t.as_str()) => Err(bad(format!(
                "the server sent the same next page `{t}` twice; stopping instead of looping"
            ))),
            Some(t) => {
                self.token = Some(t);
                Ok(true)
            }
        }
    }
}

/// A cursor token as text: absent, null or empty means no next page.
fn token_text(
    value: Option<&Value>,
    path: &str,
    bad: &dyn Fn(String) -> ConnectorError,
) -> Result<Option<String>, ConnectorError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(bad(format!(
            "the cursor token at `{path}` is neither a string nor a number: {other}"
        ))),
    }
}

/// The `rel="next"` target of one `Link` header value (RFC 8288), if any.
pub(super) fn next_from_link_header(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let part = part.trim();
        let open = part.find('<')?;
        let close = part[open..].find('>')? + open;
        let target = &part[open + 1..close];
        let is_next = part[close + 1..].split(';').any(|param| {
            let Some((key, value)) = param.split_once('=') else {
                return false;
            };
            key.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::next_from_link_header;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_from_link_header(
                r#"<https://x/api?page=1>; rel="prev", <https://x/api?page=3>; rel="next""#
            ),
            Some("https://x/api?page=3".into())
        );
        assert_eq!(next_from_link_header("</p2>; rel=next"), Some("/p2".into()));
        assert_eq!(next_from_link_header(r#"</p9>; rel="last nofollow""#), None);
        assert_eq!(
            next_from_link_header(r#"</a>; title="x"; rel="prefetch next""#),
            Some("/a".into())
        );
        assert_eq!(next_from_link_header("garbage"), None);
    }
}
