//! CORS: one exact-origin allowlist with credentials by default, and per-path public policies.
//!
//! Preflights are answered here, before any authentication; every other response gets
//! `Vary: Origin` and the grant headers its policy allows, errors included, so the SPA can read
//! a 401. A private grant goes only to an origin that is byte-for-byte one of the configured
//! origins: never reflected, never `null`, never matched by prefix or suffix. A public policy
//! (`origins = "*"`) answers `Access-Control-Allow-Origin: *` and never grants credentials.
//! The policy is chosen from the normalised path, and a public policy is only used when the
//! request path is already in normal form, so `/race/../employees` cannot borrow it.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::{API_METHODS, CorsConfig, CorsResource};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::origin::normalise_path;

/// Request headers an allowlisted origin may send (jQuery adds `X-Requested-With`; the
/// safelisted `Accept`/`Accept-Language`/`Content-Language` and `Origin` appear in hand-written
/// preflights such as seed 004's curl example and change nothing).
pub const ALLOWED_HEADERS: &[&str] = &[
    "content-type",
    "x-csrf-token",
    "x-requested-with",
    "accept",
    "accept-language",
    "content-language",
    "origin",
];

/// Request headers any origin may send to a public resource: no CSRF token, it has no session.
pub const PUBLIC_HEADERS: &[&str] = &[
    "content-type",
    "x-requested-with",
    "accept",
    "accept-language",
    "content-language",
    "origin",
];

/// One resolved policy with its header values ready.
struct Policy {
    pattern: Option<String>,
    public: bool,
    credentials: bool,
    methods: Vec<Method>,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
}

impl Policy {
    fn new(pattern: Option<String>, public: bool, credentials: bool, methods: Vec<Method>) -> Self {
        let join = |items: Vec<&str>| HeaderValue::from_str(&items.join(", ")).expect("ascii");
        let headers = if public {
            PUBLIC_HEADERS
        } else {
            ALLOWED_HEADERS
        };
        Self {
            allow_methods: join(methods.iter().map(Method::as_str).collect()),
            allow_headers: join(headers.to_vec()),
            pattern,
            public,
            credentials,
            methods,
        }
    }

    fn matches(&self, path: &str) -> bool {
        match &self.pattern {
            None => true,
            Some(p) => match p.strip_suffix("/*") {
                Some(prefix) => {
                    path == prefix
                        || path
                            .strip_prefix(prefix)
                            .is_some_and(|rest| rest.starts_with('/'))
                }
                None => path == p,
            },
        }
    }
}

/// The origin policy: the CORS layer's substate, also asked by the CSRF rules whether an
/// origin is allowlisted.
pub struct Cors {
    metrics: Arc<Metrics>,
    allowed: Vec<HeaderValue>,
    max_age: HeaderValue,
    prefix: String,
    resources: Vec<Policy>,
    private: Policy,
}

impl Cors {
    pub fn new(config: &CorsConfig, api_prefix: &str, metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            allowed: config
                .allowed_origins
                .iter()
                .map(|o| HeaderValue::from_str(o.as_str()).expect("parsed origins are ascii"))
                .collect(),
            max_age: HeaderValue::from(config.max_age_secs),
            prefix: api_prefix.to_owned(),
            resources: config
                .resources
                .iter()
                .map(
                    |CorsResource {
                         path,
                         public,
                         credentials,
                         methods,
                     }| {
                        Policy::new(Some(path.clone()), *public, *credentials, methods.clone())
                    },
                )
                .collect(),
            private: Policy::new(None, false, true, API_METHODS.to_vec()),
        }
    }

    /// The request's origin if it is exactly one allowlisted origin (a request with several
    /// `Origin` headers is not from any of them).
    pub fn allowed_origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
        single_origin(headers).filter(|o| self.allowed.iter().any(|a| a.as_bytes() == o.as_bytes()))
    }

    fn policy_for(&self, raw_path: &str) -> &Policy {
        let Some(normal) = normalise_path(raw_path) else {
            return &self.private;
        };
        let Some(relative) = normal
            .strip_prefix(self.prefix.as_str())
            .filter(|r| r.starts_with('/'))
        else {
            return &self.private;
        };
        match self.resources.iter().find(|p| p.matches(relative)) {
            // Anything unusual about the path (dot segments, encoded slashes) keeps it private.
            Some(p) if p.public && normal != raw_path => &self.private,
            Some(p) => p,
            None => &self.private,
        }
    }

    /// The value of `Access-Control-Allow-Origin` this request earns under `policy`.
    fn grant(&self, policy: &Policy, headers: &HeaderMap) -> Option<HeaderValue> {
        if policy.public {
            Some(HeaderValue::from_static("*"))
        } else {
            self.allowed_origin(headers).cloned()
        }
    }

    fn preflight(&self, policy: &Policy, headers: &HeaderMap) -> Response {
        // Preflight checks per the Fetch standard's CORS-preflight fetch (§4.8).
        let Some(origin) = self.grant(policy, headers) else {
            return ApiError::OriginNotAllowed.into_response();
        };
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or_default();
        if !policy.methods.iter().any(|m| m.as_str() == method) {
            return ApiError::PreflightRefused("that method is not allowed here").into_response();
        }
        let allowed_headers = if policy.public {
            PUBLIC_HEADERS
        } else {
            ALLOWED_HEADERS
        };
        let requested = headers
            .get_all(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty());
        for name in requested {
            if !allowed_headers.contains(&name.as_str()) {
                return ApiError::PreflightRefused("a requested header is not allowed here")
                    .into_response();
            }
        }
        let mut response = StatusCode::NO_CONTENT.into_response();
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if policy.credentials {
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            policy.allow_methods.clone(),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            policy.allow_headers.clone(),
        );
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

/// What CORS decided about a request, for [`Cors::decorate`] to apply to its answer.
pub struct Grant<'a> {
    policy: &'a Policy,
    preflight: bool,
    origin: Option<HeaderValue>,
}

impl Cors {
    /// Answers a preflight here (the answer is `Some`), before any authentication; any other
    /// request goes on, and its answer gets the [`Grant`].
    pub fn admit(&self, request: &Request) -> (Option<Response>, Grant<'_>) {
        let policy = self.policy_for(request.uri().path());
        let preflight = is_preflight(request);
        let origin = self.grant(policy, request.headers());
        let answer = preflight.then(|| {
            let answer = self.preflight(policy, request.headers());
            if answer.status().is_client_error() {
                self.metrics.refusal(if origin.is_some() {
                    "preflight_refused"
                } else {
                    "origin_not_allowed"
                });
            }
            answer
        });
        let grant = Grant {
            policy,
            preflight,
            origin,
        };
        (answer, grant)
    }

    /// Adds `Vary` and, to an answer that earned them, the grant headers.
    pub fn decorate(&self, grant: &Grant<'_>, h: &mut HeaderMap) {
        // Responses differ by Origin, so caches must key on it (Fetch standard, "CORS protocol and
        // HTTP caches").
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        if grant.preflight {
            h.append(
                header::VARY,
                HeaderValue::from_static(
                    "Access-Control-Request-Method, Access-Control-Request-Headers",
                ),
            );
        } else if let Some(origin) = &grant.origin {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            // Credentials only for an exact allowlisted origin, never with `*` (Fetch standard §3.2.5).
            if grant.policy.credentials {
                h.insert(
                    header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                    HeaderValue::from_static("true"),
                );
            }
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("Retry-After, X-Request-Id"),
            );
        }
    }
}
