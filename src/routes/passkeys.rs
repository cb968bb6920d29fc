//! Passkeys: register, list, rename and delete them (`/users/me/passkeys`), log in with one
//! alone (`/session/passkey`), and the options of the passkey step of a two-step login
//! (`/session/mfa/options`). Every rule is in the account services; ceremony keys come from
//! the session layer.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::factors::PasswordBody;
use crate::account::{Accounts, CeremonyPurpose, PasskeyInfo};
use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::http::auth::CurrentUser;
use crate::http::extract::{ApiJson, PathParam};
use crate::peer::Peer;
use crate::routes::session::SessionBody;
use crate::session::{SessionContext, SessionManager};
use crate::state::AppState;

/// Open to the anonymous browser: logging in with a passkey, and the options of the passkey
/// step of a pending login.
pub fn anonymous_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(passkey_login_options))
        .routes(routes!(passkey_login))
        .routes(routes!(passkey_factor_options))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_passkeys, register_passkey))
        .routes(routes!(passkey_registration_options))
        .routes(routes!(rename_passkey, remove_passkey))
}

/// The WebAuthn options for the browser, as `{"publicKey": {...}}`: give `publicKey` to
/// `PublicKeyCredential.parseCreationOptionsFromJSON` (or `parseRequestOptionsFromJSON`).
#[derive(utoipa::ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
struct WebauthnOptions(serde_json::Value);

/// The key of this browser's ceremony for `purpose`; without a (pre-)session there is none.
fn ceremony_key(
    sessions: &SessionManager,
    context: &SessionContext,
    purpose: CeremonyPurpose,
) -> Result<[u8; 32], ApiError> {
    sessions
        .ceremony_key(context, purpose.as_str())
        .ok_or(ApiError::PasskeyChallengeMissing)
}

/// A credential as the browser's `toJSON()` gives it; one that does not parse is a 422.
pub(super) fn parse_credential<T: DeserializeOwned>(
    value: Option<serde_json::Value>,
    field: &str,
) -> Result<T, ApiError> {
    let value = value.ok_or_else(|| ApiError::field(field, "required"))?;
    serde_json::from_value(value).map_err(|_| ApiError::field(field, "invalid"))
}

/// Starts registering a passkey (the password again, unless the login is within
/// `session.fresh_auth_secs`).
#[utoipa::path(post, path = "/users/me/passkeys/options", tag = "passkeys", request_body = PasswordBody, responses(
    (status = 200, description = "Options for `navigator.credentials.create()`; valid 5 minutes, once", body = WebauthnOptions),
    (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong password", body = ErrorBody),
    (status = 404, description = "`passkeys_not_configured`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `password` `required` (the login is older than `session.fresh_auth_secs`); `credential` `too_many_passkeys`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn passkey_registration_options(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    let key = ceremony_key(&sessions, &context, CeremonyPurpose::Register)?;
    let device = sessions.device_for(&headers, auth.user.username.as_str());
    let proof = body.proof(&auth.session, device.as_deref());
    let options = accounts
        .begin_passkey_registration(&auth.user, proof, &key, &peer)
        .await?;
    Ok(Json(options).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RegisterBody {
    /// Shown in the list; "Passkey" when left out.
    #[serde(default)]
    name: Option<String>,
    /// The `PublicKeyCredential` from `navigator.credentials.create()`, as its `toJSON()`.
    #[serde(default)]
    #[schema(value_type = Object)]
    credential: Option<serde_json::Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Registered {
    passkey: PasskeyInfo,
    /// Only when the account had none: shown this once, each works once in place of a factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes: Option<Vec<String>>,
}

/// Registers the passkey the options asked for.
#[utoipa::path(post, path = "/users/me/passkeys", tag = "passkeys", request_body = RegisterBody, responses(
    (status = 201, description = "Registered; from now on a password login asks for a second factor", body = Registered),
    (status = 400, description = "`passkey_challenge_missing`: no options were asked for in this session, or they expired or were used", body = ErrorBody),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 404, description = "`passkeys_not_configured`", body = ErrorBody),
    (status = 409, description = "`passkey_already_registered`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `credential` `required`, `invalid` or `rejected` (wrong origin, challenge or no user verification); `name` `too_long` or `invalid`", body = ErrorBody),
))]
async fn register_passkey(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let credential = parse_credential(body.credential, "credential")?;
    let key = ceremony_key(&sessions, &context, CeremonyPurpose::Register)?;
    let (passkey, recovery_codes) = accounts
        .finish_passkey_registration(&auth.user, &key, body.name.as_deref(), &credential, &peer)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Registered {
            passkey,
            recovery_codes,
        }),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
struct PasskeyList {
    items: Vec<PasskeyInfo>,
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/users/me/passkeys", tag = "passkeys", responses(
    (status = 200, description = "The caller's passkeys", body = PasskeyList),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
))]
async fn list_passkeys(
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
) -> Result<Json<PasskeyList>, ApiError> {
    let items = accounts.list_passkeys(&auth.user).await?;
    Ok(Json(PasskeyList { items }))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RenameBody {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct OnePasskey {
    passkey: PasskeyInfo,
}

/// Renames one of the caller's passkeys.
#[utoipa::path(patch, path = "/users/me/passkeys/{id}", tag = "passkeys", request_body = RenameBody,
    params(("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 200, description = "Renamed", body = OnePasskey),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also for another account's passkey)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `name` `required`, `too_long` or `invalid`", body = ErrorBody),
    ))]
async fn rename_passkey(
    State(accounts): State<Arc<Accounts>>,
    CurrentUser(auth): CurrentUser,
    PathParam(id): PathParam<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Json<OnePasskey>, ApiError> {
    let passkey = accounts
        .rename_passkey(&auth.user, &id, body.name.as_deref())
        .await?;
    Ok(Json(OnePasskey { passkey }))
}

/// Deletes one of the caller's passkeys (the password again, unless the login is fresh).
#[utoipa::path(delete, path = "/users/me/passkeys/{id}", tag = "passkeys", request_body = PasswordBody,
    params(("id" = String, Path, description = "The passkey's id")),
    responses(
        (status = 204, description = "Deleted; with no factor left, the recovery codes are gone too"),
        (status = 401, description = "`unauthenticated`, or `invalid_credentials` for a wrong password", body = ErrorBody),
        (status = 404, description = "`not_found` (also for another account's passkey)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `password` `required` (the login is older than `session.fresh_auth_secs`)", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
async fn remove_passkey(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<StatusCode, ApiError> {
    let device = sessions.device_for(&headers, auth.user.username.as_str());
    let proof = body.proof(&auth.session, device.as_deref());
    accounts
        .delete_passkey(&auth.user, &id, proof, &peer)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts a login with a passkey alone (no username): options for
/// `navigator.credentials.get()`.
#[utoipa::path(post, path = "/session/passkey/options", tag = "session", responses(
    (status = 200, description = "Options for `navigator.credentials.get()`; valid 5 minutes, once", body = WebauthnOptions),
    (status = 404, description = "`passkeys_not_configured`", body = ErrorBody),
))]
async fn passkey_login_options(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
) -> Result<Response, ApiError> {
    let key = ceremony_key(&sessions, &context, CeremonyPurpose::Login)?;
    let options = accounts.begin_passkey_login(&key).await?;
    Ok(Json(options).into_response())
}

#[derive(Deserialize, utoipa::ToSchema)]
struct PasskeyLoginBody {
    /// The `PublicKeyCredential` from `navigator.credentials.get()`, as its `toJSON()`.
    #[serde(default)]
    #[schema(value_type = Object)]
    credential: Option<serde_json::Value>,
    #[serde(default)]
    remember: Option<bool>,
}

/// Logs in with a passkey: a new session, cookie and token, as every login. A passkey with
/// user verification is multi-factor by itself, so no second step follows.
#[utoipa::path(post, path = "/session/passkey", tag = "session", request_body = PasskeyLoginBody, responses(
    (status = 200, description = "Logged in", body = SessionBody),
    (status = 400, description = "`passkey_challenge_missing`: no options were asked for in this browser, or they expired or were used", body = ErrorBody),
    (status = 401, description = "`invalid_credentials`: the passkey is unknown, the assertion does not verify, or the account is disabled", body = ErrorBody),
    (status = 403, description = "`email_unverified` (with `account.require_verified_email`)", body = ErrorBody),
    (status = 404, description = "`passkeys_not_configured`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `credential` `required` or `invalid`", body = ErrorBody),
    (status = 429, description = "`rate_limited`", body = ErrorBody),
))]
async fn passkey_login(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    peer: Peer,
    ApiJson(body): ApiJson<PasskeyLoginBody>,
) -> Result<Response, ApiError> {
    let credential = parse_credential(body.credential, "credential")?;
    let key = ceremony_key(&sessions, &context, CeremonyPurpose::Login)?;
    let user = accounts
        .finish_passkey_login(&key, &credential, &peer)
        .await?;
    let remember = body.remember.unwrap_or(false);
    let (auth, cookies) = sessions.start(user, remember, &context, &peer).await?;
    Ok(cookies.attach(Json(SessionBody::logged_in(&sessions, &auth))))
}

/// The passkey step of a login that answered `mfa_required` with `webauthn`: options listing
/// the account's passkeys; the assertion then goes to `POST /session/mfa` as `webauthn`.
#[utoipa::path(post, path = "/session/mfa/options", tag = "session", responses(
    (status = 200, description = "Options for `navigator.credentials.get()`; valid 5 minutes, once", body = WebauthnOptions),
    (status = 401, description = "`mfa_not_pending`", body = ErrorBody),
    (status = 404, description = "`passkeys_not_configured`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `webauthn` `no_passkey` (the account has none)", body = ErrorBody),
))]
async fn passkey_factor_options(
    State(accounts): State<Arc<Accounts>>,
    State(sessions): State<Arc<SessionManager>>,
    Extension(context): Extension<SessionContext>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let pending = sessions
        .pending_login(&headers, &context)
        .ok_or(ApiError::MfaNotPending)?;
    let key = ceremony_key(&sessions, &context, CeremonyPurpose::SecondFactor)?;
    let options = accounts.begin_passkey_factor(pending.user_id, &key).await?;
    Ok(Json(options).into_response())
}
