//! Roles and the extractors that enforce them.
//!
//! Deny by default: a handler that needs a user takes [`CurrentUser`], one that needs an admin
//! takes [`RequireRole<Admin>`]. Anonymous callers get 401 `unauthenticated`, logged-in callers
//! without the role get 403 `forbidden` (seed 002's `authorize(role)`, with admin passing every
//! user check). The role is read from the user record on every request, so a change takes
//! effect on the user's next request.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::session::{Authenticated, SessionContext};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
        }
    }

    pub fn parse(input: &str) -> Result<Self, &'static str> {
        match input {
            "user" => Ok(Self::User),
            "admin" => Ok(Self::Admin),
            _ => Err("invalid_role"),
        }
    }

    /// Whether a holder of `self` passes a check for `required` (admin passes every check).
    pub fn satisfies(self, required: Role) -> bool {
        self == required || self == Role::Admin
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
        // Authorization: deny by default, 403 for a known user without the role (ASVS 5.0 V8.2.1).
        if auth.user.role.satisfies(R::ROLE) {
            Ok(Self(auth, PhantomData))
        } else {
            Err(ApiError::Forbidden)
        }
    }
}
