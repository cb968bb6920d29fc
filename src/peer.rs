//! Who is calling: the peer's address and user agent, as kept on sessions and in the audit trail.
//!
//! The address is the socket peer's, unless that peer is a configured trusted proxy; then it is
//! the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (OWASP ASVS 5.0
//! V4.1: do not trust client-supplied forwarding headers from untrusted peers). A spoofed
//! header from anyone else changes nothing. A leaf: HTTP types and the configured proxy list.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};

use crate::error::ApiError;

/// Where a request came from. `Peer::default()` is a local operator (the CLI).
#[derive(Clone, Debug, Default)]
pub struct Peer {
    pub user_agent: Option<String>,
    pub ip: Option<IpAddr>,
}

/// The peers whose forwarding headers (`X-Forwarded-For`, `X-Request-Id`) are believed
/// (`server.trusted_proxies`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[ipnet::IpNet]>);

impl TrustedProxies {
    pub fn new(nets: &[ipnet::IpNet]) -> Self {
        Self(nets.into())
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The socket peer of a request, when it is one of these proxies.
    pub fn is_proxy(&self, extensions: &Extensions) -> bool {
        socket_peer(extensions).is_some_and(|ip| self.contains(&ip))
    }
}

fn socket_peer(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
}

impl Peer {
    pub fn of(proxies: &TrustedProxies, headers: &HeaderMap, extensions: &Extensions) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Self {
            user_agent,
            ip: socket_peer(extensions).map(|peer| client_ip(peer, headers, proxies)),
        }
    }

    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer
where
    TrustedProxies: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let proxies = TrustedProxies::from_ref(state);
        Ok(Self::of(&proxies, &parts.headers, &parts.extensions))
    }
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Garbage from further left was not written by our proxies; stop here.
            Err(_) => break,
        }
    }
    peer
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn xff(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TrustedProxies::new(&["10.0.0.0/8".parse().unwrap()]);
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(client_ip(stranger, &xff("1.2.3.4"), &trusted), stranger);
        assert_eq!(
            client_ip(proxy, &xff("1.2.3.4"), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_ip(proxy, &xff("6.6.6.6, 1.2.3.4, 10.0.0.7"), &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap(),
            "the rightmost untrusted entry, not a spoofed leftmost one"
        );
        assert_eq!(client_ip(proxy, &xff("junk"), &trusted), proxy);
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &trusted), proxy);
    }
}
