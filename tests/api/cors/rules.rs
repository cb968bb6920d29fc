//! CORS: exact-origin grants with credentials, preflights, and headers on errors.

use reqwest::Method;

use crate::support::{APP_ORIGIN, Req, TestApp};

fn preflight(origin: &str, method: &str, headers: &str) -> Req {
    Req::new(Method::OPTIONS, "/session")
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
}

#[tokio::test]
async fn a_preflight_from_the_allowlisted_origin_is_granted_with_credentials() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.origin = None;
    let reply = browser
        .send(preflight(
            APP_ORIGIN,
            "POST",
            "content-type,x-csrf-token,x-requested-with",
        ))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));
    let methods = reply.header("access-control-allow-methods").unwrap();
    for m in ["GET", "POST", "PUT", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert!(
        reply
            .header_all("vary")
            .iter()
            .any(|v| v.contains("Origin"))
    );
}

#[tokio::test]
async fn preflights_from_any_other_origin_get_no_grant() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.origin = None;
    for origin in [
        "http://evil.example",
        "null",
        "http://localhost:8081.evil.example",
        "http://evil.localhost:8081",
        "http://localhost:808",
        "https://localhost:8081",
        "http://localhost:8081/",
        "http://localhost",
        "*",
        "",
    ] {
        let reply = browser
            .send(preflight(origin, "POST", "content-type"))
            .await;
        assert_eq!(reply.status, 403, "{origin}");
        assert_eq!(reply.code(), "origin_not_allowed");
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
        assert!(
            reply.header("access-control-allow-credentials").is_none(),
            "{origin}"
        );
    }
}

#[tokio::test]
async fn preflights_for_methods_or_headers_not_allowed_get_no_grant() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.origin = None;
    for (method, headers) in [
        ("TRACE", "content-type"),
        ("CONNECT", ""),
        ("POST", "authorization"),
        ("POST", "x-http-method-override"),
    ] {
        let reply = browser.send(preflight(APP_ORIGIN, method, headers)).await;
        assert_eq!(reply.status, 403, "{method} {headers}");
        assert_eq!(reply.code(), "preflight_refused");
        assert!(reply.header("access-control-allow-origin").is_none());
    }
}

#[tokio::test]
async fn simple_responses_grant_only_the_exact_allowlisted_origin() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let reply = browser.get("/session").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    browser.origin = Some("http://evil.example".into());
    let reply = browser.get("/session").await;
    assert!(reply.header("access-control-allow-origin").is_none());
    assert!(reply.header("access-control-allow-credentials").is_none());
}

#[tokio::test]
async fn error_responses_keep_their_cors_headers() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    for (method, path) in [
        (Method::GET, "/users/me"),
        (Method::GET, "/nowhere"),
        (Method::POST, "/session"),
    ] {
        let reply = browser.send(Req::new(method, path)).await;
        assert!(reply.status >= 400);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "{path}"
        );
        assert!(reply.body["error"]["code"].is_string());
    }
}

#[tokio::test]
async fn every_response_varies_on_origin_and_never_echoes_the_requests_vary() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.origin = None;
    for path in ["/session", "/healthz", "/nowhere"] {
        let reply = browser
            .send(Req::new(Method::GET, path).header("vary", "Cookie, X-Evil"))
            .await;
        let vary = reply.header_all("vary").join(",");
        assert!(vary.contains("Origin"), "{path}: {vary}");
        assert!(!vary.contains("X-Evil"), "{path}: {vary}");
    }
}
