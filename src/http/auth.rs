//! Who may call a route: deny by default.
//!
//! Every private route sits under [`RequireLogin`] (one layer on the private group in `routes`), so an
//! anonymous caller gets 401 `unauthenticated` before any handler runs. Handlers that need the
//! caller take [`CurrentUser`]; one that needs an admin takes [`RequireRole<Admin>`], which gives
//! a logged-in caller without the role 403 `forbidden` (seed 002's `authorize(role)`, with admin
//! passing every user check). The role is read from the user record on every request, so a
//! change takes effect on the user's next request.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tower::Service;

use crate::account::records::Role;
use crate::error::ApiError;
use crate::http::pipeline::{Next, Stage};
use crate::session::{Authenticated, SessionContext};

/// Route layer: only a logged-in caller reaches the handler (OWASP ASVS 5.0 V8.2.1, deny by
/// default).
#[derive(Clone)]
pub struct RequireLogin;

impl Stage for RequireLogin {
    async fn run<S>(self, request: Request, next: Next<S>) -> Response
    where
        S: Service<Request, Response = Response, Error = Infallible> + Send + 'static,
        S::Future: Send,
    {
        match request.extensions().get::<SessionContext>() {
            Some(SessionContext::Authenticated(_)) => next.run(request).await,
            _ => ApiError::Unauthenticated.into_response(),
        }
    }
}

/// The logged-in caller; 401 `unauthenticated` for anyone else.
pub struct CurrentUser(pub Arc<Authenticated>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<SessionContext>() {
            Some(SessionContext::Authenticated(auth)) => Ok(Self(auth.clone())),
            _ => Err(ApiError::Unauthenticated),
        }
    }
}

/// A role a route requires, as a type (`RequireRole<Admin>`).
pub trait RequiredRole {
    const ROLE: Role;
}

pub struct Admin;

impl RequiredRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// The logged-in caller holding role `R`; 401 when anonymous, 403 `forbidden` otherwise.
pub struct RequireRole<R: RequiredRole>(pub Arc<Authenticated>, pub PhantomData<R>);

impl<S: Send + Sync, R: RequiredRole> FromRequestParts<S> for RequireRole<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let CurrentUser(auth) = CurrentUser::from_request_parts(parts, state).await?;
        // Authorization: 403 for a known user without the role (ASVS 5.0 V8.2.1).
        if auth.user.role.satisfies(R::ROLE) {
            Ok(Self(auth, PhantomData))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}
