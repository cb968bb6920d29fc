//! Second factors (TOTP secrets, recovery codes) in SQL, one text for SQLite and PostgreSQL.

/// Implements [`FactorStore`](crate::store::FactorStore) for `$store`; see `account_stores!`.
macro_rules! factor_store {
    ($store:ty, $row:ty) => {
        use sqlx::Row as _;
        use time::OffsetDateTime;
        use $crate::account::records::UserId;
        use $crate::store::{FactorStore, StoreResult, TotpFactor};

        #[async_trait::async_trait]
        impl FactorStore for $store {
            async fn begin_totp(
                &self,
                user_id: UserId,
                sealed: &[u8],
                now: OffsetDateTime,
            ) -> StoreResult<bool> {
                // A confirmed factor is never overwritten; a pending one is replaced.
                let done = sqlx::query(
                    "INSERT INTO totp_factors (user_id, sealed_secret, confirmed, last_step, created_at)
                     VALUES ($1, $2, FALSE, 0, $3)
                     ON CONFLICT (user_id) DO UPDATE SET sealed_secret = $2, created_at = $3
                     WHERE NOT totp_factors.confirmed",
                )
                .bind(user_id)
                .bind(sealed)
                .bind(now.unix_timestamp())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn totp(&self, user_id: UserId) -> StoreResult<Option<TotpFactor>> {
                let row: Option<$row> = sqlx::query(
                    "SELECT sealed_secret, confirmed, last_step FROM totp_factors WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                row.map(|row| {
                    Ok(TotpFactor {
                        sealed: row.try_get("sealed_secret").map_err(db_error)?,
                        confirmed: row.try_get("confirmed").map_err(db_error)?,
                        last_step: row.try_get("last_step").map_err(db_error)?,
                    })
                })
                .transpose()
            }

            async fn use_totp_step(
                &self,
                user_id: UserId,
                step: i64,
                confirm: bool,
            ) -> StoreResult<bool> {
                // One statement: of two requests with the same code, one wins (RFC 6238 §5.2).
                let done = sqlx::query(
                    "UPDATE totp_factors SET last_step = $2, confirmed = TRUE
                     WHERE user_id = $1 AND last_step < $2 AND confirmed = NOT $3",
                )
                .bind(user_id)
                .bind(step)
                .bind(confirm)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn remove_totp(&self, user_id: UserId) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let totp = sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                // Recovery codes stand in for a factor; without one left they go too.
                sqlx::query(
                    "DELETE FROM recovery_codes WHERE user_id = $1
                     AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(totp.rows_affected() > 0)
            }

            async fn remove_factors(&self, user_id: UserId) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let mut had = false;
                for (statement, is_factor) in [
                    ("DELETE FROM totp_factors WHERE user_id = $1", true),
                    ("DELETE FROM passkeys WHERE user_id = $1", true),
                    ("DELETE FROM recovery_codes WHERE user_id = $1", false),
                ] {
                    let done = sqlx::query(statement)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    had |= is_factor && done.rows_affected() > 0;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(had)
            }

            async fn replace_recovery_codes(
                &self,
                user_id: UserId,
                hashes: &[[u8; 32]],
                now: OffsetDateTime,
            ) -> StoreResult<()> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                for hash in hashes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (code_hash, user_id, created_at) VALUES ($1, $2, $3)",
                    )
                    .bind(&hash[..])
                    .bind(user_id)
                    .bind(now.unix_timestamp())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
                tx.commit().await.map_err(db_error)
            }

            async fn use_recovery_code(&self, user_id: UserId, hash: &[u8; 32]) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2")
                    .bind(user_id)
                    .bind(&hash[..])
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn recovery_codes_left(&self, user_id: UserId) -> StoreResult<u64> {
                let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(u64::try_from(left).unwrap_or(0))
            }
        }
    };
}

pub(in crate::store) use factor_store;
