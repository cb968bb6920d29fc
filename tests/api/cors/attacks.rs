//! CORS attacks: origins that are not exactly on the allowlist, several `Origin` headers, and
//! caches that could serve one origin's grant to another.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;

use crate::support::{APP_ORIGIN, Req, TestApp};

/// Origins an attacker might hope a sloppy matcher confuses with `http://localhost:8081`.
const LOOK_ALIKES: &[&str] = &[
    // reflected arbitrary origins
    "http://evil.example",
    "https://attacker.test:8081",
    // null: sandboxed iframes, file: pages, redirects
    "null",
    "NULL",
    // prefix, suffix and substring look-alikes
    "http://localhost:8081.evil.example",
    "http://localhost:80811",
    "http://localhost:808",
    "http://evillocalhost:8081",
    "http://localhost.evil.example:8081",
    "http://xlocalhost:8081",
    "http://localhost:8081evil",
    "http://evil.example/http://localhost:8081",
    "http://evil.example?http://localhost:8081",
    // other schemes and ports
    "https://localhost:8081",
    "ws://localhost:8081",
    "file://localhost:8081",
    "http://localhost",
    "http://localhost:80",
    "http://localhost:8080",
    "http://localhost:08081",
    // sibling and child hosts
    "http://app.localhost:8081",
    "http://sub.localhost:8081",
    "http://127.0.0.1:8081",
    "http://[::1]:8081",
    // malformed or non-canonical spellings
    "http://localhost:8081/",
    "http://localhost:8081/path",
    "HTTP://LOCALHOST:8081",
    "http://LocalHost:8081",
    "http://localhost.:8081",
    "http://user@localhost:8081",
    "http://localhost:8081#",
    "http:/localhost:8081",
    "//localhost:8081",
    "localhost:8081",
    "http://localhost:8081, http://evil.example",
    "http://evil.example, http://localhost:8081",
    "http://localhost%3A8081",
    "*",
    "",
];

fn preflight(path: &str, origin: &str) -> Req {
    Req::new(Method::OPTIONS, path)
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-csrf-token",
        )
}

fn assert_no_grant(reply: &crate::support::Reply, what: &str) {
    assert!(
        reply.header("access-control-allow-origin").is_none(),
        "{what}: granted {:?}",
        reply.header("access-control-allow-origin")
    );
    assert!(
        reply.header("access-control-allow-credentials").is_none(),
        "{what}: credentials allowed"
    );
}

#[tokio::test]
async fn no_look_alike_origin_gets_a_grant_on_preflights_answers_or_errors() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for origin in LOOK_ALIKES {
        browser.origin = None;
        let reply = browser.send(preflight("/session", origin)).await;
        assert_eq!(reply.status, 403, "preflight from {origin:?}");
        assert_no_grant(&reply, &format!("preflight from {origin:?}"));
        browser.origin = Some((*origin).to_owned());
        for path in ["/session", "/users/me", "/nowhere"] {
            let reply = browser.get(path).await;
            assert_no_grant(&reply, &format!("GET {path} from {origin:?}"));
        }
    }
    // The control: the allowlisted origin itself is granted.
    browser.origin = Some(APP_ORIGIN.into());
    let reply = browser.get("/users/me").await;
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
}

#[tokio::test]
async fn the_public_resource_answers_a_wildcard_and_never_reflects_or_grants_credentials() {
    let app = TestApp::spawn().await;
    let mut browser = app.browser();
    for origin in LOOK_ALIKES.iter().chain(&[APP_ORIGIN]) {
        browser.origin = Some((*origin).to_owned());
        let reply = browser.get("/race/results").await;
        assert_eq!(reply.status, 200, "{origin:?}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            Some("*"),
            "{origin:?}"
        );
        assert!(
            reply.header("access-control-allow-credentials").is_none(),
            "{origin:?}"
        );
    }
}

#[tokio::test]
async fn several_origin_headers_get_no_grant_even_when_each_is_allowed() {
    let app = TestApp::spawn().await;
    let mut browser = app.logged_in("alice", Role::User).await;
    for second in [APP_ORIGIN, "http://evil.example"] {
        let reply = browser
            .send(Req::new(Method::GET, "/users/me").header("origin", second))
            .await;
        assert_no_grant(&reply, &format!("two origins, the second {second}"));
        browser.origin = None;
        let reply = browser
            .send(preflight("/session", APP_ORIGIN).header("origin", second))
            .await;
        assert_eq!(reply.status, 403);
        assert_no_grant(&reply, &format!("preflight with {second} too"));
        browser.origin = Some(APP_ORIGIN.into());
    }
}

#[tokio::test]
async fn every_kind_of_response_varies_on_origin_and_ignores_the_requests_vary() {
    let app = TestApp::spawn().await;
    let mut user = app.logged_in("alice", Role::User).await;
    let mut anonymous = app.browser();
    anonymous.get("/session").await;
    let big = "x".repeat(100_000);
    // (what, sent by the logged-in user?, request)
    let cases: Vec<(&str, bool, Req)> = vec![
        ("200", true, Req::new(Method::GET, "/users/me")),
        ("preflight 204", false, preflight("/session", APP_ORIGIN)),
        (
            "preflight 403",
            false,
            preflight("/session", "http://evil.example"),
        ),
        ("401", false, Req::new(Method::GET, "/users/me")),
        ("403 forbidden", true, Req::new(Method::GET, "/users")),
        ("404", false, Req::new(Method::GET, "/nowhere")),
        (
            "405",
            false,
            Req::new(Method::PUT, "/session").json(json!({})),
        ),
        (
            "413",
            false,
            Req::new(Method::POST, "/session").raw("application/json", &big),
        ),
        (
            "415",
            false,
            Req::new(Method::POST, "/session").raw("text/plain", "{}"),
        ),
        (
            "422",
            false,
            Req::new(Method::POST, "/session").json(json!({})),
        ),
        ("public", false, Req::new(Method::GET, "/race/results")),
        ("health", false, Req::new(Method::GET, "/healthz")),
        ("metrics", false, Req::new(Method::GET, "/metrics")),
        ("openapi", false, Req::new(Method::GET, "/openapi.json")),
    ];
    for (what, logged_in, req) in cases {
        let browser = if logged_in { &mut user } else { &mut anonymous };
        let reply = browser.send(req.header("vary", "Cookie, X-Poison")).await;
        let vary = reply.header_all("vary").join(", ");
        assert!(
            vary.split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("origin")),
            "{what} ({}): vary {vary:?}",
            reply.status
        );
        assert!(!vary.contains("X-Poison"), "{what}: vary {vary:?}");
    }
}
