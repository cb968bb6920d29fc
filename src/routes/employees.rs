//! The employee directory API of seed 002, behind `authorize(role)`: any user reads, an admin
//! sees reports and writes. Lists are plain JSON arrays, as Backbone collections expect.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::directory::{Employee, EmployeeId, EmployeeInput, EmployeeSummary, parse_timestamp};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, PathParam};
use crate::roles::{Admin, CurrentUser, RequireRole};
use crate::store::StoreError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_employees, create_employee))
        .routes(routes!(search_employees))
        .routes(routes!(employees_modified_since))
        .routes(routes!(get_employee, replace_employee, delete_employee))
        .routes(routes!(employee_reports))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct NameFilter {
    /// Only employees whose "first last" contains this text (ignoring case).
    name: Option<String>,
}

/// Every employee, or those matching `?name=`.
#[utoipa::path(get, path = "/employees", tag = "directory", params(NameFilter), responses(
    (status = 200, description = "Employees ordered by last, then first name", body = Vec<EmployeeSummary>),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
))]
async fn list_employees(
    State(state): State<AppState>,
    _: CurrentUser,
    ApiQuery(filter): ApiQuery<NameFilter>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    let name = filter
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    Ok(Json(state.stores.employees.list(name).await?))
}

/// Employees whose "first last" contains the query (ignoring case).
#[utoipa::path(get, path = "/employees/search/{query}", tag = "directory",
    params(("query" = String, Path, description = "Text to look for, percent-encoded")),
    responses(
        (status = 200, description = "Matching employees", body = Vec<EmployeeSummary>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ))]
async fn search_employees(
    State(state): State<AppState>,
    _: CurrentUser,
    PathParam(query): PathParam<String>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    Ok(Json(state.stores.employees.list(Some(query.trim())).await?))
}

/// Employees changed after a time (Unix seconds or RFC 3339).
#[utoipa::path(get, path = "/employees/modifiedsince/{timestamp}", tag = "directory",
    params(("timestamp" = String, Path, description = "Unix seconds or an RFC 3339 time")),
    responses(
        (status = 200, description = "Employees modified after the time", body = Vec<EmployeeSummary>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: not a time", body = ErrorBody),
    ))]
async fn employees_modified_since(
    State(state): State<AppState>,
    _: CurrentUser,
    PathParam(timestamp): PathParam<String>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    let since = parse_timestamp(&timestamp)
        .ok_or_else(|| ApiError::field("timestamp", "invalid_timestamp"))?;
    Ok(Json(state.stores.employees.modified_since(since).await?))
}

/// One employee in full.
#[utoipa::path(get, path = "/employees/{id}", tag = "directory",
    params(("id" = i64, Path, description = "Employee id")),
    responses(
        (status = 200, description = "The employee", body = Employee),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn get_employee(
    State(state): State<AppState>,
    _: CurrentUser,
    PathParam(id): PathParam<EmployeeId>,
) -> Result<Json<Employee>, ApiError> {
    Ok(Json(
        state
            .stores
            .employees
            .get(id)
            .await?
            .ok_or(ApiError::NotFound)?,
    ))
}

/// An employee's direct reports (admins only, as in the tutorial).
#[utoipa::path(get, path = "/employees/{id}/reports", tag = "directory",
    params(("id" = i64, Path, description = "Employee id")),
    responses(
        (status = 200, description = "Direct reports", body = Vec<EmployeeSummary>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn employee_reports(
    State(state): State<AppState>,
    _: RequireRole<Admin>,
    PathParam(id): PathParam<EmployeeId>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    if state.stores.employees.manager_of(id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(state.stores.employees.reports(id).await?))
}

/// Validates a write: field rules, then that the manager exists and is not the employee or
/// one of their own reports (which would make a cycle).
async fn checked(
    state: &AppState,
    id: Option<EmployeeId>,
    input: EmployeeInput,
) -> Result<EmployeeInput, ApiError> {
    crate::routes::validate_named(&input, EmployeeInput::wire_name)?;
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
        cursor = match state.stores.employees.manager_of(current).await? {
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

fn write_error(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownManager => ApiError::field("managerId", "unknown_manager"),
        other => other.into(),
    }
}

/// Adds an employee.
#[utoipa::path(post, path = "/employees", tag = "directory", request_body = EmployeeInput,
    responses(
        (status = 201, description = "Created", body = Employee),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
    ))]
async fn create_employee(
    State(state): State<AppState>,
    _: RequireRole<Admin>,
    ApiJson(input): ApiJson<EmployeeInput>,
) -> Result<Response, ApiError> {
    let input = checked(&state, None, input).await?;
    let employee = state
        .stores
        .employees
        .create(&input, state.clock.now())
        .await
        .map_err(write_error)?;
    Ok((StatusCode::CREATED, Json(employee)).into_response())
}

/// Replaces an employee (fields left out become empty).
#[utoipa::path(put, path = "/employees/{id}", tag = "directory", request_body = EmployeeInput,
    params(("id" = i64, Path, description = "Employee id")),
    responses(
        (status = 200, description = "Replaced", body = Employee),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
    ))]
async fn replace_employee(
    State(state): State<AppState>,
    _: RequireRole<Admin>,
    PathParam(id): PathParam<EmployeeId>,
    ApiJson(input): ApiJson<EmployeeInput>,
) -> Result<Json<Employee>, ApiError> {
    if state.stores.employees.manager_of(id).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let input = checked(&state, Some(id), input).await?;
    let employee = state
        .stores
        .employees
        .update(id, &input, state.clock.now())
        .await
        .map_err(write_error)?;
    Ok(Json(employee.ok_or(ApiError::NotFound)?))
}

/// Removes an employee; their reports move up to the removed employee's manager.
#[utoipa::path(delete, path = "/employees/{id}", tag = "directory",
    params(("id" = i64, Path, description = "Employee id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn delete_employee(
    State(state): State<AppState>,
    _: RequireRole<Admin>,
    PathParam(id): PathParam<EmployeeId>,
) -> Result<StatusCode, ApiError> {
    if state.stores.employees.delete(id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
