//! The edge: security headers, the request log and request id (`log`), the JSON answer for a
//! method a route lacks (unknown paths reach `routes::fallback`), panics turned into a bare 500, the extractors that answer bad input with
//! [`ApiError`]s (`extract`), and who may call a route (`auth`).

pub mod auth;
pub mod extract;
mod json;
pub mod log;
pub mod pipeline;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::origin::Origin;

pub use json::{EDGE_HEADERS, Json};

/// Security headers on every response (OWASP HTTP Headers cheat sheet; ASVS 5.0 V3.4); a
/// handler's own value for one of them is kept. Values built at compile time: `from_static`
/// checks every byte, which at run time would cost more than inserting them.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 6] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        header::CONTENT_SECURITY_POLICY,
        // base-uri and object-src named although default-src covers object-src (ASVS 5.0 V3.4.3).
        HeaderValue::from_static(
            "default-src 'none'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'",
        ),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// `Strict-Transport-Security` when browsers reach us over https on a real host name (ASVS 5.0
/// V3.4.1, RFC 6797): one year, this host only, since its subdomains may be other people's
/// servers. None for http or loopback origins, where it would pin a development machine.
pub fn hsts(public_origin: &Origin) -> Option<HeaderValue> {
    (public_origin.is_https() && !public_origin.is_loopback())
        .then(|| HeaderValue::from_static("max-age=31536000"))
}

/// Adds [`SECURITY_HEADERS`] and the [`hsts`] value to a response's headers (the edge calls
/// it for every response).
pub fn security_headers(headers: &mut HeaderMap, hsts: Option<&HeaderValue>) {
    for (name, value) in SECURITY_HEADERS {
        headers.entry(name).or_insert(value);
    }
    if let Some(hsts) = hsts {
        headers
            .entry(header::STRICT_TRANSPORT_SECURITY)
            .or_insert_with(|| hsts.clone());
    }
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// A panic becomes a bare `internal` error; the details go to the log.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    ApiError::internal(anyhow::anyhow!("handler panicked: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn body_text(response: Response) -> String {
        let bytes = to_bytes(response.into_body(), 4096).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_panic_and_an_internal_error_answer_500_without_their_details() {
        let from_panic = panic_response(Box::new("boom: SELECT secret FROM keys".to_owned()));
        let from_error =
            ApiError::internal(anyhow::anyhow!("db at /var/secret.db: SELECT")).into_response();
        for response in [from_panic, from_error] {
            assert_eq!(response.status(), 500);
            let text = body_text(response).await;
            assert!(text.contains("\"internal\""), "{text}");
            assert!(
                !text.contains("SELECT") && !text.contains("secret"),
                "{text}"
            );
        }
    }
}
