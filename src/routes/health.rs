//! `GET /healthz` (the process answers) and `GET /readyz` (its stores answer too).

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::http::Json;
use crate::state::AppState;
use crate::store::Stores;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Status {
    status: &'static str,
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses(
    (status = 200, description = "Alive", body = Status),
))]
async fn healthz() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: the stores answer.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, description = "Ready", body = Status),
    (status = 503, description = "`store_unavailable`", body = ErrorBody),
))]
async fn readyz(State(stores): State<Stores>) -> Result<Json<Status>, ApiError> {
    if let Err((store, e)) = stores.ping().await {
        tracing::warn!(store, error = %e, "readiness check failed");
        return Err(e.into());
    }
    Ok(Json(Status { status: "ready" }))
}
