//! The HTTP surface, one module per resource, each exposing its own `router()`.
//!
//! Every route is registered through `utoipa_axum::routes!`, so the OpenAPI document at
//! `/openapi.json` is generated from the same registrations the router serves.

mod employees;
mod health;
mod ops;
mod race;
mod session;
mod sessions;
mod users;

use garde::Validate;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::{ApiError, FieldErrors};

pub use session::SessionBody;

/// Routes that need the session and CSRF layers.
pub fn private() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(session::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(employees::router())
}

/// Routes any origin may call, outside the session and CSRF layers (cookies are ignored).
pub fn public() -> OpenApiRouter<AppState> {
    race::router()
}

/// Health, readiness, metrics and the OpenAPI document, at the root.
pub fn operations() -> OpenApiRouter<AppState> {
    health::router().merge(ops::router())
}

/// A garde rule from one of our parse functions; absent values are `required` when `needed`.
pub fn rule<T>(
    parse: fn(&str) -> Result<T, &'static str>,
    needed: bool,
) -> impl FnOnce(&Option<String>, &()) -> garde::Result {
    move |value, _| match value {
        None if needed => Err(garde::Error::new("required")),
        None => Ok(()),
        Some(v) => parse(v).map(drop).map_err(garde::Error::new),
    }
}

/// Validates a body and collects every field's codes into one 422.
pub fn validate(body: &impl Validate<Context = ()>) -> Result<(), ApiError> {
    validate_named(body, str::to_owned)
}

/// [`validate`] for bodies whose JSON names differ from their Rust field names (garde reports
/// the Rust names); `wire_name` maps one to the other.
pub fn validate_named(
    body: &impl Validate<Context = ()>,
    wire_name: fn(&str) -> String,
) -> Result<(), ApiError> {
    body.validate().map_err(|report| {
        let mut fields = FieldErrors::new();
        for (path, error) in report.iter() {
            fields
                .entry(wire_name(&path.to_string()))
                .or_default()
                .push(error.message().to_owned());
        }
        ApiError::Validation {
            message: "some fields are invalid; see `fields`".into(),
            fields,
        }
    })
}
