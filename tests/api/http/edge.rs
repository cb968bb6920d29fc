//! HTTP hygiene: JSON errors for bad input, body limits, headers, health.

use gatehouse::account::Role;
use reqwest::Method;

use crate::support::{Req, TestApp};

#[tokio::test]
async fn malformed_json_gets_400_and_the_wrong_shape_gets_422() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    for body in ["{", "not json", "{\"username\": }", ""] {
        let reply = browser
            .send(Req::new(Method::POST, "/session").raw("application/json", body))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (400, "malformed_json"),
            "{body:?}"
        );
    }
    for body in [
        "[]",
        "42",
        "{\"username\": 1, \"password\": \"x\"}",
        "{\"remember\": \"yes\"}",
    ] {
        let reply = browser
            .send(Req::new(Method::POST, "/session").raw("application/json", body))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (422, "validation_failed"),
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let body = format!(
        "{{\"username\": \"alice\", \"password\": \"{}\"}}",
        "x".repeat(100_000)
    );
    let reply = browser
        .send(Req::new(Method::POST, "/session").raw("application/json", &body))
        .await;
    assert_eq!((reply.status, reply.code()), (413, "payload_too_large"));
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let reply = browser.get("/nowhere").await;
    assert_eq!((reply.status, reply.code()), (404, "not_found"));
    let reply = browser.send(Req::new(Method::PUT, "/session")).await;
    assert_eq!((reply.status, reply.code()), (405, "method_not_allowed"));
    let reply = browser.send(Req::new(Method::TRACE, "/session")).await;
    assert_eq!(reply.status, 405);
}

#[tokio::test]
async fn a_callback_parameter_never_produces_jsonp() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for path in [
        "/session?callback=steal",
        "/users/me?callback=steal&jsonp=steal",
    ] {
        let reply = browser.get(path).await;
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(reply.body.is_object(), "{path}");
    }
}

#[tokio::test]
async fn security_headers_are_on_every_response() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    for path in ["/session", "/users/me", "/healthz", "/nowhere"] {
        let reply = browser.get(path).await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(
            reply.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        let csp = reply.header("content-security-policy").unwrap();
        for directive in [
            "default-src 'none'",
            "base-uri 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(reply.header("server").is_none(), "no version banner");
    }
}

#[tokio::test]
async fn hsts_is_sent_for_an_https_public_origin_on_a_real_host_only() {
    // Behind a proxy that terminates TLS: the public origin says https.
    let app = TestApp::spawn_with(&crate::support::BEHIND_TLS).await;
    let mut browser = app.browser();
    for path in ["/session", "/healthz", "/nowhere"] {
        let reply = browser.get(path).await;
        assert_eq!(
            reply.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path}"
        );
    }
    let local = TestApp::spawn().await;
    let reply = local.browser().get("/session").await;
    assert_eq!(reply.header("strict-transport-security"), None);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    assert_eq!(browser.get("/healthz").await.body["status"], "ok");
    assert_eq!(browser.get("/readyz").await.body["status"], "ready");
}

#[tokio::test]
async fn an_api_prefix_moves_the_api_but_not_health() {
    let app = TestApp::spawn_with(&[("GATEHOUSE__SERVER__API_PREFIX", "/api")]).await;
    let mut browser = app.browser();
    assert_eq!(browser.get("/api/session").await.body["auth"], false);
    assert_eq!(browser.get("/session").await.status, 404);
    assert_eq!(browser.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_one_sent_by_a_stranger_is_replaced() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let first = browser.get("/healthz").await;
    let second = browser
        .send(Req::new(reqwest::Method::GET, "/session").header("x-request-id", "chosen-by-client"))
        .await;
    let (a, b) = (first.header("x-request-id"), second.header("x-request-id"));
    assert!(a.is_some_and(|id| !id.is_empty()), "{:?}", first.headers);
    assert!(b.is_some_and(|id| id != "chosen-by-client"), "{b:?}");
    assert_ne!(a, b);
    let missing = browser.get("/no/such/route").await;
    assert!(missing.header("x-request-id").is_some());
}

#[tokio::test]
async fn a_request_id_set_by_a_trusted_proxy_is_kept() {
    let app =
        TestApp::spawn_with(&[("GATEHOUSE__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]")]).await;
    let mut browser = app.browser();
    let kept = browser
        .send(Req::new(reqwest::Method::GET, "/session").header("x-request-id", "edge-7f3a"))
        .await;
    assert_eq!(kept.header("x-request-id"), Some("edge-7f3a"));
    let odd = browser
        .send(Req::new(reqwest::Method::GET, "/session").header("x-request-id", "has spaces"))
        .await;
    assert_ne!(odd.header("x-request-id"), Some("has spaces"));
}
