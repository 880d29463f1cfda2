//! Bearer tokens: who is calling and in which role. Tokens come from configuration and are
//! compared in constant time.

use super::AppState;
use crate::config::Role;
use crate::error::Error;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub role: Role,
    pub name: String,
    /// The server lets callers without a token use the planner tools.
    pub open_planner: bool,
}

impl Caller {
    /// Fails with 401 (no token) or 403 (a token of a lesser role) unless the caller has `role`
    /// (or the planner tools are open to callers without a token and `role` is planner).
    /// Passing this does not raise what a caller sees: privacy follows [`Caller::role`].
    pub fn require(&self, role: Role) -> Result<(), Error> {
        if self.role >= role || (role == Role::Planner && self.open_planner) {
            return Ok(());
        }
        let what = match role {
            Role::Admin => "an admin token",
            Role::Planner => "a planner token",
            Role::Public => "nothing",
        };
        if self.role == Role::Public {
            Err(Error::Unauthorized(format!(
                "this needs {what}: send `Authorization: Bearer <token>`"
            )))
        } else {
            Err(Error::Forbidden(
                format!("this needs {what}; yours is a {:?} token", self.role).to_lowercase(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, Error> {
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(Caller {
                role: Role::Public,
                name: "public".into(),
                open_planner: state.open_planner,
            });
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Error::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        // Compare against every token, in constant time, so timing tells nothing.
        let mut found: Option<&crate::config::TokenEntry> = None;
        for t in state.tokens.iter() {
            if constant_time_eq::constant_time_eq(t.token.as_bytes(), token.as_bytes()) {
                found = Some(t);
            }
        }
        found
            .map(|t| Caller {
                role: t.role,
                name: t.name.clone(),
                open_planner: state.open_planner,
            })
            .ok_or_else(|| Error::Unauthorized("unknown token".into()))
    }
}
