//! The store conformance suite: every backend must behave the same. Run here against SQLite;
//! later backends call the same functions.

use gatehouse::account::Username;
use gatehouse::config::DatabaseConfig;
use gatehouse::roles::Role;
use gatehouse::store::{NewUser, SessionRecord, StoreError, Stores, UserUpdate};
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
    assert_eq!(
        stores
            .sessions
            .delete_expired(t0() + Duration::days(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(stores.sessions.list_for_user(bob).await.unwrap().len(), 1);
    stores.sessions.ping().await.unwrap();
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
