//! Password hashing memory: the hashing workers reuse one Argon2 area each through a flood of
//! logins and give it back when logins stop, read from the server's own `/metrics` counters
//! (counts of allocations, not timings).

use gatehouse::account::Role;

use crate::support::TestApp;

/// `gatehouse_password_hash_memory_*` samples from `/metrics`: (allocations, bytes held now).
async fn hash_memory(app: &TestApp) -> (f64, f64) {
    let text = reqwest::get(format!("http://{}/metrics", app.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sample = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} sample in /metrics:\n{text}"))
    };
    (
        sample("gatehouse_password_hash_memory_allocations_total"),
        sample("gatehouse_password_hash_memory_bytes"),
    )
}

/// Logs in `count` times, `at_once` logins in flight at a time, each one checked.
async fn logins(app: &TestApp, password: &str, count: usize, at_once: usize) {
    for _ in 0..count / at_once {
        let batch = (0..at_once).map(|_| async {
            let mut browser = app.browser();
            let reply = browser.login("alice", password).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.body["auth"], true);
        });
        futures_util::future::join_all(batch).await;
    }
}

const AREA_BYTES: f64 = 19456.0 * 1024.0;

#[tokio::test]
async fn forty_logins_on_two_workers_allocate_at_most_two_argon2_areas_and_release_them_when_idle()
{
    let app = TestApp::spawn_with(&[
        ("GATEHOUSE__PASSWORD__MAX_CONCURRENT_HASHES", "2"),
        ("GATEHOUSE__PASSWORD__HASH_MEMORY_IDLE_RELEASE_MS", "4000"),
    ])
    .await;
    let password = app.add_user("alice", Role::User).await;
    logins(&app, &password, 4, 4).await;
    let (warm, held) = hash_memory(&app).await;
    assert!(
        (1.0..=2.0).contains(&warm),
        "warm-up allocated {warm} areas"
    );
    assert!(held <= 2.0 * AREA_BYTES, "{held} bytes held after warm-up");

    logins(&app, &password, 40, 4).await;
    let (after, held) = hash_memory(&app).await;
    // Forty more hashes (plus one per account creation before) on two workers: a fresh area
    // per hash would count 40 here; reuse counts at most the second worker's first area, and
    // anything else is a release and re-allocation because a worker sat idle for 4 s.
    assert!(
        after <= 2.0,
        "{after} Argon2 areas allocated for 45 hashes on 2 workers"
    );
    assert!(held <= 2.0 * AREA_BYTES, "{held} bytes held during logins");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, held) = hash_memory(&app).await;
        if held == 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the workers still hold {held} bytes 15 s after the last login"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
