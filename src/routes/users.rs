//! Accounts: sign-up (`POST /users`, which logs in), the caller's own record, and the admin's
//! list and changes (`GET /users`, `PATCH /users/{id}`). Every change is one call to the
//! account services.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::{
    Accounts, Actor, AdminChange, DisplayName, Email, NewAccount, Role, User, Username,
};
use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::http::auth::{Admin, CurrentUser, RequireRole};
use crate::http::extract::{ApiJson, PathParam};
use crate::password::Password;
use crate::peer::Peer;
use crate::routes::session::SessionBody;
use crate::routes::{rule, validate};
use crate::session::{SessionContext, SessionManager};
use crate::state::AppState;

/// `POST /users`: open to anonymous callers.
pub fn sign_up_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_up))
}

/// Everything else here needs a login.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(current_user, update_profile, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(update_user))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserReply {
    pub user: User,
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
    #[garde(custom(rule(DisplayName::parse, false)))]
    #[serde(default)]
    name: Option<String>,
    #[garde(custom(rule(Email::parse, false)))]
    #[serde(default)]
    email: Option<String>,
}

/// Creates an account and logs it in.
#[utoipa::path(post, path = "/users", tag = "accounts", request_body = SignUp, responses(
    (status = 201, description = "Created and logged in; a new session cookie is set. With `account.require_verified_email` and an address, created but not logged in (`auth: false`) until the mailed link is opened", body = SessionBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 409, description = "`username_taken`", body = ErrorBody),
    (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
))]
async fn sign_up(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    peer: Peer,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<Response, ApiError> {
    validate(&body)?;
    let username = Username::parse(body.username.as_deref().unwrap_or_default())
        .map_err(|c| ApiError::field("username", c))?;
    let password = Password::parse_new(body.password.as_deref().unwrap_or_default())
        .map_err(|c| ApiError::field("password", c))?;
    let account = NewAccount {
        username,
        password,
        role: Role::User,
        // Validated above: a present value parses (to `None` when blank).
        name: body
            .name
            .and_then(|v| DisplayName::parse(&v).ok().flatten()),
        email: body.email.and_then(|v| Email::parse(&v).ok().flatten()),
    };
    let user = accounts.create(account, Actor::Owner, &peer).await?;
    if accounts.blocks_login(&user) {
        // `account.require_verified_email`: created, the link mailed, no session until verified.
        let (csrf, cookies) = sessions.end(&context, &peer).await?;
        return Ok(cookies.attach((StatusCode::CREATED, Json(SessionBody::anonymous(csrf)))));
    }
    let (auth, cookies) = sessions.start(user, false, &context, &peer).await?;
    Ok(cookies.attach((
        StatusCode::CREATED,
        Json(SessionBody::logged_in(&sessions, &auth)),
    )))
}

/// The caller's own account.
#[utoipa::path(get, path = "/users/me", tag = "accounts", responses(
    (status = 200, description = "The caller", body = UserReply),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
))]
async fn current_user(CurrentUser(auth): CurrentUser) -> Json<UserReply> {
    Json(UserReply {
        user: User::clone(&auth.user),
    })
}

/// Every account (admins only).
#[utoipa::path(get, path = "/users", tag = "accounts", responses(
    (status = 200, description = "Accounts ordered by username", body = UserList),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 403, description = "`forbidden`", body = ErrorBody),
))]
async fn list_users(
    State(accounts): State<Arc<Accounts>>,
    _: RequireRole<Admin>,
) -> Result<Json<UserList>, ApiError> {
    Ok(Json(UserList {
        items: accounts.list().await?,
    }))
}

/// An admin's change to an account.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
struct AdminChangeBody {
    #[garde(custom(rule(Role::parse, false)))]
    #[serde(default)]
    role: Option<String>,
    #[garde(skip)]
    #[serde(default)]
    disabled: Option<bool>,
}

/// Changes an account's role or disables it (admins only); disabling ends its sessions.
#[utoipa::path(patch, path = "/users/{id}", tag = "accounts", request_body = AdminChangeBody,
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 200, description = "The changed account", body = UserReply),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`, `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed` with `fields`", body = ErrorBody),
    ))]
async fn update_user(
    State(accounts): State<Arc<Accounts>>,
    RequireRole(admin, ..): RequireRole<Admin>,
    peer: Peer,
    PathParam(id): PathParam<i64>,
    ApiJson(body): ApiJson<AdminChangeBody>,
) -> Result<Json<UserReply>, ApiError> {
    validate(&body)?;
    let change = AdminChange {
        role: body.role.as_deref().and_then(|r| Role::parse(r).ok()),
        disabled: body.disabled,
    };
    let user = accounts
        .change(id, change, Actor::Admin(&admin.user), &peer)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(UserReply { user }))
}

/// `PATCH /users/me` body; a field left out stays as it is, `""` or `null` clears it.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
struct ProfileChange {
    #[garde(custom(optional_field(DisplayName::parse)))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[garde(custom(optional_field(Email::parse)))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
}

/// Tells a JSON `null` (`Some(None)`) from a missing field (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A garde rule for a field that may be missing, `null` or `""` (all fine) or a value to parse.
fn optional_field<T>(
    parse: fn(&str) -> Result<Option<T>, &'static str>,
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
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    ApiJson(body): ApiJson<ProfileChange>,
) -> Result<Json<UserReply>, ApiError> {
    validate(&body)?;
    // Validated above: a present value parses (to `None` when blank, which clears it).
    let name = body
        .name
        .map(|v| v.and_then(|t| DisplayName::parse(&t).ok().flatten()));
    let email = body
        .email
        .map(|v| v.and_then(|t| Email::parse(&t).ok().flatten()));
    let user = accounts
        .update_profile(&auth.user, name, email, &peer)
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
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let device = sessions.device_for(&headers, auth.user.username.as_str());
    let user = accounts
        .change_password(
            &auth.user,
            body.current_password.as_deref(),
            body.new_password.as_deref(),
            &auth.session.id,
            device.as_deref(),
            &peer,
        )
        .await?;
    // Session rotation on a privilege change (OWASP ASVS 5.0 V7.2.4): a new session here too.
    let (rotated, cookies) = sessions
        .start(user, auth.session.remember, &context, &peer)
        .await?;
    Ok(cookies.attach(Json(SessionBody::logged_in(&sessions, &rotated))))
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
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AccountDeletion>,
) -> Result<Response, ApiError> {
    let device = sessions.device_for(&headers, auth.user.username.as_str());
    accounts
        .delete(
            &auth.user,
            body.password.as_deref(),
            device.as_deref(),
            &peer,
        )
        .await?;
    let (csrf, cookies) = sessions.cleared();
    Ok(cookies.attach(Json(SessionBody::anonymous(csrf))))
}
