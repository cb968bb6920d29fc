//! The caller's sessions ("devices"): list them, revoke one, or revoke all but the current one.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock::rfc3339;
use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::http::auth::CurrentUser;
use crate::http::extract::{ApiQuery, PathParam};
use crate::peer::Peer;
use crate::session::{Revoker, SessionManager};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, revoke_sessions))
        .routes(routes!(revoke_session))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionItem {
    id: String,
    /// The session this request was made with.
    current: bool,
    created_at: String,
    last_seen_at: String,
    expires_at: String,
    remember: bool,
    user_agent: Option<String>,
    ip: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    items: Vec<SessionItem>,
}

/// The caller's sessions, oldest first.
#[utoipa::path(get, path = "/sessions", tag = "sessions", responses(
    (status = 200, description = "The caller's sessions", body = SessionList),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
))]
async fn list_sessions(
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
) -> Result<Json<SessionList>, ApiError> {
    let items = sessions
        .list(auth.user.id)
        .await?
        .into_iter()
        .map(|s| SessionItem {
            current: s.id == auth.session.id,
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
            remember: s.remember,
            user_agent: s.user_agent,
            ip: s.ip,
            id: s.id,
        })
        .collect();
    Ok(Json(SessionList { items }))
}

/// Revokes one of the caller's sessions (another user's id is simply not found).
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "A session's public id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    ))]
async fn revoke_session(
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    PathParam(id): PathParam<String>,
) -> Result<StatusCode, ApiError> {
    // Only the caller's own sessions: a foreign id answers exactly like an unknown one.
    if sessions
        .revoke(&auth.user, &id, Revoker::Owner, &peer)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Scope {
    /// Must be `others`: every session of the caller but the current one.
    scope: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: u64,
}

/// Revokes every session of the caller but the current one ("log out everywhere else").
#[utoipa::path(delete, path = "/sessions", tag = "sessions", params(Scope), responses(
    (status = 200, description = "How many were revoked", body = Revoked),
    (status = 401, description = "`unauthenticated`", body = ErrorBody),
    (status = 403, description = "`csrf_token_missing`, `csrf_token_invalid`, `origin_not_allowed`", body = ErrorBody),
    (status = 422, description = "`validation_failed`: `scope` is not `others`", body = ErrorBody),
))]
async fn revoke_sessions(
    State(sessions): State<Arc<SessionManager>>,
    CurrentUser(auth): CurrentUser,
    peer: Peer,
    ApiQuery(scope): ApiQuery<Scope>,
) -> Result<Json<Revoked>, ApiError> {
    if scope.scope.as_deref() != Some("others") {
        return Err(ApiError::field("scope", "must_be_others"));
    }
    let revoked = sessions
        .revoke_all(&auth.user, Some(&auth.session.id), Revoker::Owner, &peer)
        .await?;
    Ok(Json(Revoked { revoked }))
}
