//! Accounts: sign-up (`POST /users`, which logs in), the caller's own record, and the admin's
//! list and changes (`GET /users`, `PATCH /users/{id}`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Extension, Json, Router};
use garde::Validate;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::account::{self, Username, parse_email, parse_name};
use crate::app::AppState;
use crate::error::{ApiError, FieldErrors};
use crate::extract::{ApiJson, PathParam};
use crate::password::Password;
use crate::roles::{Admin, CurrentUser, RequireRole, Role};
use crate::routes::session::{SessionBody, with_cookies};
use crate::session::{ClientInfo, SessionContext};
use crate::store::UserUpdate;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(sign_up))
        .route("/users/me", get(me))
        .route("/users/{id}", patch(update))
}

/// A garde rule from one of our parse functions; absent values are `required` when `needed`.
fn rule<T>(
    parse: fn(&str) -> Result<T, &'static str>,
    needed: bool,
) -> impl FnOnce(&Option<String>, &()) -> garde::Result {
    move |value, _| match value {
        None if needed => Err(garde::Error::new("required")),
        None => Ok(()),
        Some(v) => parse(v).map(drop).map_err(garde::Error::new),
    }
}

/// Validates and collects every field's codes into one 422.
fn validate(body: &impl Validate<Context = ()>) -> Result<(), ApiError> {
    body.validate().map_err(|report| {
        let mut fields = FieldErrors::new();
        for (path, error) in report.iter() {
            fields
                .entry(path.to_string())
                .or_default()
                .push(error.message().to_owned());
        }
        ApiError::Validation {
            message: "some fields are invalid; see `fields`".into(),
            fields,
        }
    })
}

/// Sign-up body. Any other field (such as `role`) is ignored: clients cannot pick their role.
#[derive(Deserialize, Validate)]
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

async fn me(CurrentUser(auth): CurrentUser) -> Json<Value> {
    Json(json!({ "user": auth.user }))
}

async fn list(
    State(state): State<AppState>,
    _: RequireRole<Admin>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "items": state.stores.users.list().await? })))
}

#[derive(Deserialize, Validate)]
struct AdminChange {
    #[garde(custom(rule(Role::parse, false)))]
    #[serde(default)]
    role: Option<String>,
    #[garde(skip)]
    #[serde(default)]
    disabled: Option<bool>,
}

async fn update(
    State(state): State<AppState>,
    RequireRole(admin, ..): RequireRole<Admin>,
    PathParam(id): PathParam<i64>,
    ApiJson(body): ApiJson<AdminChange>,
) -> Result<Response, ApiError> {
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
    Ok(Json(json!({ "user": user })).into_response())
}
