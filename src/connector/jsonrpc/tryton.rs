//! The Tryton dialect: `POST {url}{rpc_path}` with `common.db.login`, then
//! `model.<name>.search_read` with the header `Authorization: Session base64(login:uid:session)`.
//!
//! - Login answers `[user_id, session, …]` (two elements up to 7.6, three on 8.x); a wrong
//!   password is HTTP 401 (with an HTML body), as is an expired session later on: both are
//!   authentication failures, never retried.
//! - Application errors come back with HTTP 200 as `{"error": [kind, details]}`, e.g.
//!   `["UserError", ["message", "description", null]]`; they fail the stream with that text.
//! - Typed values (`Decimal`, `date`, `datetime`, …) are decoded into plain JSON, see
//!   [`super::decode`]; cursor values are encoded back when they go into a domain.
//! - The cursor condition on `write_date` also finds records whose `write_date` is still
//!   `null` (never written since creation; possible up to 7.x) by their `create_date`.

use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use url::Url;

use super::Query;
use super::cursor::Position;
use super::decode;
use crate::connector::ConnectorError;
use crate::connector::http::client::{Client, Sent};

/// A logged-in (or not yet) Tryton session.
pub(super) struct Tryton {
    pub connector: String,
    pub client: Client,
    pub url: Url,
    pub database: String,
    pub username: String,
    pub password: String,
    pub session: Option<HeaderValue>,
    pub next_id: u64,
}

impl Tryton {
    /// `common.db.login` → the session header.
    pub(super) async fn login(&mut self) -> Result<(), ConnectorError> {
        let result = self
            .call(
                "common.db.login",
                json!([self.username, {"password": self.password}, "en"]),
            )
            .await?;
        let (uid, session) = match result.as_array().map(Vec::as_slice) {
            Some([uid, session, ..]) => (uid.as_i64(), session.as_str()),
            _ => (None, None),
        };
        let (Some(uid), Some(session)) = (uid, session) else {
            return Err(ConnectorError::Response {
                url: self.url.to_string(),
                reason: format!(
                    "common.db.login did not answer [user_id, session]: {}",
                    super::short(&result)
                ),
            });
        };
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{uid}:{session}", self.username));
        self.session = Some(
            HeaderValue::try_from(format!("Session {token}")).map_err(|_| {
                ConnectorError::Response {
                    url: self.url.to_string(),
                    reason: "the session key is not valid in a header".into(),
                }
            })?,
        );
        Ok(())
    }

    /// `search_read` of one page, decoded.
    pub(super) async fn search_read(
        &mut self,
        q: &Query<'_>,
    ) -> Result<Vec<Value>, ConnectorError> {
        let order: Vec<Value> = q
            .order
            .iter()
            .map(|(f, asc)| json!([f, if *asc { "ASC" } else { "DESC" }]))
            .collect();
        let fields = if q.fields.is_empty() {
            Value::Null
        } else {
            json!(q.fields)
        };
        let params = json!([q.domain, q.offset, q.limit, order, fields, q.context]);
        match self
            .call(&format!("model.{}.search_read", q.model), params)
            .await?
        {
            Value::Array(rows) => Ok(rows.into_iter().map(decode::decode).collect()),
            other => Err(ConnectorError::Response {
                url: self.url.to_string(),
                reason: format!(
                    "search_read on `{}` did not return a list: {}",
                    q.model,
                    super::short(&other)
                ),
            }),
        }
    }

    /// The cursor condition as one nested domain:
    /// `["OR", [[f, ">", v]], [[f, "=", v], ["id", ">", id]]]`, plus, for `write_date`, the same
    /// on `create_date` for records whose `write_date` is `null`.
    pub(super) fn after(field: &str, p: &Position) -> Vec<Value> {
        let v = decode::encode_datetime(&p.value).unwrap_or_else(|| json!(p.value));
        let mut clause = vec![
            json!("OR"),
            json!([[field, ">", v]]),
            json!([[field, "=", v], ["id", ">", p.id]]),
        ];
        if field == "write_date" {
            clause.push(json!([
                ["write_date", "=", null],
                [
                    "OR",
                    [["create_date", ">", v]],
                    [["create_date", "=", v], ["id", ">", p.id]]
                ]
            ]));
        }
        vec![Value::Array(clause)]
    }

    async fn call(&mut self, method: &str, params: Value) -> Result<Value, ConnectorError> {
        self.next_id += 1;
        let body = json!({"id": self.next_id, "method": method, "params": params});
        let mut headers = HeaderMap::new();
        if let Some(session) = &self.session {
            headers.insert(AUTHORIZATION, session.clone());
        }
        let response = match self.client.post_json(&self.url, &headers, &body).await? {
            Sent::Json(r) => r,
            Sent::Unauthorized(detail) => {
                let reason = if self.session.is_some() {
                    format!(
                        "Tryton refused the session of user `{}` ({detail})",
                        self.username
                    )
                } else {
                    format!(
                        "Tryton at {} refused the login of user `{}` on database `{}`: wrong password or unknown user ({detail})",
                        self.url, self.username, self.database
                    )
                };
                return Err(ConnectorError::Auth {
                    connector: self.connector.clone(),
                    reason,
                });
            }
        };
        let mut body = response.body;
        if let Some(error) = body.get("error").filter(|e| !e.is_null()) {
            return Err(self.error(error));
        }
        match body.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(ConnectorError::Response {
                url: self.url.to_string(),
                reason: format!("no `result` in the answer: {}", super::short(&body)),
            }),
        }
    }

    /// Turns Tryton's `[kind, details]` error list into a connector error.
    fn error(&self, error: &Value) -> ConnectorError {
        let kind = error.get(0).and_then(Value::as_str).unwrap_or("");
        let detail = error.get(1).cloned().unwrap_or(Value::Null);
        if kind == "LoginException" {
            return ConnectorError::Auth {
                connector: self.connector.clone(),
                reason: format!("Tryton asks for more to log in: {detail}"),
            };
        }
        let message = match &detail {
            Value::Array(parts) => parts
                .first()
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            Value::String(s) => s.clone(),
            _ => String::new(),
        };
        let reason = if message.is_empty() {
            format!("Tryton error {}", super::short(error))
        } else {
            format!("Tryton {kind}: {message}")
        };
        ConnectorError::Response {
            url: self.url.to_string(),
            reason,
        }
    }
}
