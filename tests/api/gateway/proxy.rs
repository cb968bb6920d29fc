//! The gateway: who reaches the upstream, with what identity, and what the upstream never sees.

use std::time::Duration;

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{gateway_app, verify_assertion};
use crate::support::upstream::Upstream;
use crate::support::{Req, raw_http, statuses};

#[tokio::test]
async fn a_logged_in_read_reaches_the_upstream_with_a_verifiable_identity_and_no_session_cookie() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("ada", Role::User).await;
    let session = browser.get("/session").await.body;
    browser.cookies.insert("theme".into(), "dark".into());
    let reply = browser
        .send(
            Req::new(Method::GET, "/api/things?color=red")
                .header("gatehouse-user-id", "999")
                .header("gatehouse-role", "admin")
                .header("gatehouse-assertion", "forged"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    assert_eq!(reply.body["path"], "/api/things");
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.uri, "/api/things?color=red");
    assert_eq!(
        seen.header("gatehouse-user-id"),
        Some(session["user"]["id"].to_string().as_str())
    );
    assert_eq!(seen.header("gatehouse-username"), Some("ada"));
    assert_eq!(seen.header("gatehouse-role"), Some("user"));
    assert_eq!(seen.header("gatehouse-session-id"), session["id"].as_str());
    assert_eq!(seen.headers.get_all("gatehouse-user-id").iter().count(), 1);
    let cookies = seen.header("cookie").unwrap_or_default();
    assert_eq!(
        cookies, "theme=dark",
        "only the app's own cookies: {cookies}"
    );
    assert_eq!(seen.header("x-forwarded-for"), Some("127.0.0.1"));
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert!(seen.header("x-forwarded-host").is_some());
    // The upstream is addressed by its own name, not the browser's.
    assert_eq!(
        seen.header("host"),
        Some(upstream.addr.to_string().as_str())
    );
    assert_eq!(seen.headers.get_all("host").iter().count(), 1);

    let jwks = browser.get("/.well-known/jwks.json").await.body;
    let now = gatehouse::clock::Clock::now(&*app.clock).unix_timestamp();
    let assertion = seen.header("gatehouse-assertion").unwrap();
    let claims = verify_assertion(&jwks, assertion, now).expect("verifies");
    assert_eq!(claims["sub"], session["user"]["id"].to_string());
    assert_eq!(claims["name"], "ada");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["sid"], session["id"]);
    assert_eq!(claims["iss"], crate::support::API_ORIGIN);
    assert_eq!(claims["aud"], upstream.url());
    assert_eq!(claims["iat"], now);
    let lifetime = claims["exp"].as_i64().unwrap() - now;
    assert!((1..=60).contains(&lifetime), "{lifetime}");
    assert_eq!(
        verify_assertion(&jwks, assertion, now + lifetime),
        Err("expired".into()),
        "an upstream refuses it once it has expired"
    );
}

#[tokio::test]
async fn a_sessions_requests_within_seconds_share_an_assertion_and_a_role_change_reaches_the_next()
{
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("ada", Role::User).await;
    let jwks = browser.get("/.well-known/jwks.json").await.body;
    let assertion = |n: usize| {
        upstream.seen()[n]
            .header("gatehouse-assertion")
            .unwrap()
            .to_owned()
    };
    let claims = |token: &str| {
        let now = gatehouse::clock::Clock::now(&*app.clock).unix_timestamp();
        verify_assertion(&jwks, token, now).expect("verifies")
    };
    let start = gatehouse::clock::Clock::now(&*app.clock).unix_timestamp();
    assert_eq!(browser.get("/api/things").await.status, 200);
    app.clock.advance(time::Duration::seconds(3));
    assert_eq!(browser.get("/api/things").await.status, 200);
    assert_eq!(assertion(1), assertion(0), "signed once, handed out again");
    app.set_role("ada", Role::Admin).await;
    assert_eq!(browser.get("/api/things").await.status, 200);
    let promoted = claims(&assertion(2));
    assert_eq!(promoted["role"], "admin");
    assert_eq!(upstream.seen()[2].header("gatehouse-role"), Some("admin"));
    assert_eq!(promoted["iat"], start + 3);
    // A quarter of the default 30 s lifetime later, a new assertion.
    app.clock.advance(time::Duration::seconds(7));
    assert_eq!(browser.get("/api/things").await.status, 200);
    let renewed = claims(&assertion(3));
    assert_eq!(renewed["iat"], start + 10);
    assert_eq!(renewed["exp"], start + 40);
}

#[tokio::test]
async fn an_assertion_does_not_verify_with_another_key_and_rotation_keeps_old_keys_published() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("bea", Role::User).await;
    assert_eq!(browser.get("/api/x").await.status, 200);
    let assertion = upstream.seen()[0]
        .header("gatehouse-assertion")
        .unwrap()
        .to_owned();
    let now = gatehouse::clock::Clock::now(&*app.clock).unix_timestamp();

    let other = app
        .restart_with(&[(
            "GATEHOUSE__SECURITY__SECRET_KEY",
            "an-entirely-different-secret-key-0123456789",
        )])
        .await;
    let other_jwks = other.browser().get("/.well-known/jwks.json").await.body;
    assert!(verify_assertion(&other_jwks, &assertion, now).is_err());

    let rotated = app
        .restart_with(&[
            (
                "GATEHOUSE__SECURITY__SECRET_KEY",
                "an-entirely-different-secret-key-0123456789",
            ),
            (
                "GATEHOUSE__SECURITY__PREVIOUS_SECRET_KEYS",
                &format!("[\"{}\"]", crate::support::SECRET_KEY),
            ),
        ])
        .await;
    let rotated_jwks = rotated.browser().get("/.well-known/jwks.json").await.body;
    assert_eq!(rotated_jwks["keys"].as_array().unwrap().len(), 2);
    assert!(verify_assertion(&rotated_jwks, &assertion, now).is_ok());
}

#[tokio::test]
async fn anonymous_and_unprivileged_callers_are_refused_and_the_upstream_never_sees_them() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut anonymous = app.browser();
    let refused = anonymous.get("/api/things").await;
    assert_eq!((refused.status, refused.code()), (401, "unauthenticated"));
    assert_eq!(
        refused.header("access-control-allow-origin"),
        Some(crate::support::APP_ORIGIN),
        "CORS headers stay on refusals"
    );
    let mut user = app.logged_in("carl", Role::User).await;
    let forbidden = user.get("/api/admin/report").await;
    assert_eq!((forbidden.status, forbidden.code()), (403, "forbidden"));
    assert!(upstream.seen().is_empty());
    let mut admin = app.logged_in("dora", Role::Admin).await;
    assert_eq!(admin.get("/api/admin/report").await.status, 200);
    assert_eq!(upstream.seen().len(), 1);
}

#[tokio::test]
async fn a_public_route_needs_no_session_and_forged_identity_headers_are_removed_there_too() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("emil", Role::User).await;
    let reply = browser
        .send(Req::new(Method::GET, "/api/public/news").header("gatehouse-username", "root"))
        .await;
    assert_eq!(reply.status, 200);
    let mut stranger = app.browser();
    stranger.origin = None;
    assert_eq!(stranger.get("/api/public/news").await.status, 200);
    for seen in upstream.seen() {
        for name in gatehouse::identity::HEADERS {
            assert!(
                seen.headers.get(&name).is_none(),
                "{name} reached a public route"
            );
        }
        assert!(
            !seen
                .header("cookie")
                .unwrap_or_default()
                .contains("gatehouse")
        );
    }
}

#[tokio::test]
async fn unsafe_requests_meet_the_csrf_rules_before_anything_is_proxied() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("finn", Role::User).await;
    let token = browser.csrf.take();
    let missing = browser.post("/api/orders", json!({"qty": 1})).await;
    assert_eq!(
        (missing.status, missing.code()),
        (403, "csrf_token_missing")
    );
    browser.csrf = token;
    let form = browser
        .send(
            Req::new(Method::POST, "/api/orders").raw("application/x-www-form-urlencoded", "qty=1"),
        )
        .await;
    assert_eq!(form.status, 415);
    let mut hostile = browser.clone();
    hostile.origin = Some("https://evil.example".into());
    assert_eq!(
        hostile.post("/api/orders", json!({"qty": 1})).await.code(),
        "origin_not_allowed"
    );
    assert!(
        upstream.seen().is_empty(),
        "no refused request reached the upstream"
    );

    let ok = browser.post("/api/orders", json!({"qty": 2})).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let seen = upstream.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].body, br#"{"qty":2}"#);
}

#[tokio::test]
async fn dot_segments_cannot_move_a_request_onto_a_weaker_route() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    for path in [
        "/api/public/../admin/report",
        "/api/public/%2e%2e/admin/report",
        "/api/public%2F..%2Fadmin/report",
    ] {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        let answer = raw_http(app.addr, request.as_bytes()).await;
        assert_eq!(statuses(&answer), vec![401], "{path}: {answer}");
    }
    assert!(upstream.seen().is_empty());
    let mut admin = app.logged_in("gus", Role::Admin).await;
    let cookies = admin.cookie_header();
    let request = format!(
        "GET /api/public/../admin/report HTTP/1.1\r\nHost: localhost\r\nCookie: {cookies}\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        statuses(&raw_http(app.addr, request.as_bytes()).await),
        vec![200]
    );
    assert_eq!(
        upstream.seen()[0].uri,
        "/api/admin/report",
        "the upstream sees the judged path"
    );
    assert_eq!(admin.get("/session").await.body["auth"], true);
}

#[tokio::test]
async fn a_stripped_prefix_joins_the_upstream_base_path_and_the_route_audience() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("hana", Role::User).await;
    assert_eq!(browser.get("/v2/items/7").await.status, 200);
    let seen = &upstream.seen()[0];
    assert_eq!(seen.uri, "/base/items/7");
    let jwks = browser.get("/.well-known/jwks.json").await.body;
    let now = gatehouse::clock::Clock::now(&*app.clock).unix_timestamp();
    let claims = verify_assertion(&jwks, seen.header("gatehouse-assertion").unwrap(), now).unwrap();
    assert_eq!(claims["aud"], "urn:v2");
}

#[tokio::test]
async fn an_upstream_that_is_down_or_slow_gets_a_json_502_or_504_never_a_hang() {
    let upstream = Upstream::start().await;
    let app = gateway_app(
        &upstream,
        &[("GATEHOUSE__GATEWAY__UPSTREAM_TIMEOUT_MS", "300")],
    )
    .await;
    let mut browser = app.logged_in("ivo", Role::User).await;
    let slow = browser.get("/api/slow/report").await;
    assert_eq!((slow.status, slow.code()), (504, "upstream_timeout"));

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let routes = format!(r#"[{{prefix = "/api/", upstream = "{dead}"}}]"#);
    let down = app
        .restart_with(&[("GATEHOUSE__GATEWAY__ROUTES", &routes)])
        .await;
    let mut browser = down.logged_in("jana", Role::User).await;
    let reply = browser.get("/api/things").await;
    assert_eq!(
        (reply.status, reply.code()),
        (502, "upstream_unavailable"),
        "{}",
        reply.body
    );
    assert!(reply.body["error"]["message"].is_string());
}

#[tokio::test]
async fn bodies_stream_both_ways_without_being_held_whole() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("kira", Role::User).await;

    // Download: the first chunk arrives while the upstream still holds back the second.
    let mut download = browser
        .client
        .get(format!("{}/api/stream/big", browser.base))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(5), download.chunk())
        .await
        .expect("the first chunk is passed on before the answer is complete")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first;");
    upstream.release.notify_one();
    assert_eq!(&download.chunk().await.unwrap().unwrap()[..], b"second");

    // Upload: the upstream gets the first chunk while the client still holds back the rest.
    let token = browser.get("/session").await.body["_csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/upload/file HTTP/1.1\r\nHost: localhost\r\nCookie: {}\r\nOrigin: {}\r\nX-CSRF-Token: {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        browser.cookie_header(),
        crate::support::APP_ORIGIN
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    stream
        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
        .await
        .unwrap();
    stream.write_all(&chunk).await.unwrap();
    stream.write_all(b"\r\n").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), async {
        upstream.first_chunk.lock().await.recv().await
    })
    .await
    .expect("the upstream reads the body before the client has sent it all")
    .unwrap();
    assert!(got > 0);
    upstream.release.notify_one();
    for _ in 0..15 {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(&chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains(&format!("\"received\": {}", 16 * chunk.len())),
        "{answer}"
    );
}

#[tokio::test]
async fn requests_in_turn_share_one_upstream_connection_with_the_upstream_as_host() {
    let upstream = Upstream::start().await;
    let app = gateway_app(&upstream, &[]).await;
    let mut browser = app.logged_in("lena", Role::User).await;
    for n in 0..5 {
        assert_eq!(browser.get(&format!("/api/items/{n}")).await.status, 200);
    }
    let seen = upstream.seen();
    assert_eq!(seen.len(), 5);
    assert!(
        seen.iter().all(|s| s.peer == seen[0].peer),
        "one kept-alive connection: {:?}",
        seen.iter().map(|s| s.peer).collect::<Vec<_>>()
    );
    let host = upstream.addr.to_string();
    assert!(seen.iter().all(|s| s.header("host") == Some(host.as_str())));
}

#[tokio::test]
async fn an_upstream_that_closes_idle_connections_still_gets_every_request() {
    // An upstream that answers one request per connection, keep-alive in form, then closes
    // the connection, as an upstream whose idle timeout is shorter than the gateway's does.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.ends_with(b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                let _ = socket.write_all(answer.as_bytes()).await;
                // Closed right after the answer, without `Connection: close`.
            });
        }
    });
    let routes = format!(r#"[{{prefix = "/api/", upstream = "{url}"}}]"#);
    let app =
        crate::support::TestApp::spawn_with(&[("GATEHOUSE__GATEWAY__ROUTES", routes.as_str())])
            .await;
    let mut browser = app.logged_in("mila", Role::User).await;
    for n in 0..3 {
        let reply = browser.get(&format!("/api/items/{n}")).await;
        assert_eq!(reply.status, 200, "request {n}: {}", reply.body);
        // Time for the upstream's close to arrive before the next request.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}
