//! One metrics sample and one structured log line per request, and the request id that ties a
//! request's log lines together.
//!
//! The id is the request's own `X-Request-Id` when a trusted proxy sent it (and it is short and
//! plain), otherwise a new one; it is in every log line written while the request runs (a
//! tracing span) and in the response's `X-Request-Id`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use tracing::Span;

use crate::metrics::{Metrics, Route};
use crate::peer::TrustedProxies;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What the log layer needs: the metrics and whose request ids to believe.
#[derive(Clone)]
pub struct RequestLog {
    metrics: Arc<Metrics>,
    proxies: TrustedProxies,
    ids: Arc<RequestIds>,
}

/// New request ids: a random per-process prefix and a counter, unique across nodes without a
/// random draw per request.
struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    /// `{prefix}-{n in hex}`, written without `format!` (it runs for every request).
    fn format(&self, n: u64) -> HeaderValue {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let prefix = self.prefix.as_bytes();
        let digits = (u64::BITS - n.leading_zeros()).div_ceil(4).max(1) as usize;
        let mut id = [0u8; 32];
        id[..prefix.len()].copy_from_slice(prefix);
        id[prefix.len()] = b'-';
        let hex = &mut id[prefix.len() + 1..prefix.len() + 1 + digits];
        for (i, digit) in hex.iter_mut().rev().enumerate() {
            *digit = HEX[((n >> (4 * i)) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&id[..prefix.len() + 1 + digits])
            .unwrap_or(HeaderValue::from_static("-"))
    }
}

impl RequestLog {
    pub fn new(metrics: Arc<Metrics>, proxies: TrustedProxies) -> Self {
        let prefix = crate::crypto::encode(&crate::crypto::random_bytes::<6>());
        Self {
            metrics,
            proxies,
            ids: Arc::new(RequestIds {
                prefix,
                next: AtomicU64::new(1),
            }),
        }
    }

    fn id_for(&self, request: &Request) -> HeaderValue {
        let forwarded = request
            .headers()
            .get(&REQUEST_ID)
            .filter(|v| is_plain_id(v.as_bytes()));
        if let Some(id) = forwarded
            && self.proxies.is_proxy(request.extensions())
        {
            return id.clone();
        }
        let n = self.ids.next.fetch_add(1, Ordering::Relaxed);
        self.ids.format(n)
    }
}

/// At most 64 of `A-Z a-z 0-9 - _ . :`: safe to log and to echo.
fn is_plain_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A request being logged: what its log line and metrics sample need at the end.
pub struct Entry {
    started: Instant,
    method: Method,
    route: Route,
    id: HeaderValue,
    span: Span,
}

impl Entry {
    /// The span every log line written while the request runs belongs to (it names the id).
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl RequestLog {
    /// Starts logging a request: its id, and the span its other log lines go in.
    pub fn begin(&self, request: &Request) -> Entry {
        let id = self.id_for(request);
        // Written with `Display`: the id is plain (see `is_plain_id`), and `Debug` would escape
        // it character by character on every request.
        let span = tracing::info_span!("request", id = %id.to_str().unwrap_or_default());
        Entry {
            started: Instant::now(),
            method: request.method().clone(),
            route: Route::new(request.extensions().get::<MatchedPath>().cloned()),
            id,
            span,
        }
    }

    /// Method, route (never the raw URI, which could carry anything), status and latency, and
    /// the response's `X-Request-Id`. Refused and failed requests (status 400 and up) are logged
    /// at `info`; the rest at `debug`, so that writing a line for every successful check does not
    /// cost more than the check itself (see them with `log.filter = "info,gatehouse::http=debug"`).
    pub fn end(&self, entry: Entry, response: &mut Response) {
        let Entry {
            started,
            method,
            route,
            id,
            span,
        } = entry;
        let latency = started.elapsed();
        let status = response.status().as_u16();
        let latency_us = latency.as_micros() as u64;
        let route_name = route.as_str();
        // The span is entered only for a line that is written (entering costs more than the
        // level check).
        if status >= 400 {
            span.in_scope(|| {
                tracing::info!(%method, route = route_name, status, latency_us, "request");
            });
        } else if tracing::enabled!(tracing::Level::DEBUG) {
            span.in_scope(|| {
                tracing::debug!(%method, route = route_name, status, latency_us, "request");
            });
        }
        self.metrics.request(&method, route, status, latency);
        response.headers_mut().insert(REQUEST_ID, id);
    }
}

#[cfg(test)]
mod tests {
    use super::{RequestIds, is_plain_id};

    #[test]
    fn new_request_ids_are_the_prefix_and_the_counter_in_hex() {
        let ids = RequestIds {
            prefix: "AbCd-_12".to_owned(),
            next: Default::default(),
        };
        for (n, id) in [
            (0, "AbCd-_12-0"),
            (0x1dde5, "AbCd-_12-1dde5"),
            (u64::MAX, "AbCd-_12-ffffffffffffffff"),
        ] {
            assert_eq!(ids.format(n), id);
        }
    }

    #[test]
    fn only_short_plain_request_ids_are_taken_from_a_proxy() {
        assert!(is_plain_id(b"abc-123_x.y:z"));
        assert!(!is_plain_id(b""));
        assert!(!is_plain_id(b"a b"));
        assert!(!is_plain_id(b"a\"b"));
        assert!(!is_plain_id(&[b'a'; 65]));
    }
}
