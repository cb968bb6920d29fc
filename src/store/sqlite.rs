//! The embedded SQLite backend: one file, WAL mode, migrations from `migrations/sqlite`.
//! The statements themselves are shared with PostgreSQL (`super::sql`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

use super::StoreError;
use crate::config::DatabaseConfig;

/// SQLite page cache per connection, in KiB.
const PAGE_CACHE_KIB: u32 = 512;

pub struct SqliteStore {
    pool: SqlitePool,
    /// Connections of their own for the point reads a session check makes on a cache miss
    /// (session by secret, user by id, employee by id), one per core up to [`MAX_READERS`].
    /// Through the pool, each query costs three round trips to the connection's worker thread,
    /// since sqlx pings a pooled connection when it is handed back (and, unless turned off, when
    /// it is taken); held here, it costs one. They answer only queries (`query_only`).
    readers: Box<[Mutex<SqliteConnection>]>,
    next_reader: AtomicUsize,
}

/// Most reader connections (see `SqliteStore::readers`).
const MAX_READERS: usize = 4;

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
            // The connection lives in this process, so a ping before each use proves nothing
            // and costs a round trip to its worker thread.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot open the SQLite database {}: {e}", path.display())
            })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let reader = options.pragma("query_only", "true");
        let mut readers = Vec::new();
        for _ in 0..cores.min(MAX_READERS) {
            let connection = reader.connect().await.map_err(|e| {
                anyhow::anyhow!("cannot open the SQLite database {}: {e}", path.display())
            })?;
            readers.push(Mutex::new(connection));
        }
        Ok(Self {
            pool,
            readers: readers.into(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A connection for point reads (see `readers`): the first idle one, else the next in turn.
    async fn reader(&self) -> Result<MutexGuard<'_, SqliteConnection>, StoreError> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(idle) = self.readers[(start + i) % n].try_lock() {
                return Ok(idle);
            }
        }
        Ok(self.readers[start % n].lock().await)
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
