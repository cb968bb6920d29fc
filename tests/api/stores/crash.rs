//! Crash safety: SIGKILL in the middle of a sign-up and login storm loses nothing that was
//! answered, and the database stays intact.

use std::time::Duration;

use serde_json::json;

use crate::stores::nodes::Node;
use crate::support::Browser;

/// The real binary on a SQLite file in `dir`.
fn start(dir: &std::path::Path) -> Node {
    let url = format!("sqlite://{}", dir.join("crash.db").display());
    Node::start(&[("DATABASE__URL", url)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_a_signup_and_login_storm_loses_nothing_that_was_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = start(dir.path());
    let (answered_tx, mut answered_rx) =
        tokio::sync::mpsc::unbounded_channel::<(String, Browser)>();
    let mut workers = Vec::new();
    for worker in 0..8 {
        let node_browser = node.browser();
        let answered = answered_tx.clone();
        workers.push(tokio::spawn(async move {
            for n in 0.. {
                let name = format!("storm{worker}x{n}");
                let mut b = node_browser.clone();
                if b.try_get("/session").await.is_none() {
                    return;
                }
                let body = json!({"username": name, "password": "correct horse battery staple"});
                match b.try_post("/users", body).await {
                    Some(201) => {}
                    Some(other) => panic!("sign-up answered {other}"),
                    None => return,
                }
                let mut again = node_browser.clone();
                if again.try_get("/session").await.is_none() {
                    return;
                }
                let login = json!({"username": name, "password": "correct horse battery staple"});
                match again.try_post("/session", login).await {
                    Some(200) => {}
                    Some(other) => panic!("login answered {other}"),
                    None => return,
                }
                let _ = answered.send((name, again));
            }
        }));
    }
    drop(answered_tx);
    // Kill once the storm is going (however slow the machine), in the middle of it.
    let mut answered = Vec::new();
    while answered.len() < 5 {
        let next = tokio::time::timeout(Duration::from_secs(60), answered_rx.recv()).await;
        answered.push(next.expect("the storm got going").expect("workers run"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.kill();
    for w in workers {
        w.await.unwrap();
    }
    while let Ok(item) = answered_rx.try_recv() {
        answered.push(item);
    }

    let restarted = start(dir.path());
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.path().join("crash.db").display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        for (name, _) in &answered {
            let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE username = ?")
                .bind(name)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(found, 1, "{name} was answered 201 but is gone");
        }
    }
    for (name, session) in answered {
        let reply = restarted.take(&session).get("/session").await;
        assert_eq!(
            reply.body["username"],
            name.as_str(),
            "{name}'s session was answered 200 but is gone"
        );
    }
}
