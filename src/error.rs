//! One error type for the whole API: a stable `code`, an HTTP status and a JSON body.
//!
//! Clients branch on `code` (documented in `docs/api.md`), never on `message`. Internal failures
//! are logged with their details and answered with a bare `internal` error, so nothing about the
//! server's insides reaches a client.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Field name -> stable validation codes (`too_short`, `required`, ...).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("the request body must be application/json")]
    UnsupportedMediaType,
    #[error("{message}")]
    Validation {
        message: String,
        fields: FieldErrors,
    },
    #[error("unknown username or wrong password")]
    InvalidCredentials,
    #[error("sign in first")]
    Unauthenticated,
    #[error("your account is not allowed to do this")]
    Forbidden,
    #[error("the X-CSRF-Token header is missing; read `_csrf` from GET /session")]
    CsrfTokenMissing,
    #[error("the X-CSRF-Token header does not match this session; read `_csrf` from GET /session")]
    CsrfTokenInvalid,
    #[error("requests from this origin are not allowed")]
    OriginNotAllowed,
    #[error("this cross-origin request is not allowed: {0}")]
    PreflightRefused(&'static str),
    #[error("not found")]
    NotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    #[error("that username is taken")]
    UsernameTaken,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("too many attempts; retry later")]
    RateLimited { retry_after_secs: u64 },
    #[error(
        "mail is not configured on this server, so password reset and e-mail verification are off"
    )]
    MailNotConfigured,
    #[error("this link is not valid: it was used, it expired, or a newer one was sent")]
    TokenInvalid,
    #[error("confirm your e-mail address first: open the link we mailed you")]
    EmailUnverified,
    #[error("a second factor is on already; turn it off first to enrol a new one")]
    TotpAlreadyEnabled,
    #[error("this account has no second factor")]
    TotpNotEnabled,
    #[error(
        "no login is waiting for a second factor in this browser; log in with the password again"
    )]
    MfaNotPending,
    #[error(
        "passkeys are off on this server ([passkeys] in the configuration; `gatehouse check-config` says why)"
    )]
    PasskeysNotConfigured,
    #[error(
        "no passkey challenge is waiting in this browser: ask for the options again (they work once, for 5 minutes)"
    )]
    PasskeyChallengeMissing,
    #[error("this passkey is registered already")]
    PasskeyAlreadyRegistered,
    #[error("a backing store is unavailable; retry shortly")]
    StoreUnavailable,
    #[error("the upstream API cannot be reached")]
    UpstreamUnavailable,
    #[error("the upstream API did not answer in time")]
    UpstreamTimeout,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Every stable error code (documented in `docs/api.md`).
pub const ERROR_CODES: &[&str] = &[
    "malformed_json",
    "unsupported_media_type",
    "validation_failed",
    "invalid_credentials",
    "unauthenticated",
    "forbidden",
    "csrf_token_missing",
    "csrf_token_invalid",
    "origin_not_allowed",
    "preflight_refused",
    "not_found",
    "method_not_allowed",
    "username_taken",
    "payload_too_large",
    "rate_limited",
    "mail_not_configured",
    "token_invalid",
    "email_unverified",
    "totp_already_enabled",
    "totp_not_enabled",
    "mfa_not_pending",
    "passkeys_not_configured",
    "passkey_challenge_missing",
    "passkey_already_registered",
    "store_unavailable",
    "upstream_unavailable",
    "upstream_timeout",
    "internal",
];

/// The body of every error reply, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ErrorDetail {
    code: ErrorCode,
    /// For people; branch on `code`.
    message: String,
    /// Field name -> validation codes, on `validation_failed`.
    fields: Option<BTreeMap<String, Vec<String>>>,
}

/// A stable error code.
struct ErrorCode;

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ERROR_CODES.iter().copied()))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation { .. } => "validation_failed",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::CsrfTokenMissing => "csrf_token_missing",
            Self::CsrfTokenInvalid => "csrf_token_invalid",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::PreflightRefused(_) => "preflight_refused",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UsernameTaken => "username_taken",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::MailNotConfigured => "mail_not_configured",
            Self::TokenInvalid => "token_invalid",
            Self::EmailUnverified => "email_unverified",
            Self::TotpAlreadyEnabled => "totp_already_enabled",
            Self::TotpNotEnabled => "totp_not_enabled",
            Self::MfaNotPending => "mfa_not_pending",
            Self::PasskeysNotConfigured => "passkeys_not_configured",
            Self::PasskeyChallengeMissing => "passkey_challenge_missing",
            Self::PasskeyAlreadyRegistered => "passkey_already_registered",
            Self::StoreUnavailable => "store_unavailable",
            Self::UpstreamUnavailable => "upstream_unavailable",
            Self::UpstreamTimeout => "upstream_timeout",
            Self::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidCredentials | Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden
            | Self::CsrfTokenMissing
            | Self::CsrfTokenInvalid
            | Self::OriginNotAllowed
            | Self::PreflightRefused(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UsernameTaken => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MailNotConfigured => StatusCode::NOT_FOUND,
            Self::TokenInvalid => StatusCode::BAD_REQUEST,
            Self::EmailUnverified => StatusCode::FORBIDDEN,
            Self::TotpAlreadyEnabled => StatusCode::CONFLICT,
            Self::TotpNotEnabled => StatusCode::NOT_FOUND,
            Self::MfaNotPending => StatusCode::UNAUTHORIZED,
            Self::PasskeysNotConfigured => StatusCode::NOT_FOUND,
            Self::PasskeyChallengeMissing => StatusCode::BAD_REQUEST,
            Self::PasskeyAlreadyRegistered => StatusCode::CONFLICT,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 422 for one field.
    pub fn field(field: &str, code: &str) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_owned(), vec![code.to_owned()]);
        Self::Validation {
            message: format!("`{field}` is invalid: {code}"),
            fields,
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

/// Validates `body` with its garde rules and collects every field's codes into one 422;
/// `wire_name` maps garde's Rust field names to the JSON names the client sent.
pub fn validate_fields(
    body: &impl garde::Validate<Context = ()>,
    wire_name: fn(&str) -> String,
) -> Result<(), ApiError> {
    body.validate().map_err(|report| {
        let mut fields = FieldErrors::new();
        for (path, error) in report.iter() {
            fields
                .entry(wire_name(&path.to_string()))
                .or_default()
                .push(error.message().to_owned());
        }
        ApiError::Validation {
            message: "some fields are invalid; see `fields`".into(),
            fields,
        }
    })
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(e) => tracing::error!(error = ?e, "internal error"),
            Self::StoreUnavailable => tracing::warn!("store unavailable"),
            _ => {}
        }
        let fields = match &self {
            Self::Validation { fields, .. } => Some(fields),
            _ => None,
        };
        let body = Body {
            error: Detail {
                code: self.code(),
                message: self.to_string(),
                fields,
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_listed_code_and_the_docs_name_them_all() {
        let all = [
            ApiError::MalformedJson(String::new()),
            ApiError::UnsupportedMediaType,
            ApiError::field("x", "y"),
            ApiError::InvalidCredentials,
            ApiError::Unauthenticated,
            ApiError::Forbidden,
            ApiError::CsrfTokenMissing,
            ApiError::CsrfTokenInvalid,
            ApiError::OriginNotAllowed,
            ApiError::PreflightRefused(""),
            ApiError::NotFound,
            ApiError::MethodNotAllowed,
            ApiError::UsernameTaken,
            ApiError::PayloadTooLarge,
            ApiError::RateLimited {
                retry_after_secs: 1,
            },
            ApiError::MailNotConfigured,
            ApiError::TokenInvalid,
            ApiError::EmailUnverified,
            ApiError::TotpAlreadyEnabled,
            ApiError::TotpNotEnabled,
            ApiError::MfaNotPending,
            ApiError::PasskeysNotConfigured,
            ApiError::PasskeyChallengeMissing,
            ApiError::PasskeyAlreadyRegistered,
            ApiError::StoreUnavailable,
            ApiError::UpstreamUnavailable,
            ApiError::UpstreamTimeout,
            ApiError::internal(anyhow::anyhow!("x")),
        ];
        assert_eq!(all.len(), ERROR_CODES.len());
        let docs = include_str!("../docs/api.md");
        for e in &all {
            assert!(ERROR_CODES.contains(&e.code()), "{}", e.code());
            assert!(
                docs.contains(&format!("`{}`", e.code())),
                "docs/api.md lacks {}",
                e.code()
            );
        }
    }
}
