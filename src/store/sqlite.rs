//! The embedded SQLite backend: one file, WAL mode, migrations from `migrations/sqlite`.
//! The statements themselves are shared with PostgreSQL (`super::sql`).

use std::path::PathBuf;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::StoreError;
use crate::config::DatabaseConfig;

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

fn db_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        other => StoreError::Other(other.into()),
    }
}

mod accounts {
    use super::*;
    crate::store::sql::account_stores!(SqliteStore, sqlx::sqlite::SqliteRow);
}

mod directory {
    use super::*;
    crate::store::sql::directory_store!(SqliteStore, sqlx::sqlite::SqliteRow);
}

mod security {
    use super::*;
    crate::store::sql::security_stores!(SqliteStore, sqlx::sqlite::SqliteRow);
}

mod tokens {
    use super::*;
    crate::store::sql::token_store!(SqliteStore, sqlx::sqlite::SqliteRow);
}

mod factors {
    use super::*;
    crate::store::sql::factor_store!(SqliteStore, sqlx::sqlite::SqliteRow);
}

mod passkeys {
    use super::*;
    crate::store::sql::passkey_stores!(SqliteStore, sqlx::sqlite::SqliteRow);
}
