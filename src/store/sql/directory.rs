//! The employee directory in SQL, one text for SQLite and PostgreSQL.

/// Implements [`EmployeeStore`](crate::store::EmployeeStore) for `$store`; see `account_stores!`.
macro_rules! directory_store {
    ($store:ty, $row:ty) => {
        use sqlx::Row as _;
        use $crate::clock::from_unix;
        use $crate::directory::records::{Employee, EmployeeId, EmployeeInput, EmployeeSummary};
        use $crate::store::{StoreError, StoreResult};
        use time::OffsetDateTime;

        const SELECT_DETAIL: &str =
            "SELECT e.*, m.first_name AS manager_first_name, m.last_name AS manager_last_name,
                (SELECT COUNT(*) FROM employees r WHERE r.manager_id = e.id) AS report_count
             FROM employees e LEFT JOIN employees m ON m.id = e.manager_id
             WHERE e.id = $1";

        fn summary(row: &$row) -> StoreResult<EmployeeSummary> {
            Ok(EmployeeSummary {
                id: row.try_get("id").map_err(db_error)?,
                first_name: row.try_get("first_name").map_err(db_error)?,
                last_name: row.try_get("last_name").map_err(db_error)?,
                title: row.try_get("title").map_err(db_error)?,
                report_count: row.try_get("report_count").map_err(db_error)?,
            })
        }

        fn detail(row: &$row) -> StoreResult<Employee> {
            let text = |name: &str| row.try_get::<Option<String>, _>(name).map_err(db_error);
            Ok(Employee {
                id: row.try_get("id").map_err(db_error)?,
                first_name: row.try_get("first_name").map_err(db_error)?,
                last_name: row.try_get("last_name").map_err(db_error)?,
                title: text("title")?,
                department: text("department")?,
                office_phone: text("office_phone")?,
                cell_phone: text("cell_phone")?,
                email: text("email")?,
                city: text("city")?,
                manager_id: row.try_get("manager_id").map_err(db_error)?,
                manager_first_name: text("manager_first_name")?,
                manager_last_name: text("manager_last_name")?,
                twitter_id: text("twitter_id")?,
                blog_url: text("blog_url")?,
                report_count: row.try_get("report_count").map_err(db_error)?,
                last_modified: from_unix(row.try_get("last_modified").map_err(db_error)?),
            })
        }

        fn write_error(e: sqlx::Error) -> StoreError {
            match &e {
                sqlx::Error::Database(d) if d.is_foreign_key_violation() => StoreError::UnknownManager,
                _ => db_error(e),
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::EmployeeStore for $store {
            async fn list(&self, name: Option<&str>) -> StoreResult<Vec<EmployeeSummary>> {
                let rows = match name {
                    Some(name) => {
                        sqlx::query("SELECT e.id, e.first_name, e.last_name, e.title,
                            (SELECT COUNT(*) FROM employees r WHERE r.manager_id = e.id) AS report_count
                     FROM employees e WHERE lower(e.first_name || ' ' || e.last_name) LIKE lower($1) ESCAPE '\\' ORDER BY lower(e.last_name), lower(e.first_name), e.id")
                        .bind($crate::store::sql::like_pattern(name))
                        .fetch_all(&self.pool)
                        .await
                    }
                    None => {
                        sqlx::query("SELECT e.id, e.first_name, e.last_name, e.title,
                            (SELECT COUNT(*) FROM employees r WHERE r.manager_id = e.id) AS report_count
                     FROM employees e  ORDER BY lower(e.last_name), lower(e.first_name), e.id")
                            .fetch_all(&self.pool)
                            .await
                    }
                }
                .map_err(db_error)?;
                rows.iter().map(summary).collect()
            }

            async fn modified_since(&self, since: OffsetDateTime) -> StoreResult<Vec<EmployeeSummary>> {
                let rows = sqlx::query("SELECT e.id, e.first_name, e.last_name, e.title,
                            (SELECT COUNT(*) FROM employees r WHERE r.manager_id = e.id) AS report_count
                     FROM employees e WHERE e.last_modified > $1 ORDER BY lower(e.last_name), lower(e.first_name), e.id")
                    .bind(since.unix_timestamp())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter().map(summary).collect()
            }

            async fn get(&self, id: EmployeeId) -> StoreResult<Option<std::sync::Arc<Employee>>> {
                let row = sqlx::query(SELECT_DETAIL)
                    .bind(id)
                    .fetch_optional(&mut *self.reader().await?)
                    .await
                    .map_err(db_error)?;
                Ok(row.as_ref().map(detail).transpose()?.map(std::sync::Arc::new))
            }

            async fn reports(&self, id: EmployeeId) -> StoreResult<Vec<EmployeeSummary>> {
                let rows = sqlx::query("SELECT e.id, e.first_name, e.last_name, e.title,
                            (SELECT COUNT(*) FROM employees r WHERE r.manager_id = e.id) AS report_count
                     FROM employees e WHERE e.manager_id = $1 ORDER BY lower(e.last_name), lower(e.first_name), e.id")
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter().map(summary).collect()
            }

            async fn manager_of(&self, id: EmployeeId) -> StoreResult<Option<Option<EmployeeId>>> {
                sqlx::query_scalar("SELECT manager_id FROM employees WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)
            }

            async fn create(&self, input: &EmployeeInput, now: OffsetDateTime) -> StoreResult<Employee> {
                let id: EmployeeId = sqlx::query_scalar(
                    "INSERT INTO employees (first_name, last_name, manager_id, title, department, office_phone,
                         cell_phone, email, city, twitter_id, blog_url, last_modified)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(&input.first_name)
                .bind(&input.last_name)
                .bind(input.manager_id)
                .bind(&input.title)
                .bind(&input.department)
                .bind(&input.office_phone)
                .bind(&input.cell_phone)
                .bind(&input.email)
                .bind(&input.city)
                .bind(&input.twitter_id)
                .bind(&input.blog_url)
                .bind(now.unix_timestamp())
                .fetch_one(&self.pool)
                .await
                .map_err(write_error)?;
                self.get(id)
                    .await?
                    .map(std::sync::Arc::unwrap_or_clone)
                    .ok_or_else(|| {
                        StoreError::Other(anyhow::anyhow!("employee {id} vanished after insert"))
                    })
            }

            async fn update(
                &self,
                id: EmployeeId,
                input: &EmployeeInput,
                now: OffsetDateTime,
            ) -> StoreResult<Option<Employee>> {
                let done = sqlx::query(
                    "UPDATE employees SET first_name = $1, last_name = $2, manager_id = $3, title = $4, department = $5,
                         office_phone = $6, cell_phone = $7, email = $8, city = $9, twitter_id = $10, blog_url = $11,
                         last_modified = $12
                     WHERE id = $13",
                )
                .bind(&input.first_name)
                .bind(&input.last_name)
                .bind(input.manager_id)
                .bind(&input.title)
                .bind(&input.department)
                .bind(&input.office_phone)
                .bind(&input.cell_phone)
                .bind(&input.email)
                .bind(&input.city)
                .bind(&input.twitter_id)
                .bind(&input.blog_url)
                .bind(now.unix_timestamp())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(write_error)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                Ok(self.get(id).await?.map(std::sync::Arc::unwrap_or_clone))
            }

            async fn delete(&self, id: EmployeeId, now: OffsetDateTime) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                // Reports move up to the deleted employee's own manager (or become top-level).
                sqlx::query(
                    "UPDATE employees SET manager_id = (SELECT manager_id FROM employees WHERE id = $1),
                         last_modified = $2
                     WHERE manager_id = $3",
                )
                .bind(id)
                .bind(now.unix_timestamp())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                let done = sqlx::query("DELETE FROM employees WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn count(&self) -> StoreResult<i64> {
                sqlx::query_scalar("SELECT COUNT(*) FROM employees")
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db_error)
            }
        }
    };
}

pub(in crate::store) use directory_store;
