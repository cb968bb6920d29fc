//! The store conformance suite: every backend must behave the same. The same functions run
//! against SQLite, PostgreSQL, and Redis (sessions and throttle counters, beside PostgreSQL).

use std::any::Any;

use gatehouse::Config;
use gatehouse::account::Role;
use gatehouse::account::{DisplayName, Email, Username};
use gatehouse::directory::EmployeeInput;
use gatehouse::store::{
    AuditEvent, Counter, IdleCutoffs, MailToken, NewUser, SessionRecord, StoreError, StoredPasskey,
    Stores, TokenPurpose, UserUpdate,
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

/// The ids of a user's sessions, in the store's order.
async fn session_ids(stores: &Stores, user_id: i64) -> Vec<String> {
    let sessions = stores.sessions.list_for_user(user_id).await.unwrap();
    sessions.into_iter().map(|s| s.id).collect()
}

pub async fn users_conform(stores: &Stores) {
    let alice = stores.users.create(new_user("Alice")).await.unwrap();
    assert_eq!(alice.username.as_str(), "Alice");
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
        .map(|u| u.username.as_str().to_owned())
        .collect();
    assert_eq!(names, ["Alice", "bob"]);
    let profile = stores
        .users
        .update_profile(alice.id, Some(DisplayName::parse("Alice A").unwrap()), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            profile.name.as_ref().map(DisplayName::as_str),
            profile.email.as_ref().map(Email::as_str)
        ),
        (Some("Alice A"), None)
    );
    let profile = stores
        .users
        .update_profile(alice.id, None, Some(Email::parse("a@example.com").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            profile.name.as_ref().map(DisplayName::as_str),
            profile.email.as_ref().map(Email::as_str)
        ),
        (Some("Alice A"), Some("a@example.com"))
    );
    let profile = stores
        .users
        .update_profile(alice.id, Some(None), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.name, None);
    assert!(stores.delete_user(alice.id).await.unwrap());
    assert!(!stores.delete_user(alice.id).await.unwrap());
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
        Some(std::sync::Arc::new(s1.clone()))
    );
    assert_eq!(
        stores.sessions.find_by_secret_hash(&[9; 32]).await.unwrap(),
        None
    );

    stores
        .sessions
        .touch(&s1, t0() + Duration::minutes(5))
        .await
        .unwrap();
    stores
        .sessions
        .touch(&s1, t0() + Duration::minutes(1))
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

    let listed = session_ids(stores, alice).await;
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
    let left = session_ids(stores, bob).await;
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
    let left = session_ids(stores, bob).await;
    assert_eq!(left, ["s6"]);
    assert_eq!(stores.sessions.list_for_user(alice).await.unwrap().len(), 1);
    stores.ping().await.unwrap();

    // Deleting a user ends their sessions, wherever sessions are kept.
    assert!(stores.delete_user(alice).await.unwrap());
    assert!(
        stores
            .sessions
            .find_by_secret_hash(&[7; 32])
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        stores
            .sessions
            .list_for_user(alice)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn concurrent_updates_conform(stores: &Stores) {
    let alice = stores.users.create(new_user("alice")).await.unwrap().id;
    let s1 = session("s1", alice, 1);
    stores.sessions.create(&s1).await.unwrap();
    // Many nodes touching one session at once: the latest time wins, whatever the order.
    let touches: Vec<_> = (1..=30)
        .map(|minute| {
            let (sessions, s1) = (stores.sessions.clone(), s1.clone());
            tokio::spawn(async move {
                sessions
                    .touch(&s1, t0() + Duration::minutes(minute))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in touches {
        task.await.unwrap();
    }
    let found = stores.sessions.find_by_secret_hash(&[1; 32]).await.unwrap();
    assert_eq!(found.unwrap().last_seen_at, t0() + Duration::minutes(30));

    // Sessions created at once are all indexed under their user.
    let creates: Vec<_> = (0..20u8)
        .map(|n| {
            let sessions = stores.sessions.clone();
            tokio::spawn(async move {
                sessions
                    .create(&session(&format!("c{n:02}"), alice, 100 + n))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in creates {
        task.await.unwrap();
    }
    assert_eq!(
        stores.sessions.list_for_user(alice).await.unwrap().len(),
        21
    );

    // A revocation racing touches stays revoked: a touch never brings a session back.
    let revoke = {
        let sessions = stores.sessions.clone();
        tokio::spawn(async move { sessions.delete_others(alice, "s1").await.unwrap() })
    };
    let racing: Vec<_> = (0..20u8)
        .map(|n| {
            let sessions = stores.sessions.clone();
            tokio::spawn(async move {
                sessions
                    .touch(
                        &session(&format!("c{n:02}"), alice, 100 + n),
                        t0() + Duration::hours(2),
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    assert_eq!(revoke.await.unwrap(), 20);
    for task in racing {
        task.await.unwrap();
    }
    let left = session_ids(stores, alice).await;
    assert_eq!(left, ["s1"]);
    for n in 0..20u8 {
        assert_eq!(
            stores
                .sessions
                .find_by_secret_hash(&[100 + n; 32])
                .await
                .unwrap(),
            None
        );
    }
}

pub async fn throttle_counters_conform(stores: &Stores) {
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

pub async fn audit_trail_conforms(stores: &Stores) {
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

pub async fn employee_directory_conforms(stores: &Stores) {
    let e = stores.employees.as_ref();
    let input = |first: &str, last: &str, manager: Option<i64>| EmployeeInput {
        first_name: Some(first.into()),
        last_name: Some(last.into()),
        manager_id: manager,
        title: Some("Engineer".into()),
        ..EmployeeInput::default()
    };
    assert_eq!(e.count().await.unwrap(), 0);
    let boss = e.create(&input("Zoe", "Adams", None), t0()).await.unwrap();
    let mid = e
        .create(&input("amy", "baker", Some(boss.id)), t0())
        .await
        .unwrap();
    let later = t0() + Duration::minutes(5);
    let low = e
        .create(&input("Bea", "Baker", Some(mid.id)), later)
        .await
        .unwrap();
    assert_eq!(
        (low.manager_first_name.as_deref(), low.title.as_deref()),
        (Some("amy"), Some("Engineer"))
    );
    assert_eq!(low.department, None);
    assert!(matches!(
        e.create(&input("No", "Boss", Some(9999)), t0()).await,
        Err(StoreError::UnknownManager)
    ));
    // Ordered by last name, then first name, ignoring case.
    let names: Vec<_> = e
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.first_name)
        .collect();
    assert_eq!(names, ["Zoe", "amy", "Bea"]);
    let found: Vec<_> = e.list(Some("AMY B")).await.unwrap();
    assert_eq!((found.len(), found[0].id), (1, mid.id));
    assert!(
        e.list(Some("%")).await.unwrap().is_empty(),
        "LIKE wildcards are literal"
    );
    assert_eq!(e.get(boss.id).await.unwrap().unwrap().report_count, 1);
    assert_eq!(e.reports(mid.id).await.unwrap()[0].id, low.id);
    assert_eq!(e.modified_since(t0()).await.unwrap().len(), 1);
    assert_eq!(e.manager_of(low.id).await.unwrap(), Some(Some(mid.id)));
    assert_eq!(e.manager_of(9999).await.unwrap(), None);
    let renamed = e
        .update(mid.id, &input("Amy", "Baker", Some(boss.id)), later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.first_name, "Amy");
    assert!(
        e.update(9999, &input("X", "Y", None), later)
            .await
            .unwrap()
            .is_none()
    );
    // Deleting a manager moves their reports up to their own manager.
    assert!(e.delete(mid.id, later).await.unwrap());
    assert!(!e.delete(mid.id, later).await.unwrap());
    assert_eq!(e.manager_of(low.id).await.unwrap(), Some(Some(boss.id)));
    assert_eq!(e.count().await.unwrap(), 2);
    assert!(gatehouse::directory::seed_if_empty(e, t0()).await.unwrap() == 0);
}

/// Stores as `gatehouse serve` opens them for these `GATEHOUSE__*` settings.
pub async fn open(settings: &[(&str, String)]) -> Stores {
    let mut env = vec![(
        "GATEHOUSE__SECURITY__SECRET_KEY".to_owned(),
        crate::support::SECRET_KEY.to_owned(),
    )];
    env.extend(
        settings
            .iter()
            .map(|(k, v)| (format!("GATEHOUSE__{k}"), v.clone())),
    );
    let config = Config::from_sources("", env).unwrap_or_else(|e| panic!("{e}"));
    Stores::open(&config.database, &config.session)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// A fresh SQLite file; the guard keeps its folder.
async fn sqlite() -> (Box<dyn Any>, Stores) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nested/store.db").display());
    (Box::new(dir), open(&[("DATABASE__URL", url)]).await)
}

/// A fresh PostgreSQL database.
async fn postgres() -> (Box<dyn Any>, Stores) {
    let url = crate::support::services::postgres_database().await;
    (Box::new(()), open(&[("DATABASE__URL", url)]).await)
}

/// Sessions and throttle counters in Redis (under a fresh key prefix), the rest in PostgreSQL.
async fn redis() -> (Box<dyn Any>, Stores) {
    (Box::new(()), redis_with(&[]).await)
}

async fn redis_with(settings: &[(&str, String)]) -> Stores {
    let url = crate::support::services::postgres_database().await;
    let (redis, prefix) = crate::support::services::redis();
    let mut all = vec![
        ("DATABASE__URL", url),
        ("DATABASE__SESSION_STORE", redis),
        ("DATABASE__REDIS_KEY_PREFIX", prefix),
    ];
    all.extend(settings.iter().cloned());
    open(&all).await
}

#[tokio::test]
async fn redis_forgets_sessions_at_their_idle_or_absolute_expiry_by_itself() {
    let stores = redis_with(&[
        ("SESSION__IDLE_TIMEOUT_SECS", "2".into()),
        ("SESSION__TOUCH_INTERVAL_SECS", "1".into()),
    ])
    .await;
    let alice = stores.users.create(new_user("alice")).await.unwrap().id;
    let now = OffsetDateTime::now_utc();
    let at = |id: &str, byte: u8, lifetime: Duration, remember: bool| SessionRecord {
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime,
        remember,
        ..session(id, alice, byte)
    };
    // Idle for longer than the 2 s idle timeout; past its 1 s absolute lifetime; and a
    // remembered session, whose idle timeout is days.
    stores
        .sessions
        .create(&at("idle", 1, Duration::hours(1), false))
        .await
        .unwrap();
    stores
        .sessions
        .create(&at("short", 2, Duration::seconds(1), true))
        .await
        .unwrap();
    stores
        .sessions
        .create(&at("kept", 3, Duration::hours(1), true))
        .await
        .unwrap();
    assert_eq!(stores.sessions.list_for_user(alice).await.unwrap().len(), 3);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    for gone in [1, 2] {
        assert_eq!(
            stores
                .sessions
                .find_by_secret_hash(&[gone; 32])
                .await
                .unwrap(),
            None
        );
    }
    let left = session_ids(&stores, alice).await;
    assert_eq!(left, ["kept"]);
}

fn mail_token(user_id: i64, byte: u8, purpose: TokenPurpose, email: &str) -> MailToken {
    MailToken {
        hash: [byte; 32],
        user_id,
        purpose,
        email: Email::parse(email).unwrap().unwrap(),
        created_at: t0(),
        expires_at: t0() + Duration::minutes(30),
    }
}

pub async fn mail_tokens_conform(stores: &Stores) {
    let mut new = new_user("ada");
    new.email = Email::parse("Ada@Example.com").unwrap();
    let ada = stores.users.create(new).await.unwrap();
    assert!(!ada.email_verified);
    let address = Email::parse("Ada@Example.com").unwrap().unwrap();
    assert!(
        stores
            .users
            .with_verified_email(&address)
            .await
            .unwrap()
            .is_empty()
    );
    let other = Email::parse("other@example.com").unwrap().unwrap();
    assert!(
        !stores
            .users
            .mark_email_verified(ada.id, &other)
            .await
            .unwrap(),
        "not her address"
    );
    assert!(
        stores
            .users
            .mark_email_verified(ada.id, &address)
            .await
            .unwrap()
    );
    let lower = Email::parse("ada@example.com").unwrap().unwrap();
    let found = stores.users.with_verified_email(&lower).await.unwrap();
    assert_eq!(found.len(), 1, "found ignoring case");
    assert!(found[0].email_verified);
    // The same address again keeps the state; another one clears it.
    let same = stores
        .users
        .update_profile(ada.id, None, Some(Some(address.clone())))
        .await
        .unwrap()
        .unwrap();
    assert!(same.email_verified);
    let moved = stores
        .users
        .update_profile(ada.id, None, Some(Some(other.clone())))
        .await
        .unwrap()
        .unwrap();
    assert!(!moved.email_verified);

    let tokens = &stores.mail_tokens;
    let reset = TokenPurpose::PasswordReset;
    let verify = TokenPurpose::EmailVerification;
    tokens
        .replace(&mail_token(ada.id, 1, reset, "a@example.com"))
        .await
        .unwrap();
    tokens
        .replace(&mail_token(ada.id, 2, verify, "a@example.com"))
        .await
        .unwrap();
    tokens
        .replace(&mail_token(ada.id, 3, reset, "a@example.com"))
        .await
        .unwrap();
    assert_eq!(
        tokens.find(&[1; 32], reset).await.unwrap(),
        None,
        "only the newest lives"
    );
    assert_eq!(
        tokens.find(&[3; 32], reset).await.unwrap(),
        Some(mail_token(ada.id, 3, reset, "a@example.com"))
    );
    assert_eq!(
        tokens.find(&[3; 32], verify).await.unwrap(),
        None,
        "per purpose"
    );
    assert!(
        tokens.find(&[2; 32], verify).await.unwrap().is_some(),
        "other purposes stay"
    );
    assert!(tokens.take(&[3; 32], reset).await.unwrap().is_some());
    assert_eq!(
        tokens.take(&[3; 32], reset).await.unwrap(),
        None,
        "single use"
    );
    tokens
        .replace(&mail_token(ada.id, 4, reset, "a@example.com"))
        .await
        .unwrap();
    assert_eq!(tokens.delete_for_user(ada.id, reset).await.unwrap(), 1);
    assert!(tokens.find(&[2; 32], verify).await.unwrap().is_some());
    assert_eq!(
        tokens
            .delete_expired(t0() + Duration::minutes(29))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        tokens
            .delete_expired(t0() + Duration::minutes(30))
            .await
            .unwrap(),
        1
    );
    // Tokens go with their account.
    tokens
        .replace(&mail_token(ada.id, 5, reset, "a@example.com"))
        .await
        .unwrap();
    assert!(stores.delete_user(ada.id).await.unwrap());
    assert_eq!(tokens.find(&[5; 32], reset).await.unwrap(), None);
}

pub async fn second_factors_conform(stores: &Stores) {
    let ada = stores.users.create(new_user("ada")).await.unwrap();
    let f = &stores.factors;
    assert_eq!(f.totp(ada.id).await.unwrap(), None);
    assert!(f.begin_totp(ada.id, b"sealed-1", t0()).await.unwrap());
    assert!(
        f.begin_totp(ada.id, b"sealed-2", t0()).await.unwrap(),
        "a pending one is replaced"
    );
    let pending = f.totp(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (
            pending.sealed.as_slice(),
            pending.confirmed,
            pending.last_step
        ),
        (&b"sealed-2"[..], false, 0)
    );
    assert!(
        !f.use_totp_step(ada.id, 100, false).await.unwrap(),
        "not confirmed yet"
    );
    assert!(
        f.use_totp_step(ada.id, 100, true).await.unwrap(),
        "confirmed by its first code"
    );
    assert!(
        !f.use_totp_step(ada.id, 101, true).await.unwrap(),
        "confirmed once"
    );
    assert!(
        !f.begin_totp(ada.id, b"sealed-3", t0()).await.unwrap(),
        "a confirmed one stays"
    );
    assert!(
        !f.use_totp_step(ada.id, 100, false).await.unwrap(),
        "the same step is a replay"
    );
    assert!(
        !f.use_totp_step(ada.id, 99, false).await.unwrap(),
        "an older step too"
    );
    assert!(f.use_totp_step(ada.id, 101, false).await.unwrap());
    let on = f.totp(ada.id).await.unwrap().unwrap();
    assert_eq!(
        (on.sealed.as_slice(), on.confirmed, on.last_step),
        (&b"sealed-2"[..], true, 101)
    );

    f.replace_recovery_codes(ada.id, &[[1; 32], [2; 32]], t0())
        .await
        .unwrap();
    assert_eq!(f.recovery_codes_left(ada.id).await.unwrap(), 2);
    assert!(f.use_recovery_code(ada.id, &[1; 32]).await.unwrap());
    assert!(
        !f.use_recovery_code(ada.id, &[1; 32]).await.unwrap(),
        "single use"
    );
    let bob = stores.users.create(new_user("bob")).await.unwrap();
    assert!(
        !f.use_recovery_code(bob.id, &[2; 32]).await.unwrap(),
        "another account's code"
    );
    f.replace_recovery_codes(ada.id, &[[3; 32]], t0())
        .await
        .unwrap();
    assert!(
        !f.use_recovery_code(ada.id, &[2; 32]).await.unwrap(),
        "the old set is gone"
    );
    assert!(f.remove_factors(ada.id).await.unwrap());
    assert!(!f.remove_factors(ada.id).await.unwrap());
    assert_eq!(f.recovery_codes_left(ada.id).await.unwrap(), 0);
    assert_eq!(f.totp(ada.id).await.unwrap(), None);
    assert!(f.begin_totp(bob.id, b"s", t0()).await.unwrap());
    assert!(stores.delete_user(bob.id).await.unwrap());
    assert_eq!(
        f.totp(bob.id).await.unwrap(),
        None,
        "factors go with the account"
    );
}

pub async fn passkeys_conform(stores: &Stores) {
    let p = &stores.passkeys;
    let ada = stores.users.create(new_user("ada")).await.unwrap();
    let bob = stores.users.create(new_user("bob")).await.unwrap();
    let handle = p.user_handle(ada.id, b"handle-of-ada-16").await.unwrap();
    assert_eq!(handle, b"handle-of-ada-16");
    assert_eq!(
        p.user_handle(ada.id, b"another-handle-1").await.unwrap(),
        handle,
        "the first handle stays"
    );
    assert_eq!(p.user_for_handle(&handle).await.unwrap(), Some(ada.id));
    assert_eq!(p.user_for_handle(b"nobody").await.unwrap(), None);
    let key = |id: &str, user_id, credential: &[u8], at| StoredPasskey {
        id: id.into(),
        user_id,
        credential_id: credential.to_vec(),
        name: format!("key {id}"),
        credential: "{}".into(),
        created_at: at,
        last_used_at: None,
    };
    assert!(
        p.add_passkey(&key("k1", ada.id, b"cred-1", t0()))
            .await
            .unwrap()
    );
    let later = t0() + Duration::seconds(5);
    assert!(
        p.add_passkey(&key("k2", ada.id, b"cred-2", later))
            .await
            .unwrap()
    );
    assert!(
        !p.add_passkey(&key("k3", bob.id, b"cred-1", later))
            .await
            .unwrap(),
        "a credential belongs to one account"
    );
    let ids: Vec<String> = p
        .passkeys(ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["k1", "k2"], "oldest first");
    assert!(p.passkeys(bob.id).await.unwrap().is_empty());
    p.passkey_used("k1", "{\"counter\":2}", later)
        .await
        .unwrap();
    let used = p.passkey_by_credential(b"cred-1").await.unwrap().unwrap();
    assert_eq!(
        (used.credential.as_str(), used.last_used_at),
        ("{\"counter\":2}", Some(later))
    );
    assert!(p.rename_passkey(ada.id, "k1", "Laptop").await.unwrap());
    assert!(
        !p.rename_passkey(bob.id, "k1", "Mine").await.unwrap(),
        "not bob's"
    );
    assert_eq!(p.passkeys(ada.id).await.unwrap()[0].name, "Laptop");

    // Recovery codes stay while a factor is left, and go with the last one.
    stores
        .factors
        .replace_recovery_codes(ada.id, &[[7; 32]], t0())
        .await
        .unwrap();
    assert!(!p.delete_passkey(bob.id, "k1").await.unwrap(), "not bob's");
    assert!(p.delete_passkey(ada.id, "k1").await.unwrap());
    assert_eq!(stores.factors.recovery_codes_left(ada.id).await.unwrap(), 1);
    assert!(
        !stores.factors.remove_totp(ada.id).await.unwrap(),
        "no TOTP"
    );
    assert_eq!(
        stores.factors.recovery_codes_left(ada.id).await.unwrap(),
        1,
        "a passkey is left"
    );
    assert!(p.delete_passkey(ada.id, "k2").await.unwrap());
    assert_eq!(stores.factors.recovery_codes_left(ada.id).await.unwrap(), 0);
    assert!(
        p.add_passkey(&key("k4", ada.id, b"cred-4", t0()))
            .await
            .unwrap()
    );
    assert!(
        stores.factors.remove_factors(ada.id).await.unwrap(),
        "passkeys are factors"
    );
    assert!(p.passkeys(ada.id).await.unwrap().is_empty());
    assert!(
        p.add_passkey(&key("k5", bob.id, b"cred-5", t0()))
            .await
            .unwrap()
    );
    assert!(stores.delete_user(bob.id).await.unwrap());
    assert_eq!(
        p.passkey_by_credential(b"cred-5").await.unwrap(),
        None,
        "gone with the account"
    );
}

pub async fn ceremonies_conform(stores: &Stores) {
    let c = &stores.ceremonies;
    let soon = t0() + Duration::minutes(5);
    c.put_ceremony(&[1; 32], "first", soon).await.unwrap();
    c.put_ceremony(&[1; 32], "second", soon).await.unwrap();
    assert_eq!(
        c.take_ceremony(&[1; 32], t0()).await.unwrap().as_deref(),
        Some("second"),
        "a new state replaces the old"
    );
    assert_eq!(
        c.take_ceremony(&[1; 32], t0()).await.unwrap(),
        None,
        "taken once"
    );
    c.put_ceremony(&[2; 32], "late", soon).await.unwrap();
    assert_eq!(
        c.take_ceremony(&[2; 32], soon).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(c.take_ceremony(&[3; 32], t0()).await.unwrap(), None);
    // Of two nodes answering one challenge at once, one gets it.
    c.put_ceremony(&[4; 32], "contested", soon).await.unwrap();
    let (a, b) = tokio::join!(
        c.take_ceremony(&[4; 32], t0()),
        c.take_ceremony(&[4; 32], t0())
    );
    let winners = [a.unwrap(), b.unwrap()].into_iter().flatten().count();
    assert_eq!(winners, 1);
    // The sweeper deletes only what has expired (Redis expires keys by itself and says 0).
    c.put_ceremony(&[5; 32], "old", t0()).await.unwrap();
    let live = soon + Duration::minutes(1);
    c.put_ceremony(&[6; 32], "live", live).await.unwrap();
    assert!(c.delete_expired_ceremonies(soon).await.unwrap() <= 1);
    assert_eq!(
        c.take_ceremony(&[6; 32], soon).await.unwrap().as_deref(),
        Some("live")
    );
}

/// The whole suite, once per backend: `store::BACKEND::SUITE`.
macro_rules! conformance {
    ($($backend:ident),*) => {$(
        suites!($backend: users_conform, sessions_conform, concurrent_updates_conform,
            throttle_counters_conform, audit_trail_conforms, employee_directory_conforms,
            mail_tokens_conform, second_factors_conform, passkeys_conform, ceremonies_conform);
    )*};
}

macro_rules! suites {
    ($backend:ident: $($suite:ident),*) => {
        mod $backend {$(
            #[tokio::test]
            async fn $suite() {
                let (_guard, stores) = super::$backend().await;
                super::$suite(&stores).await;
            }
        )*}
    };
}

conformance!(sqlite, postgres, redis);
