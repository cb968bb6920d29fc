//! The HTTP surface, one module per resource, each exposing its own `router()`.
//!
//! Every route is registered through `utoipa_axum::routes!`, so the OpenAPI document at
//! `/openapi.json` is generated from the same registrations the router serves. Routes come in
//! three groups, and which group a route is in decides who may call it (deny by default):
//!
//! - **sessionless** (health, readiness, metrics, the OpenAPI document, the public race results):
//!   outside the session and CSRF layers; cookies are never looked at;
//! - **anonymous** (the session resource and sign-up): under the session and CSRF layers, open
//!   to callers who are not logged in;
//! - **private** (everything else): under the session and CSRF layers and one login layer that
//!   answers 401 `unauthenticated` before any handler runs.
//!
//! [`PUBLIC_OPERATIONS`] is the one list of what may be called without logging in; a unit test
//! holds the first two groups to it, and an API test walks the OpenAPI document and checks that
//! every other operation answers 401 to an anonymous caller.

mod employees;
mod factors;
pub mod gateway;
mod health;
mod ops;
mod passkeys;
mod race;
mod recovery;
mod session;
mod sessions;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use garde::Validate;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::http::auth::RequireLogin;
use crate::http::pipeline::{Edge, SessionGate, StageLayer};
use crate::state::AppState;

pub use session::SessionBody;

/// Every operation that needs no login, as (method, path). API paths are relative to
/// `server.api_prefix`; the operations endpoints (`/healthz` ...) are always at the root.
pub const PUBLIC_OPERATIONS: &[(&str, &str)] = &[
    ("get", "/session"),
    ("post", "/session"),
    ("delete", "/session"),
    ("delete", "/session/{id}"),
    ("post", "/users"),
    ("post", "/password-reset"),
    ("post", "/password-reset/confirm"),
    ("post", "/users/me/email/verify"),
    ("post", "/session/mfa"),
    ("post", "/session/mfa/options"),
    ("post", "/session/passkey/options"),
    ("post", "/session/passkey"),
    ("get", "/race/results"),
    ("post", "/race/results"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/auth/verify"),
    ("get", "/.well-known/jwks.json"),
];

/// Root endpoints for operators, outside the API prefix.
fn operations() -> OpenApiRouter<AppState> {
    health::router()
        .merge(ops::router())
        .merge(gateway::well_known_router())
}

/// API routes any origin may call, outside the session and CSRF layers (cookies are ignored).
fn sessionless() -> OpenApiRouter<AppState> {
    race::router()
}

/// API routes under the session and CSRF layers that an anonymous caller may use.
fn anonymous() -> OpenApiRouter<AppState> {
    session::router()
        .merge(users::sign_up_router())
        .merge(recovery::anonymous_router())
        .merge(factors::anonymous_router())
        .merge(passkeys::anonymous_router())
        .merge(gateway::forward_auth_router())
}

/// API routes that need a logged-in caller.
fn private() -> OpenApiRouter<AppState> {
    sessions::router()
        .merge(users::router())
        .merge(recovery::router())
        .merge(factors::router())
        .merge(passkeys::router())
        .merge(employees::router())
}

#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "Gatehouse",
    description = "Session authentication for single-page apps whose API lives on another origin. \
        Unsafe requests need `X-CSRF-Token` (the `_csrf` of the latest session reply) and, with a body, \
        `Content-Type: application/json`. Errors are `{\"error\": {\"code\", \"message\", \"fields\"?}}`."
))]
struct ApiDoc;

/// Every route with its OpenAPI operation, the API mounted at `prefix`. With a state, each
/// group of routes gets its whole stack (the order is in `app::router`); without one, the
/// result is only good for its document.
pub fn documented(prefix: &str, state: Option<&AppState>) -> (Router<AppState>, OpenApi) {
    // Mounted at the prefix before the layers go on, so that the edge sees the whole path.
    let api = |group: OpenApiRouter<AppState>| {
        if prefix.is_empty() {
            group
        } else {
            OpenApiRouter::new().nest(prefix, group)
        }
    };
    let mut private = api(private());
    let mut anonymous = api(anonymous());
    let mut sessionless = api(sessionless());
    let mut operations = operations();
    document_common_errors(private.get_openapi_mut(), Group::Private);
    document_common_errors(anonymous.get_openapi_mut(), Group::Anonymous);
    document_common_errors(sessionless.get_openapi_mut(), Group::Sessionless);
    document_common_errors(operations.get_openapi_mut(), Group::Sessionless);
    // One `layer` call per group, for the group's whole stack: axum boxes a route once per
    // call and clones every box inside it per request, so each call costs a few allocations
    // on every request.
    if let Some(state) = state {
        let gate = || StageLayer(session_gate(state));
        // Deny by default: one layer in front of every private route (OWASP ASVS 5.0 V8.2.1).
        private = private.layer((edge(state), gate(), StageLayer(RequireLogin)));
        anonymous = anonymous.layer((edge(state), gate()));
        sessionless = sessionless.layer(edge(state));
        operations = operations.layer(edge(state));
    }
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .merge(operations)
        .merge(private)
        .merge(anonymous)
        .merge(sessionless)
        .split_for_parts()
}

/// What every answer goes through, outermost first: panics become a bare 500, then the edge
/// (request id, log and metrics, CORS, security headers), then the body limit.
fn edge(state: &AppState) -> EdgeLayers {
    let config = state.config();
    (
        CatchPanicLayer::custom(crate::http::panic_response as PanicAnswer),
        StageLayer(Edge::new(
            FromRef::from_ref(state),
            FromRef::from_ref(state),
            crate::http::hsts(&config.server.public_origin),
        )),
        DefaultBodyLimit::max(config.server.max_body_bytes),
    )
}

type PanicAnswer = fn(Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response;
type EdgeLayers = (
    CatchPanicLayer<PanicAnswer>,
    StageLayer<Edge>,
    DefaultBodyLimit,
);

/// Sessions and CSRF in front of the routes that use cookies.
fn session_gate(state: &AppState) -> SessionGate {
    SessionGate::new(
        axum::extract::FromRef::from_ref(state),
        axum::extract::FromRef::from_ref(state),
    )
}

/// The routes, then what answers the rest, each behind the edge: a method a route lacks (405),
/// and the gateway's fallback.
pub fn with_fallbacks(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
    use axum::handler::Handler;
    routes
        .merge(fallback(state).layer(edge(state)))
        .method_not_allowed_fallback(crate::http::method_not_allowed.layer(edge(state)))
}

/// The router's fallback: `[[gateway.routes]]` to their upstreams (through the session and
/// CSRF layers unless public), anything else 404.
fn fallback(state: &AppState) -> Router<AppState> {
    use axum::extract::FromRef;
    use tower::Layer;
    let gateway: std::sync::Arc<crate::gateway::Gateway> = FromRef::from_ref(state);
    let sessions: std::sync::Arc<crate::session::SessionManager> = FromRef::from_ref(state);
    // The session gate in front of one service, not a router of its own: nothing in it needs
    // routing, and each router level costs its boxes on every request.
    let protected = StageLayer(session_gate(state)).layer({
        let gateway = gateway.clone();
        tower::service_fn(move |request| {
            let (gateway, sessions) = (gateway.clone(), sessions.clone());
            async move {
                let response = gateway::proxy_protected(&gateway, &sessions, request).await;
                Ok::<_, std::convert::Infallible>(response)
            }
        })
    });
    Router::new().fallback(move |request: axum::extract::Request| {
        gateway::dispatch(gateway.clone(), protected.clone(), request)
    })
}

/// The OpenAPI document for an API mounted at `prefix`, as served at `/openapi.json`.
pub fn openapi_json(prefix: &str) -> String {
    documented(prefix, None)
        .1
        .to_pretty_json()
        .unwrap_or_default()
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
    crate::error::validate_fields(body, str::to_owned)
}

/// Which group an operation is mounted in.
#[derive(Clone, Copy, PartialEq)]
enum Group {
    Sessionless,
    Anonymous,
    Private,
}

/// Adds the error answers every operation of a group can give, so the document lists every
/// status the server sends: bad bodies (400, 413, 415, 422) where there is a body, 404 where
/// there are path parameters, CSRF refusals on unsafe routes under the session layers, 401 on
/// private routes, 503 wherever the session store is read. Sessionless operations that use a
/// store (readiness, metrics) document their 503 themselves.
fn document_common_errors(doc: &mut OpenApi, group: Group) {
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
        let public = group == Group::Sessionless;
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
            if group == Group::Private {
                add("401", "`unauthenticated`");
            }
            if !public {
                add("503", "`store_unavailable`");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations_of(router: OpenApiRouter<AppState>) -> Vec<(String, String)> {
        let doc = router.into_openapi();
        let mut found = Vec::new();
        for (path, item) in doc.paths.paths {
            let methods = [
                ("get", item.get.is_some()),
                ("post", item.post.is_some()),
                ("put", item.put.is_some()),
                ("patch", item.patch.is_some()),
                ("delete", item.delete.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    found.push((method.to_owned(), path.clone()));
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn the_public_list_is_exactly_the_routes_mounted_without_the_login_layer() {
        let mut open = operations_of(operations().merge(sessionless()).merge(anonymous()));
        open.dedup();
        let mut listed: Vec<(String, String)> = PUBLIC_OPERATIONS
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect();
        listed.sort();
        assert_eq!(open, listed);
        for operation in operations_of(private()) {
            assert!(
                !listed.contains(&operation),
                "{operation:?} is listed public"
            );
        }
    }
}
