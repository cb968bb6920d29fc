//! Brute-force protection: thresholds, Retry-After, per-address isolation, device cookies,
//! forwarded addresses.

use gatehouse::account::Role;
use reqwest::Method;
use serde_json::json;
use time::Duration;

use crate::support::{Browser, Req, TestApp};

/// Trust the loopback proxy so tests can act from many client addresses.
async fn behind_proxy(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![("GATEHOUSE__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")];
    settings.extend_from_slice(extra);
    TestApp::spawn_with(&settings).await
}

async fn login_from(
    browser: &mut Browser,
    ip: &str,
    user: &str,
    password: &str,
) -> crate::support::Reply {
    browser
        .send(Req::new(Method::GET, "/session").header("x-forwarded-for", ip))
        .await;
    browser
        .send(
            Req::new(Method::POST, "/session")
                .json(json!({"username": user, "password": password}))
                .header("x-forwarded-for", ip),
        )
        .await
}

#[tokio::test]
async fn twenty_wrong_passwords_get_429_while_the_right_one_from_another_address_works() {
    let app = behind_proxy(&[]).await;
    let password = app.add_user("alice", Role::User).await;
    let mut attacker = app.browser();
    let mut statuses = Vec::new();
    for _ in 0..20 {
        statuses.push(
            login_from(&mut attacker, "198.51.100.7", "alice", "guess-guess")
                .await
                .status,
        );
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    assert_eq!(&statuses[10..], &[429; 10]);
    let reply = login_from(&mut attacker, "198.51.100.7", "alice", &password).await;
    assert_eq!(
        (reply.status, reply.code()),
        (429, "rate_limited"),
        "the password is not even checked"
    );
    let retry: i64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let mut owner = app.browser();
    assert_eq!(
        login_from(&mut owner, "203.0.113.20", "alice", &password)
            .await
            .status,
        200
    );
    app.clock.advance(Duration::seconds(retry));
    assert_eq!(
        login_from(&mut attacker, "198.51.100.7", "alice", &password)
            .await
            .status,
        200,
        "the window passes"
    );
    assert!(app.audit_kinds().await.iter().any(|k| k == "login_failed"));
}

#[tokio::test]
async fn unknown_accounts_are_throttled_exactly_like_real_ones() {
    let app = behind_proxy(&[]).await;
    app.add_user("alice", Role::User).await;
    let mut answers = Vec::new();
    for user in ["alice", "nobody"] {
        let mut browser = app.browser();
        let mut statuses = Vec::new();
        for _ in 0..12 {
            statuses.push(
                login_from(&mut browser, "198.51.100.8", user, "guess-guess")
                    .await
                    .status,
            );
        }
        answers.push(statuses);
    }
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing() {
    let app = TestApp::spawn().await;
    app.add_user("alice", Role::User).await;
    let mut attacker = app.browser();
    let mut last = 0;
    for n in 0..11 {
        last = login_from(
            &mut attacker,
            &format!("192.0.2.{n}"),
            "alice",
            "guess-guess",
        )
        .await
        .status;
    }
    assert_eq!(
        last, 429,
        "every attempt counted against the real peer address"
    );
}

#[tokio::test]
async fn password_spraying_from_one_address_is_throttled_across_accounts() {
    let app = behind_proxy(&[("GATEHOUSE__THROTTLE__MAX_FAILURES_PER_IP", "15")]).await;
    let mut sprayer = app.browser();
    let mut statuses = Vec::new();
    for n in 0..16 {
        statuses.push(
            login_from(
                &mut sprayer,
                "198.51.100.9",
                &format!("user{n}"),
                "Summer2026!",
            )
            .await
            .status,
        );
    }
    assert_eq!(statuses[14], 401);
    assert_eq!(statuses[15], 429);
    let mut elsewhere = app.browser();
    assert_eq!(
        login_from(&mut elsewhere, "198.51.100.10", "user0", "Summer2026!")
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn a_distributed_attack_cannot_lock_out_a_browser_that_logged_in_before() {
    let app = behind_proxy(&[
        ("GATEHOUSE__THROTTLE__MAX_FAILURES_PER_ACCOUNT_AND_IP", "5"),
        ("GATEHOUSE__THROTTLE__MAX_FAILURES_PER_ACCOUNT", "12"),
    ])
    .await;
    let password = app.add_user("alice", Role::User).await;
    let mut owner = app.browser();
    assert_eq!(
        login_from(&mut owner, "203.0.113.5", "alice", &password)
            .await
            .status,
        200
    );
    owner.delete("/session").await;
    let mut attacker = app.browser();
    for n in 0..3 {
        for _ in 0..5 {
            login_from(
                &mut attacker,
                &format!("198.51.100.{n}"),
                "alice",
                "guess-guess",
            )
            .await;
        }
    }
    let mut stranger = app.browser();
    let reply = login_from(&mut stranger, "198.51.100.200", "alice", &password).await;
    assert_eq!(reply.status, 429, "the account is under attack");
    assert_eq!(
        login_from(&mut owner, "203.0.113.5", "alice", &password)
            .await
            .status,
        200,
        "its owner's browser still gets in"
    );
    // A device cookie for another account does not help.
    let mut thief = app.browser();
    thief.cookies.insert(
        "gatehouse_device".into(),
        owner.cookies["gatehouse_device"].clone(),
    );
    assert_eq!(
        login_from(&mut thief, "198.51.100.201", "bob", "guess")
            .await
            .status,
        401
    );
}
