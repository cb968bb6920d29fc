//! Getting back in by mail: `POST /password-reset` and `/password-reset/confirm`, and proving an
//! address (`POST /users/me/email/verify`, and asking for a new link). Every rule is in the
//! account services; 404 `mail_not_configured` when `[mail]` is off.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::{Accounts, ResetRequest};
use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::http::auth::CurrentUser;
use crate::http::extract::ApiJson;
use crate::peer::Peer;
use crate::routes::session::SessionBody;
use crate::routes::users::UserReply;
use crate::session::{SessionContext, SessionManager};
use crate::state::AppState;

/// Open to anonymous callers (a reset is for someone who cannot log in).
pub fn anonymous_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(verify_email))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(send_verification))
}

/// The same answer for every reset request.
#[derive(Serialize, utoipa::ToSchema)]
struct Accepted {
    message: &'static str,
}

const RESET_ACCEPTED: &str = "If an account with a verified e-mail address matches, a link to choose a new password is on its way.";

#[derive(Deserialize, utoipa::ToSchema)]
struct ResetBody {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Mails a password-reset link to the account's verified address. Answers 202 whether or not
/// such an account exists.
#[utoipa::path(post, path = "/password-reset", tag = "recovery", request_body = ResetBody, responses(
    (status = 202, description = "Accepted (for every username or address)", body = Accepted),
    (status = 404, description = "`mail_not_configured`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: neither username nor email given", body = ErrorBody),
    (status = 429, description = "`rate_limited`: too many requests from this address", body = ErrorBody),
))]
async fn request_reset(
    State(accounts): State<Arc<Accounts>>,
    peer: Peer,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let request = match (given(body.username), given(body.email)) {
        (_, Some(email)) => ResetRequest::Email(email),
        (Some(username), None) => ResetRequest::Username(username),
        (None, None) => return Err(ApiError::field("username", "required")),
    };
    accounts.request_password_reset(request, &peer).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            message: RESET_ACCEPTED,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ConfirmBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    new_password: Option<String>,
}

/// Sets a new password with the mailed token: every session of the account ends, and this
/// browser is logged in (unless `mail.reset_logs_in = false`).
#[utoipa::path(post, path = "/password-reset/confirm", tag = "recovery", request_body = ConfirmBody, responses(
    (status = 200, description = "Password set; logged in with a new session (anonymous with `mail.reset_logs_in = false`; `mfa_required` and no session yet when the account has a second factor)", body = SessionBody),
    (status = 400, description = "`token_invalid`: unknown, used, expired or superseded", body = ErrorBody),
    (status = 404, description = "`mail_not_configured`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: the new password breaks the rules", body = ErrorBody),
))]
async fn confirm_reset(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    peer: Peer,
    ApiJson(body): ApiJson<ConfirmBody>,
) -> Result<Response, ApiError> {
    let (user, log_in) = accounts
        .confirm_password_reset(body.token.as_deref(), body.new_password.as_deref(), &peer)
        .await?;
    if log_in && !accounts.blocks_login(&user) {
        crate::routes::session::log_in(&accounts, &sessions, user, false, &context, &peer).await
    } else {
        let (csrf, cookies) = sessions.end(&context, &peer).await?;
        Ok(cookies.attach(Json(SessionBody::anonymous(csrf))))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct VerifyBody {
    #[serde(default)]
    token: Option<String>,
}

/// Marks the account's address verified with the mailed token (no login needed: with
/// `account.require_verified_email` the holder cannot log in before).
#[utoipa::path(post, path = "/users/me/email/verify", tag = "recovery", request_body = VerifyBody, responses(
    (status = 200, description = "Verified", body = UserReply),
    (status = 400, description = "`token_invalid`: unknown, used, expired, superseded, or the address changed since", body = ErrorBody),
    (status = 404, description = "`mail_not_configured`", body = ErrorBody),
))]
async fn verify_email(
    State(accounts): State<Arc<Accounts>>,
    peer: Peer,
    ApiJson(body): ApiJson<VerifyBody>,
) -> Result<Json<UserReply>, ApiError> {
    let user = accounts.verify_email(body.token.as_deref(), &peer).await?;
    Ok(Json(UserReply { user }))
}

/// Mails a new verification link to the caller's address.
#[utoipa::path(post, path = "/users/me/email/verification", tag = "recovery", responses(
    (status = 202, description = "Sent (nothing to do when the address is verified already)"),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 404, description = "`mail_not_configured`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: the account has no e-mail address", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn send_verification(
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
) -> Result<StatusCode, ApiError> {
    accounts.send_verification(&auth.user, &peer).await?;
    Ok(StatusCode::ACCEPTED)
}
