//! The `jsonrpc` kind: ERP servers spoken to over JSON-RPC — Odoo and Tryton.
//!
//! One stream reads one model with `search_read`, page by page. Concerns by file:
//!
//! - [`config`]: the `[jsonrpc]` and `[streams.jsonrpc]` tables;
//! - [`odoo`] and [`tryton`]: each dialect's login, call envelope, errors and domain syntax;
//! - [`decode`]: Tryton's typed values (`Decimal`, `date`, `datetime`, …) as plain JSON;
//! - [`cursor`]: the compound `(field, id)` cursor of incremental streams.
//!
//! HTTP (timeouts, retries with backoff, `Retry-After`) is the `http` kind's client, reused.
//!
//! **Reading.** A stream without `incremental` is read with `offset`/`limit` in `order`
//! (default `id asc`) and keeps no cursor. An incremental stream is read in `(field, id)`
//! order; every page asks for the records after the last one of the page before
//! (`field > v OR (field = v AND id > id)`) and commits that position as its cursor, so a run
//! that fails resumes after its last committed page, records sharing a timestamp are neither
//! skipped nor repeated, and a record changed while the read runs moves behind the read
//! position and is read again rather than shifting an offset and hiding a neighbour. Only if
//! a record has no value in `field` (Tryton ≤ 7.x: `write_date` still `null`, found by its
//! `create_date`) does the read fall back to offsets under the domain it started with; it
//! then commits once, at its end, the greatest position seen.
//!
//! **Archived records.** The context carries `active_test = false` unless the stream says
//! otherwise, so archived records come through with `active = false` and become tombstones
//! downstream instead of silent gaps.
//!
//! **Children.** Each `children` entry costs one more `search_read` per page
//! (`parent_field in [ids of the page]`, paged by offset); the children are put into their
//! parent under `field` as an array of objects, ordered by ID (an empty array when none).
//!
//! Records are located as `page N #i` (1-based) with the model and ID.

pub mod config;
mod cursor;
mod decode;
mod odoo;
mod tryton;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use url::Url;

use self::config::{Dialect, JsonRpcOptions, JsonRpcStream};
use self::cursor::Position;
use self::odoo::Odoo;
use self::tryton::Tryton;
use super::http::client::Client;
use super::http::config::HttpOptions;
use super::{ConnectorError, Opening, Page, RawRecord, Source};

/// Children are read in pages of this many.
const CHILD_PAGE: u64 = 1000;

/// Opens a JSON-RPC stream (its options already validated); the login waits for the first page.
pub(super) fn open(
    at: &Opening<'_>,
    options: &JsonRpcOptions,
    spec: &JsonRpcStream,
    cursor: Option<Value>,
) -> Result<Box<dyn Source>, ConnectorError> {
    let in_stream = |e: String| at.stream_error(e);
    let rpc = Rpc::new(at.connector, options).map_err(|e| at.error(e))?;
    let page_size = spec.page_size.unwrap_or(options.page_size);
    let mut context = Map::new();
    context.insert("active_test".into(), Value::Bool(false));
    for (k, v) in &spec.context {
        context.insert(k.clone(), toml_to_json(v));
    }
    let domain: Vec<Value> = spec.domain.iter().map(toml_to_json).collect();
    let mode = match &spec.incremental {
        Some(inc) => {
            let stored = cursor::parse(cursor.as_ref(), &inc.field).map_err(in_stream)?;
            let start = cursor::start(stored, inc.lookback_secs).map_err(in_stream)?;
            Mode::Incremental {
                field: inc.field.clone(),
                start: start.clone(),
                after: start,
                keyset: true,
                max: None,
            }
        }
        None => Mode::Full {
            order: parse_order(spec.order.as_deref().unwrap_or("id asc")).map_err(in_stream)?,
        },
    };
    Ok(Box::new(JsonRpcSource {
        rpc,
        spec: spec.clone(),
        page_size,
        context,
        domain,
        mode,
        offset: 0,
        page: 0,
        logged_in: false,
        done: false,
    }))
}

/// `"write_date desc, id"` → `[("write_date", false), ("id", true)]`.
pub(super) fn parse_order(text: &str) -> Result<Vec<(String, bool)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|term| {
            let mut words = term.split_whitespace();
            let field = words.next().unwrap_or_default().to_string();
            let asc = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => true,
                Some("desc") => false,
                Some(other) => return Err(format!("order `{term}`: `{other}` is not asc or desc")),
            };
            Ok((field, asc))
        })
        .collect()
}

/// TOML (domains, contexts) as JSON; datetimes become their text.
fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => json!(s),
        toml::Value::Integer(i) => json!(i),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => json!(b),
        toml::Value::Datetime(d) => json!(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// The RPC endpoint: `url` joined with the dialect's path (`rpc_path`, `{database}` filled).
pub(super) fn endpoint(o: &JsonRpcOptions) -> Result<Url, String> {
    let default_path = match o.dialect {
        Dialect::Odoo => "/jsonrpc",
        Dialect::Tryton => "/{database}/rpc/",
    };
    let path = o
        .rpc_path
        .as_deref()
        .unwrap_or(default_path)
        .replace("{database}", &o.database);
    let text = format!(
        "{}/{}",
        o.url.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    Url::parse(&text).map_err(|e| format!("`{text}` is not a valid URL: {e}"))
}

/// One `search_read` call.
pub(super) struct Query<'a> {
    model: &'a str,
    domain: Vec<Value>,
    fields: &'a [String],
    offset: u64,
    limit: u64,
    order: &'a [(String, bool)],
    context: &'a Map<String, Value>,
}

/// A dialect's session.
enum Rpc {
    Odoo(Odoo),
    Tryton(Tryton),
}

impl Rpc {
    fn new(connector: &str, o: &JsonRpcOptions) -> Result<Rpc, String> {
        let client = Client::new(&HttpOptions {
            base_url: o.url.clone(),
            auth: None,
            headers: BTreeMap::new(),
            timeout_secs: o.timeout_secs,
            max_retries: o.max_retries,
            retry_backoff_ms: o.retry_backoff_ms,
            rate_limit: None,
        })
        .map_err(|p| p.under("jsonrpc").to_string())?
        .named(connector);
        let url = endpoint(o).map_err(|e| format!("jsonrpc.url: {e}"))?;
        Ok(match o.dialect {
            Dialect::Odoo => Rpc::Odoo(Odoo {
                connector: connector.to_string(),
                client,
                url,
                database: o.database.clone(),
                username: o.username.clone(),
                password: o.password.clone(),
                uid: None,
                next_id: 0,
            }),
            Dialect::Tryton => Rpc::Tryton(Tryton {
                connector: connector.to_string(),
                client,
                url,
                database: o.database.clone(),
                username: o.username.clone(),
                password: o.password.clone(),
                session: None,
                next_id: 0,
            }),
        })
    }

    async fn login(&mut self) -> Result<(), ConnectorError> {
        match self {
            Rpc::Odoo(o) => o.login().await,
            Rpc::Tryton(t) => t.login().await,
        }
    }

    async fn search_read(&mut self, q: &Query<'_>) -> Result<Vec<Value>, ConnectorError> {
        match self {
            Rpc::Odoo(o) => o.search_read(q).await,
            Rpc::Tryton(t) => t.search_read(q).await,
        }
    }

    fn after(&self, field: &str, p: &Position) -> Vec<Value> {
        match self {
            Rpc::Odoo(_) => Odoo::after(field, p),
            Rpc::Tryton(_) => Tryton::after(field, p),
        }
    }

    /// The field that stands in for an empty `field` (Tryton's `create_date`).
    fn fallback(&self, field: &str) -> Option<&'static str> {
        match self {
            Rpc::Tryton(_) if field == "write_date" => Some("create_date"),
            _ => None,
        }
    }

    fn url(&self) -> String {
        match self {
            Rpc::Odoo(o) => o.url.to_string(),
            Rpc::Tryton(t) => t.url.to_string(),
        }
    }
}

/// How a stream moves forward.
enum Mode {
    /// Everything, by offset, in `order`.
    Full { order: Vec<(String, bool)> },
    /// In `(field, id)` order from a compound cursor.
    Incremental {
        field: String,
        /// Where this read started (cursor minus lookback).
        start: Option<Position>,
        /// The last position read (keyset pages start after it).
        after: Option<Position>,
        /// False once a record without `field` was seen: offsets under `start` from then on.
        keyset: bool,
        /// The greatest position seen in this read.
        max: Option<Position>,
    },
}

struct JsonRpcSource {
    rpc: Rpc,
    spec: JsonRpcStream,
    page_size: u64,
    context: Map<String, Value>,
    domain: Vec<Value>,
    mode: Mode,
    /// Records read so far in this read (the offset of offset pages).
    offset: u64,
    page: u64,
    logged_in: bool,
    done: bool,
}

#[async_trait]
impl Source for JsonRpcSource {
    async fn probe(&mut self) -> Result<(), ConnectorError> {
        self.rpc.login().await?;
        self.logged_in = true;
        Ok(())
    }

    async fn next_page(&mut self) -> Result<Option<Page>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        if !self.logged_in {
            self.rpc.login().await?;
            self.logged_in = true;
        }
        let mut fields = self.spec.fields.clone();
        let cursor_fields: Vec<String> = match &self.mode {
            Mode::Incremental { field, .. } => std::iter::once(field.clone())
                .chain(self.rpc.fallback(field).map(String::from))
                .collect(),
            Mode::Full { .. } => vec![],
        };
        if !fields.is_empty() {
            for f in cursor_fields {
                if !fields.contains(&f) {
                    fields.push(f);
                }
            }
        }
        let mut domain = self.domain.clone();
        let (offset, order) = match &self.mode {
            Mode::Full { order } => (self.offset, order.clone()),
            Mode::Incremental {
                field,
                start,
                after,
                keyset,
                ..
            } => {
                let (from, offset) = if *keyset {
                    (after, 0)
                } else {
                    (start, self.offset)
                };
                if let Some(p) = from {
                    domain.extend(self.rpc.after(field, p));
                }
                (
                    offset,
                    vec![(field.clone(), true), ("id".to_string(), true)],
                )
            }
        };
        let mut rows = self
            .rpc
            .search_read(&Query {
                model: &self.spec.model,
                domain,
                fields: &fields,
                offset,
                limit: self.page_size,
                order: &order,
                context: &self.context,
            })
            .await?;
        let short_page = (rows.len() as u64) < self.page_size;
        self.offset += rows.len() as u64;
        if rows.is_empty() {
            self.done = true;
            return Ok(self.final_checkpoint().map(|checkpoint| Page {
                checkpoint: Some(checkpoint),
                ..Page::default()
            }));
        }
        self.page += 1;
        self.attach_children(&mut rows).await?;
        let fallback = match &self.mode {
            Mode::Incremental { field, .. } => self.rpc.fallback(field),
            Mode::Full { .. } => None,
        };
        let url = self.rpc.url();
        let checkpoint = match &mut self.mode {
            Mode::Full { .. } => None,
            Mode::Incremental {
                field,
                after,
                keyset,
                max,
                ..
            } => {
                for row in &rows {
                    let has_own = cursor::position_of(row, field, None).is_some();
                    let p = cursor::position_of(row, field, fallback).ok_or_else(|| {
                        ConnectorError::Response {
                            url: url.clone(),
                            reason: format!(
                                "{} record {} has no `{field}` (nor an `id`): it cannot be placed in the cursor order",
                                self.spec.model,
                                row.get("id").unwrap_or(&Value::Null)
                            ),
                        }
                    })?;
                    if !has_own {
                        *keyset = false;
                    }
                    if max.as_ref().is_none_or(|m| p.cmp(m).is_gt()) {
                        *max = Some(p.clone());
                    }
                    *after = Some(p);
                }
                keyset
                    .then(|| after.as_ref().map(|p| p.checkpoint(field)))
                    .flatten()
            }
        };
        self.done = short_page;
        let checkpoint = if self.done {
            self.final_checkpoint().or(checkpoint)
        } else {
            checkpoint
        };
        tracing::debug!(model = %self.spec.model, page = self.page, records = rows.len(), "page read");
        let page = self.page;
        let model = self.spec.model.clone();
        Ok(Some(Page {
            records: rows
                .into_iter()
                .enumerate()
                .map(|(i, payload)| RawRecord {
                    locator: format!(
                        "page {page} #{} ({model} {})",
                        i + 1,
                        payload.get("id").unwrap_or(&Value::Null)
                    ),
                    payload,
                })
                .collect(),
            rejected: vec![],
            checkpoint,
        }))
    }
}

impl JsonRpcSource {
    /// At the end of a read that fell back to offsets: the greatest position seen.
    fn final_checkpoint(&self) -> Option<Value> {
        match &self.mode {
            Mode::Incremental {
                field,
                keyset: false,
                max: Some(m),
                ..
            } => Some(m.checkpoint(field)),
            _ => None,
        }
    }

    /// Reads the children of `rows` and puts them into their parents.
    async fn attach_children(&mut self, rows: &mut [Value]) -> Result<(), ConnectorError> {
        if self.spec.children.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| r.get("id").and_then(Value::as_i64))
            .collect();
        let by_id = [("id".to_string(), true)];
        for child in self.spec.children.clone() {
            let mut fields = child.fields.clone();
            if !fields.is_empty() && !fields.contains(&child.parent_field) {
                fields.push(child.parent_field.clone());
            }
            let mut grouped: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
            let mut offset = 0;
            loop {
                let batch = self
                    .rpc
                    .search_read(&Query {
                        model: &child.model,
                        domain: vec![json!([child.parent_field, "in", ids])],
                        fields: &fields,
                        offset,
                        limit: CHILD_PAGE,
                        order: &by_id,
                        context: &self.context,
                    })
                    .await?;
                let n = batch.len() as u64;
                for line in batch {
                    let parent = match line.get(&child.parent_field) {
                        Some(Value::Array(pair)) => pair.first().and_then(Value::as_i64),
                        Some(v) => v.as_i64(),
                        None => None,
                    };
                    let Some(parent) = parent else {
                        return Err(ConnectorError::Response {
                            url: self.rpc.url(),
                            reason: format!(
                                "{} record {} has no parent in `{}`",
                                child.model,
                                line.get("id").unwrap_or(&Value::Null),
                                child.parent_field
                            ),
                        });
                    };
                    grouped.entry(parent).or_default().push(line);
                }
                if n < CHILD_PAGE {
                    break;
                }
                offset += n;
            }
            for row in rows.iter_mut() {
                let id = row.get("id").and_then(Value::as_i64).unwrap_or_default();
                let lines = grouped.remove(&id).unwrap_or_default();
                if let Some(obj) = row.as_object_mut() {
                    obj.insert(child.field.clone(), Value::Array(lines));
                }
            }
        }
        Ok(())
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
