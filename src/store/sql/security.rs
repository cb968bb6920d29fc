//! Failed-login counters and the audit trail in SQL, one text for SQLite and PostgreSQL.

/// Implements [`ThrottleStore`](crate::store::ThrottleStore) and
/// [`AuditStore`](crate::store::AuditStore) for `$store`; see `account_stores!`.
macro_rules! security_stores {
    ($store:ty, $row:ty) => {
        use sqlx::Row as _;
        use time::{Duration, OffsetDateTime};
        use $crate::clock::from_unix;
        use $crate::store::{AuditEvent, AuditStore, Counter, StoreResult, ThrottleStore};

        fn counter(count: i64, window_start: i64, window: Duration) -> Counter {
            Counter {
                count: u32::try_from(count).unwrap_or(u32::MAX),
                resets_at: from_unix(window_start) + window,
            }
        }

        #[async_trait::async_trait]
        impl ThrottleStore for $store {
            async fn hit(
                &self,
                key: &str,
                now: OffsetDateTime,
                window: Duration,
            ) -> StoreResult<Counter> {
                // One statement, so concurrent failures never lose a count; a window that has
                // passed starts again from one.
                let row: (i64, i64) = sqlx::query_as(
                    "INSERT INTO throttle_counters (key, count, window_start) VALUES ($1, 1, $2)
                     ON CONFLICT (key) DO UPDATE SET
                         count = CASE WHEN throttle_counters.window_start <= $3
                                      THEN 1 ELSE throttle_counters.count + 1 END,
                         window_start = CASE WHEN throttle_counters.window_start <= $3
                                             THEN $2 ELSE throttle_counters.window_start END
                     RETURNING count, window_start",
                )
                .bind(key)
                .bind(now.unix_timestamp())
                .bind((now - window).unix_timestamp())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(counter(row.0, row.1, window))
            }

            async fn peek(
                &self,
                key: &str,
                now: OffsetDateTime,
                window: Duration,
            ) -> StoreResult<Counter> {
                let row: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT count, window_start FROM throttle_counters
                     WHERE key = $1 AND window_start > $2",
                )
                .bind(key)
                .bind((now - window).unix_timestamp())
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(match row {
                    Some((count, start)) => counter(count, start, window),
                    None => Counter {
                        count: 0,
                        resets_at: now,
                    },
                })
            }

            async fn clear(&self, key: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM throttle_counters WHERE key = $1")
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl AuditStore for $store {
            async fn record(
                &self,
                e: &AuditEvent,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO audit_events (at, kind, user_id, username, ip, detail)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(e.at.unix_timestamp())
                .bind(&e.kind)
                .bind(e.user_id)
                .bind(&e.username)
                .bind(&e.ip)
                .bind(&e.detail)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn list(
                &self,
                username: Option<&str>,
                since: Option<OffsetDateTime>,
                limit: u32,
            ) -> StoreResult<Vec<AuditEvent>> {
                    let rows = sqlx::query(
                    "SELECT * FROM (
                         SELECT at, kind, user_id, username, ip, detail, id FROM audit_events
                         WHERE ($1 IS NULL OR lower(username) = lower($1))
                           AND ($2 IS NULL OR at >= $2)
                         ORDER BY at DESC, id DESC LIMIT $3
                     ) AS newest ORDER BY at, id",
                )
                .bind(username)
                .bind(since.map(OffsetDateTime::unix_timestamp))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter()
                    .map(|row: &$row| {
                        Ok(AuditEvent {
                            at: from_unix(row.try_get("at").map_err(db_error)?),
                            kind: row.try_get("kind").map_err(db_error)?,
                            user_id: row.try_get("user_id").map_err(db_error)?,
                            username: row.try_get("username").map_err(db_error)?,
                            ip: row.try_get("ip").map_err(db_error)?,
                            detail: row.try_get("detail").map_err(db_error)?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(in crate::store) use security_stores;
