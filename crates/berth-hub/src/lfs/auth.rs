//! Who is calling a Git LFS route: the hub's token, sent as a bearer token
//! (`http.<url>.extraHeader`) or as the password of Basic credentials (what
//! git's credential helpers send; the user name is ignored, and a token
//! given as the user name with no password is taken too). Looked up like
//! every other route's; a refusal is Git LFS's 401 with `LFS-Authenticate`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::LfsError;
use crate::Hub;
use crate::credentials::attach_caller;

/// Authenticates every request of the Git LFS routes.
pub(crate) async fn authenticate(State(hub): State<Arc<Hub>>, req: Request, next: Next) -> Response {
    match attach_caller(&hub, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => LfsError::from(e).into_response(),
    }
}
