//! The Odoo dialect: `POST {url}/jsonrpc`, `common.login`, `object.execute_kw(…, "search_read")`.
//!
//! Odoo answers HTTP 200 for application errors too: the body then holds
//! `{"error":{"message":…,"data":{"name":"odoo.exceptions.AccessDenied","message":…}}}`. An
//! `AccessDenied` (a revoked API key, a changed password) is an authentication failure; every
//! other error names its exception class and message. `common.login` answers `false` for a
//! wrong login rather than an error.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use url::Url;

use super::Query;
use super::cursor::Position;
use crate::connector::ConnectorError;
use crate::connector::http::client::{Client, Sent};

/// A logged-in (or not yet) Odoo session.
pub(super) struct Odoo {
    pub connector: String,
    pub client: Client,
    pub url: Url,
    pub database: String,
    pub username: String,
    pub password: String,
    pub uid: Option<i64>,
    pub next_id: u64,
}

impl Odoo {
    /// `common.login` → the user ID.
    pub(super) async fn login(&mut self) -> Result<(), ConnectorError> {
        let result = self
            .call(
                "common",
                "login",
                json!([self.database, self.username, self.password]),
            )
            .await?;
        match result.as_i64() {
            Some(uid) => {
                self.uid = Some(uid);
                Ok(())
            }
            None => Err(ConnectorError::Auth {
                connector: self.connector.clone(),
                reason: format!(
                    "Odoo at {} refused the login of user `{}` on database `{}` (wrong password or API key, unknown user, or no such database)",
                    self.url, self.username, self.database
                ),
            }),
        }
    }

    /// `search_read` of one page.
    pub(super) async fn search_read(
        &mut self,
        q: &Query<'_>,
    ) -> Result<Vec<Value>, ConnectorError> {
        let uid = self.uid.expect("login before search_read");
        let order: Vec<String> = q
            .order
            .iter()
            .map(|(f, asc)| format!("{f} {}", if *asc { "asc" } else { "desc" }))
            .collect();
        let mut kwargs = json!({
            "fields": q.fields,
            "offset": q.offset,
            "limit": q.limit,
            "order": order.join(", "),
            "context": q.context,
        });
        if q.fields.is_empty() {
            kwargs.as_object_mut().expect("object").remove("fields");
        }
        let args = json!([
            self.database,
            uid,
            self.password,
            q.model,
            "search_read",
            [q.domain],
            kwargs
        ]);
        match self.call("object", "execute_kw", args).await? {
            Value::Array(rows) => Ok(rows),
            other => Err(self.unexpected(format!(
                "search_read on `{}` did not return a list: {}",
                q.model,
                super::short(&other)
            ))),
        }
    }

    /// The cursor condition `field > v OR (field = v AND id > id)` in Polish notation.
    pub(super) fn after(field: &str, p: &Position) -> Vec<Value> {
        vec![
            json!("|"),
            json!([field, ">", p.value]),
            json!("&"),
            json!([field, "=", p.value]),
            json!(["id", ">", p.id]),
        ]
    }

    async fn call(
        &mut self,
        service: &str,
        method: &str,
        args: Value,
    ) -> Result<Value, ConnectorError> {
        self.next_id += 1;
        let body = json!({
            "jsonrpc": "2.0",
            "method": "call",
            "id": self.next_id,
            "params": {"service": service, "method": method, "args": args},
        });
        let response = match self
            .client
            .post_json(&self.url, &HeaderMap::new(), &body)
            .await?
        {
            Sent::Json(r) => r,
            Sent::Unauthorized(reason) => {
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
            None => Err(self.unexpected(format!(
                "no `result` in the answer: {}",
                super::short(&body)
            ))),
        }
    }

    /// Turns Odoo's error envelope into a connector error.
    fn error(&self, error: &Value) -> ConnectorError {
        let name = error
            .pointer("/data/name")
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        let message = error
            .pointer("/data/message")
            .or_else(|| error.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.ends_with("AccessDenied") {
            return ConnectorError::Auth {
                connector: self.connector.clone(),
                reason: format!(
                    "Odoo at {} denied access to user `{}` on database `{}` ({name}: {message}); check the password or API key",
                    self.url, self.username, self.database
                ),
            };
        }
        self.unexpected(format!("Odoo error {name}: {message}"))
    }

    fn unexpected(&self, reason: String) -> ConnectorError {
        ConnectorError::Response {
            url: self.url.to_string(),
            reason,
        }
    }
}
