//! `GET /metrics` (Prometheus text) and `GET /openapi.json` (this API, described).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::sync::Arc;

use crate::clock::Clock;
use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;
use crate::state::{AppState, OpenApiDocument};
use crate::store::Stores;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

/// Metrics in the OpenMetrics text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String),
    (status = 503, description = "`store_unavailable`", body = ErrorBody),
))]
async fn metrics(
    State(metrics): State<Arc<Metrics>>,
    State(stores): State<Stores>,
    State(clock): State<Arc<dyn Clock>>,
) -> Result<Response, ApiError> {
    let active = stores.sessions.count_active(clock.now()).await?;
    let body = metrics.render(active);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response())
}

/// This document: OpenAPI 3.1, generated from the routes the server registers.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses(
    (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
))]
async fn openapi(State(OpenApiDocument(json)): State<OpenApiDocument>) -> Response {
    let json = json.to_string();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}
