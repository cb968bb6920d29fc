//! Accounts: sign-up (`POST /users`, which logs in), the caller's own record, and the admin's
//! list and changes (`GET /users`, `PATCH /users/{id}`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::{self, User, Username, parse_email, parse_name};
use crate::app::AppState;
use crate::audit;
use crate::client::ClientInfo;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, PathParam};
use crate::password::Password;
use crate::roles::{Admin, CurrentUser, RequireRole, Role};
use crate::routes::session::{SessionBody, with_cookies};
use crate::routes::{rule, validate};
use crate::session::SessionContext;
use crate::store::{AuditEvent, UserUpdate};
use axum::http::HeaderMap;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, sign_up))
        .routes(routes!(current_user, update_profile, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(update_user))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserReply {
    user: User,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    items: Vec<User>,
}

/// Sign-up body. Any other field (such as `role`) is ignored: clients cannot pick their role.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
struct SignUp {
    #[garde(custom(rule(Username::parse, true)))]
    #[serde(default)]
    username: Option<String>,
    #[garde(custom(rule(Password::parse_new, true)))]
    #[serde(default)]
    password: Option<String>,
    #[garde(custom(rule(parse_name, false)))]
    #[serde(default)]
    name: Option<String>,
    #[garde(custom(rule(parse_email, false)))]
    #[serde(default)]
    email: Option<String>,
}

/// Creates an account and logs it in.
#[utoipa::path(post, path = "/users", tag = "accounts", request_body = SignUp, responses(
    (status = 201, description = "Created and logged in; a new session cookie is set", body = SessionBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 409, description = "`username_taken`", body = ErrorBody),
    (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
))]
async fn sign_up(
    State(state): State<AppState>,
    Extension(context): Extension<SessionContext>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<Response, ApiError> {
    validate(&body)?;
    let username = Username::parse(body.username.as_deref().unwrap_or_default())
        .map_err(|c| ApiError::field("username", c))?;
    let password = Password::parse_new(body.password.as_deref().unwrap_or_default())
        .map_err(|c| ApiError::field("password", c))?;
    if password.expose().eq_ignore_ascii_case(username.as_str()) {
        return Err(ApiError::field("password", "same_as_username"));
    }
    let optional = |v: Option<String>, parse: fn(&str) -> Result<String, &'static str>| {
        v.and_then(|v| parse(&v).ok()).filter(|v| !v.is_empty())
    };
    let user = account::create(
        &state,
        username,
        &password,
        Role::User,
        optional(body.name, parse_name),
        optional(body.email, parse_email),
    )
    .await?;
    audit::record(
        &state,
        AuditEvent::new(&state, "signup", &client).user(&user),
    )
    .await;
    let (auth, cookies) = state.sessions.start(user, false, &context, &client).await?;
    Ok(with_cookies(
        cookies,
        (
            StatusCode::CREATED,
            Json(SessionBody::logged_in(&state, &auth)),
        ),
    ))
}

/// The caller's own account.
#[utoipa::path(get, path = "/users/me", tag = "accounts", responses(
    (status = 200, description = "The caller", body = UserReply),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
))]
async fn current_user(CurrentUser(auth): CurrentUser) -> Json<UserReply> {
    Json(UserReply {
        user: auth.user.clone(),
    })
}

/// Every account (admins only).
#[utoipa::path(get, path = "/users", tag = "accounts", responses(
    (status = 200, description = "Accounts ordered by username", body = UserList),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 403, description = "`forbidden`", body = ErrorBody),
))]
async fn list_users(
    State(state): State<AppState>,
    _: RequireRole<Admin>,
) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList {
        items: state.stores.users.list().await?,
    }))
}

/// An admin's change to an account.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
struct AdminChange {
    #[garde(custom(rule(Role::parse, false)))]
    #[serde(default)]
    role: Option<String>,
    #[garde(skip)]
    #[serde(default)]
    disabled: Option<bool>,
}

/// Changes an account's role or disables it (admins only); disabling ends its sessions.
#[utoipa::path(patch, path = "/users/{id}", tag = "accounts", request_body = AdminChange,
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The changed account", body = UserReply),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
    ))]
async fn update_user(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    client: ClientInfo,
    PathParam(id): PathParam<i64>,
    ApiJson(body): ApiJson<AdminChange>,
) -> Result<Json<UserReply>, ApiError> {
    validate(&body)?;
    let change = UserUpdate {
        role: body.role.as_deref().and_then(|r| Role::parse(r).ok()),
        disabled: body.disabled,
    };
    let actor = format!("admin {}", admin.user.username);
    let user = account::change(&state, id, change, &client, &actor)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(UserReply { user }))
}

/// `PATCH /users/me` body; a field left out stays as it is, `""` or `null` clears it.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
struct ProfileChange {
    #[garde(custom(optional_field(parse_name)))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[garde(custom(optional_field(parse_email)))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
}

/// Tells a JSON `null` (`Some(None)`) from a missing field (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A garde rule for a field that may be missing, `null` or `""` (all fine) or a value to parse.
fn optional_field(
    parse: fn(&str) -> Result<String, &'static str>,
) -> impl FnOnce(&Option<Option<String>>, &()) -> garde::Result {
    move |value, _| match value.as_ref().and_then(|v| v.as_deref()).map(str::trim) {
        None | Some("") => Ok(()),
        Some(v) => parse(v).map(drop).map_err(garde::Error::new),
    }
}

/// Changes the caller's name or e-mail.
#[utoipa::path(patch, path = "/users/me", tag = "accounts", request_body = ProfileChange, responses(
    (status = 200, description = "The changed account", body = UserReply),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
))]
async fn update_profile(
    State(state): State<AppState>,
    CurrentUser(auth): CurrentUser,
    ApiJson(body): ApiJson<ProfileChange>,
) -> Result<Json<UserReply>, ApiError> {
    validate(&body)?;
    let clean = |v: Option<Option<String>>| {
        v.map(|inner| inner.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()))
    };
    let user = state
        .stores
        .users
        .update_profile(auth.user.id, clean(body.name), clean(body.email))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(Json(UserReply { user }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PasswordChange {
    #[serde(default)]
    current_password: Option<String>,
    #[serde(default)]
    new_password: Option<String>,
}

/// Changes the caller's password: the current session is rotated and every other one ends.
#[utoipa::path(put, path = "/users/me/password", tag = "accounts", request_body = PasswordChange, responses(
    (status = 200, description = "Changed; a new session cookie and token", body = SessionBody),
    (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong current password", body = ErrorBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn change_password(
    State(state): State<AppState>,
    Extension(context): Extension<SessionContext>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let current = body
        .current_password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::field("current_password", "required"))?;
    let new = Password::parse_new(body.new_password.as_deref().unwrap_or_default())
        .map_err(|c| ApiError::field("new_password", c))?;
    if new.expose().eq_ignore_ascii_case(&auth.user.username) {
        return Err(ApiError::field("new_password", "same_as_username"));
    }
    // Re-authentication for a sensitive change (OWASP ASVS 5.0 V6.2.3), throttled like a login.
    let user = account::authenticate(
        &state,
        &auth.user.username,
        &Password::candidate(&current),
        &client,
        &headers,
    )
    .await?;
    let hash = state.passwords.hash(&new).await?;
    state.stores.users.set_password_hash(user.id, &hash).await?;
    // A password change ends every other session (OWASP ASVS 5.0 V7.4.3) and rotates this one.
    state
        .stores
        .sessions
        .delete_others(user.id, &auth.session.id)
        .await?;
    let (rotated, cookies) = state
        .sessions
        .start(user, auth.session.remember, &context, &client)
        .await?;
    audit::record(
        &state,
        AuditEvent::new(&state, "password_changed", &client).user(&rotated.user),
    )
    .await;
    Ok(with_cookies(
        cookies,
        Json(SessionBody::logged_in(&state, &rotated)),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct AccountDeletion {
    #[serde(default)]
    password: Option<String>,
}

/// Deletes the caller's account and every session of it.
#[utoipa::path(delete, path = "/users/me", tag = "accounts", request_body = AccountDeletion, responses(
    (status = 200, description = "Deleted and logged out", body = SessionBody),
    (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong password", body = ErrorBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: password missing", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn delete_account(
    State(state): State<AppState>,
    Extension(context): Extension<SessionContext>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AccountDeletion>,
) -> Result<Response, ApiError> {
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::field("password", "required"))?;
    let user = account::authenticate(
        &state,
        &auth.user.username,
        &Password::candidate(&password),
        &client,
        &headers,
    )
    .await?;
    state.stores.delete_user(user.id).await?;
    let (csrf, cookies) = state.sessions.end(&context).await?;
    audit::record(
        &state,
        AuditEvent::new(&state, "user_deleted", &client).user(&user),
    )
    .await;
    Ok(with_cookies(cookies, Json(SessionBody::anonymous(csrf))))
}
