//! Bearer tokens and roles. A request to `/api` carries `Authorization: Bearer <token>`; the
//! token names a caller and a role (`finance` < `steward` < `admin`). No token, or one that is
//! not configured → 401; a role below what the route needs → 403. Tokens are compared by their
//! SHA-256 digests and never logged.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::config::settings::Role;

/// Who is calling (set on the request by the auth layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's configured name.
    pub name: String,
    /// Its role.
    pub role: Role,
}

/// The caller a request's bearer token names, if any.
fn caller(state: &AppState, req: &Request) -> Result<Caller, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized("a bearer token is required"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(ApiError::Unauthorized(
            "expected `Authorization: Bearer <token>`",
        ))?;
    let digest = Sha256::digest(token.as_bytes());
    state
        .project()
        .settings
        .server
        .tokens
        .iter()
        .find(|t| {
            t.token
                .as_deref()
                .is_some_and(|known| Sha256::digest(known.as_bytes()) == digest)
        })
        .map(|t| Caller {
            name: t.name.clone(),
            role: t.role,
        })
        .ok_or(ApiError::Unauthorized("unknown token"))
}

async fn require(state: AppState, mut req: Request, next: Next, role: Role) -> Response {
    match caller(&state, &req) {
        Ok(c) if c.role >= role => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        Ok(c) => ApiError::Forbidden(format!(
            "token `{}` has role `{}`; this needs `{role}`",
            c.name, c.role
        ))
        .into_response_now(),
        Err(e) => e.into_response_now(),
    }
}

/// Lets `finance` and above through.
pub(super) async fn finance(State(s): State<AppState>, req: Request, next: Next) -> Response {
    require(s, req, next, Role::Finance).await
}

/// Lets `steward` and above through.
pub(super) async fn steward(State(s): State<AppState>, req: Request, next: Next) -> Response {
    require(s, req, next, Role::Steward).await
}

/// Lets `admin` through.
pub(super) async fn admin(State(s): State<AppState>, req: Request, next: Next) -> Response {
    require(s, req, next, Role::Admin).await
}
