//! The embedded SQLite backend: one file, WAL mode, migrations from `migrations/sqlite`.

mod directory;
mod security;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, SqlitePool};
use time::OffsetDateTime;

use super::{
    Credentials, IdleCutoffs, NewUser, SessionRecord, SessionStore, StoreError, StoreResult,
    UserStore, UserUpdate,
};
use crate::account::{User, UserId, Username};
use crate::clock::from_unix;
use crate::config::DatabaseConfig;
use crate::roles::Role;

/// SQLite page cache per connection, in KiB.
const PAGE_CACHE_KIB: u32 = 512;

pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub async fn open(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let path = sqlite_path(&config.url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!("cannot create the database folder {}: {e}", dir.display())
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Each pooled connection keeps its own page cache (2 MiB by default). The operating
            // system caches the file anyway, so a small one per connection keeps memory low
            // with a full pool and costs a read from that cache now and then.
            .pragma("cache_size", format!("-{PAGE_CACHE_KIB}"));
        let pool = SqlitePoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot open the SQLite database {}: {e}", path.display())
            })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        Ok(Self { pool })
    }
}

/// `sqlite://path`, `sqlite:path` -> `path`.
fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| anyhow::anyhow!("database.url must start with sqlite:// (got {url:?})"))?;
    let rest = rest.split('?').next().unwrap_or_default();
    anyhow::ensure!(!rest.is_empty(), "database.url names no file: {url:?}");
    Ok(PathBuf::from(rest))
}

pub(super) fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.into()),
    }
}

/// SELECT over users with a tail; one column list so rows always parse the same way.
macro_rules! select_users {
    ($tail:literal) => {
        concat!(
            "SELECT id, username, role, disabled, name, email, created_at FROM users ",
            $tail
        )
    };
}

/// SELECT over sessions with a tail.
macro_rules! select_sessions {
    ($tail:literal) => {
        concat!(
            "SELECT id, secret_hash, user_id, created_at, last_seen_at, expires_at, remember, user_agent, ip FROM sessions ",
            $tail
        )
    };
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let role: String = row.try_get("role").map_err(db_error)?;
    Ok(User {
        id: row.try_get("id").map_err(db_error)?,
        username: row.try_get("username").map_err(db_error)?,
        role: Role::parse(&role).map_err(|_| anyhow::anyhow!("bad role {role:?} in database"))?,
        disabled: row.try_get("disabled").map_err(db_error)?,
        name: row.try_get("name").map_err(db_error)?,
        email: row.try_get("email").map_err(db_error)?,
        created_at: from_unix(row.try_get("created_at").map_err(db_error)?),
    })
}

fn session_from_row(row: &SqliteRow) -> StoreResult<SessionRecord> {
    let hash: Vec<u8> = row.try_get("secret_hash").map_err(db_error)?;
    Ok(SessionRecord {
        id: row.try_get("id").map_err(db_error)?,
        secret_hash: hash
            .try_into()
            .map_err(|_| anyhow::anyhow!("bad secret hash length in database"))?,
        user_id: row.try_get("user_id").map_err(db_error)?,
        created_at: from_unix(row.try_get("created_at").map_err(db_error)?),
        last_seen_at: from_unix(row.try_get("last_seen_at").map_err(db_error)?),
        expires_at: from_unix(row.try_get("expires_at").map_err(db_error)?),
        remember: row.try_get("remember").map_err(db_error)?,
        user_agent: row.try_get("user_agent").map_err(db_error)?,
        ip: row.try_get("ip").map_err(db_error)?,
    })
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create(&self, user: NewUser) -> StoreResult<User> {
        let result = sqlx::query(
            "INSERT INTO users (username, username_key, password_hash, role, disabled, name, email, created_at)
             VALUES (?, ?, ?, ?, 0, ?, ?, ?)
             RETURNING id, username, role, disabled, name, email, created_at",
        )
        .bind(user.username.as_str())
        .bind(user.username.key())
        .bind(&user.password_hash)
        .bind(user.role.as_str())
        .bind(&user.name)
        .bind(&user.email)
        .bind(user.created_at.unix_timestamp())
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(row) => user_from_row(&row),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::UsernameTaken)
            }
            Err(e) => Err(db_error(e)),
        }
    }

    async fn get(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query(select_users!("WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn credentials(&self, username: &Username) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT id, username, role, disabled, name, email, created_at, password_hash
             FROM users WHERE username_key = ?",
        )
        .bind(username.key())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        match row {
            Some(row) => Ok(Some(Credentials {
                user: user_from_row(&row)?,
                password_hash: row.try_get("password_hash").map_err(db_error)?,
            })),
            None => Ok(None),
        }
    }

    async fn list(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(select_users!("ORDER BY username_key"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "UPDATE users SET role = COALESCE(?, role), disabled = COALESCE(?, disabled)
             WHERE id = ?
             RETURNING id, username, role, disabled, name, email, created_at",
        )
        .bind(update.role.map(Role::as_str))
        .bind(update.disabled)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn update_profile(
        &self,
        id: UserId,
        name: Option<Option<String>>,
        email: Option<Option<String>>,
    ) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "UPDATE users SET name = CASE WHEN ? THEN ? ELSE name END,
                              email = CASE WHEN ? THEN ? ELSE email END
             WHERE id = ?
             RETURNING id, username, role, disabled, name, email, created_at",
        )
        .bind(name.is_some())
        .bind(name.flatten())
        .bind(email.is_some())
        .bind(email.flatten())
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn delete(&self, id: UserId) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, s: &SessionRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id, secret_hash, user_id, created_at, last_seen_at, expires_at, remember, user_agent, ip)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&s.id)
        .bind(&s.secret_hash[..])
        .bind(s.user_id)
        .bind(s.created_at.unix_timestamp())
        .bind(s.last_seen_at.unix_timestamp())
        .bind(s.expires_at.unix_timestamp())
        .bind(s.remember)
        .bind(&s.user_agent)
        .bind(&s.ip)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn find_by_secret_hash(&self, hash: &[u8; 32]) -> StoreResult<Option<SessionRecord>> {
        let row = sqlx::query(select_sessions!("WHERE secret_hash = ?"))
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch(&self, id: &str, last_seen_at: OffsetDateTime) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = MAX(last_seen_at, ?) WHERE id = ?")
            .bind(last_seen_at.unix_timestamp())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_for_user(&self, user_id: UserId) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn list_for_user(&self, user_id: UserId) -> StoreResult<Vec<SessionRecord>> {
        let rows = sqlx::query(select_sessions!(
            "WHERE user_id = ? ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn delete_others(&self, user_id: UserId, keep: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = ? AND id <> ?")
            .bind(user_id)
            .bind(keep)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn delete_expired(&self, now: OffsetDateTime, idle: IdleCutoffs) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE expires_at <= ?
                OR (remember = 0 AND last_seen_at <= ?) OR (remember = 1 AND last_seen_at <= ?)",
        )
        .bind(now.unix_timestamp())
        .bind(idle.ordinary.unix_timestamp())
        .bind(idle.remembered.unix_timestamp())
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn count_active(&self, now: OffsetDateTime) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > ?")
            .bind(now.unix_timestamp())
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}
