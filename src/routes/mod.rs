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

/// Adds the error answers every operation of a kind can give, so the document lists every
/// status the server sends: bad bodies (400, 413, 415, 422) where there is a body, 404 where
/// there are path parameters, CSRF refusals on unsafe private routes, 503 where a store is used.
pub fn document_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{Content, HttpMethod, Ref, RefOr, ResponseBuilder};
    let error = |text: &str| -> RefOr<utoipa::openapi::Response> {
        let content = Content::new(Some(Ref::from_schema_name("ErrorBody")));
        ResponseBuilder::new()
            .description(text)
            .content("application/json", content)
            .build()
            .into()
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let public =
            path.ends_with("/race/results") || path == "/healthz" || path == "/openapi.json";
        let has_path_params = path.contains('{');
        for method in [
            HttpMethod::Get,
            HttpMethod::Post,
            HttpMethod::Put,
            HttpMethod::Patch,
            HttpMethod::Delete,
        ] {
            let unsafe_method = !matches!(method, HttpMethod::Get);
            let operation = match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                HttpMethod::Put => item.put.as_mut(),
                HttpMethod::Patch => item.patch.as_mut(),
                HttpMethod::Delete => item.delete.as_mut(),
                _ => None,
            };
            let Some(operation) = operation else { continue };
            let has_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            let mut add = |status: &str, text: &str| {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| error(text));
            };
            if has_body {
                add("400", "`malformed_json`");
                add("413", "`payload_too_large`");
                add("415", "`unsupported_media_type`");
                add("422", "`validation_failed`");
            }
            if has_path_params {
                add("404", "`not_found`");
            }
            if unsafe_method && !public {
                add(
                    "403",
                    "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`",
                );
                add(
                    "415",
                    "`unsupported_media_type`: a body or content type that is not JSON",
                );
            }
            if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) && !has_path_params {
                add(
                    "422",
                    "`validation_failed`: the query string could not be read",
                );
            }
            if !public {
                add("503", "`store_unavailable`");
            }
        }
    }
}
