//! Gatehouse in front of other APIs: the gateway (`[[gateway.routes]]`, proxied after
//! Gatehouse's own CORS, CSRF, session and role rules) and forward-auth (`GET /auth/verify`,
//! for nginx `auth_request`, Traefik `forwardAuth` and Caddy `forward_auth`).
//!
//! Routes are matched on the normalised path (the normalisation CORS policies use), longest
//! prefix first, and the upstream is sent that normalised path, so `/api/public/../admin` is
//! judged and forwarded as `/api/admin`. A refused request never reaches the upstream. The
//! upstream gets the identity headers and the signed assertion (`identity`), never an incoming
//! copy of them, and never Gatehouse's own cookies.

mod forward_auth;
pub mod spa;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri, header, uri};
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::account::records::{Role, User};
use crate::config::{Access, GatewayConfig, GatewayRoute};
use crate::error::ApiError;
use crate::identity::{self, Identity};
use crate::origin::{Origin, normalise_path};
use crate::peer::{Peer, TrustedProxies};
use crate::session::{CookieNames, SessionContext};

pub use forward_auth::ForwardRequest;
pub use spa::Spa;

/// Hop-by-hop headers (RFC 9110 §7.6.1): meaningful for one connection only, never forwarded.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

pub struct Gateway {
    routes: Vec<GatewayRoute>,
    client: Client<HttpConnector, Body>,
    identity: Arc<Identity>,
    cookie_names: CookieNames,
    public_origin: Origin,
    proxies: TrustedProxies,
    upstream_timeout: Duration,
    spa: Option<Spa>,
}

impl Gateway {
    pub fn new(
        config: &GatewayConfig,
        public_origin: Origin,
        identity: Arc<Identity>,
        cookie_names: CookieNames,
        proxies: TrustedProxies,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Self {
            routes: config.routes.clone(),
            client,
            identity,
            cookie_names,
            public_origin,
            proxies,
            upstream_timeout: config.upstream_timeout,
            spa: config
                .spa_dir
                .clone()
                .and_then(|dir| Spa::new(dir, &config.spa_csp)),
        }
    }

    pub fn has_routes(&self) -> bool {
        !self.routes.is_empty()
    }

    /// The single-page app this origin serves, if configured.
    pub fn spa(&self) -> Option<&Spa> {
        self.spa.as_ref()
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The route for a request path and the normalised path, longest prefix first. A path
    /// that does not normalise (bad escapes, climbing above the root) matches nothing.
    pub fn route_for(&self, raw_path: &str) -> Option<(&GatewayRoute, String)> {
        let path = normalise_path(raw_path)?;
        // A trailing slash is part of the path the upstream sees.
        let path = if raw_path.ends_with('/') && path != "/" {
            format!("{path}/")
        } else {
            path.into_owned()
        };
        let route = self.routes.iter().find(|r| r.matches(&path))?;
        Some((route, path))
    }

    /// Whether `context` may use a route of `access`: 401 anonymous, 403 without the role.
    pub fn admit(
        access: Access,
        context: Option<&SessionContext>,
    ) -> Result<Option<&crate::session::Authenticated>, ApiError> {
        let auth = match context {
            Some(SessionContext::Authenticated(auth)) => Some(&**auth),
            _ => None,
        };
        match (access, auth) {
            (Access::Public, auth) => Ok(auth),
            (_, None) => Err(ApiError::Unauthenticated),
            // Authorization: deny by default, admin only for admin routes (ASVS 5.0 V8.2.1).
            (Access::Admin, Some(auth)) if !auth.user.role.satisfies(Role::Admin) => {
                Err(ApiError::Forbidden)
            }
            (_, Some(auth)) => Ok(Some(auth)),
        }
    }

    /// Proxies `request` to `route`'s upstream as `path` (normalised), with the identity of
    /// `who` (user and session id) when there is one.
    pub async fn forward(
        &self,
        route: &GatewayRoute,
        path: &str,
        request: Request,
        who: Option<(&User, &str)>,
    ) -> Result<Response, ApiError> {
        let (mut parts, body) = request.into_parts();
        let peer = Peer::of(&self.proxies, &parts.headers, &parts.extensions);
        let from_proxy = self.proxies.is_proxy(&parts.extensions);
        let uri = upstream_uri(route, path, parts.uri.query())?;
        let mut headers = std::mem::take(&mut parts.headers);
        strip_hop_by_hop(&mut headers);
        // Identity headers come from Gatehouse only: incoming copies are always removed.
        for name in &identity::HEADERS {
            headers.remove(name);
        }
        self.strip_own_cookies(&mut headers);
        // The upstream's own `Host` (hyper's client would otherwise format it per request); the
        // browser's goes on as `X-Forwarded-Host`.
        let host = headers.insert(header::HOST, route.host.clone());
        // Room for the forwarding and identity headers, so the map grows at most once.
        headers.reserve(3 + identity::HEADERS.len());
        if let Some(ip) = peer.ip {
            let forwarded = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
                Some(earlier) if from_proxy => format!("{earlier}, {ip}"),
                _ => ip.to_string(),
            };
            if let Ok(value) = HeaderValue::try_from(forwarded) {
                headers.insert(X_FORWARDED_FOR, value);
            }
        }
        headers.insert(
            X_FORWARDED_PROTO,
            HeaderValue::from_static(if self.public_origin.is_https() {
                "https"
            } else {
                "http"
            }),
        );
        match host {
            Some(host) => headers.insert(X_FORWARDED_HOST, host),
            None => headers.remove(X_FORWARDED_HOST),
        };
        if let Some((user, session_id)) = who {
            self.identity
                .insert_headers(&mut headers, user, session_id, &route.audience);
        }
        let mut upstream = axum::http::Request::builder()
            .method(parts.method)
            .uri(uri)
            .body(body)
            .map_err(ApiError::internal)?;
        *upstream.headers_mut() = headers;
        let answer =
            tokio::time::timeout(self.upstream_timeout, self.client.request(upstream)).await;
        let response = match answer {
            Err(_) => return Err(ApiError::UpstreamTimeout),
            Ok(Err(e)) if is_timeout(&e) => return Err(ApiError::UpstreamTimeout),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, upstream = %route.upstream, "upstream unavailable");
                return Err(ApiError::UpstreamUnavailable);
            }
            Ok(Ok(response)) => response,
        };
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, Body::new(body)).into_response())
    }

    /// Removes Gatehouse's own cookies from `Cookie` (the session secret is Gatehouse's alone);
    /// other cookies reach the upstream.
    fn strip_own_cookies(&self, headers: &mut HeaderMap) {
        let own = [
            self.cookie_names.session,
            self.cookie_names.pre,
            self.cookie_names.device,
            self.cookie_names.pending,
        ];
        let kept: Vec<String> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .map(str::trim)
            .filter(|pair| {
                let name = pair.split_once('=').map_or(*pair, |(n, _)| n).trim();
                !pair.is_empty() && !own.contains(&name)
            })
            .map(str::to_owned)
            .collect();
        headers.remove(header::COOKIE);
        if !kept.is_empty()
            && let Ok(value) = HeaderValue::try_from(kept.join("; "))
        {
            headers.insert(header::COOKIE, value);
        }
    }
}

/// The connect timeout of the connector surfaces as an error whose source chain says so.
fn is_timeout(e: &hyper_util::client::legacy::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return true;
        }
        source = err.source();
    }
    false
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// The upstream's base path joined with the request path (less the prefix when stripped).
fn upstream_uri(route: &GatewayRoute, path: &str, query: Option<&str>) -> Result<Uri, ApiError> {
    let base = route.upstream.path().trim_end_matches('/');
    let rest = if route.strip_prefix {
        path.strip_prefix(route.prefix.trim_end_matches('/'))
            .unwrap_or(path)
    } else {
        path
    };
    let mut text = String::with_capacity(base.len() + rest.len() + 2 + query.map_or(0, str::len));
    text.push_str(base);
    if !rest.starts_with('/') {
        text.push('/');
    }
    text.push_str(rest);
    if let Some(query) = query {
        text.push('?');
        text.push_str(query);
    }
    let mut parts = uri::Parts::default();
    parts.scheme = Some(uri::Scheme::HTTP);
    parts.authority = route.upstream.authority().cloned();
    parts.path_and_query = Some(uri::PathAndQuery::try_from(text).map_err(ApiError::internal)?);
    Uri::from_parts(parts).map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(prefix: &str, upstream: &str, strip: bool) -> GatewayRoute {
        GatewayRoute {
            prefix: prefix.into(),
            upstream: upstream.parse().unwrap(),
            access: Access::User,
            strip_prefix: strip,
            audience: "a".into(),
            host: crate::config::upstream_host(&upstream.parse().unwrap()),
        }
    }

    #[test]
    fn the_upstream_host_header_names_its_port_unless_it_is_80() {
        for (upstream, host) in [
            ("http://127.0.0.1:9000/v1/", "127.0.0.1:9000"),
            ("http://orders.internal", "orders.internal"),
            ("http://orders.internal:80", "orders.internal"),
            (
                "http://user:secret@orders.internal:8080",
                "orders.internal:8080",
            ),
            ("http://[::1]:9000", "[::1]:9000"),
        ] {
            assert_eq!(route("/api/", upstream, false).host, host, "{upstream}");
        }
    }

    #[test]
    fn the_upstream_path_keeps_or_strips_the_prefix_and_keeps_the_query() {
        let keep = route("/api/", "http://127.0.0.1:9000", false);
        let strip = route("/api/", "http://127.0.0.1:9000/v1/", true);
        assert_eq!(
            upstream_uri(&keep, "/api/things", Some("a=1"))
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9000/api/things?a=1"
        );
        assert_eq!(
            upstream_uri(&strip, "/api/things", None)
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9000/v1/things"
        );
        assert_eq!(
            upstream_uri(&strip, "/api", None).unwrap().to_string(),
            "http://127.0.0.1:9000/v1/"
        );
    }

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(header::TE, HeaderValue::from_static("trailers"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }
}
