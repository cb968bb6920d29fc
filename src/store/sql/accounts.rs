//! Users and sessions in SQL, one text for SQLite and PostgreSQL.

/// Implements [`UserStore`](crate::store::UserStore) and
/// [`SessionStore`](crate::store::SessionStore) for `$store` (which has a `pool` field, and a
/// `reader()` for the point reads of a session check) whose
/// rows are `$row`; `db_error` must be in scope where it is invoked.
macro_rules! account_stores {
    ($store:ty, $row:ty) => {
        use sqlx::Row as _;
        use time::OffsetDateTime;
        use $crate::account::records::{DisplayName, Email, Role, User, UserId, Username};
        use $crate::clock::from_unix;
        use $crate::store::{
            Credentials, IdleCutoffs, NewUser, Ping, SessionRecord, SessionStore, StoreError,
            StoreResult, UserStore, UserUpdate,
        };

        fn user_from_row(row: &$row) -> StoreResult<User> {
            let role: String = row.try_get("role").map_err(db_error)?;
            Ok(User {
                id: row.try_get("id").map_err(db_error)?,
                username: Username::from_stored(row.try_get("username").map_err(db_error)?),
                role: Role::parse(&role)
                    .map_err(|_| anyhow::anyhow!("bad role {role:?} in database"))?,
                disabled: row.try_get("disabled").map_err(db_error)?,
                name: row
                    .try_get::<Option<String>, _>("name")
                    .map_err(db_error)?
                    .map(DisplayName::from_stored),
                email: row
                    .try_get::<Option<String>, _>("email")
                    .map_err(db_error)?
                    .map(Email::from_stored),
                email_verified: row.try_get("email_verified").map_err(db_error)?,
                created_at: from_unix(row.try_get("created_at").map_err(db_error)?),
            })
        }

        fn session_from_row(
            row: &$row,
        ) -> StoreResult<SessionRecord> {
            let hash: Vec<u8> = row.try_get("secret_hash").map_err(db_error)?;
            let time = |name: &str| {
                row.try_get(name)
                    .map(from_unix)
                    .map_err(db_error)
            };
            Ok(SessionRecord {
                id: row.try_get("id").map_err(db_error)?,
                secret_hash: hash
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("bad secret hash length in database"))?,
                user_id: row.try_get("user_id").map_err(db_error)?,
                created_at: time("created_at")?,
                last_seen_at: time("last_seen_at")?,
                expires_at: time("expires_at")?,
                remember: row.try_get("remember").map_err(db_error)?,
                user_agent: row.try_get("user_agent").map_err(db_error)?,
                ip: row.try_get("ip").map_err(db_error)?,
            })
        }

        #[async_trait::async_trait]
        impl UserStore for $store {
            async fn create(
                &self,
                user: NewUser,
            ) -> StoreResult<User> {
                let result = sqlx::query(
                    "INSERT INTO users (username, username_key, password_hash, role, disabled, name, email, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     RETURNING id, username, role, disabled, name, email, email_verified, created_at",
                )
                .bind(user.username.as_str())
                .bind(user.username.key())
                .bind(&user.password_hash)
                .bind(user.role.as_str())
                .bind(false)
                .bind(user.name.as_ref().map(DisplayName::as_str))
                .bind(user.email.as_ref().map(Email::as_str))
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

            async fn get(
                &self,
                id: UserId,
            ) -> StoreResult<Option<std::sync::Arc<User>>> {
                let row = sqlx::query("SELECT id, username, role, disabled, name, email, email_verified, created_at FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *self.reader().await?)
                    .await
                    .map_err(db_error)?;
                Ok(row.as_ref().map(user_from_row).transpose()?.map(std::sync::Arc::new))
            }

            async fn credentials(
                &self,
                username: &Username,
            ) -> StoreResult<Option<Credentials>> {
                    let row = sqlx::query(
                    "SELECT id, username, role, disabled, name, email, email_verified, created_at, password_hash
                     FROM users WHERE username_key = $1",
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
                let rows = sqlx::query("SELECT id, username, role, disabled, name, email, email_verified, created_at FROM users ORDER BY username_key")
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter().map(user_from_row).collect()
            }

            async fn update(
                &self,
                id: UserId,
                update: UserUpdate,
            ) -> StoreResult<Option<User>> {
                let row = sqlx::query(
                    "UPDATE users SET role = COALESCE($1, role), disabled = COALESCE($2, disabled)
                     WHERE id = $3
                     RETURNING id, username, role, disabled, name, email, email_verified, created_at",
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
                name: Option<Option<DisplayName>>,
                email: Option<Option<Email>>,
            ) -> StoreResult<Option<User>> {
                let row = sqlx::query(
                    // A new address is unverified; setting the same one again keeps the state.
                    "UPDATE users SET name = CASE WHEN $1 THEN $2 ELSE name END,
                                      email_verified = CASE WHEN $3 AND $4 IS NOT DISTINCT FROM email
                                                            THEN email_verified
                                                            WHEN $3 THEN FALSE
                                                            ELSE email_verified END,
                                      email = CASE WHEN $3 THEN $4 ELSE email END
                     WHERE id = $5
                     RETURNING id, username, role, disabled, name, email, email_verified, created_at",
                )
                .bind(name.is_some())
                .bind(name.flatten().map(|n| n.as_str().to_owned()))
                .bind(email.is_some())
                .bind(email.flatten().map(|e| e.as_str().to_owned()))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
                row.as_ref().map(user_from_row).transpose()
            }

            async fn delete(&self, id: UserId) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM users WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn mark_email_verified(&self, id: UserId, email: &Email) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE users SET email_verified = TRUE WHERE id = $1 AND email = $2",
                )
                .bind(id)
                .bind(email.as_str())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn with_verified_email(&self, email: &Email) -> StoreResult<Vec<User>> {
                let rows = sqlx::query(
                    "SELECT id, username, role, disabled, name, email, email_verified, created_at
                     FROM users WHERE lower(email) = lower($1) AND email_verified
                     ORDER BY username_key",
                )
                .bind(email.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter().map(user_from_row).collect()
            }

            async fn set_password_hash(
                &self,
                id: UserId,
                hash: &str,
            ) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(hash)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }
        }

        #[async_trait::async_trait]
        impl SessionStore for $store {
            async fn create(
                &self,
                s: &SessionRecord,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (id, secret_hash, user_id, created_at, last_seen_at, expires_at, remember, user_agent, ip)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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

            async fn find_by_secret_hash(
                &self,
                hash: &[u8; 32],
            ) -> StoreResult<Option<std::sync::Arc<SessionRecord>>> {
                let row = sqlx::query("SELECT id, secret_hash, user_id, created_at, last_seen_at, expires_at, remember, user_agent, ip FROM sessions WHERE secret_hash = $1")
                    .bind(&hash[..])
                    .fetch_optional(&mut *self.reader().await?)
                    .await
                    .map_err(db_error)?;
                Ok(row.as_ref().map(session_from_row).transpose()?.map(std::sync::Arc::new))
            }

            async fn touch(
                &self,
                session: &SessionRecord,
                last_seen_at: OffsetDateTime,
            ) -> StoreResult<()> {
                // One statement, and the time never moves back: two nodes touching one session
                // at once cannot undo each other.
                sqlx::query(
                    "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1",
                )
                .bind(last_seen_at.unix_timestamp())
                .bind(&session.id)
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn delete(&self, id: &str) -> StoreResult<bool> {
                let done = sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn delete_for_user(
                &self,
                user_id: UserId,
            ) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected())
            }

            async fn list_for_user(
                &self,
                user_id: UserId,
            ) -> StoreResult<Vec<SessionRecord>> {
                let rows = sqlx::query("SELECT id, secret_hash, user_id, created_at, last_seen_at, expires_at, remember, user_agent, ip FROM sessions WHERE user_id = $1 ORDER BY created_at, id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
                rows.iter().map(session_from_row).collect()
            }

            async fn delete_others(
                &self,
                user_id: UserId,
                keep: &str,
            ) -> StoreResult<u64> {
                let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                    .bind(user_id)
                    .bind(keep)
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected())
            }

            async fn delete_expired(
                &self,
                now: OffsetDateTime,
                idle: IdleCutoffs,
            ) -> StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM sessions WHERE expires_at <= $1
                        OR (NOT remember AND last_seen_at <= $2) OR (remember AND last_seen_at <= $3)",
                )
                .bind(now.unix_timestamp())
                .bind(idle.ordinary.unix_timestamp())
                .bind(idle.remembered.unix_timestamp())
                .execute(&self.pool)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected())
            }

            async fn count_active(
                &self,
                now: OffsetDateTime,
            ) -> StoreResult<u64> {
                let n: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE expires_at > $1")
                        .bind(now.unix_timestamp())
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_error)?;
                Ok(u64::try_from(n).unwrap_or(0))
            }
        }

        #[async_trait::async_trait]
        impl Ping for $store {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }
        }
    };
}

pub(in crate::store) use account_stores;
