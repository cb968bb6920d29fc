//! CSRF: origin, content type and token checks on every unsafe request.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{API_ORIGIN, Req, TestApp};

fn sign_up_body(name: &str) -> serde_json::Value {
    json!({"username": name, "password": "correct horse battery staple"})
}

#[tokio::test]
async fn sign_up_without_a_token_is_refused_and_creates_nobody() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let reply = browser.post("/users", sign_up_body("mallory")).await;
    assert_eq!((reply.status, reply.code()), (403, "csrf_token_missing"));
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn empty_and_wrong_tokens_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for (token, code) in [
        ("", "csrf_token_missing"),
        ("not-the-token", "csrf_token_invalid"),
    ] {
        browser.csrf = Some(token.into());
        let reply = browser.delete("/session").await;
        assert_eq!((reply.status, reply.code()), (403, code), "token {token:?}");
    }
    browser.csrf = None;
    let reply = browser.delete("/session").await;
    assert_eq!((reply.status, reply.code()), (403, "csrf_token_missing"));
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(browser.get("/session").await.body["auth"], true);
}

#[tokio::test]
async fn another_sessions_token_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.logged_in("alice", Role::User).await;
    let mut bob = app.logged_in("bob", Role::User).await;
    bob.csrf = alice.csrf.clone();
    let reply = bob.delete("/session").await;
    assert_eq!((reply.status, reply.code()), (403, "csrf_token_invalid"));
    assert_eq!(app.count("sessions").await, 2);
    // An anonymous visitor's token does not work for another anonymous visitor either.
    let mut one = app.browser();
    let mut two = app.browser();
    one.get("/session").await;
    two.get("/session").await;
    two.csrf = one.csrf.clone();
    assert_eq!(
        two.post("/users", sign_up_body("mallory")).await.code(),
        "csrf_token_invalid"
    );
    assert_eq!(app.count("users").await, 2);
}

#[tokio::test]
async fn several_token_headers_are_refused() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    let token = browser.csrf.clone().unwrap();
    let reply = browser
        .send(Req::new(Method::DELETE, "/session").header("x-csrf-token", &token))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "csrf_token_invalid"));
}

#[tokio::test]
async fn text_plain_and_form_posts_are_refused_and_create_nobody() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let body = sign_up_body("mallory").to_string();
    for content_type in [
        "text/plain",
        "text/plain; foo=application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; boundary=x",
        "application/jsonp",
    ] {
        let reply = browser
            .send(Req::new(Method::POST, "/users").raw(content_type, &body))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (415, "unsupported_media_type"),
            "{content_type}"
        );
    }
    // A body with no content type at all.
    let reply = browser
        .send(Req {
            content_type: None,
            ..Req::new(Method::POST, "/users").raw("x", &body)
        })
        .await;
    assert_eq!(reply.status, 415);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn json_with_a_utf8_charset_is_accepted() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    browser.get("/session").await;
    let body = sign_up_body("alice").to_string();
    let reply = browser
        .send(Req::new(Method::POST, "/users").raw("application/json; charset=UTF-8", &body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[tokio::test]
async fn disallowed_null_and_look_alike_origins_cannot_write_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for origin in [
        "http://evil.example",
        "null",
        "http://localhost:8081.evil.example",
        "http://localhost:80811",
        "https://localhost:8081",
        "http://localhost:8082",
        "http://sub.localhost:8081",
        "http://localhost:8081/",
        "HTTP://LOCALHOST:8081",
        "http://127.0.0.1:8081",
    ] {
        browser.origin = Some(origin.into());
        let reply = browser.delete("/session").await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "origin_not_allowed"),
            "{origin}"
        );
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn two_origin_headers_are_refused() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    let reply = browser
        .send(Req::new(Method::DELETE, "/session").header("origin", "http://evil.example"))
        .await;
    assert_eq!((reply.status, reply.code()), (403, "origin_not_allowed"));
}

#[tokio::test]
async fn the_api_origin_itself_and_clients_without_origin_may_write_with_the_token() {
    let app = TestApp::spawn().await;
    let mut same_origin = app.logged_in("alice", Role::User).await;
    same_origin.origin = Some(API_ORIGIN.into());
    assert_eq!(same_origin.delete("/session").await.status, 200);
    let mut cli = app.logged_in("bob", Role::User).await;
    cli.origin = None;
    assert_eq!(cli.delete("/session").await.status, 200);
}

#[tokio::test]
async fn method_override_headers_and_parameters_are_ignored() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for (path, header) in [
        ("/session", "x-http-method-override"),
        ("/session", "x-method-override"),
        ("/session?_method=DELETE", "x-http-method"),
    ] {
        let reply = browser
            .send(Req::new(Method::GET, path).header(header, "DELETE"))
            .await;
        assert_eq!(reply.body["auth"], true, "{path} {header}");
    }
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn tokens_in_the_url_or_body_are_not_accepted() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let token = browser.get("/session").await.body["_csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    browser.csrf = None;
    let mut body = sign_up_body("mallory");
    body["_csrf"] = json!(token);
    let reply = browser
        .post(&format!("/users?_csrf={token}&csrf_token={token}"), body)
        .await;
    assert_eq!((reply.status, reply.code()), (403, "csrf_token_missing"));
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn safe_methods_change_nothing() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
        for path in ["/session", "/users", "/users/me"] {
            browser.send(Req::new(method.clone(), path)).await;
        }
    }
    assert_eq!(app.count("sessions").await, 1);
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn a_cross_site_request_without_an_origin_is_refused_by_fetch_metadata_even_with_the_token() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    browser.origin = None;
    for site in ["cross-site", "Cross-Site"] {
        let reply = browser
            .send(Req::new(Method::DELETE, "/session").header("sec-fetch-site", site))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "origin_not_allowed"),
            "{site}"
        );
    }
    assert_eq!(browser.get("/session").await.body["auth"], true);
    // The same request marked same-site, or from the allowlisted cross-site app, goes through.
    browser.origin = Some(crate::support::APP_ORIGIN.into());
    let reply = browser
        .send(Req::new(Method::DELETE, "/session").header("sec-fetch-site", "cross-site"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(app.count("sessions").await, 0);
}
