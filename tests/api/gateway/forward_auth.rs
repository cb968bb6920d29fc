//! `GET /auth/verify` asked directly, as a proxy would ask it.

use gatehouse::account::Role;
use reqwest::Method;

use super::gateway_app;
use crate::support::upstream::Upstream;
use crate::support::{Browser, Req, TestApp};

const TRUSTED: (&str, &str) = ("GATEHOUSE__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]");

/// What nginx sends: the original method and URI, the client's cookies and headers.
fn asked(method: &str, uri: &str) -> Req {
    Req::new(Method::GET, "/auth/verify")
        .header("x-original-method", method)
        .header("x-original-uri", uri)
}

async fn logged_in_via_proxy(app: &TestApp, name: &str, role: Role) -> Browser {
    let mut browser = app.logged_in(name, role).await;
    browser.origin = Some(crate::support::APP_ORIGIN.into());
    browser
}

#[tokio::test]
async fn a_logged_in_caller_is_allowed_with_its_identity_and_an_anonymous_one_gets_401() {
    let app = TestApp::spawn_with(&[TRUSTED]).await;
    let mut browser = logged_in_via_proxy(&app, "ada", Role::User).await;
    let session = browser.get("/session").await.body;
    let allowed = browser.send(asked("GET", "/orders/7")).await;
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    assert_eq!(
        allowed.header("content-length"),
        Some("0"),
        "no body: proxies reuse the connection only once they have read the answer"
    );
    assert_eq!(allowed.header("gatehouse-username"), Some("ada"));
    assert_eq!(allowed.header("gatehouse-role"), Some("user"));
    assert_eq!(
        allowed.header("gatehouse-session-id"),
        session["id"].as_str()
    );
    assert!(allowed.header("gatehouse-assertion").is_some());

    let mut anonymous = app.browser();
    let refused = anonymous.send(asked("GET", "/orders/7")).await;
    assert_eq!((refused.status, refused.code()), (401, "unauthenticated"));
    assert!(refused.header("gatehouse-user-id").is_none());
}

#[tokio::test]
async fn the_required_access_comes_from_the_query_or_the_matching_gateway_route() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[TRUSTED]).await;
    let mut user = logged_in_via_proxy(&app, "bob", Role::User).await;
    let admin_route = user.send(asked("GET", "/api/admin/x")).await;
    assert_eq!((admin_route.status, admin_route.code()), (403, "forbidden"));
    let by_query = user
        .send(Req::new(Method::GET, "/auth/verify?access=admin").header("x-original-uri", "/other"))
        .await;
    assert_eq!(by_query.status, 403);
    let mut anonymous = app.browser();
    let public = anonymous.send(asked("GET", "/api/public/news")).await;
    assert_eq!(public.status, 200);
    assert_eq!(public.header("content-length"), Some("0"));
    assert!(public.header("gatehouse-user-id").is_none());
    let bad = anonymous
        .send(Req::new(Method::GET, "/auth/verify?access=root"))
        .await;
    assert_eq!((bad.status, bad.code()), (422, "validation_failed"));
    assert!(
        upstream.seen().is_empty(),
        "forward-auth never calls the upstream itself"
    );
}

#[tokio::test]
async fn an_unsafe_original_method_meets_the_csrf_rules() {
    let app = TestApp::spawn_with(&[TRUSTED]).await;
    let mut browser = logged_in_via_proxy(&app, "cyd", Role::User).await;
    let token = browser.csrf.take();
    let missing = browser.send(asked("POST", "/orders")).await;
    assert_eq!(
        (missing.status, missing.code()),
        (403, "csrf_token_missing")
    );
    browser.csrf = token;
    let form = browser
        .send(
            asked("POST", "/orders")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("content-length", "5"),
        )
        .await;
    assert_eq!(form.status, 415);
    let mut hostile = browser.clone();
    hostile.origin = Some("https://evil.example".into());
    assert_eq!(
        hostile.send(asked("DELETE", "/orders/1")).await.code(),
        "origin_not_allowed"
    );
    let ok = browser
        .send(asked("POST", "/orders").header("content-type", "application/json"))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(
        app.audit_kinds()
            .await
            .iter()
            .filter(|k| *k == "request_refused")
            .count()
            >= 3
    );
}

#[tokio::test]
async fn forwarded_method_and_uri_are_ignored_from_an_untrusted_peer() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut user = logged_in_via_proxy(&app, "dee", Role::User).await;
    user.csrf = None;
    // Not a trusted proxy: this is the caller's own GET, judged as `user`.
    let answer = user
        .send(
            Req::new(Method::GET, "/auth/verify")
                .header("x-forwarded-method", "POST")
                .header("x-forwarded-uri", "/api/admin/x"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}
