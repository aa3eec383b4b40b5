//! The `http` kind: REST/JSON APIs.
//!
//! One stream is one endpoint (`base_url` + `path`) read page by page: each response is one
//! [`Page`]. Concerns are split by file:
//!
//! - [`auth`]: bearer, basic, API key in a header or a query parameter;
//! - [`client`]: the GET itself, JSON decoding, error statuses, retries with backoff and
//!   `Retry-After`;
//! - [`paginate`]: `none`, `page`, `offset`, `cursor`, `next_link`;
//! - [`incremental`]: the `field >= cursor` parameter, the running maximum and its cursor.
//!
//! Every request of one read carries the same fixed `params` and incremental value, so pages
//! stay stable while the read moves forward. Records are located as `page N #i` (1-based).

mod auth;
pub(super) mod client;
mod incremental;
mod paginate;

use async_trait::async_trait;
use serde_json::Value;
use url::Url;

use self::client::Client;
use self::incremental::Tracker;
use self::paginate::{NextRequest, Paginator};
use super::config::{ConnectorConfig, StreamConfig};
use super::{ConnectorError, Page, RawRecord, Source, SourceContext, value_at_path};

/// Opens an HTTP stream.
pub(super) fn open(
    connector: &ConnectorConfig,
    stream: &StreamConfig,
    cursor: Option<Value>,
    _ctx: &SourceContext,
) -> Result<Box<dyn Source>, ConnectorError> {
    let config_error = |reason: String| ConnectorError::Config {
        connector: connector.name.clone(),
        reason,
    };
    let options = connector
        .http
        .as_ref()
        .ok_or_else(|| config_error("kind \"http\" needs an [http] table".into()))?;
    let spec = stream.http.as_ref().ok_or_else(|| {
        config_error(format!(
            "stream `{}` needs an `http` table for kind \"http\"",
            stream.name
        ))
    })?;
    let url = stream_url(&options.base_url, &spec.path).map_err(&config_error)?;
    let client = Client::new(options).map_err(&config_error)?;
    let paginator = Paginator::new(&spec.pagination)
        .map_err(|e| config_error(format!("stream `{}`: {e}", stream.name)))?;
    let incremental = match &spec.incremental {
        Some(inc) => Some(
            Tracker::new(inc, cursor)
                .map_err(|e| config_error(format!("stream `{}`: {e}", stream.name)))?,
        ),
        None => None,
    };
    Ok(Box::new(HttpSource {
        client,
        url,
        params: spec
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        records: spec.records.clone(),
        paginator,
        incremental,
        page: 0,
        done: false,
    }))
}

/// `base_url` + `path`; a path that is a whole URL is used as it is.
fn stream_url(base: &str, path: &str) -> Result<Url, String> {
    let text = if path.starts_with("http://") || path.starts_with("https://") {
        path.to_string()
    } else if path.is_empty() {
        base.to_string()
    } else {
        format!(
            "{}/{}",
            base.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    };
    Url::parse(&text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))
}

struct HttpSource {
    client: Client,
    url: Url,
    params: Vec<(String, String)>,
    records: String,
    paginator: Paginator,
    incremental: Option<Tracker>,
    /// Pages read so far.
    page: u64,
    done: bool,
}

#[async_trait]
impl Source for HttpSource {
    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let request = self
            .paginator
            .next_request()
            .map_err(|reason| ConnectorError::Response {
                url: self.url.to_string(),
                reason,
            })?;
        let response = match request {
            NextRequest::Params(extra) => {
                let mut query = self.params.clone();
                query.extend(self.incremental.as_ref().and_then(Tracker::param));
                query.extend(extra);
                self.client.get_json(&self.url, &query).await?
            }
            NextRequest::Url(url) => self.client.get_json(&url, &[]).await?,
        };
        let records = match value_at_path(&response.body, &self.records) {
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                return Err(ConnectorError::Response {
                    url: response.url.clone(),
                    reason: format!(
                        "expected an array of records at `{}`, found {}",
                        display_path(&self.records),
                        short(other)
                    ),
                });
            }
            None => {
                return Err(ConnectorError::Response {
                    url: response.url.clone(),
                    reason: format!(
                        "no `{}` in the response: {}",
                        self.records,
                        short(&response.body)
                    ),
                });
            }
        };
        self.page += 1;
        let more = self.paginator.advance(&response, records.len())?;
        self.done = !more;
        let checkpoint = match &mut self.incremental {
            Some(t) => {
                t.observe(&records);
                t.checkpoint(!more)
            }
            None => None,
        };
        tracing::debug!(url = %response.url, page = self.page, records = records.len(), more, "page read");
        let page = self.page;
        Ok(Some(Page {
            records: records
                .into_iter()
                .enumerate()
                .map(|(i, payload)| RawRecord {
                    locator: format!("page {page} #{}", i + 1),
                    payload,
                })
                .collect(),
            rejected: vec![],
            checkpoint,
        }))
    }
}

fn display_path(path: &str) -> &str {
    if path.trim().is_empty() {
        "(the body)"
    } else {
        path
    }
}

/// A value cut short for an error message.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
