//! The store conformance suite: every backend must behave the same. Run here against SQLite;
//! later backends call the same functions.

use gatehouse::account::Username;
use gatehouse::config::DatabaseConfig;
use gatehouse::roles::Role;
use gatehouse::store::{
    AuditEvent, Counter, IdleCutoffs, NewUser, SessionRecord, StoreError, Stores, UserUpdate,
};
use time::{Duration, OffsetDateTime};

fn t0() -> OffsetDateTime {
    time::macros::datetime!(2026-01-01 00:00 UTC)
}

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        password_hash: "$argon2id$test".into(),
        role: Role::User,
        name: None,
        email: None,
        created_at: t0(),
    }
}

fn session(id: &str, user_id: i64, byte: u8) -> SessionRecord {
    SessionRecord {
        id: id.into(),
        secret_hash: [byte; 32],
        user_id,
        created_at: t0(),
        last_seen_at: t0(),
        expires_at: t0() + Duration::hours(1),
        remember: false,
        user_agent: Some("test".into()),
        ip: Some("127.0.0.1".into()),
    }
}

pub async fn users_conform(stores: &Stores) {
    let alice = stores.users.create(new_user("Alice")).await.unwrap();
    assert_eq!(alice.username, "Alice");
    assert!(matches!(
        stores.users.create(new_user("alice")).await,
        Err(StoreError::UsernameTaken)
    ));
    let found = stores
        .users
        .credentials(&Username::parse("ALICE").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user.id, alice.id);
    assert_eq!(found.password_hash, "$argon2id$test");
    assert!(stores.users.get(alice.id + 1000).await.unwrap().is_none());
    let changed = stores
        .users
        .update(
            alice.id,
            UserUpdate {
                role: Some(Role::Admin),
                disabled: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((changed.role, changed.disabled), (Role::Admin, false));
    let changed = stores
        .users
        .update(
            alice.id,
            UserUpdate {
                role: None,
                disabled: Some(true),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((changed.role, changed.disabled), (Role::Admin, true));
    assert!(
        stores
            .users
            .update(alice.id + 1000, UserUpdate::default())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        stores
            .users
            .set_password_hash(alice.id, "$new")
            .await
            .unwrap()
    );
    stores.users.create(new_user("bob")).await.unwrap();
    let names: Vec<_> = stores
        .users
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["Alice", "bob"]);
    let profile = stores
        .users
        .update_profile(alice.id, Some(Some("Alice A".into())), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (profile.name.as_deref(), profile.email.as_deref()),
        (Some("Alice A"), None)
    );
    let profile = stores
        .users
        .update_profile(alice.id, None, Some(Some("a@example.com".into())))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (profile.name.as_deref(), profile.email.as_deref()),
        (Some("Alice A"), Some("a@example.com"))
    );
    let profile = stores
        .users
        .update_profile(alice.id, Some(None), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.name, None);
    assert!(stores.users.delete(alice.id).await.unwrap());
    assert!(!stores.users.delete(alice.id).await.unwrap());
    assert!(stores.users.get(alice.id).await.unwrap().is_none());
}

pub async fn sessions_conform(stores: &Stores) {
    let alice = stores.users.create(new_user("alice")).await.unwrap().id;
    let bob = stores.users.create(new_user("bob")).await.unwrap().id;
    let s1 = session("s1", alice, 1);
    stores.sessions.create(&s1).await.unwrap();
    stores
        .sessions
        .create(&session("s2", alice, 2))
        .await
        .unwrap();
    stores
        .sessions
        .create(&session("s3", bob, 3))
        .await
        .unwrap();
    assert_eq!(
        stores.sessions.find_by_secret_hash(&[1; 32]).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        stores.sessions.find_by_secret_hash(&[9; 32]).await.unwrap(),
        None
    );

    stores
        .sessions
        .touch("s1", t0() + Duration::minutes(5))
        .await
        .unwrap();
    stores
        .sessions
        .touch("s1", t0() + Duration::minutes(1))
        .await
        .unwrap();
    let touched = stores
        .sessions
        .find_by_secret_hash(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        touched.last_seen_at,
        t0() + Duration::minutes(5),
        "touch never moves time back"
    );

    let listed: Vec<_> = stores
        .sessions
        .list_for_user(alice)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, ["s1", "s2"]);
    assert!(stores.sessions.delete("s1").await.unwrap());
    assert!(!stores.sessions.delete("s1").await.unwrap());
    assert_eq!(stores.sessions.delete_for_user(alice).await.unwrap(), 1);
    assert!(
        stores
            .sessions
            .list_for_user(alice)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(stores.sessions.list_for_user(bob).await.unwrap().len(), 1);

    let mut late = session("s4", bob, 4);
    late.expires_at = t0() + Duration::days(2);
    stores.sessions.create(&late).await.unwrap();
    let mut remembered = session("s5", bob, 5);
    remembered.remember = true;
    remembered.expires_at = t0() + Duration::days(30);
    stores.sessions.create(&remembered).await.unwrap();
    let now = t0() + Duration::days(1);
    assert_eq!(stores.sessions.count_active(now).await.unwrap(), 2);
    // s3 is past its absolute expiry; s4 has been idle longer than an ordinary session may be;
    // s5 is remembered and may idle longer.
    let cutoffs = IdleCutoffs {
        ordinary: now - Duration::hours(1),
        remembered: now - Duration::days(7),
    };
    assert_eq!(
        stores.sessions.delete_expired(now, cutoffs).await.unwrap(),
        2
    );
    let left: Vec<_> = stores
        .sessions
        .list_for_user(bob)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, ["s5"]);

    stores
        .sessions
        .create(&session("s6", bob, 6))
        .await
        .unwrap();
    stores
        .sessions
        .create(&session("s7", alice, 7))
        .await
        .unwrap();
    assert_eq!(stores.sessions.delete_others(bob, "s6").await.unwrap(), 1);
    let left: Vec<_> = stores
        .sessions
        .list_for_user(bob)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, ["s6"]);
    assert_eq!(stores.sessions.list_for_user(alice).await.unwrap().len(), 1);
    stores.sessions.ping().await.unwrap();
}

pub async fn throttle_conforms(stores: &Stores) {
    let window = Duration::minutes(15);
    let t = stores.throttle.as_ref();
    assert_eq!(t.peek("k", t0(), window).await.unwrap().count, 0);
    assert_eq!(t.hit("k", t0(), window).await.unwrap().count, 1);
    let second = t
        .hit("k", t0() + Duration::minutes(1), window)
        .await
        .unwrap();
    assert_eq!(
        second,
        Counter {
            count: 2,
            resets_at: t0() + window
        }
    );
    assert_eq!(
        t.peek("k", t0() + Duration::minutes(14), window)
            .await
            .unwrap()
            .count,
        2
    );
    assert_eq!(t.peek("other", t0(), window).await.unwrap().count, 0);
    // A window that has passed starts again.
    assert_eq!(t.peek("k", t0() + window, window).await.unwrap().count, 0);
    let fresh = t.hit("k", t0() + window, window).await.unwrap();
    assert_eq!(
        fresh,
        Counter {
            count: 1,
            resets_at: t0() + window + window
        }
    );
    t.clear("k").await.unwrap();
    assert_eq!(t.peek("k", t0() + window, window).await.unwrap().count, 0);
    // Concurrent failures from many tasks are all counted.
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let store = stores.throttle.clone();
            tokio::spawn(async move { store.hit("c", t0(), window).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(t.peek("c", t0(), window).await.unwrap().count, 40);
}

pub async fn audit_conforms(stores: &Stores) {
    let event = |minute: i64, kind: &str, user: Option<&str>| AuditEvent {
        at: t0() + Duration::minutes(minute),
        kind: kind.into(),
        user_id: None,
        username: user.map(str::to_owned),
        ip: Some("192.0.2.1".into()),
        detail: None,
    };
    for e in [
        event(0, "login_failed", Some("Alice")),
        event(1, "signup", Some("bob")),
        event(2, "logout", Some("alice")),
    ] {
        stores.audit.record(&e).await.unwrap();
    }
    let all = stores.audit.list(None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["login_failed", "signup", "logout"]
    );
    assert_eq!(all[0], event(0, "login_failed", Some("Alice")));
    assert_eq!(
        stores
            .audit
            .list(Some("ALICE"), None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        stores
            .audit
            .list(None, Some(t0() + Duration::minutes(1)), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    let newest = stores.audit.list(None, None, 1).await.unwrap();
    assert_eq!(newest[0].kind, "logout");
}

async fn sqlite() -> (tempfile::TempDir, Stores) {
    let dir = tempfile::tempdir().unwrap();
    let config = DatabaseConfig {
        url: format!("sqlite://{}", dir.path().join("nested/store.db").display()),
        max_connections: 4,
    };
    (dir, Stores::open(&config).await.unwrap())
}

#[tokio::test]
async fn sqlite_users_conform() {
    let (_dir, stores) = sqlite().await;
    users_conform(&stores).await;
}

#[tokio::test]
async fn sqlite_sessions_conform() {
    let (_dir, stores) = sqlite().await;
    sessions_conform(&stores).await;
}

#[tokio::test]
async fn sqlite_throttle_counters_conform() {
    let (_dir, stores) = sqlite().await;
    throttle_conforms(&stores).await;
}

#[tokio::test]
async fn sqlite_audit_trail_conforms() {
    let (_dir, stores) = sqlite().await;
    audit_conforms(&stores).await;
}

#[tokio::test]
async fn deleting_a_user_deletes_their_sessions() {
    let (dir, stores) = sqlite().await;
    let id = stores.users.create(new_user("alice")).await.unwrap().id;
    stores.sessions.create(&session("s1", id, 1)).await.unwrap();
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.path().join("nested/store.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM users")
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(stores.sessions.list_for_user(id).await.unwrap().is_empty());
}
