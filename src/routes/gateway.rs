//! Gatehouse in front of your API: forward-auth (`GET /auth/verify`), the keys upstreams check
//! assertions with (`GET /.well-known/jwks.json`), and the router fallback that proxies
//! `[[gateway.routes]]`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Access;
use crate::csrf::CsrfGuard;
use crate::error::{ApiError, ErrorBody};
use crate::gateway::Gateway;
use crate::gateway::spa::wants_html;
use crate::http::Json;
use crate::peer::Peer;
use crate::session::{SessionContext, SessionManager};
use crate::state::AppState;

/// `GET /auth/verify`: under the session layer, open to anonymous callers (it answers 401).
pub fn forward_auth_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(verify))
}

/// `GET /.well-known/jwks.json`, at the root.
pub fn well_known_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(jwks))
}

/// Forward-auth for nginx `auth_request`, Traefik `forwardAuth` and Caddy `forward_auth`.
#[utoipa::path(get, path = "/auth/verify", tag = "gateway",
    params(("access" = Option<String>, Query, description = "`public`, `user` or `admin`; default: the access of the gateway route matching the original URI, else `user`")),
    responses(
        (status = 200, description = "Allowed, with no body; for a logged-in user the identity is in `Gatehouse-User-Id`, `Gatehouse-Username`, `Gatehouse-Role`, `Gatehouse-Session-Id` and `Gatehouse-Assertion` (none of them for an anonymous caller of a public path)"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`, or for an unsafe original method `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: an unsafe original request whose body is not JSON", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `access` is not one of the three", body = ErrorBody),
    ))]
async fn verify(
    State(gateway): State<Arc<Gateway>>,
    State(csrf): State<Arc<CsrfGuard>>,
    Extension(context): Extension<SessionContext>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let access = match parts
        .uri
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("access="))
    {
        Some(text) => {
            Some(Access::parse(text).ok_or_else(|| ApiError::field("access", "invalid_access"))?)
        }
        None => None,
    };
    let original = gateway.original(&parts.headers, &parts.extensions);
    match gateway.verify(&original, access, &context, &parts.headers, &csrf) {
        Ok(identity) => {
            // No body: a proxy reuses its connection to Gatehouse only once it has read the
            // whole answer, and nginx and Caddy read no 2xx body (with one, Caddy opened a new
            // connection for every request).
            let mut response = StatusCode::OK.into_response();
            response.headers_mut().extend(identity);
            Ok(response)
        }
        Err(e) => {
            if !matches!(e, ApiError::Unauthenticated | ApiError::Forbidden) {
                let peer = Peer::of(&csrf.proxies, &parts.headers, &parts.extensions);
                let path = original.uri.as_deref().unwrap_or("/auth/verify");
                csrf.refused(&e, &original.method, path, &peer).await;
            }
            Err(e)
        }
    }
}

/// The public keys of the identity assertions (JSON Web Key Set).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "gateway", responses(
    (status = 200, description = "`{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\", \"kid\", \"alg\": \"EdDSA\", \"use\": \"sig\"}]}`; the first key signs", body = Object),
))]
async fn jwks(State(gateway): State<Arc<Gateway>>) -> Response {
    let mut response = Json(gateway.identity().jwks()).into_response();
    // Upstreams may cache the keys briefly; a rotation shows within five minutes.
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// The router's fallback: a request for a gateway route goes to its upstream (public routes
/// directly, the others through `protected`, the session and CSRF layers); with a single-page
/// app, a file of it is served and any other page the browser navigates to gets its
/// `index.html` (through `protected`, for the CSRF token); anything else is 404 `not_found`.
pub async fn dispatch<S>(gateway: Arc<Gateway>, protected: S, request: Request) -> Response
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
{
    let through_layers = match gateway.route_for(request.uri().path()) {
        Some((route, path)) if route.access == Access::Public => {
            return gateway
                .forward(route, &path, request, None)
                .await
                .into_response();
        }
        Some(_) => true,
        None => match gateway.spa() {
            Some(spa) if request.method() == Method::GET || request.method() == Method::HEAD => {
                if let Some(file) = spa.file_for(request.uri().path()) {
                    return spa.serve_file(file, request).await;
                }
                wants_html(request.headers())
            }
            _ => false,
        },
    };
    if !through_layers {
        return ApiError::NotFound.into_response();
    }
    match protected.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Behind the session and CSRF layers: a gateway route's role check, then its upstream; or
/// the app's `index.html` with this browser's CSRF token.
pub async fn proxy_protected(
    gateway: &Gateway,
    sessions: &SessionManager,
    request: Request,
) -> Response {
    let context = request.extensions().get::<SessionContext>().cloned();
    let Some((route, path)) = gateway.route_for(request.uri().path()) else {
        return match (gateway.spa(), context) {
            (Some(spa), Some(SessionContext::Authenticated(auth))) => {
                let token = sessions
                    .csrf_token(&SessionContext::Authenticated(auth))
                    .unwrap_or_default();
                spa.index(&token).await
            }
            (Some(spa), Some(SessionContext::Anonymous { pre_nonce })) => {
                let (token, cookies) = sessions.anonymous_token(pre_nonce.as_deref());
                cookies.attach(spa.index(&token).await)
            }
            _ => ApiError::NotFound.into_response(),
        };
    };
    let who = match Gateway::admit(route.access, context.as_ref()) {
        Ok(who) => who.map(|auth| (&*auth.user, auth.session.id.as_str())),
        Err(e) => return e.into_response(),
    };
    gateway
        .forward(route, &path, request, who)
        .await
        .into_response()
}
