//! Who is calling: the bearer token in `Authorization`, looked up in the
//! registry on every request (so a token revoked through one hub replica is
//! refused by every other at once), turned into the service acting as that
//! token's principal. It runs before a route reads anything of the request,
//! so a caller without a valid token learns nothing but 401. A secret is
//! never logged, echoed or stored.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_service::{Berth, TOKEN_PREFIX};

use crate::Hub;
use crate::error::ApiError;

/// The service acting as the request's caller, for the route to use.
#[derive(Clone)]
pub(crate) struct Caller(pub Berth);

/// Authenticates every request of the routes it wraps.
pub(crate) async fn authenticate(State(hub): State<Arc<Hub>>, mut req: Request, next: Next) -> Response {
    match hub.caller(req.headers()).await {
        Ok(b) => {
            req.extensions_mut().insert(Caller(b));
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn unauthenticated(message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        message,
        Some(format!("send `Authorization: Bearer {TOKEN_PREFIX}…`; an admin makes tokens with `berth token create`")),
    )
}

/// The token a request carries, if it carries one in the accepted form.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(unauthenticated("the request carries no token (or more than one Authorization header)"));
    };
    let value = value.to_str().map_err(|_| unauthenticated("the Authorization header is not text"))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(unauthenticated("the Authorization header is not `Bearer <token>`"));
    }
    Ok(token.trim())
}

impl Hub {
    /// The service acting as whoever the request's token names.
    pub(crate) async fn caller(&self, headers: &HeaderMap) -> Result<Berth, ApiError> {
        self.caller_with(bearer(headers)).await
    }

    /// The service acting as whoever `secret` names, or why the request
    /// carried none (`Err`); every refusal with 401 is counted as an
    /// authentication failure.
    pub(crate) async fn caller_with(&self, secret: Result<&str, ApiError>) -> Result<Berth, ApiError> {
        let result = match secret {
            Ok(secret) => self.berth.authenticate(secret).await.map_err(ApiError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(principal) => Ok(self.berth.acting_as(principal)),
            Err(e) => {
                if e.status == StatusCode::UNAUTHORIZED {
                    self.metrics.auth_failure();
                }
                Err(e)
            }
        }
    }
}
