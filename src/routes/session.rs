//! The session resource of seed 000, wire-compatible with its Backbone `SessionModel`:
//! `GET /session` (check), `POST /session` (log in), `DELETE /session[/{id}]` (log out).

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::{Accounts, User};
use crate::clock::Rfc3339;
use crate::error::{ApiError, ErrorBody, FieldErrors};
use crate::http::Json;
use crate::http::extract::ApiJson;
use crate::password::Password;
use crate::peer::Peer;
use crate::session::{Authenticated, SessionContext, SessionManager};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check_session, login, logout))
        .routes(routes!(logout_by_id))
}

/// The JSON shape of every session reply: `auth` and `_csrf` always, the rest when logged in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionBody<'a> {
    pub auth: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<User>)]
    pub user: Option<&'a User>,
    /// The CSRF token to send as `X-CSRF-Token` on unsafe requests.
    pub _csrf: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Rfc3339>,
    /// After a right password for an account with a second factor: the factors that can
    /// complete the login at `POST /session/mfa` (no session exists yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub mfa_required: Option<Vec<&'static str>>,
    /// What this server offers (on `GET /session` only), so an app shows only what works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Features>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Features {
    /// Password reset and e-mail verification (`[mail]` is configured).
    pub mail: bool,
    /// Passkey registration and login (`[passkeys]` is on).
    pub passkeys: bool,
}

impl<'a> SessionBody<'a> {
    pub fn anonymous(csrf: String) -> Self {
        Self {
            auth: false,
            id: None,
            username: None,
            user: None,
            _csrf: csrf,
            expires_at: None,
            mfa_required: None,
            features: None,
        }
    }

    pub fn logged_in(sessions: &SessionManager, auth: &'a Arc<Authenticated>) -> Self {
        let context = SessionContext::Authenticated(auth.clone());
        Self {
            auth: true,
            id: Some(&auth.session.id),
            username: Some(auth.user.username.as_str()),
            user: Some(&auth.user),
            _csrf: sessions.csrf_token(&context).unwrap_or_default(),
            expires_at: Some(Rfc3339(sessions.expires_at(&auth.session))),
            mfa_required: None,
            features: None,
        }
    }
}

/// Who is logged in, and the CSRF token for this browser.
#[utoipa::path(get, path = "/session", tag = "session", responses(
    (status = 200, description = "Always; anonymous replies may set the pre-session cookie", body = SessionBody),
))]
async fn check_session(
    State(sessions): State<Arc<SessionManager>>,
    State(accounts): State<Arc<Accounts>>,
    Extension(context): Extension<SessionContext>,
) -> Response {
    let features = Some(Features {
        mail: accounts.mail_enabled(),
        passkeys: accounts.passkeys_enabled(),
    });
    match &context {
        SessionContext::Authenticated(auth) => Json(SessionBody {
            features,
            ..SessionBody::logged_in(&sessions, auth)
        })
        .into_response(),
        SessionContext::Anonymous { pre_nonce } => {
            let (csrf, cookies) = sessions.anonymous_token(pre_nonce.as_deref());
            cookies.attach(Json(SessionBody {
                features,
                ..SessionBody::anonymous(csrf)
            }))
        }
    }
}

/// Login body; unknown fields (Backbone's whole model) are ignored.
#[derive(Deserialize, utoipa::ToSchema)]
struct LoginRequest {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    remember: Option<bool>,
}

/// Logs in: a new session, a new cookie and a new CSRF token.
#[utoipa::path(post, path = "/session", tag = "session", request_body = LoginRequest, responses(
    (status = 200, description = "Logged in; or, for an account with a second factor, `auth: false` with `mfa_required` and no session yet", body = SessionBody),
    (status = 401, description = "`invalid_credentials`", body = ErrorBody),
    (status = 403, description = "`email_unverified` (with `account.require_verified_email`), `csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: username or password missing", body = ErrorBody),
    (status = 429, description = "`rate_limited`, with `Retry-After`", body = ErrorBody),
))]
async fn login(
    State(sessions): State<Arc<SessionManager>>,
    State(accounts): State<Arc<Accounts>>,
    Extension(context): Extension<SessionContext>,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let mut fields = FieldErrors::new();
    for (name, value) in [("username", &body.username), ("password", &body.password)] {
        if value.as_deref().is_none_or(str::is_empty) {
            fields.insert(name.into(), vec!["required".into()]);
        }
    }
    if !fields.is_empty() {
        return Err(ApiError::Validation {
            message: "username and password are required".into(),
            fields,
        });
    }
    let password = Password::candidate(body.password.as_deref().unwrap_or_default());
    let username = body.username.as_deref().unwrap_or_default();
    let device = sessions.device_for(&headers, username);
    let user = accounts
        .authenticate(username, &password, device.as_deref(), &peer)
        .await?;
    let remember = body.remember.unwrap_or(false);
    log_in(&accounts, &sessions, user, remember, &context, &peer).await
}

/// The reply to a proof of the password (a login, a confirmed reset): a new session, or, for an
/// account with a second factor, `mfa_required` and no session until `POST /session/mfa`
/// (OWASP ASVS 5.0 V6.3.3; a reset proves the mailbox, not the factor: V6.4.3).
pub(super) async fn log_in(
    accounts: &Accounts,
    sessions: &SessionManager,
    user: User,
    remember: bool,
    context: &SessionContext,
    peer: &Peer,
) -> Result<Response, ApiError> {
    let factors = accounts.second_factors(&user).await?;
    if !factors.is_empty() {
        let (csrf, cookies) = sessions.begin_pending_login(&user, remember, context);
        return Ok(cookies.attach(Json(SessionBody {
            mfa_required: Some(factors),
            ..SessionBody::anonymous(csrf)
        })));
    }
    let (auth, cookies) = sessions.start(user, remember, context, peer).await?;
    Ok(cookies.attach(Json(SessionBody::logged_in(sessions, &auth))))
}

/// Logs out: the stored session is deleted and a fresh anonymous token returned.
#[utoipa::path(delete, path = "/session", tag = "session", responses(
    (status = 200, description = "Logged out", body = SessionBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
))]
async fn logout(
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    peer: Peer,
) -> Result<Response, ApiError> {
    let (csrf, cookies) = sessions.end(&context, &peer).await?;
    Ok(cookies.attach(Json(SessionBody::anonymous(csrf))))
}

/// Backbone's `DELETE /session/{id}`: the id is the model's URL and always means the caller's
/// current session.
#[utoipa::path(delete, path = "/session/{id}", tag = "session",
    params(("id" = String, Path, description = "The session's public id (ignored)")),
    responses(
        (status = 200, description = "Logged out", body = SessionBody),
        (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    ))]
async fn logout_by_id(
    sessions: State<Arc<SessionManager>>,
    context: Extension<SessionContext>,
    peer: Peer,
) -> Result<Response, ApiError> {
    logout(sessions, context, peer).await
}
