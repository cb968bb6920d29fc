//! Passkeys and WebAuthn ceremony state in SQL, one text for SQLite and PostgreSQL.

/// Implements [`PasskeyStore`](crate::store::PasskeyStore) and
/// [`CeremonyStore`](crate::store::CeremonyStore) for `$store`; see `account_stores!`.
macro_rules! passkey_stores {
    ($store:ty, $row:ty) => {
        use sqlx::Row as _;
        use time::OffsetDateTime;
        use $crate::account::records::UserId;
        use $crate::clock::from_unix;
        use $crate::store::{CeremonyStore, PasskeyStore, StoreResult, StoredPasskey};

        fn passkey_from_row(row: &$row) -> StoreResult<StoredPasskey> {
            let last_used: Option<i64> = row.try_get("last_used_at").map_err(db_error)?;
            Ok(StoredPasskey {
                id: row.try_get("id").map_err(db_error)?,
                user_id: row.try_get("user_id").map_err(db_error)?,
                credential_id: row.try_get("credential_id").map_err(db_error)?,
                name: row.try_get("name").map_err(db_error)?,
                credential: row.try_get("credential").map_err(db_error)?,
                created_at: from_unix(row.try_get("created_at").map_err(db_error)?),
                last_used_at: last_used.map(from_unix),
            })
        }

        #[async_trait::async_trait]
        impl PasskeyStore for $store {
            async fn user_handle(&self, user_id: UserId, fresh: &[u8]) -> StoreResult<Vec<u8>> {
                sqlx::query(
                    "INSERT INTO passkey_handles (user_id, handle) VALUES ($1, $2)
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(fresh)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                sqlx::query_scalar("SELECT handle FROM passkey_handles WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_error)
            }

            async fn user_for_handle(&self, handle: &[u8]) -> StoreResult<Option<UserId>> {
                sqlx::query_scalar("SELECT user_id FROM passkey_handles WHERE handle = $1")
                    .bind(handle)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)
            }

            async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
                )
                .bind(&passkey.id)
                .bind(passkey.user_id)
                .bind(&passkey.credential_id)
                .bind(&passkey.name)
                .bind(&passkey.credential)
                .bind(passkey.created_at.unix_timestamp())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn passkeys(&self, user_id: UserId) -> StoreResult<Vec<StoredPasskey>> {
                let rows: Vec<$row> = sqlx::query(
                    "SELECT id, user_id, credential_id, name, credential, created_at, last_used_at
                     FROM passkeys WHERE user_id = $1 ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter().map(passkey_from_row).collect()
            }

            async fn passkey_by_credential(
                &self,
                credential_id: &[u8],
            ) -> StoreResult<Option<StoredPasskey>> {
                let row: Option<$row> = sqlx::query(
                    "SELECT id, user_id, credential_id, name, credential, created_at, last_used_at
                     FROM passkeys WHERE credential_id = $1",
                )
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                row.as_ref().map(passkey_from_row).transpose()
            }

            async fn passkey_used(
                &self,
                id: &str,
                credential: &str,
                now: OffsetDateTime,
            ) -> StoreResult<()> {
                sqlx::query("UPDATE passkeys SET credential = $2, last_used_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(credential)
                    .bind(now.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }

            async fn rename_passkey(
                &self,
                user_id: UserId,
                id: &str,
                name: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE passkeys SET name = $3 WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .bind(name)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delete_passkey(&self, user_id: UserId, id: &str) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let done = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
                    .bind(user_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                // Recovery codes stand in for a factor; without one left they go too.
                sqlx::query(
                    "DELETE FROM recovery_codes WHERE user_id = $1
                     AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1)
                     AND NOT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = $1 AND confirmed)",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait::async_trait]
        impl CeremonyStore for $store {
            async fn put_ceremony(
                &self,
                key: &[u8; 32],
                state: &str,
                expires_at: OffsetDateTime,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO webauthn_ceremonies (key, state, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET state = $2, expires_at = $3",
                )
                .bind(&key[..])
                .bind(state)
                .bind(expires_at.unix_timestamp())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn take_ceremony(
                &self,
                key: &[u8; 32],
                now: OffsetDateTime,
            ) -> StoreResult<Option<String>> {
                // One statement: of two answers to one challenge, one gets the state.
                let row: Option<$row> = sqlx::query(
                    "DELETE FROM webauthn_ceremonies WHERE key = $1 RETURNING state, expires_at",
                )
                .bind(&key[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                let Some(row) = row else { return Ok(None) };
                let expires: i64 = row.try_get("expires_at").map_err(db_error)?;
                if expires <= now.unix_timestamp() {
                    return Ok(None);
                }
                Ok(Some(row.try_get("state").map_err(db_error)?))
            }

            async fn delete_expired_ceremonies(&self, now: OffsetDateTime) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
                    .bind(now.unix_timestamp())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(in crate::store) use passkey_stores;
