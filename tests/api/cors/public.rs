//! Public resources and per-resource CORS: the race results any origin may read.

use gatehouse::account::Role;
use reqwest::Method;

use crate::support::{APP_ORIGIN, Req, TestApp};

const STRANGER: &str = "http://stranger.example";

fn preflight(path: &str, origin: &str, method: &str, headers: &str) -> Req {
    Req::new(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
}

#[tokio::test]
async fn race_results_are_readable_from_any_origin_without_credentials() {
    let app = TestApp::spawn().await;
    let mut stranger = app.browser();
    stranger.origin = Some(STRANGER.into());
    for method in [Method::GET, Method::POST] {
        let reply = stranger
            .send(Req::new(method.clone(), "/race/results"))
            .await;
        assert_eq!(reply.status, 200, "{method}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert!(reply.header("access-control-allow-credentials").is_none());
        assert!(
            reply.set_cookies.is_empty(),
            "no cookies from a public resource"
        );
        assert_eq!(reply.body["standings"].as_array().unwrap().len(), 8);
        assert!(reply.body["lap"].is_i64());
        for key in ["position", "driver", "team", "gap"] {
            assert!(reply.body["standings"][0].get(key).is_some(), "{key}");
        }
    }
}

#[tokio::test]
async fn the_race_advances_with_the_clock() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    let before = browser.get("/race/results").await.body["lap"]
        .as_i64()
        .unwrap();
    app.clock
        .advance(time::Duration::seconds(gatehouse::race::LAP_SECONDS));
    let after = browser.get("/race/results").await.body["lap"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before % gatehouse::race::LAPS + 1);
}

#[tokio::test]
async fn the_race_ignores_cookies_and_needs_no_csrf_token() {
    let app = TestApp::spawn().await;
    let mut user = app.logged_in("alice", Role::User).await;
    user.csrf = None;
    user.origin = Some(STRANGER.into());
    let reply = user
        .send(Req::new(Method::POST, "/race/results").raw("text/plain", "x"))
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("access-control-allow-credentials").is_none());
    assert_eq!(app.count("sessions").await, 1);
}

#[tokio::test]
async fn seed_004s_preflight_is_granted_on_the_race_and_refused_on_the_directory() {
    let app = TestApp::spawn().await;
    let mut curl = app.browser();
    curl.origin = None;
    let reply = curl
        .send(preflight(
            "/race/results",
            STRANGER,
            "POST",
            "Origin, Accept, Content-Type",
        ))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    assert!(reply.header("access-control-allow-credentials").is_none());
    assert!(
        reply
            .header("access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    let reply = curl
        .send(preflight("/employees", STRANGER, "GET", "content-type"))
        .await;
    assert_eq!(reply.status, 403);
    assert!(reply.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn preflights_ask_each_resource_for_its_own_methods_and_headers() {
    let app = TestApp::spawn().await;
    let mut curl = app.browser();
    curl.origin = None;
    for (method, headers) in [
        ("DELETE", ""),
        ("PUT", "content-type"),
        ("POST", "x-csrf-token"),
    ] {
        let reply = curl
            .send(preflight("/race/results", STRANGER, method, headers))
            .await;
        assert_eq!(
            (reply.status, reply.code()),
            (403, "preflight_refused"),
            "{method} {headers}"
        );
        assert!(reply.header("access-control-allow-origin").is_none());
    }
    let reply = curl
        .send(preflight(
            "/employees/1",
            APP_ORIGIN,
            "DELETE",
            "x-csrf-token",
        ))
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn path_traversal_cannot_borrow_the_public_policy() {
    let app = TestApp::spawn().await;
    let mut stranger = app.logged_in("alice", Role::User).await;
    stranger.origin = Some(STRANGER.into());
    for path in [
        "/race/../employees",
        "/race/%2e%2e/employees",
        "/race%2F..%2Femployees",
        "/race/results/../../users/me",
        "/race/./results/%2E%2E/%2E%2E/session",
        "//race/results",
    ] {
        let reply = stranger.get(path).await;
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{path}: {:?}",
            reply.headers
        );
        let reply = stranger.send(preflight(path, STRANGER, "GET", "")).await;
        assert_eq!(reply.status, 403, "{path}");
        assert!(
            reply.header("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn configured_resources_get_their_own_policies() {
    let app = TestApp::spawn_with(&[("GATEHOUSE__SERVER__API_PREFIX", "/api")]).await;
    let mut stranger = app.browser();
    stranger.origin = Some(STRANGER.into());
    let reply = stranger.get("/api/race/results").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("*"),
        "patterns are relative to the prefix"
    );
    let reply = stranger.get("/race/results").await;
    assert_eq!(reply.status, 404);
    assert!(reply.header("access-control-allow-origin").is_none());
}
