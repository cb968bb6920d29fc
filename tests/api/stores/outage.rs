//! A store outage under a running node (Redis crashed or stalled, PostgreSQL restarted):
//! requests that need the store get 503 `store_unavailable` instead of hanging, `/readyz` says
//! so, the process stays healthy, and service resumes by itself when the store is back. Each
//! test has its own server, so stopping it disturbs no other test.

use std::time::{Duration, Instant};

use crate::stores::nodes::{Node, sign_up};
use crate::support::Browser;
use crate::support::services::{Postgres, Redis};

/// The status and code of `path`, failing if no answer comes within a few seconds (a hang).
async fn answer(browser: &mut Browser, path: &str) -> (u16, String) {
    let reply = tokio::time::timeout(Duration::from_secs(5), browser.get(path))
        .await
        .unwrap_or_else(|_| panic!("GET {path} hung"));
    (reply.status, reply.code().to_owned())
}

/// Polls `path` until it answers 200.
async fn until_ok(browser: &mut Browser, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if answer(browser, path).await.0 == 200 {
            return;
        }
        assert!(Instant::now() < deadline, "{path} did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A node with sessions in `redis` and the rest in a fresh PostgreSQL database.
async fn node_on(redis: &Redis, extra: &[(&str, String)]) -> Node {
    let mut settings = vec![
        (
            "DATABASE__URL",
            crate::support::services::postgres_database().await,
        ),
        ("DATABASE__SESSION_STORE", redis.url()),
    ];
    settings.extend(extra.iter().cloned());
    Node::start(&settings)
}

#[tokio::test]
async fn a_redis_outage_answers_503_and_service_resumes_when_redis_returns() {
    let mut redis = Redis::start();
    let mut node = node_on(&redis, &[]).await;
    let mut alice = sign_up(&node, "alice").await;
    let mut probe = node.browser();
    assert_eq!(answer(&mut probe, "/readyz").await.0, 200);

    // Redis crashes.
    redis.kill();
    assert_eq!(
        answer(&mut alice, "/users/me").await,
        (503, "store_unavailable".into())
    );
    assert_eq!(
        answer(&mut alice, "/session").await,
        (503, "store_unavailable".into())
    );
    assert_eq!(
        answer(&mut probe, "/readyz").await,
        (503, "store_unavailable".into())
    );
    // The process is alive and answers what needs no store.
    assert_eq!(answer(&mut probe, "/healthz").await.0, 200);
    assert!(node.exited().is_none());

    // Redis comes back with its data; the node reconnects by itself and the session is intact.
    redis.restart();
    until_ok(&mut probe, "/readyz").await;
    until_ok(&mut alice, "/users/me").await;
    assert!(node.exited().is_none());
}

#[tokio::test]
async fn a_stalled_redis_answers_503_within_the_store_timeout() {
    let redis = Redis::start();
    let node = node_on(&redis, &[("DATABASE__TIMEOUT_MS", "300".into())]).await;
    let mut alice = sign_up(&node, "alice").await;

    // Redis accepts connections but answers nothing for a while (as when it is overloaded or
    // its host is paused): the request must not wait for it.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(4000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        answer(&mut alice, "/users/me").await,
        (503, "store_unavailable".into())
    );
    let waited = started.elapsed();
    // Bounded by the configured timeout (300 ms), with room for a loaded machine; without a
    // bound it would wait out the 4 s pause.
    assert!(waited < Duration::from_millis(2500), "waited {waited:?}");

    until_ok(&mut alice, "/users/me").await;
}

#[tokio::test]
async fn a_postgresql_restart_answers_503_and_service_resumes_when_it_is_back() {
    let mut postgres = Postgres::start();
    let url = crate::support::services::create_database(&postgres.url("postgres")).await;
    let mut node = Node::start(&[("DATABASE__URL", url)]);
    let mut alice = sign_up(&node, "alice").await;
    let mut probe = node.browser();

    postgres.stop();
    assert_eq!(
        answer(&mut alice, "/users/me").await,
        (503, "store_unavailable".into())
    );
    assert_eq!(
        answer(&mut probe, "/readyz").await,
        (503, "store_unavailable".into())
    );
    assert_eq!(answer(&mut probe, "/healthz").await.0, 200);
    assert!(node.exited().is_none());

    postgres.restart();
    until_ok(&mut probe, "/readyz").await;
    until_ok(&mut alice, "/users/me").await;
    assert!(node.exited().is_none());
}
