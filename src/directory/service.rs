//! The directory's rules: reads for any user, writes that keep the org chart a tree.

use std::sync::Arc;

use time::OffsetDateTime;

use super::records::{Employee, EmployeeId, EmployeeInput, EmployeeSummary};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::store::{EmployeeStore, StoreError};

/// The directory service the employee routes and the demo call.
pub struct Directory {
    store: Arc<dyn EmployeeStore>,
    clock: Arc<dyn Clock>,
}

fn write_error(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownManager => ApiError::field("managerId", "unknown_manager"),
        other => other.into(),
    }
}

impl Directory {
    pub fn new(store: Arc<dyn EmployeeStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Everyone, or those whose "first last" contains `name` (ignoring case; blank = everyone).
    pub async fn list(&self, name: Option<&str>) -> Result<Vec<EmployeeSummary>, ApiError> {
        let name = name.map(str::trim).filter(|n| !n.is_empty());
        Ok(self.store.list(name).await?)
    }

    pub async fn modified_since(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<EmployeeSummary>, ApiError> {
        Ok(self.store.modified_since(since).await?)
    }

    pub async fn get(&self, id: EmployeeId) -> Result<Arc<Employee>, ApiError> {
        self.store.get(id).await?.ok_or(ApiError::NotFound)
    }

    /// An employee's direct reports; 404 for an unknown employee.
    pub async fn reports(&self, id: EmployeeId) -> Result<Vec<EmployeeSummary>, ApiError> {
        if self.store.manager_of(id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        Ok(self.store.reports(id).await?)
    }

    /// Validates a write: field rules, then that the manager exists and is not the employee or
    /// one of their own reports (which would make a cycle).
    async fn checked(
        &self,
        id: Option<EmployeeId>,
        input: EmployeeInput,
    ) -> Result<EmployeeInput, ApiError> {
        crate::error::validate_fields(&input, EmployeeInput::wire_name)?;
        let input = input.normalised();
        let Some(manager) = input.manager_id else {
            return Ok(input);
        };
        let mut cursor = Some(manager);
        let mut depth = 0;
        while let Some(current) = cursor {
            if Some(current) == id {
                return Err(ApiError::field("managerId", "manager_cycle"));
            }
            depth += 1;
            cursor = match self.store.manager_of(current).await? {
                Some(next) if depth < 10_000 => next,
                Some(_) => return Err(ApiError::field("managerId", "manager_cycle")),
                None if current == manager => {
                    return Err(ApiError::field("managerId", "unknown_manager"));
                }
                None => None,
            };
        }
        Ok(input)
    }

    pub async fn create(&self, input: EmployeeInput) -> Result<Employee, ApiError> {
        let input = self.checked(None, input).await?;
        self.store
            .create(&input, self.clock.now())
            .await
            .map_err(write_error)
    }

    /// Replaces employee `id`; 404 if there is none.
    pub async fn replace(
        &self,
        id: EmployeeId,
        input: EmployeeInput,
    ) -> Result<Employee, ApiError> {
        if self.store.manager_of(id).await?.is_none() {
            return Err(ApiError::NotFound);
        }
        let input = self.checked(Some(id), input).await?;
        self.store
            .update(id, &input, self.clock.now())
            .await
            .map_err(write_error)?
            .ok_or(ApiError::NotFound)
    }

    /// Removes an employee; their reports move up to the removed employee's manager.
    pub async fn delete(&self, id: EmployeeId) -> Result<(), ApiError> {
        if self.store.delete(id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Adds the demo company when the directory is empty; how many were added.
    pub async fn seed_if_empty(&self) -> Result<usize, ApiError> {
        Ok(super::seed_if_empty(&*self.store, self.clock.now()).await?)
    }
}
