//! Forward-auth: a proxy in front of an API asks Gatehouse about each request it holds
//! (`GET /auth/verify`), and passes it on only on a 200, with the identity headers of that
//! answer.

use axum::http::{Extensions, HeaderMap, Method};

use super::Gateway;
use crate::config::Access;
use crate::csrf::{CsrfGuard, is_unsafe};
use crate::error::ApiError;
use crate::session::SessionContext;

/// The request a proxy holds, as far as forward-auth needs it.
#[derive(Debug)]
pub struct ForwardRequest {
    pub method: Method,
    /// Path (and query) of the original request, if the proxy said.
    pub uri: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, names: [&str; 2]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| headers.get(*n))
        .and_then(|v| v.to_str().ok())
}

impl Gateway {
    /// The original method and URI from `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik,
    /// Caddy) or `X-Original-Method`/`X-Original-URI` (nginx). Believed only from a trusted
    /// proxy (`server.trusted_proxies`, OWASP ASVS 5.0 V4.1); anyone else is asking about their
    /// own `GET`.
    pub fn original(&self, headers: &HeaderMap, extensions: &Extensions) -> ForwardRequest {
        if !self.proxies.is_proxy(extensions) {
            return ForwardRequest {
                method: Method::GET,
                uri: None,
            };
        }
        let method = header(headers, ["x-forwarded-method", "x-original-method"])
            .and_then(|m| Method::from_bytes(m.trim().as_bytes()).ok())
            .unwrap_or(Method::GET);
        let uri = header(headers, ["x-forwarded-uri", "x-original-uri"]).map(str::to_owned);
        ForwardRequest { method, uri }
    }

    /// Whether the original request may pass: the identity headers to hand back on 200, or the
    /// refusal. The required access is `?access=` when the proxy's configuration names it, else
    /// that of the gateway route matching the original path, else `user`. An unsafe original
    /// method meets the same CSRF rules as Gatehouse's own routes.
    pub fn verify(
        &self,
        original: &ForwardRequest,
        access: Option<Access>,
        context: &SessionContext,
        headers: &HeaderMap,
        csrf: &CsrfGuard,
    ) -> Result<HeaderMap, ApiError> {
        let path = original
            .uri
            .as_deref()
            .map(|uri| uri.split(['?', '#']).next().unwrap_or_default());
        let route = path.and_then(|p| self.route_for(p)).map(|(route, _)| route);
        let access = access.or(route.map(|r| r.access)).unwrap_or(Access::User);
        let audience = route.map_or(self.public_origin.as_str(), |r| r.audience.as_str());
        if is_unsafe(&original.method) {
            csrf.check(headers, context)?;
        }
        let who = Self::admit(access, Some(context))?;
        Ok(match who {
            Some(auth) => self
                .identity
                .headers(&auth.user, &auth.session.id, audience),
            None => HeaderMap::new(),
        })
    }
}
