//! CSRF defence for every unsafe request (POST, PUT, PATCH, DELETE), in three layers:
//!
//! 1. the `Origin`, when sent, must be the API's own origin or an allowlisted one;
//! 2. a request with a body must be `application/json`, which HTML forms, `sendBeacon` and other
//!    "simple" cross-site requests cannot send without a preflight;
//! 3. `X-CSRF-Token` must equal the token of the request's (pre-)session, compared in constant time.
//!
//! Tokens are read from that header only, never from the URL or body, and method-override
//! headers or `_method` parameters are not honoured anywhere.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};

use crate::audit::Audit;
use crate::cors::Cors;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::origin::Origin;
use crate::peer::{Peer, TrustedProxies};
use crate::session::{SessionContext, SessionManager};

pub const TOKEN_HEADER: &str = "x-csrf-token";

pub fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// What the CSRF rules need: the API's own origin, the allowlist (through the origin policy),
/// the session's tokens, and where refusals are counted and recorded.
#[derive(Clone)]
pub struct CsrfGuard {
    pub public_origin: Origin,
    pub cors: Arc<Cors>,
    pub sessions: Arc<SessionManager>,
    pub audit: Audit,
    pub metrics: Arc<Metrics>,
    pub proxies: TrustedProxies,
}

impl CsrfGuard {
    /// For an unsafe request that fails the rules, the refusal to answer with (it records and
    /// audits the refusal); `None` for one that may go on. Safe methods always go on.
    pub fn check_request(
        &self,
        request: &Request,
        context: &SessionContext,
    ) -> Option<impl Future<Output = Response> + Send + '_> {
        if !is_unsafe(request.method()) {
            return None;
        }
        let e = self.check(request.headers(), context).err()?;
        let peer = Peer::of(&self.proxies, request.headers(), request.extensions());
        let (method, path) = (request.method().clone(), request.uri().path().to_owned());
        Some(async move {
            self.refused(&e, &method, &path, &peer).await;
            e.into_response()
        })
    }

    /// The three rules for an unsafe request with these headers in this (pre-)session; also
    /// what forward-auth applies to an unsafe original method.
    pub fn check(&self, headers: &HeaderMap, context: &SessionContext) -> Result<(), ApiError> {
        check_origin(self, headers)?;
        check_content_type(headers)?;
        check_token(self, headers, context)
    }

    /// Counts and audits a refusal.
    pub async fn refused(&self, e: &ApiError, method: &Method, path: &str, peer: &Peer) {
        self.metrics.refusal(e.code());
        let detail = format!("{} {method} {path}", e.code());
        let event = self.audit.event("request_refused", peer).detail(detail);
        self.audit.record(event).await;
    }
}

fn check_origin(guard: &CsrfGuard, headers: &HeaderMap) -> Result<(), ApiError> {
    // Verify Origin against an allowlist (OWASP CSRF cheat sheet, "Verifying Origin with
    // standard headers"); non-browser clients send none and rely on the token alone.
    let origins = headers.get_all(header::ORIGIN).iter().count();
    if origins == 0 {
        // Fetch Metadata: a browser marks a request another site started (OWASP CSRF cheat
        // sheet, "Fetch Metadata headers"); one without an Origin to check is refused.
        let cross_site = headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
        return if cross_site {
            Err(ApiError::OriginNotAllowed)
        } else {
            Ok(())
        };
    }
    let own = crate::cors::single_origin(headers)
        .is_some_and(|o| o.as_bytes() == guard.public_origin.as_str().as_bytes());
    if own || guard.cors.allowed_origin(headers).is_some() {
        Ok(())
    } else {
        Err(ApiError::OriginNotAllowed)
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    // Only application/json bodies: forms and text/plain are CORS "simple" requests that skip the
    // preflight (Fetch standard, CORS-safelisted request-header `Content-Type`).
    let has_body = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    match headers.get(header::CONTENT_TYPE) {
        Some(value) if is_json(value.to_str().unwrap_or_default()) => Ok(()),
        Some(_) => Err(ApiError::UnsupportedMediaType),
        None if has_body => Err(ApiError::UnsupportedMediaType),
        None => Ok(()),
    }
}

/// `application/json`, optionally with `charset=utf-8`; any other parameter is refused
/// (so `text/plain; foo=application/json` is not JSON).
pub fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            let p = p.trim().to_ascii_lowercase().replace(' ', "");
            p.is_empty() || p == "charset=utf-8" || p == "charset=\"utf-8\""
        })
}

fn check_token(
    guard: &CsrfGuard,
    headers: &HeaderMap,
    context: &SessionContext,
) -> Result<(), ApiError> {
    let mut sent = headers.get_all(TOKEN_HEADER).iter();
    let token = match (sent.next(), sent.next()) {
        (None, _) => return Err(ApiError::CsrfTokenMissing),
        (Some(_), Some(_)) => return Err(ApiError::CsrfTokenInvalid),
        (Some(t), None) if t.is_empty() => return Err(ApiError::CsrfTokenMissing),
        (Some(t), None) => t,
    };
    if guard.sessions.csrf_valid(context, token.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::CsrfTokenInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn only_json_media_types_count_as_json() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=UTF-8"));
        assert!(!is_json("text/plain; foo=application/json"));
        assert!(!is_json("application/json; boundary=x"));
        assert!(!is_json("application/x-www-form-urlencoded"));
        assert!(!is_json("application/jsonx"));
    }
}
