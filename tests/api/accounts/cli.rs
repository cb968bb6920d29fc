//! The admin CLI's account commands call the same account services as the API: a password set
//! at the command line ends the account's sessions, disabling ends them, a role change applies
//! on the next request, and each is in the audit trail.

use std::io::Write;
use std::process::{Command, Stdio};

use gatehouse::account::Role;

use crate::support::{SECRET_KEY, TestApp};

/// Runs `gatehouse ARGS` against the app's database; its stdout, or a panic with its stderr.
async fn cli(app: &TestApp, args: &[&str], stdin: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    command
        .args(args)
        .env("GATEHOUSE__DATABASE__URL", &app.db_url)
        .env("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let input = stdin.map(str::to_owned);
    let output = tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("the gatehouse binary runs");
        if let Some(input) = input {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "gatehouse {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// An app whose node answers every check from the store, so a change made by another process
/// (the CLI) is seen on the very next request; with the cache it is seen within its bound.
async fn uncached() -> TestApp {
    TestApp::spawn_with(&[("GATEHOUSE__SESSION__CACHE_TTL_MS", "0")]).await
}

#[tokio::test]
async fn a_password_set_at_the_command_line_logs_every_browser_out_and_is_audited() {
    let app = uncached().await;
    let password = app.add_user("alice", Role::User).await;
    let mut laptop = app.browser();
    assert_eq!(laptop.login("alice", &password).await.status, 200);
    let mut phone = app.browser();
    assert_eq!(phone.login("alice", &password).await.status, 200);

    let out = cli(
        &app,
        &["user", "passwd", "alice", "--password-stdin"],
        Some("a fresh passphrase for alice\n"),
    )
    .await;
    assert!(out.contains("2 session(s) ended"), "{out}");

    for browser in [&mut laptop, &mut phone] {
        let reply = browser.get("/session").await;
        assert_eq!(reply.body["auth"], false, "{}", reply.body);
        assert_eq!(browser.get("/users/me").await.status, 401);
    }
    assert_eq!(laptop.login("alice", &password).await.status, 401);
    assert_eq!(
        laptop
            .login("alice", "a fresh passphrase for alice")
            .await
            .status,
        200
    );
    let events = app
        .state
        .audit()
        .list(Some("alice"), None, 100)
        .await
        .unwrap();
    let reset = events
        .iter()
        .find(|e| e.kind == "password_changed")
        .expect("the reset is audited");
    assert!(
        reset
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("by cli"),
        "{reset:?}"
    );
}

#[tokio::test]
async fn a_password_refused_by_the_rules_at_the_command_line_changes_nothing() {
    let app = uncached().await;
    let mut browser = app.logged_in("bruno", Role::User).await;
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["user", "passwd", "bruno", "--password-stdin"])
        .env("GATEHOUSE__DATABASE__URL", &app.db_url)
        .env("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("password refused"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(browser.get("/session").await.body["auth"], true);
}

#[tokio::test]
async fn disabling_at_the_command_line_ends_the_sessions_and_a_role_change_applies_next_request() {
    let app = uncached().await;
    let mut carol = app.logged_in("carol", Role::User).await;
    assert_eq!(carol.get("/users").await.status, 403);

    let out = cli(&app, &["user", "role", "carol", "admin"], None).await;
    assert!(out.contains("carol is now admin"), "{out}");
    assert_eq!(carol.get("/users").await.status, 200);

    cli(&app, &["user", "disable", "carol"], None).await;
    assert_eq!(carol.get("/session").await.body["auth"], false);
    assert_eq!(app.count("sessions").await, 0);

    let kinds = app.audit_kinds().await;
    for kind in ["role_changed", "user_disabled"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}
