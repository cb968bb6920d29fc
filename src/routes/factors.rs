//! Second factors: TOTP enrolment and removal, recovery codes, and the second step of a login
//! (`POST /session/mfa`). Every rule is in the account services.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::account::{
    Accounts, CeremonyPurpose, FactorState, Freshness, SecondFactor, TotpEnrolment,
};
use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::http::auth::CurrentUser;
use crate::http::extract::ApiJson;
use crate::peer::Peer;
use crate::routes::session::SessionBody;
use crate::session::{SessionContext, SessionManager};
use crate::state::AppState;
use crate::store::SessionRecord;

/// The second login step: open to the anonymous browser that gave the right password.
pub fn anonymous_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(complete_login))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(factor_state, begin_totp, disable_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(regenerate_recovery_codes))
}

/// A current factor: `{"totp": "123456"}`, `{"recovery_code": "…"}` or, for the login step,
/// `{"webauthn": PublicKeyCredential}` (the answer to `POST /session/mfa/options`).
#[derive(Deserialize, utoipa::ToSchema)]
struct FactorBody {
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    recovery_code: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    webauthn: Option<serde_json::Value>,
}

impl FactorBody {
    /// The factor given; a passkey's answer is looked up under `passkey_key` (`None` where no
    /// passkey step exists).
    fn factor(self, passkey_key: Option<[u8; 32]>) -> Result<SecondFactor, ApiError> {
        let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        let webauthn = self.webauthn.filter(|v| !v.is_null());
        match (given(self.totp), given(self.recovery_code), webauthn) {
            (Some(code), None, None) => Ok(SecondFactor::Totp(code)),
            (None, Some(code), None) => Ok(SecondFactor::RecoveryCode(code)),
            (None, None, Some(value)) => {
                let key =
                    passkey_key.ok_or_else(|| ApiError::field("webauthn", "not_accepted_here"))?;
                let credential = super::passkeys::parse_credential(Some(value), "webauthn")?;
                Ok(SecondFactor::Passkey {
                    key,
                    credential: Box::new(credential),
                })
            }
            (None, None, None) => Err(ApiError::field("totp", "required")),
            _ => Err(ApiError::field("totp", "one_factor_only")),
        }
    }
}

/// Completes a login that answered `mfa_required`: a new session, cookie and token.
#[utoipa::path(post, path = "/session/mfa", tag = "session", request_body = FactorBody, responses(
    (status = 200, description = "Logged in", body = SessionBody),
    (status = 400, description = "`passkey_challenge_missing`: a `webauthn` answer without `POST /session/mfa/options` first (or after 5 minutes, or twice)", body = ErrorBody),
    (status = 401, description = "`invalid_credentials` (a wrong, used or expired code, or an assertion that does not verify), `mfa_not_pending` (no password step in this browser, or it expired)", body = ErrorBody),
    (status = 422, description = "`validation_failed`: none or more than one of `totp`, `recovery_code` and `webauthn`; `webauthn` `invalid`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn complete_login(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FactorBody>,
) -> Result<Response, ApiError> {
    let passkey_key = sessions.ceremony_key(&context, CeremonyPurpose::SecondFactor.as_str());
    let factor = body.factor(passkey_key)?;
    let pending = sessions
        .pending_login(&headers, &context)
        .ok_or(ApiError::MfaNotPending)?;
    let user = accounts
        .complete_login(pending.user_id, factor, &peer)
        .await?;
    let (auth, cookies) = sessions
        .complete_pending_login(user, &pending, &context, &peer)
        .await?;
    Ok(cookies.attach(Json(SessionBody::logged_in(&sessions, &auth))))
}

/// Which second factors the caller has.
#[utoipa::path(get, path = "/users/me/totp", tag = "factors", responses(
    (status = 200, description = "The caller's factors", body = FactorState),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
))]
async fn factor_state(
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
) -> Result<Json<FactorState>, ApiError> {
    Ok(Json(accounts.factor_state(&auth.user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(super) struct PasswordBody {
    #[serde(default)]
    password: Option<String>,
}

impl PasswordBody {
    /// What a sensitive change of this session goes on: its login time and the password given.
    pub(super) fn proof<'a>(
        &'a self,
        session: &SessionRecord,
        device: Option<&'a str>,
    ) -> Freshness<'a> {
        Freshness {
            logged_in_at: session.created_at,
            password: self.password.as_deref(),
            device,
        }
    }
}

/// Starts TOTP enrolment (the password again, unless the login is within
/// `session.fresh_auth_secs`): a secret, its `otpauth://` URI and a QR code.
/// Nothing changes for logins until `POST /users/me/totp/confirm`.
#[utoipa::path(post, path = "/users/me/totp", tag = "factors", request_body = PasswordBody, responses(
    (status = 200, description = "Enrolment started", body = TotpEnrolment),
    (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong password", body = ErrorBody),
    (status = 409, description = "`totp_already_enabled`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `password` `required` (the login is older than `session.fresh_auth_secs`)", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn begin_totp(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let device = sessions.device_for(&headers, auth.user.username.as_str());
    let proof = body.proof(&auth.session, device.as_deref());
    let enrolment = accounts.begin_totp(&auth.user, proof, &peer).await?;
    Ok(Json(enrolment))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct CodeBody {
    #[serde(default)]
    code: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RecoveryCodes {
    /// Shown this once; each works once in place of a code.
    recovery_codes: Vec<String>,
}

/// Turns TOTP on with a first code from the app; answers the recovery codes.
#[utoipa::path(post, path = "/users/me/totp/confirm", tag = "factors", request_body = CodeBody, responses(
    (status = 200, description = "On", body = RecoveryCodes),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `code` is `required`, `invalid_code` or `no_enrolment`", body = ErrorBody),
))]
async fn confirm_totp(
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = accounts
        .confirm_totp(&auth.user, body.code.as_deref(), &peer)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// Turns TOTP off, with a current code or a recovery code (the recovery codes stay while a
/// passkey is left).
#[utoipa::path(delete, path = "/users/me/totp", tag = "factors", request_body = FactorBody, responses(
    (status = 204, description = "Off; the recovery codes are gone too unless a passkey is left"),
    (status = 404, description = "`totp_not_enabled`", body = ErrorBody),
    (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong factor", body = ErrorBody),
    (status = 422, description = "`validation_failed`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn disable_totp(
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    ApiJson(body): ApiJson<FactorBody>,
) -> Result<StatusCode, ApiError> {
    accounts
        .disable_totp(&auth.user, body.factor(None)?, &peer)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new set of recovery codes (the password again, unless the login is fresh); the old ones
/// stop working.
#[utoipa::path(post, path = "/users/me/recovery-codes", tag = "factors", request_body = PasswordBody, responses(
    (status = 200, description = "New codes", body = RecoveryCodes),
    (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong password", body = ErrorBody),
    (status = 404, description = "`totp_not_enabled`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `password` `required` (the login is older than `session.fresh_auth_secs`)", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn regenerate_recovery_codes(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let device = sessions.device_for(&headers, auth.user.username.as_str());
    let proof = body.proof(&auth.session, device.as_deref());
    let recovery_codes = accounts
        .regenerate_recovery_codes(&auth.user, proof, &peer)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}
