//! CORS from one exact-origin allowlist, with credentials.
//!
//! Preflights are answered here, before any authentication; every other response gets
//! `Vary: Origin` and, for an allowlisted origin, the grant headers, errors included, so the SPA
//! can read a 401. An origin is granted only if it is byte-for-byte one of the configured
//! origins: never reflected, never `null`, never matched by prefix or suffix.

mod origin;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::config::CorsConfig;
use crate::error::ApiError;

pub use origin::Origin;

/// Methods an allowlisted origin may use.
pub const ALLOWED_METHODS: &[Method] = &[
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// Request headers an allowlisted origin may send (jQuery adds `X-Requested-With`).
pub const ALLOWED_HEADERS: &[&str] = &["content-type", "x-csrf-token", "x-requested-with"];

pub struct Cors {
    allowed: Vec<HeaderValue>,
    max_age: HeaderValue,
    methods: HeaderValue,
    headers: HeaderValue,
}

impl Cors {
    pub fn new(config: &CorsConfig) -> Self {
        let join = |items: Vec<&str>| HeaderValue::from_str(&items.join(", ")).expect("ascii");
        Self {
            allowed: config
                .allowed_origins
                .iter()
                .map(|o| HeaderValue::from_str(o.as_str()).expect("parsed origins are ascii"))
                .collect(),
            max_age: HeaderValue::from(config.max_age_secs),
            methods: join(ALLOWED_METHODS.iter().map(Method::as_str).collect()),
            headers: join(ALLOWED_HEADERS.to_vec()),
        }
    }

    /// The request's origin if it is exactly one allowlisted origin (a request with several
    /// `Origin` headers is not from any of them).
    pub fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        single_origin(headers).filter(|o| self.allowed.iter().any(|a| a.as_bytes() == o.as_bytes()))
    }

    fn preflight(&self, headers: &HeaderMap) -> Response {
        // Preflight checks per the Fetch standard's CORS-preflight fetch (§4.8).
        let Some(origin) = self.allowed_origin(headers) else {
            return ApiError::OriginNotAllowed.into_response();
        };
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or_default();
        if !ALLOWED_METHODS.iter().any(|m| m.as_str() == method) {
            return ApiError::PreflightRefused("that method is not allowed").into_response();
        }
        let requested = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        for name in requested {
            if !ALLOWED_HEADERS.contains(&name.as_str()) {
                return ApiError::PreflightRefused("a requested header is not allowed")
                    .into_response();
            }
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, self.methods.clone());
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, self.headers.clone());
        // Preflight caching (Fetch standard, `Access-Control-Max-Age`).
        h.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        response
    }
}

/// The `Origin` header if there is exactly one.
pub fn single_origin(headers: &HeaderMap) -> Option<&HeaderValue> {
    let mut all = headers.get_all(header::ORIGIN).iter();
    match (all.next(), all.next()) {
        (Some(origin), None) => Some(origin),
        _ => None,
    }
}

pub fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Middleware: answers preflights and decorates every other response.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let cors = &state.cors;
    let preflight = is_preflight(&request);
    let origin = cors.allowed_origin(request.headers()).cloned();
    let mut response = if preflight {
        cors.preflight(request.headers())
    } else {
        next.run(request).await
    };
    let h = response.headers_mut();
    // Responses differ by Origin, so caches must key on it (Fetch standard, CORS protocol and
    // HTTP caches).
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        h.append(
            header::VARY,
            HeaderValue::from_static(
                "Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
    } else if let Some(origin) = origin {
        // Credentials only for an exact allowlisted origin, never `*` (Fetch standard §3.2.5).
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
    response
}
