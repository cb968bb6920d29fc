//! The PostgreSQL backend, for several nodes sharing one database: migrations from
//! `migrations/postgres`; the statements themselves are shared with SQLite (`super::sql`).

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use super::StoreError;
use crate::config::DatabaseConfig;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let options: PgConnectOptions = config
            .url
            .parse()
            .map_err(|e| anyhow::anyhow!("database.url is not a usable PostgreSQL URL: {e}"))?;
        let options = options.application_name("gatehouse");
        // One plain connection first, so a start-up failure names its cause (refused, wrong
        // password, no such database) rather than a pool timeout.
        let first = PgConnection::connect_with(&options).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to PostgreSQL at {}: {e}",
                config.redacted_url()
            )
        })?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            // Waiting for a connection counts against the operation's own time limit.
            .acquire_timeout(config.timeout)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL at database.url: {e}"))?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
        Ok(Self { pool })
    }

    /// A connection for point reads: a pooled one here, as for every other query (SQLite keeps
    /// one of its own).
    async fn reader(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        self.pool.acquire().await.map_err(db_error)
    }
}

/// Connection trouble (a server restarting, shut down, or out of connections) is "unavailable";
/// anything else is a bug worth a 500 and a log line.
fn db_error(e: sqlx::Error) -> StoreError {
    let transient = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception), 57P0x (shutdown, cannot connect now),
        // 53300 (too many connections).
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c == "53300"),
        _ => false,
    };
    if transient {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Other(e.into())
    }
}

mod accounts {
    use super::*;
    crate::store::sql::account_stores!(PostgresStore, sqlx::postgres::PgRow);
}

mod directory {
    use super::*;
    crate::store::sql::directory_store!(PostgresStore, sqlx::postgres::PgRow);
}

mod security {
    use super::*;
    crate::store::sql::security_stores!(PostgresStore, sqlx::postgres::PgRow);
}

mod tokens {
    use super::*;
    crate::store::sql::token_store!(PostgresStore, sqlx::postgres::PgRow);
}

mod factors {
    use super::*;
    crate::store::sql::factor_store!(PostgresStore, sqlx::postgres::PgRow);
}

mod passkeys {
    use super::*;
    crate::store::sql::passkey_stores!(PostgresStore, sqlx::postgres::PgRow);
}
