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
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, PathParam};
use crate::password::Password;
use crate::roles::{Admin, CurrentUser, RequireRole, Role};
use crate::routes::session::{SessionBody, with_cookies};
use crate::routes::{rule, validate};
use crate::session::{ClientInfo, SessionContext};
use crate::store::UserUpdate;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, sign_up))
        .routes(routes!(current_user))
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
    tracing::info!(user_id = user.id, "sign-up");
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
    PathParam(id): PathParam<i64>,
    ApiJson(body): ApiJson<AdminChange>,
) -> Result<Json<UserReply>, ApiError> {
    validate(&body)?;
    let change = UserUpdate {
        role: body.role.as_deref().and_then(|r| Role::parse(r).ok()),
        disabled: body.disabled,
    };
    let user = account::change(&state, id, change)
        .await?
        .ok_or(ApiError::NotFound)?;
    tracing::info!(
        admin_id = admin.user.id,
        user_id = user.id,
        role = user.role.as_str(),
        disabled = user.disabled,
        "user changed"
    );
    Ok(Json(UserReply { user }))
}
