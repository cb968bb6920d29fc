//! Mailed tokens (password reset, e-mail verification) in SQL, one text for SQLite and
//! PostgreSQL.

/// Implements [`MailTokenStore`](crate::store::MailTokenStore) for `$store`; see
/// `account_stores!`.
macro_rules! token_store {
    ($store:ty, $row:ty) => {
        use sqlx::Row as _;
        use time::OffsetDateTime;
        use $crate::account::records::{Email, UserId};
        use $crate::clock::from_unix;
        use $crate::store::{MailToken, MailTokenStore, StoreResult, TokenPurpose};

        fn token_from_row(
            row: &$row,
            hash: &[u8; 32],
            purpose: TokenPurpose,
        ) -> StoreResult<MailToken> {
            let user_id: UserId = row.try_get("user_id").map_err(db_error)?;
            Ok(MailToken {
                hash: *hash,
                user_id,
                purpose,
                email: Email::from_stored(row.try_get("email").map_err(db_error)?),
                created_at: from_unix(row.try_get("created_at").map_err(db_error)?),
                expires_at: from_unix(row.try_get("expires_at").map_err(db_error)?),
            })
        }

        impl $store {
            /// Runs `sql` (binding the hash and purpose) for at most one token row.
            async fn one_token(
                &self,
                sql: &'static str,
                hash: &[u8; 32],
                purpose: TokenPurpose,
            ) -> StoreResult<Option<MailToken>> {
                let row: Option<$row> = sqlx::query(sql)
                    .bind(&hash[..])
                    .bind(purpose.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.map(|row| token_from_row(&row, hash, purpose)).transpose()
            }
        }

        #[async_trait::async_trait]
        impl MailTokenStore for $store {
            async fn replace(&self, token: &MailToken) -> StoreResult<()> {
                // One transaction: never two live tokens, never none after a failed insert.
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                sqlx::query("DELETE FROM mail_tokens WHERE user_id = $1 AND purpose = $2")
                    .bind(token.user_id)
                    .bind(token.purpose.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                sqlx::query(
                    "INSERT INTO mail_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&token.hash[..])
                .bind(token.user_id)
                .bind(token.purpose.as_str())
                .bind(token.email.as_str())
                .bind(token.created_at.unix_timestamp())
                .bind(token.expires_at.unix_timestamp())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)
            }

            async fn find(
                &self,
                hash: &[u8; 32],
                purpose: TokenPurpose,
            ) -> StoreResult<Option<MailToken>> {
                self.one_token(
                    "SELECT user_id, email, created_at, expires_at FROM mail_tokens
                     WHERE token_hash = $1 AND purpose = $2",
                    hash,
                    purpose,
                )
                .await
            }

            async fn take(
                &self,
                hash: &[u8; 32],
                purpose: TokenPurpose,
            ) -> StoreResult<Option<MailToken>> {
                // DELETE … RETURNING: of two requests with one token, one gets it.
                self.one_token(
                    "DELETE FROM mail_tokens WHERE token_hash = $1 AND purpose = $2
                     RETURNING user_id, email, created_at, expires_at",
                    hash,
                    purpose,
                )
                .await
            }

            async fn delete_for_user(&self, user_id: UserId, purpose: TokenPurpose) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM mail_tokens WHERE user_id = $1 AND purpose = $2")
                    .bind(user_id)
                    .bind(purpose.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected())
            }

            async fn delete_expired(&self, now: OffsetDateTime) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM mail_tokens WHERE expires_at <= $1")
                    .bind(now.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(in crate::store) use token_store;
