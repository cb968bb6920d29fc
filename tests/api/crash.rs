//! Crash safety: SIGKILL in the middle of a sign-up and login storm loses nothing that was
//! answered, and the database stays intact.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{APP_ORIGIN, Browser, SECRET_KEY};

/// The real binary, serving a config in `dir`; returns the child and its address.
fn start(dir: &std::path::Path) -> (Child, String) {
    let config = dir.join("gatehouse.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"sqlite://{}\"\n[cookies]\nsecure = false\n[cors]\nallowed_origins = [\"{APP_ORIGIN}\"]\n[log]\nformat = \"json\"\n",
            dir.join("crash.db").display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("GATEHOUSE__SECURITY__SECRET_KEY", SECRET_KEY)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gatehouse binary starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        assert!(
            Instant::now() < deadline,
            "gatehouse did not report its address"
        );
        let line = lines.next().expect("gatehouse exited early").unwrap();
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if entry["fields"]["message"] == "gatehouse listening" {
            break entry["fields"]["address"].as_str().unwrap().to_owned();
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

fn browser(addr: &str) -> Browser {
    Browser {
        client: reqwest::Client::new(),
        base: format!("http://{addr}"),
        cookies: Default::default(),
        origin: Some(APP_ORIGIN.into()),
        csrf: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_a_signup_and_login_storm_loses_nothing_that_was_answered() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    let (answered_tx, mut answered_rx) =
        tokio::sync::mpsc::unbounded_channel::<(String, Browser)>();
    let mut workers = Vec::new();
    for worker in 0..8 {
        let addr = addr.clone();
        let answered = answered_tx.clone();
        workers.push(tokio::spawn(async move {
            for n in 0.. {
                let name = format!("storm{worker}x{n}");
                let mut b = browser(&addr);
                if b.try_get("/session").await.is_none() {
                    return;
                }
                let body = json!({"username": name, "password": "correct horse battery staple"});
                match b.try_post("/users", body).await {
                    Some(201) => {}
                    Some(other) => panic!("sign-up answered {other}"),
                    None => return,
                }
                let mut again = browser(&addr);
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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for w in workers {
        w.await.unwrap();
    }
    let mut answered = Vec::new();
    while let Ok(item) = answered_rx.try_recv() {
        answered.push(item);
    }
    assert!(
        answered.len() >= 5,
        "the storm got going ({} answered)",
        answered.len()
    );

    let (mut restarted, addr) = start(dir.path());
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
    for (name, mut session) in answered {
        session.base = format!("http://{addr}");
        let reply = session.get("/session").await;
        assert_eq!(
            reply.body["username"],
            name.as_str(),
            "{name}'s session was answered 200 but is gone"
        );
    }
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
