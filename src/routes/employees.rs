//! The employee directory API of seed 002, behind `authorize(role)`: any user reads, an admin
//! sees reports and writes. Lists are plain JSON arrays, as Backbone collections expect.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::directory::{
    Directory, Employee, EmployeeId, EmployeeInput, EmployeeSummary, parse_timestamp,
};
use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::http::auth::{Admin, CurrentUser, RequireRole};
use crate::http::extract::{ApiJson, ApiQuery, PathParam};
use crate::state::AppState;

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
    State(directory): State<Arc<Directory>>,
    _: CurrentUser,
    ApiQuery(filter): ApiQuery<NameFilter>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    Ok(Json(directory.list(filter.name.as_deref()).await?))
}

/// Employees whose "first last" contains the query (ignoring case).
#[utoipa::path(get, path = "/employees/search/{query}", tag = "directory",
    params(("query" = String, Path, description = "Text to look for, percent-encoded")),
    responses(
        (status = 200, description = "Matching employees", body = Vec<EmployeeSummary>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    ))]
async fn search_employees(
    State(directory): State<Arc<Directory>>,
    _: CurrentUser,
    PathParam(query): PathParam<String>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    Ok(Json(directory.list(Some(&query)).await?))
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
    State(directory): State<Arc<Directory>>,
    _: CurrentUser,
    PathParam(timestamp): PathParam<String>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    let since = parse_timestamp(&timestamp)
        .ok_or_else(|| ApiError::field("timestamp", "invalid_timestamp"))?;
    Ok(Json(directory.modified_since(since).await?))
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
    State(directory): State<Arc<Directory>>,
    _: CurrentUser,
    PathParam(id): PathParam<EmployeeId>,
) -> Result<Json<Arc<Employee>>, ApiError> {
    Ok(Json(directory.get(id).await?))
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
    State(directory): State<Arc<Directory>>,
    _: RequireRole<Admin>,
    PathParam(id): PathParam<EmployeeId>,
) -> Result<Json<Vec<EmployeeSummary>>, ApiError> {
    Ok(Json(directory.reports(id).await?))
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
    State(directory): State<Arc<Directory>>,
    _: RequireRole<Admin>,
    ApiJson(input): ApiJson<EmployeeInput>,
) -> Result<Response, ApiError> {
    let employee = directory.create(input).await?;
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
    State(directory): State<Arc<Directory>>,
    _: RequireRole<Admin>,
    PathParam(id): PathParam<EmployeeId>,
    ApiJson(input): ApiJson<EmployeeInput>,
) -> Result<Json<Employee>, ApiError> {
    Ok(Json(directory.replace(id, input).await?))
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
    State(directory): State<Arc<Directory>>,
    _: RequireRole<Admin>,
    PathParam(id): PathParam<EmployeeId>,
) -> Result<StatusCode, ApiError> {
    directory.delete(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
